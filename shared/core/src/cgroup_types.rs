//! Which type a cgroup is: the naming rules of the cgroups services already have.
//!
//! A process's cgroup v2 path (relative to the cgroup2 mount) names its type, in this order:
//!
//! 1. an explicit mapping of the configuration, `type web_t cgroup system.slice/nginx.service`:
//!    the longest configured prefix (whole path components) that covers the path wins;
//! 2. `secpol/<type>/...`: the directory `secpolctl on -T type` joins
//!    ([`cgroup::type_of_cgroup_path`](crate::cgroup::type_of_cgroup_path));
//! 3. automatic naming (on unless turned off):
//!    - a container scope of docker or podman (`docker-<id>.scope`, `libpod-<id>.scope`,
//!      cgroupfs-driver `docker/<id>`) is `ctr_<name>_t` when the runtime's files give the
//!      container's name, else `ctr_<first 12 hex of the id>_t`;
//!    - a `*.service` or `*.socket` unit below a system slice (`system.slice`,
//!      `system-getty.slice`, `machine.slice`, ...; anything but `user.slice`) is
//!      `<unit>_t` with every character outside `[A-Za-z0-9_]` made `_`
//!      (`getty@tty1.service` -> `getty_tty1_service_t`); cgroups below the unit's are
//!      the unit's;
//!    - everything else, login sessions (`user.slice/.../session-N.scope`) and user
//!      services included, is [`DEFAULT_TYPE`], so a policy does not fill with one type per
//!      login.
//!
//! A name that cannot be a type (a unit whose name starts with a digit, one longer than
//! 128 bytes) stays [`DEFAULT_TYPE`]: every type must be writable in a policy.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cgroup::{
    self, cgroup_path_of_id, parse_mountinfo, validate_type_name, CgroupError, DEFAULT_TYPE, TYPES_DIR,
};

/// Where the container runtimes keep what names their containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFiles {
    /// docker's containers directory (`<dir>/<id>/config.v2.json` has `"Name":"/web"`).
    pub docker: PathBuf,
    /// podman's (containers/storage) `containers.json`: `[{"id": ..., "names": [...]}]`.
    pub podman: PathBuf,
}

impl Default for RuntimeFiles {
    fn default() -> Self {
        RuntimeFiles {
            docker: PathBuf::from("/var/lib/docker/containers"),
            podman: PathBuf::from("/var/lib/containers/storage/overlay-containers/containers.json"),
        }
    }
}

/// Largest runtime file read for a container's name.
const MAX_RUNTIME_FILE: u64 = 16 * 1024 * 1024;

impl RuntimeFiles {
    fn read_json(path: &Path) -> Option<serde_json::Value> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.len() > MAX_RUNTIME_FILE {
            log::warn!("{} is {} bytes: container names are not read from it", path.display(), meta.len());
            return None;
        }
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice(&text).map_err(|e| log::warn!("{}: {e}", path.display())).ok()
    }

    /// The name the runtime gave container `id` (64 hex digits), if it tells.
    pub fn name(&self, runtime: Runtime, id: &str) -> Option<String> {
        match runtime {
            Runtime::Docker => {
                let v = Self::read_json(&self.docker.join(id).join("config.v2.json"))?;
                v.get("Name")?.as_str().map(|n| n.trim_start_matches('/').to_string())
            }
            Runtime::Podman => {
                let v = Self::read_json(&self.podman)?;
                v.as_array()?
                    .iter()
                    .find(|c| c.get("id").and_then(|i| i.as_str()) == Some(id))
                    .and_then(|c| c.get("names")?.as_array()?.first()?.as_str().map(str::to_string))
            }
        }
        .filter(|n| !n.is_empty())
    }
}

/// A container runtime whose scopes are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// docker (`docker-<id>.scope`, `docker/<id>`).
    Docker,
    /// podman (`libpod-<id>.scope`, `libpod_parent/libpod-<id>`).
    Podman,
}

/// One `type NAME cgroup PATH` mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMapping {
    /// The cgroup path below the cgroup2 mount, without leading or trailing `/`.
    pub path: String,
    /// The type it and the cgroups below it have.
    pub type_name: String,
}

