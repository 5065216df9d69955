//! Statements to model: the semantic checks `secpolcompile` makes.
//!
//! Declarations are collected first, so a rule may name a type declared further down.
//! Then every rule is checked (declared subjects and types, known abilities, values the
//! ability takes, ranges in order, valid paths) and added to the [`Policy`].

use std::collections::{BTreeSet, HashMap};

use crate::ability::{self, ValueKind};
use crate::event::Subrange;

use super::diag::{Diagnostic, Pos, Severity};
use super::model::{
    check_ability_name, check_type_name, check_value_kind, ConnectTarget, Domain, Policy, Values, SELF,
};
use super::pattern::Pattern;
use super::syntax::{Name, RawValue, Stmt, Syntax};

struct Builder<'s> {
    policy: Policy,
    diags: Vec<Diagnostic>,
    comments: &'s [Vec<&'s str>],
    declared_at: HashMap<String, (Pos, &'static str)>,
}

/// Builds the policy; errors and warnings go to the returned list.
pub(crate) fn build(syntax: &Syntax<'_>) -> (Policy, Vec<Diagnostic>) {
    let mut b = Builder {
        policy: Policy::new(),
        diags: Vec::new(),
        comments: &syntax.comments,
        declared_at: HashMap::new(),
    };
    for line in &syntax.header {
        b.policy.header.push_parsed(line);
    }
    for line in &syntax.trailing {
        b.policy.trailing.push_parsed(line);
    }
    for stmt in &syntax.stmts {
        b.declaration(stmt);
    }
    for stmt in &syntax.stmts {
        b.rule(stmt);
    }
    (b.policy, b.diags)
}

impl<'s> Builder<'s> {
    fn error(&mut self, pos: Pos, message: String) {
        self.diags.push(Diagnostic { severity: Severity::Error, pos, message });
    }

