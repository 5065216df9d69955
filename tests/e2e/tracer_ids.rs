//! Issues 10 and 12, the tracer's part: paths carried whole (no rule from a path cut at
//! 511 bytes), replays that reach the monitors started before the tracer, the target
//! uid/gid of set*id calls as subranges, and set*id calls a seccomp filter refused shown
//! as the ability they lacked.
//!
//! The kernel tests need root and BPF, and skip (or fail, with `SECPOL_REQUIRE_KERNEL=1`)
//! like those of `kernel.rs`, whose stack of tracer, learning generator and monitor they use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::kernel::{ability_rule, ok, Stack, PYTHON};
use crate::util::{self, bin, repo_root, wait_until, Service, TempDir};

const LONG: Duration = Duration::from_secs(60);

/// Threads of process `pid` (a ZeroMQ subscriber has three once its socket exists).
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// Starts `secpolmonitor ARGS` on `tmp`'s runtime directory and waits until its bus socket
/// exists (it connects right after), so it is waiting before anything else starts.
fn waiting_monitor(tmp: &TempDir, name: &str, args: &[&str]) -> Service {
    let mut cmd = Command::new(bin("secpolmonitor"));
    cmd.args(args).arg("--runtime-dir").arg(tmp.join("run"));
    let m = Service::start(name, tmp.path(), cmd);
    wait_until(LONG, &format!("{name} to open its bus socket"), || threads(m.child.id()) >= 3);
    m
}

#[test]
fn monitors_started_before_the_tracer_see_the_whole_replay_without_options() {
    let tmp = TempDir::new("ids-monitors-first");
    let m1 = waiting_monitor(&tmp, "m1", &["-aps"]);
    let m2 = waiting_monitor(&tmp, "m2", &["-aps"]);
    // The seed's walk-through: monitors first, then the workload, no --wait-subscribers.
    let mut cmd = Command::new(bin("secpoltrace"));
    cmd.args(["--no-kernel", "--no-ingest", "--once"])
        .arg("--replay")
        .arg(repo_root().join("tests/data/devf-ram.log"))
        .arg("--runtime-dir")
        .arg(tmp.join("run"));
    let mut tracer = Service::start("tracer", tmp.path(), cmd);
    assert!(tracer.wait(LONG).success(), "tracer failed: {}", tracer.err());
    for m in [&m1, &m2] {
        wait_until(LONG, &format!("{}'s 12 lines", m.name), || m.out().lines().count() >= 12);
    }
    // Let anything extra arrive before comparing.
    std::thread::sleep(Duration::from_millis(300));
    for m in [&m1, &m2] {
        util::assert_golden("monitor/devf-ram-aps.txt", &m.out());
        assert_eq!(m.err(), "", "{} stderr", m.name);
    }
}

#[test]
fn a_monitor_started_during_a_replay_sees_its_tail_without_a_gap() {
    let tmp = TempDir::new("ids-late");
    let first = waiting_monitor(&tmp, "first", &["-aps"]);
    let mut cmd = Command::new(bin("secpoltrace"));
    cmd.args(["--no-kernel", "--no-ingest", "--once", "--pace-ms", "150"])
        .arg("--replay")
        .arg(repo_root().join("tests/data/devf-ram.log"))
        .arg("--runtime-dir")
        .arg(tmp.join("run"));
    let mut tracer = Service::start("tracer", tmp.path(), cmd);
    wait_until(LONG, "the first monitor's 4 lines", || first.out().lines().count() >= 4);
    let late = waiting_monitor(&tmp, "late", &["-aps"]);
    assert!(tracer.wait(LONG).success(), "tracer failed: {}", tracer.err());
    wait_until(LONG, "the first monitor's 12 lines", || first.out().lines().count() >= 12);
    std::thread::sleep(Duration::from_millis(300));
    util::assert_golden("monitor/devf-ram-aps.txt", &first.out());
    let all: Vec<String> = first.out().lines().map(String::from).collect();
    let rest: Vec<String> = late.out().lines().map(String::from).collect();
    assert!(rest.len() < all.len(), "the late monitor saw everything: {rest:?}");
    // Lines it printed are one unbroken tail of the stream (or a loss line says otherwise).
    if !rest.iter().any(|l| l.contains("lost")) {
        assert_eq!(rest[..], all[all.len() - rest.len()..], "the late monitor's lines are not a tail");
    }
}

