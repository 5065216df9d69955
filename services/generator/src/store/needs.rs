//! Needs: what a refused use would need a rule for ([`Need`]), and the same borrowed from
//! an event ([`NeedRef`]) so a known failure is found without allocating.

use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

use super::values::{Value, ValueRef};

/// A need that was refused (or would be refused by the policy): the rule that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// `allow T self:ability { [nonroot] name[:value] }`.
    Ability {
        /// Root (effective uid 0) or not.
        root: bool,
        /// Ability name.
        name: String,
        /// The value it was checked with.
        value: Value,
    },
    /// `allow_attach T path;`
    Attach(String),
    /// `allow_link T path;`
    Link(String),
    /// `allow T X:channel connect;`
    Connect(String),
}

/// A [`Need`] borrowed from an event, to count a known failure without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeedRef<'a> {
    /// See [`Need::Ability`].
    Ability {
        /// Root (effective uid 0) or not.
        root: bool,
        /// Ability name.
        name: &'a str,
        /// The value it was checked with.
        value: ValueRef<'a>,
    },
    /// See [`Need::Attach`].
    Attach(&'a str),
    /// See [`Need::Link`].
    Link(&'a str),
    /// See [`Need::Connect`].
    Connect(&'a str),
}

impl Need {
    /// The need, borrowed.
    pub fn borrowed(&self) -> NeedRef<'_> {
        match self {
            Need::Ability { root, name, value } => {
                NeedRef::Ability { root: *root, name, value: value.borrowed() }
            }
            Need::Attach(p) => NeedRef::Attach(p),
            Need::Link(p) => NeedRef::Link(p),
            Need::Connect(c) => NeedRef::Connect(c),
        }
    }
}

impl NeedRef<'_> {
    /// The need, owned.
    pub fn to_need(self) -> Need {
        match self {
            NeedRef::Ability { root, name, value } => {
                Need::Ability { root, name: name.to_string(), value: value.to_value() }
            }
            NeedRef::Attach(p) => Need::Attach(p.to_string()),
            NeedRef::Link(p) => Need::Link(p.to_string()),
            NeedRef::Connect(c) => Need::Connect(c.to_string()),
        }
    }
}

/// Hashes as its [`NeedRef`], so a failure is found by the borrowed need.
impl Hash for Need {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<Need> for NeedRef<'_> {
    fn equivalent(&self, key: &Need) -> bool {
        *self == key.borrowed()
    }
}
