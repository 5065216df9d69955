//! Issue 6: `libsecpol_preload.so` with small C programs that manage their own
//! capabilities (tests/c/), built here with gcc: it changes nothing when no tracer
//! listens, its reports become `cap_call` events on the bus with the sender the kernel
//! names, and `protect` keeps what a process drops wholesale but not what it names.
//!
//! The programs switch users and drop capabilities, so these tests need root; without it
//! they skip with the reason printed (a failure with `SECPOL_REQUIRE_KERNEL=1`).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use secpol::bus::{Received, Subscriber};
use secpol::event::{Event, EventKind, Verdict};
use secpol::wire::Message;

use crate::util::{self, bin, bin_dir, root_or_skip, wait_until, Service, TempDir};

const LONG: Duration = Duration::from_secs(30);

/// The preload library under test: `$SECPOL_PRELOAD` (to test the installed, `no_std`
/// build of `cargo build --profile preload`), else the one of this build.
fn preload() -> PathBuf {
    let p = std::env::var_os("SECPOL_PRELOAD")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().join("libsecpol_preload.so"));
    assert!(p.exists(), "{} missing: run `cargo build -p secpol-preload` first", p.display());
    p
}

/// Compiles `tests/c/<name>.c` (linked with libcap) into `tmp` and returns the program.
fn build_c(tmp: &TempDir, name: &str) -> PathBuf {
    util::build_c(tmp.path(), name, &["-lcap"])
}

