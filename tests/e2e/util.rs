//! Helpers shared by the end-to-end tests: temporary directories, the built binaries,
//! child processes that are killed when a test ends, and waiting with a deadline.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Directory of the built binaries (`target/debug`), found from this test binary.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/e2e-<hash>
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// Path of a workspace binary; panics with a hint when it was not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.exists(), "{} missing: run `cargo build --workspace --bins` first", p.display());
    p
}

/// Path of the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A temporary directory removed at drop (kept with `SECPOL_KEEP_TMP` set, to look at a
/// failed test's logs). Mode 0755, not tempfile's 0700: the access tests' unprivileged
/// user must reach the runtime directories inside.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// Creates `/tmp/secpol-e2e-<test>-<random>`.
    pub fn new(test: &str) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("secpol-e2e-{test}-"))
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for {test}: {e}"));
        dir.disable_cleanup(std::env::var_os("SECPOL_KEEP_TMP").is_some());
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A path inside it.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }
}

/// A child process killed (SIGKILL) when dropped; its stdout and stderr go to files.
pub struct Service {
    pub child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub name: String,
}

impl Service {
    /// Starts `cmd` with output captured in `dir/<name>.out|.err`.
    pub fn start(name: &str, dir: &Path, mut cmd: Command) -> Self {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Service { child, stdout, stderr, name: name.to_string() }
    }

    /// What it printed on stdout so far.
    pub fn out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What it printed on stderr so far.
    pub fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends a signal.
    pub fn signal(&self, sig: i32) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for exit up to `timeout`; returns the exit status or panics.
    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "{} did not exit; stderr:\n{}", self.name, self.err());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait(Duration::from_secs(10))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    wait_until_or(timeout, what, cond, String::new)
}

/// Like [`wait_until`], and on timeout the panic also shows what `context` returns
/// (the services' output, say), so a failure in CI can be read without a rerun.
pub fn wait_until_or(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// Call when a test cannot run here: skips with the reason printed, or fails when
/// `SECPOL_REQUIRE_KERNEL=1` (as in CI, and `scripts/test.sh` as root). Returns normally
/// only when skipping. libtest hides what a passing test prints, so a skip is also
/// appended to the file `SECPOL_SKIP_LOG` names, which `scripts/test.sh` shows at the end.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("SECPOL_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("required kernel feature unavailable: {reason}");
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("SKIPPED: {test}: {reason}");
    if let Some(log) = std::env::var_os("SECPOL_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{test}: {reason}\n");
        let appended = std::fs::OpenOptions::new().create(true).append(true).open(&log);
        if let Err(e) = appended.and_then(|mut f| f.write_all(line.as_bytes())) {
            panic!("cannot record the skip in {}: {e}", std::path::Path::new(&log).display());
        }
    }
}

/// Whether the test runs as root; if not, skips it (or fails, see [`skip_or_fail`]) with
/// `why` as the reason. Use as `if !root_or_skip("...") { return; }`.
pub fn root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    skip_or_fail(why);
    false
}

/// Compares two texts and panics showing both, line by line, when they differ.
pub fn assert_same_text(expected: &str, actual: &str, what: &str) {
    if expected != actual {
        panic!("{what} differs\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n--- end ---");
    }
}

/// Compares `actual` with the golden file `tests/golden/<name>`; with
/// `SECPOL_BLESS=1` rewrites the golden file instead.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(name);
    if std::env::var("SECPOL_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (SECPOL_BLESS=1 creates it)", path.display()));
    assert_same_text(&expected, actual, &format!("golden file {}", path.display()));
}

/// Compiles `tests/c/<name>.c` with gcc (warnings are errors) into `dir`, linked with
/// `libs` (`-lcap`, `-lseccomp`), and returns the program.
pub fn build_c(dir: &Path, name: &str, libs: &[&str]) -> PathBuf {
    let src = repo_root().join("tests/c").join(format!("{name}.c"));
    let out = dir.join(name);
    let res = Command::new("gcc")
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .args(libs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc (scripts/setup.sh installs it): {e}"));
    assert!(res.status.success(), "gcc {}: {}", src.display(), String::from_utf8_lossy(&res.stderr));
    out
}

/// `secpolctl --runtime-dir RUN ARGS...`, waited for, and how long it took.
pub fn secpolctl(run: &Path, args: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = Command::new(bin("secpolctl"))
        .arg("--runtime-dir")
        .arg(run)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run secpolctl");
    (out, started.elapsed())
}

/// A process's memory from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// Resident at its peak (`VmHWM`).
    pub peak_kib: u64,
}

/// The memory of process `pid` now; zeros when it is gone.
pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kib: field("VmRSS:"), peak_kib: field("VmHWM:") }
}

/// Waits until `ready` holds while `tracer` (watching the kernel) runs. When the tracer
/// exits instead (no BPF here), skips with its message via [`skip_or_fail`] and returns
/// false; fails after `timeout`.
pub fn kernel_tracer_ready(tracer: &mut Service, timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = tracer.child.try_wait().unwrap() {
            skip_or_fail(&format!("secpoltrace exited ({status}): {}", tracer.err()));
            return false;
        }
        if ready() {
            return true;
        }
        assert!(Instant::now() < deadline, "the kernel source never reported; tracer:\n{}", tracer.err());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every kernel tracer sees every process on the machine, so a test that floods it (the
/// 10,000-process burst) can make the tracers of tests running beside it drop first uses,
/// which the kernel then never reports again. Kernel tests hold this shared
/// ([`sharing_the_machine`]); a flooding test holds it alone ([`owning_the_machine`]).
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a kernel test while it runs: no flood runs meanwhile.
pub fn sharing_the_machine() -> std::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held by a test that floods the machine: no other kernel test runs meanwhile.
pub fn owning_the_machine() -> std::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
