//! `secpolctl on -T TYPE [-u USER[:GROUP]] [--] COMMAND [ARGS...]`: runs a command as a
//! type (QNX `on -T`).
//!
//! The launcher does everything it needs before it enters the type: it looks up the user,
//! reads the policy, finds the command on `PATH` as the new user would
//! ([`crate::command_path`]), decides whether the type's policy can be enforced here
//! ([`crate::shortfall`]: if not, it refuses unless `--best-effort`), opens the type's
//! `cgroup.procs` (the type's cgroup v2 directory is created if missing), switches user and
//! sets up enforcement. Only *then* does it move itself into the type and exec the found
//! command, so the exit status is the command's, children inherit the type, and no check
//! the launcher makes for its own work (`setuid`, `setgid`, directory searches) is
//! attributed to the type. The move still works after dropping root because the kernel
//! checks a migration against the credentials that opened `cgroup.procs` (Linux 5.16+).
//!
//! The steps ([`Launch::prepare`], [`Launch::find_program`], [`Launch::open_type`],
//! [`Launch::switch_user`], [`TypeEntry::enter`], [`Launch::exec`]) are separate so
//! enforcement (capabilities, no_new_privs, Landlock, the id filter) slots in before
//! entering the type and exec.

use std::ffi::{CString, OsString};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use secpol::cgroup;
use secpol::cgroup_types::TypeTree;

use crate::command_path::Searcher;
use crate::enforce::{admit, Refused};
use crate::shortfall::SystemOffers;
use crate::syscalls::Linux;

/// The user and groups a command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name, when the user is in the password database.
    pub name: Option<String>,
    /// User id.
    pub uid: libc::uid_t,
    /// Primary group id.
    pub gid: libc::gid_t,
}

/// The open `cgroup.procs` of a type: writing our pid there moves us in.
#[derive(Debug)]
pub struct TypeEntry {
    file: std::fs::File,
    procs: std::path::PathBuf,
    type_name: String,
}

impl TypeEntry {
    /// Moves this process (and so everything it starts) into the type.
    pub fn enter(mut self) -> anyhow::Result<()> {
        use std::io::Write as _;
        self.file.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(|e| {
            let hint = if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                " (not permitted: run as root)"
            } else {
                ""
            };
            anyhow!("cannot run as type {}: cannot join {}: {e}{hint}", self.type_name, self.procs.display())
        })
    }
}

/// A command about to run as a type.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The type.
    pub type_name: String,
    /// Who to run as (`None`: the caller).
    pub user: Option<Identity>,
    /// The command and its arguments.
    pub command: Vec<OsString>,
    /// The cgroup tree the type lives in.
    pub tree: TypeTree,
}

/// A password database entry, by name or number.
fn lookup_user(spec: &str) -> anyhow::Result<Option<(String, libc::uid_t, libc::gid_t)>> {
    use nix::unistd::{Uid, User};
    if spec.contains('\0') {
        bail!("unknown user {spec:?}");
    }
    let by_name = User::from_name(spec).map_err(|e| {
        anyhow!("cannot look up user {spec:?}: {}", std::io::Error::from_raw_os_error(e as i32))
    })?;
    let user = match by_name {
        Some(u) => Some(u),
        None => {
            spec.parse::<libc::uid_t>().ok().and_then(|uid| User::from_uid(Uid::from_raw(uid)).ok().flatten())
        }
    };
    Ok(user.map(|u| (u.name, u.uid.as_raw(), u.gid.as_raw())))
}

fn lookup_group(spec: &str) -> anyhow::Result<libc::gid_t> {
    secpol::endpoint::group_id(spec)
        .or_else(|| spec.parse().ok())
        .ok_or_else(|| anyhow!("unknown group {spec:?}"))
}

/// Resolves `USER[:GROUP]`: names or numbers; a number not in the database is taken as
/// is (with its own number as group unless one is given).
pub fn parse_user(spec: &str) -> anyhow::Result<Identity> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        bail!("unknown user {spec:?}: empty user name");
    }
    let (name, uid, mut gid) = match lookup_user(user)? {
        Some((name, uid, gid)) => (Some(name), uid, gid),
        None => match user.parse::<libc::uid_t>() {
            Ok(uid) => (None, uid, uid),
            Err(_) => bail!("unknown user {user:?}"),
        },
    };
    if let Some(g) = group {
        gid = lookup_group(g)?;
    }
    Ok(Identity { name, uid, gid })
}

