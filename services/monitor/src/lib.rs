//! `secpolmonitor`: prints the bus's events as QNX's secpolmonitor does.
//!
//! [`Monitor`] holds the choices of the command line (seed 002's options) and decides,
//! event by event, which lines to print: failures only unless `-s`, first occurrence
//! only unless `-r` (or `-i` after TIME seconds of the process's life), per process or
//! per name (`-c`), named processes only unless `-n`, names given with `-f`. It also
//! turns sequence gaps into loss lines. [`run`] connects it to the bus and an output.
//!
//! On a fleet collector, [`Source::Fleet`] watches the hosts' streams it republishes
//! (docs/fleet.md): every host has its own [`Monitor`] (its own first occurrences and
//! sequence numbers, so a loss or a tracer restart is that host's), and each line starts
//! with the host's name and `: `.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use secpol::bus::{Gap, Received, SeqTracker, Subscriber};
use secpol::endpoint::RuntimeDir;
use secpol::event::{Event, EventKind};
use secpol::qnxlog::{self, FormatOptions};
use secpol::wire::Message;

/// The command line's choices.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-a`: ability checks (and channel connects, self-managed capability calls).
    pub abilities: bool,
    /// `-p`: path-space attachments and links.
    pub paths: bool,
    /// `-q`: connections to other hosts (QNET on QNX).
    pub remote: bool,
    /// `-u`: signals to processes of other types (unregistered sigevents on QNX).
    pub signals: bool,
    /// `-s`: successes too, not only failures.
    pub successes: bool,
    /// `-r`: every repetition, not only the first.
    pub repeats: bool,
    /// `-i`: re-report abilities used more than this many seconds after process start.
    pub reuse_after: Option<f64>,
    /// `-c`: combine processes of the same name.
    pub combine: bool,
    /// `-n`: include processes that have no name yet.
    pub unnamed: bool,
    /// `-f`: only these process names (full name or last component).
    pub names: Vec<String>,
    /// `-S` and `-v`.
    pub format: FormatOptions,
    /// `--json`: one JSON object per event instead of a line.
    pub json: bool,
}

impl Options {
    /// With none of `-a -p -q -u`, ability checks and path attachments are shown.
    pub fn with_default_classes(mut self) -> Self {
        if !(self.abilities || self.paths || self.remote || self.signals) {
            self.abilities = true;
            self.paths = true;
        }
        self
    }
}

/// The deciding part of the monitor, without sockets.
#[derive(Debug, Default)]
pub struct Monitor {
    opts: Options,
    /// First occurrences, by who (a process; a name and type with `-c`): what, and whether
    /// late in the process's life. A process's entry goes when it exits, so a monitor
    /// that runs for months holds only the processes alive (and, with `-c`, the names).
    seen: HashMap<String, HashSet<(String, bool)>>,
    /// Scratch space for the keys of `seen`.
    who: String,
    what: (String, bool),
    first_seen_ns: HashMap<u32, u64>,
    seq: SeqTracker,
    unknown_kinds: u64,
}

impl Monitor {
    /// A monitor with these options.
    pub fn new(opts: Options) -> Self {
        Monitor { opts, ..Default::default() }
    }

    /// Events lost so far (sequence gaps).
    pub fn lost(&self) -> u64 {
        self.seq.lost()
    }

    /// Events of unknown kinds skipped.
    pub fn unknown_kinds(&self) -> u64 {
        self.unknown_kinds
    }

