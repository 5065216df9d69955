//! What an event teaches: the rules of seed 000 applied to one event at a time.
//!
//! Each type is *unrestricted* (what it uses is learned) or *restricted* (it keeps the rules
//! of the base policy; a use the base does not allow is a failure). The mode of a type is,
//! in order: its `type NAME restricted|unrestricted` line in the configuration; the
//! configuration's `option restricted|unrestricted`; `-u`; otherwise restricted.
//!
//! A type that is not in the base policy is *new*. New types are admitted (and then follow
//! their mode) with `-u`, or up to `-t N` of them, or when the configuration names them
//! unrestricted; without `-u` or `-t` the generated policy cannot gain types. A new type
//! that is not admitted has no rules: all it does is a failure, and it is counted as refused.
//!
//! For an unrestricted type, `deny:` abilities are failures instead of rules and `keep:`
//! abilities stay restricted to the base rules. Denied checks (the kernel said no) are
//! always failures. NOAUDIT probes are never anything. `-T all_connect` drops channel
//! connections altogether (no rules, no failures). A self-managed capability call of an
//! unrestricted type is noted, per ability, in the words of seed 003 (`allow nonroot`,
//! `drop all lock`), or by the call's name when it names no ability (`PR_SET_KEEPCAPS`),
//! unless the type is `no_procmgr_ability`; [`crate::output`] decides what the notes grant.
//!
//! An event that teaches nothing new (a use already recorded, a failure already counted) is
//! the common case and costs one lookup of its type (by [`crate::store::TypeIndex`], whose
//! mode is kept in a table beside the store) and one of its ability or path, and allocates
//! nothing. A restricted type's use that repeats one recorded is not checked against the base
//! policy again: the base allowed it when it was recorded. That holds while every use recorded
//! for the type passed the base, which is checked once, when the type's mode is decided
//! (after a start, a configuration change or [`Learner::store_changed`]).

use std::collections::HashSet;

use secpol::ability;
use secpol::config::{Config, Mode};
use secpol::event::{Domain, Event, EventKind, Process};
use secpol::qnxlog;

/// The questions learning asks of the base policy, defined beside it in [`crate::base`];
/// also here, where docs/generator.md names them.
pub use crate::base::{Base, NoBase};
use crate::store::{NeedRef, Origin, Store, TypeIndex, ValueRef};

/// The command-line switches that shape learning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnOptions {
    /// `-u`: types unrestricted by default, new types admitted.
    pub unrestricted: bool,
    /// `-t N`: at most N new types.
    pub new_types: Option<usize>,
    /// `-T all_connect`: channel connections are neither rules nor failures.
    pub all_connect: bool,
}

/// How one type is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeMode {
    /// Learns.
    Unrestricted,
    /// Keeps its base rules.
    Restricted,
    /// New and not admitted: no rules at all.
    Refused,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to learn (a probe, a kind the policy has no rules for, an ignored call).
    Ignored,
    /// A use was recorded; `changed` says whether it was news.
    Used {
        /// Whether the store changed.
        changed: bool,
    },
    /// A failure was recorded; `new` says whether this need failed for the first time.
    Failed {
        /// First time this need failed.
        new: bool,
    },
}

impl Outcome {
    /// Whether the outputs must be rewritten.
    pub fn changed(&self) -> bool {
        match self {
            Outcome::Ignored => false,
            Outcome::Used { changed } => *changed,
            // Counts and times change with every failure.
            Outcome::Failed { .. } => true,
        }
    }
}

/// What was decided about a type, kept until the configuration changes.
#[derive(Debug, Clone, Copy)]
struct Decided {
    mode: TypeMode,
    /// The configuration has a `type` line for it (`deny:`, `keep:`, `no_procmgr_ability`
    /// may apply): only then is it looked up per event.
    configured: bool,
    /// Restricted, and the base policy allows every use recorded for it: a use that repeats
    /// one recorded needs no check against the base.
    verified: bool,
}

/// The learning state: store, base policy, configuration and the admitted new types.
pub struct Learner<B: Base> {
    /// What was learned. Its [`TypeIndex`]es also index the learner's table of modes: never
    /// replace it, and call [`Learner::store_changed`] after adding to it directly.
    pub store: Store,
    base: B,
    options: LearnOptions,
    config: Config,
    /// By [`TypeIndex`]: what was decided about each type so far.
    decided: Vec<Option<Decided>>,
    admitted: HashSet<String>,
    /// Events of refused types.
    pub refused_events: u64,
}

