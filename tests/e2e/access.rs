//! Issue 10, access: who may do what. A local user outside group `secpol` cannot publish
//! events, send control commands, read the event stream, or replace the runtime directory's
//! sockets; a preload datagram speaks only for its sender, whom the kernel names
//! (`SO_PASSCRED`), never the datagram; and the files the services write are not
//! world-writable, whatever the umask they were started with.
//!
//! The unprivileged user is `nobody`, reached with `setpriv` from root, so these need root
//! (they skip, or fail under `SECPOL_REQUIRE_KERNEL=1`, like the kernel tests). What nobody
//! tries is a small Python program: plain system calls, their errno printed as JSON.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use secpol::bus::{Received, Subscriber};
use secpol::endpoint::RuntimeDir;
use secpol::event::{Event, EventKind};
use secpol::preload_proto::{Call, Record};
use secpol::wire::Message;

use crate::kernel::PYTHON;
use crate::util::{bin, repo_root, root_or_skip, secpolctl, wait_until, Service, TempDir};

const WAIT: Duration = Duration::from_secs(30);
const NOBODY: u32 = 65534;

/// Starts `cmd` with umask 0, so that every mode below is the service's own choice.
fn umask_0(mut cmd: Command) -> Command {
    // SAFETY: umask is async-signal-safe and touches nothing but the child's own mask.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    cmd
}

/// Tracer (replay, preload ingest, `--record`), learning generator (`-s`) and monitor
/// (`-o`), all started with umask 0; returns once the replay has been learned.
struct Stack {
    /// Killed before `tmp` is removed (fields drop in order).
    _services: Vec<Service>,
    tmp: TempDir,
}

impl Stack {
    fn start(test: &str) -> Stack {
        let tmp = TempDir::new(test);
        let run = tmp.join("run");
        let mut cmd = Command::new(bin("secpolgenerate"));
        cmd.args(["-u", "-N", "-f", "0.2"])
            .arg("-s")
            .arg(tmp.join("state"))
            .arg("-S")
            .arg(tmp.join("no-base-policy"))
            .arg("--runtime-dir")
            .arg(&run)
            .arg("--output-dir")
            .arg(tmp.join("out"));
        let generator = Service::start("generator", tmp.path(), umask_0(cmd));
        let mut cmd = Command::new(bin("secpolmonitor"));
        cmd.args(["-aps", "-o"]).arg(tmp.join("monitor.log")).arg("--runtime-dir").arg(&run);
        let monitor = Service::start("monitor", tmp.path(), umask_0(cmd));
        let mut cmd = Command::new(bin("secpoltrace"));
        cmd.args(["--no-kernel", "--heartbeat-ms", "100", "--wait-subscribers", "2"])
            .arg("--replay")
            .arg(repo_root().join("tests/data/devf-ram.log"))
            .arg("--record")
            .arg(tmp.join("recording.jsonl"))
            .arg("--runtime-dir")
            .arg(&run);
        let tracer = Service::start("tracer", tmp.path(), umask_0(cmd));
        let stack = Stack { _services: vec![tracer, generator, monitor], tmp };
        wait_until(WAIT, "the replay learned", || stack.policy().contains("allow fs_t self:ability"));
        wait_until(WAIT, "the monitor's log", || {
            std::fs::read_to_string(stack.tmp.join("monitor.log")).is_ok_and(|l| l.lines().count() >= 12)
        });
        wait_until(WAIT, "the state saved", || stack.tmp.join("state").exists());
        stack
    }

    fn run_dir(&self) -> PathBuf {
        self.tmp.join("run")
    }

    /// `secpolctl policy` as root.
    fn policy(&self) -> String {
        let (out, _) = secpolctl(&self.run_dir(), &["policy"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A command run as nobody: no supplementary groups, or those of `groups`.
fn as_nobody(groups: Option<&str>, program: &Path) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={NOBODY}")).arg(format!("--regid={NOBODY}"));
    match groups {
        None => c.arg("--clear-groups"),
        Some(g) => c.arg(format!("--groups={g}")),
    };
    c.arg("--").arg(program).env_clear().env("PATH", "/usr/bin:/bin").current_dir("/");
    c
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs the Python `program` as nobody with `args`; its last stdout line is a JSON object of
/// outcomes (`"ok"` or an errno name such as `"EACCES"`).
fn python_as_nobody(groups: Option<&str>, program: &str, args: &[&Path]) -> BTreeMap<String, String> {
    let out = as_nobody(groups, Path::new(PYTHON)).arg("-c").arg(program).args(args).output().unwrap();
    assert!(out.status.success(), "the probe failed: {}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{last:?}: {e}"));
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect()
}

/// Every way at the runtime directory's sockets and the generator's files: connect, send,
/// list, unlink, rename, bind a replacement, write the policy and the state, read the state.
const TRY_EVERYTHING: &str = r#"
import errno, json, os, socket, sys
run, out, state = sys.argv[1], sys.argv[2], sys.argv[3]
res = {}
def attempt(name, f):
    try:
        f()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e.errno))
def connect(p):
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).connect(p)
def send(p):
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"SPCL", p)
def bind(p):
    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).bind(p)
