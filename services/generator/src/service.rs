//! The service loop: events from the bus in, outputs and state out, control requests answered.
//!
//! One thread does everything, so no lock is taken per event: it drains the bus in batches,
//! answers control requests between batches, and rewrites the outputs and the state file when
//! something changed and the flush interval (`-f`) has passed. SIGTERM/SIGINT set `shutdown`
//! (outputs and state are written one last time); SIGHUP sets `reload` (the configuration is
//! read again; a bad one is reported and the old one kept).

use std::os::unix::fs::DirBuilderExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secpol::bus::{BusError, SeqTracker, Subscriber};
use secpol::config::Config;
use secpol::control::{self, ClearTarget, Incoming, LoadReport, Request, Response, Status};
use secpol::endpoint::RuntimeDir;
use secpol::process::now_ns;
use secpol::wire::{Message, SocketFaults, EVENT_PREFIX};
use secpol::{qnxlog, record, Event};

use crate::base::{Base as _, BasePolicy};
use crate::collector::{Collector, FleetSettings, FleetSink};
use crate::files::{WriteProblems, OUTPUT_DIR_MODE, OUTPUT_MODE, STATE_MODE};
use crate::learn::{LearnOptions, Learner, Outcome, TypeMode};
use crate::output::{self, Rendered};
use crate::state;
use crate::store::ValueRef;

/// Default output directory.
pub const DEFAULT_OUTPUT_DIR: &str = "/run/secpolgenerate";
/// Environment variable naming the output directory.
pub const OUTPUT_DIR_ENV: &str = "SECPOL_OUTPUT_DIR";
/// Default base policy.
pub const DEFAULT_BASE_POLICY: &str = "/etc/secpol/policy";
/// Most messages taken from the bus before control requests and timers get a turn.
const BATCH: usize = 4096;
/// Longest idle wait of the main loop, in milliseconds: a signal that comes just before a
/// wait is seen at its end.
const IDLE_WAIT_MS: i64 = 500;

/// How the generator runs: the command line, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the bus and control sockets are.
    pub runtime_dir: RuntimeDir,
    /// Where `policy`, `unused`, `errors` and `protect` are written.
    pub output_dir: PathBuf,
    /// `-c`: configuration file.
    pub config_file: Option<PathBuf>,
    /// `-f`: outputs and state are flushed at most this often after a change.
    pub flush: Duration,
    /// `-L`: most failures kept in `errors`.
    pub max_logs: usize,
    /// `-l`: new failures to syslog.
    pub syslog: bool,
    /// `-v`: new failures to stderr.
    pub verbose: bool,
    /// `-N`: no base policy.
    pub scratch: bool,
    /// `-n`: names, not numbers, in the state file.
    pub names: bool,
    /// `-S`: base policy file; `None` means the default, which may be missing.
    pub base_policy: Option<PathBuf>,
    /// `-s`: state file.
    pub state_file: Option<PathBuf>,
    /// `-u`, `-t`, `-T all_connect`.
    pub learn: LearnOptions,
    /// `-T zero_id`: the published policy has id 0.
    pub zero_id: bool,
    /// `--listen`: collect from a fleet of hosts (docs/fleet.md).
    pub fleet: Option<FleetSettings>,
}

impl Settings {
    /// Settings with every option at its default, for `runtime_dir` and `output_dir`.
    pub fn new(runtime_dir: RuntimeDir, output_dir: PathBuf) -> Self {
        Settings {
            runtime_dir,
            output_dir,
            config_file: None,
            flush: Duration::from_secs(1),
            max_logs: 100,
            syslog: false,
            verbose: false,
            scratch: false,
            names: false,
            base_policy: None,
            state_file: None,
            learn: LearnOptions::default(),
            zero_id: false,
            fleet: None,
        }
    }

    /// The id of the published policy: 1, or 0 with `-T zero_id`.
    pub fn policy_id(&self) -> u32 {
        if self.zero_id {
            0
        } else {
            1
        }
    }

    /// The output directory given, else `$SECPOL_OUTPUT_DIR`, else the default.
    pub fn resolve_output_dir(arg: Option<PathBuf>) -> PathBuf {
        arg.or_else(|| std::env::var_os(OUTPUT_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT_DIR))
    }
}

