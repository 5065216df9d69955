//! The generator's outputs, rendered from the learner: `policy`, `unused`, `errors`, `protect`.
//!
//! - `policy`: the base policy (none with `-N`) merged with everything learned, in the
//!   policy model's canonical layout. Each learned rule carries a comment naming the process
//!   that first needed it and when (`learned: usr/bin/touch (pid 2949147) 2026-11-29T10:00:00Z`).
//!   A type's own capability calls grant what they raised and make what they manage `unlock`
//!   and `noinherit`, with comments saying what they did ([`crate::self_managed`]);
//!   `type T unlock:LIST` grants `unlock noinherit` with the comment `unlock: configured`.
//!   The header says the policy id (0 with `-T zero_id`, which enforcement treats as no policy).
//! - `unused`: the base rules no event exercised (a rule used for some values keeps the others).
//! - `errors`: the newest `-L` failures, newest first, each as the rule that would allow it,
//!   under a comment with the type, the first failing process, the count and the first and
//!   last time.
//! - `protect`: the abilities the configuration marks `protect`, one a line, for the preload.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use secpol::event::Subrange;
use secpol::policy::{self as model, ConnectTarget, Domain, Policy};

use crate::base::{Base as _, BasePolicy};
use secpol::config::Mode;
use secpol::preload_proto::ProtectLine;

use crate::learn::{Learner, TypeMode};
use crate::store::{sorted, Failure, Need, Origin, Value, ValueRef, Values};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Most failures in `errors`.
    pub max_logs: usize,
    /// Policy id in the header (1, or 0 with `-T zero_id`).
    pub policy_id: u32,
}

/// The texts of the outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// `policy`.
    pub policy: String,
    /// `unused`.
    pub unused: String,
    /// `errors`.
    pub errors: String,
    /// `protect`.
    pub protect: String,
}

/// `2026-11-29T10:00:00Z` (UTC, seconds).
pub fn time_text(ns: u64) -> String {
    secpol::qnxlog::utc_seconds(ns)
}

fn learned_comment(o: &Origin) -> String {
    let mut c = format!("learned: {} (pid {}) {}", o.process, o.pid, time_text(o.time_ns));
    if let Some(h) = o.host() {
        let n = o.hosts().len().max(1);
        c.push_str(&format!(" on {h} ({n} host{})", if n == 1 { "" } else { "s" }));
    }
    c
}

fn domain(root: bool) -> Domain {
    if root {
        Domain::Root
    } else {
        Domain::NonRoot
    }
}

/// The model values of one stored value (`None`: any value).
fn model_value(v: &Value) -> Option<model::Value> {
    match v {
        Value::None => None,
        Value::Range(r) => Some(model::Value::Range(*r)),
        Value::Type(t) => Some(model::Value::Type(t.clone())),
    }
}

/// The values to grant: any value if one use had none, else every range and type name.
fn each_value(values: &Values) -> Vec<Value> {
    if values.all {
        return vec![Value::None];
    }
    values.pieces().map(ValueRef::to_value).collect()
}

/// The target of `subject`'s connections to channels of `channel_type`.
fn connect_target(subject: &str, channel_type: &str) -> ConnectTarget {
    if channel_type == subject {
        ConnectTarget::SelfType
    } else {
        ConnectTarget::Type(channel_type.to_string())
    }
}

/// Grants `name` over `value`; a value the ability cannot take widens to any value.
fn grant<'p>(
    p: &'p mut Policy,
    subject: &str,
    name: &str,
    d: Domain,
    value: &Value,
) -> Result<&'p mut model::AbilityGrant, model::ModelError> {
    let value = model_value(value);
    let fits = match &value {
        None => false,
        Some(_) => match p.add_ability(subject, name, d, value.clone()) {
            Ok(_) => true,
            Err(model::ModelError::BadValue { .. } | model::ModelError::MixedValues { .. }) => false,
            Err(e) => return Err(e),
        },
    };
    // Adding again is idempotent and hands back the grant.
    p.add_ability(subject, name, d, if fits { value } else { None })
}

/// Renders every output.
pub fn render(learner: &Learner<BasePolicy>, opts: &RenderOptions) -> Rendered {
    Rendered {
        policy: render_policy(learner, opts.policy_id),
        unused: render_unused(learner),
        errors: render_errors(learner, opts.max_logs),
        protect: render_protect(learner),
    }
}

fn note(problems: &mut Vec<String>, t: &str, what: &str, e: &model::ModelError) {
    problems.push(format!("cannot express {what} of {t}: {e}"));
}

