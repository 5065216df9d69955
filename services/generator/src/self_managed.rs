//! What a type's own capability calls mean for its policy (issue 6, seed 003).
//!
//! On QNX a `procmgr_ability()` call fails when it so much as mentions a locked ability, so
//! QNX's secpolgenerate leaves every ability such a call names allowed and unlocked. On Linux
//! only a request that *raises* something can fail when the launcher withheld it: `allow`
//! (into the permitted or effective set) and `inherit` (inheritable or ambient). Giving a
//! capability up (`deny`, `drop`, `lock`, `noinherit`) always succeeds, held or not
//! (`PR_CAPBSET_DROP` needs `setpcap`, which the kernel tracer sees and learns as a use).
//! So, for a type whose calls were reported:
//!
//! - a capability a call raised is granted ([`CapNote::effect`]): in the root block for a
//!   request about root, in the `nonroot` block for one about non-root or both (a `nonroot`
//!   grant serves root too), over any value ([`crate::output::learned_policy`]);
//! - [`mark`], on the merged policy: the type's own grants of every ability its calls
//!   named, and of every Linux capability when a call named none (`PR_SET_KEEPCAPS` and
//!   `PR_SET_SECUREBITS` act on all the process holds), are `unlock`, and `noinherit`
//!   unless a call passed the ability on; each carries what the calls did with it
//!   (`# allow nonroot`, `# drop all lock`);
//! - what the calls gave up that is not granted is said once, grouped by what was done,
//!   together with the calls that named nothing, at the top of the type's first `unlock`
//!   block (else of its first ability rule, else above its `type` line).

use std::collections::BTreeMap;

use secpol::ability;
use secpol::policy::{self as model, Domain, Policy, SubjectRules};

use crate::base::policy_allows_ability;
use crate::store::{Store, TypeRecord, ValueRef};

/// Longest comment text of the summary (the printer adds `# ` and the block's indent).
const WIDTH: usize = 92;

/// Marks, in `p` (the base merged with what was learned), what the own capability calls
/// of each type in `store` manage, and sums up what they gave up.
pub fn mark(p: &mut Policy, store: &Store) {
    for (t, rec) in store.types_sorted() {
        if rec.self_managed() {
            mark_type(p, t, rec);
        }
    }
}

fn mark_type(p: &mut Policy, t: &str, rec: &TypeRecord) {
    let every_capability = !rec.bare_calls.is_empty();
    let own: Vec<(Domain, String)> = p.rules(t).map_or_else(Vec::new, |r| {
        [Domain::Root, Domain::NonRoot]
            .into_iter()
            .flat_map(|d| r.abilities(d).keys().map(move |n| (d, n.clone())))
            .collect()
    });
    for (d, name) in own {
        let note = rec.cap_calls.get(&name);
        if note.is_none() && !(every_capability && ability::capability_number(&name).is_some()) {
            continue;
        }
        let inherited = note.is_some_and(|n| n.effect().inherited);
        let Some(g) = p.grant_mut(t, &name, d) else { continue };
        g.unlock = true;
        g.noinherit |= !inherited;
        for a in note.iter().flat_map(|n| &n.actions) {
            g.comments.push(a);
        }
    }
    let lines = summary(p, t, rec);
    place(p, t, &lines);
}

/// Whether `p` grants `name` to `t` (or one of its attributes) in any domain.
fn granted(p: &Policy, t: &str, name: &str) -> bool {
    // A root check passes on a root or a `nonroot` grant.
    policy_allows_ability(p, t, true, name, ValueRef::None)
}

/// The comment lines that sum up the calls of `t` that no grant shows.
fn summary(p: &Policy, t: &str, rec: &TypeRecord) -> Vec<String> {
    let mut lines = Vec::new();
    if !rec.bare_calls.is_empty() {
        let mut calls: Vec<&str> = rec.bare_calls.keys().map(String::as_str).collect();
        calls.sort_unstable();
        lines.push(format!(
            "its own calls also, naming no capability (so every capability of {t} is unlock):"
        ));
        wrap(&mut lines, "  ", &calls);
    }
    let mut given_up: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, n) in &rec.cap_calls {
        // A raised ability that could not be granted is reported as a problem instead.
        if n.raised() || granted(p, t, name) {
            continue;
        }
        let what = if n.actions.is_empty() {
            "named".to_string()
        } else {
            n.actions.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        };
        given_up.entry(what).or_default().push(name);
    }
    if !given_up.is_empty() {
        lines.push("its own calls also gave up, not granted (that needs no privilege on Linux):".to_string());
        for (what, mut names) in given_up {
            names.sort_unstable();
            wrap(&mut lines, &format!("  {what}:"), &names);
        }
    }
    lines
}