attempt("connect events", lambda: connect(run + "/events"))
attempt("connect control", lambda: connect(run + "/control"))
attempt("send ingest", lambda: send(run + "/ingest"))
attempt("list runtime directory", lambda: os.listdir(run))
for name in ["events", "control", "ingest"]:
    p = run + "/" + name
    attempt("unlink " + name, lambda: os.unlink(p))
    attempt("rename " + name, lambda: os.rename(p, p + ".old"))
    attempt("bind new " + name, lambda: bind(p + ".new"))
attempt("write policy", lambda: open(out + "/policy", "a").close())
attempt("replace policy", lambda: open(out + "/policy.new", "w").close())
attempt("write state", lambda: open(state, "a").close())
attempt("read state", lambda: open(state).read())
print(json.dumps(res))
"#;

/// Inode of each socket of the runtime directory, to tell whether one was replaced.
fn socket_inodes(run: &Path) -> BTreeMap<&'static str, u64> {
    ["events", "control", "ingest"]
        .into_iter()
        .map(|s| (s, std::fs::metadata(run.join(s)).unwrap_or_else(|e| panic!("{s}: {e}")).ino()))
        .collect()
}

#[test]
fn an_unprivileged_user_cannot_publish_control_read_or_replace_the_sockets() {
    if !root_or_skip("access tests need root to act as another user") {
        return;
    }
    let stack = Stack::start("access-nobody");
    let run = stack.run_dir();
    let policy = stack.policy();
    let inodes = socket_inodes(&run);

    let (out, state) = (stack.tmp.join("out"), stack.tmp.join("state"));
    let outcomes = python_as_nobody(None, TRY_EVERYTHING, &[&run, &out, &state]);
    let allowed: Vec<_> = outcomes.iter().filter(|(_, v)| *v != "EACCES").collect();
    assert!(allowed.is_empty(), "nobody got further than EACCES: {allowed:?} (all: {outcomes:?})");

    // The toolchain's own clients say why, at once.
    let ctl = |args: &[&str]| {
        as_nobody(None, &bin("secpolctl")).arg("--runtime-dir").arg(&run).args(args).output().unwrap()
    };
    let log = repo_root().join("tests/data/devf-ram.log");
    for args in [&["status"][..], &["clear", "used"], &["load", log.to_str().unwrap()], &["policy"]] {
        let o = ctl(args);
        let text = said(&o);
        assert!(!o.status.success(), "secpolctl {args:?} as nobody succeeded: {text}");
        assert!(
            text.contains(&format!("cannot use {}: permission denied", run.join("control").display())),
            "secpolctl {args:?} as nobody: {text}"
        );
    }
    let o = as_nobody(None, &bin("secpolgenerate"))
        .arg("--runtime-dir")
        .arg(&run)
        .args(["-C", "clear", "used"])
        .output()
        .unwrap();
    assert!(!o.status.success() && said(&o).contains("permission denied"), "{}", said(&o));
    let mut m = as_nobody(None, &bin("secpolmonitor"));
    let o = m.args(["-aps", "--runtime-dir"]).arg(&run).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "secpolmonitor as nobody: {}", said(&o));
    assert!(
        said(&o).contains(&format!("cannot use {}: permission denied", run.join("events").display())),
        "{}",
        said(&o)
    );

    // Nothing changed: the same sockets, the same policy, and root is still answered.
    assert_eq!(socket_inodes(&run), inodes, "a socket was replaced");
    assert_eq!(stack.policy(), policy, "nobody changed what was learned");
}

/// The mode bits of `path` (without the file type).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode()
        & 0o7777
}

