//! `secpolctl`: parses the command line and dispatches to `commands/<verb>.rs`.

mod command_path;
mod commands;
mod enforce;
mod idfilter;
mod launch_policy;
mod plan;
mod policy_source;
mod restrictions;
mod rules;
mod shortfall;
mod syscalls;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secpol::control::{ClearTarget, Output};
use secpol::endpoint::RuntimeDir;

/// Control tool of the secpol toolchain: run commands as types, check policies, and talk
/// to the running secpolgenerate.
#[derive(Parser, Debug)]
#[command(name = "secpolctl", version)]
struct Cli {
    /// Runtime directory holding the sockets [env: SECPOL_RUNTIME_DIR] [default: /run/secpol]
    #[arg(long, value_name = "DIR", global = true)]
    runtime_dir: Option<PathBuf>,
    /// Seconds to wait for the generator's answer.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, global = true)]
    timeout: f64,
    /// More messages on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run COMMAND as TYPE (QNX `on -T`), enforcing TYPE's policy when it is restricted.
    On {
        /// The type.
        #[arg(short = 'T', value_name = "TYPE")]
        type_name: String,
        /// Run as USER[:GROUP] (names or numbers).
        #[arg(short = 'u', value_name = "USER[:GROUP]")]
        user: Option<String>,
        /// Enforce this policy file (the type is restricted) instead of asking the running
        /// generator or using the installed /etc/secpol/policy.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Run the command even when parts of a restricted type's policy cannot be
        /// enforced here (no Landlock, an older Landlock ABI, capabilities the caller
        /// cannot hand on, ...), and say which. Without it such a launch is refused.
        #[arg(long)]
        best_effort: bool,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Validate policy files (`-` is stdin) as `secpolcompile` does; report every problem.
    Check {
        /// The policy files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Forget successful uses (`used`) or failures (`errors`).
    Clear {
        /// `used` or `errors`.
        #[arg(value_parser = parse_clear)]
        what: ClearTarget,
    },
    /// Apply a state file or a secpolmonitor log (QNX target logs too).
    Load {
        /// The file.
        file: PathBuf,
    },
    /// The generator's uptime, events seen and lost, types and failures.
    Status {
        /// As a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write a CurveZMQ key pair for a fleet host or collector: the secret key to FILE (mode
    /// 0600), the public key to FILE.pub.
    Keygen { file: PathBuf },
    /// Merge state files and secpolmonitor logs of many hosts ([HOST=]FILE; the host is the
    /// file's name up to the first `.` otherwise) into one state, on stdout.
    Merge {
        /// Names instead of numbers in the state.
        #[arg(short = 'n')]
        names: bool,
        #[arg(required = true, value_name = "[HOST=]FILE")]
        inputs: Vec<String>,
    },
    /// Print the current policy.
    Policy {
        /// The model as JSON: types, abilities with ranges and domains, paths, connects, provenance.
        #[arg(long)]
        json: bool,
    },
    /// Write an HTML page reviewing every type's privileges and failures.
    Report {
        /// The page to write (self-contained: nothing is fetched when it is opened).
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
        /// Policy file to use instead of the running generator's.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Errors file (the generator's `errors` output) to go with --policy.
        #[arg(long, value_name = "FILE", requires = "policy")]
        errors: Option<PathBuf>,
    },
    /// Print the base rules never exercised.
    Unused,
    /// Print the failures, as the rules that would allow them.
    Errors,
    /// Save the state and rewrite the outputs now.
    Save,
    /// Print a type's privileges for systemd, docker, podman, Kubernetes or as JSON.
    Export {
        /// A systemd drop-in: `[Service]` with `CapabilityBoundingSet=`, `AmbientCapabilities=`,
        /// `NoNewPrivileges=`, `SocketBindAllow=`/`SocketBindDeny=`, each citing its rules.
        #[arg(long, group = "format")]
        systemd: bool,
        /// `docker run` flags.
        #[arg(long, group = "format")]
        docker: bool,
        /// `podman run` flags.
        #[arg(long, group = "format")]
        podman: bool,
        /// A Kubernetes container `securityContext` (YAML).
        #[arg(long, group = "format")]
        kubernetes: bool,
        /// A JSON object.
        #[arg(long, group = "format")]
        json: bool,
        /// Install the systemd drop-in as /etc/systemd/system/UNIT.d/secpol.conf (with --systemd).
        #[arg(long)]
        write: bool,
        /// The unit of --write (default: the unit whose name gives TYPE, `nginx.service` for
        /// `nginx_service_t`).
        #[arg(long, value_name = "UNIT", requires = "write")]
        unit: Option<String>,
        /// Where --write finds etc/systemd/system.
        #[arg(long, value_name = "DIR", default_value = "/", requires = "write")]
        root: PathBuf,
        /// Policy file to use instead of the running generator's or the installed one.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The type.
        type_name: String,
    },
    /// What policy NEW grants that OLD did not (each rule with who first needed it) and what
    /// it no longer needs, per type. Exit status 1 when NEW grants more, 2 on errors.
    Diff {
        /// The policy in force (or reviewed before).
        old: PathBuf,
        /// The proposed policy (`secpolctl policy` output, or an `errors` file).
        new: PathBuf,
        /// A JSON object.
        #[arg(long)]
        json: bool,
    },
}

fn parse_clear(s: &str) -> Result<ClearTarget, String> {
    match s {
        "used" => Ok(ClearTarget::Used),
        "errors" => Ok(ClearTarget::Errors),
        other => Err(format!("{other:?}: expected `used` or `errors`")),
    }
}

fn main() -> ExitCode {
    if let Some(code) = secpol::docs::generate_if_asked::<Cli>() {
        return code;
    }
    let cli = Cli::parse();
    let level = if cli.verbose { log::LevelFilter::Info } else { log::LevelFilter::Warn };
    secpol::cli::init_logging("secpolctl", level);
    let dir = RuntimeDir::resolve(cli.runtime_dir.as_deref());
    let timeout = Duration::from_secs_f64(cli.timeout.clamp(0.1, 86_400.0));
    let result = match cli.command {
        Command::On { type_name, user, policy, best_effort, command } => {
            let args =
                commands::on::OnArgs { type_name, user, policy, verbose: cli.verbose, best_effort, command };
            commands::on::run(&dir, &args)
        }
        Command::Check { files } => commands::check::run(&files),
        Command::Clear { what } => commands::clear::run(&dir, what, timeout),
        Command::Load { file } => commands::load::run(&dir, &file, timeout),
        Command::Status { json: false } => commands::status::run(&dir, timeout),
        Command::Status { json: true } => commands::json::status(&dir, timeout),
        Command::Policy { json: false } => commands::show::run(&dir, Output::Policy, timeout),
        Command::Policy { json: true } => commands::json::policy(&dir, timeout),
        Command::Report { html, policy, errors } => {
            let sources = commands::report::Sources { policy: policy.as_deref(), errors: errors.as_deref() };
            commands::report::run(&dir, &sources, &html, timeout)
        }
        Command::Keygen { file } => commands::keygen::run(&file),
        Command::Merge { names, inputs } => commands::merge::run(&inputs, names),
        Command::Unused => commands::show::run(&dir, Output::Unused, timeout),
        Command::Errors => commands::show::run(&dir, Output::Errors, timeout),
        Command::Save => commands::save::run(&dir, timeout),
        Command::Export {
            systemd,
            docker,
            podman,
            kubernetes,
            json: _,
            write,
            unit,
            root,
            policy,
            type_name,
        } => {
            use commands::export::Format;
            let format = match (systemd, docker, podman, kubernetes) {
                (true, ..) => Format::Systemd,
                (_, true, ..) => Format::Docker,
                (_, _, true, _) => Format::Podman,
                (.., true) => Format::Kubernetes,
                _ => Format::Json,
            };
            let write = write.then_some(commands::export::Write { unit, root });
            commands::export::run(&dir, policy.as_deref(), &type_name, format, write.as_ref())
        }
        Command::Diff { old, new, json } => {
            // 1 means "NEW grants more": an unreadable file is 2, so a pipeline tells them apart.
            return commands::diff::run(&old, &new, json).unwrap_or_else(|e| {
                let code = secpol::cli::report("secpolctl", &e);
                if code == ExitCode::SUCCESS {
                    code
                } else {
                    ExitCode::from(2)
                }
            });
        }
    };
    result.unwrap_or_else(|e| secpol::cli::report("secpolctl", &e))
}
