//! Issue 7: the loop learn -> policy -> enforce -> errors, on the live kernel, and the
//! generator running under its own restricted type with no capability at all.

use std::path::Path;
use std::process::Command;

use crate::kernel::{ability_rule, ok, on_with, Stack, LONG, PYTHON};
use crate::util::{bin, wait_until};

const BIND80: &str =
    "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
try:\n    s.bind(('127.0.0.1', 80))\nexcept PermissionError:\n    raise SystemExit(13)\n";

/// A generator that enforces `base` (restricted types: no -u, no -N).
fn enforcing_generator(base: &Path) -> impl FnOnce(&Path, &Path) -> Command + '_ {
    move |run, out| {
        let mut cmd = Command::new(bin("secpolgenerate"));
        cmd.args(["-f", "0.2"])
            .arg("--runtime-dir")
            .arg(run)
            .arg("--output-dir")
            .arg(out)
            .arg("-S")
            .arg(base);
        cmd
    }
}

#[test]
fn learned_policy_is_enforced_and_failures_are_reported() {
    // Learn: lweb_t binds port 80 as root; lquiet_t only chowns a file.
    let learned = {
        let Some(stack) = Stack::start("enforce-learn") else { return };
        ok(&stack.on("lweb_t", None, &[PYTHON, "-c", BIND80]), "learning bind to 80");
        let file = stack.tmp.join("owned");
        std::fs::write(&file, "x").unwrap();
        ok(
            &stack.on("lquiet_t", None, &["/usr/bin/chown", "nobody", file.to_str().unwrap()]),
            "learning chown",
        );
        stack.wait_policy("both types learned", |p| {
            ability_rule(p, "lweb_t").is_some_and(|r| r.contains("net_bind_service"))
                && ability_rule(p, "lquiet_t").is_some_and(|r| r.contains("chown"))
        });
        stack.policy()
    };
    assert!(!ability_rule(&learned, "lquiet_t").unwrap().contains("net_bind_service"), "{learned}");

    // Enforce: a generator holding those types to the learned policy.
    let base_dir = crate::util::TempDir::new("enforce-base");
    let base = base_dir.join("learned.policy");
    std::fs::write(&base, &learned).unwrap();
    let Some(stack) = Stack::start_with("enforce-run", enforcing_generator(&base)) else { return };
    let status = Command::new(bin("secpolctl"))
        .arg("status")
        .arg("--runtime-dir")
        .arg(stack.tmp.join("run"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("mode:           restricted"), "{status:?}");

    // With the learned policy, lweb_t still binds port 80...
    ok(&stack.on("lweb_t", None, &[PYTHON, "-c", BIND80]), "restricted lweb_t binding 80");
    // ...and lquiet_t, which never needed it, cannot.
    let out = stack.on("lquiet_t", None, &[PYTHON, "-c", BIND80]);
    assert_eq!(out.status.code(), Some(13), "lquiet_t must be refused port 80: {out:?}\n{}", stack.dump());
    stack.wait_line("the failure in the monitor", |l| {
        l.contains("error: ") && l.contains("type lquiet_t lacks ability NET_BIND_SERVICE(80) as root")
    });
    wait_until(LONG, "the failure in errors", || {
        let e = stack.errors();
        e.contains("lquiet_t") && e.contains("net_bind_service")
    });
    // The process really ran without it: its capability sets are empty.
    let out =
        stack.on("lquiet_t", None, &["/bin/grep", "-E", "^(CapEff|CapBnd|NoNewPrivs)", "/proc/self/status"]);
    ok(&out, "reading its own status");
    let text = String::from_utf8_lossy(&out.stdout);
    let chown_only = format!("{:016x}", 1u64 << 0);
    assert!(text.contains(&format!("CapEff:\t{chown_only}")), "{text}");
    assert!(text.contains(&format!("CapBnd:\t{chown_only}")), "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
}

#[test]
fn a_restricted_type_is_held_to_a_policy_file() {
    let Some(stack) = Stack::start("enforce-file") else { return };
    let policy = stack.tmp.join("p.policy");
    let sockdir = stack.tmp.join("socks");
    std::fs::create_dir_all(&sockdir).unwrap();
    std::fs::write(
        &policy,
        format!(
            "type fweb_t;\nallow fweb_t self:ability {{ net_bind_service:80 }};\nallow_attach fweb_t {}/...;\n",
            sockdir.display()
        ),
    )
    .unwrap();
    let opts = ["--policy".as_ref(), policy.as_os_str()];
    let script = format!(
        "import socket\nfor port in (80, 81):\n    s=socket.socket()\n    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         \x20   try:\n        s.bind(('127.0.0.1', port)); print(port, 'ok')\n    except OSError as e: print(port, e.errno)\n\
         for p in ({inside:?}, {outside:?}):\n    u=socket.socket(socket.AF_UNIX)\n\
         \x20   try:\n        u.bind(p); print('sock ok')\n    except OSError as e: print('sock', e.errno)\n",
        inside = sockdir.join("in.sock").to_str().unwrap(),
        outside = stack.tmp.join("out.sock").to_str().unwrap(),
    );
    let out = on_with(&opts, "fweb_t", None, &[PYTHON, "-c", &script]);
    ok(&out, "fweb_t");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "80 ok\n81 13\nsock ok\nsock 13\n");
    // The refused attach is seen from the kernel like any other failure.
    stack.wait_line("the refused attach", |l| {
        l.contains("error: ")
            && l.contains("of type fweb_t failed to attach to path")
            && l.contains("out.sock")
    });
}

#[test]
fn the_generator_runs_as_its_own_restricted_type_without_capabilities() {
    // The secpol group owns the runtime directory in a real installation; the generator
    // runs as a member of it.
    let _ =
        Command::new("groupadd").args(["--system", "secpol"]).stderr(std::process::Stdio::null()).status();
    let generator = |run: &Path, out: &Path| {
        std::fs::create_dir_all(out).unwrap();
        let nobody = 65534;
        std::os::unix::fs::chown(out, Some(nobody), None).unwrap();
        let base = out.with_file_name("base.policy");
        std::fs::write(
            &base,
            format!(
                "type default;\nallow_attach default /...;\nallow_link default /...;\n\
                 type secpolgenerate_t;\nallow_attach secpolgenerate_t {}/control;\n",
                run.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(bin("secpolctl"));
        cmd.arg("on")
            .arg("--policy")
            .arg(&base)
            .args(["-T", "secpolgenerate_t", "-u", "nobody:secpol", "--"])
            .arg(bin("secpolgenerate"))
            .args(["-u", "-f", "0.2"])
            .arg("-S")
            .arg(&base)
            .arg("--runtime-dir")
            .arg(run)
            .arg("--output-dir")
            .arg(out)
            .env_clear()
            .current_dir("/");
        cmd
    };
    let Some(stack) = Stack::start_with("enforce-self", generator) else { return };
    let pid = stack.generator.child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    for field in ["CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"] {
        assert!(
            status.lines().any(|l| l == format!("{field}:\t0000000000000000")),
            "{field} not empty:\n{status}"
        );
    }
    assert!(status.lines().any(|l| l.starts_with("Uid:\t65534")), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains("/secpol/secpolgenerate_t"), "{cgroup}");
    // It still learns and answers.
    let file = stack.tmp.join("owned");
    std::fs::write(&file, "x").unwrap();
    ok(&stack.on("gself_t", None, &["/usr/bin/chown", "nobody", file.to_str().unwrap()]), "chown");
    stack
        .wait_policy("the learned rule", |p| ability_rule(p, "gself_t").is_some_and(|r| r.contains("chown")));
    let out = Command::new(bin("secpolctl"))
        .arg("status")
        .arg("--runtime-dir")
        .arg(stack.tmp.join("run"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("pid:            {pid}")), "{out:?}");
}

/// A generator learning (-u) with the configuration `config`.
fn configured_generator(
    config: &'static str,
    extra: &'static [&'static str],
) -> impl FnOnce(&Path, &Path) -> Command {
    move |run, out| {
        let conf = out.with_file_name("secpolgenerate.conf");
        std::fs::write(&conf, config).unwrap();
        let mut cmd = Command::new(bin("secpolgenerate"));
        cmd.args(["-f", "0.2"])
            .args(extra)
            .arg("-c")
            .arg(&conf)
            .arg("--runtime-dir")
            .arg(run)
            .arg("--output-dir")
            .arg(out)
            .arg("-S")
            .arg(out.with_file_name("base.policy"));
        std::fs::write(out.with_file_name("base.policy"), "type zrest_t;\n").unwrap();
        cmd
    }
}

fn cap_line(out: &std::process::Output, field: &str) -> u64 {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {text}"));
    u64::from_str_radix(line.split('\t').nth(1).unwrap().trim(), 16).unwrap()
}

#[test]
fn deny_in_the_configuration_holds_for_unrestricted_types() {
    let config = "option unrestricted\ntype dweb_t deny:chown\n";
    let Some(stack) = Stack::start_with("enforce-deny", configured_generator(config, &["-u"])) else {
        return;
    };
    let file = stack.tmp.join("owned");
    std::fs::write(&file, "x").unwrap();
    let out = stack.on("dweb_t", None, &["/usr/bin/chown", "nobody", file.to_str().unwrap()]);
    assert!(!out.status.success(), "deny:chown must hold: {out:?}");
    let out = stack.on("dweb_t", None, &["/bin/grep", "^Cap", "/proc/self/status"]);
    ok(&out, "reading its status");
    assert_eq!(cap_line(&out, "CapBnd") & 1, 0, "chown still in the bounding set");
    assert_ne!(cap_line(&out, "CapEff") & (1 << 10), 0, "an unrestricted type keeps the rest");
    // Another unrestricted type is not affected.
    ok(&stack.on("dother_t", None, &["/usr/bin/chown", "nobody", file.to_str().unwrap()]), "chown elsewhere");
    wait_until(LONG, "the denied chown in errors", || {
        let e = stack.errors();
        e.contains("dweb_t") && e.contains("chown")
    });
}

#[test]
fn zero_id_means_nothing_is_enforced() {
    // zrest_t is restricted (in the base policy, no -u) but the policy id is 0.
    let Some(stack) = Stack::start_with("enforce-zero", configured_generator("", &["-T", "zero_id"])) else {
        return;
    };
    let out = stack.on("zrest_t", None, &["/bin/grep", "^Cap", "/proc/self/status"]);
    ok(&out, "reading its status");
    assert_ne!(cap_line(&out, "CapEff") & 1, 0, "zero_id: the caller's privileges stay");
    // Without zero_id the same type runs with nothing.
    drop(stack);
    let Some(stack) = Stack::start_with("enforce-nonzero", configured_generator("", &[])) else { return };
    let out = stack.on("zrest_t", None, &["/bin/grep", "^Cap", "/proc/self/status"]);
    ok(&out, "reading its status");
    assert_eq!(cap_line(&out, "CapEff"), 0, "restricted with no rules: nothing");
}

#[test]
fn export_speaks_systemd_docker_and_json() {
    let tmp = crate::util::TempDir::new("export");
    let policy = tmp.join("p.policy");
    std::fs::write(&policy, "type web_t;\nallow web_t self:ability { net_bind_service:80 setuid };\n")
        .unwrap();
    let export = |format: &str| {
        let out = Command::new(bin("secpolctl"))
            .args(["export", format, "--policy"])
            .arg(&policy)
            .arg("web_t")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let systemd = export("--systemd");
    assert!(systemd.contains("\nCapabilityBoundingSet=CAP_SETUID CAP_NET_BIND_SERVICE\n"), "{systemd}");
    assert!(systemd.contains("\nNoNewPrivileges=yes\n"), "{systemd}");
    assert_eq!(
        export("--docker"),
        "--cap-drop ALL --cap-add SETUID --cap-add NET_BIND_SERVICE --security-opt no-new-privileges\n"
    );
    let json: serde_json::Value = serde_json::from_str(&export("--json")).unwrap();
    assert_eq!(json["privileged_ports"], serde_json::json!([[80, 80]]));
    let out = Command::new(bin("secpolctl"))
        .args(["export", "--json", "--policy"])
        .arg(&policy)
        .arg("nope_t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("type nope_t is not in the policy"), "{out:?}");
}

/// `secpolctl on --policy POLICY [FLAGS] -T t [-u user] -- cmd...` with `env` added to a
/// clean environment, waited for.
pub(crate) fn on_policy(
    policy: &Path,
    flags: &[&str],
    env: &[(&str, &str)],
    t: &str,
    user: Option<&str>,
    cmd: &[&str],
) -> std::process::Output {
    let mut c = Command::new(bin("secpolctl"));
    c.arg("on").arg("--policy").arg(policy).args(flags).args(["-T", t]);
    if let Some(u) = user {
        c.args(["-u", u]);
    }
    c.arg("--").args(cmd);
    c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").envs(env.iter().copied()).current_dir("/");
    c.output().expect("secpolctl runs")
}

/// Whether the test may run: enforcement needs root (cgroups, capabilities). Skips (or
/// fails in CI) otherwise.
pub(crate) fn enforcement_possible() -> bool {
    if crate::util::is_root() {
        return true;
    }
    crate::util::skip_or_fail("enforcement tests need root (cgroups, capabilities)");
    false
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Binds TCP ports 80 and 81 and a socket file in `inside` and in `outside`; prints what
/// happened (`81 ok` or `81 13`, `sock ok` or `sock 13`) and touches `ran` first.
fn bind_script(ran: &Path, inside: &Path, outside: &Path) -> String {
    format!(
        "import socket\nopen({ran:?}, 'w').close()\nfor port in (80, 81):\n    s=socket.socket()\n\
         \x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         \x20   try:\n        s.bind(('127.0.0.1', port)); print(port, 'ok')\n    except OSError as e: print(port, e.errno)\n\
         for p in ({inside:?}, {outside:?}):\n    u=socket.socket(socket.AF_UNIX)\n\
         \x20   try:\n        u.bind(p); print('sock ok')\n    except OSError as e: print('sock', e.errno)\n",
        ran = ran.to_str().unwrap(),
        inside = inside.to_str().unwrap(),
        outside = outside.to_str().unwrap(),
    )
}

#[test]
fn landlock_missing_refuses_restricted_type() {
    if !enforcement_possible() {
        return;
    }
    let tmp = crate::util::TempDir::new("enforce-landlock-missing");
    let socks = tmp.join("socks");
    std::fs::create_dir_all(&socks).unwrap();
    let policy = tmp.join("p.policy");
    std::fs::write(
        &policy,
        format!(
            "type ll_t;\nallow ll_t self:ability {{ net_bind_service:80 }};\nallow_attach ll_t {}/...;\n",
            socks.display()
        ),
    )
    .unwrap();
    let ran = tmp.join("ran");
    let script = bind_script(&ran, &socks.join("in.sock"), &tmp.join("out.sock"));
    let run = |flags: &[&str], knob: Option<&str>| {
        let _ = std::fs::remove_file(&ran);
        let env: Vec<(&str, &str)> = knob.map(|k| ("SECPOL_LANDLOCK_ABI_MAX", k)).into_iter().collect();
        let out = on_policy(&policy, flags, &env, "ll_t", None, &[PYTHON, "-c", &script]);
        let _ = std::fs::remove_file(socks.join("in.sock"));
        let _ = std::fs::remove_file(tmp.join("out.sock"));
        out
    };
    let refusal = "secpolctl: refusing to run /usr/bin/python3 as type ll_t";

    // No Landlock at all: every path and port rule is named, and the command never runs.
    let out = run(&[], Some("0"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr_of(&out);
    let dir = socks.display();
    let expected = format!(
        "secpolctl: ll_t: cannot enforce: sockets only beneath {dir}: Landlock is not available on this \
         kernel (needs MAKE_SOCK of Landlock ABI 1)\n\
         secpolctl: ll_t: cannot enforce: links only beneath nowhere: Landlock is not available on this \
         kernel (needs MAKE_SYM of Landlock ABI 1)\n\
         secpolctl: ll_t: cannot enforce: privileged TCP ports only 80: Landlock is not available on this \
         kernel (needs NET_BIND_TCP of Landlock ABI 4)\n\
         {refusal}: 3 parts of its policy cannot be enforced here (--best-effort runs it without them)\n"
    );
    crate::util::assert_same_text(&expected, &err, "the refusal without Landlock");
    assert!(!ran.exists(), "the command ran although its policy could not be enforced");

    // ABI 3 has the path rights but not NET_BIND_TCP (ABI 4).
    let out = run(&[], Some("3"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let expected = format!(
        "secpolctl: ll_t: cannot enforce: privileged TCP ports only 80: Landlock ABI 3 lacks NET_BIND_TCP \
         (ABI 4)\n{refusal}: one part of its policy cannot be enforced here (--best-effort runs it without them)\n"
    );
    crate::util::assert_same_text(&expected, &stderr_of(&out), "the refusal with ABI 3");
    assert!(!ran.exists(), "the command ran although its policy could not be enforced");

    // --best-effort runs it, says what is not enforced, and really applies only ABI 3:
    // port 81 is free to bind, sockets are still held to their directory.
    let out = run(&["--best-effort"], Some("3"));
    ok(&out, "ll_t with --best-effort on ABI 3");
    assert_eq!(
        stderr_of(&out),
        "secpolctl: ll_t: not enforced: privileged TCP ports only 80: Landlock ABI 3 lacks NET_BIND_TCP (ABI 4)\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "80 ok\n81 ok\nsock ok\nsock 13\n");

    // The kernel's own ABI (7 here) enforces everything; the knob can lower it, never raise it.
    for knob in [None, Some("99")] {
        let out = run(&[], knob);
        ok(&out, "ll_t fully enforced");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "80 ok\n81 13\nsock ok\nsock 13\n", "knob {knob:?}");
    }
    let out = run(&[], Some("three"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        "secpolctl: SECPOL_LANDLOCK_ABI_MAX=\"three\": expected a Landlock ABI number\n"
    );
    assert!(!ran.exists());
}

/// Capability numbers (linux/capability.h).
const CAP_CHOWN: u64 = 0;
const CAP_SYS_NICE: u64 = 23;

#[test]
fn a_capability_outside_the_bounding_set_refuses_restricted_type() {
    if !enforcement_possible() {
        return;
    }
    let tmp = crate::util::TempDir::new("enforce-bounding");
    let policy = tmp.join("p.policy");
    std::fs::write(&policy, "type res_t;\nallow res_t self:ability { sys_nice chown };\n").unwrap();
    // The launcher really runs without CAP_SYS_NICE in its bounding set (this machine kind's
    // root has no CAP_SYS_RESOURCE to begin with).
    let reduced = |flags: &[&str]| {
        let mut c = Command::new(bin("secpolctl"));
        c.arg("on").arg("--policy").arg(&policy).args(flags);
        c.args(["-T", "res_t", "--", "/bin/grep", "^CapEff", "/proc/self/status"]);
        c.env_clear().env("PATH", "/usr/bin:/bin").current_dir("/");
        // SAFETY: only prctl between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c.output().expect("secpolctl runs")
    };
    let out = reduced(&[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    crate::util::assert_same_text(
        "secpolctl: res_t: cannot enforce: the caller's bounding set lacks sys_nice: cannot be granted\n\
         secpolctl: refusing to run /bin/grep as type res_t: one part of its policy cannot be enforced here \
         (--best-effort runs it without them)\n",
        &stderr_of(&out),
        "the refusal",
    );
    assert!(out.stdout.is_empty(), "the command ran: {out:?}");
    let out = reduced(&["--best-effort"]);
    ok(&out, "res_t with --best-effort");
    assert_eq!(
        stderr_of(&out),
        "secpolctl: res_t: not enforced: the caller's bounding set lacks sys_nice: cannot be granted\n"
    );
    assert_eq!(cap_line(&out, "CapEff"), 1 << CAP_CHOWN, "chown only");
    // With the full bounding set it gets both, and says nothing.
    let out = on_policy(&policy, &[], &[], "res_t", None, &["/bin/grep", "^CapEff", "/proc/self/status"]);
    ok(&out, "res_t");
    assert_eq!(stderr_of(&out), "");
    assert_eq!(cap_line(&out, "CapEff"), 1 << CAP_CHOWN | 1 << CAP_SYS_NICE);
}

#[test]
fn derive_type_is_named_as_not_applied() {
    if !enforcement_possible() {
        return;
    }
    let tmp = crate::util::TempDir::new("enforce-derive");
    let policy = tmp.join("p.policy");
    std::fs::write(&policy, "type dparent_t;\ntype dchild_t;\nderive_type dparent_t /usr/bin/id dchild_t;\n")
        .unwrap();
    let not_applied = "derive_type dparent_t /usr/bin/id dchild_t: not applied on Linux (no hook on exec \
                       without a security module), so /usr/bin/id would run as dparent_t";
    let out = on_policy(&policy, &[], &[], "dparent_t", None, &["/usr/bin/id", "-u"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr_of(&out).starts_with(&format!("secpolctl: dparent_t: cannot enforce: {not_applied}\n")),
        "{out:?}"
    );
    assert!(out.stdout.is_empty());
    let out = on_policy(&policy, &["--best-effort", "-v"], &[], "dparent_t", None, &["/usr/bin/id", "-u"]);
    ok(&out, "dparent_t with --best-effort");
    assert!(
        stderr_of(&out).contains(&format!("secpolctl: dparent_t: not enforced: {not_applied}\n")),
        "{out:?}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n");
    // The derived type itself is held to its own rules as usual.
    ok(&on_policy(&policy, &[], &[], "dchild_t", None, &["/usr/bin/true"]), "dchild_t");
}

#[test]
fn launcher_path_search_is_not_blamed_on_the_type() {
    let Some(stack) = Stack::start("enforce-path") else { return };
    // A root-only directory first in PATH, holding a command of the same name: root's
    // search would find it, nobody's must skip it (as execvp does) without the launcher
    // ever walking into it as nobody.
    let private = stack.tmp.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(private.join("id"), "#!/bin/sh\necho private\n").unwrap();
    std::fs::set_permissions(private.join("id"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let path = format!("{}:/usr/bin:/bin", private.display());
    let on = |user: Option<&str>, cmd: &[&str]| {
        let mut c = Command::new(bin("secpolctl"));
        c.arg("on").arg("--runtime-dir").arg(stack.tmp.join("run")).args(["-T", "kpath_t"]);
        if let Some(u) = user {
            c.args(["-u", u]);
        }
        c.arg("--").args(cmd).env_clear().env("PATH", &path).current_dir("/");
        c.output().expect("secpolctl runs")
    };
    let out = on(Some("nobody"), &["id", "-u"]);
    ok(&out, "id as nobody");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n");
    // Root finds the private one.
    let out = on(None, &["id"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "private\n", "{out:?}");
    // Exit status and messages for a missing or non-executable command are as before.
    let out = on(Some("nobody"), &["no-such-command-kpath"]);
    assert_eq!(out.status.code(), Some(126), "a directory nobody cannot search makes it EACCES: {out:?}");
    assert_eq!(
        stderr_of(&out),
        "secpolctl: cannot run no-such-command-kpath: Permission denied (os error 13)\n"
    );
    let out = on(None, &["no-such-command-kpath"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        "secpolctl: cannot run no-such-command-kpath: No such file or directory (os error 2)\n"
    );
    let plain = stack.tmp.join("plain");
    std::fs::write(&plain, "x").unwrap();
    let out = on(None, &[plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert_eq!(
        stderr_of(&out),
        format!("secpolctl: cannot run {}: Permission denied (os error 13)\n", plain.display())
    );

    // A failure of the type's own comes after the runs above; once it is in errors, so
    // would be anything the launcher's search had caused.
    let out = on(Some("nobody"), &[PYTHON, "-c", BIND80]);
    assert_eq!(out.status.code(), Some(13), "{out:?}");
    wait_until(LONG, "the type's own failure in errors", || {
        let e = stack.errors();
        e.contains("kpath_t") && e.contains("net_bind_service")
    });
    let errors = stack.errors();
    assert!(
        !errors.to_lowercase().contains("dac_"),
        "the launcher's search was blamed on the type:\n{errors}"
    );
    let lines = stack.lines_of("kpath_t");
    assert!(!lines.iter().any(|l| l.contains("DAC_")), "{lines:#?}\n{}", stack.dump());
}
