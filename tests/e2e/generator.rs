//! secpolgenerate end to end: the real binary on a temporary runtime directory, fed by
//! `secpolgenerate -C load` (the seed's devf-ram log, recordings) and by events published
//! on the bus from the test, driven with `-C`, the control protocol and signals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use secpol::bus::Publisher;
use secpol::control::{self, Request, Response, Status};
use secpol::endpoint::RuntimeDir;
use secpol::event::{
    AttachResult, CapAction, CapRequest, Domain, Event, EventKind, Process, Subrange, Verdict,
};
use secpol::record::to_json_line;
use secpol::wire::Message;

use crate::util::{assert_golden, bin, repo_root, wait_until, Service, TempDir};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The policy of seed 002's devf-ram walk-through.
const SEED_BASE: &str = "\
type default;
allow_attach default /...;
allow_link default /...;
type fs_t;
type fs_user_t;
type fs_nonuser_t;
allow_attach fs_t {
    /dev/fsF*
    /
    /fsFp0
};
allow fs_t self:ability {
      RSRCDBMGR
      IO
};
allow fs_t fs_t:channel connect;
allow fs_user_t fs_t:channel connect;
allow_link fs_nonuser_t /tmp/libc*;
allow fs_nonuser_t self:channel connect;
allow fs_nonuser_t self:ability io;
allow fs_user_t self:ability io;
";

/// A running generator in its own directories (the hostile-input tests use it too).
pub(crate) struct Gen {
    pub(crate) tmp: TempDir,
    pub(crate) svc: Option<Service>,
    args: Vec<String>,
}

fn devf_ram_log() -> PathBuf {
    repo_root().join("tests/data/devf-ram.log")
}

