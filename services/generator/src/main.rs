//! `secpolgenerate`: parses the command line (QNX's options), then runs the service or,
//! with `-C`, sends one command to the running instance.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Parser;
use secpol::control::{self, ClearTarget, Request};
use secpol::endpoint::RuntimeDir;
use secpolgenerate::learn::LearnOptions;
use secpolgenerate::service::{self, Settings};

/// Generates a security policy by watching which privileges each type of process uses.
#[derive(Parser, Debug)]
#[command(name = "secpolgenerate", version)]
struct Args {
    /// Send a command to the running instance: `clear used|errors` or `load FILE`.
    #[arg(short = 'C', num_args = 2, value_names = ["COMMAND", "ARG"])]
    command: Option<Vec<String>>,
    /// Configuration file (re-read on SIGHUP).
    #[arg(short = 'c', value_name = "CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Flush the outputs and save the state at most every TIME seconds after a change.
    #[arg(short = 'f', value_name = "TIME", default_value_t = 1.0)]
    flush: f64,
    /// Most failures kept in the errors file.
    #[arg(short = 'L', value_name = "MAX_LOGS", default_value_t = 100)]
    max_logs: usize,
    /// Log failures to syslog.
    #[arg(short = 'l')]
    syslog: bool,
    /// Build the policy from scratch, not from the base policy.
    #[arg(short = 'N')]
    scratch: bool,
    /// Names instead of numbers in the state file.
    #[arg(short = 'n')]
    names: bool,
    /// Base policy [default: /etc/secpol/policy].
    #[arg(short = 'S', value_name = "BASE_POLICY")]
    base_policy: Option<PathBuf>,
    /// State file: restored at start, saved periodically and on exit.
    #[arg(short = 's', value_name = "STATE_FILE")]
    state_file: Option<PathBuf>,
    /// all_connect or zero_id (repeatable).
    #[arg(short = 'T', value_name = "OPTION")]
    test_options: Vec<String>,
    /// Allow this many more types than the base policy has.
    #[arg(short = 't', value_name = "NUMBER_OF_TYPES")]
    new_types: Option<usize>,
    /// Unrestricted: types learn, new types are admitted.
    #[arg(short = 'u')]
    unrestricted: bool,
    /// Write failures to stderr.
    #[arg(short = 'v')]
    verbose: bool,
    /// Runtime directory holding the sockets [env: SECPOL_RUNTIME_DIR] [default: /run/secpol]
    #[arg(long, value_name = "DIR")]
    runtime_dir: Option<PathBuf>,
    /// Where policy, unused, errors and protect are written
    /// [env: SECPOL_OUTPUT_DIR] [default: /run/secpolgenerate]
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Collect from a fleet of hosts on tcp://ADDR:PORT (CurveZMQ; docs/fleet.md).
    #[arg(long, value_name = "ENDPOINT", requires_all = ["curve_secret", "allow_keys"])]
    listen: Option<String>,
    /// The collector's secret key file (`secpolctl keygen FILE`).
    #[arg(long, value_name = "FILE", requires = "listen")]
    curve_secret: Option<PathBuf>,
    /// The hosts admitted: a directory of HOSTNAME.pub files (or one such file).
    #[arg(long, value_name = "DIR", requires = "listen")]
    allow_keys: Option<PathBuf>,
    /// Seconds `-C` waits for the answer.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
}

fn seconds(what: &str, v: f64) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v < 1e9) {
        bail!("{what} must be a positive number of seconds, not {v}");
    }
    Ok(Duration::from_secs_f64(v))
}

fn command(args: &Args, words: &[String], dir: &RuntimeDir) -> anyhow::Result<ExitCode> {
    let req = match words {
        [verb, what] if verb == "clear" => {
            Request::Clear { target: what.parse::<ClearTarget>().map_err(anyhow::Error::msg)? }
        }
        [verb, file] if verb == "load" => {
            let text = std::fs::read(file).with_context(|| format!("cannot read {file}"))?;
            Request::Load { name: file.clone(), text: String::from_utf8_lossy(&text).into_owned() }
        }
        [verb, _] => bail!("unknown command {verb:?} for -C: expected `clear used|errors` or `load FILE`"),
        _ => bail!("-C takes a command and its argument"),
    };
    let resp = control::request(dir, &req, seconds("--timeout", args.timeout)?)?;
    let d = resp.describe();
    std::io::stdout().write_all(d.out.as_bytes())?;
    for p in &d.problems {
        eprintln!("secpolgenerate: {p}");
    }
    Ok(if d.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = RuntimeDir::resolve(args.runtime_dir.as_deref());
    if let Some(words) = &args.command {
        return command(&args, words, &dir);
    }
    let mut learn =
        LearnOptions { unrestricted: args.unrestricted, new_types: args.new_types, all_connect: false };
    let mut zero_id = false;
    for opt in &args.test_options {
        match opt.as_str() {
            "all_connect" => learn.all_connect = true,
            "zero_id" => zero_id = true,
            other => bail!("unknown -T option {other:?}: expected all_connect or zero_id"),
        }
    }
    let mut settings = Settings::new(dir, Settings::resolve_output_dir(args.output_dir));
    settings.config_file = args.config;
    settings.flush = seconds("-f", args.flush)?;
    settings.max_logs = args.max_logs;
    settings.syslog = args.syslog;
    settings.verbose = args.verbose;
    settings.scratch = args.scratch;
    settings.names = args.names;
    settings.base_policy = args.base_policy;
    settings.state_file = args.state_file;
    settings.learn = learn;
    settings.zero_id = zero_id;
    settings.fleet = args.listen.clone().map(|listen| secpolgenerate::collector::FleetSettings {
        listen,
        secret: args.curve_secret.clone().unwrap_or_default(),
        allow_keys: args.allow_keys.clone().unwrap_or_default(),
    });

    let shutdown = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&shutdown)).context("cannot install signal handlers")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))
        .context("cannot install signal handlers")?;
    let counters = service::run(settings, shutdown, reload)?;
    log::info!("stopped after {} events", counters.events_seen);
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    if let Some(code) = secpol::docs::generate_if_asked::<Args>() {
        return code;
    }
    let args = Args::parse();
    let level = if args.verbose { log::LevelFilter::Info } else { log::LevelFilter::Warn };
    secpol::cli::init_logging("secpolgenerate", level);
    match run(args) {
        Ok(code) => code,
        Err(e) => secpol::cli::report("secpolgenerate", &e),
    }
}