/// The naming rules in force: explicit mappings, and whether automatic naming is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Name unit and container cgroups automatically.
    pub automatic: bool,
    /// Explicit mappings, longest path first.
    explicit: Arc<Vec<CgroupMapping>>,
    /// Where container names are read.
    pub runtimes: RuntimeFiles,
}

impl Default for Naming {
    fn default() -> Self {
        Naming { automatic: true, explicit: Arc::new(Vec::new()), runtimes: RuntimeFiles::default() }
    }
}

/// `s` with every character outside `[A-Za-z0-9_]` made `_`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// `candidate` when it can be a type.
fn valid(candidate: String) -> Option<String> {
    validate_type_name(&candidate).is_ok().then_some(candidate)
}

/// The type of a system unit: `nginx.service` -> `nginx_service_t`; `None` when the
/// result cannot be a type.
pub fn unit_type(unit: &str) -> Option<String> {
    valid(format!("{}_t", sanitize(unit)))
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container a cgroup path component stands for (`previous` is the component above).
pub fn container_of<'a>(component: &'a str, previous: Option<&str>) -> Option<(Runtime, &'a str)> {
    let scoped = |prefix: &str| component.strip_prefix(prefix).map(|r| r.strip_suffix(".scope").unwrap_or(r));
    let found = if let Some(id) = scoped("docker-") {
        (Runtime::Docker, id)
    } else if let Some(id) = scoped("libpod-") {
        (Runtime::Podman, id)
    } else if previous == Some("docker") {
        (Runtime::Docker, component)
    } else {
        return None;
    };
    is_hex_id(found.1).then_some(found)
}

/// The type of a container: `ctr_<name>_t` when `name` makes a type, else
/// `ctr_<first 12 hex of the id>_t`.
pub fn container_type(id: &str, name: Option<&str>) -> String {
    name.and_then(|n| valid(format!("ctr_{}_t", sanitize(n))))
        .unwrap_or_else(|| format!("ctr_{}_t", &id[..12.min(id.len())]))
}

/// The unit a cgroup path is a system service of: the first component below the leading
/// slices, when it is a `*.service` or `*.socket` and the top slice is not `user.slice`.
pub fn system_unit(path: &str) -> Option<&str> {
    let mut comps = path.split('/').filter(|c| !c.is_empty());
    let top = comps.next()?;
    if top == "user.slice" || !top.ends_with(".slice") {
        return None;
    }
    let unit = comps.find(|c| !c.ends_with(".slice"))?;
    (unit.ends_with(".service") || unit.ends_with(".socket")).then_some(unit)
}

/// Checks and normalises the cgroup path of a `type NAME cgroup PATH` line: relative to the
/// cgroup2 mount (a leading `/` is allowed), whole components, no `.` or `..`.
pub fn normalize_cgroup_path(path: &str) -> Result<String, &'static str> {
    if path.chars().any(char::is_control) {
        return Err("a cgroup path cannot hold control characters");
    }
    if path.len() > 4096 {
        return Err("a cgroup path is at most 4096 bytes");
    }
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Err("the cgroup path must name a cgroup below the cgroup2 mount, not the mount itself");
    }
    if trimmed.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("a cgroup path cannot have empty, `.` or `..` components");
    }
    Ok(trimmed.to_string())
}

