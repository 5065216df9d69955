//! The text lines of QNX `secpolmonitor`, both ways.
//!
//! [`format_event`] prints an event exactly as QNX's monitor does, byte for byte where
//! the QNX documents show it:
//!
//! ```text
//! error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability PATHSPACE as root
//! info: usr/bin/touch (pid:2949147) type fs_user_t uses ability CHANNEL_CONNECT(1) (fs_t) as root
//! info: sbin/devf-ram (pid:2809882) of type fs_t attached channel to path /dev/fsF
//! error: sbin/devf-ram (pid:2773018) of type fs_nonuser_t failed to attach to path /: no rule
//! info: proc/boot/ln (pid:2961435) of type fs_nonuser_t created link to path /tmp/libc.so.5
//! ```
//!
//! [`parse_line`] reads such a line back into an [`Event`], and [`LogicalLines`] joins the
//! wrapped continuation lines of logs copied from a target's terminal, so the tracer can
//! replay, and the generator learn from, logs captured on QNX.
//!
//! Kinds QNX does not print have lines in the same style (documented in `docs/monitor.md`).

use std::fmt::Write as _;

use crate::ability;
use crate::event::{
    AttachResult, CapAction, CapRequest, Domain, Event, EventKind, Process, Subrange, Verdict,
};

/// How to print a line.
#[derive(Debug, Clone, Default)]
pub struct FormatOptions {
    /// Dynamic abilities whose values are shown (`secpolmonitor -S`); values of static
    /// abilities are always shown.
    pub subranged: Vec<String>,
    /// Prefix each line with time, sequence, uid and euid (`-v`).
    pub verbose: bool,
}

/// Name printed for a process that has none yet.
pub const UNNAMED: &str = "(unnamed)";

/// The errnos Linux defines (`EPERM` 1 to `EHWPOISON` 133): the ones with a text.
const KNOWN_ERRNOS: std::ops::Range<i32> = 1..134;

/// Text of an errno as `strerror` gives it (`Permission denied`); `errno N` for a number
/// Linux does not define (0, negative, too large: only a forged event carries one), so the
/// line still reads back.
pub fn errno_text(errno: i32) -> String {
    if !KNOWN_ERRNOS.contains(&errno) {
        return format!("errno {errno}");
    }
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn errno_from_text(text: &str) -> Option<i32> {
    if let Some(n) = text.strip_prefix("errno ") {
        return n.parse().ok();
    }
    KNOWN_ERRNOS.clone().find(|&e| errno_text(e) == text)
}

fn reason_text(result: AttachResult) -> String {
    match result {
        AttachResult::Ok => "ok".into(),
        AttachResult::NoRule => "no rule".into(),
        AttachResult::Conflict => "conflict".into(),
        AttachResult::BadOp => "bad op".into(),
        AttachResult::Errno(e) => errno_text(e),
    }
}

fn reason_from_text(text: &str) -> Option<AttachResult> {
    Some(match text {
        "ok" => AttachResult::Ok,
        "no rule" => AttachResult::NoRule,
        "conflict" => AttachResult::Conflict,
        "bad op" => AttachResult::BadOp,
        other => AttachResult::Errno(errno_from_text(other)?),
    })
}

fn domain_text(root: bool) -> &'static str {
    if root {
        "root"
    } else {
        "non-root"
    }
}

/// A range as `(N)` or `(LO - HI)`. One that arrived backwards (a bus event or a recording
/// can carry any two numbers) prints in order, as a policy keeps it (`RangeSet` swaps it
/// too), so every printed line reads back.
fn write_range(out: &mut String, r: Subrange) {
    let (lo, hi) = (r.lo.min(r.hi), r.lo.max(r.hi));
    if lo == hi {
        let _ = write!(out, "({lo})");
    } else {
        let _ = write!(out, "({lo} - {hi})");
    }
}

fn signal_name(sig: i32) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(sig as usize) {
        Some(n) if sig > 0 => n.to_string(),
        _ => format!("signal {sig}"),
    }
}

fn signal_from_name(name: &str) -> Option<i32> {
    (1..32).find(|&s| signal_name(s) == name).or_else(|| name.strip_prefix("signal ")?.parse().ok())
}

