//! The canonical text of a policy.
//!
//! One layout, so that a policy is reviewed and diffed as text and printing is stable:
//!
//! 1. the header comment, then a blank line;
//! 2. `attribute`, `ability` and `type` declarations, each group sorted by name;
//! 3. per subject, sorted by name and separated by blank lines: ability rules (root
//!    before `nonroot`, locked before `unlock`, inherited before `noinherit`, abilities
//!    sorted inside a block), channel-connect rules (`self` first), `allow_attach`,
//!    then `allow_link`;
//! 4. `derive_type` rules, sorted;
//! 5. trailing comments.
//!
//! Comments are printed on the lines before the item they belong to. A group of one
//! ability without keywords uses the single form (`allow t self:ability io;`), a path
//! rule with one pattern the single form (`allow_attach t /dev/x;`); otherwise blocks.

use std::fmt::{self, Write as _};

use crate::ability;

use super::model::{AbilityGrant, Comments, ConnectTarget, Domain, Policy, SubjectRules, Values};

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Policy {
    /// The canonical text (what [`Display`](fmt::Display) prints too).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut sections: Vec<String> = Vec::new();
        if !self.header.is_empty() {
            let mut s = String::new();
            write_comments(&mut s, &self.header, "");
            sections.push(s);
        }
        let mut decls = String::new();
        for (name, c) in &self.attributes {
            write_comments(&mut decls, c, "");
            let _ = writeln!(decls, "attribute {name};");
        }
        for (name, c) in &self.abilities {
            write_comments(&mut decls, c, "");
            let _ = writeln!(decls, "ability {name};");
        }
        for (name, decl) in &self.types {
            write_comments(&mut decls, &decl.comments, "");
            decls.push_str("type ");
            decls.push_str(name);
            for a in &decl.attributes {
                decls.push_str(", ");
                decls.push_str(a);
            }
            decls.push_str(";\n");
        }
        if !decls.is_empty() {
            sections.push(decls);
        }
        for (subject, rules) in &self.rules {
            if !rules.is_empty() {
                let mut s = String::new();
                write_subject(&mut s, subject, rules);
                sections.push(s);
            }
        }
        let mut derive = String::new();
        for ((parent, program), d) in &self.derivations {
            write_comments(&mut derive, &d.comments, "");
            let _ = writeln!(derive, "derive_type {parent} {program} {};", d.derived);
        }
        if !derive.is_empty() {
            sections.push(derive);
        }
        if !self.trailing.is_empty() {
            let mut s = String::new();
            write_comments(&mut s, &self.trailing, "");
            sections.push(s);
        }
        for (i, s) in sections.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(s);
        }
        if sections.len() == 1 && !self.header.is_empty() {
            // A header is always followed by a blank line; that is how it is read back.
            out.push('\n');
        }
        out
    }
}

fn write_comments(out: &mut String, c: &Comments, indent: &str) {
    for line in c.lines() {
        out.push_str(indent);
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

fn write_subject(out: &mut String, subject: &str, rules: &SubjectRules) {
    for domain in [Domain::Root, Domain::NonRoot] {
        for (unlock, noinherit) in [(false, false), (false, true), (true, false), (true, true)] {
            let group: Vec<(&String, &AbilityGrant)> = rules
                .abilities(domain)
                .iter()
                .filter(|(_, g)| g.unlock == unlock && g.noinherit == noinherit)
                .collect();
            if group.is_empty() {
                continue;
            }
            let keywords = domain == Domain::NonRoot || unlock || noinherit;
            if group.len() == 1 && !keywords {
                let (name, g) = group[0];
                write_comments(out, &g.comments, "");
                let _ = write!(out, "allow {subject} self:ability ");
                write_ability(out, name, &g.values);
                out.push_str(";\n");
                continue;
            }
            let _ = writeln!(out, "allow {subject} self:ability {{");
            if domain == Domain::NonRoot {
                out.push_str("    nonroot\n");
            }
            if unlock {
                out.push_str("    unlock\n");
            }
            if noinherit {
                out.push_str("    noinherit\n");
            }
            for (name, g) in group {
                write_comments(out, &g.comments, "    ");
                out.push_str("    ");
                write_ability(out, name, &g.values);
                out.push('\n');
            }
            out.push_str("};\n");
        }
    }
    for (target, c) in &rules.connect {
        write_comments(out, c, "");
        match target {
            ConnectTarget::SelfType => {
                let _ = writeln!(out, "allow {subject} self:channel connect;");
            }
            ConnectTarget::Type(t) => {
                let _ = writeln!(out, "allow {subject} {t}:channel connect;");
            }
        }
    }
    for (keyword, patterns) in [("allow_attach", &rules.attach), ("allow_link", &rules.link)] {
        match patterns.len() {
            0 => {}
            1 => {
                let (p, c) = patterns.iter().next().expect("one pattern");
                write_comments(out, c, "");
                let _ = writeln!(out, "{keyword} {subject} {p};");
            }
            _ => {
                let _ = writeln!(out, "{keyword} {subject} {{");
                for (p, c) in patterns {
                    write_comments(out, c, "    ");
                    let _ = writeln!(out, "    {p}");
                }
                out.push_str("};\n");
            }
        }
    }
}

/// An ability with its values as a policy writes it (`setuid:33`, `net_bind_service:80-81`),
/// for messages about one grant.
pub fn ability_text(name: &str, values: &Values) -> String {
    let mut out = String::new();
    write_ability(&mut out, name, values);
    out
}

/// `name`, `name:1,4-6,10-`, `name:0x1000-0x1fff` or `name:a_t,b_t`.
fn write_ability(out: &mut String, name: &str, values: &Values) {
    out.push_str(name);
    match values {
        Values::Any => {}
        Values::Numbers(set) => {
            let hex = name.starts_with("mem_") || name == "io";
            for (i, r) in set.ranges().iter().enumerate() {
                out.push(if i == 0 { ':' } else { ',' });
                write_number(out, r.lo, hex);
                if r.hi != r.lo {
                    out.push('-');
                    if r.hi != u64::MAX {
                        write_number(out, r.hi, hex);
                    }
                }
            }
        }
        Values::Types(set) => {
            for (i, t) in set.iter().enumerate() {
                out.push(if i == 0 { ':' } else { ',' });
                out.push_str(t);
            }
        }
    }
    debug_assert!(ability::is_well_formed(name));
}

fn write_number(out: &mut String, v: u64, hex: bool) {
    if hex {
        let _ = write!(out, "{v:#x}");
    } else {
        let _ = write!(out, "{v}");
    }
}
