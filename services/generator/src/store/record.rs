//! One type's record: the abilities it used (root and non-root apart), the paths it
//! attached and linked, the channel types it connected to, its own calls and its failures.

use std::collections::HashMap;
use std::hash::RandomState;
use std::sync::Arc;

use super::cap_calls::CapNote;
use super::failures::Failure;
use super::needs::Need;
use super::origin::Origin;
use super::values::Values;

/// A type's abilities of one domain, by name. The keys are shared by every type of a store
/// (one allocation per ability name); they are hashed with foldhash.
pub type AbilityMap = hashbrown::HashMap<Arc<str>, AbilityUse, foldhash::fast::RandomState>;

/// An ability a type used, in one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbilityUse {
    /// The values.
    pub values: Values,
    /// First use.
    pub origin: Origin,
}

/// Everything recorded for one type.
#[derive(Debug, Clone, Default)]
pub struct TypeRecord {
    /// Abilities used as root (effective uid 0).
    pub root: AbilityMap,
    /// Abilities used as non-root.
    pub nonroot: AbilityMap,
    /// Paths attached.
    pub attach: HashMap<String, Origin>,
    /// Paths linked.
    pub link: HashMap<String, Origin>,
    /// Types of channels connected to.
    pub connect: HashMap<String, Origin>,
    /// Self-managed capability calls, per ability.
    pub cap_calls: HashMap<String, CapNote>,
    /// Self-managed capability calls that named no ability (`prctl(PR_SET_KEEPCAPS)`,
    /// `prctl(PR_SET_SECUREBITS)`, a `capset` that changed nothing), by call name.
    pub bare_calls: HashMap<String, Origin>,
    /// Failures, per need (looked up by [`NeedRef`](super::needs::NeedRef)).
    pub failures: hashbrown::HashMap<Need, Failure, RandomState>,
}

impl TypeRecord {
    /// The abilities of one domain.
    pub fn abilities(&self, root: bool) -> &AbilityMap {
        if root {
            &self.root
        } else {
            &self.nonroot
        }
    }

    /// The abilities of one domain, to change.
    pub fn abilities_mut(&mut self, root: bool) -> &mut AbilityMap {
        if root {
            &mut self.root
        } else {
            &mut self.nonroot
        }
    }

    /// Whether nothing successful was recorded (failures aside).
    pub fn no_uses(&self) -> bool {
        self.root.is_empty()
            && self.nonroot.is_empty()
            && self.attach.is_empty()
            && self.link.is_empty()
            && self.connect.is_empty()
            && self.cap_calls.is_empty()
            && self.bare_calls.is_empty()
    }

    /// Whether the type manages its own capabilities (some call of its own was reported).
    pub fn self_managed(&self) -> bool {
        !self.cap_calls.is_empty() || !self.bare_calls.is_empty()
    }

    /// Forgets every successful use (failures stay).
    pub(super) fn clear_uses(&mut self) {
        self.root.clear();
        self.nonroot.clear();
        self.attach.clear();
        self.link.clear();
        self.connect.clear();
        self.cap_calls.clear();
        self.bare_calls.clear();
    }
}