    /// The lines one bus message produces (usually zero or one).
    pub fn handle(&mut self, msg: &Message) -> Vec<String> {
        let mut out = Vec::new();
        match msg {
            Message::Event(e) => {
                let gap = self.seq.event(e.instance, e.seq);
                out.extend(self.loss_line(gap, e.instance));
                if e.what == EventKind::Unknown {
                    self.unknown_kinds += 1;
                } else if let Some(line) = self.event_line(e) {
                    out.push(line);
                }
                if let EventKind::Exit { .. } = e.what {
                    self.forget(e);
                }
            }
            Message::Heartbeat(h) => {
                let gap = self.seq.heartbeat(h.instance, h.last_seq);
                out.extend(self.loss_line(gap, h.instance));
            }
            Message::Loss(l) => {
                out.push(format!("warning: tracer lost {} events ({})", l.count, l.source));
            }
            // The tracer's socket fault counts are for `secpolctl status`, not for the lines.
            Message::Faults(_) => {}
        }
        out
    }

    fn loss_line(&self, gap: Gap, instance: u64) -> Option<String> {
        match gap {
            Gap::Lost(n) => Some(format!("warning: lost {n} events (tracer instance {instance:x})")),
            Gap::NewInstance => Some(format!("warning: tracer restarted (instance {instance:x})")),
            Gap::None | Gap::First => None,
        }
    }

    fn class_shown(&self, what: &EventKind) -> bool {
        let o = &self.opts;
        match what {
            EventKind::Ability { probe, .. } => o.abilities && (!probe || o.format.verbose),
            EventKind::Connect { .. } | EventKind::CapCall { .. } => o.abilities,
            EventKind::Attach { .. } | EventKind::Link { .. } => o.paths,
            EventKind::Remote { .. } => o.remote,
            EventKind::Signal { .. } => o.signals,
            EventKind::Exec { .. } | EventKind::Exit { .. } => o.format.verbose && o.successes,
            EventKind::Unknown => false,
        }
    }

    fn name_shown(&self, e: &Event) -> bool {
        match &e.process.name {
            None => self.opts.unnamed && self.opts.names.is_empty(),
            Some(name) => {
                self.opts.names.is_empty()
                    || self.opts.names.iter().any(|f| {
                        name == f
                            || name.rsplit('/').next() == Some(f.as_str())
                            || name.trim_start_matches('/') == f
                    })
            }
        }
    }

    /// Whether this is the first time (for its process and phase) the event is seen.
    fn first_time(&mut self, e: &Event, line: &str) -> bool {
        if self.opts.repeats {
            return true;
        }
        let p = &e.process;
        let late = match (self.opts.reuse_after, &e.what) {
            (Some(after), EventKind::Ability { .. }) => {
                let start =
                    p.start_ns.unwrap_or_else(|| *self.first_seen_ns.entry(p.pid).or_insert(e.time_ns));
                e.time_ns.saturating_sub(start) as f64 / 1e9 > after
            }
            _ => false,
        };
        // The key is built in reused buffers and copied only when it is new: repeats,
        // the common case, allocate nothing.
        self.set_who(e);
        let (what, key_late) = &mut self.what;
        // What follows `(pid:N) `: the same event of the same process.
        what.clear();
        what.push_str(line.split_once(") ").map_or(line, |(_, rest)| rest));
        *key_late = late;
        match self.seen.get_mut(self.who.as_str()) {
            Some(known) if known.contains(&self.what) => false,
            Some(known) => known.insert(self.what.clone()),
            None => {
                self.seen.insert(self.who.clone(), HashSet::from([self.what.clone()]));
                true
            }
        }
    }

    /// Puts the `seen` key of the event's process (or name and type, with `-c`) in `who`.
    fn set_who(&mut self, e: &Event) {
        let p = &e.process;
        self.who.clear();
        if self.opts.combine {
            let _ = write!(self.who, "{}\0{}", p.name.as_deref().unwrap_or(""), p.type_name);
        } else {
            let _ = write!(self.who, "{}\0{}", p.pid, p.start_ns.unwrap_or(0));
        }
    }

    /// Forgets what was seen of a process that exited (its pid may come back as another).
    fn forget(&mut self, e: &Event) {
        self.first_seen_ns.remove(&e.process.pid);
        if !self.opts.combine {
            self.set_who(e);
            self.seen.remove(self.who.as_str());
        }
    }

