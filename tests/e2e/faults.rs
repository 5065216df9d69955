//! Issue 10, faults: each service killed with `kill -9` and restarted while a workload runs.
//! The others keep going; monitors reattach on their own and say what they could not see
//! (`warning: tracer restarted`); the generator restarts from its state file and loses at
//! most the events of one save interval (`-f`), counted as rules of `secpolctl policy`.
//!
//! The workload is either the tracer's replay source paced to a steady stream (a new attach
//! path, so a new rule, every couple of milliseconds), which needs no privileges, or real
//! processes under a type started with `secpolctl on`, traced by the kernel source (root and
//! BPF; skipped, or failed under `SECPOL_REQUIRE_KERNEL=1`, like the tests of `kernel.rs`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use secpol::control::{self, Request, Response, Status};
use secpol::endpoint::RuntimeDir;

use crate::kernel::{on_in, PYTHON};
use crate::util::{
    bin, kernel_tracer_ready, root_or_skip, secpolctl, sharing_the_machine, wait_until, Service, TempDir,
};

const WAIT: Duration = Duration::from_secs(60);
/// The generator's save interval (`-f`): what a `kill -9` may cost at most.
const SAVE_INTERVAL: &str = "0.3";
/// Lines of a replayed workload: more than a test reads at the pace below.
const WORKLOAD_LINES: usize = 40_000;
/// Pause between replayed events (ms): a steady stream of about 400 events a second.
const PACE_MS: &str = "2";

/// Tracer, generator and monitors of one runtime directory, each started (and restarted)
/// under a name of its own so that every run keeps its output.
struct Services {
    tmp: TempDir,
}

impl Services {
    fn new(test: &str) -> Services {
        Services { tmp: TempDir::new(test) }
    }

    fn run_dir(&self) -> PathBuf {
        self.tmp.join("run")
    }

    fn state_file(&self) -> PathBuf {
        self.tmp.join("state")
    }

    /// A learning generator (`-u -N`) with a state file saved every [`SAVE_INTERVAL`];
    /// returns once it answers on its control socket.
    fn generator(&self, name: &str) -> Service {
        let mut cmd = Command::new(bin("secpolgenerate"));
        cmd.args(["-u", "-N", "-f", SAVE_INTERVAL])
            .arg("-s")
            .arg(self.state_file())
            .arg("-S")
            .arg(self.tmp.join("no-base-policy"))
            .arg("--runtime-dir")
            .arg(self.run_dir())
            .arg("--output-dir")
            .arg(self.tmp.join("out"));
        let mut g = Service::start(name, self.tmp.path(), cmd);
        wait_until(WAIT, &format!("{name} to answer"), || {
            assert!(g.child.try_wait().unwrap().is_none(), "{name} exited: {}", g.err());
            self.status().is_some()
        });
        g
    }

    fn monitor(&self, name: &str, args: &[&str]) -> Service {
        let mut cmd = Command::new(bin("secpolmonitor"));
        cmd.args(args).arg("--runtime-dir").arg(self.run_dir());
        Service::start(name, self.tmp.path(), cmd)
    }

    /// A tracer replaying `file` at [`PACE_MS`], and running on after it.
    fn replaying_tracer(&self, name: &str, file: &Path) -> Service {
        let mut cmd = Command::new(bin("secpoltrace"));
        cmd.args(["--no-kernel", "--no-ingest", "--heartbeat-ms", "100", "--pace-ms", PACE_MS])
            .arg("--replay")
            .arg(file)
            .arg("--runtime-dir")
            .arg(self.run_dir());
        Service::start(name, self.tmp.path(), cmd)
    }

    /// A tracer watching the kernel.
    fn kernel_tracer(&self, name: &str) -> Service {
        let mut cmd = Command::new(bin("secpoltrace"));
        cmd.args(["--no-ingest", "--heartbeat-ms", "200", "-v"]).arg("--runtime-dir").arg(self.run_dir());
        Service::start(name, self.tmp.path(), cmd)
    }

    fn status(&self) -> Option<Status> {
        let dir = RuntimeDir::resolve(Some(&self.run_dir()));
        match control::request(&dir, &Request::Status, Duration::from_secs(5)) {
            Ok(Response::Status(s)) => Some(s),
            _ => None,
        }
    }

    fn events_seen(&self) -> u64 {
        self.status().map_or(0, |s| s.events_seen)
    }

