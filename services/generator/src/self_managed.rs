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
//! - a capability a call raised is granted ([`CapNote::effect`](crate::store::CapNote::effect)): in the root block for a
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