    /// Processes (or names, with `-c`) whose first occurrences are remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    fn event_line(&mut self, e: &Event) -> Option<String> {
        if !self.class_shown(&e.what) || !self.name_shown(e) {
            return None;
        }
        if !self.opts.successes && !e.what.is_failure() {
            return None;
        }
        let plain = qnxlog::format_event(e, &FormatOptions { verbose: false, ..self.opts.format.clone() })?;
        if !self.first_time(e, &plain) {
            return None;
        }
        if self.opts.json {
            Some(secpol::record::to_json_line(e))
        } else if self.opts.format.verbose {
            qnxlog::format_event(e, &self.opts.format)
        } else {
            Some(plain)
        }
    }
}

/// Where a run's events come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Source {
    /// The local bus (the tracer's `events`).
    #[default]
    Local,
    /// A collector's fleet bus (`fleet`): every host, or one.
    Fleet {
        /// Only this host.
        host: Option<String>,
    },
}

/// One host's monitor on the fleet bus, and the prefix of its lines.
struct HostMonitor {
    monitor: Monitor,
    host: String,
    prefix: String,
}

/// The line of `host` for `line`: `HOST: line`; a JSON object gets a `host` field first.
fn host_line(prefix: &str, host: &str, line: &str) -> String {
    match line.strip_prefix('{') {
        Some(rest) => {
            let host = serde_json::to_string(host).unwrap_or_default();
            format!("{{\"host\":{host}{}{rest}", if rest.starts_with('}') { "" } else { "," })
        }
        None => format!("{prefix}{line}"),
    }
}

/// What a run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Lines printed.
    pub lines: u64,
    /// Events lost on the way.
    pub lost: u64,
    /// Malformed messages skipped.
    pub garbage: u64,
}

/// Prints the events of `source` to `out` until `shutdown` is set.
pub fn run(
    dir: &RuntimeDir,
    source: &Source,
    opts: Options,
    out: &mut dyn Write,
    shutdown: Arc<AtomicBool>,
) -> anyhow::Result<Summary> {
    if let Source::Fleet { host } = source {
        return run_fleet(dir, host.as_deref(), opts, out, shutdown);
    }
    // A user who may never read the stream is told so, instead of waiting for ever.
    dir.check_access(&dir.events_path())?;
    let ctx = zmq::Context::new();
    let sub = Subscriber::connect(&ctx, dir, &["ev."])?;
    secpol::systemd::notify_ready("subscribed to events");
    let mut monitor = Monitor::new(opts.with_default_classes());
    let mut summary = Summary::default();
    let mut reported_unknown = 0;
    while !shutdown.load(Ordering::Relaxed) {
        match sub.recv(200)? {
            Received::Message(msg) => {
                for line in monitor.handle(&msg) {
                    writeln!(out, "{line}")?;
                    out.flush()?;
                    summary.lines += 1;
                }
                if monitor.unknown_kinds() > reported_unknown {
                    reported_unknown = monitor.unknown_kinds();
                    log::warn!(
                        "skipped an event of a kind this version does not know ({reported_unknown} so far)"
                    );
                }
                if let Message::Event(e) = msg {
                    sub.recycle(e);
                }
            }
            Received::Garbage(e) => {
                summary.garbage += 1;
                log::warn!("ignored a malformed bus message: {e}");
            }
            Received::Timeout => {}
        }
    }
    summary.lost = monitor.lost();
    Ok(summary)
}

