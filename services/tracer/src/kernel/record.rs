//! The records the kernel side writes into the ring buffer (`bpf/events.h`): a fixed
//! header (`struct sp_event`) followed by its paths, read back field by field.
//!
//! The header layout is fixed by the C header; [`RawEvent::parse`] reads it at the offsets
//! below in native byte order. A record shorter than its header, or whose path lengths
//! point past its end, is refused rather than misread.

use std::borrow::Cow;

/// Size of `struct sp_event`, the header of every record.
pub const HEADER_SIZE: usize = 128;
/// Room for one path with its NUL (`SP_PATH_CAP`): a path that fills it was cut.
pub const PATH_CAP: usize = 4104;

/// Record kinds (`enum sp_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Capability check.
    Cap,
    /// `AF_UNIX` bind to a path.
    Bind,
    /// mount(2) onto a path.
    Mount,
    /// symlink(2) / symlinkat(2).
    Symlink,
    /// `AF_UNIX` connect to a path.
    Connect,
    /// Connect to another host.
    Remote,
    /// Signal to a process in another cgroup.
    Signal,
    /// exec.
    Exec,
    /// Exit of a whole process.
    Exit,
}

impl Kind {
    fn from_raw(v: u32) -> Option<Kind> {
        Some(match v {
            1 => Kind::Cap,
            2 => Kind::Bind,
            3 => Kind::Mount,
            4 => Kind::Symlink,
            5 => Kind::Connect,
            6 => Kind::Remote,
            7 => Kind::Signal,
            8 => Kind::Exec,
            9 => Kind::Exit,
            _ => return None,
        })
    }
}

/// `SP_F_PROBE`: a NOAUDIT probe.
pub const F_PROBE: u32 = 1;
/// `SP_F_ROOT`: checked credentials had euid 0.
pub const F_ROOT: u32 = 2;
/// `SP_F_HAS_VALUE`: `value` is the checked value.
pub const F_HAS_VALUE: u32 = 4;
/// `SP_F_TRUNCATED`: a path filled its room and was cut.
pub const F_TRUNCATED: u32 = 8;
/// `SP_F_SECCOMP`: not a kernel check but a set*id call a seccomp filter refused.
pub const F_SECCOMP: u32 = 16;

/// One record from the kernel; its texts are borrowed from the ring buffer (no
/// allocation, unless a text is not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// What it reports.
    pub kind: Kind,
    /// Process id (thread group id).
    pub tgid: u32,
    /// Thread id.
    pub tid: u32,
    /// Real uid.
    pub uid: u32,
    /// Effective uid (of the checked credentials, for a capability check).
    pub euid: u32,
    /// Check result (0 or -errno), syscall result, wait status (exit), or signal result.
    pub ret: i32,
    /// cgroup v2 id of the process.
    pub cgid: u64,
    /// When, `CLOCK_BOOTTIME` nanoseconds.
    pub time_ns: u64,
    /// When the process started, `CLOCK_BOOTTIME` nanoseconds.
    pub start_ns: u64,
    /// Capability number.
    pub cap: u32,
    /// `F_*` bits.
    pub flags: u32,
    /// Checked value (port, target uid or gid) when `F_HAS_VALUE`.
    pub value: u64,
    /// cgroup v2 id of a signal's receiver.
    pub target_cgid: u64,
    /// A signal's receiving process.
    pub target_pid: u32,
    /// Signal number.
    pub sig: i32,
    /// Address family of a connect.
    pub family: u32,
    /// Port of an internet connect.
    pub port: u32,
    /// Directory fd of symlinkat (`AT_FDCWD` = -100).
    pub dirfd: i32,
    /// Address of an internet connect (4 or 16 bytes used).
    pub addr: [u8; 16],
    /// Thread name.
    pub comm: Cow<'a, str>,
    /// Path (bind, connect, mount target, link, exec).
    pub path: Cow<'a, str>,
    /// Second path (link target).
    pub path2: Cow<'a, str>,
}

/// A record that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// Shorter than the header.
    #[error("kernel record of {0} bytes, shorter than its {HEADER_SIZE}-byte header")]
    Short(usize),
    /// A kind this build does not know.
    #[error("kernel record of unknown kind {0}")]
    UnknownKind(u32),
    /// The path lengths do not fit the record.
    #[error("kernel record of {size} bytes says its paths take {paths} bytes after the header")]
    PathsOutside {
        /// Bytes of the record.
        size: usize,
        /// Bytes the paths would take.
        paths: usize,
    },
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(b[off..off + 2].try_into().expect("2 bytes"))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// The text up to the first NUL (the rest of a kernel buffer is garbage).
fn c_string(b: &[u8]) -> Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

