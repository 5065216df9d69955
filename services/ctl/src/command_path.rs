//! Where the command is: the `PATH` lookup `execvp(3)` would make as the user the command
//! runs as, done by the launcher before it switches user or enters the type.
//!
//! Searching `PATH` as the new user, inside the type, made the kernel check the launcher's
//! own access to every directory on the way: an unreadable root-only directory early in
//! `PATH` showed up as `secpolctl (pid N) of type t lacks ability DAC_OVERRIDE as non-root`,
//! blamed on the workload. Here the launcher (still the caller, usually root) reads the
//! directories' and files' owners and modes and decides for the new user what its own
//! search would have found: the first `DIR/COMMAND` it may reach and execute, skipping
//! those it may not, as `execvp` does. It never walks into a directory the user could not
//! search, so a non-root caller makes no check it fails either. Only the final `execve` of
//! the found path runs inside the type.
//!
//! The decision reads the classic permission bits (owner, group, other; root may search
//! everything and execute what has any execute bit); ACLs are not read.

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// `PATH` when the environment has none (glibc's `_CS_PATH`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The user who searches: the one the command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searcher {
    /// User id.
    pub uid: libc::uid_t,
    /// Primary group id.
    pub gid: libc::gid_t,
    /// Supplementary groups.
    pub groups: Vec<libc::gid_t>,
}

/// What a permission check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Searching a directory.
    Search,
    /// Executing a file.
    Execute,
}

impl Searcher {
    /// The user `name` (when known) with primary group `gid` and the supplementary groups
    /// `initgroups(3)` gives it, as the launcher's user switch sets them.
    pub fn for_user(name: Option<&str>, uid: libc::uid_t, gid: libc::gid_t) -> Searcher {
        let groups = name.and_then(|n| group_list(n, gid)).unwrap_or_else(|| vec![gid]);
        Searcher { uid, gid, groups }
    }

    /// The calling process's effective user and groups.
    pub fn current() -> Searcher {
        // SAFETY: getgroups with a null buffer and size 0 only counts.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        let mut groups = vec![0; usize::try_from(n).unwrap_or(0)];
        // SAFETY: the buffer holds `n` entries.
        let got = unsafe { libc::getgroups(n.max(0), groups.as_mut_ptr()) };
        groups.truncate(usize::try_from(got).unwrap_or(0));
        // SAFETY: no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Searcher { uid, gid, groups }
    }

    fn may(&self, meta: &std::fs::Metadata, access: Access) -> bool {
        let mode = meta.mode();
        if self.uid == 0 {
            // Root searches everything and executes what anyone may execute.
            return access == Access::Search || mode & 0o111 != 0;
        }
        let class_shift = if meta.uid() == self.uid {
            6
        } else if meta.gid() == self.gid || self.groups.contains(&meta.gid()) {
            3
        } else {
            0
        };
        (mode >> class_shift) & 0o1 != 0
    }
}

/// The supplementary groups of `user` with `gid` (`getgrouplist(3)`).
fn group_list(user: &str, gid: libc::gid_t) -> Option<Vec<libc::gid_t>> {
    let name = CString::new(user).ok()?;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    for _ in 0..8 {
        let mut n = libc::c_int::try_from(groups.len()).ok()?;
        // SAFETY: the buffer holds `n` entries; getgrouplist writes at most that many and
        // stores the number it needs in `n`.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        let n = usize::try_from(n).ok()?;
        if rc >= 0 {
            groups.truncate(n);
            return Some(groups);
        }
        groups.resize(n.max(groups.len() * 2), 0);
    }
    None
}

/// The directories searched for a command, in order (`PATH`, or the default).
fn search_dirs(path_var: Option<&OsStr>) -> Vec<PathBuf> {
    let path = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|d| if d.is_empty() { PathBuf::from(".") } else { PathBuf::from(OsStr::from_bytes(d)) })
        .collect()
}