impl Launch {
    /// Checks everything that can be checked before changing anything: the type name,
    /// the cgroup2 mount, the user, the command.
    pub fn prepare(type_name: &str, user: Option<&str>, command: &[OsString]) -> anyhow::Result<Launch> {
        cgroup::validate_type_name(type_name)?;
        if command.is_empty() {
            bail!("no command given (secpolctl on -T TYPE -- COMMAND [ARGS...])");
        }
        let user = user.map(parse_user).transpose()?;
        let tree = TypeTree::open()?;
        Ok(Launch { type_name: type_name.to_string(), user, command: command.to_vec(), tree })
    }

    fn type_error(&self, e: cgroup::CgroupError) -> anyhow::Error {
        let hint = if e.is_permission() { " (not permitted: run as root)" } else { "" };
        anyhow!("cannot run as type {}: {e}{hint}", self.type_name)
    }

    /// Creates the type if missing and opens its `cgroup.procs` with the caller's
    /// credentials, ready for [`TypeEntry::enter`].
    pub fn open_type(&self) -> anyhow::Result<TypeEntry> {
        let procs = self.tree.create(&self.type_name).map_err(|e| self.type_error(e))?.join("cgroup.procs");
        let file = std::fs::OpenOptions::new().write(true).open(&procs).map_err(|source| {
            self.type_error(cgroup::CgroupError::Io { action: "cannot join", path: procs.clone(), source })
        })?;
        Ok(TypeEntry { file, procs, type_name: self.type_name.clone() })
    }

    /// Becomes the requested user: supplementary groups, group, then user.
    pub fn switch_user(&self) -> anyhow::Result<()> {
        let Some(id) = &self.user else { return Ok(()) };
        let who = id.name.clone().unwrap_or_else(|| id.uid.to_string());
        let os = |what: &str| anyhow!("cannot {what} for user {who}: {}", std::io::Error::last_os_error());
        // SAFETY: plain syscalls with valid arguments.
        unsafe {
            match &id.name {
                Some(name) => {
                    let c = CString::new(name.as_str()).context("user name")?;
                    if libc::initgroups(c.as_ptr(), id.gid) != 0 {
                        return Err(os("set supplementary groups"));
                    }
                }
                None => {
                    if libc::setgroups(1, &id.gid) != 0 {
                        return Err(os("set supplementary groups"));
                    }
                }
            }
            if libc::setgid(id.gid) != 0 {
                return Err(os("set group id"));
            }
            if libc::setuid(id.uid) != 0 {
                return Err(os("set user id"));
            }
        }
        Ok(())
    }

    /// Finds the command on `PATH` as the user it runs as would (no lookup for a name
    /// with a `/`). On failure: the error and the exit status a shell would give.
    pub fn find_program(&self) -> Result<PathBuf, (anyhow::Error, u8)> {
        let who = match &self.user {
            Some(id) => Searcher::for_user(id.name.as_deref(), id.uid, id.gid),
            None => Searcher::current(),
        };
        crate::command_path::find(&self.command[0], crate::command_path::path_var().as_deref(), &who)
            .map_err(|err| self.cannot_run(err))
    }

    fn cannot_run(&self, err: std::io::Error) -> (anyhow::Error, u8) {
        let status = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
        (anyhow!("cannot run {}: {err}", self.command[0].to_string_lossy()), status)
    }

    /// Replaces this process with `program` (from [`find_program`](Self::find_program)),
    /// the command's own name as its `argv[0]`. Returns only when that fails, with the
    /// exit status a shell would give (127 not found, 126 not executable).
    pub fn exec(&self, program: &std::path::Path) -> (anyhow::Error, u8) {
        let err = Command::new(program).arg0(&self.command[0]).args(&self.command[1..]).exec();
        self.cannot_run(err)
    }
}