fn action_word(a: CapAction) -> &'static str {
    match a {
        CapAction::Allow => "allow",
        CapAction::Deny => "deny",
        CapAction::Drop => "drop",
        CapAction::Lock => "lock",
        CapAction::Inherit => "inherit",
        CapAction::NoInherit => "noinherit",
    }
}

fn action_from_word(w: &str) -> Option<CapAction> {
    [
        CapAction::Allow,
        CapAction::Deny,
        CapAction::Drop,
        CapAction::Lock,
        CapAction::Inherit,
        CapAction::NoInherit,
    ]
    .into_iter()
    .find(|a| action_word(*a) == w)
}

fn domain_word(d: Domain) -> &'static str {
    match d {
        Domain::Root => "root",
        Domain::NonRoot => "nonroot",
        Domain::All => "all",
    }
}

/// Describes what one capability request asked, in the words of QNX's generated policy
/// comments: the first action, the domain, then the other actions (`deny all lock`,
/// `allow nonroot`).
pub fn describe_request(r: &CapRequest) -> String {
    let mut words = Vec::with_capacity(r.actions.len() + 1);
    let mut actions = r.actions.iter();
    if let Some(first) = actions.next() {
        words.push(action_word(*first));
    }
    words.push(domain_word(r.domain));
    words.extend(actions.map(|a| action_word(*a)));
    words.join(" ")
}

/// Reads back what [`describe_request`] wrote (`deny all lock`): the domain and the
/// actions, or `None` when the words are not such a description.
pub fn parse_description(text: &str) -> Option<(Domain, Vec<CapAction>)> {
    let mut words = text.split(' ');
    let first = action_from_word(words.next()?)?;
    let domain = match words.next()? {
        "root" => Domain::Root,
        "nonroot" => Domain::NonRoot,
        "all" => Domain::All,
        _ => return None,
    };
    let mut actions = vec![first];
    for w in words {
        actions.push(action_from_word(w)?);
    }
    Some((domain, actions))
}

fn parse_request(text: &str) -> Option<CapRequest> {
    // "deny all lock NET_RAW"
    let (description, name) = text.rsplit_once(' ')?;
    let (domain, actions) = parse_description(description)?;
    Some(CapRequest { ability: ability::normalize(name), domain, actions })
}

/// `2026-11-29T10:00:00.123456Z`: UTC, microseconds.
pub fn utc_micros(ns: u64) -> String {
    format!("{:.6}", timestamp(ns))
}

/// `2026-11-29T10:00:00Z`: UTC, seconds.
pub fn utc_seconds(ns: u64) -> String {
    format!("{:.0}", timestamp(ns))
}

/// `ns` nanoseconds after the Unix epoch (every `u64` is within jiff's range, which ends
/// in the year 9999; the end of that range in the impossible case it were not).
fn timestamp(ns: u64) -> jiff::Timestamp {
    jiff::Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(jiff::Timestamp::MAX)
}

