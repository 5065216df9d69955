//! The failures of an `errors` output, read back for the report: each block's headline
//! `# PROCESS (pid N) of type T NEED: K times, first TIME, last TIME` and the rule under it.

use serde::Serialize;

/// What a failure lacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Lack {
    /// An ability.
    Ability {
        /// The ability, lower case.
        ability: String,
        /// The value checked, as written (`0`, `80 - 81`, a type), if any.
        value: Option<String>,
        /// As root (effective uid 0) or not.
        root: bool,
    },
    /// Anything else (attach, link, connect): the headline's words.
    Other {
        /// `failed to attach to path /x`, ...
        what: String,
    },
}

/// One recorded failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The type.
    pub type_name: String,
    /// The first process that failed.
    pub process: String,
    /// Its pid.
    pub pid: u32,
    /// What it lacked.
    pub lack: Lack,
    /// How many times it failed.
    pub count: u64,
    /// First time, `2026-11-29T10:00:01Z`.
    pub first: String,
    /// Last time.
    pub last: String,
    /// The rule that would allow it (or why none can).
    pub rule: String,
}

/// A headline that is not one the generator writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: not a failure headline (`# PROCESS (pid N) of type T ...: K times, first T1, last T2`)")]
pub struct BadHeadline {
    /// The file.
    pub source_name: String,
    /// Line number.
    pub line: usize,
}

fn lack(need: &str) -> Lack {
    let ability = need.strip_prefix("lacks ability ").and_then(|rest| {
        let (what, root) = match rest.rsplit_once(" as ") {
            Some((w, "root")) => (w, true),
            Some((w, "non-root")) => (w, false),
            _ => return None,
        };
        let (name, value) = match what.split_once(['(', ' ']) {
            Some((n, v)) => {
                (n, Some(v.trim().trim_start_matches('(').trim_end_matches(')').trim().to_string()))
            }
            None => (what, None),
        };
        Some(Lack::Ability { ability: name.to_ascii_lowercase(), value, root })
    });
    ability.unwrap_or_else(|| Lack::Other { what: need.to_string() })
}

fn headline(text: &str) -> Option<Failure> {
    let (rest, last) = text.rsplit_once(", last ")?;
    let (rest, first) = rest.rsplit_once(", first ")?;
    let (rest, times) = rest.rsplit_once(": ")?;
    let count = times.strip_suffix(" times").or_else(|| times.strip_suffix(" time"))?.parse().ok()?;
    let at = rest.find(" (pid ")?;
    let process = &rest[..at];
    let (pid, rest) = rest[at + 6..].split_once(") of type ")?;
    let (type_name, need) = rest.split_once(' ')?;
    Some(Failure {
        type_name: type_name.to_string(),
        process: process.to_string(),
        pid: pid.parse().ok()?,
        lack: lack(need),
        count,
        first: first.to_string(),
        last: last.trim().to_string(),
        rule: String::new(),
    })
}

/// Reads an `errors` text named `source_name`. The first comment (the summary) and
/// blank lines are skipped; any other comment that starts a block must be a headline.
pub fn parse(text: &str, source_name: &str) -> Result<Vec<Failure>, BadHeadline> {
    let mut out: Vec<Failure> = Vec::new();
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            in_block = false;
            continue;
        }
        if !in_block {
            in_block = true;
            if let Some(h) = line.strip_prefix("# ") {
                if h.starts_with("Failures, ") {
                    continue;
                }
                out.push(
                    headline(h).ok_or(BadHeadline { source_name: source_name.to_string(), line: i + 1 })?,
                );
                continue;
            }
            return Err(BadHeadline { source_name: source_name.to_string(), line: i + 1 });
        }
        if let Some(f) = out.last_mut() {
            if !f.rule.is_empty() {
                f.rule.push('\n');
            }
            f.rule.push_str(line);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ERRORS: &str = "# Failures, newest first, as the rules that would allow them: 2 of 3 (-L 2).\n\n\
        # usr/bin/x (pid 11) of type a_t lacks ability SETUID(0) as non-root: 2 times, first 2025-11-29T10:00:01Z, last 2025-11-29T10:00:04Z\n\
        allow a_t self:ability {\n    nonroot\n    setuid:0\n};\n\n\
        # usr/bin/y (pid 13) of type b_t failed to attach to path /run/b: 1 time, first 2025-11-29T10:00:03Z, last 2025-11-29T10:00:03Z\n\
        allow_attach b_t /run/b;\n";

    #[test]
    fn headlines_and_rules() {
        let f = parse(ERRORS, "errors").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].type_name, "a_t");
        assert_eq!(
            f[0].lack,
            Lack::Ability { ability: "setuid".into(), value: Some("0".into()), root: false }
        );
        assert_eq!((f[0].count, f[0].pid, f[0].first.as_str()), (2, 11, "2025-11-29T10:00:01Z"));
        assert_eq!(f[0].rule, "allow a_t self:ability {\n    nonroot\n    setuid:0\n};");
        assert_eq!(f[1].lack, Lack::Other { what: "failed to attach to path /run/b".into() });
    }

    #[test]
    fn ranges_types_and_plain_abilities() {
        assert_eq!(
            lack("lacks ability KILL as root"),
            Lack::Ability { ability: "kill".into(), value: None, root: true }
        );
        assert_eq!(
            lack("lacks ability NET_BIND_SERVICE(80 - 81) as root"),
            Lack::Ability { ability: "net_bind_service".into(), value: Some("80 - 81".into()), root: true }
        );
        assert_eq!(
            lack("lacks ability CHANNEL_CONNECT (db_t) as non-root"),
            Lack::Ability { ability: "channel_connect".into(), value: Some("db_t".into()), root: false }
        );
    }

    #[test]
    fn a_bad_headline_names_its_line() {
        let e = parse("# Failures, x\n\nallow a_t self:ability kill;\n", "e.txt").unwrap_err();
        assert_eq!(e.to_string().split(": ").next(), Some("e.txt:3"));
        assert!(parse("\n# not one\n", "e").is_err());
    }
}