/// Replaces `YYYY-MM-DDTHH:MM:SSZ` times with `<time>`, for golden files.
fn untime(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    while i < b.len() {
        let fits = b.len() - i >= shape.len()
            && shape.iter().zip(&b[i..]).all(|(s, c)| if *s == b'd' { c.is_ascii_digit() } else { s == c });
        if fits {
            out.push_str("<time>");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

impl Gen {
    pub(crate) fn new(test: &str) -> Gen {
        Gen { tmp: TempDir::new(test), svc: None, args: Vec::new() }
    }

    pub(crate) fn run_dir(&self) -> PathBuf {
        self.tmp.join("run")
    }

    pub(crate) fn out_dir(&self) -> PathBuf {
        self.tmp.join("out")
    }

    pub(crate) fn runtime(&self) -> RuntimeDir {
        RuntimeDir::resolve(Some(&self.run_dir()))
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("secpolgenerate"));
        c.arg("--runtime-dir").arg(self.run_dir()).arg("--output-dir").arg(self.out_dir()).args(args);
        c
    }

    /// Starts the generator with `args` and waits for its control socket and outputs.
    pub(crate) fn start(&mut self, args: &[&str]) {
        self.args = args.iter().map(|s| s.to_string()).collect();
        let _ = std::fs::remove_file(self.run_dir().join("control"));
        let svc = Service::start("secpolgenerate", self.tmp.path(), self.command(args));
        let control = self.run_dir().join("control");
        let policy = self.out_dir().join("policy");
        wait_until(WAIT, "the generator's control socket", || {
            assert!(!self.exited(&svc), "secpolgenerate exited: {}", svc.err());
            control.exists() && policy.exists()
        });
        self.svc = Some(svc);
    }

    pub(crate) fn exited(&self, svc: &Service) -> bool {
        let pid = svc.child.id() as i32;
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on our own child.
        unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == pid }
    }

    pub(crate) fn restart(&mut self) {
        let args: Vec<String> = self.args.clone();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start(&refs);
    }

    pub(crate) fn svc(&mut self) -> &mut Service {
        self.svc.as_mut().expect("started")
    }

    /// Runs `secpolgenerate -C WORDS...`.
    pub(crate) fn client(&self, words: &[&str]) -> Output {
        let mut c = Command::new(bin("secpolgenerate"));
        c.arg("--runtime-dir").arg(self.run_dir()).arg("-C").args(words);
        c.output().expect("run secpolgenerate -C")
    }

    pub(crate) fn load(&self, file: &Path) -> String {
        let out = self.client(&["load", file.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "load failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    }

    pub(crate) fn request(&self, req: &Request) -> Response {
        control::request(&self.runtime(), req, WAIT).expect("control request")
    }

    pub(crate) fn status(&self) -> Status {
        match self.request(&Request::Status) {
            Response::Status(s) => s,
            other => panic!("status answered {other:?}"),
        }
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.out_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub(crate) fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

pub(crate) fn process(type_name: &str, pid: u32, name: &str, euid: u32) -> Process {
    Process {
        pid,
        name: Some(name.into()),
        type_name: type_name.into(),
        uid: Some(euid),
        euid: Some(euid),
        start_ns: None,
    }
}

pub(crate) fn ability(name: &str, range: Option<Subrange>, root: bool, allowed: bool) -> EventKind {
    EventKind::Ability {
        ability: name.into(),
        range,
        target_type: None,
        root,
        verdict: if allowed { Verdict::Allowed } else { Verdict::Denied(libc::EPERM) },
        probe: false,
    }
}

pub(crate) fn event(time_s: u64, p: Process, what: EventKind) -> Event {
    Event {
        instance: 0,
        seq: 0,
        time_ns: 1_764_410_400_000_000_000 + time_s * 1_000_000_000,
        process: p,
        what,
    }
}

fn recording(events: &[Event]) -> String {
    events.iter().map(|e| to_json_line(e) + "\n").collect()
}

/// Seed 002: the devf-ram log learned from scratch with -u yields the seed's rules.
#[test]
fn devf_ram_log_learned_unrestricted_from_scratch() {
    let mut g = Gen::new("gen-devf");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let said = g.load(&devf_ram_log());
    assert_eq!(said, "loaded event log: 12 applied, 0 unreadable\n");
    let policy = g.read("policy");
    for want in [
        "allow fs_t self:ability {",
        "    io\n",
        "    pathspace\n",
        "    public_channel\n",
        "allow_attach fs_t {",
        "    /dev/fsF\n",
        "    /dev/fsFp0\n",
        "    /fsFp0\n",
        "allow fs_user_t fs_t:channel connect;",
        "allow_link fs_nonuser_t /tmp/libc.so.5;",
        "# learned: sbin/devf-ram (pid 2809882) ",
        "# policy id: 1",
    ] {
        assert!(policy.contains(want), "policy lacks {want:?}:\n{policy}");
    }
    let errors = g.read("errors");
    for want in [
        "allow fs_user_t self:ability pathspace;",
        "allow_attach fs_nonuser_t /;",
        "allow fs_nonuser_t fs_t:channel connect;",
        "allow_attach fs_nonuser_t /tmp/notlibc.so.5;",
        "# sbin/devf-ram (pid 2670618) of type fs_user_t lacks ability PATHSPACE as root: 1 time",
    ] {
        assert!(errors.contains(want), "errors lack {want:?}:\n{errors}");
    }
    assert_golden("generator/devf-ram-u-N.policy", &untime(&policy));
    assert_golden("generator/devf-ram-u-N.errors", &untime(&errors));
    // The same texts over the control socket.
    assert_eq!(
        g.request(&Request::Show { output: control::Output::Policy }),
        Response::Text { text: policy }
    );
    let st = g.status();
    assert_eq!((st.events_seen, st.failures, st.types, st.mode.as_str()), (12, 4, 3, "unrestricted"));
    assert!(g.svc().stop().success());
}

/// Without -u or -t the policy cannot change from the base: uses the base does not allow
/// are failures, and unused shows the base rules never exercised.
#[test]
fn restricted_types_keep_the_base() {
    let mut g = Gen::new("gen-restricted");
    let base = g.file("base.policy", SEED_BASE);
    g.start(&["-S", base.to_str().unwrap(), "-f", "0.2"]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    assert!(!policy.contains("learned:"), "a restricted policy learned:\n{policy}");
    assert!(!policy.contains("public_channel"), "{policy}");
    let errors = g.read("errors");
    for want in [
        "allow fs_t self:ability public_channel;",
        "allow fs_t self:ability pathspace;",
        "allow fs_user_t self:ability pathspace;",
    ] {
        assert!(errors.contains(want), "errors lack {want:?}:\n{errors}");
    }
    let unused = g.read("unused");
    assert!(unused.contains("rsrcdbmgr"), "{unused}");
    assert!(!unused.contains("/dev/fsF*"), "the pattern was used for /dev/fsF:\n{unused}");
    assert_golden("generator/restricted.policy", &untime(&policy));
    assert_golden("generator/restricted.errors", &untime(&errors));
    assert_golden("generator/restricted.unused", &untime(&unused));
}

/// With -u on a base, unrestricted types learn on top of their base rules.
#[test]
fn unrestricted_types_learn_on_top_of_the_base() {
    let mut g = Gen::new("gen-unrestricted-base");
    let base = g.file("base.policy", SEED_BASE);
    g.start(&["-u", "-S", base.to_str().unwrap(), "-f", "0.2"]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    assert!(policy.contains("rsrcdbmgr"), "base rule lost:\n{policy}");
    assert!(policy.contains("public_channel"), "nothing learned:\n{policy}");
    assert!(policy.contains("/dev/fsF*"), "{policy}");
    assert_golden("generator/unrestricted-base.policy", &untime(&policy));
}

/// -t N admits N new types; the others stay out and their uses are failures. Without -u
/// or -t nothing new gets in at all.
#[test]
fn t_admits_that_many_new_types() {
    let mut g = Gen::new("gen-t");
    g.start(&["-N", "-t", "1", "-f", "0.2"]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    // The log's first type is fs_user_t.
    assert!(policy.contains("type fs_user_t;"), "{policy}");
    assert!(!policy.contains("allow fs_t") && !policy.contains("fs_nonuser_t"), "{policy}");
    let errors = g.read("errors");
    assert!(errors.contains("allow fs_t self:ability io;"), "{errors}");
    assert!(g.status().refused_types > 0);
    g.svc().stop();

    let mut g = Gen::new("gen-no-t");
    g.start(&["-N", "-f", "0.2"]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    assert!(!policy.contains("type "), "a new type got in:\n{policy}");
    assert!(g.read("errors").contains(": 12 of 12 (-L 100)"));
}

/// -L keeps the newest failures; counts, first and last times are tracked.
#[test]
fn max_logs_keeps_the_newest_failures() {
    let mut g = Gen::new("gen-L");
    g.start(&["-u", "-N", "-L", "2", "-v", "-f", "0.2"]);
    let p = |n: u32| process("a_t", 10 + n, "usr/bin/x", 1000);
    let events = [
        event(1, p(1), ability("setuid", Some(Subrange::value(0)), false, false)),
        event(2, p(2), ability("chown", None, false, false)),
        event(3, p(3), ability("kill", None, false, false)),
        event(4, p(1), ability("setuid", Some(Subrange::value(0)), false, false)),
    ];
    let rec = g.file("failures.jsonl", &recording(&events));
    g.load(&rec);
    let errors = g.read("errors");
    assert_golden("generator/max-logs.errors", &errors);
    assert!(errors.contains(": 2 of 3 (-L 2)"), "{errors}");
    assert!(!errors.contains("chown"), "the oldest failure was kept:\n{errors}");
    assert!(errors.contains("2 times, first 2025-11-29T10:00:01Z, last 2025-11-29T10:00:04Z"), "{errors}");
    // -v: each new failure once on stderr, as a monitor line.
    let err = g.svc().err();
    let line = "secpolgenerate: error: usr/bin/x (pid:11) type a_t lacks ability SETUID(0) as non-root\n";
    assert_eq!(err.matches(line).count(), 1, "{err}");
    assert_eq!(err.matches("secpolgenerate: error: ").count(), 3, "{err}");
}

/// `-C clear errors` forgets failures, `-C clear used` forgets what was learned.
#[test]
fn clear_errors_and_used() {
    let mut g = Gen::new("gen-clear");
    g.start(&["-u", "-N", "-f", "0.2"]);
    g.load(&devf_ram_log());
    let out = g.client(&["clear", "errors"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "cleared errors\n");
    assert!(g.read("errors").contains(": 0 of 0"), "{}", g.read("errors"));
    assert!(g.read("policy").contains("public_channel"));
    let out = g.client(&["clear", "used"]);
    assert!(out.status.success());
    let policy = g.read("policy");
    assert!(!policy.contains("allow"), "{policy}");
    let out = g.client(&["clear", "everything"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected `used` or `errors`"));
}

/// Unreadable lines of a load are reported as FILE:LINE; the rest is applied.
#[test]
fn load_reports_unreadable_lines() {
    let mut g = Gen::new("gen-badload");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let f = g.file(
        "bad.log",
        "info: sbin/devf-ram (pid:1) type fs_t uses ability IO as root\nthis is not a line\ninfo: x (pid:q) type t uses ability IO as root\n",
    );
    let out = g.client(&["load", f.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "loaded event log: 1 applied, 2 unreadable\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let name = f.display();
    assert!(err.contains(&format!("{name}:2: expected `info:`")), "{err}");
    assert!(err.contains(&format!("{name}:3: bad pid")), "{err}");
    assert!(g.read("policy").contains("allow fs_t self:ability io;"));
    let out = g.client(&["load", "/nonexistent/file"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/file"));
    // Nobody listening: a clear message, not a hang.
    g.svc().stop();
    let out = g.client(&["clear", "used"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("secpolgenerate is not running"), "{out:?}");
}

/// `secpolctl check FILE`: exit status and everything it printed.
fn secpolctl_check(file: &Path) -> (Option<i32>, String) {
    let out = Command::new(bin("secpolctl")).arg("check").arg(file).output().expect("run secpolctl check");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), said)
}

/// The events pps_like (tests/c/pps_like.c) causes, as the tracer reports them: keep-caps,
/// a bounding-set drop per capability but net_bind_service (each checked for setpcap),
/// setgid and setuid to nobody, then as nobody `cap_set_proc` keeping net_bind_service.
fn pps_like_events(t: &str) -> Vec<Event> {
    let root = || process(t, 20, "tmp/pps_like", 0);
    let call = |euid, name: &str, requests| {
        event(
            2,
            process(t, 20, "tmp/pps_like", euid),
            EventKind::CapCall { call: name.into(), requests, verdict: Verdict::Allowed },
        )
    };
    let others: Vec<&str> =
        secpol::ability::CAPABILITIES.iter().copied().filter(|c| *c != "net_bind_service").collect();
    let mut events = vec![call(0, "prctl(PR_SET_KEEPCAPS)", vec![])];
    for c in &others {
        events.push(event(2, root(), ability("setpcap", None, true, true)));
        let drop = CapRequest {
            ability: c.to_string(),
            domain: Domain::All,
            actions: vec![CapAction::Drop, CapAction::Lock],
        };
        events.push(call(0, "prctl(PR_CAPBSET_DROP)", vec![drop]));
    }
    events.push(event(2, root(), ability("setgid", Some(Subrange::value(65534)), true, true)));
    events.push(event(2, root(), ability("setuid", Some(Subrange::value(65534)), true, true)));
    let mut set = vec![CapRequest {
        ability: "net_bind_service".into(),
        domain: Domain::NonRoot,
        actions: vec![CapAction::Allow],
    }];
    set.extend(others.iter().map(|c| CapRequest {
        ability: c.to_string(),
        domain: Domain::NonRoot,
        actions: vec![CapAction::Deny],
    }));
    events.push(call(65534, "cap_set_proc", set));
    events
}

/// The events iopkt_like causes as root: keep-caps, a capset that changes nothing, an
/// ambient raise of net_raw, securebits; and a capset that raises net_admin.
fn iopkt_like_events(t: &str) -> Vec<Event> {
    let call = |name: &str, requests| {
        event(
            3,
            process(t, 30, "tmp/iopkt_like", 0),
            EventKind::CapCall { call: name.into(), requests, verdict: Verdict::Allowed },
        )
    };
    let ask =
        |a: &str, actions: Vec<CapAction>| CapRequest { ability: a.into(), domain: Domain::All, actions };
    vec![
        call("prctl(PR_SET_KEEPCAPS)", vec![]),
        call("capset", vec![]),
        call("capset", vec![ask("net_admin", vec![CapAction::Allow])]),
        call("prctl(PR_CAP_AMBIENT_RAISE)", vec![ask("net_raw", vec![CapAction::Allow, CapAction::Inherit])]),
        call("prctl(PR_SET_SECUREBITS)", vec![]),
    ]
}

/// Regression (issue 6): a pps-like type was granted all 41 capabilities `unlock`. Now it
/// gets what it raised and what the kernel saw it use, the rest is one grouped comment, and
/// `secpolctl check` accepts the policy, as it does the io-pkt-like one.
#[test]
fn self_managed_types_get_what_they_raise_and_the_policy_checks() {
    let mut g = Gen::new("gen-selfmanaged");
    let state = g.tmp.join("state");
    g.start(&["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()]);
    let mut events = pps_like_events("pps_t");
    events.extend(iopkt_like_events("iopkt_t"));
    let rec = g.file("calls.jsonl", &recording(&events));
    g.load(&rec);
    let policy = g.read("policy");
    let (code, said) = secpolctl_check(&g.out_dir().join("policy"));
    assert_eq!((code, said.as_str()), (Some(0), ""), "{policy}");
    assert!(!policy.contains("    sys_admin\n"), "{policy}");
    assert!(policy.contains("#   deny nonroot, drop all lock: audit_control "), "{policy}");
    assert!(policy.contains("    # allow nonroot\n    net_bind_service\n"), "{policy}");
    assert!(policy.contains("    # allow all inherit\n    net_raw\n"), "{policy}");
    assert_golden("generator/self-managed.policy", &untime(&policy));
    // The state keeps the calls that named nothing (`selfcall`): a restart renders the same.
    assert!(g.svc().stop().success());
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("\nselfcall 2 prctl(PR_SET_KEEPCAPS) "), "{saved}");
    std::fs::remove_dir_all(g.out_dir()).unwrap();
    g.restart();
    assert_eq!(g.read("policy"), policy);
}

const CONFIG: &str = "\
# e2e configuration
type a_t deny:setuid:nonroot deny:kill keep:chown
type c_t no_procmgr_ability
type u_t unlock:net_raw
ability sys_nice protect
ability net_bind_service protect
ability iofunc/read range
";

/// Every keyword of the configuration file, the capability calls of issue 6, NOAUDIT
/// probes, and SIGHUP re-reading.
#[test]
fn config_file_shapes_learning() {
    let mut g = Gen::new("gen-config");
    let cfg = g.file("gen.conf", CONFIG);
    let base = g.file("base.policy", "type a_t;\nallow a_t self:ability { nonroot chown };\n");
    g.start(&["-u", "-S", base.to_str().unwrap(), "-c", cfg.to_str().unwrap(), "-f", "0.2"]);
    let a = |pid| process("a_t", pid, "usr/sbin/a", 1000);
    let a_root = |pid| process("a_t", pid, "usr/sbin/a", 0);
    let probe = EventKind::Ability {
        ability: "sys_admin".into(),
        range: None,
        target_type: None,
        root: true,
        verdict: Verdict::Allowed,
        probe: true,
    };
    let call = |t: &str, pid| {
        event(
            9,
            process(t, pid, "usr/sbin/pps", 0),
            EventKind::CapCall {
                call: "capset".into(),
                requests: vec![
                    CapRequest {
                        ability: "sys_nice".into(),
                        domain: Domain::All,
                        actions: vec![CapAction::Deny, CapAction::Lock],
                    },
                    CapRequest {
                        ability: "setuid".into(),
                        domain: Domain::NonRoot,
                        actions: vec![CapAction::Allow],
                    },
                ],
                verdict: Verdict::Allowed,
            },
        )
    };
    let events = [
        event(1, a(1), ability("setuid", Some(Subrange::value(33)), false, true)),
        event(2, a_root(1), ability("setuid", Some(Subrange::value(33)), true, true)),
        event(3, a_root(1), ability("kill", None, true, true)),
        event(4, a(1), ability("chown", None, false, true)),
        event(5, a_root(1), ability("fowner", None, true, true)),
        event(6, a_root(1), probe),
        event(7, a_root(1), ability("iofunc/read", Some(Subrange { lo: 5, hi: 9 }), true, true)),
        event(8, a_root(1), ability("iofunc/write", Some(Subrange::value(5)), true, true)),
        call("b_t", 2),
        call("c_t", 3),
        event(10, process("c_t", 3, "usr/sbin/c", 0), ability("net_raw", None, true, true)),
    ];
    let rec = g.file("events.jsonl", &recording(&events));
    g.load(&rec);
    let policy = g.read("policy");
    assert!(!policy.contains("sys_admin"), "a probe became a rule:\n{policy}");
    // b_t raised setuid (granted, unlock) and gave up sys_nice (not granted, said once).
    assert!(policy.contains("#   deny all lock: sys_nice\n"), "{policy}");
    assert!(policy.contains("    # allow nonroot\n    setuid\n"), "{policy}");
    assert!(policy.contains("unlock"), "{policy}");
    assert!(policy.contains("# unlock: configured"), "{policy}");
    assert!(policy.contains("iofunc/read:5-9"), "{policy}");
    assert_golden("generator/config.policy", &untime(&policy));
    let errors = g.read("errors");
    assert!(errors.contains("lacks ability SETUID(33) as non-root"), "{errors}");
    assert!(errors.contains("lacks ability KILL as root"), "{errors}");
    assert!(!errors.contains("sys_admin") && !errors.contains("SYS_ADMIN"), "{errors}");
    assert_golden("generator/config.errors", &untime(&errors));
    let protect = std::fs::read_to_string(g.run_dir().join("protect")).unwrap();
    assert_eq!(protect, g.read("protect"));
    assert!(protect.contains("\n* 10 23                  # net_bind_service sys_nice\n"), "{protect}");
    assert!(protect.contains("\na_t 10 23                # net_bind_service sys_nice\n"), "{protect}");
    assert_eq!(g.status().protect, vec!["net_bind_service", "sys_nice"]);

    // A bad configuration on SIGHUP is reported and the old one kept.
    std::fs::write(&cfg, "ability sys_nice protect\ntype x_t sometimes\n").unwrap();
    g.svc().signal(libc::SIGHUP);
    let cfg_name = cfg.display().to_string();
    wait_until(WAIT, "the reload error", || {
        g.svc.as_ref().unwrap().err().contains(&format!("{cfg_name}:2:10"))
    });
    assert_eq!(g.status().protect, vec!["net_bind_service", "sys_nice"]);
    // A good one replaces it.
    std::fs::write(&cfg, "option restricted\ntype a_t unrestricted\nability sys_nice protect\n").unwrap();
    g.svc().signal(libc::SIGHUP);
    wait_until(WAIT, "the new configuration", || g.status().protect == vec!["sys_nice".to_string()]);
    wait_until(WAIT, "the new protect file", || {
        let p = std::fs::read_to_string(g.run_dir().join("protect")).unwrap();
        p.contains("\n*                        # restricted: nothing protected\n") && p.contains("\na_t 23 ")
    });
    assert!(g.svc().stop().success());

    // A bad configuration at start: the generator refuses to start and says where.
    std::fs::write(&cfg, "type a_t deny:nosuch\n").unwrap();
    let out = g.command(&["-c", cfg.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{cfg_name}:1:15: error: unknown ability \"nosuch\"")), "{err}");
}

/// -T all_connect: no connect rules, no connect failures; -T zero_id: policy id 0.
#[test]
fn test_options_all_connect_and_zero_id() {
    let mut g = Gen::new("gen-T");
    g.start(&["-u", "-N", "-T", "all_connect", "-T", "zero_id", "-f", "0.2"]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    assert!(!policy.contains("channel connect"), "{policy}");
    assert!(policy.contains("# policy id: 0 (zero_id"), "{policy}");
    assert!(!g.read("errors").contains("channel connect"));
    assert_eq!(g.status().policy_id, 0);
    let out = g.command(&["-T", "sometimes"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown -T option \"sometimes\""));
}

/// The state file survives SIGTERM and a restart exactly; -n writes names.
#[test]
fn state_survives_sigterm_and_restart() {
    let mut g = Gen::new("gen-state");
    let state = g.tmp.join("state");
    g.start(&["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()]);
    g.load(&devf_ram_log());
    let policy = g.read("policy");
    let errors = g.read("errors");
    assert!(g.svc().stop().success());
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.starts_with("# secpolgenerate state"), "{saved}");
    assert!(saved.contains("\nsecpol-state 1 numbers\n"), "{saved}");
    std::fs::remove_dir_all(g.out_dir()).unwrap();
    g.restart();
    assert_eq!(g.read("policy"), policy);
    assert_eq!(g.read("errors"), errors);
    assert!(g.svc().stop().success());
    assert_eq!(std::fs::read_to_string(&state).unwrap(), saved);

    // Names mode, and `load` of a state file into an empty generator.
    let mut n = Gen::new("gen-state-n");
    let nstate = n.tmp.join("state");
    n.start(&["-u", "-N", "-n", "-f", "0.2", "-s", nstate.to_str().unwrap()]);
    n.load(&state);
    assert_eq!(n.read("policy"), policy);
    assert_eq!(n.request(&Request::Save), Response::Done { message: "saved".into() });
    let named = std::fs::read_to_string(&nstate).unwrap();
    assert!(named.contains("\nsecpol-state 1 names\n") && named.contains("ability fs_t root io "), "{named}");
}

pub(crate) fn publish(p: &mut Publisher, e: &Event) {
    p.send(&Message::Event(e.clone())).unwrap();
}

/// Events from the bus are learned; sequence gaps count as lost; after `kill -9` at most
/// the last save interval is lost.
#[test]
fn bus_events_learned_losses_counted_and_kill_9_loses_one_interval_at_most() {
    let mut g = Gen::new("gen-bus");
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &g.runtime()).unwrap();
    let state = g.tmp.join("state");
    g.start(&["-u", "-N", "-f", "0.3", "-s", state.to_str().unwrap()]);
    assert_eq!(publisher.wait_for_subscribers(1, WAIT), 1);
    let mk = |seq, what| {
        let mut e = event(seq, process("web_t", 40, "usr/sbin/web", 0), what);
        e.instance = 77;
        e.seq = seq;
        e
    };
    publish(&mut publisher, &mk(1, ability("net_bind_service", Some(Subrange::value(80)), true, true)));
    publish(&mut publisher, &mk(2, ability("net_bind_service", Some(Subrange::value(443)), true, true)));
    let mut probe = mk(5, ability("sys_admin", None, true, true));
    if let EventKind::Ability { probe: p, .. } = &mut probe.what {
        *p = true;
    }
    publish(&mut publisher, &probe);
    wait_until(WAIT, "the events", || g.status().events_seen == 3);
    let st = g.status();
    assert_eq!(st.events_lost, 2, "{st:?}");
    wait_until(WAIT, "the state save", || {
        std::fs::read_to_string(&state).unwrap_or_default().contains(" 10 80,443 ")
    });
    let policy = g.read("policy");
    assert!(policy.contains("net_bind_service:80,443"), "{policy}");
    assert!(!policy.contains("sys_admin"), "{policy}");

    // Published just before kill -9: may be lost (one interval), the rest may not.
    publish(
        &mut publisher,
        &mk(6, EventKind::Attach { path: "/run/web.sock".into(), result: AttachResult::Ok }),
    );
    wait_until(WAIT, "the last event", || g.status().events_seen == 4);
    g.svc().child.kill().unwrap();
    g.svc().child.wait().unwrap();
    g.restart();
    let policy = g.read("policy");
    assert!(policy.contains("net_bind_service:80,443"), "lost more than one interval:\n{policy}");
}

/// `secpolctl` talks to the generator: load, status, policy, unused, errors, save, clear.
#[test]
fn secpolctl_drives_the_generator() {
    let mut g = Gen::new("gen-ctl");
    let state = g.tmp.join("state");
    g.start(&["-u", "-N", "-f", "60", "-s", state.to_str().unwrap()]);
    let ctl = |args: &[&str]| {
        let out =
            Command::new(bin("secpolctl")).arg("--runtime-dir").arg(g.run_dir()).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let log = devf_ram_log();
    let (ok, out, _) = ctl(&["load", log.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(out, "loaded event log: 12 applied, 0 unreadable\n");
    let (ok, status, _) = ctl(&["status"]);
    assert!(ok);
    for want in [
        "events seen:    12\n",
        "events lost:    0\n",
        "types:          3\n",
        "failures:       4 (4 events)\n",
    ] {
        assert!(status.contains(want), "status lacks {want:?}:\n{status}");
    }
    let (_, policy, _) = ctl(&["policy"]);
    assert_eq!(policy, g.read("policy"));
    let (_, errors, _) = ctl(&["errors"]);
    assert_eq!(errors, g.read("errors"));
    let (_, unused, _) = ctl(&["unused"]);
    assert_eq!(unused, g.read("unused"));
    assert!(
        unused.starts_with("# Rules of the base policy that no event has exercised.\n")
            && !unused.contains("allow")
    );
    // -f 60: nothing saved yet but the start; `save` saves now.
    let (ok, out, _) = ctl(&["save"]);
    assert!(ok);
    assert_eq!(out, "saved\n");
    assert!(std::fs::read_to_string(&state).unwrap().contains("failure "));
    let (ok, out, _) = ctl(&["clear", "used"]);
    assert!(ok, "{out}");
    let bad = g.file("bad.log", "garbage\n");
    let (ok, _, err) = ctl(&["load", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains(&format!("secpolctl: {}:1: expected `info:`", bad.display())), "{err}");
}

/// QNX target log lines with address-valued static abilities (issue 12, point 2).
const QNX_ADDRESS_LOG: &str = "\
info: usr/sbin/app (pid:4100) type app_t uses ability PROT_EXEC(146050510848 - 146050768735) as non-root
info: usr/sbin/app (pid:4100) type app_t uses ability MAP_FIXED(337416937472 - 337416992071) as root
info: usr/sbin/app (pid:4100) type app_t uses ability PROT_WRITE_AND_EXEC(146050510848 - 146050768735) as root
info: usr/sbin/app (pid:4100) type app_t uses ability MEM_PHYS(4096 - 8191) as root
info: usr/sbin/app (pid:4100) type app_t uses ability SETGID(6) as non-root
";

/// Seed 000: static abilities whose subrange is a virtual address (`prot_exec`, `map_fixed`,
/// `prot_write_and_exec`) are learned unranged, since the next boot's layout moves them;
/// `ability NAME range` in the configuration keeps the range; other ranges stay; and the
/// monitor still prints the range it saw.
#[test]
fn address_ranged_abilities_are_learned_unranged_unless_configured() {
    let mut g = Gen::new("gen-address");
    let log = g.file("target.log", QNX_ADDRESS_LOG);
    g.start(&["-u", "-N", "-f", "0.2"]);
    assert_eq!(g.load(&log), "loaded event log: 5 applied, 0 unreadable\n");
    let policy = g.read("policy");
    assert!(!policy.contains("146050510848") && !policy.contains("337416937472"), "{policy}");
    assert!(policy.contains("setgid:6") && policy.contains("mem_phys:"), "{policy}");
    assert_golden("generator/qnx-address-abilities.policy", &untime(&policy));
    assert!(g.svc().stop().success());

    let mut ranged = Gen::new("gen-address-range");
    let config = ranged.file("secpolgenerate.conf", "ability prot_exec range\n");
    ranged.start(&["-u", "-N", "-f", "0.2", "-c", config.to_str().unwrap()]);
    ranged.load(&log);
    let policy = ranged.read("policy");
    assert!(policy.contains("prot_exec:146050510848-146050768735"), "{policy}");
    assert!(!policy.contains("337416937472"), "map_fixed was not configured `range`: {policy}");

    // The monitor prints what the target logged, range and all.
    let run = ranged.run_dir();
    let mut mon_cmd = Command::new(bin("secpolmonitor"));
    mon_cmd.args(["-aps", "--runtime-dir"]).arg(&run);
    let monitor = Service::start("secpolmonitor", ranged.tmp.path(), mon_cmd);
    let mut tracer_cmd = Command::new(bin("secpoltrace"));
    tracer_cmd
        .args(["--no-kernel", "--no-ingest", "--once", "--heartbeat-ms", "100", "--wait-subscribers", "2"])
        .arg("--runtime-dir")
        .arg(&run)
        .arg("--replay")
        .arg(&log);
    let mut tracer = Service::start("secpoltrace", ranged.tmp.path(), tracer_cmd);
    assert!(tracer.wait(WAIT).success(), "{}", tracer.err());
    wait_until(WAIT, "the monitor's lines", || monitor.out().lines().count() >= 5);
    let out = monitor.out();
    assert!(out.contains("uses ability PROT_EXEC(146050510848 - 146050768735) as non-root"), "{out}");
    assert!(out.contains("uses ability MAP_FIXED(337416937472 - 337416992071) as root"), "{out}");
}
