//! Files the generator writes: atomically, so a reader or a crash never sees half a file,
//! with modes that do not depend on the umask, and retried until they can be written.
//!
//! [`write_atomic`] writes a temporary file beside the target, flushes it to disk, renames
//! it over the target and flushes the directory, so after a crash (`kill -9`, power loss)
//! the target holds either the old or the new contents, whole. [`WriteProblems`] remembers
//! the files that could not be written (a read-only or full file system): one log line when
//! a file first fails, one every [`WriteProblems::INTERVAL`] while it goes on failing, one
//! when it is written again; `secpolctl status` lists them meanwhile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mode of the outputs (`policy`, `unused`, `errors`, `protect`): anyone may read them, only
/// the generator write them.
pub const OUTPUT_MODE: u32 = 0o644;
/// Mode of the state file: what was learned, for the generator alone.
pub const STATE_MODE: u32 = 0o600;
/// Mode of an output directory the generator creates: anyone may look, only the generator
/// add, rename or remove files.
pub const OUTPUT_DIR_MODE: u32 = 0o755;

pub use secpol::files::write_atomic;

/// The files that could not be written, until they are.
#[derive(Debug, Default)]
pub struct WriteProblems {
    failing: BTreeMap<PathBuf, Failing>,
}

#[derive(Debug)]
struct Failing {
    why: String,
    logged_at: Instant,
    /// Attempts that failed since the last log line.
    unlogged: u64,
}

impl WriteProblems {
    /// Shortest time between two log lines about the same file failing for the same reason.
    pub const INTERVAL: Duration = Duration::from_secs(60);

    /// Writes `path` (see [`write_atomic`]) and notes how it went. Returns whether it was
    /// written.
    pub fn write(&mut self, what: &str, path: &Path, contents: &[u8], mode: u32) -> bool {
        match write_atomic(path, contents, mode) {
            Ok(()) => {
                if self.failing.remove(path).is_some() {
                    log::warn!("{what} {} written again", path.display());
                }
                true
            }
            Err(e) => {
                let why = e.to_string();
                let now = Instant::now();
                match self.failing.get_mut(path) {
                    Some(f) if f.why == why && now.duration_since(f.logged_at) < Self::INTERVAL => {
                        f.unlogged += 1;
                    }
                    Some(f) => {
                        log::error!(
                            "cannot write {what} {}: {why} ({} more failed attempts; kept in memory, retried at every flush)",
                            path.display(),
                            f.unlogged
                        );
                        *f = Failing { why, logged_at: now, unlogged: 0 };
                    }
                    None => {
                        log::error!(
                            "cannot write {what} {}: {why} (kept in memory, retried at every flush)",
                            path.display()
                        );
                        self.failing.insert(path.to_path_buf(), Failing { why, logged_at: now, unlogged: 0 });
                    }
                }
                false
            }
        }
    }

    /// The files failing now, as `FILE: why`.
    pub fn list(&self) -> Vec<String> {
        self.failing.iter().map(|(p, f)| format!("{}: {}", p.display(), f.why)).collect()
    }

    /// Whether every file was written at its last attempt.
    pub fn is_empty(&self) -> bool {
        self.failing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn replaces_whole_with_its_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy");
        // SAFETY: umask only changes this process's file creation mask.
        let old = unsafe { libc::umask(0) };
        write_atomic(&p, b"one", OUTPUT_MODE).unwrap();
        unsafe { libc::umask(old) };
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o7777, OUTPUT_MODE);
        write_atomic(&p, b"two", STATE_MODE).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o7777, STATE_MODE);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let err = write_atomic(&dir.path().join("missing/x"), b"y", OUTPUT_MODE).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);

        let mut problems = WriteProblems::default();
        assert!(!problems.write("output", &dir.path().join("missing/x"), b"y", OUTPUT_MODE));
        assert!(!problems.write("output", &dir.path().join("missing/x"), b"y", OUTPUT_MODE));
        assert_eq!(problems.list().len(), 1);
        assert!(problems.list()[0].ends_with("missing/x: No such file or directory (os error 2)"));
        std::fs::create_dir_all(dir.path().join("missing")).unwrap();
        assert!(problems.write("output", &dir.path().join("missing/x"), b"y", OUTPUT_MODE));
        assert!(problems.is_empty());
    }
}