/// The learned part of the policy (without the base).
pub fn learned_policy(learner: &Learner<BasePolicy>, problems: &mut Vec<String>) -> Policy {
    let base = learner.base();
    let mut p = Policy::new();
    let mut admitted: Vec<&String> = learner.admitted().iter().collect();
    admitted.sort();
    for t in admitted {
        if let Err(e) = p.add_type(t) {
            note(problems, t, "the type", &e);
        }
    }
    for (t, rec) in learner.store.types_sorted() {
        for root in [true, false] {
            for (name, u) in sorted(rec.abilities(root)) {
                for v in each_value(&u.values) {
                    let fresh = !base.allows_ability(t, root, name, v.borrowed());
                    match grant(&mut p, t, name, domain(root), &v) {
                        Ok(g) if fresh => g.comments.push(&learned_comment(&u.origin)),
                        Ok(_) => {}
                        Err(e) => note(problems, t, &format!("ability {name}"), &e),
                    }
                }
            }
        }
        // What the type's own calls raised; `self_managed::mark` adds the keywords and
        // comments once the base is merged in.
        for (name, n) in sorted(&rec.cap_calls) {
            let e = n.effect();
            for (on, d) in [(e.raised_root, Domain::Root), (e.raised_nonroot, Domain::NonRoot)] {
                if on {
                    if let Err(e) = grant(&mut p, t, name, d, &Value::None) {
                        note(problems, t, &format!("ability {name}"), &e);
                    }
                }
            }
        }
        for (ch, o) in sorted(&rec.connect) {
            let target = connect_target(t, ch);
            let fresh = !base.allows_connect(t, ch);
            match p.add_connect(t, target) {
                Ok(c) if fresh => c.push(&learned_comment(o)),
                Ok(_) => {}
                Err(e) => note(problems, t, &format!("connect to {ch}"), &e),
            }
        }
        for (kind, map) in [("attach", &rec.attach), ("link", &rec.link)] {
            for (path, o) in sorted(map) {
                let in_base =
                    if kind == "attach" { base.allows_attach(t, path) } else { base.allows_link(t, path) };
                if in_base {
                    continue;
                }
                let r = if kind == "attach" { p.add_attach(t, path) } else { p.add_link(t, path) };
                match r {
                    Ok(c) => c.push(&learned_comment(o)),
                    Err(e) => note(problems, t, &format!("{kind} {path:?}"), &e),
                }
            }
        }
    }
    for (t, o) in &learner.config().types {
        for name in &o.unlock {
            match grant(&mut p, t, name, Domain::Root, &Value::None) {
                Ok(g) => {
                    g.unlock = true;
                    g.noinherit = true;
                    g.comments.push("unlock: configured");
                }
                Err(e) => note(problems, t, &format!("unlock:{name}"), &e),
            }
        }
    }
    p
}

/// The `policy` text.
pub fn render_policy(learner: &Learner<BasePolicy>, policy_id: u32) -> String {
    let mut problems = Vec::new();
    let learned = learned_policy(learner, &mut problems);
    let mut p = learner.base().policy().clone();
    p.header = model::Comments::new();
    p.header.push("Generated by secpolgenerate: the base policy plus what was learned.");
    if policy_id == 0 {
        p.header.push("policy id: 0 (zero_id: enforcement treats this policy as no policy)");
    } else {
        p.header.push(&format!("policy id: {policy_id}"));
    }
    if let Err(e) = p.merge(&learned) {
        problems.push(format!("cannot merge what was learned into the base policy: {e}"));
    }
    crate::self_managed::mark(&mut p, &learner.store);
    for pr in problems {
        p.trailing.push(&pr);
    }
    p.to_text()
}

/// The uses of the store in the base policy's terms: a path use stands for the base
/// patterns it matched, and every use also counts for the attributes of its type.
fn used_in_base_terms(learner: &Learner<BasePolicy>) -> Policy {
    let base = learner.base().policy();
    let mut used = Policy::new();
    let empty = Default::default();
    for (t, rec) in learner.store.types_sorted() {
        let mut subjects = vec![t.to_string()];
        if let Some(decl) = base.types().get(t) {
            subjects.extend(decl.attributes.iter().cloned());
        }
        for s in &subjects {
            let theirs = base.rules(s).unwrap_or(&empty);
            for root in [true, false] {
                for (name, u) in rec.abilities(root) {
                    // A root use exercises a non-root grant when there is no root one.
                    let d = if root && !theirs.abilities(Domain::Root).contains_key(&**name) {
                        Domain::NonRoot
                    } else {
                        domain(root)
                    };
                    for v in each_value(&u.values) {
                        let _ = grant(&mut used, s, name, d, &v);
                    }
                }
            }
            for ch in rec.connect.keys() {
                let target = connect_target(s, ch);
                let _ = used.add_connect(s, target);
            }
            for path in rec.attach.keys() {
                for pat in theirs.attaches().keys().filter(|p| p.matches(path)) {
                    let _ = used.add_attach(s, pat.as_str());
                }
            }
            for path in rec.link.keys() {
                for pat in theirs.links().keys().filter(|p| p.matches(path)) {
                    let _ = used.add_link(s, pat.as_str());
                }
            }
        }
    }
    used
}

/// The `unused` text.
pub fn render_unused(learner: &Learner<BasePolicy>) -> String {
    let mut unused = learner.base().policy().difference(&used_in_base_terms(learner));
    unused.header = model::Comments::new();
    unused.header.push("Rules of the base policy that no event has exercised.");
    unused.trailing = model::Comments::new();
    unused.to_text()
}

