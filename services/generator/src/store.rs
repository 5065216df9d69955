//! The learning store: what each type was seen to use, and how it failed.
//!
//! Per type: abilities used, root and non-root apart, with the values they were used with
//! merged into ranges (or type names for type-ranged abilities); paths attached and linked;
//! types of channels connected to; what the type's own capability calls did with each
//! ability, and which of its calls named no ability at all. Every entry remembers the process
//! that first needed it and when, so the generated policy can say why a rule is there.
//! Failures are kept per type and per need with a count, the first and the last time and the
//! first failing process.
//!
//! The store knows nothing of modes or base policies: [`crate::learn`] decides what goes in.
//!
//! The hot path is an event that teaches nothing new, so it is made cheap: type names are
//! interned (one hash of the name gives a [`TypeIndex`], and the last type is remembered, so
//! a burst of events of one type hashes nothing), lookups borrow (`&str`, [`ValueRef`],
//! [`NeedRef`]), and nothing is allocated unless something is recorded for the first time.
//! Memory is laid out for a lookup to touch few cache lines: the type names sit together in
//! one buffer, apart from the records, and every type's ability map shares one copy of each
//! ability name, so comparing a key reads memory that is already in the cache.
//! Type and ability names, which only the tracer and the kernel choose, are hashed with
//! foldhash (randomly seeded, fast); what any user may choose (paths, channel types, call
//! names, failures) keeps std's SipHash. Maps are sorted only when printed.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher as _, Hash, Hasher, RandomState};
use std::sync::Arc;

use hashbrown::{Equivalent, HashTable};
use secpol::event::{CapAction, Domain, Subrange};
use secpol::policy::RangeSet;
use secpol::qnxlog;

/// A type's abilities of one domain, by name. The keys are shared by every type of a store
/// (one allocation per ability name); they are hashed with foldhash.
pub type AbilityMap = hashbrown::HashMap<Arc<str>, AbilityUse, foldhash::fast::RandomState>;

/// Who first needed something, and when; in a fleet (docs/fleet.md), on which host, and
/// which hosts needed it since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Process name as QNX prints it (`usr/bin/touch`), or `(unnamed)`. A boxed str, not
    /// a String: with the hosts' word the origin stays 40 bytes, as it was without hosts
    /// (it is in every ability use, path and failure of every type).
    pub process: Box<str>,
    /// Its pid.
    pub pid: u32,
    /// When, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The hosts, in a fleet only: boxed, so an origin of the generator's own bus (every
    /// rule of a single host) costs one word for them, not five.
    /// Read through [`host`](Self::host) and [`hosts`](Self::hosts).
    pub fleet: Option<Box<Hosts>>,
}

/// The hosts of an [`Origin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Hosts {
    /// The host it came from first.
    pub first: Option<Arc<str>>,
    /// Every host that needed it, sorted.
    pub all: Vec<Arc<str>>,
}

impl Origin {
    /// The host it came from (`None`: the generator's own bus or a file without hosts).
    pub fn host(&self) -> Option<&Arc<str>> {
        self.fleet.as_ref()?.first.as_ref()
    }

    /// Every host that needed it, sorted (empty without hosts).
    pub fn hosts(&self) -> &[Arc<str>] {
        self.fleet.as_deref().map_or(&[], |f| &f.all)
    }

    /// Names the host it came from.
    pub fn set_host(&mut self, host: Arc<str>) {
        self.fleet.get_or_insert_default().first = Some(host);
    }

    /// Adds `host` to [`hosts`](Self::hosts); whether it was new.
    pub fn add_host(&mut self, host: Option<&Arc<str>>) -> bool {
        let Some(h) = host else { return false };
        let all = &mut self.fleet.get_or_insert_default().all;
        match all.binary_search(h) {
            Ok(_) => false,
            Err(at) => {
                all.insert(at, h.clone());
                true
            }
        }
    }

    /// Whether `host` is among [`hosts`](Self::hosts) (always, without a host).
    pub fn has_host(&self, host: Option<&Arc<str>>) -> bool {
        host.is_none_or(|h| self.hosts().binary_search(h).is_ok())
    }

    /// Takes the hosts out (for an origin about to be replaced by an earlier one).
    fn take_hosts(&mut self) -> Vec<Arc<str>> {
        self.fleet.as_mut().map(|f| std::mem::take(&mut f.all)).unwrap_or_default()
    }