impl<B: Base> Learner<B> {
    /// A learner with an empty store.
    pub fn new(base: B, options: LearnOptions, config: Config) -> Self {
        Learner {
            store: Store::new(),
            base,
            options,
            config,
            decided: Vec::new(),
            admitted: HashSet::new(),
            refused_events: 0,
        }
    }

    /// The base policy.
    pub fn base(&self) -> &B {
        &self.base
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The learning options.
    pub fn options(&self) -> &LearnOptions {
        &self.options
    }

    /// Replaces the configuration (SIGHUP); modes are decided afresh.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
        self.decided.clear();
    }

    /// To be called after uses were added to the store other than by [`Learner::apply`] (a
    /// state file): what was decided about each type is decided afresh, so restricted types
    /// check their recorded uses against the base policy again.
    pub fn store_changed(&mut self) {
        self.decided.clear();
    }

    /// The default mode of types.
    pub fn default_mode(&self) -> Mode {
        match self.config.default_mode {
            Some(m) => m,
            None if self.options.unrestricted => Mode::Unrestricted,
            None => Mode::Restricted,
        }
    }

    /// New types admitted so far.
    pub fn admitted(&self) -> &HashSet<String> {
        &self.admitted
    }

    /// Admits a new type as if it had been seen (state restore). Returns false at the `-t` limit.
    pub fn admit(&mut self, type_name: &str) -> bool {
        let t = self.store.intern(type_name);
        if let Some(d) = self.decided.get_mut(t.get()) {
            *d = None;
        }
        self.decided(t).mode != TypeMode::Refused
    }

