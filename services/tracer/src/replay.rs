//! The replay source: publishes the events of recordings (`--record` files) and of
//! `secpolmonitor` logs captured on QNX targets, so a policy can be learned, and
//! monitors tried, offline.
//!
//! An unreadable line is reported as `FILE:LINE: why` and skipped; an unreadable file is
//! reported and the next one read. Nothing already read is lost. Files are read a chunk at
//! a time, so a replay of any size takes the same memory (issue 10's load test replays a
//! million events).

use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::source::{Item, Sink};

/// Text read and parsed at a time: the tracer's memory does not grow with the file.
const CHUNK: usize = 1 << 20;
/// Longest physical line read; a longer one is reported and skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// What to replay.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files, in order.
    pub files: Vec<PathBuf>,
    /// Pause between events.
    pub pace: Duration,
}

/// Starts replaying on a thread. Sets `done` when every file has been read; counts
/// unreadable lines and files in `unreadable`.
pub fn start(
    opts: Options,
    sink: Sink,
    shutdown: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    unreadable: Arc<AtomicU64>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || {
            for file in &opts.files {
                if shutdown.load(Ordering::Relaxed) {
                    break;
                }
                let (sent, bad) = replay_file(file, &opts, &sink, &shutdown);
                unreadable.fetch_add(bad, Ordering::Relaxed);
                log::info!("replayed {sent} events from {}", file.display());
            }
            done.store(true, Ordering::Relaxed);
        })
        .expect("spawn replay thread")
}

/// Replays one file; returns (events sent, unreadable lines or files).
///
/// The file is read a [`CHUNK`] at a time, cut only before a line that starts a logical line
/// (a wrapped QNX line never straddles two chunks), so line numbers stay those of the file.
fn replay_file(file: &Path, opts: &Options, sink: &Sink, shutdown: &AtomicBool) -> (u64, u64) {
    let mut reader = match std::fs::File::open(file) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            log::error!("cannot replay {}: {e}", file.display());
            return (0, 1);
        }
    };
    let mut counts = (0, 0);
    let mut chunk = String::new();
    // Line number of the chunk's first line, and of the last line read.
    let (mut first, mut line) = (1, 0);
    let mut buf = Vec::new();
    loop {
        let read = read_line(&mut reader, &mut buf);
        let more = match read {
            Ok(Line::End) => false,
            Ok(_) => true,
            Err(ref e) => {
                log::error!("cannot replay {}: read failed after line {line}: {e}", file.display());
                counts.1 += 1;
                false
            }
        };
        let continues = buf.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !more || (chunk.len() >= CHUNK && !continues) {
            if !replay_text(&chunk, first, file, opts, sink, shutdown, &mut counts) || !more {
                return counts;
            }
            chunk.clear();
            first = line + 1;
        }
        line += 1;
        match read {
            Ok(Line::Whole) => chunk.push_str(&String::from_utf8_lossy(&buf)),
            _ => {
                log::error!("{}:{line}: longer than {MAX_LINE} bytes; line skipped", file.display());
                counts.1 += 1;
            }
        }
        chunk.push('\n');
    }
}

/// Replays the events of `text`, whose first line is line `first` of `file`, adding to
/// `counts` (sent, unreadable). Returns false when the replay is to stop.
fn replay_text(
    text: &str,
    first: usize,
    file: &Path,
    opts: &Options,
    sink: &Sink,
    shutdown: &AtomicBool,
    counts: &mut (u64, u64),
) -> bool {
    for (n, parsed) in secpol::record::read_events(text) {
        if shutdown.load(Ordering::Relaxed) {
            return false;
        }
        match parsed {
            Ok(event) => {
                if sink.send(Item::Event(event)).is_err() {
                    return false;
                }
                counts.0 += 1;
                if !opts.pace.is_zero() {
                    std::thread::sleep(opts.pace);
                }
            }
            Err(e) => {
                log::error!("{}:{}: {e}; line skipped", file.display(), first + n - 1);
                counts.1 += 1;
            }
        }
    }
    true
}

/// How [`read_line`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A line (without its newline) is in the buffer.
    Whole,
    /// The line was longer than [`MAX_LINE`]: it was read to its end and dropped.
    TooLong,
    /// The end of the file.
    End,
}

/// Reads the next line into `buf` (without the newline), never keeping more than
/// [`MAX_LINE`] bytes of it.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Line> {
    buf.clear();
    let n = reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Line::Whole);
    }
    if buf.len() <= MAX_LINE {
        return Ok(Line::Whole); // the last line, without a newline
    }
    // Too long: skip to its end a bounded piece at a time.
    loop {
        buf.clear();
        let n = reader.by_ref().take(MAX_LINE as u64).read_until(b'\n', buf)?;
        if n == 0 || buf.last() == Some(&b'\n') {
            buf.clear();
            return Ok(Line::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<(Line, String)> {
        let mut reader = std::io::Cursor::new(text);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut reader, &mut buf).unwrap();
            if l == Line::End {
                return out;
            }
            out.push((l, String::from_utf8_lossy(&buf).into_owned()));
        }
    }

    #[test]
    fn lines_are_bounded_and_the_last_needs_no_newline() {
        let long = vec![b'x'; MAX_LINE * 3 + 5];
        let text = [b"one\n".as_slice(), &long, b"\ntwo\n\nthree"].concat();
        let got = lines(&text);
        let want = [
            (Line::Whole, "one"),
            (Line::TooLong, ""),
            (Line::Whole, "two"),
            (Line::Whole, ""),
            (Line::Whole, "three"),
        ];
        assert_eq!(got, want.map(|(l, s)| (l, s.to_string())));
        let exact = [vec![b'y'; MAX_LINE], b"\n".to_vec()].concat();
        assert_eq!(lines(&exact), [(Line::Whole, "y".repeat(MAX_LINE))]);
    }

    #[test]
    fn chunks_keep_line_numbers_and_wrapped_lines_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log");
        let ok = "info: sbin/devf-ram (pid:1) type fs_t uses ability IO as root";
        // More than two chunks of good lines, a wrapped line at each boundary, a bad line last.
        let mut text = String::new();
        let mut n = 0;
        while text.len() < CHUNK * 2 + 100 {
            text.push_str(
                "info: sbin/devf-ram (pid:1) of type fs_t attached channel\n    to path /dev/fsF\n",
            );
            text.push_str(ok);
            text.push('\n');
            n += 3;
        }
        text.push_str("garbage\n");
        std::fs::write(&file, &text).unwrap();
        let (sink, items) = crossbeam_channel::unbounded();
        let opts = Options { files: vec![file.clone()], pace: Duration::ZERO };
        let counts = replay_file(&file, &opts, &sink, &AtomicBool::new(false));
        assert_eq!(counts, (n / 3 * 2, 1));
        let attaches = items
            .try_iter()
            .filter(|i| matches!(i, Item::Event(e) if matches!(&e.what, secpol::EventKind::Attach { path, .. } if path == "/dev/fsF")))
            .count();
        assert_eq!(attaches as u64, n / 3, "a wrapped line was cut");
    }
}
