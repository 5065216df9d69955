//! What a type's own capability calls make of its policy, from the events to the rendered
//! `policy` (issue 6, seed 003): learning notes the calls, `output` grants what they raised
//! and `self_managed` marks what they manage. An integration test because it goes through
//! all three; the pieces of `self_managed` are unit-tested beside it.

use secpol::ability;
use secpol::config::Config;
use secpol::event::{
    CapAction, CapRequest, Domain as CallDomain, Event, EventKind, Process, Subrange, Verdict,
};
use secpol::policy::{self as model, Decision, Domain, Policy};
use secpolgenerate::base::{policy_allows_ability, BasePolicy};
use secpolgenerate::learn::{LearnOptions, Learner};
use secpolgenerate::output::render_policy;
use secpolgenerate::store::ValueRef;

fn learner(base: &str, config: &str) -> Learner<BasePolicy> {
    let base = BasePolicy::new(secpol::policy::parse(base, "base").unwrap());
    let opts = LearnOptions { unrestricted: true, ..Default::default() };
    Learner::new(base, opts, Config::parse("cfg", config).unwrap())
}

fn ev(t: &str, euid: u32, what: EventKind) -> Event {
    let process = Process {
        pid: 40,
        name: Some("usr/sbin/pps".into()),
        type_name: t.into(),
        uid: Some(euid),
        euid: Some(euid),
        start_ns: None,
    };
    Event { instance: 1, seq: 1, time_ns: 1_764_410_400_000_000_000, process, what }
}

fn call(name: &str, requests: Vec<CapRequest>) -> EventKind {
    EventKind::CapCall { call: name.into(), requests, verdict: Verdict::Allowed }
}

fn req(ability: &str, domain: CallDomain, actions: &[CapAction]) -> CapRequest {
    CapRequest { ability: ability.into(), domain, actions: actions.to_vec() }
}

fn used(name: &str, value: Option<u64>) -> EventKind {
    EventKind::Ability {
        ability: name.into(),
        range: value.map(Subrange::value),
        target_type: None,
        root: true,
        verdict: Verdict::Allowed,
        probe: false,
    }
}

/// What pps_like (tests/c/pps_like.c) does, as the tracer reports it: keep-caps, a
/// bounding-set drop for every capability but net_bind_service, the kernel's checks of
/// setpcap, setgid and setuid, then as nobody `cap_set_proc` keeping net_bind_service.
fn pps_events(t: &str) -> Vec<Event> {
    let mut events = vec![ev(t, 0, call("prctl(PR_SET_KEEPCAPS)", vec![]))];
    let others: Vec<&str> =
        ability::CAPABILITIES.iter().copied().filter(|c| *c != "net_bind_service").collect();
    for c in &others {
        events.push(ev(t, 0, used("setpcap", None)));
        let drop = req(c, CallDomain::All, &[CapAction::Drop, CapAction::Lock]);
        events.push(ev(t, 0, call("prctl(PR_CAPBSET_DROP)", vec![drop])));
    }
    events.push(ev(t, 0, used("setgid", Some(65534))));
    events.push(ev(t, 0, used("setuid", Some(65534))));
    let mut set = vec![req("net_bind_service", CallDomain::NonRoot, &[CapAction::Allow])];
    set.extend(others.iter().map(|c| req(c, CallDomain::NonRoot, &[CapAction::Deny])));
    events.push(ev(t, 65534, call("cap_set_proc", set)));
    events
}

/// What iopkt_like does as root: keep-caps, a capset that changes nothing, an ambient
/// raise of net_raw, securebits; and a capset that raises net_admin.
fn iopkt_events(t: &str) -> Vec<Event> {
    vec![
        ev(t, 0, call("prctl(PR_SET_KEEPCAPS)", vec![])),
        ev(t, 0, call("capset", vec![])),
        ev(t, 0, call("capset", vec![req("net_admin", CallDomain::All, &[CapAction::Allow])])),
        ev(
            t,
            0,
            call(
                "prctl(PR_CAP_AMBIENT_RAISE)",
                vec![req("net_raw", CallDomain::All, &[CapAction::Allow, CapAction::Inherit])],
            ),
        ),
        ev(t, 0, call("prctl(PR_SET_SECUREBITS)", vec![])),
    ]
}