fn opt_id(v: Option<u32>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// Prints an event as a `secpolmonitor` line (without newline). Returns `None` for kinds
/// that have no line (unknown kinds).
pub fn format_event(e: &Event, opts: &FormatOptions) -> Option<String> {
    let p = &e.process;
    let mut out = String::with_capacity(128);
    if opts.verbose {
        let _ = write!(
            out,
            "[{} seq={} uid={} euid={}",
            utc_micros(e.time_ns),
            e.seq,
            opt_id(p.uid),
            opt_id(p.euid)
        );
        match &e.what {
            EventKind::Connect { path, .. } => {
                let _ = write!(out, " path={path}");
            }
            EventKind::Ability { probe: true, .. } => out.push_str(" probe"),
            _ => {}
        }
        out.push_str("] ");
    }
    let sev = if e.what.is_failure() { "error" } else { "info" };
    let name = p.name.as_deref().unwrap_or(UNNAMED);
    let _ = write!(out, "{sev}: {name} (pid:{}) ", p.pid);
    let t = &p.type_name;
    match &e.what {
        EventKind::Ability { ability: a, range, target_type, root, verdict, .. } => {
            let verb = if verdict.allowed() { "uses" } else { "lacks" };
            let _ = write!(out, "type {t} {verb} ability {}", ability::display(a));
            let show_range = !ability::is_dynamic(a) || opts.subranged.iter().any(|s| s == a);
            if let (Some(r), true) = (range, show_range) {
                write_range(&mut out, *r);
            }
            if let Some(tt) = target_type {
                let _ = write!(out, " ({tt})");
            }
            let _ = write!(out, " as {}", domain_text(*root));
        }
        EventKind::Attach { path, result } => {
            if result.ok() {
                let _ = write!(out, "of type {t} attached channel to path {path}");
            } else {
                let _ = write!(out, "of type {t} failed to attach to path {path}: {}", reason_text(*result));
            }
        }
        EventKind::Link { path, result, .. } => {
            if result.ok() {
                let _ = write!(out, "of type {t} created link to path {path}");
            } else {
                let _ =
                    write!(out, "of type {t} failed to create link to path {path}: {}", reason_text(*result));
            }
        }
        EventKind::Connect { channel_type, verdict, .. } => {
            let verb = if verdict.allowed() { "uses" } else { "lacks" };
            let root = p.euid.is_none_or(|u| u == 0);
            let _ = write!(
                out,
                "type {t} {verb} ability CHANNEL_CONNECT ({channel_type}) as {}",
                domain_text(root)
            );
        }
        EventKind::CapCall { call, requests, verdict } => {
            let _ = write!(out, "of type {t} ");
            if !verdict.allowed() {
                out.push_str("failed to ");
            }
            let _ = write!(out, "set its own abilities with {call}");
            for (i, r) in requests.iter().enumerate() {
                out.push_str(if i == 0 { ": " } else { ", " });
                let _ = write!(out, "{} {}", describe_request(r), ability::display(&r.ability));
            }
            if let Verdict::Denied(errno) = verdict {
                let _ = write!(out, " ({})", errno_text(*errno));
            }
        }
        EventKind::Signal { target_pid, target_type, signal, verdict } => {
            let sig = signal_name(*signal);
            match verdict {
                Verdict::Allowed => {
                    let _ = write!(out, "of type {t} sent {sig} to pid {target_pid} of type {target_type}");
                }
                Verdict::Denied(errno) => {
                    let _ = write!(
                        out,
                        "of type {t} failed to send {sig} to pid {target_pid} of type {target_type}: {}",
                        errno_text(*errno)
                    );
                }
            }
        }
        EventKind::Remote { address, verdict } => match verdict {
            Verdict::Allowed => {
                let _ = write!(out, "of type {t} connected to remote host {address}");
            }
            Verdict::Denied(errno) => {
                let _ = write!(
                    out,
                    "of type {t} failed to connect to remote host {address}: {}",
                    errno_text(*errno)
                );
            }
        },
        EventKind::Exec { path } => {
            let _ = write!(out, "of type {t} executed {path}");
        }
        EventKind::Exit { code } => {
            let _ = write!(out, "of type {t} exited with status {code}");
        }
        EventKind::Unknown => return None,
    }
    Some(out)
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LineError(pub String);

fn bad(what: impl Into<String>) -> LineError {
    LineError(what.into())
}

fn parse_range(text: &str) -> Result<Subrange, LineError> {
    let num = |s: &str| -> Result<u64, LineError> {
        let s = s.trim();
        let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        };
        r.map_err(|_| bad(format!("bad number {s:?} in ability value")))
    };
    let (lo, hi) = match text.split_once(" - ").or_else(|| text.split_once('-')) {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let v = num(text)?;
            (v, v)
        }
    };
    if lo > hi {
        return Err(bad(format!("range {text:?} starts above its end")));
    }
    Ok(Subrange { lo, hi })
}

