//! `secpoltrace`: parses the command line and runs the tracer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use secpol::endpoint::RuntimeDir;

/// Watches the kernel (and the preload library, and replayed files) and publishes every
/// privilege check, path attachment, link and channel connection on the secpol bus.
#[derive(Parser, Debug)]
#[command(name = "secpoltrace", version)]
struct Args {
    /// Runtime directory holding the sockets [env: SECPOL_RUNTIME_DIR] [default: /run/secpol]
    #[arg(long, value_name = "DIR")]
    runtime_dir: Option<PathBuf>,
    /// Do not watch the kernel.
    #[arg(long)]
    no_kernel: bool,
    /// Report every check, not only the first per process, type, ability, domain and verdict
    /// (for `secpolmonitor -r`).
    #[arg(long)]
    repeat: bool,
    /// Do not listen for the preload library's reports.
    #[arg(long)]
    no_ingest: bool,
    /// Replay a recording or a QNX secpolmonitor log (repeatable; in order).
    #[arg(long, value_name = "FILE")]
    replay: Vec<PathBuf>,
    /// Pause this many milliseconds between replayed events.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pace_ms: u64,
    /// Before replaying, wait for this many subscribers (at most --wait-timeout seconds).
    /// Without it, a replay starts once no new subscriber has arrived for a moment
    /// (350 ms, at most 2 s), so subscribers started before the tracer see all of it.
    #[arg(long, value_name = "N", default_value_t = 0)]
    wait_subscribers: usize,
    /// Longest wait for subscribers, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    wait_timeout: f64,
    /// Exit when the replays are done.
    #[arg(long)]
    once: bool,
    /// Append every published event to FILE (JSON lines; replay it with --replay).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Heartbeat interval in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    heartbeat_ms: u64,
    /// The generator's configuration file: its `type NAME cgroup PATH` lines map cgroups to
    /// types, and `option no_cgroup_types` turns automatic unit and container types off.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Do not name systemd units and containers as types (`system.slice/nginx.service` stays
    /// `default`); `secpol/<type>` directories and configured mappings still count.
    #[arg(long)]
    no_cgroup_types: bool,
    /// Also send every event to a fleet collector at tcp://ADDR:PORT (CurveZMQ; docs/fleet.md).
    #[arg(long, value_name = "ENDPOINT", requires_all = ["host", "curve_secret", "collector_key"])]
    forward: Option<String>,
    /// This host's name in the fleet (its key's name in the collector's allow-list).
    #[arg(long, value_name = "NAME", requires = "forward")]
    host: Option<String>,
    /// This host's secret key file (`secpolctl keygen FILE`).
    #[arg(long, value_name = "FILE", requires = "forward")]
    curve_secret: Option<PathBuf>,
    /// The collector's public key file (its FILE.pub).
    #[arg(long, value_name = "FILE.pub", requires = "forward")]
    collector_key: Option<PathBuf>,
    /// Most messages held for the collector until it acknowledges them (the oldest are
    /// dropped, and counted, beyond).
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    forward_buffer: usize,
    /// On exit, how long to wait for the collector to acknowledge everything, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    forward_linger: f64,
    /// Write the BPF object this tracer loads into the kernel to FILE and exit (to look at
    /// it with bpftool or llvm-objdump, or to see what verifying it costs).
    #[arg(long, value_name = "FILE", exclusive = true)]
    write_bpf_object: Option<PathBuf>,
    /// More messages on stderr.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    if let Some(code) = secpol::docs::generate_if_asked::<Args>() {
        return code;
    }
    let args = Args::parse();
    if let Some(path) = &args.write_bpf_object {
        return match std::fs::write(path, secpoltrace::kernel::loader::object()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => secpol::cli::report(
                "secpoltrace",
                &anyhow::anyhow!("cannot write the BPF object to {}: {e}", path.display()),
            ),
        };
    }
    let level = if args.verbose { log::LevelFilter::Info } else { log::LevelFilter::Warn };
    secpol::cli::init_logging("secpoltrace", level);
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, shutdown.clone()) {
            return secpol::cli::report("secpoltrace", &anyhow::anyhow!("cannot handle signal {sig}: {e}"));
        }
    }
    let mut naming = match &args.config {
        Some(path) => match secpol::config::Config::load(path) {
            Ok(c) => c.naming(),
            Err(e) => return secpol::cli::report("secpoltrace", &anyhow::Error::new(e)),
        },
        None => secpol::cgroup_types::Naming::default(),
    };
    if args.no_cgroup_types {
        naming.automatic = false;
    }
    let config = secpoltrace::Config {
        runtime_dir: RuntimeDir::resolve(args.runtime_dir.as_deref()),
        kernel: !args.no_kernel,
        repeat: args.repeat,
        ingest: !args.no_ingest,
        replays: args.replay,
        pace: Duration::from_millis(args.pace_ms),
        wait_subscribers: args.wait_subscribers,
        wait_timeout: Duration::from_secs_f64(args.wait_timeout.clamp(0.0, 86_400.0)),
        once: args.once,
        record: args.record,
        heartbeat: Duration::from_millis(args.heartbeat_ms.max(10)),
        naming,
        forward: args.forward.map(|endpoint| secpoltrace::forward::ForwardConfig {
            endpoint,
            host: args.host.unwrap_or_default(),
            secret: args.curve_secret.unwrap_or_default(),
            collector_key: args.collector_key.unwrap_or_default(),
            buffer: args.forward_buffer,
        }),
        forward_linger: Duration::from_secs_f64(args.forward_linger.clamp(0.0, 86_400.0)),
    };
    match secpoltrace::run(config, shutdown) {
        Ok(summary) if summary.forwarded.is_some_and(|f| f.unacknowledged > 0) => {
            let f = summary.forwarded.unwrap_or_default();
            eprintln!(
                "secpoltrace: the collector did not acknowledge {} forwarded messages ({} dropped)",
                f.unacknowledged, f.dropped
            );
            ExitCode::FAILURE
        }
        Ok(summary) if summary.unreadable > 0 => {
            eprintln!("secpoltrace: {} unreadable replay lines or files (see above)", summary.unreadable);
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => secpol::cli::report("secpoltrace", &e),
    }
}