/// Runs `prog args` with `env`, stdin closed, and returns everything it did.
fn run(prog: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(prog);
    cmd.args(args).stdin(Stdio::null()).env_remove("LD_PRELOAD").env_remove("SECPOL_RUNTIME_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The line of `/proc/self/status` a test program printed (`CapPrm`), as a mask.
fn status_mask(out: &Output, field: &str) -> u64 {
    let s = text(&out.stdout);
    let line = s
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {field} line in:\n{s}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

const NET_BIND_SERVICE: u64 = 1 << 10;
const NET_RAW: u64 = 1 << 13;
const SYS_NICE: u64 = 1 << 23;

/// The scenarios every comparison runs: (program, arguments).
const SCENARIOS: &[(&str, &[&str])] = &[
    ("pps_like", &["net_bind_service", "sys_nice"]),
    ("iopkt_like", &[]),
    ("iopkt_like", &["-u", "65534"]),
    ("iopkt_like", &["-r"]),
    ("capdrop", &["keep", "net_bind_service"]),
    ("capdrop", &["drop", "net_raw", "sys_nice"]),
];

#[test]
fn the_preload_changes_nothing_when_no_tracer_listens() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-same");
    let so = preload();
    // Three ways of "no tracer": no runtime directory, a stale socket file nobody reads,
    // and a tracer socket that is full.
    let absent = tmp.join("absent");
    let stale = tmp.join("stale");
    std::fs::create_dir_all(&stale).unwrap();
    drop(UnixDatagram::bind(stale.join("ingest")).unwrap());
    let full = tmp.join("full");
    std::fs::create_dir_all(&full).unwrap();
    let sink = UnixDatagram::bind(full.join("ingest")).unwrap();
    let filler = UnixDatagram::unbound().unwrap();
    filler.set_nonblocking(true).unwrap();
    let mut queued = 0;
    while filler.send_to(&[0u8; 104], full.join("ingest")).is_ok() {
        queued += 1;
        assert!(queued < 100_000, "the socket never filled");
    }

    for (name, args) in SCENARIOS {
        let prog = build_c(&tmp, name);
        let plain = run(&prog, args, &[]);
        for dir in [&absent, &stale, &full] {
            let started = Instant::now();
            let with = run(&prog, args, &[("LD_PRELOAD", &so), ("SECPOL_RUNTIME_DIR", dir)]);
            let what = format!("{name} {args:?} with the preload and {}", dir.display());
            assert!(started.elapsed() < Duration::from_secs(5), "{what} took {:?}", started.elapsed());
            assert_eq!(plain.status.code(), with.status.code(), "{what}: exit status");
            crate::util::assert_same_text(
                &text(&plain.stdout),
                &text(&with.stdout),
                &format!("{what}: stdout"),
            );
            crate::util::assert_same_text(
                &text(&plain.stderr),
                &text(&with.stderr),
                &format!("{what}: stderr"),
            );
        }
        assert_eq!(plain.status.code(), Some(0), "{name}: {}", text(&plain.stdout));
    }
    drop(sink);
}

/// A tracer listening for the preload only, and a subscriber to its `cap_call` events.
struct Tracer {
    _service: Service,
    run: PathBuf,
    _ctx: zmq::Context,
    sub: Subscriber,
}

impl Tracer {
    fn start(tmp: &TempDir) -> Tracer {
        let run = tmp.join("run");
        let mut cmd = Command::new(bin("secpoltrace"));
        cmd.args(["--no-kernel", "--heartbeat-ms", "100", "-v"]).arg("--runtime-dir").arg(&run);
        let service = Service::start("tracer", tmp.path(), cmd);
        let ctx = zmq::Context::new();
        let dir = secpol::endpoint::RuntimeDir::resolve(Some(&run));
        let sub = Subscriber::connect(&ctx, &dir, &["ev.cap_call"]).unwrap();
        // Connected once a heartbeat arrives; listening once the socket file exists.
        let deadline = Instant::now() + LONG;
        loop {
            assert!(Instant::now() < deadline, "no heartbeat from the tracer: {}", service.err());
            if let Received::Message(Message::Heartbeat(_)) = sub.recv(100).unwrap() {
                break;
            }
        }
        wait_until(LONG, "the ingest socket", || run.join("ingest").exists());
        Tracer { _service: service, run, _ctx: ctx, sub }
    }

    /// The `cap_call` events of `pid` that arrive until `n` are in or `LONG` passes.
    fn events_of(&self, pid: u32, n: usize) -> Vec<Event> {
        let mut got = Vec::new();
        let deadline = Instant::now() + LONG;
        while got.len() < n && Instant::now() < deadline {
            if let Received::Message(Message::Event(e)) = self.sub.recv(100).unwrap() {
                if e.process.pid == pid {
                    got.push(e);
                }
            }
        }
        // Anything more would be a bug: give it a moment to show.
        let quiet = Instant::now() + Duration::from_millis(500);
        while Instant::now() < quiet {
            if let Received::Message(Message::Event(e)) = self.sub.recv(100).unwrap() {
                if e.process.pid == pid {
                    got.push(e);
                }
            }
        }
        got
    }
}

/// Runs `prog args` with the preload under type `type_name` (a cgroup made for the test
/// and removed after), and returns its output and its first `n` events (and any that
/// follow at once). The program is reaped only after its events are in: a zombie still
/// has its cgroup, so the tracer can tell its type however late it looks.
fn run_typed(tracer: &Tracer, type_name: &str, prog: &Path, args: &[&str], n: usize) -> (Output, Vec<Event>) {
    let tree = secpol::cgroup_types::TypeTree::open().expect("cgroup2 mount");
    let dir = tree.create(type_name).expect("create the type's cgroup");
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && exec \"$@\"")
        .arg(dir.join("cgroup.procs"))
        .arg(prog)
        .args(args)
        .env("LD_PRELOAD", preload())
        .env("SECPOL_RUNTIME_DIR", &tracer.run)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let events = tracer.events_of(child.id(), n);
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir(&dir);
    (out, events)
}

fn cap_call(e: &Event) -> (&str, Vec<String>, Verdict) {
    let EventKind::CapCall { call, requests, verdict } = &e.what else { panic!("not a cap call: {e:?}") };
    let reqs =
        requests.iter().map(|r| format!("{} {}", secpol::qnxlog::describe_request(r), r.ability)).collect();
    (call, reqs, *verdict)
}

#[test]
fn a_pps_like_service_is_reported_call_by_call_with_its_type_and_users() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-pps");
    let prog = build_c(&tmp, "pps_like");
    let tracer = Tracer::start(&tmp);
    let type_name = format!("pps{}_t", std::process::id());
    let (out, events) = run_typed(&tracer, &type_name, &prog, &["net_bind_service", "sys_nice"], 3);
    assert!(out.status.success(), "pps_like: {}{}", text(&out.stdout), text(&out.stderr));

    // keepcaps, one bounding-set drop per capability not kept, and cap_set_proc.
    let calls: Vec<&str> = events.iter().map(|e| cap_call(e).0).collect();
    let drops = calls.iter().filter(|c| **c == "prctl(PR_CAPBSET_DROP)").count();
    assert_eq!(calls.first(), Some(&"prctl(PR_SET_KEEPCAPS)"), "{calls:?}");
    assert_eq!(calls.last(), Some(&"cap_set_proc"), "{calls:?}");
    assert_eq!(drops + 2, calls.len(), "{calls:?}");
    assert!(drops >= 38, "a drop for every capability but the two kept: {calls:?}");
    for e in &events {
        assert_eq!(e.process.type_name, type_name, "{e:?}");
        assert!(e.process.name.as_deref().is_none_or(|n| n.ends_with("pps_like")), "{e:?}");
        assert_eq!(cap_call(e).2, Verdict::Allowed, "{e:?}");
    }

    // Root asked to keep its capabilities when it switches users (no capability named)...
    assert!(cap_call(&events[0]).1.is_empty(), "{:?}", events[0]);
    assert_eq!(events[0].process.uid, Some(0));
    // ...dropped sys_admin from the bounding set by name...
    assert!(events.iter().any(|e| cap_call(e).1 == ["drop all lock sys_admin"]));
    assert!(!events.iter().any(|e| cap_call(e).1 == ["drop all lock sys_nice"]));
    // ...and, as nobody (the kernel says so), kept two and denied the rest.
    let last = events.last().unwrap();
    assert_eq!(last.process.uid, Some(65534));
    let (_, set, _) = cap_call(last);
    for want in ["allow nonroot net_bind_service", "allow nonroot sys_nice", "deny nonroot sys_admin"] {
        assert!(set.contains(&want.to_string()), "{want} missing from {set:?}");
    }
}