/// Counters of a run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Events applied (bus and loads).
    pub events_seen: u64,
    /// Events lost on the way (sequence gaps, tracer-side losses).
    pub events_lost: u64,
    /// Undecodable bus messages.
    pub garbage: u64,
    /// Failure events.
    pub failure_events: u64,
}

/// The generator: learner, settings and counters; everything but the sockets.
pub struct Generator {
    /// The learner.
    pub learner: Learner<BasePolicy>,
    /// The settings.
    pub settings: Settings,
    /// Counters.
    pub counters: Counters,
    seq: SeqTracker,
    started: Instant,
    last_save: Option<Instant>,
    /// Faults on the control socket.
    pub faults: secpol::fault::FaultLog,
    /// What the tracer last said about faults on its sockets, and when.
    tracer_faults: Option<(SocketFaults, Instant)>,
    /// Files that could not be written.
    writes: WriteProblems,
    /// `policy`, `unused` and `protect` must be rewritten.
    dirty_policy: bool,
    /// `errors` must be rewritten.
    dirty_errors: bool,
    state_dirty: bool,
    /// How long rendering `policy` and `unused` last took, and when it ended.
    render_cost: Duration,
    rendered_at: Instant,
}

impl Generator {
    /// Loads the base policy and the configuration, restores the state file, and writes
    /// the outputs once.
    pub fn start(settings: Settings) -> anyhow::Result<Generator> {
        let base = if settings.scratch {
            BasePolicy::empty()
        } else {
            match &settings.base_policy {
                Some(p) => BasePolicy::load(p)?,
                None => {
                    let p = std::path::Path::new(DEFAULT_BASE_POLICY);
                    if p.exists() {
                        BasePolicy::load(p)?
                    } else {
                        log::warn!("no base policy at {DEFAULT_BASE_POLICY}; starting from an empty one");
                        BasePolicy::empty()
                    }
                }
            }
        };
        let config = match &settings.config_file {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        settings.runtime_dir.prepare()?;
        // Mode 0755 even under umask 0: a directory others may write is one where they may
        // rename a policy of their own over the generator's.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(OUTPUT_DIR_MODE)
            .create(&settings.output_dir)
            .with_context(|| format!("cannot create output directory {}", settings.output_dir.display()))?;
        let mut g = Generator {
            learner: Learner::new(base, settings.learn.clone(), config),
            settings,
            counters: Counters::default(),
            seq: SeqTracker::default(),
            started: Instant::now(),
            last_save: None,
            faults: Default::default(),
            tracer_faults: None,
            writes: WriteProblems::default(),
            dirty_policy: true,
            dirty_errors: true,
            state_dirty: false,
            render_cost: Duration::ZERO,
            rendered_at: Instant::now(),
        };
        if let Some(path) = g.settings.state_file.clone() {
            g.restore(&path)?;
        }
        // Outputs that cannot be written yet are retried at every flush, as while running.
        if let Err(e) = g.flush() {
            log::debug!("{e:#}");
        }
        Ok(g)
    }

    /// Restores the state file at start, or refuses to start: a state file that cannot be
    /// read whole (unreadable, not UTF-8, a bad line, cut short) is left exactly as it is,
    /// never replaced by what little could be read, and the error names `FILE:LINE`.
    fn restore(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let name = path.display().to_string();
        let keep =
            "refusing to start; the state file is left as it is (repair it, or move it away to start empty)";
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => anyhow::bail!("cannot read state file {name}: {e}; {keep}"),
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                let good = &bytes[..e.valid_up_to()];
                let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
                let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
                anyhow::bail!("{name}:{line}:{col}: state file: invalid UTF-8; {keep}");
            }
        };
        // Read once: with any problem this generator is dropped unused, so nothing it half
        // restored is ever written.
        let mut report = self.load_state(&name, text);
        if !report.problems.is_empty() {
            report.problems.push(format!("state file {name}: {keep}"));
            anyhow::bail!("{}", report.problems.join("\n"));
        }
        log::info!("restored {} records from {name}", report.applied);
        // Restoring changes nothing on disk.
        self.state_dirty = false;
        Ok(())
    }

    fn load_state(&mut self, name: &str, text: &str) -> state::ReadReport {
        let report = state::read(name, text, &mut self.learner.store);
        self.learner.store_changed();
        for t in &report.admitted {
            if !self.learner.admit(t) {
                log::warn!("{name}: type {t} is beyond the -t limit of new types");
            }
        }
        // Types learned before a restart stay admitted.
        let learned: Vec<String> =
            self.learner.store.types_sorted().iter().map(|(t, _)| t.to_string()).collect();
        for t in learned {
            if !self.learner.base().has_type(&t) && !self.learner.admitted().contains(&t) {
                let r = self.learner.store.get(&t);
                if r.is_some_and(|r| !r.no_uses()) {
                    self.learner.admit(&t);
                }
            }
        }
        self.mark_dirty();
        report
    }

    fn mark_dirty(&mut self) {
        self.dirty_policy = true;
        self.dirty_errors = true;
        self.state_dirty = true;
    }

    /// Applies one event.
    pub fn apply(&mut self, e: &Event) {
        self.counters.events_seen += 1;
        let admitted = self.learner.admitted().len();
        // Only events without a time (QNX logs) need the clock.
        let outcome = self.learner.apply(e, if e.time_ns == 0 { now_ns() } else { 0 });
        if self.learner.admitted().len() != admitted {
            self.dirty_policy = true;
            self.state_dirty = true;
        }
        if let Outcome::Failed { new, .. } = &outcome {
            self.counters.failure_events += 1;
            if *new && (self.settings.verbose || self.settings.syslog) {
                let line = qnxlog::format_event(e, &qnxlog::FormatOptions::default())
                    .unwrap_or_else(|| format!("{e:?}"));
                if self.settings.verbose {
                    eprintln!("secpolgenerate: {line}");
                }
                if self.settings.syslog {
                    crate::syslog::failure(e, &line);
                }
            }
        }
        match outcome {
            Outcome::Failed { .. } => {
                self.dirty_errors = true;
                self.state_dirty = true;
            }
            Outcome::Used { changed: true } => {
                self.dirty_policy = true;
                self.state_dirty = true;
            }
            Outcome::Used { changed: false } | Outcome::Ignored => {}
        }
    }

    /// Applies one event from a fleet host (`None`: the local bus): what it teaches is
    /// recorded with the host in its provenance.
    pub fn apply_from(&mut self, host: Option<Arc<str>>, e: &Event) {
        self.learner.store.set_host(host);
        self.apply(e);
        self.learner.store.set_host(None);
    }

    /// Whether everything applied is in the state file (always, without one).
    pub fn saved(&self) -> bool {
        !self.state_dirty || self.settings.state_file.is_none()
    }

    /// Handles one bus message; an event is given back (the subscriber reuses its strings).
    pub fn message(&mut self, m: Message) -> Option<Event> {
        match m {
            Message::Event(e) => {
                self.seq.event(e.instance, e.seq);
                self.apply(&e);
                return Some(e);
            }
            Message::Heartbeat(h) => {
                self.seq.heartbeat(h.instance, h.last_seq);
            }
            Message::Loss(l) => self.counters.events_lost += l.count,
            Message::Faults(f) => self.tracer_faults = Some((f, Instant::now())),
        }
        None
    }

    /// Events lost so far.
    pub fn lost(&self) -> u64 {
        self.seq.lost() + self.counters.events_lost
    }

    /// Renders the outputs from the current state.
    pub fn render(&self) -> Rendered {
        output::render(
            &self.learner,
            &output::RenderOptions { max_logs: self.settings.max_logs, policy_id: self.settings.policy_id() },
        )
    }

    /// Writes one output; whether it was written.
    fn write_output(&mut self, name: &str, text: &str) -> bool {
        let path = self.settings.output_dir.join(name);
        self.writes.write("output", &path, text.as_bytes(), OUTPUT_MODE)
    }

    /// The periodic flush (every `-f`): like [`flush`](Self::flush), but `policy` and `unused`,
    /// whose rendering grows with the number of types, wait until four times their last
    /// rendering time has passed, so rendering never takes more than a fifth of the time.
    pub fn flush_due(&mut self) -> anyhow::Result<()> {
        let policy_due = self.rendered_at.elapsed() >= self.render_cost * 4;
        self.flush_some(policy_due)
    }

    /// Rewrites the outputs that changed and saves the state if anything changed.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.flush_some(true)
    }

    /// Each file is tried on its own: one that cannot be written (a read-only or full file
    /// system) stays due and is tried again at the next flush, while what was learned stays
    /// in memory; the error lists every file not written.
    fn flush_some(&mut self, policy_due: bool) -> anyhow::Result<()> {
        if self.dirty_policy && policy_due {
            let started = Instant::now();
            let policy = output::render_policy(&self.learner, self.settings.policy_id());
            let unused = output::render_unused(&self.learner);
            let protect = output::render_protect(&self.learner);
            self.render_cost = started.elapsed();
            let mut written = self.write_output("policy", &policy);
            written &= self.write_output("unused", &unused);
            written &= self.write_output("protect", &protect);
            // The preload reads the protect list from the runtime directory.
            let path = self.settings.runtime_dir.path().join(secpol::preload_proto::PROTECT_FILE);
            written &= self.writes.write("protect list", &path, protect.as_bytes(), OUTPUT_MODE);
            self.dirty_policy = !written;
            self.rendered_at = Instant::now();
        }
        if self.dirty_errors {
            let errors = output::render_errors(&self.learner, self.settings.max_logs);
            self.dirty_errors = !self.write_output("errors", &errors);
        }
        if self.state_dirty {
            self.save_state();
        }
        if self.writes.is_empty() {
            Ok(())
        } else {
            anyhow::bail!(
                "not written (kept in memory, retried at every flush): {}",
                self.writes.list().join("; ")
            )
        }
    }

    /// Saves the state file now (if there is one); a failure is noted and the state stays
    /// due, to be saved at the next flush.
    fn save_state(&mut self) {
        if let Some(path) = self.settings.state_file.clone() {
            let admitted: Vec<&str> = self.learner.admitted().iter().map(String::as_str).collect();
            let text = state::write(&self.learner.store, &admitted, self.settings.names);
            if !self.writes.write("state file", &path, text.as_bytes(), STATE_MODE) {
                return;
            }
            self.last_save = Some(Instant::now());
        }
        self.state_dirty = false;
    }

    /// Re-reads the configuration file (SIGHUP). A bad file is reported and the old kept.
    pub fn reload_config(&mut self) {
        let Some(path) = &self.settings.config_file else { return };
        match Config::load(path) {
            Ok(c) => {
                log::info!("reloaded {}", path.display());
                self.learner.set_config(c);
                self.mark_dirty();
            }
            Err(e) => log::error!("keeping the previous configuration: {e}"),
        }
    }

    /// Applies a state file or an event log (`load`).
    pub fn load(&mut self, name: &str, text: &str) -> LoadReport {
        if state::is_state(text) {
            let r = self.load_state(name, text);
            return LoadReport { format: "state".into(), applied: r.applied, problems: r.problems };
        }
        let mut report = LoadReport { format: "event log".into(), ..Default::default() };
        for (line, result) in record::read_events(text) {
            match result {
                Ok(e) => {
                    self.apply(&e);
                    report.applied += 1;
                }
                Err(why) => report.problems.push(format!("{name}:{line}: {why}")),
            }
        }
        report
    }

    /// The status counters.
    pub fn status(&self) -> Status {
        let s = &self.settings;
        Status {
            pid: std::process::id(),
            uptime_s: self.started.elapsed().as_secs(),
            events_seen: self.counters.events_seen,
            events_lost: self.lost(),
            garbage: self.counters.garbage,
            types: self.type_count() as u64,
            failures: self.learner.store.failure_count() as u64,
            failure_events: self.counters.failure_events,
            refused_types: self.learner.refused_events,
            mode: self.learner.default_mode().to_string(),
            protect: self.learner.config().protected(),
            policy_id: s.policy_id(),
            output_dir: s.output_dir.display().to_string(),
            state_file: s.state_file.as_ref().map(|p| p.display().to_string()),
            last_save_s: self.last_save.map(|t| t.elapsed().as_secs()),
            socket_faults: self.faults.counts(),
            tracer_faults: self.tracer_faults.as_ref().map(|(f, _)| f.counts.clone()).unwrap_or_default(),
            tracer_faults_age_s: self.tracer_faults.as_ref().map(|(_, at)| at.elapsed().as_secs()),
            write_problems: self.writes.list(),
            ..Default::default()
        }
    }

    fn type_count(&self) -> usize {
        let base = self.learner.base().type_count();
        base + self
            .learner
            .store
            .types()
            .filter(|(t, r)| !self.learner.base().has_type(t) && !r.no_uses())
            .count()
    }

    /// How `secpolctl on` starts a process of `type_name` (see [`control::LaunchPlan`]).
    fn launch_plan(&mut self, type_name: &str) -> Response {
        if !secpol::config::is_type_name(type_name) {
            return Response::Error { message: format!("invalid type name {type_name:?}") };
        }
        let policy_id = self.settings.policy_id();
        let mode = self.learner.mode(type_name);
        let mut plan = control::LaunchPlan {
            type_name: type_name.to_string(),
            mode: match mode {
                TypeMode::Unrestricted => control::LaunchMode::Unrestricted,
                TypeMode::Restricted => control::LaunchMode::Restricted,
                TypeMode::Refused => control::LaunchMode::Refused,
            },
            policy_id,
            ..Default::default()
        };
        match mode {
            TypeMode::Restricted | TypeMode::Refused => {
                plan.policy = output::render_policy(&self.learner, policy_id);
            }
            TypeMode::Unrestricted => {
                if let Some(opts) = self.learner.config().type_options(type_name) {
                    for d in &opts.deny {
                        plan.drop_nonroot.push(d.ability.clone());
                        if !d.nonroot_only {
                            plan.drop_root.push(d.ability.clone());
                        }
                    }
                    let base = self.learner.base();
                    for k in &opts.keep {
                        if !base.allows_ability(type_name, true, k, ValueRef::None) {
                            plan.drop_root.push(k.clone());
                        }
                        if !base.allows_ability(type_name, false, k, ValueRef::None) {
                            plan.drop_nonroot.push(k.clone());
                        }
                    }
                }
            }
        }
        for v in [&mut plan.drop_root, &mut plan.drop_nonroot] {
            v.sort();
            v.dedup();
        }
        Response::Launch(plan)
    }

    /// Answers one control request.
    pub fn handle(&mut self, req: Request) -> Response {
        let result = match req {
            Request::Status => return Response::Status(self.status()),
            Request::Show { output } => {
                let text = match output {
                    control::Output::Policy => {
                        output::render_policy(&self.learner, self.settings.policy_id())
                    }
                    control::Output::Unused => output::render_unused(&self.learner),
                    control::Output::Errors => output::render_errors(&self.learner, self.settings.max_logs),
                };
                return Response::Text { text };
            }
            Request::Clear { target } => {
                match target {
                    ClearTarget::Used => self.learner.store.clear_used(),
                    ClearTarget::Errors => self.learner.store.clear_errors(),
                }
                self.mark_dirty();
                let what = if target == ClearTarget::Used { "used" } else { "errors" };
                self.flush()
                    .map(|()| Response::Done { message: format!("cleared {what}") })
                    .with_context(|| format!("cleared {what} in memory"))
            }
            Request::Load { name, text } => {
                let mut report = self.load(&name, &text);
                // Applied in memory either way; a file not written is a problem to report.
                if let Err(e) = self.flush() {
                    report.problems.push(format!("{e:#}"));
                }
                Ok(Response::Loaded(report))
            }
            Request::Save => {
                self.mark_dirty();
                self.flush().map(|()| Response::Done { message: "saved".into() })
            }
            Request::Launch { type_name } => return self.launch_plan(&type_name),
        };
        result.unwrap_or_else(|e| Response::Error { message: format!("{e:#}") })
    }
}