#[test]
fn files_are_not_world_writable_even_under_umask_0() {
    if !root_or_skip("access tests need root to run the services as they are installed") {
        return;
    }
    let stack = Stack::start("access-modes");
    let run = stack.run_dir();
    let out = stack.tmp.join("out");
    let mut modes = BTreeMap::new();
    let mut note = |p: PathBuf| modes.insert(p.display().to_string(), mode(&p));
    for p in [run.clone(), out.clone(), stack.tmp.join("state"), stack.tmp.join("recording.jsonl")] {
        note(p);
    }
    note(stack.tmp.join("monitor.log"));
    for dir in [&run, &out] {
        for entry in std::fs::read_dir(dir).unwrap() {
            note(entry.unwrap().path());
        }
    }
    eprintln!(
        "access: modes under umask 0: {:#?}",
        modes.iter().map(|(p, m)| format!("{m:04o} {p}")).collect::<Vec<_>>()
    );
    let world_writable: Vec<_> = modes
        .iter()
        .filter(|(p, m)| *m & 0o002 != 0 && !p.ends_with("/ingest"))
        .map(|(p, m)| format!("{m:04o} {p}"))
        .collect();
    assert!(world_writable.is_empty(), "world-writable: {world_writable:?}");
    // Others may not even look into the runtime directory...
    assert_eq!(mode(&run) & 0o007, 0, "runtime directory {:04o}", mode(&run));
    // ...where the bus and control sockets are the owner's and the group's...
    for s in ["events", "control"] {
        assert_eq!(mode(&run.join(s)) & 0o777, 0o660, "{s}");
    }
    // ...and the preload's is everybody's, so that any process may report its own calls.
    assert_eq!(mode(&run.join("ingest")) & 0o777, 0o666);
    // What was learned is the generator's alone; its outputs may be read by all.
    assert_eq!(mode(&stack.tmp.join("state")) & 0o077, 0, "state file");
    for f in ["policy", "unused", "errors", "protect"] {
        assert_eq!(mode(&out.join(f)), 0o644, "{f}");
    }
}

/// Sends, as nobody, the forged record with forged credentials (another process's pid;
/// root's uid), then the honest record plainly; prints its pid and what each send did, and
/// stays alive (so the tracer can read its /proc) until the file `done` exists.
const SEND_DATAGRAMS: &str = r#"
import errno, json, os, socket, struct, sys, time
path, forged, honest, done = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
res = {"pid": str(os.getpid())}
def creds(pid, uid, gid):
    return [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", pid, uid, gid))]
for name, c in [("as pid 1", creds(1, os.getuid(), os.getgid())), ("as root", creds(os.getpid(), 0, 0))]:
    try:
        s.sendmsg([forged], c, 0, path)
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode.get(e.errno, str(e.errno))
s.sendto(honest, path)
res["honest"] = "ok"
print(json.dumps(res), flush=True)
deadline = time.time() + 30
while not os.path.exists(done) and time.time() < deadline:
    time.sleep(0.05)
"#;

#[test]
fn a_preload_datagram_speaks_only_for_its_sender_as_the_kernel_names_it() {
    if !root_or_skip("access tests need root to act as another user") {
        return;
    }
    let stack = Stack::start("access-ingest");
    let run = stack.run_dir();
    // An installation where every process may report (the directory searchable by all):
    // the ingest socket is then open to anyone, the others stay closed by their own mode.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(mode(&run) | 0o001)).unwrap();
    let ctx = zmq::Context::new();
    let sub = Subscriber::connect(&ctx, &RuntimeDir::resolve(Some(&run)), &["ev."]).unwrap();
    wait_until(WAIT, "a heartbeat on the bus", || {
        matches!(sub.recv(200), Ok(Received::Message(Message::Heartbeat(_))))
    });

    // Forged: capability 21 (sys_admin), "as root". Honest: capability 22 (sys_boot). Both
    // claim euid 0 in the record, which is the only identity a record carries.
    let record = |cap: u64| {
        let mut r = Record::new(Call::CapbsetDrop);
        r.arg = cap;
        r.euid = 0;
        r.encode()
    };
    let (forged, honest, done) =
        (stack.tmp.join("forged.bin"), stack.tmp.join("honest.bin"), stack.tmp.join("done"));
    std::fs::write(&forged, record(21)).unwrap();
    std::fs::write(&honest, record(22)).unwrap();
    let ingest = run.join("ingest");
    let sender = std::thread::spawn({
        let done = done.clone();
        move || python_as_nobody(None, SEND_DATAGRAMS, &[&ingest, &forged, &honest, &done])
    });
    let mut calls: Vec<Event> = Vec::new();
    wait_until(WAIT, "the honest datagram's event", || {
        while let Ok(Received::Message(Message::Event(e))) = sub.recv(100) {
            if matches!(e.what, EventKind::CapCall { .. }) {
                calls.push(e);
            }
        }
        !calls.is_empty()
    });
    std::fs::write(&done, "").unwrap();
    let outcomes = sender.join().unwrap();
    assert_eq!(outcomes["as pid 1"], "EPERM", "{outcomes:?}");
    assert_eq!(outcomes["as root"], "EPERM", "{outcomes:?}");
    let pid: u32 = outcomes["pid"].parse().unwrap();
    assert_eq!(calls.len(), 1, "only the honest datagram is an event: {calls:#?}");
    let p = &calls[0].process;
    assert_eq!((p.pid, p.uid, p.euid), (pid, Some(NOBODY), Some(NOBODY)), "{:#?}", calls[0]);
    let EventKind::CapCall { requests, .. } = &calls[0].what else { unreachable!() };
    assert_eq!(requests.iter().map(|r| r.ability.as_str()).collect::<Vec<_>>(), ["sys_boot"]);
    eprintln!("access: nobody's datagram became: {}", secpol::record::to_json_line(&calls[0]));
}