#[test]
fn an_io_pkt_like_service_is_refused_and_carries_on() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-iopkt");
    let prog = build_c(&tmp, "iopkt_like");
    let tracer = Tracer::start(&tmp);
    let type_name = format!("iopkt{}_t", std::process::id());
    // Started as a restricted type would start it, without what it then asks for.
    let (out, events) = run_typed(&tracer, &type_name, &prog, &["-r"], 4);
    let stdout = text(&out.stdout);
    assert!(out.status.success() && stdout.contains("ready\n"), "{stdout}");
    assert!(stdout.contains("raise: Operation not permitted"), "{stdout}");

    let seen: Vec<(String, Vec<String>, Verdict)> =
        events.iter().map(cap_call).map(|(c, r, v)| (c.to_string(), r, v)).collect();
    let eperm = Verdict::Denied(libc::EPERM);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], ("prctl(PR_SET_KEEPCAPS)".into(), vec![], Verdict::Allowed));
    // It asks, for root and non-root alike (keep-caps is on), for what it lacks, and only
    // that: refused, and it carries on.
    let asked = ["allow all net_admin", "allow all net_raw", "allow all ipc_lock", "allow all sys_rawio"];
    assert_eq!(seen[1], ("capset".into(), asked.map(String::from).to_vec(), eperm));
    assert_eq!(
        seen[2],
        ("prctl(PR_CAP_AMBIENT_RAISE)".into(), vec!["allow all inherit net_raw".into()], eperm)
    );
    assert_eq!(seen[3], ("prctl(PR_SET_SECUREBITS)".into(), vec![], eperm));
    for e in &events {
        assert_eq!((e.process.type_name.as_str(), e.process.uid), (type_name.as_str(), Some(0)));
    }
}

