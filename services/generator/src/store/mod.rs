//! The learning store: what each type was seen to use, and how it failed.
//!
//! Per type ([`TypeRecord`], in `record`): abilities used, root and non-root apart, with the
//! values they were used with merged into ranges or type names (`values`); paths attached
//! and linked; types of channels connected to; what the type's own capability calls did with
//! each ability, and which of its calls named no ability at all (`cap_calls`). Every entry
//! remembers the process that first needed it and when (`origin`), so the generated policy
//! can say why a rule is there. Failures (`failures`) are kept per type and per need
//! (`needs`) with a count, the first and the last time and the first failing process.
//! The submodules are private: their types are named from here (`store::Origin`).
//!
//! The store knows nothing of modes or base policies: [`crate::learn`] decides what goes in.
//!
//! The hot path is an event that teaches nothing new, so it is made cheap: type names are
//! interned (`interner`: one hash of the name gives a [`TypeIndex`], and the last type is
//! remembered, so a burst of events of one type hashes nothing), lookups borrow (`&str`,
//! [`ValueRef`], [`NeedRef`]), and nothing is allocated unless something is recorded for the
//! first time. Memory is laid out for a lookup to touch few cache lines: the type names sit
//! together in one buffer, apart from the records, and every type's ability map shares one
//! copy of each ability name, so comparing a key reads memory that is already in the cache.
//! Type and ability names, which only the tracer and the kernel choose, are hashed with
//! foldhash (randomly seeded, fast); what any user may choose (paths, channel types, call
//! names, failures) keeps std's SipHash. Maps are sorted only when printed ([`sorted`]).

mod cap_calls;
mod failures;
mod interner;
mod needs;
mod origin;
mod record;
mod values;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use cap_calls::{CallEffect, CapNote};
pub use failures::Failure;
pub use interner::TypeIndex;
pub use needs::{Need, NeedRef};
pub use origin::{Hosts, Origin};
pub use record::{AbilityMap, AbilityUse, TypeRecord};
pub use values::{add_range, Value, ValueRef, Values};

use interner::{AbilityNames, TypeNames};
use origin::stamped;

/// The entries of a map, sorted by key: the store's maps are unordered, and sorted only when
/// printed.
pub fn sorted<'m, K: Ord + ?Sized + 'm, V: 'm>(
    entries: impl IntoIterator<Item = (&'m K, &'m V)>,
) -> Vec<(&'m K, &'m V)> {
    let mut v: Vec<_> = entries.into_iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    v
}

/// A type, by name or by its [`TypeIndex`]: what the store's methods accept.
pub trait TypeKey {
    /// The index of the type in `store`, interning its name if needed.
    fn index_in(self, store: &mut Store) -> TypeIndex;
}

impl TypeKey for TypeIndex {
    fn index_in(self, _: &mut Store) -> TypeIndex {
        self
    }
}

impl TypeKey for &str {
    fn index_in(self, store: &mut Store) -> TypeIndex {
        store.intern(self)
    }
}

impl TypeKey for &String {
    fn index_in(self, store: &mut Store) -> TypeIndex {
        store.intern(self)
    }
}