    /// The comment lines of item `cid` (borrowed from the parse, not from `self`).
    fn note(&self, cid: usize) -> &'s [&'s str] {
        let all: &'s [Vec<&'s str>] = self.comments;
        all.get(cid).map_or(&[], Vec::as_slice)
    }

    /// Records a declaration; reports a second one of the same name.
    fn first_declaration(&mut self, name: &Name<'_>, what: &'static str) -> bool {
        if let Err(e) = check_type_name(what, name.text) {
            self.error(name.pos, e.to_string());
            return false;
        }
        if let Some((pos, kind)) = self.declared_at.get(name.text) {
            let msg =
                format!("{what} `{}` is already declared as {kind} at {}:{}", name.text, pos.line, pos.col);
            self.error(name.pos, msg);
            return false;
        }
        self.declared_at.insert(
            name.text.to_string(),
            (name.pos, if what == "type" { "a type" } else { "an attribute" }),
        );
        true
    }

    fn declaration(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Type { name, cid, .. } if self.first_declaration(name, "type") => {
                let lines = self.note(*cid);
                let decl = self.policy.types.entry(name.text.to_string()).or_default();
                for l in lines {
                    decl.comments.push_parsed(l);
                }
            }
            Stmt::Attribute { name, cid } if self.first_declaration(name, "attribute") => {
                let lines = self.note(*cid);
                let c = self.policy.attributes.entry(name.text.to_string()).or_default();
                for l in lines {
                    c.push_parsed(l);
                }
            }
            Stmt::Ability { name, cid } => {
                let canon = ability::normalize(name.text);
                if self.policy.abilities.contains_key(&canon) {
                    self.error(name.pos, format!("ability `{}` is already declared", name.text));
                    return;
                }
                let lines = self.note(*cid);
                match self.policy.declare_ability(name.text) {
                    Ok(c) => {
                        for l in lines {
                            c.push_parsed(l);
                        }
                    }
                    Err(e) => self.error(name.pos, e.to_string()),
                }
            }
            _ => {}
        }
    }

    /// Checks that `name` is a declared type or attribute.
    fn subject(&mut self, name: &Name<'_>) -> bool {
        if self.policy.is_subject(name.text) {
            return true;
        }
        if let Err(e) = check_type_name("type", name.text) {
            self.error(name.pos, e.to_string());
        } else {
            self.error(
                name.pos,
                format!("undeclared type `{}` (declare it with `type {};`)", name.text, name.text),
            );
        }
        false
    }

    fn rule(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Type { name, attrs, .. } => {
                let mut set = BTreeSet::new();
                for a in attrs {
                    if self.policy.attributes.contains_key(a.text) {
                        set.insert(a.text.to_string());
                    } else if self.policy.types.contains_key(a.text) {
                        self.error(a.pos, format!("`{}` is a type, not an attribute", a.text));
                    } else {
                        self.error(
                            a.pos,
                            format!(
                                "undeclared attribute `{}` (declare it with `attribute {};`)",
                                a.text, a.text
                            ),
                        );
                    }
                }
                if let Some(decl) = self.policy.types.get_mut(name.text) {
                    decl.attributes.extend(set);
                }
            }
            Stmt::Attribute { .. } | Stmt::Ability { .. } => {}
            Stmt::AllowAbility { subjects, nonroot, unlock, noinherit, items } => {
                let subjects: Vec<&Name<'_>> = subjects.iter().filter(|s| self.subject(s)).collect();
                let domain = if *nonroot { Domain::NonRoot } else { Domain::Root };
                let checked: Vec<_> = items
                    .iter()
                    .filter_map(|item| {
                        let (name, values) = self.ability_values(&item.name, &item.values)?;
                        Some((name, values, item.name.pos, self.note(item.cid)))
                    })
                    .collect();
                for s in &subjects {
                    let rules = self.policy.subject_rules_mut(s.text);
                    let mut mixed = Vec::new();
                    for (name, values, pos, lines) in &checked {
                        let Some(g) = rules.grant(name, domain, values.clone()) else {
                            mixed.push((
                                *pos,
                                format!("ability `{name}` of `{}` mixes numbers and types", s.text),
                            ));
                            continue;
                        };
                        g.unlock |= *unlock;
                        g.noinherit |= *noinherit;
                        for l in *lines {
                            g.comments.push_parsed(l);
                        }
                    }
                    for (pos, msg) in mixed {
                        self.error(pos, msg);
                    }
                }
            }
            Stmt::AllowConnect { subjects, objects, cid } => {
                let subjects: Vec<&Name<'_>> = subjects.iter().filter(|s| self.subject(s)).collect();
                let mut targets = Vec::new();
                for o in objects {
                    if o.text.eq_ignore_ascii_case(SELF) {
                        targets.push(ConnectTarget::SelfType);
                    } else if self.subject(o) {
                        targets.push(ConnectTarget::Type(o.text.to_string()));
                    }
                }
                let lines = self.note(*cid);
                for s in subjects {
                    for t in &targets {
                        let c = self.policy.insert_connect(s.text, t.clone());
                        for l in lines {
                            c.push_parsed(l);
                        }
                    }
                }
            }
            Stmt::PathRule { link, subject, paths } => {
                let ok = self.subject(subject);
                for (path, cid) in paths {
                    match Pattern::parse(path.text) {
                        Ok(p) if ok => {
                            let lines = self.note(*cid);
                            if !self.policy.rules.contains_key(subject.text) {
                                self.policy.rules.insert(subject.text.to_string(), Default::default());
                            }
                            let rules = self.policy.rules.get_mut(subject.text).expect("inserted above");
                            let map = if *link { &mut rules.link } else { &mut rules.attach };
                            let c = map.entry(p).or_default();
                            for l in lines {
                                c.push_parsed(l);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => self.error(path.pos, e.to_string()),
                    }
                }
            }
            Stmt::Derive { parent, program, derived, cid } => {
                let mut ok = true;
                for t in [parent, derived] {
                    if !self.policy.has_type(t.text) {
                        ok = false;
                        if self.policy.attributes.contains_key(t.text) {
                            self.error(
                                t.pos,
                                format!("`{}` is an attribute; derive_type needs types", t.text),
                            );
                        } else {
                            self.subject(t);
                        }
                    }
                }
                if ok {
                    let lines = self.note(*cid);
                    match self.policy.insert_derivation(parent.text, program.text, derived.text) {
                        Ok(c) => {
                            for l in lines {
                                c.push_parsed(l);
                            }
                        }
                        Err(e) => self.error(derived.pos, e.to_string()),
                    }
                }
            }
        }
    }

    /// The canonical ability name and its values, or `None` after reporting errors.
    fn ability_values(&mut self, name: &Name<'_>, raw: &[(RawValue<'_>, Pos)]) -> Option<(String, Values)> {
        let canon = ability::normalize(name.text);
        if check_ability_name(&canon).is_err() {
            self.error(name.pos, format!("invalid ability name `{}`", name.text));
            return None;
        }
        let declared = self.policy.abilities.contains_key(&canon);
        if !ability::is_static(&canon) && !ability::is_dynamic(&canon) && !declared {
            self.error(
                name.pos,
                format!(
                    "unknown ability `{}` (not a Linux capability or QNX ability; declare a custom one with `ability {};`)",
                    name.text, name.text
                ),
            );
            return None;
        }
        if raw.is_empty() {
            return Some((canon, Values::Any));
        }
        let kind = self.policy.value_kind(&canon);
        let mut numbers = Vec::new();
        let mut types = BTreeSet::new();
        let mut ok = true;
        for (v, pos) in raw {
            let is_type = matches!(v, RawValue::Name(_));
            if let Err(e) = check_value_kind(&canon, kind, is_type) {
                let shown = match v {
                    RawValue::Name(n) => format!("`{n}`"),
                    RawValue::Range(..) => "a number".to_string(),
                };
                self.error(*pos, format!("{e}: found {shown}"));
                ok = false;
                if kind == ValueKind::Nothing {
                    break;
                }
                continue;
            }
            match *v {
                RawValue::Range(lo, hi) => {
                    if lo > hi {
                        self.error(*pos, format!("range start {lo} is above its end {hi}"));
                        ok = false;
                    } else {
                        numbers.push(Subrange { lo, hi });
                    }
                }
                RawValue::Name(t) => {
                    if self.policy.is_subject(t) {
                        types.insert(t.to_string());
                    } else {
                        self.error(*pos, format!("undeclared type `{t}` in the values of `{}`", name.text));
                        ok = false;
                    }
                }
            }
        }
        if !numbers.is_empty() && !types.is_empty() {
            self.error(name.pos, format!("ability `{}` mixes numbers and type names", name.text));
            return None;
        }
        if !ok {
            return None;
        }
        Some((
            canon,
            if types.is_empty() {
                Values::Numbers(numbers.into_iter().collect())
            } else {
                Values::Types(types)
            },
        ))
    }
}
