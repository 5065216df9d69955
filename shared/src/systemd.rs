//! The systemd conventions the services follow: readiness (`sd_notify`), the journal's
//! native protocol for structured entries, and whether stderr is the journal.
//!
//! None of them needs systemd: without `NOTIFY_SOCKET`, [`notify_ready`] does nothing;
//! without the journal's socket, [`Journal::send`] says so and the caller falls back.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Where journald listens for native entries.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Tells the service manager that `prog` is ready (`READY=1`), when it started us as
/// `Type=notify` (`NOTIFY_SOCKET` set); a failure is logged, never fatal. The variable
/// stays set: the tracer has threads by then, and changing the environment is not safe.
pub fn notify_ready(status: &str) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let states = [sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(status)];
    match sd_notify::notify(false, &states) {
        Ok(()) => log::info!("told the service manager: ready ({status})"),
        Err(e) => log::warn!("cannot tell the service manager that we are ready: {e}"),
    }
}

/// Whether stderr is a journal stream: `JOURNAL_STREAM` (`DEV:INODE`, set by systemd for
/// units whose stderr goes to the journal) names the file stderr is.
pub fn stderr_is_journal() -> bool {
    let Some(var) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = var.to_str().and_then(|v| v.split_once(':')) else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    // SAFETY: fstat on fd 2 with a zeroed out-buffer of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    st.st_dev == dev && st.st_ino == ino
}

/// The syslog priority journald files a log level under (`<N>` prefixes, `PRIORITY=`).
pub fn priority(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Encodes one journal entry in the native protocol: `KEY=value` lines, or for a value
/// with a newline `KEY`, a newline, its length as 64-bit little endian, the bytes and a
/// newline. Keys are upper-case letters, digits and `_`, not starting with `_` (those are
/// journald's own): anything else becomes `_`-free upper case here, so a caller's field
/// name can never forge a trusted field.
pub fn encode_entry(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        let key: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect::<String>()
            .trim_start_matches(|c: char| c == '_' || c.is_ascii_digit())
            .to_string();
        if key.is_empty() {
            continue;
        }
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// A sender of native journal entries.
#[derive(Debug)]
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journal {
    /// The system journal, when its socket is there.
    pub fn system() -> Option<Journal> {
        Journal::at(Path::new(JOURNAL_SOCKET))
    }

    /// A journal listening at `path` (tests use their own), when a socket is there.
    pub fn at(path: &Path) -> Option<Journal> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.mode() & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        let socket = UnixDatagram::unbound().ok()?;
        Some(Journal { socket, path: path.to_path_buf() })
    }

    /// Sends one entry (see [`encode_entry`]).
    pub fn send(&self, fields: &[(&str, &str)]) -> io::Result<()> {
        let entry = encode_entry(fields);
        let n = self.socket.send_to(&entry, &self.path)?;
        if n != entry.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "journal entry cut short"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_the_native_protocol() {
        let e =
            encode_entry(&[("MESSAGE", "a b"), ("secpol_type", "web_t"), ("_PID", "1"), ("MULTI", "x\ny")]);
        let mut want = b"MESSAGE=a b\nSECPOL_TYPE=web_t\nPID=1\nMULTI\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"x\ny\n");
        assert_eq!(e, want);
    }

    #[test]
    fn a_journal_receives_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal");
        let server = UnixDatagram::bind(&path).unwrap();
        let j = Journal::at(&path).expect("a socket is there");
        j.send(&[("MESSAGE", "hello"), ("PRIORITY", "4")]).unwrap();
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"MESSAGE=hello\nPRIORITY=4\n");
        assert!(Journal::at(Path::new("/nonexistent/journal")).is_none());
        assert!(Journal::at(Path::new("/etc/hostname")).is_none(), "a plain file is no journal");
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(log::Level::Error), 3);
        assert_eq!(priority(log::Level::Warn), 4);
        assert_eq!(priority(log::Level::Info), 6);
        assert_eq!(priority(log::Level::Debug), 7);
    }
}