fn learn(l: &mut Learner<BasePolicy>, events: &[Event]) -> (String, Policy) {
    for e in events {
        l.apply(e, 1);
    }
    let text = render_policy(l, 1);
    let p = secpol::policy::parse(&text, "generated")
        .unwrap_or_else(|e| panic!("the generated policy does not parse: {e}\n{text}"));
    (text, p)
}

fn grant<'p>(p: &'p Policy, t: &str, d: Domain, name: &str) -> Option<&'p model::AbilityGrant> {
    p.rules(t)?.abilities(d).get(name)
}

/// Regression (issue 6): pps_t was granted all 41 capabilities, each `unlock`.
#[test]
fn a_pps_like_type_gets_what_it_raised_and_used_not_what_it_gave_up() {
    let mut l = learner("", "");
    let events = pps_events("pps_t");
    let (text, p) = learn(&mut l, &events);
    let rules = p.rules("pps_t").unwrap();
    let root: Vec<&str> = rules.abilities(Domain::Root).keys().map(String::as_str).collect();
    let nonroot: Vec<&str> = rules.abilities(Domain::NonRoot).keys().map(String::as_str).collect();
    assert_eq!((root, nonroot), (vec!["setgid", "setpcap", "setuid"], vec!["net_bind_service"]), "{text}");
    for (d, name) in [(Domain::NonRoot, "net_bind_service"), (Domain::Root, "setuid")] {
        let g = grant(&p, "pps_t", d, name).unwrap();
        assert!(g.unlock && g.noinherit, "{name}: {text}");
    }
    let nbs = grant(&p, "pps_t", Domain::NonRoot, "net_bind_service").unwrap();
    assert_eq!(nbs.values, model::Values::Any);
    assert_eq!(nbs.comments.lines().last().map(String::as_str), Some("allow nonroot"));
    // A use keeps its value; the calls' words follow the learned comment.
    assert!(
        text.contains(
            "    # learned: usr/sbin/pps (pid 40) 2025-11-29T10:00:00Z\n    # deny nonroot\n    \
             # drop all lock\n    setuid:65534\n"
        ),
        "{text}"
    );
    // Everything else is said once, in a few lines, at the top of the first block.
    let head = "allow pps_t self:ability {\n    unlock\n    noinherit\n    # its own calls also, \
                naming no capability (so every capability of pps_t is unlock):\n    \
                #   prctl(PR_SET_KEEPCAPS)\n    # its own calls also gave up, not granted (that needs no privilege on Linux):\n    \
                #   deny nonroot, drop all lock: audit_control audit_read";
    assert!(text.contains(head), "{text}");
    let summary = text.lines().filter(|l| l.starts_with("    #   ")).count();
    assert!((3..=9).contains(&summary), "{summary} lines:\n{text}");
    assert!(text.contains(" sys_admin "), "{text}");
    assert!(grant(&p, "pps_t", Domain::Root, "sys_admin").is_none());
    assert_eq!(text.matches("drop all lock").count(), 1 + 3, "{text}");
    // Under its own policy every call it made is allowed, and nothing it gave up is granted.
    for e in &events {
        assert_eq!(p.check("pps_t", &e.what), Decision::Allowed, "{e:?}\n{text}");
    }
    let granted = |name: &str| policy_allows_ability(&p, "pps_t", true, name, ValueRef::None);
    assert!(!granted("sys_admin") && !granted("chown"));
}

#[test]
fn an_io_pkt_like_type_keeps_what_it_passes_on_inheritable() {
    let mut l = learner("", "");
    let events = iopkt_events("iopkt_t");
    let (text, p) = learn(&mut l, &events);
    let raw = grant(&p, "iopkt_t", Domain::NonRoot, "net_raw").unwrap();
    assert!(raw.unlock && !raw.noinherit, "{text}");
    assert_eq!(raw.comments.lines().last().map(String::as_str), Some("allow all inherit"));
    let admin = grant(&p, "iopkt_t", Domain::NonRoot, "net_admin").unwrap();
    assert!(admin.unlock && admin.noinherit, "{text}");
    assert!(grant(&p, "iopkt_t", Domain::Root, "net_raw").is_none(), "a nonroot grant serves root:\n{text}");
    assert!(
        text.contains(
            "    #   capset prctl(PR_SET_KEEPCAPS) prctl(PR_SET_SECUREBITS)\n    # allow all inherit\n"
        ),
        "{text}"
    );
    assert!(!text.contains("gave up"), "{text}");
    for e in &events {
        assert_eq!(p.check("iopkt_t", &e.what), Decision::Allowed, "{e:?}\n{text}");
    }
}

