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
    eprintln!("{prog}: {}", describe(err));
    ExitCode::FAILURE
}

/// The error chain on one line, `what failed: why: ...`. A cause whose text the message
/// before it already ends with (errors that print their source) is not repeated.
pub fn describe(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain().map(|c| c.to_string()) {
        if line.is_empty() {
            line = cause;
        } else if !line.ends_with(&cause) {
            line.push_str(": ");
            line.push_str(&cause);
        }
    }
    line
}

/// Whether an error comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to bind /run/x: {source}")]
    struct Bind {
        source: std::io::Error,
    }

    #[test]
    fn causes_are_not_repeated() {
        let io = std::io::Error::from_raw_os_error(libc::EACCES);
        let err = anyhow::Error::new(Bind { source: io }).context("tracer failed");
        assert_eq!(describe(&err), "tracer failed: failed to bind /run/x: Permission denied (os error 13)");
        let plain = anyhow::anyhow!("root cause").context("outer");
        assert_eq!(describe(&plain), "outer: root cause");
    }
}
