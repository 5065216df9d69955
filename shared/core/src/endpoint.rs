//! Where the services meet: the runtime directory and the endpoints inside it.
//!
//! Every binary takes `--runtime-dir DIR` (env `SECPOL_RUNTIME_DIR`, default
//! `/run/secpol`). Inside it:
//!
//! | file | socket | who binds |
//! |---|---|---|
//! | `events` | ZeroMQ PUB (`ipc://`) | the tracer |
//! | `control` | ZeroMQ ROUTER (`ipc://`; clients are REQ) | the generator |
//! | `ingest` | `AF_UNIX` datagram | the tracer, for the preload library |
//!
//! The directory is created mode 0750, or 2770 with group `secpol` when that group exists: only root
//! and members of that group can reach the sockets, so nobody else can forge events or
//! send control commands.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Default runtime directory.
pub const DEFAULT_RUNTIME_DIR: &str = "/run/secpol";
/// Environment variable naming the runtime directory.
pub const RUNTIME_DIR_ENV: &str = "SECPOL_RUNTIME_DIR";
/// Group whose members may use the toolchain without being root.
pub const SECPOL_GROUP: &str = "secpol";

/// The runtime directory of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDir {
    path: PathBuf,
}

/// A runtime directory that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Creating or securing the directory failed.
    #[error("cannot prepare runtime directory {path}: {source}")]
    Prepare {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory can be written by anyone.
    #[error("runtime directory {0} is world-writable; refusing to use it (chmod o-w)")]
    WorldWritable(PathBuf),
    /// This user may not use a socket of the directory.
    #[error("cannot use {0}: permission denied (only root and members of group {SECPOL_GROUP} may)")]
    Denied(PathBuf),
}

impl RuntimeDir {
    /// The directory given on the command line, else `$SECPOL_RUNTIME_DIR`, else the default.
    pub fn resolve(arg: Option<&Path>) -> Self {
        let path = match arg {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os(RUNTIME_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_RUNTIME_DIR)),
        };
        RuntimeDir { path }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the directory if missing (mode 0750, group `secpol` if it exists) and
    /// refuses one that anybody may write to. Called by the services that bind.
    pub fn prepare(&self) -> Result<(), EndpointError> {
        let err = |source| EndpointError::Prepare { path: self.path.clone(), source };
        match std::fs::DirBuilder::new().recursive(true).mode(0o750).create(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e)),
        }
        let meta = std::fs::metadata(&self.path).map_err(err)?;
        if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(EndpointError::WorldWritable(self.path.clone()));
        }
        if meta.uid() == unsafe { libc::geteuid() } {
            if let Some(gid) = group_id(SECPOL_GROUP) {
                self.share_with_group(&meta, gid);
            }
        }
        Ok(())
    }

    /// Gives the directory to group `secpol`: group-writable, so the generator (user
    /// secpol) can bind its control socket; set-group-id, so sockets created inside belong
    /// to the group without a chown (which a tracer without CAP_CHOWN could not do). Best
    /// effort: an owner outside the group cannot, and keeps a private directory.
    fn share_with_group(&self, meta: &std::fs::Metadata, gid: u32) {
        let done =
            if meta.gid() == gid { Ok(()) } else { std::os::unix::fs::chown(&self.path, None, Some(gid)) };
        let done = done.and_then(|()| {
            if meta.mode() & 0o2070 == 0o2070 {
                return Ok(());
            }
            let mode = (meta.mode() & 0o7777) | 0o2070;
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(mode))
        });
        if let Err(e) = done {
            log::warn!("cannot give {} to group {SECPOL_GROUP}: {e}; it stays private", self.path.display());
        }
    }

    /// Makes a socket file in the directory usable by the owner and group only.
    pub fn secure_socket(&self, file: &Path) -> io::Result<()> {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o660))?;
        if let Some(gid) = group_id(SECPOL_GROUP) {
            if std::fs::metadata(file)?.gid() != gid {
                if let Err(e) = std::os::unix::fs::chown(file, None, Some(gid)) {
                    log::warn!("cannot give {} to group {SECPOL_GROUP}: {e}", file.display());
                }
            }
        }
        Ok(())
    }

    /// Refuses a socket `file` of the directory that this user may not connect to: the
    /// directory or the socket exists but denies it ([`EndpointError::Denied`]). ZeroMQ
    /// would retry such a connection silently until a timeout, or forever. A missing one is
    /// no error: its service may start later.
    pub fn check_access(&self, file: &Path) -> Result<(), EndpointError> {
        use std::os::unix::ffi::OsStrExt as _;
        let denied = || EndpointError::Denied(file.to_path_buf());
        let c_path = CString::new(file.as_os_str().as_bytes()).map_err(|_| denied())?;
        // SAFETY: a NUL-terminated path, only read by the call. Connecting to a socket needs
        // write permission on it (and search permission on the directories above).
        let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c_path.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
        if rc != 0 && io::Error::last_os_error().kind() == io::ErrorKind::PermissionDenied {
            return Err(denied());
        }
        Ok(())
    }

    /// Path of the tracer's event socket.
    pub fn events_path(&self) -> PathBuf {
        self.path.join("events")
    }

    /// Path of the generator's control socket.
    pub fn control_path(&self) -> PathBuf {
        self.path.join("control")
    }

    /// Path of the tracer's datagram socket for the preload library.
    pub fn ingest_path(&self) -> PathBuf {
        self.path.join("ingest")
    }

    /// ZeroMQ endpoint of the event bus.
    pub fn events_endpoint(&self) -> String {
        ipc(&self.events_path())
    }

    /// ZeroMQ endpoint of the control socket.
    pub fn control_endpoint(&self) -> String {
        ipc(&self.control_path())
    }
}

fn ipc(path: &Path) -> String {
    format!("ipc://{}", path.display())
}

/// The id of a group, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    nix::unistd::Group::from_name(name).ok().flatten().map(|g| g.gid.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_looked_up_by_name() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no-such-group-secpol"), None);
        assert_eq!(group_id("nul\0byte"), None);
    }

    #[test]
    fn prepare_creates_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let dir = RuntimeDir::resolve(Some(&base.join("run")));
        dir.prepare().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o002, 0, "mode {mode:o}");
        assert_eq!(dir.events_endpoint(), format!("ipc://{}/run/events", base.display()));
        assert!(dir.check_access(&dir.events_path()).is_ok(), "a missing socket is no access error");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(dir.prepare(), Err(EndpointError::WorldWritable(_))));
    }
}