/// `head` and then `words`, as lines of at most [`WIDTH`] characters (continuation lines
/// indented under the head; a word longer than that gets a line of its own).
fn wrap(lines: &mut Vec<String>, head: &str, words: &[&str]) {
    let mut line = head.to_string();
    let mut has_word = false;
    for w in words {
        let sep = if line.ends_with(' ') { "" } else { " " };
        if has_word && line.len() + sep.len() + w.len() > WIDTH {
            lines.push(std::mem::replace(&mut line, format!("    {w}")));
        } else {
            line.push_str(sep);
            line.push_str(w);
        }
        has_word = true;
    }
    lines.push(line);
}

/// The ability the printer writes first for a subject, among its `unlock` ones when
/// `unlocked` (`secpol::policy`'s canonical layout: root before `nonroot`, locked before
/// `unlock`, inherited before `noinherit`, then by name).
fn first_printed(rules: &SubjectRules, unlocked: bool) -> Option<(Domain, String)> {
    [Domain::Root, Domain::NonRoot].into_iter().find_map(|d| {
        rules
            .abilities(d)
            .iter()
            .filter(|(_, g)| g.unlock || !unlocked)
            .min_by_key(|(name, g)| (g.unlock, g.noinherit, name.as_str()))
            .map(|(name, _)| (d, name.clone()))
    })
}

/// Puts `lines` before everything else at the top of `t`'s first `unlock` ability block
/// (where the self-management shows), else of its first ability rule, else above its
/// `type` line.
fn place(p: &mut Policy, t: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let at = p.rules(t).and_then(|r| first_printed(r, true).or_else(|| first_printed(r, false)));
    if let Some((d, name)) = at {
        if let Some(g) = p.grant_mut(t, &name, d) {
            let mut c = model::Comments::new();
            for l in lines {
                c.push(l);
            }
            c.extend_from(&g.comments);
            g.comments = c;
            return;
        }
    }
    if let Ok(decl) = p.add_type(t) {
        for l in lines {
            decl.comments.push(l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::BasePolicy;
    use crate::learn::{LearnOptions, Learner};
    use crate::output::render_policy;
    use secpol::config::Config;
    use secpol::event::{
        CapAction, CapRequest, Domain as CallDomain, Event, EventKind, Process, Subrange, Verdict,
    };
    use secpol::policy::Decision;

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
        assert_eq!(
            (root, nonroot),
            (vec!["setgid", "setpcap", "setuid"], vec!["net_bind_service"]),
            "{text}"
        );
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
        assert!(!granted(&p, "pps_t", "sys_admin") && !granted(&p, "pps_t", "chown"));
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
        assert!(
            grant(&p, "iopkt_t", Domain::Root, "net_raw").is_none(),
            "a nonroot grant serves root:\n{text}"
        );
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

    #[test]
    fn long_lists_wrap_under_their_head() {
        let mut lines = Vec::new();
        let names: Vec<String> = (0..30).map(|i| format!("capability{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        wrap(&mut lines, "  deny nonroot, drop all lock:", &refs);
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines.iter().all(|l| l.len() <= WIDTH), "{lines:?}");
        assert!(lines[0].starts_with("  deny nonroot, drop all lock: capability00 capability01"));
        assert!(lines[1..].iter().all(|l| l.starts_with("    capability")), "{lines:?}");
        assert_eq!(lines.join(" ").split_whitespace().filter(|w| w.starts_with("capability")).count(), 30);
        let mut one = Vec::new();
        wrap(&mut one, "  drop all lock:", &["sys_boot"]);
        wrap(&mut one, "  ", &["prctl(PR_SET_KEEPCAPS)", "capset"]);
        assert_eq!(one, ["  drop all lock: sys_boot", "  prctl(PR_SET_KEEPCAPS) capset"]);
    }

    #[test]
    fn the_first_printed_rule_follows_the_canonical_layout() {
        let p = secpol::policy::parse(
            "type a_t;\nallow a_t self:ability { nonroot chown };\n\
             allow a_t self:ability { unlock setuid };\nallow a_t self:ability { unlock noinherit kill };\n\
             allow a_t self:ability { noinherit setgid };\n",
            "t",
        )
        .unwrap();
        let rules = p.rules("a_t").unwrap();
        assert_eq!(first_printed(rules, false), Some((Domain::Root, "setgid".into())));
        assert_eq!(first_printed(rules, true), Some((Domain::Root, "setuid".into())));
        // The printer agrees.
        let text = p.to_text();
        let at = |name: &str| text.find(&format!("    {name}\n")).unwrap_or(usize::MAX);
        let printed_first = ["chown", "setuid", "kill", "setgid"].into_iter().min_by_key(|n| at(n));
        assert_eq!(printed_first, Some("setgid"), "{text}");
    }
}