#[test]
fn protect_keeps_what_is_dropped_wholesale_but_not_what_is_named() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-protect");
    let so = preload();
    let run_dir = tmp.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let capdrop = build_c(&tmp, "capdrop");
    let pps = build_c(&tmp, "pps_like");
    let with = |prog: &Path, args: &[&str]| {
        let out = run(prog, args, &[("LD_PRELOAD", &so), ("SECPOL_RUNTIME_DIR", &run_dir)]);
        assert!(out.status.success(), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        out
    };
    let protect = |text: &str| std::fs::write(run_dir.join("protect"), text).unwrap();

    // sys_nice protected for every unrestricted type.
    protect("# test\n* 23   # sys_nice\nfs_t   # restricted\n");
    let keep = with(&capdrop, &["keep", "net_bind_service"]);
    assert_eq!(status_mask(&keep, "CapPrm"), NET_BIND_SERVICE | SYS_NICE, "kept although dropped wholesale");
    assert_eq!(status_mask(&keep, "CapEff"), NET_BIND_SERVICE | SYS_NICE);
    let named = with(&capdrop, &["drop", "sys_nice", "net_raw"]);
    assert_eq!(status_mask(&named, "CapPrm") & (SYS_NICE | NET_RAW), 0, "dropped by name: gone");
    // Through libcap, after switching users: kept in permitted and effective; the
    // bounding-set drops name each capability, so they go through.
    let service = with(&pps, &["net_bind_service"]);
    assert_eq!(status_mask(&service, "CapPrm"), NET_BIND_SERVICE | SYS_NICE);
    assert_eq!(status_mask(&service, "CapEff"), NET_BIND_SERVICE | SYS_NICE);
    assert_eq!(status_mask(&service, "CapBnd"), NET_BIND_SERVICE);

    // A line for this process's own type wins over `*`; a restricted type has none.
    protect("* 23\ndefault\n");
    let own = with(&capdrop, &["keep", "net_bind_service"]);
    assert_eq!(status_mask(&own, "CapPrm"), NET_BIND_SERVICE);
    protect("other_t 23\n");
    assert_eq!(status_mask(&with(&capdrop, &["keep", "net_bind_service"]), "CapPrm"), NET_BIND_SERVICE);
    protect("default 13 23\n");
    assert_eq!(
        status_mask(&with(&capdrop, &["keep", "net_bind_service"]), "CapPrm"),
        NET_BIND_SERVICE | NET_RAW | SYS_NICE
    );
}

#[test]
fn a_capability_kept_by_protect_is_not_reported_as_mentioned() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-protect-event");
    let prog = build_c(&tmp, "capdrop");
    let tracer = Tracer::start(&tmp);
    std::fs::write(tracer.run.join("protect"), "* 23\n").unwrap();
    let type_name = format!("prot{}_t", std::process::id());
    let (out, events) = run_typed(&tracer, &type_name, &prog, &["keep", "net_bind_service"], 1);
    assert_eq!(status_mask(&out, "CapPrm"), NET_BIND_SERVICE | SYS_NICE);
    assert_eq!(events.len(), 1, "{events:?}");
    let (call, reqs, verdict) = cap_call(&events[0]);
    assert_eq!((call, verdict), ("capset", Verdict::Allowed));
    assert!(reqs.contains(&"allow root net_bind_service".to_string()), "{reqs:?}");
    assert!(reqs.contains(&"deny root net_raw".to_string()), "{reqs:?}");
    assert!(!reqs.iter().any(|r| r.ends_with(" sys_nice")), "{reqs:?}");
}

/// The blocks `allow T self:ability { ... };` of a policy (root and non-root), joined.
fn ability_blocks(policy: &str, type_name: &str) -> String {
    let head = format!("allow {type_name} self:ability {{");
    let mut out = String::new();
    let mut rest = policy;
    while let Some(start) = rest.find(&head) {
        let len = rest[start..].find("};").map_or(rest.len() - start, |e| e + 2);
        out.push_str(&rest[start..start + len]);
        out.push('\n');
        rest = &rest[start + len..];
    }
    out
}

/// The abilities a block of policy text grants (its lines that are neither comments nor
/// keywords nor braces).
fn granted_in(block: &str) -> Vec<&str> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('#')
                && !l.starts_with("allow ")
                && !["nonroot", "unlock", "noinherit", "};"].contains(l)
        })
        .collect()
}