/// `/<dir>/d001/d002/...` nested until the path is longer than `len` bytes.
fn nested_dir(base: &Path, len: usize) -> PathBuf {
    let mut p = base.join("long");
    let mut i = 0;
    while p.as_os_str().len() <= len {
        i += 1;
        p.push(format!("directory_level_{i:03}"));
    }
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn long_attach_path_is_carried_whole() {
    let Some(stack) = Stack::start("ids-longattach") else { return };
    let deep = nested_dir(&stack.tmp.join("a"), 700);
    // A socket bound in a deep cwd (sun_path holds 108 bytes: the name is relative)...
    let sock = deep.join("srv.sock");
    let bind = "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind('srv.sock')\n";
    let mut cmd = Command::new(bin("secpolctl"));
    cmd.arg("on").arg("--runtime-dir").arg(stack.tmp.join("run"));
    cmd.args(["-T", "longattach_t", "--", PYTHON, "-c", bind]).env_clear().current_dir(&deep);
    let out = cmd.output().unwrap();
    ok(&out, "bind in a deep directory");
    // ...and a mount onto a deep absolute path, which the kernel side reads itself (in a
    // mount namespace of its own, which goes away with it).
    let target = nested_dir(&stack.tmp.join("m"), 900);
    let target_s = target.to_str().unwrap();
    ok(
        &stack.on(
            "longattach_t",
            None,
            &[
                "/usr/bin/unshare",
                "-m",
                "--propagation",
                "private",
                "/bin/mount",
                "-t",
                "tmpfs",
                "none",
                target_s,
            ],
        ),
        "mount onto a deep path",
    );
    let sock_s = sock.to_str().unwrap();
    assert!(sock_s.len() > 700 && target_s.len() > 900);
    stack.wait_line("the whole socket path", |l| {
        l.contains("of type longattach_t attached channel to path ") && l.ends_with(sock_s)
    });
    stack.wait_line("the whole mount path", |l| {
        l.contains("of type longattach_t attached channel to path ") && l.ends_with(target_s)
    });
    stack.wait_policy("both whole paths in allow_attach", |p| {
        let paths = rule_paths(p, "allow_attach longattach_t");
        paths.contains(&sock_s) && paths.contains(&target_s)
    });
    // No rule for any cut piece of them (`/`: unshare making its mounts private).
    let policy = stack.policy();
    for path in rule_paths(&policy, "allow_attach longattach_t") {
        assert!([sock_s, target_s, "/"].contains(&path), "{path}\n{}", stack.dump());
    }
}

/// The paths of the policy statement that starts with `head` (`allow_attach t`), written
/// on one line (`head /p;`) or as a block (`head {`, one path a line, `};`).
fn rule_paths<'a>(policy: &'a str, head: &str) -> Vec<&'a str> {
    let Some(start) = policy.find(&format!("{head} ")) else { return Vec::new() };
    let rest = &policy[start + head.len()..];
    let stmt = &rest[..rest.find(';').unwrap_or(rest.len())];
    stmt.lines()
        .map(|l| l.trim())
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .filter(|w| *w != "{" && *w != "}")
        .collect()
}

#[test]
fn long_link_path_is_carried_whole() {
    let Some(stack) = Stack::start("ids-longlink") else { return };
    let deep = nested_dir(&stack.tmp.join("l"), 1500);
    let link = deep.join("the_link");
    let target = format!("/etc/{}", "x".repeat(600));
    let link_s = link.to_str().unwrap();
    ok(&stack.on("longlink_t", None, &["/usr/bin/ln", "-s", &target, link_s]), "ln -s at a deep path");
    stack.wait_line("the whole link path", |l| l.contains("of type longlink_t") && l.contains(link_s));
    stack.wait_policy("the whole path in allow_link", |p| {
        rule_paths(p, "allow_link longlink_t").contains(&link_s)
    });
    let policy = stack.policy();
    assert_eq!(rule_paths(&policy, "allow_link longlink_t"), [link_s], "{}", stack.dump());
}

#[test]
fn setuid_and_setgid_targets_become_subranges() {
    let Some(stack) = Stack::start("ids-setid") else { return };
    // Dropping the groups, then gid and uid, as chronyd does; a second process switches to 34.
    let to_33 = "import os\nos.setgroups([])\nos.setgid(33)\nos.setuid(33)\n";
    let to_34 = "import os\nos.setresgid(34, 34, 34)\nos.setresuid(34, 34, 34)\n";
    ok(&stack.on("ids_t", None, &[PYTHON, "-c", to_33]), "switch to 33");
    ok(&stack.on("ids_t", None, &[PYTHON, "-c", to_34]), "switch to 34");
    // As nobody, becoming root is refused: the refusal names the id.
    let to_root = "import os\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    raise SystemExit(13)\n";
    let out = stack.on("ids_t", Some("nobody"), &[PYTHON, "-c", to_root]);
    assert_eq!(out.status.code(), Some(13), "nobody must not become root: {out:?}");

    for want in ["SETUID(33)", "SETGID(33)", "SETUID(34)", "SETGID(34)"] {
        stack.wait_line(want, |l| l.contains(&format!("type ids_t uses ability {want} as root")));
    }
    stack.wait_line("SETUID(0) refused", |l| {
        l.contains("error: ") && l.contains("type ids_t lacks ability SETUID(0) as non-root")
    });
    stack.wait_policy("setuid:33-34 and setgid:33-34", |p| {
        ability_rule(p, "ids_t").is_some_and(|r| r.contains("setuid:33-34") && r.contains("setgid:33-34"))
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "ids_t").unwrap();
    // Only the ids: never the bare abilities (the power to become anyone).
    let words: Vec<&str> =
        rule.split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ';').collect();
    assert!(!words.contains(&"setuid") && !words.contains(&"setgid"), "{rule}\n{}", stack.dump());
    wait_until(LONG, "the refusal in errors", || {
        let e = stack.errors();
        e.contains("ids_t") && e.to_lowercase().contains("setuid") && e.contains('0')
    });

    // setgroups with a list (initgroups, as nginx and sshd do) is the bare ability: the
    // launcher's filter cannot read the list, so a ranged rule would refuse the very call.
    let init = "import os\nos.setgroups([33])\nos.setgid(33)\nos.setuid(33)\n";
    ok(&stack.on("idsg_t", None, &[PYTHON, "-c", init]), "initgroups-like switch to 33");
    stack.wait_line("bare SETGID for setgroups", |l| l.contains("type idsg_t uses ability SETGID as root"));
    stack.wait_policy("bare setgid for idsg_t", |p| {
        ability_rule(p, "idsg_t").is_some_and(|r| r.split_whitespace().any(|w| w == "setgid"))
    });
}

