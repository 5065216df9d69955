//! The values an ability was used with: one [`Value`], its borrowed [`ValueRef`], and the
//! [`Values`] of every use merged into ranges and type names.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use secpol::event::Subrange;
use secpol::policy::RangeSet;

/// The values an ability was used with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    /// Used at least once without a value (or with all values): no subrange in the rule.
    pub all: bool,
    /// Numeric values, sorted, merged: no two overlap or touch.
    pub ranges: RangeSet,
    /// Type names (for type-ranged abilities).
    pub types: BTreeSet<String>,
}

impl Values {
    /// Adds one use (a [`ValueRef`] or a `&Value`). Returns whether anything changed; allocates
    /// only for a type name not yet there.
    pub fn add<'v>(&mut self, v: impl Into<ValueRef<'v>>) -> bool {
        match v.into() {
            ValueRef::None => !std::mem::replace(&mut self.all, true),
            ValueRef::Range(r) => add_range(&mut self.ranges, r),
            ValueRef::Type(t) => !self.types.contains(t) && self.types.insert(t.to_string()),
        }
    }

    /// Whether `v` repeats a use already added: no value and `all`, a type name added, or a
    /// single number inside the ranges. (A range of several numbers never repeats one: the
    /// numbers may have come from uses that a policy allows by different rules.)
    pub fn repeats(&self, v: ValueRef<'_>) -> bool {
        match v {
            ValueRef::None => self.all,
            ValueRef::Range(r) => r.lo == r.hi && self.ranges.contains(r),
            ValueRef::Type(t) => self.types.contains(t),
        }
    }

    /// Every use added: no value (if `all`), then the ranges, then the type names.
    pub fn pieces(&self) -> impl Iterator<Item = ValueRef<'_>> {
        let all = self.all.then_some(ValueRef::None);
        let ranges = self.ranges.ranges().iter().map(|r| ValueRef::Range(*r));
        all.into_iter().chain(ranges).chain(self.types.iter().map(|t| ValueRef::Type(t)))
    }

    /// Adds everything of `other`. Returns whether anything changed.
    pub fn merge(&mut self, other: &Values) -> bool {
        let mut changed = false;
        for v in other.pieces() {
            changed |= self.add(v);
        }
        changed
    }
}

/// Adds `r` to `ranges` (neighbours merge: 5 and 6 become 5-6). Returns whether the set grew.
pub fn add_range(ranges: &mut RangeSet, r: Subrange) -> bool {
    if ranges.contains(r) {
        return false;
    }
    ranges.insert(r);
    true
}

/// One value an ability was checked with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// No value (or a value the configuration says to ignore).
    None,
    /// A number or range.
    Range(Subrange),
    /// A type name.
    Type(String),
}

/// A [`Value`] borrowed from an event: what the hot path looks up without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueRef<'a> {
    /// See [`Value::None`].
    None,
    /// See [`Value::Range`].
    Range(Subrange),
    /// See [`Value::Type`].
    Type(&'a str),
}

impl Value {
    /// The value, borrowed.
    pub fn borrowed(&self) -> ValueRef<'_> {
        match self {
            Value::None => ValueRef::None,
            Value::Range(r) => ValueRef::Range(*r),
            Value::Type(t) => ValueRef::Type(t),
        }
    }
}

impl ValueRef<'_> {
    /// The value, owned.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::None => Value::None,
            ValueRef::Range(r) => Value::Range(r),
            ValueRef::Type(t) => Value::Type(t.to_string()),
        }
    }
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    fn from(v: &'a Value) -> Self {
        v.borrowed()
    }
}

/// Hashes as its [`ValueRef`], so one can be looked up by the other.
impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lo: u64, hi: u64) -> Subrange {
        Subrange { lo, hi }
    }

    #[test]
    fn values_grow_only_with_news() {
        let mut v = Values::default();
        assert!(v.add(&Value::Range(r(10, 10))));
        assert!(v.add(&Value::Range(r(11, 12))));
        assert!(!v.add(&Value::Range(r(10, 12))));
        assert_eq!(v.ranges.ranges(), [r(10, 12)]);
        assert!(v.add(&Value::Type("a_t".into())));
        assert!(!v.add(&Value::Type("a_t".into())));
        assert!(v.add(&Value::None));
        assert!(!v.add(&Value::None));
        let mut w = Values::default();
        assert!(w.merge(&v));
        assert!(!w.merge(&v));
        assert_eq!(w, v);
        let pieces: Vec<_> = v.pieces().collect();
        assert_eq!(pieces, [ValueRef::None, ValueRef::Range(r(10, 12)), ValueRef::Type("a_t")]);
        // Single numbers inside the ranges repeat; a range of several never does.
        assert!(v.repeats(ValueRef::Range(r(11, 11))) && !v.repeats(ValueRef::Range(r(13, 13))));
        assert!(!v.repeats(ValueRef::Range(r(10, 11))));
        assert!(v.repeats(ValueRef::Type("a_t")) && !v.repeats(ValueRef::Type("b_t")));
        assert!(v.repeats(ValueRef::None) && !Values::default().repeats(ValueRef::None));
    }
}