    /// Takes in what `other` says of the same rule: every host of both, and the earlier
    /// first need. Whether anything changed.
    pub fn absorb(&mut self, other: Origin) -> bool {
        let mut changed = false;
        for h in other.hosts() {
            changed |= self.add_host(Some(h));
        }
        if other.time_ns < self.time_ns {
            let hosts = self.take_hosts();
            *self = other;
            if !hosts.is_empty() {
                self.fleet.get_or_insert_default().all = hosts;
            }
            changed = true;
        }
        changed
    }
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
        if other.all {
            changed |= self.add(ValueRef::None);
        }
        for r in other.ranges.ranges() {
            changed |= add_range(&mut self.ranges, *r);
        }
        for t in &other.types {
            changed |= self.add(ValueRef::Type(t));
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

impl Failure {
    /// Counts `count` more failures from `first_ns` to `last_ns`; `first` (called only if it
    /// is earlier than the first known) names the first failing process.
    fn absorb(&mut self, count: u64, first_ns: u64, last_ns: u64, first: impl FnOnce() -> Origin) {
        self.count = self.count.saturating_add(count);
        self.last_ns = self.last_ns.max(last_ns);
        if first_ns < self.first.time_ns {
            let hosts = self.first.take_hosts();
            self.first = first();
            for h in &hosts {
                self.first.add_host(Some(h));
            }
        }
    }
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
    /// Failures, per need (looked up by [`NeedRef`]).
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

/// A type's number in its [`Store`]: given by [`Store::intern`], valid for the life of that
/// store (clearing forgets records, never names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeIndex(u32);

impl TypeIndex {
    /// The number, from 0 (to index tables kept beside the store).
    pub fn get(self) -> usize {
        self.0 as usize
    }
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

/// Interned names, numbered from 0 in the order first seen, kept together in one buffer.
#[derive(Debug, Clone, Default)]
struct Names {
    /// Every name, one after the other.
    text: String,
    /// Where each name is in `text`: start, end.
    spans: Vec<(usize, usize)>,
    /// Numbers, hashed by name.
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Names {
    fn get(&self, i: u32) -> &str {
        let (start, end) = self.spans[i as usize];
        &self.text[start..end]
    }

    fn find_hashed(&self, hash: u64, name: &str) -> Option<u32> {
        self.table.find(hash, |&i| self.get(i) == name).copied()
    }

    fn find(&self, name: &str) -> Option<u32> {
        self.find_hashed(self.hasher.hash_one(name), name)
    }

    fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name);
        if let Some(i) = self.find_hashed(hash, name) {
            return i;
        }
        let i = u32::try_from(self.spans.len()).expect("fewer than 2^32 names");
        let start = self.text.len();
        self.text.push_str(name);
        self.spans.push((start, self.text.len()));
        let (text, spans, hasher) = (&self.text, &self.spans, &self.hasher);
        self.table.insert_unique(hash, i, |&j| {
            let (start, end) = spans[j as usize];
            hasher.hash_one(&text[start..end])
        });
        i
    }
}

/// The store: one record per type.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Every type name seen, numbered by [`TypeIndex`].
    names: Names,
    /// By [`TypeIndex`]: the type's record, if it has one.
    records: Vec<Option<TypeRecord>>,
    /// The type interned last.
    last: Option<TypeIndex>,
    /// The one copy of each ability name the ability maps use as keys.
    ability_names: hashbrown::HashSet<Arc<str>, foldhash::fast::RandomState>,
    /// Types with a record.
    live: usize,
    failures: usize,
    /// The host of what is recorded now ([`set_host`](Self::set_host)).
    host: Option<Arc<str>>,
}

fn record_path(
    map: &mut HashMap<String, Origin>,
    path: &str,
    host: Option<&Arc<str>>,
    origin: impl FnOnce() -> Origin,
) -> bool {
    match map.get_mut(path) {
        Some(o) => o.add_host(host),
        None => {
            map.insert(path.to_string(), stamped(origin(), host));
            true
        }
    }
}

/// `o` from `host`: an origin without a host gets it (its first and only host so far); one
/// that names its hosts (from a fleet's state file) keeps them.
fn stamped(mut o: Origin, host: Option<&Arc<str>>) -> Origin {
    if o.host().is_none() {
        if let Some(h) = host {
            o.set_host(h.clone());
        }
    }
    let first = o.host().cloned();
    o.add_host(first.as_ref());
    o
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
        if let Some(last) = self.last {
            if self.names.get(last.0) == type_name {
                return last;
            }
        }
        let t = TypeIndex(self.names.intern(type_name));
        if self.records.len() <= t.get() {
            self.records.resize_with(t.get() + 1, || None);
        }
        self.last = Some(t);
        t
    }

    /// The index of `type_name`, if it was interned.
    pub fn find(&self, type_name: &str) -> Option<TypeIndex> {
        self.names.find(type_name).map(TypeIndex)
    }

    /// The name of the type at `t`.
    pub fn name(&self, t: TypeIndex) -> &str {
        self.names.get(t.0)
    }

    /// Every type name interned, with its index, in index order.
    pub fn names(&self) -> impl Iterator<Item = (TypeIndex, &str)> {
        (0..self.names.spans.len() as u32).map(|i| (TypeIndex(i), self.names.get(i)))
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

    /// The shared key for the ability `name`.
    fn ability_key(&mut self, name: &str) -> Arc<str> {
        if let Some(k) = self.ability_names.get(name) {
            return k.clone();
        }
        let k: Arc<str> = name.into();
        self.ability_names.insert(k.clone());
        k
    }

    /// The ability map of a type for one domain.
    fn abilities_mut(&mut self, t: impl TypeKey, root: bool) -> &mut AbilityMap {
        let r = self.type_mut(t);
        if root {
            &mut r.root
        } else {
            &mut r.nonroot
        }
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
        let mut v: Vec<_> = (self.records.iter().enumerate())
            .filter_map(|(i, r)| r.as_ref().map(|r| (self.names.get(i as u32), r)))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
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
        let key = self.ability_key(name);
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
        let key = self.ability_key(name);
        self.abilities_mut(t, root).insert(key, u);
        true
    }

    /// Records a path attach.
    pub fn use_attach(&mut self, t: impl TypeKey, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        let host = self.host.clone();
        record_path(&mut self.type_mut(t).attach, path, host.as_ref(), origin)
    }

    /// Records a link.
    pub fn use_link(&mut self, t: impl TypeKey, path: &str, origin: impl FnOnce() -> Origin) -> bool {
        let host = self.host.clone();
        record_path(&mut self.type_mut(t).link, path, host.as_ref(), origin)
    }

    /// Records a channel connection to a channel of `channel_type`.
    pub fn use_connect(
        &mut self,
        t: impl TypeKey,
        channel_type: &str,
        origin: impl FnOnce() -> Origin,
    ) -> bool {
        let host = self.host.clone();
        record_path(&mut self.type_mut(t).connect, channel_type, host.as_ref(), origin)
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
        let host = self.host.clone();
        record_path(&mut self.type_mut(t).bare_calls, call, host.as_ref(), origin)
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
            r.root.clear();
            r.nonroot.clear();
            r.attach.clear();
            r.link.clear();
            r.connect.clear();
            r.cap_calls.clear();
            r.bare_calls.clear();
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

    #[test]
    fn an_origin_without_hosts_is_as_small_as_before_fleets() {
        // In every ability use, path and failure of every type: the fleet's hosts cost one
        // word, paid for by the boxed process name.
        assert_eq!(std::mem::size_of::<Origin>(), 40);
    }

    fn r(lo: u64, hi: u64) -> Subrange {
        Subrange { lo, hi }
    }

    /// Found by the `state` fuzz target: a cap call without actions (`-` in a state file)
    /// on an ability already noted stored an empty action, which the state file then wrote
    /// as an empty word, unreadable at the next start.
    #[test]
    fn a_cap_call_without_actions_on_a_noted_ability_adds_no_empty_action() {
        let o = || Origin { process: "pps".into(), pid: 7, time_ns: 1, ..Default::default() };
        let mut s = Store::new();
        assert!(s.note_cap_call("c_t", "net_raw", "deny all lock", true, false, o));
        assert!(!s.note_cap_call("c_t", "net_raw", "", true, false, o));
        assert!(s.note_cap_call("c_t", "net_raw", "", true, true, o), "the new domain is news");
        let note = &s.get("c_t").unwrap().cap_calls["net_raw"];
        assert_eq!(note.actions.iter().collect::<Vec<_>>(), ["deny all lock"]);
        let text = crate::state::write(&s, &[], true);
        let mut back = Store::new();
        assert_eq!(crate::state::read("st", &text, &mut back).problems, Vec::<String>::new(), "{text}");
        assert_eq!(crate::state::write(&back, &[], true), text);
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