/// The rule that would allow `need` for `type_name`, as policy text (without declarations).
pub fn need_rule(type_name: &str, need: &Need) -> Result<String, model::ModelError> {
    let mut p = Policy::new();
    match need {
        Need::Ability { root, name, value } => {
            grant(&mut p, type_name, name, domain(*root), value)?;
        }
        Need::Attach(path) => {
            p.add_attach(type_name, path)?;
        }
        Need::Link(path) => {
            p.add_link(type_name, path)?;
        }
        Need::Connect(ch) => {
            p.add_connect(type_name, connect_target(type_name, ch))?;
        }
    }
    let text = p.to_text();
    // Only the rule: the declarations the model adds so the text parses on its own go.
    let rule: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("type ") && !l.starts_with("ability "))
        .collect();
    Ok(rule.join("\n"))
}

fn describe_need(need: &Need) -> String {
    match need {
        Need::Ability { root, name, value } => {
            let v = match value {
                Value::None => String::new(),
                Value::Range(Subrange { lo, hi }) if lo == hi => format!("({lo})"),
                Value::Range(Subrange { lo, hi }) => format!("({lo} - {hi})"),
                Value::Type(t) => format!(" ({t})"),
            };
            let d = if *root { "root" } else { "non-root" };
            format!("lacks ability {}{v} as {d}", secpol::ability::display(name))
        }
        Need::Attach(p) => format!("failed to attach to path {p}"),
        Need::Link(p) => format!("failed to create link to path {p}"),
        Need::Connect(ch) => format!("failed to connect to a channel of type {ch}"),
    }
}

/// The `errors` text: the newest `max_logs` failures.
pub fn render_errors(learner: &Learner<BasePolicy>, max_logs: usize) -> String {
    let mut all: Vec<(&str, &Need, &Failure)> = Vec::new();
    for (t, rec) in learner.store.types_sorted() {
        all.extend(rec.failures.iter().map(|(n, f)| (t, n, f)));
    }
    let total = all.len();
    all.sort_unstable_by(|a, b| b.2.last_ns.cmp(&a.2.last_ns).then(a.0.cmp(b.0)).then(a.1.cmp(b.1)));
    all.truncate(max_logs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Failures, newest first, as the rules that would allow them: {} of {total} (-L {max_logs}).",
        all.len()
    );
    for (t, need, f) in all {
        let times = if f.count == 1 { "1 time".to_string() } else { format!("{} times", f.count) };
        let _ = writeln!(
            out,
            "\n# {} (pid {}) of type {t} {}: {times}, first {}, last {}",
            f.first.process,
            f.first.pid,
            describe_need(need),
            time_text(f.first.time_ns),
            time_text(f.last_ns)
        );
        match need_rule(t, need) {
            Ok(rule) => {
                let _ = writeln!(out, "{rule}");
            }
            Err(e) => {
                let _ = writeln!(out, "# (no rule can express this: {e})");
            }
        }
    }
    out
}

/// The protect file (format of `secpol::preload_proto`): one line per type that runs
/// unrestricted with the capability numbers marked `protect`, `*` for every type without a
/// line of its own, and an empty line for each restricted type (nothing protected).
pub fn render_protect(learner: &Learner<BasePolicy>) -> String {
    let caps = learner
        .config()
        .protected()
        .iter()
        .filter_map(|a| secpol::ability::capability_number(a))
        .fold(0u64, |m, n| m | 1 << n);
    let names = learner.config().protected().join(" ");
    let mut out =
        String::from("# TYPE CAPABILITY-NUMBER... (written by secpolgenerate from `ability NAME protect`)\n");
    let line = |t: &str, unrestricted: bool| {
        let l = ProtectLine { type_name: t, caps: if unrestricted { caps } else { 0 } }.to_string();
        if unrestricted && caps != 0 {
            format!("{l:<24} # {names}\n")
        } else if unrestricted {
            format!("{l}\n")
        } else {
            format!("{l:<24} # restricted: nothing protected\n")
        }
    };
    out.push_str(&line("*", learner.default_mode() == Mode::Unrestricted));
    let mut types: BTreeMap<&str, bool> = BTreeMap::new();
    for t in learner.base().policy().types().keys() {
        let configured = learner.config().type_options(t).and_then(|o| o.mode);
        types.insert(t, configured.unwrap_or(learner.default_mode()) == Mode::Unrestricted);
    }
    for (t, o) in &learner.config().types {
        if let Some(m) = o.mode {
            types.insert(t, m == Mode::Unrestricted);
        }
    }
    for (t, m) in learner.modes() {
        types.insert(t, m == TypeMode::Unrestricted);
    }
    for (t, unrestricted) in types {
        out.push_str(&line(t, unrestricted));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_seconds() {
        assert_eq!(time_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(time_text(1_764_410_400_123_456_000), "2025-11-29T10:00:00Z");
        assert_eq!(time_text(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
    }
}