/// setreuid makes one check for each id it gains (the real one first), each reported with
/// its own id; setfsuid one for the id it gains. A nobody's refused setreuid names the id
/// of its first check.
#[test]
fn setreuid_and_setfsuid_checks_each_name_their_id() {
    let Some(stack) = Stack::start("ids-setre") else { return };
    let two = "import os, ctypes\nos.setregid(45, 46)\nos.setreuid(35, 36)\n";
    ok(&stack.on("idsre_t", None, &[PYTHON, "-c", two]), "setreuid(35, 36)");
    let fs = "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.setfsuid(37)\nlibc.setfsgid(47)\n";
    ok(&stack.on("idsfs_t", None, &[PYTHON, "-c", fs]), "setfsuid(37)");
    let refused =
        "import os\ntry:\n    os.setreuid(38, 39)\nexcept PermissionError:\n    raise SystemExit(13)\n";
    let out = stack.on("idsre_t", Some("nobody"), &[PYTHON, "-c", refused]);
    assert_eq!(out.status.code(), Some(13), "nobody must not become 38: {out:?}");
    for (t, want) in [
        ("idsre_t", "SETUID(35)"),
        ("idsre_t", "SETUID(36)"),
        ("idsre_t", "SETGID(45)"),
        ("idsre_t", "SETGID(46)"),
        ("idsfs_t", "SETUID(37)"),
        ("idsfs_t", "SETGID(47)"),
    ] {
        stack.wait_line(want, |l| l.contains(&format!("type {t} uses ability {want} as root")));
    }
    stack.wait_line("SETUID(38) refused", |l| {
        l.contains("error: ") && l.contains("type idsre_t lacks ability SETUID(38) as non-root")
    });
    stack.wait_policy("setuid:35-36 and setgid:45-46", |p| {
        ability_rule(p, "idsre_t").is_some_and(|r| r.contains("setuid:35-36") && r.contains("setgid:45-46"))
    });
    stack.wait_policy("setuid:37 and setgid:47", |p| {
        ability_rule(p, "idsfs_t").is_some_and(|r| r.contains("setuid:37") && r.contains("setgid:47"))
    });
    let lines = stack.lines_of("idsre_t").join("\n");
    assert!(!lines.contains("SETUID(39)"), "the refused call stopped at its first check:\n{lines}");
}

#[test]
fn a_setuid_refused_by_a_seccomp_filter_shows_as_the_ability_it_lacked() {
    let Some(stack) = Stack::start("ids-seccomp") else { return };
    let prog = util::build_c(stack.tmp.path(), "seccomp_setid", &["-lseccomp"]);
    let prog_s = prog.to_str().unwrap();
    // The filter refuses setuid(1000) with EPERM before the kernel checks CAP_SETUID.
    let out = stack.on("idsec_t", None, &[prog_s, "setuid", "1000"]);
    ok(&out, "seccomp_setid setuid 1000");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "setuid(1000): Operation not permitted\n");
    let out = stack.on("idsec_t", Some("nobody"), &[prog_s, "setgid", "1000"]);
    ok(&out, "seccomp_setid setgid 1000 as nobody");
    // A filter cannot read setgroups' list: what it refused needs the unranged ability.
    ok(&stack.on("idsec_t", None, &[prog_s, "setgroups", "33"]), "seccomp_setid setgroups 33");

    stack.wait_line("SETUID(1000) lacked", |l| {
        l.contains("error: ") && l.contains("type idsec_t lacks ability SETUID(1000) as root")
    });
    stack.wait_line("SETGID(1000) lacked", |l| {
        l.contains("error: ") && l.contains("type idsec_t lacks ability SETGID(1000) as non-root")
    });
    stack.wait_line("SETGID lacked for setgroups", |l| {
        l.contains("error: ") && l.contains("type idsec_t lacks ability SETGID as root")
    });
    wait_until(LONG, "the refusals in errors", || {
        let e = stack.errors();
        e.contains("idsec_t") && e.contains("SETUID(1000)") && e.contains("SETGID(1000)")
    });
    // A refusal is not a use: no rule grants what the filter refused.
    let policy = stack.policy();
    if let Some(rule) = ability_rule(&policy, "idsec_t") {
        assert!(!rule.contains("setuid") && !rule.contains("setgid"), "{rule}\n{}", stack.dump());
    }
}