    /// `secpolctl policy`, which must answer.
    fn policy(&self) -> String {
        let (out, _) = secpolctl(&self.run_dir(), &["policy"]);
        assert!(out.status.success(), "secpolctl policy: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The policy file, for waiting (cheaper than asking).
    fn policy_file(&self) -> String {
        std::fs::read_to_string(self.tmp.join("out/policy")).unwrap_or_default()
    }

    fn saved_state(&self) -> String {
        std::fs::read_to_string(self.state_file()).unwrap_or_default()
    }
}

/// `kill -9`, and reaped.
fn kill_9(s: &mut Service) {
    s.child.kill().unwrap();
    s.child.wait().unwrap();
}

/// A replay file of `n` attach events of type `fault_t`, each to a new path
/// `/srv/fault/TAG/NNNNNN`, so that each makes a rule of its own.
fn attach_workload(path: &Path, tag: &str, n: usize) {
    let mut text = String::with_capacity(n * 100);
    for i in 0..n {
        let _ = writeln!(
            text,
            "info: usr/sbin/faultd (pid:{}) of type fault_t attached channel to path /srv/fault/{tag}/{i:06}",
            1000 + i
        );
    }
    std::fs::write(path, text).unwrap();
}

/// The workload's paths in a text (a policy, a state file, monitor lines), under `root`:
/// each is one learned rule.
fn paths_under(root: &str, text: &str) -> BTreeSet<String> {
    text.split_whitespace().filter(|w| w.starts_with(root)).map(String::from).collect()
}

fn fault_paths(text: &str) -> BTreeSet<String> {
    paths_under("/srv/fault/", text)
}

/// Kills the generator during the workload and restarts it: every rule of a policy taken one
/// save earlier survives, and it learns on from the tracer still running. Returns the new
/// generator. `paths` picks the workload's rules out of a text.
fn kill_and_restart_generator(
    s: &Services,
    generator: &mut Service,
    name: &str,
    paths: impl Fn(&str) -> BTreeSet<String>,
) -> Service {
    let snapshot = paths(&s.policy());
    let newest = snapshot.last().expect("rules learned before the kill").clone();
    // One save after the snapshot: from here on, at most one interval can be lost.
    wait_until(WAIT, "a save after the snapshot", || paths(&s.saved_state()).contains(&newest));
    let at_kill = paths(&s.policy());
    kill_9(generator);
    let saved = paths(&s.saved_state());
    let restarted = s.generator(name);
    let restored = paths(&s.policy());
    let missing: Vec<_> = snapshot.difference(&restored).collect();
    assert!(missing.is_empty(), "rules of the snapshot lost by the restart: {missing:?}");
    assert!(saved.is_subset(&restored), "the restart did not restore the state file");
    eprintln!(
        "faults: generator kill -9: {} rules at the kill, {} in the state file, {} restored; \
         lost {} (the last save interval)",
        at_kill.len(),
        saved.len(),
        restored.len(),
        at_kill.difference(&saved).count()
    );
    // It resubscribed by itself: the running tracer's later events are learned.
    let last = restored.last().cloned().unwrap_or_default();
    wait_until(WAIT, "rules learned after the restart", || {
        paths(&s.policy_file()).last().is_some_and(|p| *p > last)
    });
    restarted
}

#[test]
fn each_service_killed_and_restarted_during_a_replayed_workload() {
    let s = Services::new("faults-replay");
    let (first, second) = (s.tmp.join("a.log"), s.tmp.join("b.log"));
    attach_workload(&first, "a", WORKLOAD_LINES);
    attach_workload(&second, "b", WORKLOAD_LINES);
    let mut monitor = s.monitor("monitor1", &["-p", "-s"]);
    let mut generator = s.generator("generator1");
    let mut tracer = s.replaying_tracer("tracer1", &first);
    wait_until(WAIT, "the workload in the monitor", || fault_paths(&monitor.out()).len() >= 200);
    wait_until(WAIT, "the workload in the generator", || s.events_seen() >= 200);

    // The monitor: nobody else notices, and a new one takes the stream up where it is.
    let last_printed = fault_paths(&monitor.out()).last().cloned().unwrap();
    kill_9(&mut monitor);
    let seen = s.events_seen();
    wait_until(WAIT, "events while no monitor runs", || s.events_seen() >= seen + 100);
    let monitor = s.monitor("monitor2", &["-p", "-s"]);
    wait_until(WAIT, "the new monitor's lines", || fault_paths(&monitor.out()).len() >= 100);
    let first_printed = fault_paths(&monitor.out()).first().cloned().unwrap();
    assert!(
        first_printed > last_printed,
        "the new monitor repeated {first_printed} ({last_printed} was seen)"
    );
    let st = s.status().unwrap();
    assert_eq!(st.events_lost, 0, "a monitor's death cost the generator events: {st:?}");

    // The generator: back from its state file, at most one save interval lost.
    let mut generator = kill_and_restart_generator(&s, &mut generator, "generator2", fault_paths);

    // The tracer: subscribers see a new instance, and learn and print its events.
    let before = fault_paths(&s.policy());
    kill_9(&mut tracer);
    let _tracer = s.replaying_tracer("tracer2", &second);
    wait_until(WAIT, "the monitor's restart line", || monitor.out().contains("warning: tracer restarted"));
    wait_until(WAIT, "the new tracer's events in the monitor", || monitor.out().contains("/srv/fault/b/"));
    wait_until(WAIT, "the new tracer's events learned", || s.policy_file().contains("/srv/fault/b/"));
    let after = fault_paths(&s.policy());
    assert!(before.is_subset(&after), "rules lost when the tracer restarted");
    let out = monitor.out();
    let restart_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("warning:")).collect();
    eprintln!("faults: monitor after the tracer restart: {restart_lines:?}");

    let (out, took) = secpolctl(&s.run_dir(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("events seen:"), "{text}");
    eprintln!("faults: secpolctl status after three restarts, in {took:?}:\n{text}");
    assert!(generator.stop().success(), "the generator did not stop cleanly: {}", generator.err());
    assert!(monitor.err().is_empty(), "monitor: {}", monitor.err());
}

/// A Python loop for `secpolctl on`: binds an `AF_UNIX` socket at a new path in `dir` every
/// 10 ms (each an attach event, so a rule) until `dir/stop` exists.
fn binding_loop(dir: &Path) -> String {
    format!(
        "import socket,os,time\nd={d:?}\ni=0\nwhile not os.path.exists(d+'/stop'):\n    \
         p='%s/s%06d'%(d,i)\n    s=socket.socket(socket.AF_UNIX)\n    s.bind(p)\n    s.close()\n    \
         os.unlink(p)\n    i+=1\n    time.sleep(0.01)\n",
        d = dir.to_str().unwrap()
    )
}

#[test]
fn each_service_killed_and_restarted_while_processes_run_under_a_type() {
    if !root_or_skip("kernel tests need root") {
        return;
    }
    let _machine = sharing_the_machine();
    let s = Services::new("faults-kernel");
    let work = s.tmp.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let root = format!("{}/s", work.display());
    let paths = |text: &str| paths_under(&root, text);
    let mut monitor = s.monitor("monitor1", &["-p", "-s"]);
    let mut generator = s.generator("generator1");
    let mut tracer = s.kernel_tracer("tracer1");
    // The workload: one process of type kfault_t binding a new socket path every 10 ms.
    let mut cmd = Command::new(bin("secpolctl"));
    cmd.arg("on")
        .arg("--runtime-dir")
        .arg(s.run_dir())
        .args(["-T", "kfault_t", "--", PYTHON, "-c", &binding_loop(&work)])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/");
    let mut workload = Service::start("workload", s.tmp.path(), cmd);
    let in_monitor = |m: &Service| paths(&m.out()).len();
    let up = kernel_tracer_ready(&mut tracer, WAIT, || {
        assert!(workload.child.try_wait().unwrap().is_none(), "the workload ended: {}", workload.err());
        in_monitor(&monitor) >= 20
    });
    if !up {
        return;
    }

    // The monitor.
    let last_printed = paths(&monitor.out()).last().cloned().unwrap();
    kill_9(&mut monitor);
    let seen = s.events_seen();
    wait_until(WAIT, "events while no monitor runs", || s.events_seen() >= seen + 20);
    let monitor = s.monitor("monitor2", &["-p", "-s"]);
    wait_until(WAIT, "the new monitor's lines", || in_monitor(&monitor) >= 20);
    let first_printed = paths(&monitor.out()).first().cloned().unwrap();
    assert!(
        first_printed > last_printed,
        "the new monitor repeated {first_printed} ({last_printed} was seen)"
    );

    // The generator.
    let _generator = kill_and_restart_generator(&s, &mut generator, "generator2", paths);

    // The tracer: what the workload does while no tracer runs is not seen by anybody; the new
    // instance is announced and its events learned.
    let before = paths(&s.policy());
    let newest = before.last().cloned().unwrap();
    kill_9(&mut tracer);
    let _tracer = s.kernel_tracer("tracer2");
    wait_until(WAIT, "the monitor's restart line", || monitor.out().contains("warning: tracer restarted"));
    wait_until(WAIT, "the new tracer's events learned", || {
        paths(&s.policy_file()).last().is_some_and(|p| *p > newest)
    });
    let after = paths(&s.policy());
    assert!(before.is_subset(&after), "rules lost when the tracer restarted");
    std::fs::write(work.join("stop"), "").unwrap();
    let status = workload.wait(WAIT);
    assert!(status.success(), "the workload failed under restarts: {}", workload.err());
    let out = on_in(&s.run_dir(), "kfault_t", None, &["/usr/bin/true"]);
    assert!(
        out.status.success(),
        "secpolctl on after the restarts: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "faults (kernel): {} workload rules at the end; monitor warnings: {:?}",
        after.len(),
        monitor.out().lines().filter(|l| l.starts_with("warning:")).collect::<Vec<_>>()
    );
}
