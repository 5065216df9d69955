//! The kernel source: what every process on this Linux system does with privileges,
//! watched with eBPF.
//!
//! [`start`] mounts tracefs and bpffs when they are missing, loads the BPF programs
//! (`bpf/secpol.bpf.c`, compiled by `build.rs`), attaches them, and starts one thread
//! that drains the ring buffer, turns each record into a [`secpol::Event`]
//! ([`convert`]) and sends it to the publisher. Records the kernel could not queue are
//! counted there and sent on as [`Item::Loss`].
//!
//! What is watched: capability checks (NOAUDIT probes marked, borrowed credentials
//! dropped), `AF_UNIX` binds to paths and mounts (attach), symlinks (link), `AF_UNIX`
//! connects (channel connect, with the type that attached the path), connects to other
//! hosts, signals to processes of another type, exec and exit; the target ids of set*id
//! calls and setgroups on their CAP_SETUID/CAP_SETGID checks, and set*id calls a seccomp
//! filter refused. See `docs/kernel.md`.

pub mod channels;
pub mod convert;
pub mod loader;
pub mod record;

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::source::{Item, Sink, Spares, Waker};

/// How the kernel source runs.
#[derive(Debug, Clone, Default)]
pub struct KernelOptions {
    /// Report every capability check (and connect, signal), not only the first per
    /// process, type, ability, domain and verdict (`secpoltrace --repeat`).
    pub repeat: bool,
    /// How cgroups name types (units, containers, configured mappings).
    pub naming: secpol::cgroup_types::Naming,
}