    /// The modes decided so far, by type (in no particular order).
    pub fn modes(&self) -> impl Iterator<Item = (&str, TypeMode)> + '_ {
        self.store
            .names()
            .filter_map(|(t, name)| self.decided.get(t.get()).copied().flatten().map(|d| (name, d.mode)))
    }

    /// How `type_name` is treated (decided once, and again after a configuration change).
    pub fn mode(&mut self, type_name: &str) -> TypeMode {
        let t = self.store.intern(type_name);
        self.decided(t).mode
    }

    /// What was decided about the type at `t`: a table lookup, except the first time.
    fn decided(&mut self, t: TypeIndex) -> Decided {
        if let Some(Some(d)) = self.decided.get(t.get()) {
            return *d;
        }
        let name = self.store.name(t).to_string();
        let mode = self.decide(&name);
        let d = Decided {
            mode,
            configured: self.config.type_options(&name).is_some(),
            verified: mode == TypeMode::Restricted && self.base_allows_record(t, &name),
        };
        if self.decided.len() <= t.get() {
            self.decided.resize(t.get() + 1, None);
        }
        self.decided[t.get()] = Some(d);
        d
    }

    /// Whether the base policy allows every use recorded for the type at `t`.
    fn base_allows_record(&self, t: TypeIndex, name: &str) -> bool {
        let Some(r) = self.store.record(t) else { return true };
        let base = &self.base;
        [true, false].into_iter().all(|root| {
            r.abilities(root)
                .iter()
                .all(|(a, u)| u.values.pieces().all(|v| base.allows_ability(name, root, a, v)))
        }) && r.attach.keys().all(|p| base.allows_attach(name, p))
            && r.link.keys().all(|p| base.allows_link(name, p))
            && r.connect.keys().all(|c| base.allows_connect(name, c))
    }

    fn decide(&mut self, type_name: &str) -> TypeMode {
        let configured = self.config.type_options(type_name).and_then(|t| t.mode);
        let mode = configured.unwrap_or_else(|| self.default_mode());
        if !self.base.has_type(type_name) && !self.admitted.contains(type_name) {
            let wanted = self.options.unrestricted
                || self.options.new_types.is_some()
                || configured == Some(Mode::Unrestricted);
            let room = self.options.new_types.is_none_or(|n| self.admitted.len() < n);
            if !(wanted && room) {
                return TypeMode::Refused;
            }
            self.admitted.insert(type_name.to_string());
            // A new type has no base rules: with -t it learns even when restricted by default.
            if configured != Some(Mode::Restricted) {
                return TypeMode::Unrestricted;
            }
        }
        match mode {
            Mode::Unrestricted => TypeMode::Unrestricted,
            Mode::Restricted => TypeMode::Restricted,
        }
    }

    /// The value an ability use is recorded with, as the configuration says.
    pub fn value_of<'a>(
        &self,
        name: &str,
        range: Option<secpol::event::Subrange>,
        target: Option<&'a str>,
    ) -> ValueRef<'a> {
        let opts = self.config.ability_options(name);
        if ability::TYPE_RANGED.contains(&name) || opts.by_type {
            return target.map_or(ValueRef::None, ValueRef::Type);
        }
        match range {
            Some(r) if ability::ranged_by_default(name) || opts.range => ValueRef::Range(r),
            _ => ValueRef::None,
        }
    }

    /// Applies one event. `now_ns` stamps events that carry no time (QNX logs).
    pub fn apply(&mut self, e: &Event, now_ns: u64) -> Outcome {
        let time_ns = if e.time_ns == 0 { now_ns } else { e.time_ns };
        let p = &e.process;
        match &e.what {
            EventKind::Ability { probe: true, .. } => Outcome::Ignored,
            EventKind::Ability { ability, target_type: Some(ch), verdict, .. }
                if ability == "channel_connect" =>
            {
                self.connect(p, ch, verdict.allowed(), time_ns)
            }
            EventKind::Ability { ability, range, target_type, root, verdict, .. } => {
                let value = self.value_of(ability, *range, target_type.as_deref());
                self.ability(p, ability, *root, value, verdict.allowed(), time_ns)
            }
            EventKind::Attach { path, result } => {
                let allowed = |b: &B| b.allows_attach(&p.type_name, path);
                let record = |s: &mut Store, t, o: &dyn Fn() -> Origin| s.use_attach(t, path, o);
                self.named_use(p, result.ok(), NeedRef::Attach(path), allowed, time_ns, record)
            }
            EventKind::Link { path, result, .. } => {
                let allowed = |b: &B| b.allows_link(&p.type_name, path);
                let record = |s: &mut Store, t, o: &dyn Fn() -> Origin| s.use_link(t, path, o);
                self.named_use(p, result.ok(), NeedRef::Link(path), allowed, time_ns, record)
            }
            EventKind::Connect { channel_type, verdict, .. } => {
                self.connect(p, channel_type, verdict.allowed(), time_ns)
            }
            EventKind::CapCall { call, requests, .. } => {
                let t = self.store.intern(&p.type_name);
                let d = self.decided(t);
                let ignore = d.configured
                    && self.config.type_options(&p.type_name).is_some_and(|o| o.no_procmgr_ability);
                if ignore || d.mode != TypeMode::Unrestricted {
                    return Outcome::Ignored;
                }
                let mut changed = false;
                let mut named = false;
                for r in requests {
                    let name = ability::normalize(&r.ability);
                    if !ability::is_well_formed(&name) {
                        continue;
                    }
                    named = true;
                    let (root, nonroot) = match r.domain {
                        Domain::Root => (true, false),
                        Domain::NonRoot => (false, true),
                        Domain::All => (true, true),
                    };
                    let words = qnxlog::describe_request(r);
                    changed |=
                        self.store.note_cap_call(t, &name, &words, root, nonroot, || origin(p, time_ns));
                }
                if !named {
                    // PR_SET_KEEPCAPS, PR_SET_SECUREBITS: the type manages its capabilities.
                    changed |= self.store.note_bare_call(t, call, || origin(p, time_ns));
                }
                Outcome::Used { changed }
            }
            EventKind::Signal { .. }
            | EventKind::Remote { .. }
            | EventKind::Exec { .. }
            | EventKind::Exit { .. }
            | EventKind::Unknown => Outcome::Ignored,
        }
    }

    fn fail(&mut self, p: &Process, t: TypeIndex, need: NeedRef<'_>, time_ns: u64) -> Outcome {
        let new = self.store.fail(t, need, time_ns, || origin(p, time_ns));
        Outcome::Failed { new }
    }

    fn ability(
        &mut self,
        p: &Process,
        name: &str,
        root: bool,
        value: ValueRef<'_>,
        ok: bool,
        time_ns: u64,
    ) -> Outcome {
        let t = self.store.intern(&p.type_name);
        let d = self.decided(t);
        let need = NeedRef::Ability { root, name, value };
        if ok && d.verified && self.store.repeats(t, need) {
            return Outcome::Used { changed: false };
        }
        let type_name = p.type_name.as_str();
        let permitted = ok
            && match d.mode {
                TypeMode::Refused => false,
                TypeMode::Restricted => self.base.allows_ability(type_name, root, name, value),
                TypeMode::Unrestricted if d.configured => {
                    let opts = self.config.type_options(type_name);
                    let denied = opts.is_some_and(|o| o.denies(name, root));
                    let kept = opts.is_some_and(|o| o.keep.contains(name));
                    !denied && (!kept || self.base.allows_ability(type_name, root, name, value))
                }
                TypeMode::Unrestricted => true,
            };
        if d.mode == TypeMode::Refused {
            self.refused_events += 1;
        }
        if permitted {
            let changed = self.store.use_ability(t, root, name, value, || origin(p, time_ns));
            Outcome::Used { changed }
        } else {
            self.fail(p, t, need, time_ns)
        }
    }

    fn connect(&mut self, p: &Process, channel_type: &str, ok: bool, time_ns: u64) -> Outcome {
        // Anyone may connect to a channel of type `default` (QNX's type 0): no rule needed.
        if self.options.all_connect || channel_type == secpol::event::DEFAULT_TYPE {
            return Outcome::Ignored;
        }
        let allowed = |b: &B| b.allows_connect(&p.type_name, channel_type);
        let record = |s: &mut Store, t, o: &dyn Fn() -> Origin| s.use_connect(t, channel_type, o);
        self.named_use(p, ok, NeedRef::Connect(channel_type), allowed, time_ns, record)
    }

    /// A use named by a path or a channel type (attach, link, connect), `ok` if the kernel
    /// allowed it: recorded if the type's mode permits it, else a failure.
    fn named_use(
        &mut self,
        p: &Process,
        ok: bool,
        need: NeedRef<'_>,
        base_allows: impl FnOnce(&B) -> bool,
        time_ns: u64,
        record: impl FnOnce(&mut Store, TypeIndex, &dyn Fn() -> Origin) -> bool,
    ) -> Outcome {
        let t = self.store.intern(&p.type_name);
        let d = self.decided(t);
        if ok && d.verified && self.store.repeats(t, need) {
            return Outcome::Used { changed: false };
        }
        let permitted = ok
            && match d.mode {
                TypeMode::Refused => {
                    self.refused_events += 1;
                    false
                }
                TypeMode::Restricted => base_allows(&self.base),
                TypeMode::Unrestricted => true,
            };
        if permitted {
            let changed = record(&mut self.store, t, &|| origin(p, time_ns));
            Outcome::Used { changed }
        } else {
            self.fail(p, t, need, time_ns)
        }
    }
}

