//! What every binary does at its edge: logging set-up and printing a fatal error once.
//!
//! Messages go to stderr as `prog: message` (warnings and errors) or
//! `prog: level: message` (info and debug, enabled with `RUST_LOG` or `-v`), so a
//! person reads `secpoltrace: failed to bind /run/secpol/events: permission denied`,
//! never a debug dump.
//!
//! When stderr is the journal (a systemd unit; `JOURNAL_STREAM` names it), each line
//! starts with its syslog priority instead (`<4>message`), which journald strips and files
//! the line under; the unit already names the program and journald stamps the time, so
//! neither is repeated.

use std::io::Write;
use std::process::ExitCode;

/// Sets up logging for program `prog`. `RUST_LOG` wins over `default_level`.
pub fn init_logging(prog: &'static str, default_level: log::LevelFilter) {
    let mut b = env_logger::Builder::new();
    b.filter_level(default_level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    if crate::systemd::stderr_is_journal() {
        b.format(|f, record| writeln!(f, "{}", journal_line(record.level(), &record.args().to_string())));
    } else {
        b.format(move |f, record| {
            writeln!(f, "{}", plain_line(prog, record.level(), &record.args().to_string()))
        });
    }
    let _ = b.try_init();
}

/// A log line for a terminal or a file: `prog: message`, `prog: info: message`.
fn plain_line(prog: &str, level: log::Level, message: &str) -> String {
    match level {
        log::Level::Error | log::Level::Warn => format!("{prog}: {message}"),
        level => format!("{prog}: {}: {message}", level.as_str().to_lowercase()),
    }
}

/// A log line for the journal: `<N>message`; a message of several lines keeps its
/// priority on each, as journald reads every line as an entry.
fn journal_line(level: log::Level, message: &str) -> String {
    let p = crate::systemd::priority(level);
    message.lines().map(|l| format!("<{p}>{l}")).collect::<Vec<_>>().join("\n")
}

/// Prints `prog: what failed: why: ...` once, the whole chain on one line, and returns
/// exit status 1. A broken pipe (`secpolmonitor | head`) is not an error: status 0.
pub fn report(prog: &str, err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    if crate::systemd::stderr_is_journal() {
        eprintln!("{}", journal_line(log::Level::Error, &describe(err)));
    } else {
        eprintln!("{prog}: {}", describe(err));
    }
    ExitCode::FAILURE
}

/// The error chain on one line, `what failed: why: ...`.
pub fn describe(err: &anyhow::Error) -> String {
    describe_chain(err.as_ref())
}

/// The chain of any error on one line, `what failed: why: ...`. A cause whose text the
/// message before it already holds (errors that print their source) is not repeated.
pub fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
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
    fn log_lines_for_people_and_for_the_journal() {
        assert_eq!(plain_line("secpoltrace", log::Level::Warn, "w"), "secpoltrace: w");
        assert_eq!(plain_line("secpoltrace", log::Level::Info, "i"), "secpoltrace: info: i");
        assert_eq!(journal_line(log::Level::Error, "failed"), "<3>failed");
        assert_eq!(journal_line(log::Level::Info, "a\nb"), "<6>a\n<6>b");
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
