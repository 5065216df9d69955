//! The learning store: what each type was seen to use, and how it failed.
//!
//! Per type: abilities used, root and non-root apart, with the values they were used with
//! merged into ranges (or type names for type-ranged abilities); paths attached and linked;
//! types of channels connected to; what the type's own capability calls did with each
//! ability, and which of its calls named no ability at all. Every entry remembers the process that first needed it and when, so the
//! generated policy can say why a rule is there. Failures are kept per type and per need
//! with a count, the first and the last time and the first failing process.
//!
//! The store knows nothing of modes or base policies: [`crate::learn`] decides what goes in.
//! Lookups on the hot path borrow `&str`; maps are hashed and sorted only when printed.

use std::collections::{BTreeSet, HashMap};

use secpol::event::{CapAction, Domain, Subrange};
use secpol::policy::RangeSet;
use secpol::qnxlog;

/// Who first needed something, and when.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Process name as QNX prints it (`usr/bin/touch`), or `(unnamed)`.
    pub process: String,
    /// Its pid.
    pub pid: u32,
    /// When, nanoseconds since the Unix epoch.
    pub time_ns: u64,
}

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
    /// Adds one use. Returns whether anything changed.
    pub fn add(&mut self, v: &Value) -> bool {
        match v {
            Value::None => !std::mem::replace(&mut self.all, true),
            Value::Range(r) => add_range(&mut self.ranges, *r),
            Value::Type(t) => {
                if self.types.contains(t.as_str()) {
                    false
                } else {
                    self.types.insert(t.clone())
                }
            }
        }
    }

    /// Adds everything of `other`. Returns whether anything changed.
    pub fn merge(&mut self, other: &Values) -> bool {
        let mut changed = false;
        if other.all {
            changed |= self.add(&Value::None);
        }
        for r in other.ranges.ranges() {
            changed |= add_range(&mut self.ranges, *r);
        }
        for t in &other.types {
            changed |= self.types.insert(t.clone());
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// No value (or a value the configuration says to ignore).
    None,
    /// A number or range.
    Range(Subrange),
    /// A type name.
    Type(String),
}

/// An ability a type used, in one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbilityUse {
    /// The values.
    pub values: Values,
    /// First use.
    pub origin: Origin,
}

/// What a type's own capability calls did with one ability (seed 003's comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapNote {
    /// Descriptions as `qnxlog::describe_request` words them (`deny all lock`), sorted.
    pub actions: BTreeSet<String>,
    /// Blocks the ability must appear in: root, non-root.
    pub root: bool,
    /// See `root`.
    pub nonroot: bool,
    /// First call.
    pub origin: Origin,
}

/// What the calls recorded in a [`CapNote`] mean for the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallEffect {
    /// A call raised the ability for root (`allow root`, `inherit root`): it needs a grant.
    pub raised_root: bool,
    /// A call raised it for non-root, or for both (`allow nonroot`, `allow all`): it needs a
    /// `nonroot` grant (which serves root too).
    pub raised_nonroot: bool,
    /// A call passed it on to children (`inherit`): no `noinherit`.
    pub inherited: bool,
}

impl CapNote {
    /// What the calls did, read back from their descriptions (so state files, which keep
    /// only the words, mean the same). Only `allow` and `inherit` raise anything: `deny`,
    /// `drop`, `lock` and `noinherit` give up what the process has, which needs no grant.
    pub fn effect(&self) -> CallEffect {
        let mut e = CallEffect::default();
        for (domain, actions) in self.actions.iter().filter_map(|a| qnxlog::parse_description(a)) {
            let raises = actions.iter().any(|a| matches!(a, CapAction::Allow | CapAction::Inherit));
            e.inherited |= actions.contains(&CapAction::Inherit);
            match domain {
                _ if !raises => {}
                Domain::Root => e.raised_root = true,
                Domain::NonRoot | Domain::All => e.raised_nonroot = true,
            }
        }
        e
    }

    /// Whether some call raised the ability (in either domain).
    pub fn raised(&self) -> bool {
        let e = self.effect();
        e.raised_root || e.raised_nonroot
    }
}

/// A need that was refused (or would be refused by the policy): the rule that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// A failure, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// How many times.
    pub count: u64,
    /// First time and process.
    pub first: Origin,
    /// Last time, nanoseconds since the Unix epoch.
    pub last_ns: u64,
}

/// Everything recorded for one type.
#[derive(Debug, Clone, Default)]
pub struct TypeRecord {
    /// Abilities used as root (effective uid 0).
    pub root: HashMap<String, AbilityUse>,
    /// Abilities used as non-root.
    pub nonroot: HashMap<String, AbilityUse>,
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
    /// Failures, per need.
    pub failures: HashMap<Need, Failure>,
}