/// The origin of an event's process.
pub fn origin(p: &Process, time_ns: u64) -> Origin {
    Origin {
        process: p.name.as_deref().unwrap_or(qnxlog::UNNAMED).into(),
        pid: p.pid,
        time_ns,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::BasePolicy;
    use secpol::event::{AttachResult, CapAction, CapRequest, Subrange, Verdict};

    const BASE: &str = "type b_t;\nallow b_t self:ability { setuid:5 };\nallow_attach b_t /run/b/...;\n";

    fn learner(opts: LearnOptions, config: &str) -> Learner<BasePolicy> {
        let base = BasePolicy::new(secpol::policy::parse(BASE, "base").unwrap());
        Learner::new(base, opts, Config::parse("cfg", config).unwrap())
    }

    fn ev(t: &str, what: EventKind) -> Event {
        let process = Process {
            pid: 9,
            name: Some("bin/x".into()),
            type_name: t.into(),
            uid: Some(0),
            euid: Some(0),
            start_ns: None,
        };
        Event { instance: 1, seq: 1, time_ns: 5, process, what }
    }

    fn cap(name: &str, value: Option<u64>, root: bool, allowed: bool, probe: bool) -> EventKind {
        EventKind::Ability {
            ability: name.into(),
            range: value.map(Subrange::value),
            target_type: None,
            root,
            verdict: if allowed { Verdict::Allowed } else { Verdict::Denied(1) },
            probe,
        }
    }

    fn failed(o: &Outcome) -> bool {
        matches!(o, Outcome::Failed { .. })
    }

    #[test]
    fn modes_follow_flags_and_configuration() {
        let mut l = learner(LearnOptions::default(), "");
        assert_eq!((l.mode("b_t"), l.mode("new_t")), (TypeMode::Restricted, TypeMode::Refused));
        let mut l = learner(LearnOptions { unrestricted: true, ..Default::default() }, "");
        assert_eq!((l.mode("b_t"), l.mode("new_t")), (TypeMode::Unrestricted, TypeMode::Unrestricted));
        let mut l = learner(LearnOptions { new_types: Some(1), ..Default::default() }, "");
        assert_eq!(l.mode("b_t"), TypeMode::Restricted);
        assert_eq!((l.mode("n1_t"), l.mode("n2_t")), (TypeMode::Unrestricted, TypeMode::Refused));
        let mut l =
            learner(LearnOptions { unrestricted: true, ..Default::default() }, "type b_t restricted\n");
        assert_eq!(l.mode("b_t"), TypeMode::Restricted);
        let mut l = learner(LearnOptions { unrestricted: true, ..Default::default() }, "option restricted\n");
        assert_eq!(l.mode("b_t"), TypeMode::Restricted);
        let mut l = learner(LearnOptions::default(), "type c_t unrestricted\n");
        assert_eq!((l.mode("c_t"), l.mode("d_t")), (TypeMode::Unrestricted, TypeMode::Refused));
        // A new configuration decides afresh.
        l.set_config(Config::parse("cfg", "option unrestricted\n").unwrap());
        assert_eq!(l.mode("b_t"), TypeMode::Unrestricted);
    }

    #[test]
    fn restricted_types_keep_their_base() {
        let mut l = learner(LearnOptions::default(), "");
        assert_eq!(
            l.apply(&ev("b_t", cap("setuid", Some(5), true, true, false)), 1),
            Outcome::Used { changed: true }
        );
        assert!(failed(&l.apply(&ev("b_t", cap("setuid", Some(6), true, true, false)), 1)));
        let attach = |p: &str| EventKind::Attach { path: p.into(), result: AttachResult::Ok };
        assert_eq!(l.apply(&ev("b_t", attach("/run/b/sock")), 1), Outcome::Used { changed: true });
        assert!(failed(&l.apply(&ev("b_t", attach("/run/c")), 1)));
        assert!(failed(&l.apply(&ev("new_t", cap("chown", None, true, true, false)), 1)));
        assert_eq!(l.refused_events, 1);
    }

    #[test]
    fn restricted_repeats_skip_the_base_only_when_it_allowed_every_recorded_use() {
        let setuid = |v| ev("b_t", cap("setuid", Some(v), true, true, false));
        let attach = || ev("b_t", EventKind::Attach { path: "/run/b/s".into(), result: AttachResult::Ok });
        let mut l = learner(LearnOptions::default(), "");
        assert_eq!(l.apply(&setuid(5), 1), Outcome::Used { changed: true });
        assert_eq!(l.apply(&setuid(5), 2), Outcome::Used { changed: false });
        assert_eq!(l.apply(&attach(), 2), Outcome::Used { changed: true });
        assert_eq!(l.apply(&attach(), 3), Outcome::Used { changed: false });
        // A state file recorded a use the base does not allow (b_t was unrestricted then).
        let o = || Origin { process: "x".into(), pid: 1, time_ns: 1, ..Default::default() };
        l.store.use_ability("b_t", true, "setuid", ValueRef::Range(Subrange::value(6)), o);
        l.store_changed();
        assert!(failed(&l.apply(&setuid(6), 4)));
        assert_eq!(l.apply(&setuid(5), 5), Outcome::Used { changed: false });
        // The same at start, before the type's first event.
        let mut l = learner(LearnOptions::default(), "");
        l.store.use_ability("b_t", true, "setuid", ValueRef::Range(Subrange::value(6)), o);
        assert!(failed(&l.apply(&setuid(6), 1)));
        // Learned while unrestricted, then restricted by a new configuration.
        let mut l = learner(LearnOptions { unrestricted: true, ..Default::default() }, "");
        assert_eq!(l.apply(&setuid(6), 1), Outcome::Used { changed: true });
        assert_eq!(l.apply(&setuid(6), 2), Outcome::Used { changed: false });
        l.set_config(Config::parse("cfg", "option restricted\n").unwrap());
        assert!(failed(&l.apply(&setuid(6), 3)));
        assert_eq!(l.apply(&setuid(5), 4), Outcome::Used { changed: true });
    }

    #[test]
    fn probes_denials_deny_and_keep() {
        let opts = LearnOptions { unrestricted: true, ..Default::default() };
        let mut l = learner(opts, "type b_t deny:chown:nonroot deny:kill keep:setuid\n");
        assert_eq!(l.apply(&ev("b_t", cap("sys_admin", None, true, true, true)), 1), Outcome::Ignored);
        assert_eq!(l.apply(&ev("b_t", cap("sys_admin", None, true, false, true)), 1), Outcome::Ignored);
        assert!(failed(&l.apply(&ev("b_t", cap("fowner", None, true, false, false)), 1)));
        assert!(failed(&l.apply(&ev("b_t", cap("chown", None, false, true, false)), 1)));
        assert!(!failed(&l.apply(&ev("b_t", cap("chown", None, true, true, false)), 1)));
        assert!(failed(&l.apply(&ev("b_t", cap("kill", None, true, true, false)), 1)));
        assert!(!failed(&l.apply(&ev("b_t", cap("setuid", Some(5), true, true, false)), 1)));
        assert!(failed(&l.apply(&ev("b_t", cap("setuid", Some(0), true, true, false)), 1)));
        assert!(l.store.get("b_t").unwrap().abilities(true).get("sys_admin").is_none());
        assert_eq!(l.store.failure_count(), 4);
    }

    #[test]
    fn connections_and_capability_calls() {
        let opts = LearnOptions { unrestricted: true, ..Default::default() };
        let mut l = learner(opts.clone(), "type q_t no_procmgr_ability\n");
        let connect = |ch: &str| EventKind::Connect {
            path: "/s".into(),
            channel_type: ch.into(),
            verdict: Verdict::Allowed,
        };
        assert_eq!(l.apply(&ev("a_t", connect("default")), 1), Outcome::Ignored);
        assert_eq!(l.apply(&ev("a_t", connect("b_t")), 1), Outcome::Used { changed: true });
        let call = EventKind::CapCall {
            call: "capset".into(),
            requests: vec![CapRequest {
                ability: "NET_RAW".into(),
                domain: Domain::All,
                actions: vec![CapAction::Deny, CapAction::Lock],
            }],
            verdict: Verdict::Allowed,
        };
        assert_eq!(l.apply(&ev("p_t", call.clone()), 1), Outcome::Used { changed: true });
        let note = &l.store.get("p_t").unwrap().cap_calls["net_raw"];
        assert_eq!(
            (note.actions.iter().next().unwrap().as_str(), note.root, note.nonroot),
            ("deny all lock", true, true)
        );
        assert_eq!(l.apply(&ev("q_t", call), 1), Outcome::Ignored);
        // A call that names no capability is noted by its name, once.
        let keepcaps = EventKind::CapCall {
            call: "prctl(PR_SET_KEEPCAPS)".into(),
            requests: vec![],
            verdict: Verdict::Allowed,
        };
        assert_eq!(l.apply(&ev("p_t", keepcaps.clone()), 1), Outcome::Used { changed: true });
        assert_eq!(l.apply(&ev("p_t", keepcaps.clone()), 2), Outcome::Used { changed: false });
        assert!(l.store.get("p_t").unwrap().bare_calls.contains_key("prctl(PR_SET_KEEPCAPS)"));
        assert_eq!(l.apply(&ev("q_t", keepcaps), 1), Outcome::Ignored);
        let mut l = learner(LearnOptions { all_connect: true, ..opts }, "");
        assert_eq!(l.apply(&ev("a_t", connect("b_t")), 1), Outcome::Ignored);
    }

    #[test]
    fn values_as_the_configuration_says() {
        let l = learner(LearnOptions::default(), "ability iofunc/read range\nability my/dyn type\n");
        let r = Some(Subrange::value(3));
        assert_eq!(l.value_of("setuid", r, None), ValueRef::Range(Subrange::value(3)));
        assert_eq!(l.value_of("iofunc/read", r, None), ValueRef::Range(Subrange::value(3)));
        assert_eq!(l.value_of("iofunc/write", r, None), ValueRef::None);
        assert_eq!(l.value_of("my/dyn", r, Some("a_t")), ValueRef::Type("a_t"));
        assert_eq!(l.value_of("settypeid", None, Some("a_t")), ValueRef::Type("a_t"));
        // Address-ranged static abilities: unranged unless the configuration says `range`.
        let addr = Subrange { lo: 146050510848, hi: 146050768735 };
        for a in ["prot_exec", "map_fixed", "prot_write_and_exec"] {
            assert_eq!(l.value_of(a, Some(addr), None), ValueRef::None, "{a}");
        }
        assert_eq!(l.value_of("mem_phys", Some(addr), None), ValueRef::Range(addr));
        let l = learner(LearnOptions::default(), "ability prot_exec range\n");
        assert_eq!(l.value_of("prot_exec", Some(addr), None), ValueRef::Range(addr));
        assert_eq!(l.value_of("map_fixed", Some(addr), None), ValueRef::None);
    }
}