/// `NAME[(range)][ (type)] as root|non-root`
fn parse_ability(rest: &str, allowed: bool) -> Result<EventKind, LineError> {
    let (spec, domain) = rest
        .rsplit_once(" as ")
        .ok_or_else(|| bad("expected `as root` or `as non-root` after the ability"))?;
    let root = match domain {
        "root" => true,
        "non-root" => false,
        other => return Err(bad(format!("unknown domain {other:?}; expected root or non-root"))),
    };
    let (spec, target_type) = match spec.strip_suffix(')').and_then(|s| s.rsplit_once(" (")) {
        Some((s, t)) => (s, Some(t.to_string())),
        None => (spec, None),
    };
    let (name, range) = match spec.split_once('(') {
        Some((n, r)) => {
            let r = r.strip_suffix(')').ok_or_else(|| bad("unclosed `(` after ability name"))?;
            (n, Some(parse_range(r)?))
        }
        None => (spec, None),
    };
    let name = ability::normalize(name);
    if !ability::is_well_formed(&name) {
        return Err(bad(format!("bad ability name {name:?}")));
    }
    let verdict = if allowed { Verdict::Allowed } else { Verdict::Denied(libc::EPERM) };
    Ok(EventKind::Ability { ability: name, range, target_type, root, verdict, probe: false })
}

fn parse_path(text: &str) -> Result<String, LineError> {
    if text.is_empty() || text.len() > 4096 {
        Err(bad("missing or overlong path"))
    } else {
        Ok(text.to_string())
    }
}

fn path_and_reason(rest: &str) -> Result<(String, AttachResult), LineError> {
    let (path, reason) = rest.rsplit_once(": ").ok_or_else(|| bad("expected `: reason` after the path"))?;
    let result = reason_from_text(reason).ok_or_else(|| bad(format!("unknown reason {reason:?}")))?;
    Ok((parse_path(path)?, result))
}

