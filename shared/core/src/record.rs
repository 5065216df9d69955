//! Event files: the tracer's recordings and logs captured on QNX targets.
//!
//! A recording (`secpoltrace --record FILE`, also what `secpolmonitor --json` prints) has
//! one JSON object per line, the [`Event`] with the same field names as on the wire.
//! [`read_events`] reads recordings, QNX `secpolmonitor` logs (wrapped lines joined) and
//! any mix of both; lines starting with `#` are comments. Each unreadable line comes back
//! as an error with its line number, and reading goes on.

use crate::event::Event;
use crate::qnxlog::{self, LineError, LogicalLines};

/// The first word of a generator state file's header (`secpol-state FORMAT MODE`).
pub const STATE_MAGIC: &str = "secpol-state";

/// Whether `text` looks like a generator state file (its first record is the header),
/// not an event file: `load` reads the two apart.
pub fn is_state_text(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.split(' ').next() == Some(STATE_MAGIC))
}

/// One event as a recording line (no newline).
pub fn to_json_line(e: &Event) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string(e).unwrap_or_default()
}

/// Reads one recording line.
pub fn parse_json_line(line: &str) -> Result<Event, LineError> {
    serde_json::from_str(line).map_err(|e| LineError(format!("bad recorded event: {e}")))
}

/// Reads one line of either kind.
pub fn parse_any_line(line: &str) -> Result<Event, LineError> {
    if line.trim_start().starts_with('{') {
        parse_json_line(line)
    } else {
        qnxlog::parse_line(line)
    }
}

/// The events of a file's text: `(line number, event or why not)`, comments and blank
/// lines skipped.
pub fn read_events(text: &str) -> impl Iterator<Item = (usize, Result<Event, LineError>)> + '_ {
    LogicalLines::new(text)
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .map(|(n, l)| (n, parse_any_line(&l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_files_read_with_line_numbers() {
        let qnx = "info: sbin/devf-ram (pid:2809882) type fs_t uses ability IO as root";
        let e = qnxlog::parse_line(qnx).unwrap();
        let text = format!("# a comment\n{qnx}\n\ngarbage here\n{}\n", to_json_line(&e));
        let got: Vec<_> = read_events(&text).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (2, Ok(e.clone())));
        assert_eq!(got[1].0, 4);
        assert!(got[1].1.is_err());
        assert_eq!(got[2], (5, Ok(e)));
    }
}