/// [`run`] on the fleet bus: one [`Monitor`] per host, lines prefixed with the host.
fn run_fleet(
    dir: &RuntimeDir,
    only: Option<&str>,
    opts: Options,
    out: &mut dyn Write,
    shutdown: Arc<AtomicBool>,
) -> anyhow::Result<Summary> {
    let path = dir.path().join(secpol::fleet::FLEET_BUS_FILE);
    dir.check_access(&path)?;
    let ctx = zmq::Context::new();
    let prefix = secpol::fleet::fleet_prefix(only);
    let sub = Subscriber::connect_endpoint(&ctx, &format!("ipc://{}", path.display()), &[&prefix])?;
    secpol::systemd::notify_ready("subscribed to the fleet");
    let opts = opts.with_default_classes();
    let mut hosts: HashMap<String, HostMonitor> = HashMap::new();
    let mut summary = Summary::default();
    let mut reported_unknown = 0;
    while !shutdown.load(Ordering::Relaxed) {
        match sub.recv_routed(200, secpol::fleet::split_fleet_topic)? {
            (Some(host), Received::Message(msg)) => {
                let h = hosts.entry(host).or_insert_with_key(|host| HostMonitor {
                    monitor: Monitor::new(opts.clone()),
                    host: host.clone(),
                    prefix: format!("{host}: "),
                });
                for line in h.monitor.handle(&msg) {
                    writeln!(out, "{}", host_line(&h.prefix, &h.host, &line))?;
                    out.flush()?;
                    summary.lines += 1;
                }
                let unknown: u64 = hosts.values().map(|h| h.monitor.unknown_kinds()).sum();
                if unknown > reported_unknown {
                    reported_unknown = unknown;
                    log::warn!("skipped an event of a kind this version does not know ({unknown} so far)");
                }
            }
            (host, Received::Garbage(e)) => {
                summary.garbage += 1;
                match host {
                    Some(host) => log::warn!("ignored a malformed fleet message from {host}: {e}"),
                    None => log::warn!("ignored a malformed fleet message: {e}"),
                }
            }
            (_, Received::Timeout) | (None, Received::Message(_)) => {}
        }
    }
    summary.lost = hosts.values().map(|h| h.monitor.lost()).sum();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_lines_carry_its_name() {
        assert_eq!(host_line("web1: ", "web1", "warning: lost 3 events"), "web1: warning: lost 3 events");
        assert_eq!(host_line("web1: ", "web1", r#"{"seq":1}"#), r#"{"host":"web1","seq":1}"#);
        assert_eq!(host_line("a\"b: ", "a\"b", "{}"), r#"{"host":"a\"b"}"#);
        let json: serde_json::Value = serde_json::from_str(&host_line("w: ", "w", r#"{"seq":1}"#)).unwrap();
        assert_eq!(json["host"], "w");
    }

    fn ev(seq: u64, line: &str) -> Message {
        ev_at(seq, seq, line)
    }

    fn ev_at(seq: u64, secs: u64, line: &str) -> Message {
        let mut e = qnxlog::parse_line(line).unwrap();
        e.instance = 1;
        e.seq = seq;
        e.time_ns = secs * 1_000_000_000;
        Message::Event(e)
    }

    const OK: &str = "info: sbin/devf-ram (pid:2809882) type fs_t uses ability IO as root";
    const FAIL: &str = "error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability PATHSPACE as root";

    fn lines(m: &mut Monitor, msgs: &[Message]) -> Vec<String> {
        msgs.iter().flat_map(|msg| m.handle(msg)).collect()
    }

    #[test]
    fn failures_only_and_first_only_by_default() {
        let mut m = Monitor::new(Options::default().with_default_classes());
        let got = lines(&mut m, &[ev(1, OK), ev(2, FAIL), ev(3, FAIL)]);
        assert_eq!(got, vec![FAIL.to_string()]);
    }

    #[test]
    fn successes_and_repeats_on_request() {
        let opts = Options { successes: true, repeats: true, ..Default::default() }.with_default_classes();
        let mut m = Monitor::new(opts);
        assert_eq!(lines(&mut m, &[ev(1, OK), ev(2, OK)]).len(), 2);
    }

    #[test]
    fn reuse_after_reports_again_late_in_life() {
        let opts = Options { successes: true, reuse_after: Some(5.0), ..Default::default() };
        let mut m = Monitor::new(opts.with_default_classes());
        // Seen at t=1 (start), again at t=3 (early: no), again at t=9 (late: yes), t=10 (no).
        let got = lines(&mut m, &[ev_at(1, 1, OK), ev_at(2, 3, OK), ev_at(3, 9, OK), ev_at(4, 10, OK)]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn combine_merges_processes_of_one_name() {
        let other = OK.replace("2809882", "77");
        let mut plain =
            Monitor::new(Options { successes: true, ..Default::default() }.with_default_classes());
        assert_eq!(lines(&mut plain, &[ev(1, OK), ev(2, &other)]).len(), 2);
        let opts = Options { successes: true, combine: true, ..Default::default() };
        let mut combined = Monitor::new(opts.with_default_classes());
        assert_eq!(lines(&mut combined, &[ev(1, OK), ev(2, &other)]).len(), 1);
    }

    #[test]
    fn names_filter_and_unnamed() {
        let unnamed = OK.replace("sbin/devf-ram", "(unnamed)");
        let opts = Options { successes: true, ..Default::default() }.with_default_classes();
        let mut m = Monitor::new(opts.clone());
        assert_eq!(lines(&mut m, &[ev(1, &unnamed)]).len(), 0);
        let mut m = Monitor::new(Options { unnamed: true, ..opts.clone() });
        assert_eq!(lines(&mut m, &[ev(1, &unnamed)]).len(), 1);
        let mut m = Monitor::new(Options { names: vec!["devf-ram".into()], ..opts.clone() });
        assert_eq!(lines(&mut m, &[ev(1, OK)]).len(), 1);
        let mut m = Monitor::new(Options { names: vec!["touch".into()], ..opts });
        assert_eq!(lines(&mut m, &[ev(1, OK)]).len(), 0);
    }

    #[test]
    fn classes_select_kinds() {
        let attach = "info: sbin/devf-ram (pid:2809882) of type fs_t attached channel to path /dev/fsF";
        let opts = Options { successes: true, abilities: true, ..Default::default() };
        let mut m = Monitor::new(opts.with_default_classes());
        assert_eq!(lines(&mut m, &[ev(1, OK), ev(2, attach)]).len(), 1);
    }

    #[test]
    fn an_exited_process_is_forgotten_and_its_pid_reported_afresh() {
        let exit = |seq| {
            let mut e =
                qnxlog::parse_line("info: sbin/devf-ram (pid:2809882) of type fs_t exited with status 0")
                    .unwrap();
            e.instance = 1;
            e.seq = seq;
            Message::Event(e)
        };
        let opts = Options { successes: true, ..Default::default() }.with_default_classes();
        let mut m = Monitor::new(opts);
        assert_eq!(lines(&mut m, &[ev(1, OK), ev(2, OK)]).len(), 1);
        assert_eq!(m.remembered(), 1);
        lines(&mut m, &[exit(3)]);
        assert_eq!(m.remembered(), 0, "a process that exited is still remembered");
        // The pid, used again, is a new process: its first use is a line again.
        assert_eq!(lines(&mut m, &[ev(4, OK)]).len(), 1);
        // With -c names are what is remembered, and they stay.
        let opts = Options { successes: true, combine: true, ..Default::default() };
        let mut m = Monitor::new(opts.with_default_classes());
        lines(&mut m, &[ev(1, OK), exit(2)]);
        assert_eq!(lines(&mut m, &[ev(3, OK)]).len(), 0);
    }

    #[test]
    fn gaps_print_loss_lines() {
        let opts = Options { successes: true, repeats: true, ..Default::default() };
        let mut m = Monitor::new(opts.with_default_classes());
        let got = lines(&mut m, &[ev(1, OK), ev(4, OK)]);
        assert_eq!(got[1], "warning: lost 2 events (tracer instance 1)");
        assert_eq!(got.len(), 3);
        assert_eq!(m.lost(), 2);
    }
}
