//! `secpoltrace`: turns what the kernel, the preload library and replayed files report
//! into normalised events on the bus.
//!
//! Sources run on their own threads and send [`source::Item`]s into one channel. The
//! publishing loop ([`run`]) owns the ZeroMQ socket: it stamps each event with this
//! instance's id and the next sequence number, records it when asked, publishes it, and
//! sends a heartbeat when idle so subscribers notice losses and restarts.
//!
//! Replays start once the subscribers that were waiting have arrived: with
//! `--wait-subscribers N` once N are attached, otherwise when no new one has come for
//! [`SUBSCRIBER_SETTLE`] (at most [`SUBSCRIBER_SETTLE_MAX`]), so "monitors first, then the
//! tracer" needs no option. A subscriber that comes later sees the stream from where it
//! joined (a loss line if it missed the middle of one, never a silent gap).

pub mod forward;
pub mod ingest;
pub mod kernel;
pub mod replay;
pub mod source;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::RecvTimeoutError;
use secpol::bus::{Publisher, RECONNECT_INTERVAL_MAX};
use secpol::endpoint::RuntimeDir;
use secpol::event::Event;
use secpol::wire::{Batch, Heartbeat, Message, SourceLoss};

use secpol::process::now_ns;

use crate::source::Item;

/// How the tracer runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the sockets live.
    pub runtime_dir: RuntimeDir,
    /// Watch the kernel.
    pub kernel: bool,
    /// Report every check, not only the first per process, type, ability, domain and verdict.
    pub repeat: bool,
    /// Listen for the preload library's datagrams.
    pub ingest: bool,
    /// Files to replay, in order.
    pub replays: Vec<PathBuf>,
    /// Pause between replayed events.
    pub pace: Duration,
    /// Before replaying, wait until this many subscribers are attached (0: until no new
    /// one has arrived for [`SUBSCRIBER_SETTLE`])...
    pub wait_subscribers: usize,
    /// ...but no longer than this.
    pub wait_timeout: Duration,
    /// Exit once the replays are done (instead of running until signalled).
    pub once: bool,
    /// Append every published event to this file (JSON lines).
    pub record: Option<PathBuf>,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// How cgroups name types: `secpol/<type>`, units and containers, configured mappings.
    pub naming: secpol::cgroup_types::Naming,
    /// Also send everything to a fleet collector (`--forward`).
    pub forward: Option<forward::ForwardConfig>,
    /// At the end, how long to wait for the collector to acknowledge what was forwarded.
    pub forward_linger: Duration,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Events published.
    pub published: u64,
    /// Events lost before publishing (counted by sources).
    pub lost: u64,
    /// Unreadable replay lines and files.
    pub unreadable: u64,
    /// What forwarding did (with `--forward`).
    pub forwarded: Option<forward::ForwardStats>,
}

/// Before a replay, how long no new subscriber must have arrived: a subscriber started
/// before the tracer retries at least every [`RECONNECT_INTERVAL_MAX`], so one that was
/// waiting shows up within this.
pub const SUBSCRIBER_SETTLE: Duration =
    Duration::from_millis(RECONNECT_INTERVAL_MAX.as_millis() as u64 + 150);
/// The longest wait for subscribers to settle before a replay.
pub const SUBSCRIBER_SETTLE_MAX: Duration = Duration::from_secs(2);

/// Waits until no new subscriber has arrived for `quiet`, at most `max`. Returns how many
/// are attached.
fn settle_subscribers(publisher: &mut Publisher, quiet: Duration, max: Duration) -> usize {
    let start = Instant::now();
    let mut last_arrival = start;
    let mut attached = publisher.subscribers();
    loop {
        let now = Instant::now();
        let left = (last_arrival + quiet).min(start + max).saturating_duration_since(now);
        if left.is_zero() {
            return attached;
        }
        let n = publisher.wait_for_subscribers(attached + 1, left);
        if n > attached {
            last_arrival = Instant::now();
        }
        attached = n;
    }
}

/// Mode of a recording the tracer creates, even under umask 0: anyone may read it, only the
/// tracer write it (a stricter umask takes more away; an existing file keeps its mode).
const RECORDING_MODE: u32 = 0o644;

/// A random-enough instance id: time and pid mixed.
fn new_instance_id() -> u64 {
    let t = now_ns();
    let pid = u64::from(std::process::id());
    (t ^ (pid << 48) ^ (pid << 17)).max(1)
}

/// Most queued items the publishing loop takes at once before it looks at the clock and
/// its flags again.
const DRAIN_MAX: usize = 1024;

