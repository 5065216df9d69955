//! A policy as a list of single rules, each with where it came from: what `secpolctl diff`
//! compares and `secpolctl export` cites.
//!
//! The generator writes a comment above every learned rule: in `policy`,
//! `learned: PROCESS (pid N) TIME`; in `errors`, `PROCESS (pid N) of type T lacks ...:
//! N times, first TIME, last TIME`. [`Provenance::from_comments`] reads both back.

use std::fmt;

use secpol::policy::{ability_text, Comments, ConnectTarget, Domain, Policy};

/// Who first needed a rule, as the generator's comment above it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The process (`usr/sbin/nginx`).
    pub process: Option<String>,
    /// Its pid.
    pub pid: Option<u32>,
    /// When it first needed the rule (`2026-11-29T10:41:41Z`).
    pub first: Option<String>,
    /// How many times it was needed (the `errors` output counts; `policy` does not).
    pub count: Option<u64>,
    /// The comment lines as written.
    pub comments: Vec<String>,
}

/// `PROCESS (pid N) REST` -> (process, pid, rest).
fn process_and_pid(text: &str) -> Option<(&str, u32, &str)> {
    let (process, rest) = text.split_once(" (pid ")?;
    let (pid, rest) = rest.split_once(')')?;
    Some((process, pid.parse().ok()?, rest.trim_start()))
}

impl Provenance {
    /// What the comments above a rule say about its origin.
    pub fn from_comments(c: &Comments) -> Provenance {
        let mut p = Provenance { comments: c.lines().to_vec(), ..Default::default() };
        for line in c.lines() {
            if let Some((process, pid, time)) = line.strip_prefix("learned: ").and_then(process_and_pid) {
                p.process = Some(process.to_string());
                p.pid = Some(pid);
                p.first = time.split_whitespace().next().map(str::to_string);
                return p;
            }
            // errors: `PROC (pid N) of type T lacks ...: 3 times, first T1, last T2`
            if let Some((process, pid, rest)) = process_and_pid(line) {
                let Some((_, counts)) = rest.rsplit_once(": ") else { continue };
                let mut fields = counts.split(", ");
                let count = fields.next().and_then(|f| f.split_whitespace().next()?.parse().ok());
                let first = fields.find_map(|f| f.strip_prefix("first ")).map(str::to_string);
                if count.is_some() {
                    p.process = Some(process.to_string());
                    p.pid = Some(pid);
                    p.count = count;
                    p.first = first;
                    return p;
                }
            }
        }
        p
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(process) = &self.process else {
            return match self.comments.first() {
                Some(c) => write!(f, "{c}"),
                None => f.write_str("no provenance comment"),
            };
        };
        write!(f, "{process}")?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        if let Some(first) = &self.first {
            write!(f, ", first {first}")?;
        }
        match self.count {
            Some(1) => f.write_str(", 1 time"),
            Some(n) => write!(f, ", {n} times"),
            None => Ok(()),
        }
    }
}

/// What a rule grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// An ability: its name and domain.
    Ability {
        /// The ability.
        name: String,
        /// Root, or also non-root.
        domain: Domain,
    },
    /// A channel connect, an attach, a link or a type derivation.
    Other,
}

/// One rule of a policy, on its own.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The type (or attribute) it is for.
    pub subject: String,
    /// The rule as a policy writes it, on one line.
    pub text: String,
    /// What it grants.
    pub grant: Grant,
    /// Where it came from.
    pub provenance: Provenance,
}

/// Every rule of `policy`, one per ability, connect target, path pattern and derivation,
/// subject by subject.
pub fn rules(policy: &Policy) -> Vec<Rule> {
    let mut out = Vec::new();
    for (subject, r) in policy.subjects() {
        let mut push = |text: String, grant: Grant, c: &Comments| {
            out.push(Rule { subject: subject.clone(), text, grant, provenance: Provenance::from_comments(c) })
        };
        for domain in [Domain::Root, Domain::NonRoot] {
            for (name, g) in r.abilities(domain) {
                let mut keywords = String::new();
                for (on, word) in [
                    (domain == Domain::NonRoot, "nonroot "),
                    (g.unlock, "unlock "),
                    (g.noinherit, "noinherit "),
                ] {
                    if on {
                        keywords.push_str(word);
                    }
                }
                let text = format!(
                    "allow {subject} self:ability {{ {keywords}{} }};",
                    ability_text(name, &g.values)
                );
                push(text, Grant::Ability { name: name.clone(), domain }, &g.comments);
            }
        }
        for (target, c) in r.connects() {
            let t = match target {
                ConnectTarget::SelfType => "self",
                ConnectTarget::Type(t) => t,
            };
            push(format!("allow {subject} {t}:channel connect;"), Grant::Other, c);
        }
        for (p, c) in r.attaches() {
            push(format!("allow_attach {subject} {p};"), Grant::Other, c);
        }
        for (p, c) in r.links() {
            push(format!("allow_link {subject} {p};"), Grant::Other, c);
        }
    }
    for ((parent, program), d) in policy.derivations() {
        out.push(Rule {
            subject: parent.clone(),
            text: format!("derive_type {parent} {program} {};", d.derived),
            grant: Grant::Other,
            provenance: Provenance::from_comments(&d.comments),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_of_policy_and_errors_comments() {
        let mut c = Comments::new();
        c.push("learned: usr/sbin/nginx (pid 812) 2026-11-29T10:41:41Z");
        let p = Provenance::from_comments(&c);
        assert_eq!(p.process.as_deref(), Some("usr/sbin/nginx"));
        assert_eq!((p.pid, p.first.as_deref(), p.count), (Some(812), Some("2026-11-29T10:41:41Z"), None));
        assert_eq!(p.to_string(), "usr/sbin/nginx (pid 812), first 2026-11-29T10:41:41Z");
        let mut c = Comments::new();
        c.push(
            "usr/bin/chown (pid 9) of type a_t lacks ability CHOWN as root: 3 times, first \
             2026-01-01T00:00:00Z, last 2026-01-02T00:00:00Z",
        );
        let p = Provenance::from_comments(&c);
        assert_eq!(p.to_string(), "usr/bin/chown (pid 9), first 2026-01-01T00:00:00Z, 3 times");
        let mut c = Comments::new();
        c.push("written by hand");
        let p = Provenance::from_comments(&c);
        assert!(p.process.is_none());
        assert_eq!(p.to_string(), "written by hand");
        assert_eq!(Provenance::default().to_string(), "no provenance comment");
    }

    #[test]
    fn every_rule_on_its_own() {
        let p = secpol::policy::parse(
            "type a_t;\ntype b_t;\n# learned: x (pid 1) T\nallow a_t self:ability net_bind_service:80;\n\
             allow a_t self:ability { nonroot unlock setuid:33 };\nallow a_t b_t:channel connect;\n\
             allow_attach a_t /run/a/...;\nallow_link a_t /tmp/l;\n",
            "p",
        )
        .unwrap();
        let texts: Vec<String> = rules(&p).into_iter().map(|r| r.text).collect();
        assert_eq!(
            texts,
            [
                "allow a_t self:ability { net_bind_service:80 };",
                "allow a_t self:ability { nonroot unlock setuid:33 };",
                "allow a_t b_t:channel connect;",
                "allow_attach a_t /run/a/...;",
                "allow_link a_t /tmp/l;",
            ]
        );
        assert_eq!(rules(&p)[0].provenance.process.as_deref(), Some("x"));
    }
}