impl FleetSink for Generator {
    fn apply_from_host(&mut self, host: Arc<str>, e: &Event) {
        self.apply_from(Some(host), e);
    }

    fn count_garbage(&mut self) {
        self.counters.garbage += 1;
    }
}

/// A signal interrupting a wait is no error: the loop looks at its flags next.
fn interrupted_is_idle<T>(r: Result<T, BusError>, idle: T) -> Result<T, BusError> {
    match r {
        Err(BusError::Io { source: zmq::Error::EINTR, .. }) => Ok(idle),
        other => other,
    }
}

/// Runs the generator until `shutdown` is set; `reload` asks for the configuration to be
/// read again.
pub fn run(
    settings: Settings,
    shutdown: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
) -> anyhow::Result<Counters> {
    let ctx = zmq::Context::new();
    let dir = settings.runtime_dir.clone();
    let fleet = settings.fleet.clone();
    let mut g = Generator::start(settings)?;
    let sub = Subscriber::connect(&ctx, &dir, &[EVENT_PREFIX])?;
    let mut collector = match &fleet {
        Some(f) => Some(Collector::start(&ctx, f, &dir)?),
        None => None,
    };
    let mut server = control::Server::bind(&ctx, &dir)?;
    // `Type=notify`: the state is restored and the control socket answers.
    secpol::systemd::notify_ready("state restored, control socket bound");
    let mut last_flush = Instant::now();
    while !shutdown.load(Ordering::Relaxed) {
        if reload.swap(false, Ordering::Relaxed) {
            g.reload_config();
        }
        // The bus, the control socket and the collector are waited on together, then each is
        // drained without waiting; what is left of a batch already received is taken at once.
        // Idle, the loop wakes for the next flush or after IDLE_WAIT_MS, not more often.
        if !sub.has_pending() {
            let due = g.settings.flush.saturating_sub(last_flush.elapsed());
            let wait = due.as_millis().clamp(1, IDLE_WAIT_MS as u128) as i64;
            let polled = match &collector {
                Some(c) => zmq::poll(&mut [sub.poll_item(), server.poll_item(), c.poll_item()], wait),
                None => zmq::poll(&mut [sub.poll_item(), server.poll_item()], wait),
            };
            if let Err(e) = polled {
                if e != zmq::Error::EINTR {
                    return Err(BusError::Io { op: "poll", source: e }.into());
                }
            }
        }
        if let Some(c) = collector.as_mut() {
            c.drain(&mut g, BATCH);
        }
        let drained = sub.drain(0, BATCH, |m| match m {
            Ok(m) => {
                if let Some(e) = g.message(m) {
                    sub.recycle(e);
                }
            }
            Err(e) => {
                g.counters.garbage += 1;
                log::warn!("skipping a bad bus message: {e}");
            }
        });
        interrupted_is_idle(drained, 0)?;
        loop {
            match interrupted_is_idle(server.recv(0), Incoming::Idle)? {
                Incoming::Request(req) => {
                    let mut resp = g.handle(req);
                    if let (Response::Status(s), Some(c)) = (&mut resp, &collector) {
                        c.fill_status(s);
                    }
                    // The asker may be gone already; the next one must still be answered.
                    if let Err(e) = server.reply(&resp) {
                        g.faults.record("control", "reply failed", &e);
                    }
                }
                Incoming::Rejected(e) => g.faults.record("control", e.fault_kind(), &e),
                Incoming::Idle => break,
            }
        }
        server.drain_faults(&mut g.faults);
        if last_flush.elapsed() >= g.settings.flush {
            // Each file that cannot be written is logged (rate-limited) and shown in status.
            if let Err(e) = g.flush_due() {
                log::debug!("{e:#}");
            }
            g.faults.tick();
            last_flush = Instant::now();
        }
        if let Some(c) = collector.as_mut() {
            c.acknowledge(g.saved());
        }
    }
    g.mark_dirty();
    g.flush()?;
    if let Some(c) = collector.as_mut() {
        c.acknowledge(g.saved());
    }
    drop(collector);
    let _ = std::fs::remove_file(dir.path().join(secpol::fleet::FLEET_BUS_FILE));
    let _ = std::fs::remove_file(dir.control_path());
    Ok(g.counters)
}
