//! Issue 13: the cgroups services already have are types. Without systemd as PID 1 here,
//! the tests lay cgroups out as systemd does (`system.slice/NAME.service` under the cgroup2
//! mount), move real programs into them, and check what the tracer, the generator,
//! `secpolctl export` (verified by `systemd-analyze`) and `secpolctl diff` make of them.
//!
//! The cgroups are created after the tracer started, so each test also shows that new
//! units are learned without a restart. Names are this module's own (`rwdemo`, `rwmap`,
//! `rwlate`, `rwoff`): the tracer watches the whole machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::kernel::{ability_rule, ok, Stack, PYTHON};
use crate::util::bin;

/// A cgroup made the way systemd lays them out, removed (with the parents it created) at drop.
struct SystemdCgroup {
    dirs: Vec<PathBuf>,
}

impl SystemdCgroup {
    /// `rel` below the cgroup2 mount (`system.slice/rwdemo.service`).
    fn create(rel: &str) -> SystemdCgroup {
        let mount = secpol::cgroup_types::TypeTree::open().expect("a cgroup2 mount").mount().to_path_buf();
        let mut dirs = Vec::new();
        let mut dir = mount;
        for comp in rel.split('/') {
            dir = dir.join(comp);
            match std::fs::create_dir(&dir) {
                Ok(()) => dirs.push(dir.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("cannot create cgroup {}: {e}", dir.display()),
            }
        }
        assert!(!dirs.is_empty() || dir.is_dir(), "{rel}");
        SystemdCgroup { dirs: if dirs.is_empty() { vec![dir] } else { dirs } }
    }

    fn dir(&self) -> &Path {
        self.dirs.last().expect("a directory")
    }

    /// Runs `cmd` inside the cgroup (a shell writes its pid to `cgroup.procs`, then execs).
    fn spawn(&self, cmd: &[&str]) -> std::process::Child {
        let procs = self.dir().join("cgroup.procs");
        Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("echo $$ > '{}' && exec \"$@\"", procs.display()))
            .arg("sh")
            .args(cmd)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs")
    }

    fn run(&self, cmd: &[&str]) -> Output {
        self.spawn(cmd).wait_with_output().expect("waited")
    }
}

impl Drop for SystemdCgroup {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            // A process that just exited may keep its cgroup busy for a moment.
            for _ in 0..50 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    // Shared parents (system.slice) may hold other cgroups.
                    Err(_) if dir != self.dirs.last().unwrap() => break,
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
                }
            }
        }
    }
}

/// The abilities of `t`'s rule in `policy` (comments and keywords left out), sorted.
fn abilities_of(policy: &str, t: &str) -> Vec<String> {
    let Some(rule) = ability_rule(policy, t) else { return Vec::new() };
    let body = rule.split_once("self:ability").map_or("", |(_, b)| b);
    let mut v: Vec<String> = body
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_matches(|c| c == '{' || c == '}' || c == ';').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    v.sort();
    v
}

fn secpolctl(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin("secpolctl")).args(args).output().expect("secpolctl runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `systemd-analyze ARGS`: stdout, stderr and success.
fn systemd_analyze(args: &[&std::ffi::OsStr]) -> (String, String, bool) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze (scripts/setup.sh installs it)");
    (text(&out.stdout), text(&out.stderr), out.status.success())
}

/// The overall exposure `systemd-analyze security --offline=yes UNIT_FILE` gives.
fn exposure(unit: &Path) -> f64 {
    let (out, err, _) = systemd_analyze(&["security".as_ref(), "--offline=yes".as_ref(), unit.as_os_str()]);
    out.lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no exposure level for {}:\n{out}\n{err}", unit.display()))
}