/// What `secpolctl on` was asked.
#[derive(Debug, Clone)]
pub struct OnArgs {
    /// The type.
    pub type_name: String,
    /// `-u USER[:GROUP]`.
    pub user: Option<String>,
    /// `--policy FILE`: enforce this policy (the type is restricted).
    pub policy: Option<std::path::PathBuf>,
    /// `-v`: say what is enforced.
    pub verbose: bool,
    /// `--best-effort`: run even when parts of a restricted type's policy cannot be
    /// enforced here (and say which).
    pub best_effort: bool,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// Runs the command as the type, with the type's policy enforced when it is restricted.
/// Returns only when the command could not be started.
pub fn run(dir: &secpol::endpoint::RuntimeDir, args: &OnArgs) -> anyhow::Result<ExitCode> {
    let t = &args.type_name;
    let launch = Launch::prepare(t, args.user.as_deref(), &args.command)?;
    let enforcement = crate::launch_policy::decide(dir, t, args.policy.as_deref())?;
    let program = match launch.find_program() {
        Ok(program) => program,
        Err((err, status)) => {
            eprintln!("secpolctl: {err:#}");
            return Ok(ExitCode::from(status));
        }
    };
    // SAFETY: geteuid has no preconditions.
    let caller_root = unsafe { libc::geteuid() } == 0;
    let starts_as_root = launch.user.as_ref().map_or(caller_root, |u| u.uid == 0);
    let offers = SystemOffers::probe()?;
    let admitted = match admit(&enforcement, starts_as_root, &offers, args.best_effort) {
        Ok(admitted) => {
            for m in &admitted.not_enforced {
                eprintln!("secpolctl: {t}: not enforced: {m}");
            }
            admitted
        }
        Err(Refused { shortfalls: missing }) => {
            for m in &missing {
                eprintln!("secpolctl: {t}: cannot enforce: {m}");
            }
            bail!(
                "refusing to run {} as type {t}: {} of its policy cannot be enforced here \
                 (--best-effort runs it without them)",
                args.command[0].to_string_lossy(),
                if missing.len() == 1 { "one part".to_string() } else { format!("{} parts", missing.len()) }
            );
        }
    };
    let entry = launch.open_type()?;
    let switch = || launch.switch_user().map_err(|e| format!("{e:#}"));
    let steps = admitted.apply(&mut Linux, &switch)?;
    if args.verbose {
        for step in steps {
            eprintln!("secpolctl: {t}: {step}");
        }
    }
    entry.enter()?;
    let (err, status) = launch.exec(&program);
    eprintln!("secpolctl: {err:#}");
    Ok(ExitCode::from(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_by_name_and_number() {
        let root = parse_user("root").unwrap();
        assert_eq!((root.uid, root.gid, root.name.as_deref()), (0, 0, Some("root")));
        let nobody = parse_user("nobody").unwrap();
        assert_eq!(nobody.name.as_deref(), Some("nobody"));
        assert_eq!(parse_user("0:0").unwrap().uid, 0);
        let odd = parse_user("54321").unwrap();
        assert_eq!((odd.uid, odd.gid, odd.name), (54321, 54321, None));
        assert_eq!(parse_user("54321:7").unwrap().gid, 7);
        assert_eq!(parse_user("root:root").unwrap().gid, 0);
    }

    #[test]
    fn bad_users_and_types_are_plain_errors() {
        let e = parse_user("no-such-user-xyz").unwrap_err().to_string();
        assert_eq!(e, "unknown user \"no-such-user-xyz\"");
        let e = parse_user("root:no-such-group-xyz").unwrap_err().to_string();
        assert_eq!(e, "unknown group \"no-such-group-xyz\"");
        assert!(parse_user(":0").is_err());
        let cmd = [OsString::from("true")];
        let e = Launch::prepare("../x", None, &cmd).unwrap_err().to_string();
        assert!(e.starts_with("invalid type name \"../x\""), "{e}");
        let e = Launch::prepare("web_t", None, &[]).unwrap_err().to_string();
        assert!(e.starts_with("no command given"), "{e}");
    }

    #[test]
    fn users_are_found_by_name_or_number() {
        assert_eq!(lookup_user("root").unwrap(), Some(("root".to_string(), 0, 0)));
        assert_eq!(lookup_user("0").unwrap(), Some(("root".to_string(), 0, 0)));
        assert_eq!(lookup_user("no-such-user-secpol").unwrap(), None);
        assert_eq!(lookup_user("4294967294").unwrap(), None, "a number no entry has");
        assert!(lookup_user("a\0b").unwrap_err().to_string().starts_with("unknown user"));
    }
}
