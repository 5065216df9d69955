//! `secpolmonitor`: parses the command line (QNX's options) and runs the monitor.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use secpol::endpoint::RuntimeDir;
use secpol::qnxlog::FormatOptions;
use secpolmonitor::Options;

/// Prints ability checks and path-space attachments as they happen, in the words of
/// QNX's secpolmonitor. With none of -a -p -q -u, ability checks and path attachments
/// are shown.
#[derive(Parser, Debug)]
#[command(name = "secpolmonitor", version)]
struct Args {
    /// Monitor ability checks.
    #[arg(short = 'a')]
    abilities: bool,
    /// Combine events from processes of the same name.
    #[arg(short = 'c')]
    combine: bool,
    /// Only output events for processes of this name (repeatable).
    #[arg(short = 'f', value_name = "NAME")]
    names: Vec<String>,
    /// Re-report abilities used more than TIME seconds after process start.
    #[arg(short = 'i', value_name = "TIME")]
    reuse_after: Option<f64>,
    /// Include unnamed processes (events before the process has a name).
    #[arg(short = 'n')]
    unnamed: bool,
    /// Append output to FILE instead of stdout (flushed after every line).
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Monitor path space attachments (and links).
    #[arg(short = 'p')]
    paths: bool,
    /// Show connections to other hosts (QNET events on QNX).
    #[arg(short = 'q')]
    remote: bool,
    /// Notify repeated ability checks, not just the first.
    #[arg(short = 'r')]
    repeats: bool,
    /// Log successful events rather than just failures.
    #[arg(short = 's')]
    successes: bool,
    /// Treat dynamic ability as having subranges (repeatable).
    #[arg(short = 'S', value_name = "ABILITY")]
    subranged: Vec<String>,
    /// Show signals sent to processes of other types (unregistered sigevents on QNX).
    #[arg(short = 'u')]
    signals: bool,
    /// Verbose output: time, sequence, uid and euid on every line; probes; exec and exit.
    #[arg(short = 'v')]
    verbose: bool,
    /// One JSON object per event (the recording format) instead of QNX lines.
    #[arg(long)]
    json: bool,
    /// On a fleet collector: every host's events (its fleet bus), each line prefixed with
    /// `HOST: `, losses and tracer restarts counted per host.
    #[arg(long)]
    fleet: bool,
    /// On a fleet collector: only this host's events (implies --fleet).
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// Runtime directory holding the sockets [env: SECPOL_RUNTIME_DIR] [default: /run/secpol]
    #[arg(long, value_name = "DIR")]
    runtime_dir: Option<PathBuf>,
}

/// Mode of a log file `-o` creates, even under umask 0: anyone may read it, only its owner
/// write it (a stricter umask takes more away; an existing file keeps its mode).
const LOG_MODE: u32 = 0o644;

fn main() -> ExitCode {
    if let Some(code) = secpol::docs::generate_if_asked::<Args>() {
        return code;
    }
    let args = Args::parse();
    secpol::cli::init_logging("secpolmonitor", log::LevelFilter::Warn);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => secpol::cli::report("secpolmonitor", &e),
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.reuse_after {
        anyhow::ensure!(t.is_finite() && t >= 0.0, "-i {t}: TIME must be a number of seconds, 0 or more");
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, shutdown.clone()).context("cannot handle signals")?;
    }
    let opts = Options {
        abilities: args.abilities,
        paths: args.paths,
        remote: args.remote,
        signals: args.signals,
        successes: args.successes,
        repeats: args.repeats,
        reuse_after: args.reuse_after,
        combine: args.combine,
        unnamed: args.unnamed,
        names: args.names,
        format: FormatOptions {
            subranged: args.subranged.iter().map(|s| secpol::ability::normalize(s)).collect(),
            verbose: args.verbose,
        },
        json: args.json,
    };
    let dir = RuntimeDir::resolve(args.runtime_dir.as_deref());
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(LOG_MODE)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let source = if args.fleet || args.host.is_some() {
        if let Some(h) = &args.host {
            anyhow::ensure!(
                !h.is_empty() && !h.contains('/'),
                "--host {h:?}: a host name, as the collector's allow-list names it"
            );
        }
        secpolmonitor::Source::Fleet { host: args.host.clone() }
    } else {
        secpolmonitor::Source::Local
    };
    let summary = secpolmonitor::run(&dir, &source, opts, &mut out, shutdown)?;
    if summary.lost > 0 {
        log::warn!("{} events were lost on the way", summary.lost);
    }
    Ok(())
}
