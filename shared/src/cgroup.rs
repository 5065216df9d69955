//! Security types as cgroup v2 directories (`secpol/<type>` under the cgroup2 mount).
//!
//! A process's type is the cgroup v2 directory it lives in: `secpolctl on -T web_t`
//! joins `<cgroup2 mount>/secpol/web_t` (children inherit it), and a process outside
//! `secpol/` has type [`DEFAULT_TYPE`]. The cgroup2 mount is found in
//! `/proc/self/mountinfo`, never assumed (on hybrid layouts it is `/sys/fs/cgroup/unified`).
//!
//! The kernel tracer tags each event with the *cgroup id* (the directory's inode number),
//! so [`TypeTree::type_of_id`] maps one id back to its type ([`TypeTree::ids`]: all of
//! them, by a walk). Directories below a type's directory
//! belong to that type. The cgroups services already have are types too (a systemd unit,
//! a container, a configured mapping): the tree names every cgroup by the rules of
//! [`cgroup_types`](crate::cgroup_types).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cgroup_types::Naming;
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

/// The type of process `pid`, from `/proc/PID/cgroup`; `default` when it is in no type
/// (or has no cgroup v2 line).
pub fn type_of_pid(pid: u32) -> Result<String, CgroupError> {
    let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = std::fs::read_to_string(&path).map_err(|e| CgroupError::io("cannot read", &path, e))?;
    Ok(parse_proc_cgroup(&text).map_or(DEFAULT_TYPE, type_of_cgroup_path).to_string())
}

/// The type directories under one cgroup2 mount, and the rules naming every cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeTree {
    mount: PathBuf,
    naming: Naming,
}