/// The whole chain: the generator's protect file, read by the preload; the preload's
/// reports, through the tracer, into the generator's policy (what was raised granted
/// `unlock`, what was given up only listed, the comments) that `secpolctl check` accepts;
/// `no_procmgr_ability` ignores a type's calls.
#[test]
fn the_generator_learns_from_the_preload_and_its_protect_list_is_applied() {
    if !root_or_skip("the preload tests need root (the test programs switch users and drop capabilities)") {
        return;
    }
    let tmp = TempDir::new("preload-generator");
    let prog = build_c(&tmp, "pps_like");
    let iopkt = build_c(&tmp, "iopkt_like");
    let tracer = Tracer::start(&tmp);
    let managed = format!("ppsgen{}_t", std::process::id());
    let ignored = format!("ppsnop{}_t", std::process::id());
    let iopkt_type = format!("iopktgen{}_t", std::process::id());
    let config = tmp.join("gen.conf");
    std::fs::write(&config, format!("ability sys_nice protect\ntype {ignored} no_procmgr_ability\n"))
        .unwrap();
    let mut cmd = Command::new(bin("secpolgenerate"));
    cmd.args(["-u", "-N", "-f", "0.2", "-c"])
        .arg(&config)
        .arg("-S")
        .arg(tmp.join("no-base-policy"))
        .arg("--runtime-dir")
        .arg(&tracer.run)
        .arg("--output-dir")
        .arg(tmp.join("out"));
    let generator = Service::start("generator", tmp.path(), cmd);
    let protect = tracer.run.join("protect");
    wait_until(LONG, "the generator's protect file", || {
        std::fs::read_to_string(&protect).is_ok_and(|t| t.lines().any(|l| l.starts_with("* 23")))
    });

    // Keeping only net_bind_service, pps keeps sys_nice too: the generator said so.
    let (out, events) = run_typed(&tracer, &managed, &prog, &["net_bind_service"], 3);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(status_mask(&out, "CapPrm"), NET_BIND_SERVICE | SYS_NICE, "{}", text(&out.stdout));
    assert!(events.len() >= 3, "{events:?}");
    let (out, _) = run_typed(&tracer, &ignored, &prog, &["net_bind_service"], 3);
    assert!(out.status.success());
    let (out, events) = run_typed(&tracer, &iopkt_type, &iopkt, &[], 4);
    assert!(text(&out.stdout).contains("ready\n"), "{}", text(&out.stdout));
    assert_eq!(events.len(), 4, "{events:?}");

    let policy_file = tmp.join("out/policy");
    let mut policy = String::new();
    wait_until(LONG, "the learned policy", || {
        policy = std::fs::read_to_string(&policy_file).unwrap_or_default();
        ability_blocks(&policy, &managed).contains("net_bind_service")
            && ability_blocks(&policy, &iopkt_type).contains("net_raw")
    });
    // pps: what it kept is granted; what it dropped is said once, not granted.
    let block = ability_blocks(&policy, &managed);
    for want in [
        "    nonroot\n    unlock\n    noinherit\n",
        "    # allow nonroot\n    net_bind_service\n",
        "# its own calls also, naming no capability (so every capability of ",
        "#   prctl(PR_SET_KEEPCAPS)\n",
        "# its own calls also gave up, not granted",
        "#   deny nonroot, drop all lock: ",
    ] {
        assert!(block.contains(want), "{want:?} missing from\n{block}\n(generator: {})", generator.err());
    }
    assert_eq!(granted_in(&block), ["net_bind_service"], "{block}");
    assert!(block.contains(" sys_admin"), "{block}");
    // io-pkt: the capability it passes on to children is unlocked but not `noinherit`.
    let block = ability_blocks(&policy, &iopkt_type);
    assert!(
        block.contains("    nonroot\n    unlock\n    # its own calls also, naming no capability"),
        "{block}"
    );
    assert!(block.contains("#   capset prctl(PR_SET_KEEPCAPS) prctl(PR_SET_SECUREBITS)\n"), "{block}");
    assert!(
        block.contains("    # allow all inherit\n    net_raw\n") && !block.contains("noinherit"),
        "{block}"
    );
    assert_eq!(granted_in(&block), ["net_raw"], "{block}");
    let check = Command::new(bin("secpolctl")).arg("check").arg(&policy_file).output().unwrap();
    assert!(
        check.status.success() && check.stdout.is_empty() && check.stderr.is_empty(),
        "secpolctl check: {}{}\n{policy}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(
        !ability_blocks(&policy, &ignored).contains("unlock"),
        "no_procmgr_ability ignored nothing:\n{policy}"
    );
}