/// Checks that `who` may search every directory from `/` to `dir` (resolving symbolic
/// links, whose targets' directories are walked too). `searchable` remembers directories
/// already found searchable.
fn may_reach(dir: &Path, who: &Searcher, searchable: &mut HashSet<PathBuf>) -> io::Result<()> {
    let mut prefix = PathBuf::new();
    for part in dir.components() {
        prefix.push(part);
        let real = std::fs::canonicalize(&prefix)?;
        for ancestor in real.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if searchable.contains(ancestor) {
                continue;
            }
            let meta = std::fs::metadata(ancestor)?;
            if !meta.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            if !who.may(&meta, Access::Search) {
                return Err(io::Error::from_raw_os_error(libc::EACCES));
            }
            searchable.insert(ancestor.to_path_buf());
        }
    }
    Ok(())
}

/// Whether `who` may run `file`: reach it and execute it.
fn may_run(file: &Path, who: &Searcher, searchable: &mut HashSet<PathBuf>) -> io::Result<()> {
    may_reach(file.parent().unwrap_or(Path::new("/")), who, searchable)?;
    // A symbolic link is followed to its target, whose directories must be reachable too.
    let real = std::fs::canonicalize(file)?;
    may_reach(real.parent().unwrap_or(Path::new("/")), who, searchable)?;
    let meta = std::fs::metadata(&real)?;
    if !meta.is_file() || !who.may(&meta, Access::Execute) {
        return Err(io::Error::from_raw_os_error(libc::EACCES));
    }
    Ok(())
}

/// The file `execvp(command)` would run for `who` with `PATH` = `path_var` (relative
/// entries are taken from the current directory). A command with a `/` is not looked up.
/// The error is the one `execvp` gives: `EACCES` when a candidate was found but may not be
/// run, else `ENOENT`.
pub fn find(command: &OsStr, path_var: Option<&OsStr>, who: &Searcher) -> io::Result<PathBuf> {
    if command.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(command));
    }
    if command.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let cwd = std::env::current_dir()?;
    let mut searchable = HashSet::new();
    let mut refused = false;
    for dir in search_dirs(path_var) {
        let candidate = dir.join(command);
        match may_run(&cwd.join(&candidate), who, &mut searchable) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => refused = true,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(if refused { libc::EACCES } else { libc::ENOENT }))
}