#[test]
fn calls_that_name_nothing_unlock_the_capabilities_the_type_uses() {
    let mut l = learner("", "");
    let keepcaps = call("prctl(PR_SET_KEEPCAPS)", vec![]);
    let events = [
        ev("k_t", 0, keepcaps.clone()),
        ev("k_t", 0, used("chown", None)),
        ev("k_t", 0, used("iofunc/read", None)),
        ev("quiet_t", 0, call("prctl(PR_SET_SECUREBITS)", vec![])),
    ];
    let (text, p) = learn(&mut l, &events);
    let chown = grant(&p, "k_t", Domain::Root, "chown").unwrap();
    assert!(chown.unlock && chown.noinherit, "{text}");
    assert_eq!(
        chown.comments.lines()[..2],
        [
            "its own calls also, naming no capability (so every capability of k_t is unlock):",
            "  prctl(PR_SET_KEEPCAPS)"
        ]
    );
    // Not a Linux capability: keep-caps has nothing to do with it.
    let dynamic = grant(&p, "k_t", Domain::Root, "iofunc/read").unwrap();
    assert!(!dynamic.unlock && !dynamic.noinherit, "{text}");
    // No ability at all: the comment goes above the type's declaration.
    assert!(
        text.contains("capability of quiet_t is unlock):\n#   prctl(PR_SET_SECUREBITS)\ntype quiet_t;\n"),
        "{text}"
    );
    assert!(p.rules("quiet_t").is_none_or(|r| r.is_empty()), "{text}");
}

#[test]
fn base_grants_the_calls_touch_are_unlocked_and_not_repeated_in_the_summary() {
    let base = "type b_t;\nallow b_t self:ability { sys_nice kill };\n";
    let mut l = learner(base, "");
    let drop = |c: &str| req(c, CallDomain::Root, &[CapAction::Deny]);
    let events = [ev("b_t", 0, call("capset", vec![drop("sys_nice"), drop("net_raw")]))];
    let (text, p) = learn(&mut l, &events);
    let nice = grant(&p, "b_t", Domain::Root, "sys_nice").unwrap();
    assert!(
        nice.unlock && nice.noinherit && nice.comments.lines().contains(&"deny root".to_string()),
        "{text}"
    );
    let kill = grant(&p, "b_t", Domain::Root, "kill").unwrap();
    assert!(!kill.unlock && !kill.noinherit, "{text}");
    assert!(text.contains("#   deny root: net_raw\n"), "{text}");
    assert!(!text.contains("deny root: net_raw sys_nice"), "{text}");
    assert!(grant(&p, "b_t", Domain::Root, "net_raw").is_none());
}

#[test]
fn no_procmgr_ability_and_configured_unlock_keep_working() {
    let mut l = learner("", "type n_t no_procmgr_ability\ntype u_t unlock:net_raw\n");
    let mut events = pps_events("n_t");
    events.push(ev("n_t", 0, used("chown", None)));
    let (text, p) = learn(&mut l, &events);
    let rules = p.rules("n_t").unwrap();
    let own: Vec<&model::AbilityGrant> =
        [Domain::Root, Domain::NonRoot].into_iter().flat_map(|d| rules.abilities(d).values()).collect();
    assert!(own.len() >= 3 && own.iter().all(|g| !g.unlock && !g.noinherit), "{text}");
    assert!(grant(&p, "n_t", Domain::NonRoot, "net_bind_service").is_none(), "{text}");
    assert!(!text.contains("its own calls"), "{text}");
    let raw = grant(&p, "u_t", Domain::Root, "net_raw").unwrap();
    assert!(raw.unlock && raw.noinherit && raw.comments.lines() == ["unlock: configured"], "{text}");
}