impl TypeTree {
    /// The tree under the cgroup2 mount of this system (from `/proc/self/mountinfo`).
    pub fn open() -> Result<Self, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(|e| CgroupError::io("cannot read", path, e))?;
        parse_mountinfo(&text).map(TypeTree::at).ok_or(CgroupError::NoCgroup2)
    }

    /// The tree under a given cgroup2 mount point, with the default naming rules.
    pub fn at(mount: impl Into<PathBuf>) -> Self {
        TypeTree { mount: mount.into(), naming: Naming::default() }
    }

    /// The same tree, naming cgroups by `naming`.
    pub fn with_naming(self, naming: Naming) -> Self {
        TypeTree { naming, ..self }
    }

    /// The rules naming the cgroups.
    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    /// The cgroup2 mount point.
    pub fn mount(&self) -> &Path {
        &self.mount
    }

    /// The directory of all types (`<mount>/secpol`).
    pub fn root(&self) -> PathBuf {
        self.mount.join(TYPES_DIR)
    }

    /// The directory of type `name` (validated).
    pub fn dir(&self, name: &str) -> Result<PathBuf, CgroupError> {
        validate_type_name(name)?;
        Ok(self.root().join(name))
    }

    /// Creates the directory of type `name` if it is missing, and returns it.
    pub fn create(&self, name: &str) -> Result<PathBuf, CgroupError> {
        let dir = self.dir(name)?;
        match std::fs::create_dir_all(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(dir),
            Err(e) => Err(CgroupError::io("cannot create", &dir, e)),
        }
    }

    /// Moves process `pid` (0: the caller) into type `name`, creating the type if missing.
    pub fn join(&self, name: &str, pid: u32) -> Result<(), CgroupError> {
        let procs = self.create(name)?.join("cgroup.procs");
        std::fs::write(&procs, format!("{pid}\n")).map_err(|e| CgroupError::io("cannot join", &procs, e))
    }

    /// The type of the one cgroup with id `id`, found by the id itself (cgroup2 gives each
    /// cgroup a file handle that is its id: `open_by_handle_at`, as systemd's
    /// `cg_path_from_cgroupid` does), not by a walk of the whole tree. `Ok(None)`: no such
    /// cgroup any more. An error: the kernel or the privileges do not allow the lookup
    /// (it needs CAP_DAC_READ_SEARCH); [`ids`](Self::ids) still works then.
    pub fn type_of_id(&self, id: u64) -> io::Result<Option<String>> {
        let Some(path) = cgroup_path_of_id(&self.mount, id)? else { return Ok(None) };
        let rel = path.strip_prefix(&self.mount).unwrap_or(&path);
        Ok(Some(self.naming.type_of(&rel.to_string_lossy())))
    }

    /// Every cgroup whose type is not `default` by cgroup id (inode number), plus the
    /// `secpol` directory itself as `default`: the `secpol/<type>` directories, and the
    /// cgroups the naming rules give a type (units, containers, mappings). A cgroup that
    /// vanishes during the walk is skipped. Missing tree: empty map.
    pub fn ids(&self) -> Result<HashMap<u64, String>, CgroupError> {
        let mut map = HashMap::new();
        let root = self.root();
        if let Ok(meta) = std::fs::metadata(&root) {
            map.insert(meta.ino(), DEFAULT_TYPE.to_string());
        }
        let entries = match std::fs::read_dir(&self.mount) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(map),
            Err(e) => return Err(CgroupError::io("cannot read", &self.mount, e)),
        };
        let mut stack: Vec<(PathBuf, String)> = Vec::new();
        let push_dirs = |stack: &mut Vec<(PathBuf, String)>, entries: std::fs::ReadDir, base: &str| {
            for c in entries.flatten().filter(|c| c.file_type().is_ok_and(|t| t.is_dir())) {
                let Some(name) = c.file_name().to_str().map(str::to_string) else { continue };
                let rel = if base.is_empty() { name } else { format!("{base}/{name}") };
                stack.push((c.path(), rel));
            }
        };
        push_dirs(&mut stack, entries, "");
        while let Some((dir, rel)) = stack.pop() {
            let Ok(meta) = std::fs::metadata(&dir) else { continue };
            let type_name = self.naming.type_of(&rel);
            if type_name != DEFAULT_TYPE {
                map.insert(meta.ino(), type_name);
            }
            if let Ok(children) = std::fs::read_dir(&dir) {
                push_dirs(&mut stack, children, &rel);
            }
        }
        Ok(map)
    }
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
fn cgroup_path_of_id(mount: &Path, id: u64) -> io::Result<Option<PathBuf>> {
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

    /// As root, a cgroup is found by its id alone: the root, and one made here under its
    /// own name; an id no cgroup has is gone, not an error.
    #[test]
    fn a_cgroup_is_found_by_its_id() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return; // needs CAP_DAC_READ_SEARCH; the e2e tests cover it as root
        }
        let Ok(tree) = TypeTree::open() else { return };
        let root = std::fs::metadata(tree.mount()).unwrap().ino();
        assert_eq!(tree.type_of_id(root).unwrap().as_deref(), Some(DEFAULT_TYPE));
        let unit = tree.mount().join("system.slice").join(format!("idtest{}.service", std::process::id()));
        if std::fs::create_dir_all(&unit).is_ok() {
            let id = std::fs::metadata(&unit).unwrap().ino();
            let found = tree.type_of_id(id);
            std::fs::remove_dir(&unit).unwrap();
            assert_eq!(found.unwrap(), Some(format!("idtest{}_service_t", std::process::id())));
            assert_eq!(tree.type_of_id(id).unwrap(), None, "removed: gone");
        }
        assert_eq!(tree.type_of_id(u64::MAX - 1).unwrap(), None);
    }

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

    #[test]
    fn ids_map_directories_to_types() {
        let tmp = std::env::temp_dir().join(format!("secpol-cgroup-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let tree = TypeTree::at(&tmp);
        assert!(tree.ids().unwrap().is_empty());
        let web = tree.create("web_t").unwrap();
        std::fs::create_dir_all(web.join("worker")).unwrap();
        tree.create("db_t").unwrap();
        assert!(tree.create("../evil").is_err());
        let ids = tree.ids().unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ids[&ino(&web)], "web_t");
        assert_eq!(ids[&ino(&web.join("worker"))], "web_t");
        assert_eq!(ids[&ino(&tree.dir("db_t").unwrap())], "db_t");
        assert_eq!(ids[&ino(&tree.root())], "default");
        assert_eq!(ids.len(), 4);
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