impl<'a> RawEvent<'a> {
    /// Reads one record.
    pub fn parse(b: &'a [u8]) -> Result<RawEvent<'a>, RecordError> {
        if b.len() < HEADER_SIZE {
            return Err(RecordError::Short(b.len()));
        }
        let raw_kind = u32_at(b, 0);
        let kind = Kind::from_raw(raw_kind).ok_or(RecordError::UnknownKind(raw_kind))?;
        let path_len = usize::from(u16_at(b, 92));
        let path2_len = usize::from(u16_at(b, 94));
        let paths = path_len + path2_len;
        if HEADER_SIZE + paths > b.len() {
            return Err(RecordError::PathsOutside { size: b.len(), paths });
        }
        let path = &b[HEADER_SIZE..HEADER_SIZE + path_len];
        let path2 = &b[HEADER_SIZE + path_len..HEADER_SIZE + paths];
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&b[96..112]);
        Ok(RawEvent {
            kind,
            tgid: u32_at(b, 4),
            tid: u32_at(b, 8),
            uid: u32_at(b, 12),
            euid: u32_at(b, 16),
            ret: u32_at(b, 20) as i32,
            cgid: u64_at(b, 24),
            time_ns: u64_at(b, 32),
            start_ns: u64_at(b, 40),
            cap: u32_at(b, 48),
            flags: u32_at(b, 52),
            value: u64_at(b, 56),
            target_cgid: u64_at(b, 64),
            target_pid: u32_at(b, 72),
            sig: u32_at(b, 76) as i32,
            family: u32_at(b, 80),
            port: u32_at(b, 84),
            dirfd: u32_at(b, 88) as i32,
            addr,
            comm: c_string(&b[112..128]),
            path: c_string(path),
            path2: c_string(path2),
        })
    }

    /// The record with texts of its own (for tests that build records on the fly).
    #[cfg(test)]
    pub fn into_owned(self) -> RawEvent<'static> {
        RawEvent {
            comm: Cow::Owned(self.comm.into_owned()),
            path: Cow::Owned(self.path.into_owned()),
            path2: Cow::Owned(self.path2.into_owned()),
            ..self
        }
    }

    /// Whether a path of this record was cut by the kernel side (it cannot become a rule).
    pub fn truncated(&self) -> bool {
        self.flags & F_TRUNCATED != 0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a record as the kernel side lays it out: the header, then `paths` (each
    /// given without its NUL; the lengths are filled in).
    pub(crate) fn record(kind: u32, paths: &[&str], fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&kind.to_ne_bytes());
        for (i, p) in paths.iter().enumerate() {
            let len = u16::try_from(p.len() + 1).expect("short path");
            b[92 + 2 * i..94 + 2 * i].copy_from_slice(&len.to_ne_bytes());
            b.extend_from_slice(p.as_bytes());
            b.push(0);
        }
        fill(&mut b);
        b
    }

    pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn put_u64(b: &mut [u8], off: usize, v: u64) {
        b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    pub(crate) fn put_str(b: &mut [u8], off: usize, s: &str) {
        b[off..off + s.len()].copy_from_slice(s.as_bytes());
        b[off + s.len()] = 0;
    }

    #[test]
    fn fields_are_read_at_the_c_offsets() {
        let b = record(1, &["/tmp/sock", "target"], |b| {
            put_u32(b, 4, 42);
            put_u32(b, 8, 43);
            put_u32(b, 12, 1000);
            put_u32(b, 16, 0);
            put_u32(b, 20, (-1i32) as u32);
            put_u64(b, 24, 7777);
            put_u64(b, 32, 5);
            put_u64(b, 40, 3);
            put_u32(b, 48, 10);
            put_u32(b, 52, F_ROOT | F_HAS_VALUE);
            put_u64(b, 56, 80);
            put_u32(b, 88, (-100i32) as u32);
            put_str(b, 112, "python3");
        });
        let e = RawEvent::parse(&b).unwrap();
        assert_eq!(e.kind, Kind::Cap);
        assert_eq!((e.tgid, e.tid, e.uid, e.euid, e.ret), (42, 43, 1000, 0, -1));
        assert_eq!((e.cgid, e.time_ns, e.start_ns, e.cap, e.value), (7777, 5, 3, 10, 80));
        assert_eq!(e.flags, F_ROOT | F_HAS_VALUE);
        assert_eq!(e.dirfd, -100);
        assert_eq!((e.comm.as_ref(), e.path.as_ref(), e.path2.as_ref()), ("python3", "/tmp/sock", "target"));
        assert!(!e.truncated());
    }

    #[test]
    fn a_path_of_any_length_up_to_path_max_is_read_whole() {
        let long = format!("/{}", "d/".repeat(2000)) + "sock";
        assert!(long.len() > 4000);
        let e = RawEvent::parse(&record(4, &[&long, "/etc/hostname"], |_| {})).unwrap().into_owned();
        assert_eq!(e.path, long);
        assert_eq!(e.path2, "/etc/hostname");
        // A header alone (a capability check) has no paths.
        let e = RawEvent::parse(&record(1, &[], |_| {})).unwrap().into_owned();
        assert_eq!((e.path.as_ref(), e.path2.as_ref()), ("", ""));
    }

    #[test]
    fn short_unknown_and_inconsistent_records_are_refused() {
        assert_eq!(RawEvent::parse(&[0u8; 100]), Err(RecordError::Short(100)));
        assert_eq!(RawEvent::parse(&record(99, &[], |_| {})), Err(RecordError::UnknownKind(99)));
        // Path lengths that point past the end.
        let mut b = record(2, &["/tmp/x"], |_| {});
        b.truncate(b.len() - 2);
        assert_eq!(RawEvent::parse(&b), Err(RecordError::PathsOutside { size: HEADER_SIZE + 5, paths: 7 }));
        // A path without its NUL is read to its length.
        let mut b = record(8, &["/bin/ls"], |_| {});
        *b.last_mut().unwrap() = b'x';
        assert_eq!(RawEvent::parse(&b).unwrap().path, "/bin/lsx");
        let e = RawEvent::parse(&record(8, &["/cut"], |b| put_u32(b, 52, F_TRUNCATED))).unwrap().into_owned();
        assert!(e.truncated());
    }
}
