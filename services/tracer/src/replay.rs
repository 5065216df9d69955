//! The replay source: publishes the events of recordings (`--record` files) and of
//! `secpolmonitor` logs captured on QNX targets, so a policy can be learned, and
//! monitors tried, offline.
//!
//! An unreadable line is reported as `FILE:LINE: why` and skipped; an unreadable file is
//! reported and the next one read. Nothing already read is lost.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::source::{Item, Sink};

/// Largest replay file read (a larger one is refused with a message).
pub const MAX_FILE: u64 = 1 << 30;

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
fn replay_file(file: &PathBuf, opts: &Options, sink: &Sink, shutdown: &AtomicBool) -> (u64, u64) {
    let text = match read_bounded(file) {
        Ok(t) => t,
        Err(e) => {
            log::error!("cannot replay {}: {e}", file.display());
            return (0, 1);
        }
    };
    let (mut sent, mut bad) = (0, 0);
    for (line, parsed) in secpol::record::read_events(&text) {
        if shutdown.load(Ordering::Relaxed) {
            break;
        }
        match parsed {
            Ok(event) => {
                if sink.send(Item::Event(event)).is_err() {
                    break;
                }
                sent += 1;
                if !opts.pace.is_zero() {
                    std::thread::sleep(opts.pace);
                }
            }
            Err(e) => {
                log::error!("{}:{line}: {e}; line skipped", file.display());
                bad += 1;
            }
        }
    }
    (sent, bad)
}

fn read_bounded(file: &PathBuf) -> std::io::Result<String> {
    let meta = std::fs::metadata(file)?;
    if meta.len() > MAX_FILE {
        return Err(std::io::Error::other(format!("larger than {MAX_FILE} bytes")));
    }
    let bytes = std::fs::read(file)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