impl Naming {
    /// Rules with explicit `mappings` (paths as [`normalize_cgroup_path`] gives them).
    pub fn new(automatic: bool, mut mappings: Vec<CgroupMapping>) -> Self {
        mappings.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then_with(|| a.path.cmp(&b.path)));
        Naming { automatic, explicit: Arc::new(mappings), runtimes: RuntimeFiles::default() }
    }

    /// Only `secpol/<type>` directories (the rule before cgroups of services were types).
    pub fn secpol_only() -> Self {
        Naming::new(false, Vec::new())
    }

    /// The explicit mappings, longest path first.
    pub fn mappings(&self) -> &[CgroupMapping] {
        &self.explicit
    }

    /// The explicit type of `path`, if a mapping covers it.
    fn explicit_type(&self, path: &str) -> Option<&str> {
        self.explicit
            .iter()
            .find(|m| path == m.path || path.strip_prefix(&m.path).is_some_and(|r| r.starts_with('/')))
            .map(|m| m.type_name.as_str())
    }

    /// The automatic type of `path`, if it is a container's or a system unit's cgroup.
    pub fn automatic_type(&self, path: &str) -> Option<String> {
        let mut previous = None;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if let Some((runtime, id)) = container_of(comp, previous) {
                let name = self.runtimes.name(runtime, id);
                return Some(container_type(id, name.as_deref()));
            }
            previous = Some(comp);
        }
        system_unit(path).and_then(unit_type)
    }

    /// The type of a process whose cgroup v2 path (relative to the mount, with or without
    /// a leading `/`) is `path`.
    pub fn type_of(&self, path: &str) -> String {
        let path = path.trim_matches('/');
        if let Some(t) = self.explicit_type(path) {
            return t.to_string();
        }
        let t = cgroup::type_of_cgroup_path(path);
        if t != DEFAULT_TYPE || path == TYPES_DIR || path.starts_with("secpol/") {
            return t.to_string();
        }
        if self.automatic {
            if let Some(t) = self.automatic_type(path) {
                return t;
            }
        }
        DEFAULT_TYPE.to_string()
    }

    /// The type of process `pid`, from `/proc/PID/cgroup`.
    pub fn type_of_pid(&self, pid: u32) -> Result<String, CgroupError> {
        Ok(cgroup::cgroup_of_pid(pid)?.map_or_else(|| DEFAULT_TYPE.to_string(), |p| self.type_of(&p)))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c0d2e3b4a59687766554433221100ffeeddccbbaa99887766554433221100";

    fn naming(mappings: &[(&str, &str)]) -> Naming {
        let m = mappings
            .iter()
            .map(|(p, t)| CgroupMapping { path: normalize_cgroup_path(p).unwrap(), type_name: t.to_string() })
            .collect();
        let mut n = Naming::new(true, m);
        n.runtimes =
            RuntimeFiles { docker: "/nonexistent/docker".into(), podman: "/nonexistent/podman".into() };
        n
    }

    #[test]
    fn system_units_are_types() {
        let n = naming(&[]);
        assert_eq!(n.type_of("/system.slice/nginx.service"), "nginx_service_t");
        assert_eq!(n.type_of("/system.slice/nginx.service/worker"), "nginx_service_t");
        assert_eq!(n.type_of("/system.slice/system-getty.slice/getty@tty1.service"), "getty_tty1_service_t");
        assert_eq!(n.type_of("system.slice/dbus.socket"), "dbus_socket_t");
        assert_eq!(n.type_of("/machine.slice/systemd-nspawn@web.service"), "systemd_nspawn_web_service_t");
        assert_eq!(
            n.type_of("/system.slice/systemd-fsck@dev-disk-by\\x2duuid-AB.service"),
            "systemd_fsck_dev_disk_by_x2duuid_AB_service_t"
        );
        assert_eq!(n.type_of("/custom.slice/app.service"), "app_service_t");
    }

    #[test]
    fn sessions_user_services_scopes_and_the_root_are_default() {
        let n = naming(&[]);
        for path in [
            "/user.slice/user-1000.slice/session-3.scope",
            "/user.slice/user-1000.slice/user@1000.service",
            "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
            "/system.slice/run-u5.scope",
            "/system.slice",
            "/init.scope",
            "/",
            "",
            "/nginx.service",
            "/system.slice/9p.service",
            &format!("/system.slice/{}.service", "x".repeat(130)),
        ] {
            assert_eq!(n.type_of(path), "default", "{path}");
        }
    }

    #[test]
    fn containers_are_types_by_name_or_id() {
        let n = naming(&[]);
        assert_eq!(n.type_of(&format!("/system.slice/docker-{ID}.scope")), "ctr_4f1c0d2e3b4a_t");
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-{ID}.scope")), "ctr_4f1c0d2e3b4a_t");
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-{ID}.scope/container")), "ctr_4f1c0d2e3b4a_t");
        assert_eq!(n.type_of(&format!("/docker/{ID}")), "ctr_4f1c0d2e3b4a_t");
        assert_eq!(
            n.type_of(&format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope")),
            "ctr_4f1c0d2e3b4a_t"
        );
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-conmon-{ID}.scope")), "default");
        assert_eq!(n.type_of("/system.slice/docker-abc.scope"), "default");
        assert_eq!(n.type_of("/system.slice/docker.service"), "docker_service_t");
        assert_eq!(container_type(ID, Some("web-1")), "ctr_web_1_t");
        assert_eq!(container_type(ID, Some(&"n".repeat(200))), "ctr_4f1c0d2e3b4a_t");
    }

    #[test]
    fn container_names_come_from_the_runtimes_files() {
        let tmp = tempfile::tempdir().unwrap();
        let tmp = tmp.path();
        std::fs::create_dir_all(tmp.join("docker").join(ID)).unwrap();
        std::fs::write(tmp.join("docker").join(ID).join("config.v2.json"), r#"{"ID":"x","Name":"/web"}"#)
            .unwrap();
        let other = "a".repeat(64);
        std::fs::write(
            tmp.join("podman.json"),
            format!(r#"[{{"id":"{other}","names":["db"]}},{{"id":"{ID}","names":["cache","c2"]}}]"#),
        )
        .unwrap();
        let n = Naming {
            runtimes: RuntimeFiles { docker: tmp.join("docker"), podman: tmp.join("podman.json") },
            ..Naming::default()
        };
        assert_eq!(n.type_of(&format!("/system.slice/docker-{ID}.scope")), "ctr_web_t");
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-{ID}.scope")), "ctr_cache_t");
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-{other}.scope")), "ctr_db_t");
        std::fs::write(tmp.join("podman.json"), "not json").unwrap();
        assert_eq!(n.type_of(&format!("/machine.slice/libpod-{ID}.scope")), "ctr_4f1c0d2e3b4a_t");
    }

    #[test]
    fn explicit_prefixes_win_and_the_longest_one_first() {
        let n = naming(&[
            ("system.slice/nginx.service", "web_t"),
            ("/system.slice/nginx.service/special/", "special_t"),
            ("user.slice/user-1000.slice", "alice_t"),
            ("secpol/x_t", "mapped_t"),
        ]);
        assert_eq!(n.type_of("/system.slice/nginx.service"), "web_t");
        assert_eq!(n.type_of("/system.slice/nginx.service/worker"), "web_t");
        assert_eq!(n.type_of("/system.slice/nginx.service/special/a"), "special_t");
        assert_eq!(n.type_of("/system.slice/nginx.servicex"), "default");
        assert_eq!(n.type_of("/user.slice/user-1000.slice/session-2.scope"), "alice_t");
        assert_eq!(n.type_of("/secpol/x_t"), "mapped_t");
        assert_eq!(n.type_of("/secpol/y_t"), "y_t");
    }

    #[test]
    fn secpol_directories_keep_their_meaning_and_automatic_naming_can_be_off() {
        let n = naming(&[("system.slice/a.service", "a_t")]);
        assert_eq!(n.type_of("/secpol/web_t/worker"), "web_t");
        assert_eq!(n.type_of("/secpol"), "default");
        assert_eq!(n.type_of("/secpol/bad-name"), "default");
        let mut off = n.clone();
        off.automatic = false;
        assert_eq!(off.type_of("/system.slice/nginx.service"), "default");
        assert_eq!(off.type_of("/system.slice/a.service"), "a_t");
        assert_eq!(off.type_of("/secpol/web_t"), "web_t");
        assert_eq!(Naming::secpol_only().type_of("/system.slice/nginx.service"), "default");
    }

    #[test]
    fn mapping_paths_are_checked() {
        assert_eq!(normalize_cgroup_path("/system.slice/x.service/").unwrap(), "system.slice/x.service");
        for bad in ["", "/", "//", "a//b", "a/../b", "./a", "a/.", "a\nb"] {
            assert!(normalize_cgroup_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn this_process_has_a_type() {
        let t = Naming::default().type_of_pid(std::process::id()).unwrap();
        assert!(validate_type_name(&t).is_ok(), "{t}");
        assert!(Naming::default().type_of_pid(u32::MAX).is_err());
    }

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
    fn ids_map_directories_to_types() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = TypeTree::at(tmp.path().join("cgroup"));
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
    }
}