/// The store: one record per type.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Every type name seen, numbered by [`TypeIndex`].
    names: TypeNames,
    /// By [`TypeIndex`]: the type's record, if it has one.
    records: Vec<Option<TypeRecord>>,
    /// The one copy of each ability name the ability maps use as keys.
    ability_names: AbilityNames,
    /// Types with a record.
    live: usize,
    failures: usize,
    /// The host of what is recorded now ([`set_host`](Self::set_host)).
    host: Option<Arc<str>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// Names the host of what is recorded from now on (`None`: no host, the default):
    /// new entries' origins get it, and known entries count it among their hosts.
    pub fn set_host(&mut self, host: Option<Arc<str>>) {
        self.host = host;
    }

    /// `o` as recorded now: without a host of its own, it gets the current one.
    pub fn stamp(&self, o: Origin) -> Origin {
        stamped(o, self.host.as_ref())
    }

    /// The index of `type_name`, which is added (without a record) the first time. Hashes the
    /// name once, or not at all when it is the type interned last; allocates only for a new
    /// name.
    pub fn intern(&mut self, type_name: &str) -> TypeIndex {
        let t = self.names.intern(type_name);
        if self.records.len() <= t.get() {
            self.records.resize_with(t.get() + 1, || None);
        }
        t
    }

    /// The index of `type_name`, if it was interned.
    pub fn find(&self, type_name: &str) -> Option<TypeIndex> {
        self.names.find(type_name)
    }

    /// The name of the type at `t`.
    pub fn name(&self, t: TypeIndex) -> &str {
        self.names.get(t)
    }

    /// Every type name interned, with its index, in index order.
    pub fn names(&self) -> impl Iterator<Item = (TypeIndex, &str)> {
        self.names.iter()
    }

    /// The record of the type at `t`, if it has one.
    pub fn record(&self, t: TypeIndex) -> Option<&TypeRecord> {
        self.records.get(t.get()).and_then(Option::as_ref)
    }

    /// The record of a type, created if missing.
    pub fn type_mut(&mut self, t: impl TypeKey) -> &mut TypeRecord {
        let t = t.index_in(self);
        let record = &mut self.records[t.get()];
        if record.is_none() {
            self.live += 1;
        }
        record.get_or_insert_with(TypeRecord::default)
    }

    /// The ability map of a type for one domain.
    fn abilities_mut(&mut self, t: impl TypeKey, root: bool) -> &mut AbilityMap {
        self.type_mut(t).abilities_mut(root)
    }

    /// The record of `type_name`.
    pub fn get(&self, type_name: &str) -> Option<&TypeRecord> {
        self.find(type_name).and_then(|t| self.record(t))
    }

    /// Whether the type at `t` has a recorded use that `need` repeats: the same path or channel
    /// type, or the same ability in the same domain with a value it [repeats](Values::repeats).
    pub fn repeats(&self, t: TypeIndex, need: NeedRef<'_>) -> bool {
        let Some(r) = self.record(t) else { return false };
        let h = self.host.as_ref();
        match need {
            NeedRef::Ability { root, name, value } => {
                r.abilities(root).get(name).is_some_and(|u| u.values.repeats(value) && u.origin.has_host(h))
            }
            NeedRef::Attach(p) => r.attach.get(p).is_some_and(|o| o.has_host(h)),
            NeedRef::Link(p) => r.link.get(p).is_some_and(|o| o.has_host(h)),
            NeedRef::Connect(c) => r.connect.get(c).is_some_and(|o| o.has_host(h)),
        }
    }

    /// Types with a record, sorted by name.
    pub fn types_sorted(&self) -> Vec<(&str, &TypeRecord)> {
        let mut v: Vec<_> = self.types().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The types with a record, in no particular order (a count needs no sort).
    pub fn types(&self) -> impl Iterator<Item = (&str, &TypeRecord)> {
        (self.names.iter().zip(&self.records)).filter_map(|((_, name), r)| r.as_ref().map(|r| (name, r)))
    }

    /// Number of types with a record.
    pub fn type_count(&self) -> usize {
        self.live
    }

    /// Number of distinct failures.
    pub fn failure_count(&self) -> usize {
        self.failures
    }

    /// Records an ability use. Returns whether the store changed. A use already recorded
    /// costs a lookup of the ability by name and nothing else.
    pub fn use_ability<'v>(
        &mut self,
        t: impl TypeKey,
        root: bool,
        name: &str,
        value: impl Into<ValueRef<'v>>,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let t = t.index_in(self);
        if let Some(u) = self.abilities_mut(t, root).get_mut(name) {
            let changed = u.values.add(value);
            // The common case, a repeat on the local bus, touches no host.
            return changed | (self.host.is_some() && self.note_host_of_ability(t, root, name));
        }
        let mut values = Values::default();
        values.add(value);
        let key = self.ability_names.key(name);
        let origin = stamped(origin(), self.host.as_ref());
        self.abilities_mut(t, root).insert(key, AbilityUse { values, origin });
        true
    }

    /// Counts the current host among those of a known ability use; whether it was new.
    fn note_host_of_ability(&mut self, t: TypeIndex, root: bool, name: &str) -> bool {
        let host = self.host.clone();
        self.abilities_mut(t, root).get_mut(name).is_some_and(|u| u.origin.add_host(host.as_ref()))
    }

    /// Records a whole [`AbilityUse`] (from a state file), merging with what is there.
    pub fn merge_ability(&mut self, t: impl TypeKey, root: bool, name: &str, u: AbilityUse) -> bool {
        let t = t.index_in(self);
        let host = self.host.clone();
        let u = AbilityUse { origin: stamped(u.origin, host.as_ref()), ..u };
        if let Some(have) = self.abilities_mut(t, root).get_mut(name) {
            let changed = have.values.merge(&u.values);
            return have.origin.absorb(u.origin) | changed;
        }
        let key = self.ability_names.key(name);
        self.abilities_mut(t, root).insert(key, u);
        true
    }

    /// Records `name` (a path, a channel type, a call) in the map `of` a type's record: a
    /// known one counts the current host, a new one gets its origin. Whether it changed.
    fn use_named(
        &mut self,
        t: impl TypeKey,
        of: fn(&mut TypeRecord) -> &mut HashMap<String, Origin>,
        name: &str,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let host = self.host.clone();
        let map = of(self.type_mut(t));
        match map.get_mut(name) {
            Some(o) => o.add_host(host.as_ref()),
            None => {
                map.insert(name.to_string(), stamped(origin(), host.as_ref()));
                true
            }
        }
    }

    /// Records a path attach.
    pub fn use_attach(&mut self, t: impl TypeKey, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        self.use_named(t, |r| &mut r.attach, path, origin)
    }

    /// Records a link.
    pub fn use_link(&mut self, t: impl TypeKey, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        self.use_named(t, |r| &mut r.link, path, origin)
    }

    /// Records a channel connection to a channel of `channel_type`.
    pub fn use_connect(
        &mut self,
        t: impl TypeKey,
        channel_type: &str,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        self.use_named(t, |r| &mut r.connect, channel_type, origin)
    }

    /// Records what a capability call did with `ability`.
    pub fn note_cap_call(
        &mut self,
        t: impl TypeKey,
        ability: &str,
        action: &str,
        root: bool,
        nonroot: bool,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let host = self.host.clone();
        let r = self.type_mut(t);
        match r.cap_calls.get_mut(ability) {
            Some(n) => {
                let mut changed = n.origin.add_host(host.as_ref());
                // No action (a state file's `-`) adds none: an empty word would be written
                // back as a state record that cannot be read.
                if !action.is_empty() && !n.actions.contains(action) {
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
                let origin = stamped(origin(), host.as_ref());
                r.cap_calls.insert(ability.to_string(), CapNote { actions, root, nonroot, origin });
                true
            }
        }
    }

    /// Records a capability call of a type that named no ability (`call` is its name,
    /// `prctl(PR_SET_KEEPCAPS)`). Returns whether the store changed.
    pub fn note_bare_call(&mut self, t: impl TypeKey, call: &str, origin: impl FnOnce() -> Origin) -> bool {
        self.use_named(t, |r| &mut r.bare_calls, call, origin)
    }

    /// Records one failure at `time_ns`; `origin` (called only when it is the first) names
    /// the failing process. Returns whether the need is new. A known need allocates nothing.
    pub fn fail(
        &mut self,
        t: impl TypeKey,
        need: NeedRef<'_>,
        time_ns: u64,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let host = self.host.clone();
        let r = self.type_mut(t);
        match r.failures.get_mut(&need) {
            Some(f) => {
                f.first.add_host(host.as_ref());
                f.absorb(1, time_ns, time_ns, || stamped(origin(), host.as_ref()));
                false
            }
            None => {
                let first = stamped(origin(), host.as_ref());
                r.failures.insert(need.to_need(), Failure { count: 1, first, last_ns: time_ns });
                self.failures += 1;
                true
            }
        }
    }

    /// Records a counted failure (from a state file), merging with what is there: counts add
    /// up, the earliest first time and the latest last time win. Returns whether the need is
    /// new.
    pub fn add_failure(&mut self, t: impl TypeKey, need: Need, failure: Failure) -> bool {
        let host = self.host.clone();
        let r = self.type_mut(t);
        let Failure { count, first, last_ns } = failure;
        let first = stamped(first, host.as_ref());
        match r.failures.get_mut(&need) {
            Some(f) => {
                for h in first.hosts() {
                    f.first.add_host(Some(h));
                }
                f.absorb(count, first.time_ns, last_ns, || first);
                false
            }
            None => {
                r.failures.insert(need, Failure { count, first, last_ns });
                self.failures += 1;
                true
            }
        }
    }

    /// Forgets every successful use (`clear used`).
    pub fn clear_used(&mut self) {
        for r in self.records_mut() {
            r.clear_uses();
        }
        self.prune();
    }

    /// Forgets every failure (`clear errors`).
    pub fn clear_errors(&mut self) {
        for r in self.records_mut() {
            r.failures.clear();
        }
        self.failures = 0;
        self.prune();
    }

    fn records_mut(&mut self) -> impl Iterator<Item = &mut TypeRecord> {
        self.records.iter_mut().filter_map(Option::as_mut)
    }

    /// Drops the records left empty (the names stay interned).
    fn prune(&mut self) {
        for r in &mut self.records {
            if r.as_ref().is_some_and(|r| r.no_uses() && r.failures.is_empty()) {
                *r = None;
                self.live -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secpol::event::Subrange;

    fn r(lo: u64, hi: u64) -> Subrange {
        Subrange { lo, hi }
    }

    fn o(t: u64) -> Origin {
        Origin { process: "p".into(), pid: 1, time_ns: t, ..Default::default() }
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
        assert!(s.fail("b_t", need.borrowed(), 5, || o(5)));
        assert!(!s.fail("b_t", need.borrowed(), 7, || panic!("not the first failure")));
        assert!(!s.add_failure("b_t", need.clone(), Failure { count: 2, first: o(3), last_ns: 9 }));
        let f = &s.get("b_t").unwrap().failures[&need];
        assert_eq!((f.count, f.first.time_ns, f.last_ns), (4, 3, 9));
        assert_eq!((s.type_count(), s.failure_count()), (2, 1));
        s.clear_errors();
        assert_eq!((s.type_count(), s.failure_count()), (1, 0));
        s.clear_used();
        assert_eq!(s.type_count(), 0);
    }

    #[test]
    fn types_are_interned_once_and_outlive_their_records() {
        let mut s = Store::new();
        let a = s.intern("a_t");
        let b = s.intern("b_t");
        assert_ne!(a, b);
        // The last type, another one, and the last again.
        assert_eq!((s.intern("b_t"), s.intern("a_t"), s.intern("a_t")), (b, a, a));
        assert_eq!((s.find("b_t"), s.find("c_t"), s.name(b)), (Some(b), None, "b_t"));
        // Interning makes no record.
        assert_eq!((s.type_count(), s.record(a).is_none(), s.get("a_t").is_none()), (0, true, true));
        assert!(s.use_ability(b, true, "chown", &Value::None, || o(1)));
        assert!(!s.use_ability("b_t", true, "chown", ValueRef::None, || panic!("known use")));
        assert_eq!(s.type_count(), 1);
        s.clear_used();
        assert_eq!((s.type_count(), s.intern("b_t"), s.names().count()), (0, b, 2));
        assert!(s.use_attach("b_t", "/p", || o(2)));
        assert_eq!((s.type_count(), s.types_sorted()[0].0), (1, "b_t"));
        assert!(s.repeats(b, NeedRef::Attach("/p")) && !s.repeats(b, NeedRef::Link("/p")));
        assert!(!s.repeats(a, NeedRef::Attach("/p")));
        // Every type's ability maps share one copy of each name.
        s.use_ability("b_t", false, "chown", ValueRef::None, || o(3));
        s.merge_ability("c_t", true, "chown", AbilityUse { values: Values::default(), origin: o(4) });
        let key = |t: &str, root: bool| s.get(t).unwrap().abilities(root).keys().next().unwrap().clone();
        assert!(Arc::ptr_eq(&key("b_t", false), &key("c_t", true)));
    }

    #[test]
    fn failures_are_found_by_their_borrowed_need() {
        let needs = [
            Need::Ability { root: true, name: "setuid".into(), value: Value::Range(r(0, 0)) },
            Need::Ability { root: false, name: "setuid".into(), value: Value::Range(r(0, 0)) },
            Need::Ability { root: true, name: "settypeid".into(), value: Value::Type("a_t".into()) },
            Need::Ability { root: true, name: "setuid".into(), value: Value::None },
            Need::Attach("/x".into()),
            Need::Link("/x".into()),
            Need::Connect("a_t".into()),
        ];
        let mut s = Store::new();
        for (i, n) in needs.iter().enumerate() {
            assert!(s.fail("t_t", n.borrowed(), i as u64, || o(i as u64)), "{n:?}");
            assert_eq!(n.borrowed().to_need(), *n);
        }
        for n in &needs {
            assert!(!s.fail("t_t", n.borrowed(), 99, || o(99)), "{n:?}");
        }
        let rec = s.get("t_t").unwrap();
        assert_eq!((rec.failures.len(), s.failure_count()), (needs.len(), needs.len()));
        assert!(rec.failures.values().all(|f| f.count == 2 && f.last_ns == 99));
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

    #[test]
    fn map_entries_are_sorted_by_key() {
        let m = HashMap::from([("b".to_string(), 2), ("a".to_string(), 1), ("c".to_string(), 3)]);
        let keys: Vec<&str> = sorted(&m).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }
}