/// Where published messages go: the bus, in batches of what was queued together, and the
/// forwarder, which gets every message first (it buffers it, so a full bus queue does not
/// keep it from the collector).
struct Outlet {
    publisher: Publisher,
    forwarder: Option<forward::Forwarder>,
    batch: Batch,
    /// Published events go back to the kernel source for reuse (when it runs).
    spares: Option<crossbeam_channel::Sender<Event>>,
}

impl Outlet {
    /// Adds an event to the batch, sending the batch first when the event does not fit.
    fn event(&mut self, event: Event) {
        let msg = Message::Event(event);
        if let Some(f) = self.forwarder.as_mut() {
            f.push(&msg);
        }
        let Message::Event(event) = msg else { unreachable!("an event was wrapped above") };
        let pushed = match self.batch.push(&event) {
            Ok(false) => {
                self.flush();
                self.batch.push(&event)
            }
            other => other,
        };
        if let Err(e) = pushed {
            log::debug!("publish: {e}");
        }
        if let Some(spares) = &self.spares {
            // Full: the source has enough; this one is dropped.
            let _ = spares.try_send(event);
        }
    }

    /// Sends the batch, if it holds anything.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if let Err(e) = self.publisher.send_batch(&self.batch) {
            // A full queue drops; subscribers see the gap. Other errors are worth a line.
            log::debug!("publish: {e}");
        }
        self.batch.clear();
    }

    /// Publishes a message of its own, after the events before it.
    fn publish(&mut self, msg: &Message) {
        self.flush();
        if let Some(f) = self.forwarder.as_mut() {
            f.push(msg);
        }
        if let Err(e) = self.publisher.send(msg) {
            log::debug!("publish: {e}");
        }
    }
}