/// `PATH` as the command will see it.
pub fn path_var() -> Option<OsString> {
    std::env::var_os("PATH")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A scratch directory tree (mode 0755: other users search it), removed at the end.
    struct Scratch(tempfile::TempDir);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = tempfile::Builder::new()
                .prefix(&format!("secpolctl-path-{name}-"))
                .permissions(std::fs::Permissions::from_mode(0o755))
                .tempdir()
                .unwrap();
            Scratch(dir)
        }

        fn dir(&self, rel: &str, mode: u32) -> PathBuf {
            let d = self.0.path().join(rel);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            d
        }

        fn file(&self, rel: &str, mode: u32) -> PathBuf {
            let f = self.0.path().join(rel);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            f
        }
    }

    /// Another user than the file owner (the test's own user), in no group of it.
    fn stranger() -> Searcher {
        Searcher { uid: 54321, gid: 54321, groups: vec![54321] }
    }

    fn path_of(dirs: &[&Path]) -> OsString {
        let joined: Vec<&[u8]> = dirs.iter().map(|d| d.as_os_str().as_bytes()).collect();
        OsString::from(OsStr::from_bytes(&joined.join(&b':')))
    }

    #[test]
    fn an_unreachable_directory_is_skipped_as_execvp_would() {
        let s = Scratch::new("skip");
        let private = s.dir("private", 0o700);
        let public = s.dir("public", 0o755);
        s.file("private/tool", 0o755);
        let public_tool = s.file("public/tool", 0o755);
        let path = path_of(&[&private, &public]);
        // The owner finds the first one; a stranger cannot reach it and gets the second.
        let owner = Searcher::current();
        assert_eq!(find(OsStr::new("tool"), Some(&path), &owner).unwrap(), private.join("tool"));
        assert_eq!(find(OsStr::new("tool"), Some(&path), &stranger()).unwrap(), public_tool);
    }

    #[test]
    fn missing_and_refused_commands_give_execvps_errors() {
        let s = Scratch::new("errors");
        let private = s.dir("private", 0o700);
        let public = s.dir("public", 0o755);
        s.file("private/only", 0o755);
        s.file("public/plain", 0o644);
        let path = path_of(&[&private, &public]);
        let err = |cmd: &str| find(OsStr::new(cmd), Some(&path), &stranger()).unwrap_err().raw_os_error();
        // As execvp: a directory it cannot search makes even a missing command EACCES.
        assert_eq!(err("nothing-by-this-name"), Some(libc::EACCES));
        let public_only = path_of(&[&public]);
        assert_eq!(
            find(OsStr::new("nothing-by-this-name"), Some(&public_only), &stranger())
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOENT)
        );
        // Found but not executable, or in a directory it cannot search: EACCES.
        assert_eq!(err("plain"), Some(libc::EACCES));
        assert_eq!(err("only"), Some(libc::EACCES));
        assert_eq!(
            find(OsStr::new(""), Some(&path), &stranger()).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        // A path is not looked up.
        assert_eq!(find(OsStr::new("./x"), Some(&path), &stranger()).unwrap(), PathBuf::from("./x"));
    }

    #[test]
    fn owner_group_and_other_bits_decide() {
        let s = Scratch::new("bits");
        let dir = s.dir("bin", 0o755);
        let group_only = s.file("bin/grp", 0o710);
        let owner = Searcher::current();
        let meta = std::fs::metadata(&group_only).unwrap();
        let in_group = Searcher { uid: 54321, gid: meta.gid(), groups: vec![meta.gid()] };
        let path = path_of(&[&dir]);
        assert_eq!(find(OsStr::new("grp"), Some(&path), &in_group).unwrap(), group_only);
        assert!(find(OsStr::new("grp"), Some(&path), &stranger()).is_err());
        assert_eq!(find(OsStr::new("grp"), Some(&path), &owner).unwrap(), group_only);
        // Root executes what has any execute bit, and nothing else.
        let root = Searcher { uid: 0, gid: 0, groups: vec![0] };
        s.file("bin/none", 0o600);
        assert!(find(OsStr::new("none"), Some(&path), &root).is_err());
        assert_eq!(find(OsStr::new("grp"), Some(&path), &root).unwrap(), group_only);
    }

    #[test]
    fn symbolic_links_and_empty_entries_resolve() {
        let s = Scratch::new("links");
        let real = s.dir("real", 0o755);
        let tool = s.file("real/tool", 0o755);
        std::os::unix::fs::symlink(&real, s.0.path().join("alias")).unwrap();
        let path = path_of(&[&s.0.path().join("alias")]);
        assert_eq!(
            find(OsStr::new("tool"), Some(&path), &stranger()).unwrap(),
            s.0.path().join("alias/tool")
        );
        // A link into a directory the stranger cannot search does not help it.
        let hidden = s.dir("hidden", 0o700);
        s.file("hidden/secret", 0o755);
        std::os::unix::fs::symlink(hidden.join("secret"), real.join("secret")).unwrap();
        assert_eq!(
            find(OsStr::new("secret"), Some(&path), &stranger()).unwrap_err().raw_os_error(),
            Some(libc::EACCES)
        );
        assert_eq!(search_dirs(Some(OsStr::new(":/bin:"))), [".", "/bin", "."].map(PathBuf::from));
        assert_eq!(search_dirs(None), ["/bin", "/usr/bin"].map(PathBuf::from));
        let _ = tool;
    }
}