fn parse_what(rest: &str, type_name: &mut String, p: &Process) -> Result<EventKind, LineError> {
    let _ = p;
    let (of, rest) = match rest.strip_prefix("of type ") {
        Some(r) => (true, r),
        None => (false, rest.strip_prefix("type ").ok_or_else(|| bad("expected `type` or `of type`"))?),
    };
    let (t, rest) = rest.split_once(' ').ok_or_else(|| bad("nothing after the type"))?;
    if t.is_empty() {
        return Err(bad("empty type name"));
    }
    *type_name = t.to_string();
    if !of {
        if let Some(r) = rest.strip_prefix("uses ability ") {
            return parse_ability(r, true);
        }
        if let Some(r) = rest.strip_prefix("lacks ability ") {
            return parse_ability(r, false);
        }
        return Err(bad("expected `uses ability` or `lacks ability`"));
    }
    if let Some(path) = rest.strip_prefix("attached channel to path ") {
        return Ok(EventKind::Attach { path: parse_path(path)?, result: AttachResult::Ok });
    }
    if let Some(r) = rest.strip_prefix("failed to attach to path ") {
        let (path, result) = path_and_reason(r)?;
        return Ok(EventKind::Attach { path, result });
    }
    if let Some(path) = rest.strip_prefix("created link to path ") {
        return Ok(EventKind::Link { path: parse_path(path)?, target: None, result: AttachResult::Ok });
    }
    if let Some(r) = rest.strip_prefix("failed to create link to path ") {
        let (path, result) = path_and_reason(r)?;
        return Ok(EventKind::Link { path, target: None, result });
    }
    if let Some(r) = rest.strip_prefix("connected to remote host ") {
        return Ok(EventKind::Remote { address: parse_path(r)?, verdict: Verdict::Allowed });
    }
    if let Some(r) = rest.strip_prefix("failed to connect to remote host ") {
        let (addr, why) = r.rsplit_once(": ").ok_or_else(|| bad("expected `: reason`"))?;
        let errno = errno_from_text(why).ok_or_else(|| bad(format!("unknown reason {why:?}")))?;
        return Ok(EventKind::Remote { address: parse_path(addr)?, verdict: Verdict::Denied(errno) });
    }
    let (failed, r) = match rest.strip_prefix("failed to ") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if let Some(r) = r.strip_prefix("send ").or_else(|| r.strip_prefix("sent ")) {
        // SIGTERM to pid 12 of type b_t[: reason]
        let (body, verdict) = if failed {
            let (b, why) = r.rsplit_once(": ").ok_or_else(|| bad("expected `: reason`"))?;
            (b, Verdict::Denied(errno_from_text(why).ok_or_else(|| bad(format!("unknown reason {why:?}")))?))
        } else {
            (r, Verdict::Allowed)
        };
        let (sig, rest) = body.split_once(" to pid ").ok_or_else(|| bad("expected `to pid`"))?;
        let (pid, tt) = rest.split_once(" of type ").ok_or_else(|| bad("expected `of type`"))?;
        return Ok(EventKind::Signal {
            target_pid: pid.parse().map_err(|_| bad(format!("bad pid {pid:?}")))?,
            target_type: tt.to_string(),
            signal: signal_from_name(sig).ok_or_else(|| bad(format!("unknown signal {sig:?}")))?,
            verdict,
        });
    }
    if let Some(r) = r.strip_prefix("set its own abilities with ") {
        let (r, verdict) = match (failed, r.strip_suffix(')').and_then(|s| s.rsplit_once(" ("))) {
            (true, Some((body, why))) => (
                body,
                Verdict::Denied(errno_from_text(why).ok_or_else(|| bad(format!("unknown reason {why:?}")))?),
            ),
            (true, None) => (r, Verdict::Denied(libc::EPERM)),
            (false, _) => (r, Verdict::Allowed),
        };
        let (call, reqs) = match r.split_once(": ") {
            Some((c, list)) => (c, list),
            None => (r, ""),
        };
        let requests = reqs
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|s| parse_request(s).ok_or_else(|| bad(format!("unreadable request {s:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(EventKind::CapCall { call: call.to_string(), requests, verdict });
    }
    if let Some(path) = rest.strip_prefix("executed ") {
        return Ok(EventKind::Exec { path: parse_path(path)? });
    }
    if let Some(code) = rest.strip_prefix("exited with status ") {
        return Ok(EventKind::Exit { code: code.parse().map_err(|_| bad(format!("bad status {code:?}")))? });
    }
    Err(bad(format!("unknown event {:?}", rest.chars().take(40).collect::<String>())))
}

/// Reads one (joined) monitor line into an event. Instance, sequence and time are zero;
/// uid and euid are unknown unless a verbose prefix gives them.
pub fn parse_line(line: &str) -> Result<Event, LineError> {
    let mut line = line.trim();
    let mut uid = None;
    let mut euid = None;
    let mut seq = 0;
    if let Some(rest) = line.strip_prefix('[') {
        let (prefix, tail) = rest.split_once("] ").ok_or_else(|| bad("unclosed `[` prefix"))?;
        for field in prefix.split(' ') {
            match field.split_once('=') {
                Some(("uid", v)) => uid = v.parse().ok(),
                Some(("euid", v)) => euid = v.parse().ok(),
                Some(("seq", v)) => seq = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        line = tail;
    }
    let (sev, rest) =
        line.split_once(": ").ok_or_else(|| bad("expected `info:` or `error:` at the start"))?;
    if !matches!(sev, "info" | "error" | "warning") {
        return Err(bad(format!("unknown severity {:?}", sev.chars().take(20).collect::<String>())));
    }
    let (name, rest) =
        rest.split_once(" (pid:").ok_or_else(|| bad("expected `(pid:N)` after the process name"))?;
    let (pid, rest) = rest.split_once(") ").ok_or_else(|| bad("unclosed `(pid:`"))?;
    let pid: u32 = pid.parse().map_err(|_| bad(format!("bad pid {pid:?}")))?;
    let mut process = Process {
        pid,
        name: (name != UNNAMED && !name.is_empty()).then(|| name.to_string()),
        type_name: String::new(),
        uid,
        euid,
        start_ns: None,
    };
    let mut type_name = String::new();
    let what = parse_what(rest, &mut type_name, &process)?;
    process.type_name = type_name;
    Ok(Event { instance: 0, seq, time_ns: 0, process, what })
}

/// The logical lines of a monitor log: a physical line that starts with white space
/// continues the one before (terminals wrap long lines so). Yields `(line number of the
/// first physical line, joined text)`; blank lines are skipped.
pub struct LogicalLines<'a> {
    lines: std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>,
}

impl<'a> LogicalLines<'a> {
    /// Splits `text`.
    pub fn new(text: &'a str) -> Self {
        LogicalLines { lines: text.lines().enumerate().peekable() }
    }
}

/// Longest logical line accepted; longer ones are cut (and then fail to parse).
const MAX_LOGICAL: usize = 16 * 1024;

impl Iterator for LogicalLines<'_> {
    type Item = (usize, String);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (n, first) = self.lines.next()?;
            if first.trim().is_empty() {
                continue;
            }
            let mut joined = first.trim_end().to_string();
            while let Some((_, next)) = self.lines.peek() {
                let starts_blank = next.starts_with([' ', '\t']);
                if !starts_blank || next.trim().is_empty() {
                    break;
                }
                if joined.len() < MAX_LOGICAL {
                    joined.push(' ');
                    joined.push_str(next.trim());
                }
                self.lines.next();
            }
            return Some((n + 1, joined));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_LINES: &[&str] = &[
        "error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability PATHSPACE as root",
        "info: usr/bin/touch (pid:2949147) type fs_user_t uses ability CHANNEL_CONNECT(1) (fs_t) as root",
        "info: sbin/devf-ram (pid:2809882) of type fs_t attached channel to path /dev/fsF",
        "error: sbin/devf-ram (pid:2773018) of type fs_nonuser_t failed to attach to path /: no rule",
        "info: proc/boot/ln (pid:2961435) of type fs_nonuser_t created link to path /tmp/libc.so.5",
        "info: a/b (pid:1) type t uses ability SETGID(6) as non-root",
        "info: a/b (pid:1) type t uses ability MAP_FIXED(337416937472 - 337416992071) as root",
        "error: a/b (pid:1) of type t failed to create link to path /x: Permission denied",
        "info: a/b (pid:1) of type t sent SIGTERM to pid 7 of type u_t",
        "error: a/b (pid:1) of type t failed to send SIGKILL to pid 7 of type u_t: Operation not permitted",
        "info: a/b (pid:1) of type t connected to remote host 10.1.2.3:443",
        "info: a/b (pid:1) of type t set its own abilities with capset: deny all lock NET_RAW, allow nonroot SETUID",
        "error: a/b (pid:1) of type t failed to set its own abilities with prctl(PR_CAPBSET_DROP): drop all lock SYS_ADMIN (Operation not permitted)",
        "info: (unnamed) (pid:1) of type t executed /bin/true",
    ];

    #[test]
    fn times_are_utc_with_fixed_digits() {
        assert_eq!(utc_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(utc_seconds(0), "1970-01-01T00:00:00Z");
        let ns = 1_795_946_400_123_456_789; // 2026-11-29T10:00:00.123456789Z
        assert_eq!(utc_micros(ns), "2026-11-29T10:00:00.123456Z");
        assert_eq!(utc_seconds(ns), "2026-11-29T10:00:00Z");
        assert_eq!(utc_micros(951_825_600_000_001_000), "2000-02-29T12:00:00.000001Z");
        assert!(utc_seconds(u64::MAX).starts_with("2554-07-21T23:34:33"));
    }

    #[test]
    fn request_descriptions_read_back() {
        let r = CapRequest {
            ability: "net_raw".into(),
            domain: Domain::All,
            actions: vec![CapAction::Allow, CapAction::Inherit],
        };
        assert_eq!(describe_request(&r), "allow all inherit");
        assert_eq!(parse_description("allow all inherit"), Some((Domain::All, r.actions.clone())));
        assert_eq!(
            parse_description("drop nonroot lock"),
            Some((Domain::NonRoot, vec![CapAction::Drop, CapAction::Lock]))
        );
        for bad in ["", "allow", "all allow", "allow everyone", "allow root frob", "allow root "] {
            assert_eq!(parse_description(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn seed_lines_round_trip_byte_for_byte() {
        for line in SEED_LINES {
            let e = parse_line(line).unwrap_or_else(|err| panic!("{line}: {err}"));
            let back = format_event(&e, &FormatOptions::default()).unwrap();
            assert_eq!(&back, line);
        }
    }

    #[test]
    fn channel_connect_carries_value_and_type() {
        let e = parse_line(SEED_LINES[1]).unwrap();
        assert_eq!(e.process.name.as_deref(), Some("usr/bin/touch"));
        assert_eq!(e.process.type_name, "fs_user_t");
        assert_eq!(
            e.what,
            EventKind::Ability {
                ability: "channel_connect".into(),
                range: Some(Subrange::value(1)),
                target_type: Some("fs_t".into()),
                root: true,
                verdict: Verdict::Allowed,
                probe: false
            }
        );
    }

    #[test]
    fn dynamic_values_hidden_unless_subranged() {
        let mut e = parse_line("info: x (pid:1) type t uses ability IOFUNC/READ(5) as root").unwrap();
        let plain = format_event(&e, &FormatOptions::default()).unwrap();
        assert_eq!(plain, "info: x (pid:1) type t uses ability IOFUNC/READ as root");
        let opts = FormatOptions { subranged: vec!["iofunc/read".into()], verbose: false };
        assert!(format_event(&e, &opts).unwrap().contains("IOFUNC/READ(5)"));
        e.time_ns = 1_764_410_400_123_456_000;
        e.seq = 9;
        e.process.euid = Some(0);
        let v = format_event(&e, &FormatOptions { verbose: true, ..opts }).unwrap();
        assert_eq!(
            v,
            "[2025-11-29T10:00:00.123456Z seq=9 uid=? euid=0] info: x (pid:1) type t uses ability IOFUNC/READ(5) as root"
        );
        let back = parse_line(&v).unwrap();
        assert_eq!((back.seq, back.process.euid), (9, Some(0)));
    }

    #[test]
    fn wrapped_lines_join() {
        let text = "error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability \n       PATHSPACE as root\n\ninfo: usr/bin/touch (pid:2949147) type fs_user_t uses ability  \n      CHANNEL_CONNECT(1) (fs_t) as root \n";
        let lines: Vec<_> = LogicalLines::new(text).collect();
        assert_eq!(lines, vec![(1, SEED_LINES[0].to_string()), (4, SEED_LINES[1].to_string())]);
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, why) in [
            ("hello", "expected `info:`"),
            ("info: x (pid:q) type t uses ability IO as root", "bad pid"),
            ("info: x (pid:1) type t uses ability IO as king", "unknown domain"),
            ("info: x (pid:1) type t uses ability IO(9 - 2) as root", "starts above its end"),
            ("info: x (pid:1) of type t danced", "unknown event"),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.0.contains(why), "{line}: {err}");
        }
    }

    /// Found by the `qnxlog` fuzz target: an event whose range arrived backwards printed
    /// as `(2 - 1)`, a line that `parse_line` (and so `secpolctl load`) refuses.
    #[test]
    fn a_backwards_range_prints_in_order_and_reads_back() {
        let mut e = parse_line(SEED_LINES[1]).unwrap();
        let EventKind::Ability { range, .. } = &mut e.what else { panic!("not an ability") };
        *range = Some(Subrange { lo: 2, hi: 1 });
        let line = format_event(&e, &FormatOptions::default()).unwrap();
        assert!(line.contains("CHANNEL_CONNECT(1 - 2) (fs_t)"), "{line}");
        let back = parse_line(&line).unwrap();
        assert_eq!(format_event(&back, &FormatOptions::default()).unwrap(), line);
    }

    /// Found by the `qnxlog` fuzz target: a failure with errno 0 printed `(Success)`, and
    /// one with an undefined errno `Unknown error N`, lines that do not read back.
    #[test]
    fn undefined_errnos_print_as_numbers_and_read_back() {
        assert_eq!(errno_text(libc::EPERM), "Operation not permitted");
        for errno in [0, -5, 134, 4095, i32::MIN] {
            assert_eq!(errno_text(errno), format!("errno {errno}"));
            assert_eq!(errno_from_text(&errno_text(errno)), Some(errno));
            let line =
                format!("error: a/b (pid:1) of type t failed to attach to path /x: {}", errno_text(errno));
            let e = parse_line(&line).unwrap_or_else(|err| panic!("{line}: {err}"));
            assert_eq!(e.what, EventKind::Attach { path: "/x".into(), result: AttachResult::Errno(errno) });
            assert_eq!(format_event(&e, &FormatOptions::default()).unwrap(), line);
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = parse_line(&s);
            let _ = LogicalLines::new(&s).count();
        }
    }
}