/// Runs the tracer until `shutdown` is set (or, with `once`, the replays are done).
pub fn run(config: Config, shutdown: Arc<AtomicBool>) -> anyhow::Result<Summary> {
    // The runtime directory at once: services started beside the tracer (a generator that
    // may not create it itself) need it before the socket is there.
    config.runtime_dir.prepare()?;
    // 8192 events (about 2 MB, allocated up front): with the kernel's ring buffer of 8192
    // records behind it, a burst of 16384 records waits for the publisher; beyond that the
    // kernel counts what it drops.
    let (sink, items) = crossbeam_channel::bounded::<Item>(8192);
    let mut handles = Vec::new();
    let mut give_back_spares = None;
    let waker = Arc::new(source::Waker::new().context("cannot make an eventfd")?);
    // The kernel's programs are attached before `events` exists, so a subscriber (or a boot
    // script waiting for the socket) that finds it misses no check made after that; what the
    // kernel reports meanwhile waits in the channel.
    if config.kernel {
        let opts = kernel::KernelOptions { repeat: config.repeat, naming: config.naming.clone() };
        let (give_back, spares) = crossbeam_channel::bounded(source::SPARES);
        handles.push(kernel::start(&opts, sink.clone(), spares, shutdown.clone(), waker.clone())?);
        give_back_spares = Some(give_back);
    }
    let ctx = zmq::Context::new();
    let publisher = Publisher::bind(&ctx, &config.runtime_dir)?;
    let mut recorder = match &config.record {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(RECORDING_MODE)
                .open(path)
                .with_context(|| format!("cannot open recording {}", path.display()))?,
        )),
        None => None,
    };
    let instance = new_instance_id();
    let forwarder =
        config.forward.as_ref().map(|f| forward::Forwarder::connect(&ctx, f, instance)).transpose()?;
    let mut out = Outlet { publisher, forwarder, batch: Batch::new(), spares: give_back_spares };
    log::info!("instance {instance:x} publishing on {}", config.runtime_dir.events_endpoint());
    // `Type=notify`: the kernel's programs are attached and `events` is bound, so a unit
    // ordered after this one misses no check.
    secpol::systemd::notify_ready(if config.kernel {
        "kernel programs attached, events bound"
    } else {
        "events bound"
    });

    if config.wait_subscribers > 0 {
        let n = out.publisher.wait_for_subscribers(config.wait_subscribers, config.wait_timeout);
        if n < config.wait_subscribers {
            log::warn!("only {n} of {} subscribers attached; going on", config.wait_subscribers);
        }
    } else if !config.replays.is_empty() {
        let n = settle_subscribers(&mut out.publisher, SUBSCRIBER_SETTLE, SUBSCRIBER_SETTLE_MAX);
        log::info!("{n} subscribers attached before the replay");
    }

    let replay_done = Arc::new(AtomicBool::new(config.replays.is_empty()));
    let unreadable = Arc::new(std::sync::atomic::AtomicU64::new(0));
    if !config.replays.is_empty() {
        let opts = replay::Options { files: config.replays.clone(), pace: config.pace };
        handles.push(replay::start(
            opts,
            sink.clone(),
            shutdown.clone(),
            replay_done.clone(),
            unreadable.clone(),
        ));
    }
    if config.ingest {
        handles.push(ingest::start(
            &config.runtime_dir,
            sink.clone(),
            shutdown.clone(),
            waker.clone(),
            out.publisher.fault_log(),
            config.naming.clone(),
        )?);
    }
    // Without --once the tracer runs until signalled, sources or not.
    let _keep_open = (!config.once).then(|| sink.clone());
    // A signal wakes the loop at once; not with --once, whose end comes from the sources
    // (their sinks closing), which this one would outlive.
    let signals = if config.once { None } else { SignalWake::start(&sink, &shutdown) };
    drop(sink);
    // How long the loop waits when nothing comes: until the next heartbeat when a signal
    // wakes it (SignalWake) and nothing else needs a turn; else 200 ms, at which it looks at
    // the shutdown flag, the forwarder and (with --once) whether the replays are done.
    let tick = |last_beat: Instant, forwarding: bool| {
        if signals.is_none() || forwarding {
            return config.heartbeat.min(Duration::from_millis(200));
        }
        config.heartbeat.saturating_sub(last_beat.elapsed()).max(Duration::from_millis(1))
    };

    let mut summary = Summary::default();
    let mut seq = 0u64;
    let mut last_beat = Instant::now();
    loop {
        if shutdown.load(Ordering::Relaxed) {
            break;
        }
        match items.recv_timeout(tick(last_beat, out.forwarder.is_some())) {
            Ok(first) => {
                // What else is queued goes out with it, in batches (never waiting for more).
                let mut next = Some(first);
                let mut taken = 0;
                while let Some(item) = next.take() {
                    match item {
                        Item::Event(mut event) => {
                            seq += 1;
                            event.instance = instance;
                            event.seq = seq;
                            if event.time_ns == 0 {
                                event.time_ns = now_ns();
                            }
                            if let Some(rec) = recorder.as_mut() {
                                writeln!(rec, "{}", secpol::record::to_json_line(&event))
                                    .context("recording failed")?;
                            }
                            out.event(event);
                            summary.published += 1;
                        }
                        Item::Wake => {}
                        Item::Loss { count, source } => {
                            summary.lost += count;
                            out.publish(&Message::Loss(SourceLoss {
                                instance,
                                count,
                                source: source.to_string(),
                            }));
                        }
                    }
                    taken += 1;
                    if taken < DRAIN_MAX {
                        next = items.try_recv().ok();
                    }
                }
                out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_beat.elapsed() >= config.heartbeat {
            last_beat = Instant::now();
            out.publish(&Message::Heartbeat(Heartbeat { instance, last_seq: seq, time_ns: now_ns() }));
            if let Some(rec) = recorder.as_mut() {
                rec.flush().context("recording failed")?;
            }
        }
        if let Some(f) = out.forwarder.as_mut() {
            f.pump();
        }
        if config.once && replay_done.load(Ordering::Relaxed) && items.is_empty() {
            break;
        }
    }
    // A last heartbeat so subscribers can count losses at the very end.
    out.publish(&Message::Heartbeat(Heartbeat { instance, last_seq: seq, time_ns: now_ns() }));
    summary.forwarded = out.forwarder.as_mut().map(|f| f.finish(config.forward_linger));
    if let Some(rec) = recorder.as_mut() {
        rec.flush().context("recording failed")?;
    }
    shutdown.store(true, Ordering::Relaxed);
    waker.wake();
    drop(signals);
    for h in handles {
        let _ = h.join();
    }
    summary.unreadable = unreadable.load(Ordering::Relaxed);
    log::info!(
        "published {} events, {} lost, {} unreadable",
        summary.published,
        summary.lost,
        summary.unreadable
    );
    Ok(summary)
}

/// A thread that sets the shutdown flag when SIGTERM or SIGINT comes (as `main`'s handlers
/// do) and wakes the publisher's loop, so an idle loop can wait for its next heartbeat
/// instead of ticking to look at the flag. Stopped when dropped.
struct SignalWake {
    handle: signal_hook::iterator::Handle,
    thread: Option<JoinHandle<()>>,
}

impl SignalWake {
    /// None when it cannot be had (the loop then ticks every 200 ms).
    fn start(sink: &source::Sink, shutdown: &Arc<AtomicBool>) -> Option<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("cannot watch for signals ({e}): the publisher looks every 200 ms");
                return None;
            }
        };
        let handle = signals.handle();
        let wake = sink.clone();
        let shutdown = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    shutdown.store(true, Ordering::Relaxed);
                    if wake.send(Item::Wake).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| log::warn!("cannot start the signal thread ({e}): the publisher looks every 200 ms"))
            .ok()?;
        Some(SignalWake { handle, thread: Some(thread) })
    }
}

impl Drop for SignalWake {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
