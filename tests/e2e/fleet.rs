//! A fleet (docs/fleet.md): hosts as network namespaces this test makes itself (a bridge in
//! the collector's namespace, a veth to each host, addresses 10.251.X.0/24 of its own), real
//! tracers replaying logs as hosts `web1`..`web3`, forwarding over CurveZMQ to one
//! collector. A host with a key not in the allow-list is refused and counted; a collector
//! restart loses nothing a host still holds.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{bin, root_or_skip, wait_until_or, Service, TempDir};

/// Network namespaces, deleted (with their links) when dropped, even by a panic.
pub(crate) struct Netns {
    pub(crate) names: Vec<String>,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

pub(crate) fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip (iproute2) runs");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// The collector's namespace and `hosts` host namespaces on one bridge; returns the
/// namespaces (collector first) and the subnet's third byte.
fn make_fleet(hosts: usize) -> (Netns, u32) {
    let id = std::process::id();
    let subnet = 1 + id % 250;
    let c = format!("sp16-{id}-c");
    let mut ns = Netns { names: vec![c.clone()] };
    ip(&["netns", "add", &c]);
    ip(&["-n", &c, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &c, "addr", "add", &format!("10.251.{subnet}.1/24"), "dev", "br0"]);
    ip(&["-n", &c, "link", "set", "br0", "up"]);
    for i in 1..=hosts {
        let h = format!("sp16-{id}-h{i}");
        ip(&["netns", "add", &h]);
        ns.names.push(h.clone());
        let peer = format!("vh{i}");
        ip(&["link", "add", &peer, "netns", &c, "type", "veth", "peer", "name", "eth0", "netns", &h]);
        ip(&["-n", &c, "link", "set", &peer, "master", "br0", "up"]);
        ip(&["-n", &h, "addr", "add", &format!("10.251.{subnet}.{}/24", i + 1), "dev", "eth0"]);
        ip(&["-n", &h, "link", "set", "eth0", "up"]);
        ip(&["-n", &h, "link", "set", "lo", "up"]);
    }
    (ns, subnet)
}

fn in_ns(ns: &str, program: &Path) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

fn keygen(file: &Path) {
    let out = Command::new(bin("secpolctl")).arg("keygen").arg(file).output().unwrap();
    assert!(out.status.success(), "keygen: {}", String::from_utf8_lossy(&out.stderr));
}

fn event_line(t: u64, pid: u32, what: &str) -> String {
    format!(
        r#"{{"time_ns":{t},"process":{{"pid":{pid},"name":"usr/sbin/h16d","type":"h16fleet_t","uid":0,"euid":0}},"what":{what}}}"#
    )
}

/// Host `i`'s log: the use every host makes, one of its own, and 200 repeats.
fn host_log(dir: &TempDir, i: usize, path: &str) -> std::path::PathBuf {
    let t = 1_764_410_400_000_000_000u64 + i as u64 * 1_000_000_000;
    let mut lines = vec![
        event_line(
            t,
            100 + i as u32,
            r#"{"kind":"ability","ability":"net_bind_service","range":{"lo":80,"hi":80},"root":true,"verdict":"Allowed"}"#,
        ),
        event_line(t + 1, 100 + i as u32, &format!(r#"{{"kind":"attach","path":"{path}","result":"Ok"}}"#)),
    ];
    for n in 0..200 {
        lines.push(event_line(t + 2 + n, 100 + i as u32, r#"{"kind":"ability","ability":"net_bind_service","range":{"lo":80,"hi":80},"root":true,"verdict":"Allowed"}"#));
    }
    let file = dir.join(&format!("web{i}-{}.jsonl", path.len()));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

struct Fleet {
    dir: TempDir,
    ns: Netns,
    endpoint: String,
}

impl Fleet {
    fn collector(&self) -> Service {
        let d = &self.dir;
        let mut cmd = in_ns(&self.ns.names[0], &bin("secpolgenerate"));
        cmd.args(["-u", "-N", "-v", "-f", "0.2"])
            .arg("-s")
            .arg(d.join("state"))
            .arg("--output-dir")
            .arg(d.join("out"))
            .arg("--runtime-dir")
            .arg(d.join("crun"))
            .args(["--listen", &self.endpoint])
            .arg("--curve-secret")
            .arg(d.join("collector"))
            .arg("--allow-keys")
            .arg(d.join("allow"));
        let c = Service::start("collector", d.path(), cmd);
        let control = d.join("crun/control");
        wait_until_or(
            Duration::from_secs(10),
            "the collector's control socket",
            || control.exists(),
            || c.err(),
        );
        c
    }

    /// A host's tracer replaying `log` as `host` with `key`, forwarding to the collector.
    fn host(&self, i: usize, host: &str, key: &str, log: &Path, linger: &str) -> Service {
        self.host_with(i, host, key, log, linger, &["--once"])
    }

    /// [`host`](Self::host) with other options (without `--once` it stays, sending heartbeats).
    fn host_with(&self, i: usize, host: &str, key: &str, log: &Path, linger: &str, more: &[&str]) -> Service {
        let d = &self.dir;
        let mut cmd = in_ns(&self.ns.names[i], &bin("secpoltrace"));
        cmd.args(["--no-kernel", "--no-ingest", "-v"])
            .args(more)
            .arg("--runtime-dir")
            .arg(d.join(&format!("run-{host}-{i}-{key}")))
            .arg("--replay")
            .arg(log)
            .args(["--forward", &self.endpoint, "--host", host])
            .arg("--curve-secret")
            .arg(d.join(key))
            .arg("--collector-key")
            .arg(d.join("collector.pub"))
            .args(["--forward-linger", linger]);
        Service::start(&format!("{host}-{i}-{key}"), d.path(), cmd)
    }

    /// A monitor of the collector's fleet bus with `args` (`--fleet`, `--host NAME`), once
    /// it has had time to subscribe.
    fn monitor(&self, name: &str, args: &[&str]) -> Service {
        let d = &self.dir;
        let bus = d.join("crun/fleet");
        wait_until_or(Duration::from_secs(10), "the collector's fleet bus", || bus.exists(), String::new);
        let mut cmd = Command::new(bin("secpolmonitor"));
        cmd.args(["-a", "-p", "-s"]).args(args).arg("--runtime-dir").arg(d.join("crun"));
        let m = Service::start(name, d.path(), cmd);
        std::thread::sleep(Duration::from_millis(1500));
        m
    }

    fn ctl(&self, what: &str) -> String {
        let out = Command::new(bin("secpolctl"))
            .arg("--runtime-dir")
            .arg(self.dir.join("crun"))
            .arg(what)
            .output()
            .unwrap();
        assert!(out.status.success(), "secpolctl {what}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn host_line<'a>(status: &'a str, host: &str) -> &'a str {
    status.lines().find(|l| l.trim_start().starts_with(&format!("{host}:"))).unwrap_or("")
}

#[test]
fn fleet_hosts_in_namespaces_learn_one_policy_refuse_a_wrong_key_and_survive_a_collector_restart() {
    if !root_or_skip("network namespaces need root") {
        return;
    }
    let dir = TempDir::new("fleet");
    let (ns, subnet) = make_fleet(3);
    std::fs::create_dir_all(dir.join("allow")).unwrap();
    for k in ["collector", "web1", "web2", "web3", "intruder"] {
        keygen(&dir.join(k));
    }
    for h in ["web1", "web2", "web3"] {
        std::fs::copy(dir.join(&format!("{h}.pub")), dir.join(&format!("allow/{h}.pub"))).unwrap();
    }
    let fleet = Fleet { dir, ns, endpoint: format!("tcp://10.251.{subnet}.1:7016") };
    let mut collector = fleet.collector();
    // Monitors of the whole fleet and of one host, on the collector.
    let mut all = fleet.monitor("monitor-fleet", &["--fleet"]);
    let mut web2 = fleet.monitor("monitor-web2", &["--host", "web2"]);

    // Three hosts at once; each exits successfully only once the collector acknowledged all.
    let logs: Vec<_> = (1..=3).map(|i| host_log(&fleet.dir, i, &format!("/run/h16-web{i}"))).collect();
    let mut hosts: Vec<Service> =
        (1..=3).map(|i| fleet.host(i, &format!("web{i}"), &format!("web{i}"), &logs[i - 1], "30")).collect();
    for h in &mut hosts {
        let st = h.wait(Duration::from_secs(60));
        assert!(st.success(), "{} failed:\n{}\ncollector:\n{}", h.name, h.err(), collector.err());
    }
    let status = fleet.ctl("status");
    for i in 1..=3 {
        let line = host_line(&status, &format!("web{i}"));
        assert!(line.contains("202 events, 0 lost"), "web{i}: {line}\n{status}");
    }
    let policy = fleet.ctl("policy");
    let learned =
        policy.lines().position(|l| l.contains("allow h16fleet_t self:ability net_bind_service:80;"));
    let comment = learned.and_then(|n| policy.lines().nth(n - 1)).unwrap_or_default();
    // The first host is whichever reached the collector first; all three are counted.
    assert!(comment.contains(" on web") && comment.ends_with("(3 hosts)"), "one rule, 3 hosts:\n{policy}");
    for i in 1..=3 {
        assert!(policy.contains(&format!("on web{i} (1 host)\n    /run/h16-web{i}\n")), "{policy}");
    }

    // The fleet monitor prints every host's first uses, each line named after its host; the
    // host monitor only web2's. Repeats stay first-use only per host.
    let wanted = |out: &str, i: usize| {
        let mine: Vec<&str> = out.lines().filter(|l| l.starts_with(&format!("web{i}: "))).collect();
        mine.iter().any(|l| l.contains("NET_BIND_SERVICE(80)"))
            && mine.iter().any(|l| l.contains(&format!("/run/h16-web{i}")))
            && mine.len() == 2
    };
    wait_until_or(
        Duration::from_secs(10),
        "every host's lines in the fleet monitor",
        || (1..=3).all(|i| wanted(&all.out(), i)),
        || format!("{}{}", all.out(), all.err()),
    );
    wait_until_or(Duration::from_secs(10), "web2's lines", || wanted(&web2.out(), 2), || web2.out());
    let only = web2.out();
    assert!(only.lines().all(|l| l.starts_with("web2: ")), "another host in --host web2:\n{only}");
    assert!(!all.out().contains("warning:"), "no loss on the way:\n{}", all.out());
    // web1's tracer again (a new instance): the restart is web1's, in both kinds of monitor
    // that watch web1, and no other host's.
    let mut again = fleet.host(1, "web1", "web1", &logs[0], "30");
    assert!(again.wait(Duration::from_secs(60)).success(), "{}", again.err());
    wait_until_or(
        Duration::from_secs(10),
        "web1's restart in the fleet monitor",
        || all.out().lines().any(|l| l.starts_with("web1: warning: tracer restarted (instance ")),
        || all.out(),
    );
    assert_eq!(all.out().matches("warning:").count(), 1, "{}", all.out());
    assert!(!web2.out().contains("warning:"), "{}", web2.out());

    // A host with a key the allow-list does not hold, claiming to be web1: refused, counted,
    // never learned from.
    let intruder_log = host_log(&fleet.dir, 1, "/run/h16-intruder");
    let mut intruder = fleet.host(1, "web1", "intruder", &intruder_log, "3");
    assert!(!intruder.wait(Duration::from_secs(30)).success(), "the intruder's messages were acknowledged");
    let status = fleet.ctl("status");
    assert!(status.contains("from 10.251."), "{status}");
    assert!(status.contains(": not in the allow-list"), "{status}");
    assert!(!status.contains("fleet refused:  0"), "{status}");
    assert!(!fleet.ctl("policy").contains("h16-intruder"));
    assert!(!all.out().contains("h16-intruder"), "a refused host's events reached a monitor:\n{}", all.out());
    assert!(all.stop().success() && web2.stop().success(), "{}{}", all.err(), web2.err());

    // web3 revoked while connected: its file leaves the allow-list; the host's later messages
    // (heartbeats: it stays after its replay) are refused and counted within a few seconds,
    // and a new connection with its key is refused at the handshake.
    let log3 = host_log(&fleet.dir, 3, "/run/h16-revoked");
    let mut staying = fleet.host_with(3, "web3", "web3", &log3, "3", &["--heartbeat-ms", "200"]);
    wait_until_or(
        Duration::from_secs(30),
        "web3's replay learned",
        || fleet.ctl("policy").contains("/run/h16-revoked\n"),
        || staying.err(),
    );
    std::fs::remove_file(fleet.dir.join("allow/web3.pub")).unwrap();
    wait_until_or(
        Duration::from_secs(10),
        "web3's messages refused as revoked",
        || fleet.ctl("status").contains("host web3: its key was revoked (no longer in the allow-list)"),
        || fleet.ctl("status"),
    );
    staying.signal(libc::SIGKILL);
    let _ = staying.wait(Duration::from_secs(10));
    let mut again = fleet.host(3, "web3", "web3", &host_log(&fleet.dir, 3, "/run/h16-after"), "3");
    assert!(!again.wait(Duration::from_secs(30)).success(), "a revoked host's messages were acknowledged");
    assert!(!fleet.ctl("policy").contains("/run/h16-after"), "learned from a revoked host");
    std::fs::copy(fleet.dir.join("web3.pub"), fleet.dir.join("allow/web3.pub")).unwrap();

    // The collector stops; a host sends meanwhile, then the collector comes back on its state
    // file: nothing the host held is lost, and nothing learned before is forgotten.
    assert!(collector.stop().success(), "{}", collector.err());
    let late_log = host_log(&fleet.dir, 2, "/run/h16-late");
    let mut late = fleet.host(2, "web2", "web2", &late_log, "60");
    std::thread::sleep(Duration::from_secs(2));
    let collector = fleet.collector();
    let st = late.wait(Duration::from_secs(60));
    assert!(
        st.success(),
        "the late host's events were not all acknowledged:\n{}\n{}",
        late.err(),
        collector.err()
    );
    let policy = fleet.ctl("policy");
    assert!(policy.contains("on web2 (1 host)\n    /run/h16-late\n"), "{policy}");
    assert!(policy.contains("/run/h16-web3\n"), "{policy}");
    let status = fleet.ctl("status");
    assert!(host_line(&status, "web2").contains("202 events, 0 lost"), "{status}");

    // The collector killed with SIGKILL while a host sends 20,000 events, then restarted on
    // its state file: what it had applied but not saved was never acknowledged, so the host
    // sends it again; the host ends with everything acknowledged and every rule learned.
    let mut collector = collector;
    let t = 1_764_420_000_000_000_000u64;
    let mut lines: Vec<String> = (0..20_000u64)
        .map(|n| {
            let what = if n % 1000 == 999 {
                format!(r#"{{"kind":"attach","path":"/run/h16-kill{}","result":"Ok"}}"#, n / 1000)
            } else {
                r#"{"kind":"ability","ability":"net_bind_service","range":{"lo":80,"hi":80},"root":true,"verdict":"Allowed"}"#.to_string()
            };
            event_line(t + n, 300, &what)
        })
        .collect();
    lines.push(event_line(t + 20_000, 300, r#"{"kind":"attach","path":"/run/h16-kill-last","result":"Ok"}"#));
    let big = fleet.dir.join("web3-big.jsonl");
    std::fs::write(&big, lines.join("\n") + "\n").unwrap();
    let mut sender = fleet.host(3, "web3", "web3", &big, "90");
    wait_until_or(
        Duration::from_secs(30),
        "the collector applying web3's first events",
        || fleet.ctl("policy").contains("/run/h16-kill0\n"),
        || sender.err(),
    );
    collector.signal(libc::SIGKILL);
    let _ = collector.wait(Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let _collector = fleet.collector();
    let st = sender.wait(Duration::from_secs(90));
    assert!(st.success(), "web3's events were not all acknowledged after a SIGKILL:\n{}", sender.err());
    // The restarted collector took the rest, resent: the kill came while web3 was sending.
    let status = fleet.ctl("status");
    let resent = host_line(&status, "web3");
    assert!(resent.contains(" events, 0 lost") && !resent.contains(" 0 events"), "{status}");
    let policy = fleet.ctl("policy");
    for n in 0..20 {
        assert!(policy.contains(&format!("/run/h16-kill{n}\n")), "kill{n} lost:\n{policy}");
    }
    assert!(policy.contains("/run/h16-kill-last\n") && policy.contains("/run/h16-late\n"), "{policy}");
}

/// `secpolctl merge` with `inputs`, in `dir`: exit status, stdout, stderr.
fn merge(dir: &Path, inputs: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("secpolctl")).arg("merge").args(inputs).current_dir(dir).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Hosts that cannot reach a collector, merged offline: two recordings merged into one
/// state, that state merged again with a QNX target's secpolmonitor log and a third
/// recording, loaded by a generator: every rule says which host first needed it and how
/// many did. An unreadable line merges nothing.
#[test]
fn offline_merge_of_states_and_logs_keeps_each_rules_hosts() {
    use crate::generator::{ability, event, process, Gen};
    use secpol::event::Subrange;
    use secpol::record::to_json_line;
    let mut g = Gen::new("fleet-merge");
    let bind = |t: u64, pid: u32| {
        let e = event(
            t,
            process("merge_t", pid, "usr/sbin/mergd", 0),
            ability("net_bind_service", Some(Subrange::value(80)), true, true),
        );
        to_json_line(&e) + "\n"
    };
    let own = |t: u64, pid: u32, name: &str| {
        let e = event(t, process("merge_t", pid, "usr/sbin/mergd", 0), ability(name, None, true, true));
        to_json_line(&e) + "\n"
    };
    g.file("web2.jsonl", &(bind(10, 2) + &own(11, 2, "chown")));
    g.file("web3.jsonl", &(bind(20, 3) + &own(21, 3, "kill")));
    g.file("web4.jsonl", &bind(30, 4));
    let dir = g.tmp.path().to_path_buf();

    let (ok, pair, err) = merge(&dir, &["web2.jsonl", "web3.jsonl"]);
    assert!(ok, "{err}");
    g.file("pair.state", &pair);
    let devf = crate::util::repo_root().join("tests/data/devf-ram.log");
    let qnx = format!("qnx7={}", devf.display());
    let (ok, merged, err) = merge(&dir, &["pair.state", &qnx, "web4.jsonl"]);
    assert!(ok, "{err}");
    let merged_file = g.file("merged.state", &merged);

    g.start(&["-u", "-N", "-s", merged_file.to_str().unwrap()]);
    let policy = g.read("policy");
    let line_after = |comment: &str, rule: &str| {
        let lines: Vec<&str> = policy.lines().collect();
        lines.windows(2).any(|w| w[0].contains(comment) && w[1].trim() == rule)
    };
    // Port 80: needed by web2 first (the earliest of the pair, which kept its hosts), then by
    // web3 and web4.
    assert!(
        line_after("(pid 2) ", "net_bind_service:80") && policy.contains("on web2 (3 hosts)"),
        "{policy}"
    );
    assert!(line_after("on web2 (1 host)", "chown"), "{policy}");
    assert!(line_after("on web3 (1 host)", "kill"), "{policy}");
    // The QNX target's log: its own types, named after the host given.
    assert!(policy.contains("on qnx7 (1 host)"), "{policy}");
    assert!(policy.contains("allow_attach fs_t"), "{policy}");

    // A line that is not an event: reported as FILE:LINE, nothing on stdout, exit non-zero.
    g.file("web5.jsonl", &(bind(40, 5) + "this is not an event\n"));
    let (ok, out, err) = merge(&dir, &["web4.jsonl", "web5.jsonl"]);
    assert!(!ok && out.is_empty(), "a broken input was merged:\n{out}");
    assert!(err.contains("web5.jsonl:2:"), "{err}");
}