impl TypeRecord {
    /// The abilities of one domain.
    pub fn abilities(&self, root: bool) -> &HashMap<String, AbilityUse> {
        if root {
            &self.root
        } else {
            &self.nonroot
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
}

/// The store: one record per type.
#[derive(Debug, Clone, Default)]
pub struct Store {
    types: HashMap<String, TypeRecord>,
    failures: usize,
}

fn record_path(map: &mut HashMap<String, Origin>, path: &str, origin: impl FnOnce() -> Origin) -> bool {
    if map.contains_key(path) {
        false
    } else {
        map.insert(path.to_string(), origin());
        true
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// The record of `type_name`, created if missing.
    pub fn type_mut(&mut self, type_name: &str) -> &mut TypeRecord {
        if !self.types.contains_key(type_name) {
            self.types.insert(type_name.to_string(), TypeRecord::default());
        }
        self.types.get_mut(type_name).expect("inserted above")
    }

    /// The record of `type_name`.
    pub fn get(&self, type_name: &str) -> Option<&TypeRecord> {
        self.types.get(type_name)
    }

    /// Types, sorted by name.
    pub fn types_sorted(&self) -> Vec<(&str, &TypeRecord)> {
        let mut v: Vec<_> = self.types.iter().map(|(k, r)| (k.as_str(), r)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Number of types with a record.
    pub fn type_count(&self) -> usize {
        self.types.len()
    }

    /// Number of distinct failures.
    pub fn failure_count(&self) -> usize {
        self.failures
    }

    /// Records an ability use. Returns whether the store changed.
    pub fn use_ability(
        &mut self,
        type_name: &str,
        root: bool,
        name: &str,
        value: &Value,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let t = self.type_mut(type_name);
        let map = if root { &mut t.root } else { &mut t.nonroot };
        match map.get_mut(name) {
            Some(u) => u.values.add(value),
            None => {
                let mut values = Values::default();
                values.add(value);
                map.insert(name.to_string(), AbilityUse { values, origin: origin() });
                true
            }
        }
    }

    /// Records a whole [`AbilityUse`] (from a state file), merging with what is there.
    pub fn merge_ability(&mut self, type_name: &str, root: bool, name: &str, u: AbilityUse) -> bool {
        let t = self.type_mut(type_name);
        let map = if root { &mut t.root } else { &mut t.nonroot };
        match map.get_mut(name) {
            Some(have) => {
                let mut changed = have.values.merge(&u.values);
                if u.origin.time_ns < have.origin.time_ns {
                    have.origin = u.origin;
                    changed = true;
                }
                changed
            }
            None => {
                map.insert(name.to_string(), u);
                true
            }
        }
    }

    /// Records a path attach.
    pub fn use_attach(&mut self, type_name: &str, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        record_path(&mut self.type_mut(type_name).attach, path, origin)
    }

    /// Records a link.
    pub fn use_link(&mut self, type_name: &str, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        record_path(&mut self.type_mut(type_name).link, path, origin)
    }

    /// Records a channel connection to a channel of `channel_type`.
    pub fn use_connect(
        &mut self,
        type_name: &str,
        channel_type: &str,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        record_path(&mut self.type_mut(type_name).connect, channel_type, origin)
    }

    /// Records what a capability call did with `ability`.
    pub fn note_cap_call(
        &mut self,
        type_name: &str,
        ability: &str,
        action: &str,
        root: bool,
        nonroot: bool,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let t = self.type_mut(type_name);
        match t.cap_calls.get_mut(ability) {
            Some(n) => {
                let mut changed = false;
                if !n.actions.contains(action) {
                    n.actions.insert(action.to_string());
                    changed = true;
                }
                changed |= (root && !n.root) || (nonroot && !n.nonroot);
                n.root |= root;
                n.nonroot |= nonroot;
                changed
            }
            None => {
                let actions =
                    if action.is_empty() { BTreeSet::new() } else { BTreeSet::from([action.to_string()]) };
                t.cap_calls.insert(ability.to_string(), CapNote { actions, root, nonroot, origin: origin() });
                true
            }
        }
    }

    /// Records a capability call of `type_name` that named no ability (`call` is its name,
    /// `prctl(PR_SET_KEEPCAPS)`). Returns whether the store changed.
    pub fn note_bare_call(&mut self, type_name: &str, call: &str, origin: impl FnOnce() -> Origin) -> bool {
        record_path(&mut self.type_mut(type_name).bare_calls, call, origin)
    }

    /// Records a failure (`count` times, the last at `last_ns`). Returns whether the need
    /// is new.
    pub fn fail(&mut self, type_name: &str, need: Need, count: u64, first: Origin, last_ns: u64) -> bool {
        let t = self.type_mut(type_name);
        match t.failures.get_mut(&need) {
            Some(f) => {
                f.count = f.count.saturating_add(count);
                f.last_ns = f.last_ns.max(last_ns);
                if first.time_ns < f.first.time_ns {
                    f.first = first;
                }
                false
            }
            None => {
                t.failures.insert(need, Failure { count, first, last_ns });
                self.failures += 1;
                true
            }
        }
    }

    /// Forgets every successful use (`clear used`).
    pub fn clear_used(&mut self) {
        for t in self.types.values_mut() {
            t.root.clear();
            t.nonroot.clear();
            t.attach.clear();
            t.link.clear();
            t.connect.clear();
            t.cap_calls.clear();
            t.bare_calls.clear();
        }
        self.prune();
    }

    /// Forgets every failure (`clear errors`).
    pub fn clear_errors(&mut self) {
        for t in self.types.values_mut() {
            t.failures.clear();
        }
        self.failures = 0;
        self.prune();
    }

    fn prune(&mut self) {
        self.types.retain(|_, t| !t.no_uses() || !t.failures.is_empty());
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
    }

    fn o(t: u64) -> Origin {
        Origin { process: "p".into(), pid: 1, time_ns: t }
    }

    #[test]
    fn uses_failures_and_clears() {
        let mut s = Store::new();
        assert!(s.use_ability("a_t", true, "setuid", &Value::Range(r(5, 5)), || o(1)));
        assert!(!s.use_ability("a_t", true, "setuid", &Value::Range(r(5, 5)), || o(2)));
        assert!(s.use_ability("a_t", true, "setuid", &Value::Range(r(6, 6)), || o(2)));
        let u = &s.get("a_t").unwrap().root["setuid"];
        assert_eq!((u.values.ranges.ranges().to_vec(), u.origin.time_ns), (vec![r(5, 6)], 1));
        assert!(s.use_attach("a_t", "/x", || o(3)));
        assert!(!s.use_attach("a_t", "/x", || o(4)));
        let need = Need::Attach("/y".into());
        assert!(s.fail("b_t", need.clone(), 1, o(5), 5));
        assert!(!s.fail("b_t", need.clone(), 2, o(3), 9));
        let f = &s.get("b_t").unwrap().failures[&need];
        assert_eq!((f.count, f.first.time_ns, f.last_ns), (3, 3, 9));
        assert_eq!((s.type_count(), s.failure_count()), (2, 1));
        s.clear_errors();
        assert_eq!((s.type_count(), s.failure_count()), (1, 0));
        s.clear_used();
        assert_eq!(s.type_count(), 0);
    }

    fn note(actions: &[&str]) -> CapNote {
        CapNote {
            actions: actions.iter().map(|a| a.to_string()).collect(),
            root: true,
            nonroot: true,
            origin: o(1),
        }
    }

    #[test]
    fn only_allow_and_inherit_raise_anything() {
        let e = |a: &[&str]| note(a).effect();
        let none = CallEffect::default();
        assert_eq!(e(&["deny all lock", "drop all lock", "noinherit root", "deny nonroot"]), none);
        assert_eq!(e(&["allow root"]), CallEffect { raised_root: true, ..none });
        assert_eq!(e(&["allow nonroot", "drop all lock"]), CallEffect { raised_nonroot: true, ..none });
        assert_eq!(e(&["allow all inherit"]), CallEffect { raised_nonroot: true, inherited: true, ..none });
        assert_eq!(e(&["inherit root"]), CallEffect { raised_root: true, inherited: true, ..none });
        // Words that are no description (a hand-written state file) raise nothing.
        assert_eq!(e(&["", "frob all"]), none);
        assert!(!note(&["deny root"]).raised() && note(&["allow root"]).raised());
    }

    #[test]
    fn calls_that_name_nothing_are_kept_and_cleared() {
        let mut s = Store::new();
        assert!(s.note_bare_call("p_t", "prctl(PR_SET_KEEPCAPS)", || o(1)));
        assert!(!s.note_bare_call("p_t", "prctl(PR_SET_KEEPCAPS)", || o(2)));
        let r = s.get("p_t").unwrap();
        assert!(r.self_managed() && !r.no_uses());
        assert_eq!(r.bare_calls["prctl(PR_SET_KEEPCAPS)"].time_ns, 1);
        s.clear_used();
        assert_eq!(s.type_count(), 0);
    }
}
