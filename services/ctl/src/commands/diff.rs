//! `secpolctl diff OLD NEW [--json]`: what a new policy grants that the old one did not, and
//! what it no longer needs, per type, each added rule with who first needed it.
//!
//! A learned policy is a proposal: this is the review before it is enforced. Exit status 0
//! when NEW grants nothing more, 1 when it does (a pipeline stops on a service that
//! suddenly needs new privileges), 2 when a file cannot be read. The files are policies
//! (`secpolctl policy` output, `/etc/secpol/policy`) or the generator's `errors` output,
//! whose rules name types it does not declare (they are declared for the comparison).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use secpol::policy::Policy;

use crate::rules::{rules, Rule};

/// Reads a policy file; rules naming undeclared types (an `errors` file) get them declared.
pub fn load(path: &Path) -> anyhow::Result<Policy> {
    let bytes = secpol::policy::read_policy_file(path)?;
    let text = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let source = path.display().to_string();
    let first = match secpol::policy::parse(&text, &source) {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let undeclared: BTreeSet<String> = first
        .errors()
        .filter_map(|d| d.message.strip_prefix("undeclared type `")?.split('`').next().map(str::to_string))
        .collect();
    if !undeclared.is_empty() && undeclared.len() == first.errors().count() {
        let decls: String = undeclared.iter().map(|t| format!("type {t}; ")).collect();
        // On the first line, so the file's own line numbers stay as they are.
        if let Ok(p) = secpol::policy::parse(&format!("{decls}{text}"), &source) {
            return Ok(p);
        }
    }
    Err(anyhow::Error::new(first).context(format!("cannot read policy {source}")))
}

/// The differences of two policies.
pub struct PolicyDiff {
    /// Rules of NEW that OLD lacks, with NEW's comments.
    pub added: Vec<Rule>,
    /// Rules of OLD that NEW lacks, with OLD's comments.
    pub removed: Vec<Rule>,
    /// Types NEW declares and OLD does not.
    pub new_types: Vec<String>,
    /// Types OLD declares and NEW does not.
    pub gone_types: Vec<String>,
}

impl PolicyDiff {
    /// Compares `old` with `new`.
    pub fn of(old: &Policy, new: &Policy) -> Self {
        let types = |a: &Policy, b: &Policy| -> Vec<String> {
            a.types().keys().filter(|t| !b.types().contains_key(*t)).cloned().collect()
        };
        PolicyDiff {
            added: rules(&new.difference(old)),
            removed: rules(&old.difference(new)),
            new_types: types(new, old),
            gone_types: types(old, new),
        }
    }

    /// Whether NEW grants anything OLD did not.
    pub fn grants_more(&self) -> bool {
        !self.added.is_empty()
    }

    fn by_subject(&self) -> BTreeMap<&str, (Vec<&Rule>, Vec<&Rule>)> {
        let mut m: BTreeMap<&str, (Vec<&Rule>, Vec<&Rule>)> = BTreeMap::new();
        for r in &self.added {
            m.entry(&r.subject).or_default().0.push(r);
        }
        for r in &self.removed {
            m.entry(&r.subject).or_default().1.push(r);
        }
        m
    }

    /// The text report.
    pub fn text(&self, old: &str, new: &str) -> String {
        let mut s = String::new();
        for t in &self.new_types {
            let _ = writeln!(s, "new type {t}");
        }
        for t in &self.gone_types {
            let _ = writeln!(s, "type {t} is gone");
        }
        for (subject, (added, removed)) in self.by_subject() {
            let _ = writeln!(s, "\n{subject}:");
            for r in added {
                let _ = writeln!(s, "+ {}\n    # {}", r.text, r.provenance);
            }
            for r in removed {
                let _ = writeln!(s, "- {}", r.text);
            }
        }
        let _ = writeln!(
            s,
            "\n{new} grants {} rule{} that {old} does not; {} rule{} of {old} {} no longer needed",
            self.added.len(),
            if self.added.len() == 1 { "" } else { "s" },
            self.removed.len(),
            if self.removed.len() == 1 { "" } else { "s" },
            if self.removed.len() == 1 { "is" } else { "are" },
        );
        s.trim_start_matches('\n').to_string()
    }

    /// The JSON report.
    pub fn json(&self, old: &str, new: &str) -> serde_json::Value {
        let rule = |r: &Rule| {
            let p = &r.provenance;
            serde_json::json!({
                "rule": r.text,
                "process": p.process,
                "pid": p.pid,
                "first": p.first,
                "count": p.count,
                "comments": p.comments,
            })
        };
        let types: serde_json::Map<String, serde_json::Value> = self
            .by_subject()
            .into_iter()
            .map(|(t, (a, r))| {
                let a: Vec<_> = a.into_iter().map(rule).collect();
                let r: Vec<_> = r.into_iter().map(rule).collect();
                (t.to_string(), serde_json::json!({ "added": a, "removed": r }))
            })
            .collect();
        serde_json::json!({
            "old": old,
            "new": new,
            "grants_more": self.grants_more(),
            "new_types": self.new_types,
            "gone_types": self.gone_types,
            "types": types,
        })
    }
}

/// Prints the differences; exit 1 when NEW grants more.
pub fn run(old: &Path, new: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (o, n) = (load(old)?, load(new)?);
    let d = PolicyDiff::of(&o, &n);
    let (old, new) = (old.display().to_string(), new.display().to_string());
    if json {
        println!("{:#}", d.json(&old, &new));
    } else {
        print!("{}", d.text(&old, &new));
    }
    Ok(if d.grants_more() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Policy {
        secpol::policy::parse(t, "t").unwrap()
    }

    #[test]
    fn added_and_removed_rules_per_type_with_provenance() {
        let old = parse("type web_t;\nallow web_t self:ability { net_bind_service:80 chown };\n");
        let new = parse(
            "type web_t;\ntype db_t;\nallow web_t self:ability {\n    net_bind_service:80,443\n    \
             # learned: usr/sbin/nginx (pid 7) 2026-01-01T00:00:00Z\n    setuid:33\n};\n\
             # learned: usr/bin/db (pid 9) 2026-01-02T00:00:00Z\nallow db_t self:ability sys_nice;\n",
        );
        let d = PolicyDiff::of(&old, &new);
        assert!(d.grants_more());
        assert_eq!(
            d.text("old", "new"),
            "new type db_t\n\ndb_t:\n+ allow db_t self:ability { sys_nice };\n    # usr/bin/db (pid 9), first 2026-01-02T00:00:00Z\n\
             \nweb_t:\n+ allow web_t self:ability { net_bind_service:443 };\n    # no provenance comment\n\
             + allow web_t self:ability { setuid:33 };\n    # usr/sbin/nginx (pid 7), first 2026-01-01T00:00:00Z\n\
             - allow web_t self:ability { chown };\n\nnew grants 3 rules that old does not; 1 rule of old is no longer needed\n"
        );
        let j = d.json("old", "new");
        assert_eq!(j["grants_more"], true);
        assert_eq!(j["types"]["web_t"]["added"][1]["pid"], 7);
        assert_eq!(j["types"]["web_t"]["removed"][0]["rule"], "allow web_t self:ability { chown };");
        let back = PolicyDiff::of(&new, &old);
        assert!(back.grants_more(), "old has chown");
        let same = PolicyDiff::of(&old, &old);
        assert!(!same.grants_more() && same.removed.is_empty());
        let fewer = PolicyDiff::of(&old, &parse("type web_t;\nallow web_t self:ability chown;\n"));
        assert!(!fewer.grants_more() && fewer.removed.len() == 1);
    }

    #[test]
    fn errors_files_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path();
        let errors = tmp.join("errors");
        std::fs::write(
            &errors,
            "# Failures, newest first\n\n# usr/bin/x (pid 4) of type e_t lacks ability CHOWN as root: 2 times, \
             first 2026-01-01T00:00:00Z, last 2026-01-01T00:00:01Z\nallow e_t self:ability chown;\n",
        )
        .unwrap();
        let p = load(&errors).unwrap();
        let d = PolicyDiff::of(&Policy::new(), &p);
        assert_eq!(
            d.added[0].provenance.to_string(),
            "usr/bin/x (pid 4), first 2026-01-01T00:00:00Z, 2 times"
        );
        let bad = tmp.join("bad");
        std::fs::write(&bad, "type a_t;\nallow a_t self:ability { chown\n").unwrap();
        let e = format!("{:#}", load(&bad).unwrap_err());
        assert!(e.contains(&bad.display().to_string()), "{e}");
        assert!(load(&tmp.join("missing")).is_err());
    }
}