#[test]
fn a_unit_cgroup_is_a_type_with_exactly_what_it_used_and_its_export_verifies() {
    let Some(stack) = Stack::start("units-rwdemo") else { return };
    let unit = SystemdCgroup::create("system.slice/rwdemo.service");
    let file = stack.tmp.join("owned");
    std::fs::write(&file, "x").unwrap();
    let script = format!(
        "import os,socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         try:\n    s.bind(('127.0.0.1', 80))\nexcept OSError as e:\n    assert e.errno != 13, e\n\
         os.chown({f:?}, 1, 1)\n",
        f = file.to_str().unwrap()
    );
    ok(&unit.run(&[PYTHON, "-c", &script]), "bind 80 and chown in rwdemo.service");
    stack.wait_line("rwdemo_service_t uses NET_BIND_SERVICE(80)", |l| {
        l.contains("type rwdemo_service_t uses ability NET_BIND_SERVICE(80) as root")
    });
    stack.wait_policy("rwdemo_service_t's rule with both abilities", |p| {
        abilities_of(p, "rwdemo_service_t") == ["chown", "net_bind_service:80"]
    });
    let policy_text = stack.policy();
    assert!(
        !policy_text.contains("allow rwdemo_service_t self:ability {\n    nonroot"),
        "nothing as non-root:\n{policy_text}"
    );
    let policy = stack.tmp.join("learned.policy");
    std::fs::write(&policy, &policy_text).unwrap();

    // The drop-in, written where systemd reads it (under a root of the test's own).
    let root = stack.tmp.join("root");
    let units = root.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    let unit_file = units.join("rwdemo.service");
    std::fs::write(
        &unit_file,
        format!("[Unit]\nDescription=secpol rwdemo\n\n[Service]\nExecStart={PYTHON} -c pass\n\n[Install]\nWantedBy=multi-user.target\n"),
    )
    .unwrap();
    let before = exposure(&unit_file);
    let out = secpolctl(&[
        "export".as_ref(),
        "--systemd".as_ref(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "rwdemo_service_t".as_ref(),
        "--write".as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
    ]);
    assert!(out.status.success(), "export --write: {out:?}");
    let drop_in = units.join("rwdemo.service.d/secpol.conf");
    assert_eq!(text(&out.stdout).trim(), drop_in.to_str().unwrap());
    let conf = std::fs::read_to_string(&drop_in).unwrap();
    for want in [
        "\n[Service]\n",
        "\nCapabilityBoundingSet=CAP_CHOWN CAP_NET_BIND_SERVICE\n",
        "\nNoNewPrivileges=yes\n",
        "\nSocketBindAllow=80\n",
        "\nSocketBindDeny=any\n",
        "# allow rwdemo_service_t self:ability { chown }; <- usr/bin/python3",
    ] {
        assert!(conf.contains(want), "{want:?} missing:\n{conf}");
    }
    let (_, err, success) = systemd_analyze(&["verify".as_ref(), unit_file.as_os_str()]);
    assert!(success && err.is_empty(), "systemd-analyze verify warns:\n{err}\n{conf}");
    let after = exposure(&unit_file);
    assert!(after < before, "exposure {before} -> {after}\n{conf}");
    // A mistake in a drop-in is what verify reports: the check above can fail.
    std::fs::write(units.join("rwdemo.service.d/zz-bad.conf"), "[Service]\nBogusSecpolKey=1\n").unwrap();
    let (_, err, _) = systemd_analyze(&["verify".as_ref(), unit_file.as_os_str()]);
    assert!(err.contains("BogusSecpolKey"), "verify did not read the drop-ins:\n{err}");

    // Review: against a policy without the rule, NEW grants more (exit 1) and says who needed it.
    let old = stack.tmp.join("old.policy");
    std::fs::write(
        &old,
        "type rwdemo_service_t;\nallow rwdemo_service_t self:ability net_bind_service:80;\n",
    )
    .unwrap();
    let out = secpolctl(&["diff".as_ref(), old.as_os_str(), policy.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&out.stdout);
    assert!(
        report.contains(
            "rwdemo_service_t:\n+ allow rwdemo_service_t self:ability { chown };\n    # usr/bin/python3"
        ),
        "{report}"
    );
    assert!(!report.contains("net_bind_service"), "{report}");
    let out = secpolctl(&["diff".as_ref(), "--json".as_ref(), policy.as_os_str(), old.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["types"]["rwdemo_service_t"]["removed"][0]["rule"],
        "allow rwdemo_service_t self:ability { chown };"
    );
    let out = secpolctl(&["diff".as_ref(), old.as_os_str(), stack.tmp.join("missing").as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    drop(unit);
}

#[test]
fn a_config_mapping_wins_and_units_and_sessions_made_later_are_named() {
    let tmp = crate::util::TempDir::new("units-config");
    let conf = tmp.join("secpol.conf");
    std::fs::write(&conf, "type rwmapped_t cgroup system.slice/rwmap.service\n").unwrap();
    let Some(stack) = Stack::start_traced(
        "units-map",
        &["--config".as_ref(), conf.as_os_str()],
        crate::kernel::learning_generator,
    ) else {
        return;
    };
    let file = stack.tmp.join("owned");
    std::fs::write(&file, "x").unwrap();
    let chown = ["/usr/bin/chown", "nobody", file.to_str().unwrap()];
    let mapped = SystemdCgroup::create("system.slice/rwmap.service");
    ok(&mapped.run(&chown), "chown in rwmap.service");
    stack.wait_line("the mapped type", |l| l.contains("type rwmapped_t uses ability CHOWN as root"));
    // A unit that appears later still, while the tracer runs.
    let late = SystemdCgroup::create("system.slice/system-rwlate.slice/rwlate@1.service/worker");
    ok(&late.run(&chown), "chown in rwlate@1.service");
    stack.wait_line("the late unit", |l| l.contains("type rwlate_1_service_t uses ability CHOWN as root"));
    // A login session is no type.
    let session =
        SystemdCgroup::create(&format!("user.slice/user-0.slice/session-rw{}.scope", std::process::id()));
    let child = session.spawn(&chown);
    let pid = child.id();
    ok(&child.wait_with_output().unwrap(), "chown in a session");
    stack.wait_line("the session's chown as default", |l| {
        l.contains(&format!("(pid:{pid}) type default uses ability CHOWN as root"))
    });
    assert!(stack.lines_of("rwmap_service_t").is_empty(), "the mapping must win:\n{}", stack.dump());
    stack.wait_policy("both types learned", |p| {
        abilities_of(p, "rwmapped_t") == ["chown"] && abilities_of(p, "rwlate_1_service_t") == ["chown"]
    });
    assert!(!stack.policy().contains("session"), "{}", stack.policy());
}

#[test]
fn the_tracer_flag_turns_unit_types_off() {
    let Some(stack) =
        Stack::start_traced("units-off", &["--no-cgroup-types".as_ref()], crate::kernel::learning_generator)
    else {
        return;
    };
    let file = stack.tmp.join("owned");
    std::fs::write(&file, "x").unwrap();
    let unit = SystemdCgroup::create("system.slice/rwoff.service");
    let child = unit.spawn(&["/usr/bin/chown", "nobody", file.to_str().unwrap()]);
    let pid = child.id();
    ok(&child.wait_with_output().unwrap(), "chown in rwoff.service");
    stack.wait_line("the chown as default", |l| {
        l.contains(&format!("(pid:{pid}) type default uses ability CHOWN"))
    });
    assert!(stack.lines_of("rwoff_service_t").is_empty(), "{}", stack.dump());
}
