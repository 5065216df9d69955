//! Security types as cgroup v2 directories (`secpol/<type>` under the cgroup2 mount).
//!
//! A process's type is the cgroup v2 directory it lives in: `secpolctl on -T web_t`
//! joins `<cgroup2 mount>/secpol/web_t` (children inherit it), and a process outside
//! `secpol/` has type [`DEFAULT_TYPE`]. The cgroup2 mount is found in
//! `/proc/self/mountinfo`, never assumed (on hybrid layouts it is `/sys/fs/cgroup/unified`).
//!
//! This module holds the facts of the cgroup v2 filesystem: type names, the mount, the
//! `/proc/PID/cgroup` line, a cgroup found by its id ([`cgroup_path_of_id`]).
//! Directories below a type's directory belong to that type. The cgroups services already
//! have are types too (a systemd unit, a container, a configured mapping): their naming,
//! and the tree of types the tracer maps cgroup ids with, are in
//! [`cgroup_types`](crate::cgroup_types).

use std::io;
use std::path::{Path, PathBuf};

pub use crate::event::DEFAULT_TYPE;

/// Directory under the cgroup2 mount that holds one directory per type.
pub const TYPES_DIR: &str = "secpol";

/// Why a type or its cgroup cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The name cannot be a type.
    #[error("invalid type name {name:?}: {why}")]
    InvalidType {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No cgroup2 filesystem is mounted.
    #[error("no cgroup2 filesystem is mounted (see /proc/self/mountinfo)")]
    NoCgroup2,
    /// A file of the cgroup tree could not be read, created or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`cannot create`, `cannot join`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        CgroupError::Io { action, path: path.to_path_buf(), source }
    }

    /// Whether the error is a refused permission (not root, read-only cgroupfs).
    pub fn is_permission(&self) -> bool {
        matches!(self, CgroupError::Io { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EROFS)))
    }
}

/// Checks that `name` can be a type. The rule is the policy language's
/// ([`check_type_name`](crate::policy::check_type_name): letters, digits and `_`, not
/// starting with a digit, at most 128 bytes), so every type a process can run as can
/// also be written in a policy, and no name is ever a path, `..` or an option.
pub fn validate_type_name(name: &str) -> Result<(), CgroupError> {
    crate::policy::check_type_name("type", name).map_err(|e| match e {
        crate::policy::ModelError::InvalidName { why, .. } => {
            CgroupError::InvalidType { name: name.to_string(), why }
        }
        _ => CgroupError::InvalidType { name: name.to_string(), why: "not a type name" },
    })
}

/// Finds the cgroup2 mount point in the text of a `mountinfo` file.
///
/// Fields: `id parent major:minor root mountpoint options [optional...] - fstype source
/// superoptions`; the mount point is octal-escaped (`\040` for a space).
pub fn parse_mountinfo(text: &str) -> Option<PathBuf> {
    text.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mountpoint = left.split_whitespace().nth(4)?;
        Some(PathBuf::from(unescape_mountinfo(mountpoint)))
    })
}

/// Undoes the octal escapes (`\040`, `\011`, `\012`, `\134`) of mountinfo fields.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path in the text of a `/proc/PID/cgroup` file (the `0::/path` line).
pub fn parse_proc_cgroup(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The type of a process whose cgroup v2 path (relative to the mount) is `path`:
/// the directory right under `/secpol/`, else [`DEFAULT_TYPE`].
pub fn type_of_cgroup_path(path: &str) -> &str {
    path.strip_prefix('/')
        .unwrap_or(path)
        .strip_prefix(TYPES_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split('/').next())
        .filter(|t| validate_type_name(t).is_ok())
        .unwrap_or(DEFAULT_TYPE)
}

/// The cgroup v2 path of process `pid`, from `/proc/PID/cgroup` (`None`: it has no cgroup v2
/// line).
pub fn cgroup_of_pid(pid: u32) -> Result<Option<String>, CgroupError> {
    let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = std::fs::read_to_string(&path).map_err(|e| CgroupError::io("cannot read", &path, e))?;
    Ok(parse_proc_cgroup(&text).map(str::to_string))
}

/// `struct file_handle` with room for a cgroup id.
#[repr(C)]
struct CgroupHandle {
    handle_bytes: u32,
    handle_type: i32,
    id: u64,
}

/// `FILEID_KERNFS`: a kernfs (cgroup2) node by its id.
const FILEID_KERNFS: i32 = 0xfe;

/// The path of the cgroup with id `id` under the cgroup2 mount `mount`; `Ok(None)` when
/// it is gone.
pub fn cgroup_path_of_id(mount: &Path, id: u64) -> io::Result<Option<PathBuf>> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let dir = std::fs::File::open(mount)?;
    let mut handle = CgroupHandle { handle_bytes: 8, handle_type: FILEID_KERNFS, id };
    // SAFETY: `handle` is a file_handle with handle_bytes of payload after its header; the
    // returned fd, if any, is owned below.
    let fd = unsafe {
        libc::open_by_handle_at(
            dir.as_raw_fd(),
            (&mut handle as *mut CgroupHandle).cast(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ESTALE) | Some(libc::ENOENT) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: fd was just returned to us and is not owned elsewhere.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_validated() {
        for ok in ["web_t", "a", "x_1", "DEFAULT"] {
            assert!(validate_type_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", ".", "a/b", "/x", "-T", "a b", "é", "my-app", "1x", "self", &"x".repeat(129)] {
            let e = validate_type_name(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid type name"), "{bad}: {e}");
        }
    }

    #[test]
    fn cgroup2_mount_is_found_in_mountinfo() {
        let text = "\
24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev shared:10 - cgroup2 cgroup2 rw,nsdelegate
37 35 0:32 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
";
        assert_eq!(parse_mountinfo(text), Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(
            parse_mountinfo("36 35 0:31 / /a\\040b rw - cgroup2 none rw"),
            Some(PathBuf::from("/a b"))
        );
        assert_eq!(parse_mountinfo("24 30 0:22 / /sys rw - sysfs sysfs rw\n"), None);
        assert_eq!(parse_mountinfo("garbage\n\n - \n"), None);
    }

    #[test]
    fn types_come_from_the_cgroup_path() {
        assert_eq!(parse_proc_cgroup("12:cpu:/x\n0::/secpol/web_t\n"), Some("/secpol/web_t"));
        assert_eq!(parse_proc_cgroup("1:name=systemd:/\n"), None);
        assert_eq!(type_of_cgroup_path("/secpol/web_t"), "web_t");
        assert_eq!(type_of_cgroup_path("/secpol/web_t/worker"), "web_t");
        assert_eq!(type_of_cgroup_path("/secpol"), "default");
        assert_eq!(type_of_cgroup_path("/secpolx/web_t"), "default");
        assert_eq!(type_of_cgroup_path("/user.slice/session-1.scope"), "default");
        assert_eq!(type_of_cgroup_path("/"), "default");
        assert_eq!(type_of_cgroup_path("/secpol/../x"), "default");
    }
}
