//! What every binary does at its edge: logging set-up and printing a fatal error once.
//!
//! Messages go to stderr as `prog: message` (warnings and errors) or
//! `prog: level: message` (info and debug, enabled with `RUST_LOG` or `-v`), so a
//! person reads `secpoltrace: failed to bind /run/secpol/events: permission denied`,
//! never a debug dump.

use std::io::Write;
use std::process::ExitCode;

/// Sets up logging for program `prog`. `RUST_LOG` wins over `default_level`.
pub fn init_logging(prog: &'static str, default_level: log::LevelFilter) {
    let mut b = env_logger::Builder::new();
    b.filter_level(default_level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    b.format(move |f, record| match record.level() {
        log::Level::Error | log::Level::Warn => writeln!(f, "{prog}: {}", record.args()),
        level => writeln!(f, "{prog}: {}: {}", level.as_str().to_lowercase(), record.args()),
    });
    let _ = b.try_init();
}

/// Prints `prog: what failed: why: ...` once, the whole chain on one line, and returns
/// exit status 1. A broken pipe (`secpolmonitor | head`) is not an error: status 0.
pub fn report(prog: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
    eprintln!("{prog}: {}", chain.join(": "));
    ExitCode::FAILURE
}

/// Whether an error comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