/// Why the kernel source cannot run.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Missing privileges.
    #[error("cannot load BPF programs: operation not permitted (needs CAP_BPF and CAP_PERFMON)")]
    NotPermitted,
    /// A kernel filesystem could not be mounted.
    #[error("cannot mount {fs} at {path}: {source}")]
    Mount {
        /// tracefs or bpf.
        fs: String,
        /// Where.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// NOAUDIT probes cannot be told apart.
    #[error("cannot recognise NOAUDIT capability probes: /proc/kallsyms shows no addresses (needs CAP_SYSLOG, or kptr_restrict < 2)")]
    NoKallsyms,
    /// The kernel has no BTF.
    #[error("cannot read kernel BTF (/sys/kernel/btf/vmlinux): {0}")]
    Btf(String),
    /// Loading failed.
    #[error("cannot load BPF program {what}: {why}")]
    Load {
        /// Which program or map.
        what: String,
        /// Why, with the verifier's word where there is one.
        why: String,
    },
    /// Attaching failed (the kernel lacks the tracepoint).
    #[error("cannot attach to tracepoint {tracepoint}: {why}")]
    Attach {
        /// Which tracepoint.
        tracepoint: String,
        /// Why.
        why: String,
    },
    /// The object lacks a program or map (a build mismatch).
    #[error("the BPF object has no {0}")]
    Missing(&'static str),
    /// A file could not be read.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

fn is_eperm(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.raw_os_error() == Some(libc::EPERM) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

impl KernelError {
    fn from_load(what: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        if is_eperm(e) {
            return KernelError::NotPermitted;
        }
        KernelError::Load { what: what.to_string(), why: secpol::cli::describe_chain(e) }
    }

    fn from_attach(tracepoint: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        if is_eperm(e) {
            return KernelError::NotPermitted;
        }
        KernelError::Attach { tracepoint: tracepoint.to_string(), why: secpol::cli::describe_chain(e) }
    }
}

/// Where losses are said to happen.
pub const LOSS_SOURCE: &str = "kernel ring buffer";
/// Records dropped because a path could not be had whole (never turned into a rule).
pub const UNUSABLE_PATH_SOURCE: &str = "kernel path longer than PATH_MAX or relative to a lost directory";

/// Loads and attaches the programs, then starts the thread that publishes what they
/// report, until `shutdown` is set (then `waker` woken) or the sink closes. Fails, with
/// nothing left attached, when the kernel or the privileges do not allow it. `spares` brings back events
/// already published, whose strings the next events reuse.
pub fn start(
    opts: &KernelOptions,
    sink: Sink,
    spares: Spares,
    shutdown: Arc<AtomicBool>,
    waker: Arc<Waker>,
) -> Result<JoinHandle<()>, KernelError> {
    let loaded = loader::load(opts.repeat)?;
    // Loading parsed the kernel's BTF and /proc/kallsyms (tens of MB, freed now): hand the
    // freed heap back, or it stays resident for the tracer's whole life.
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
    let tree = match secpol::cgroup_types::TypeTree::open() {
        Ok(t) => Some(t.with_naming(opts.naming.clone())),
        Err(e) => {
            log::warn!("{e}: every process has type default");
            None
        }
    };
    let mut conv = convert::Converter::new(opts.repeat, tree);
    std::thread::Builder::new()
        .name("kernel".into())
        .spawn(move || {
            conv.seed_channels();
            drain(loaded, conv, &sink, &spares, &shutdown, &waker);
        })
        .map_err(|source| KernelError::Io { what: "cannot start the kernel thread", source })
}

/// Longest wait for records: the delay of an exec or exit line when nothing else happens
/// (records with news wake this thread at once). Each drain wakes a chain of threads
/// (this one, the publisher, both sides' ZeroMQ threads, the generator): at 20 ms, tracer
/// and generator used 90-100 ms of CPU for 4,000 fork + exec iterations, and 5 ms a second
/// idle; at 100 ms, 30-40 ms and under 1 ms (docs/benchmarks.md). While the ring buffer
/// stays empty the wait doubles, up to IDLE_DRAIN_MS: each wakeup of an idle thread cost
/// about 90 us of CPU here (ten a second were 0.9 ms a second).
const DRAIN_MS: i32 = 100;
/// Longest wait while the ring buffer stays empty.
const IDLE_DRAIN_MS: i32 = 1000;

/// The kernel thread: wait for records, convert, send; report losses.
fn drain(
    mut loaded: loader::Loaded,
    mut conv: convert::Converter,
    sink: &Sink,
    spares: &Spares,
    shutdown: &AtomicBool,
    waker: &Waker,
) {
    let fd = loaded.ring.as_raw_fd();
    let mut lost_seen = 0u64;
    let mut unreadable = 0u64;
    let mut last_clock = Instant::now();
    let mut wait = DRAIN_MS;
    while !shutdown.load(Ordering::Relaxed) {
        let mut pfds = [libc::pollfd { fd, events: libc::POLLIN, revents: 0 }, waker.pollfd()];
        // SAFETY: two valid pollfds.
        // Execs and exits do not wake this thread (see `lazy_wakeup` in the BPF program):
        // it drains at least every DRAIN_MS while records come, IDLE_DRAIN_MS when none do.
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, wait) };
        let mut drained = false;
        if last_clock.elapsed() > Duration::from_secs(10) {
            conv.refresh_clock();
            last_clock = Instant::now();
        }
        loaded.slots.tick();
        while let Some(item) = loaded.ring.next() {
            drained = true;
            match record::RawEvent::parse(&item) {
                Ok(raw) => {
                    if let Ok(spare) = spares.try_recv() {
                        conv.recycle(spare);
                    }
                    if let Some(event) = conv.convert(&raw) {
                        if sink.send(Item::Event(event)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    unreadable += 1;
                    if unreadable <= 10 {
                        log::warn!("{e}");
                    }
                }
            }
        }
        wait = if drained { DRAIN_MS } else { (wait * 2).min(IDLE_DRAIN_MS) };
        let unusable = conv.take_unusable();
        if unusable > 0 && sink.send(Item::Loss { count: unusable, source: UNUSABLE_PATH_SOURCE }).is_err() {
            return;
        }
        let lost = loader::lost_total(&loaded.lost);
        if lost > lost_seen {
            let count = lost - lost_seen;
            lost_seen = lost;
            log::warn!("{count} kernel records lost: ring buffer full");
            if sink.send(Item::Loss { count, source: LOSS_SOURCE }).is_err() {
                return;
            }
        }
    }
    let (by_slots, walks) = loaded.slots.counts();
    log::info!("capability checks told by stack slots: {by_slots}, by stack walks: {walks}");
    drop(loaded.ebpf);
}
