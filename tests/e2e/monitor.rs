//! Issue 2: tracer replay and secpolmonitor end to end, over real sockets.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{self, bin, repo_root, wait_until, Service, TempDir};

const LONG: Duration = Duration::from_secs(30);

fn devf_ram_log() -> std::path::PathBuf {
    repo_root().join("tests/data/devf-ram.log")
}

fn monitor(tmp: &TempDir, name: &str, args: &[&str]) -> Service {
    let mut cmd = Command::new(bin("secpolmonitor"));
    cmd.args(args).arg("--runtime-dir").arg(tmp.join("run"));
    Service::start(name, tmp.path(), cmd)
}

fn tracer_cmd(tmp: &TempDir, replay: &[&Path], extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("secpoltrace"));
    cmd.args(["--no-kernel", "--no-ingest", "--once", "--heartbeat-ms", "100"])
        .arg("--runtime-dir")
        .arg(tmp.join("run"));
    for f in replay {
        cmd.arg("--replay").arg(f);
    }
    cmd.args(extra);
    cmd
}

fn line_count(s: &Service) -> usize {
    s.out().lines().count()
}

#[test]
fn two_monitors_print_the_seed_walkthrough_exactly_and_f_filters_by_name() {
    let tmp = TempDir::new("monitor-seed");
    let m1 = monitor(&tmp, "m1", &["-aps"]);
    let m2 = monitor(&tmp, "m2", &["-aps"]);
    let touch = monitor(&tmp, "touch", &["-aps", "-f", "touch"]);
    let errors = monitor(&tmp, "errors", &["-ap"]);
    let mut tracer = Service::start(
        "tracer",
        tmp.path(),
        tracer_cmd(&tmp, &[&devf_ram_log()], &["--wait-subscribers", "4"]),
    );
    assert!(tracer.wait(LONG).success(), "tracer failed: {}", tracer.err());
    for m in [&m1, &m2] {
        wait_until(LONG, "12 lines", || line_count(m) >= 12);
    }
    wait_until(LONG, "touch lines", || line_count(&touch) >= 2);
    wait_until(LONG, "error lines", || line_count(&errors) >= 4);
    // Let anything extra arrive before comparing.
    std::thread::sleep(Duration::from_millis(300));
    util::assert_golden("monitor/devf-ram-aps.txt", &m1.out());
    util::assert_golden("monitor/devf-ram-aps.txt", &m2.out());
    util::assert_golden("monitor/devf-ram-f-touch.txt", &touch.out());
    util::assert_golden("monitor/devf-ram-ap.txt", &errors.out());
    for m in [&m1, &m2, &touch, &errors] {
        assert_eq!(m.err(), "", "{} stderr", m.name);
    }
}

#[test]
fn a_monitor_attached_mid_stream_sees_the_rest() {
    let tmp = TempDir::new("monitor-mid");
    let first = monitor(&tmp, "first", &["-aps"]);
    let mut tracer = Service::start(
        "tracer",
        tmp.path(),
        tracer_cmd(&tmp, &[&devf_ram_log()], &["--wait-subscribers", "1", "--pace-ms", "150"]),
    );
    wait_until(LONG, "first monitor to print 4 lines", || line_count(&first) >= 4);
    let late = monitor(&tmp, "late", &["-aps"]);
    assert!(tracer.wait(LONG).success(), "tracer failed: {}", tracer.err());
    wait_until(LONG, "first monitor to finish", || line_count(&first) >= 12);
    std::thread::sleep(Duration::from_millis(300));
    let all: Vec<String> = first.out().lines().map(String::from).collect();
    let rest: Vec<String> = late.out().lines().map(String::from).collect();
    assert!(!rest.is_empty(), "the late monitor saw nothing");
    assert!(rest.len() < all.len(), "the late monitor saw everything: {rest:?}");
    assert_eq!(rest[..], all[all.len() - rest.len()..], "the late monitor's lines are not the tail");
}

#[test]
fn a_monitor_started_first_survives_a_tracer_restart() {
    let tmp = TempDir::new("monitor-restart");
    // -r: the second run repeats the first one's events, which are otherwise printed once.
    let m = monitor(&tmp, "m", &["-aps", "-r"]);
    std::thread::sleep(Duration::from_millis(200));
    for round in 1..=2 {
        let mut tracer = Service::start(
            &format!("tracer{round}"),
            tmp.path(),
            tracer_cmd(&tmp, &[&devf_ram_log()], &["--wait-subscribers", "1"]),
        );
        assert!(tracer.wait(LONG).success(), "tracer failed: {}", tracer.err());
        wait_until(LONG, "monitor lines", || line_count(&m) >= 12 * round + (round - 1));
    }
    let out = m.out();
    assert_eq!(out.matches("lacks ability PATHSPACE").count(), 2, "{out}");
    assert_eq!(out.matches("warning: tracer restarted").count(), 1, "{out}");
}

#[test]
fn malformed_replay_lines_are_reported_with_their_location_and_skipped() {
    let tmp = TempDir::new("monitor-badlines");
    let log = tmp.join("bad.log");
    std::fs::write(
        &log,
        "info: sbin/devf-ram (pid:1) type fs_t uses ability IO as root\n\
         this is not a monitor line\n\
         info: x (pid:notanumber) type t uses ability IO as root\n\
         {\"broken\": json\n\
         error: sbin/devf-ram (pid:2) type fs_user_t lacks ability PATHSPACE as root\n",
    )
    .unwrap();
    let m = monitor(&tmp, "m", &["-aps"]);
    let missing = tmp.join("missing.log");
    let mut tracer = Service::start(
        "tracer",
        tmp.path(),
        tracer_cmd(&tmp, &[&log, &missing], &["--wait-subscribers", "1"]),
    );
    let status = tracer.wait(LONG);
    wait_until(LONG, "the two good lines", || line_count(&m) >= 2);
    assert!(!status.success(), "unreadable lines must show in the exit status");
    let err = tracer.err();
    let name = log.display().to_string();
    for line in [2, 3, 4] {
        assert!(err.contains(&format!("{name}:{line}: ")), "no report for line {line}:\n{err}");
    }
    assert!(err.contains("bad pid \"notanumber\""), "{err}");
    assert!(err.contains(&format!("cannot replay {}", missing.display())), "{err}");
    assert!(m.out().contains("type fs_t uses ability IO as root"));
    assert!(m.out().contains("lacks ability PATHSPACE as root"));
}

#[test]
fn garbage_on_the_bus_is_reported_and_the_monitor_goes_on() {
    let tmp = TempDir::new("monitor-garbage");
    let dir = secpol::endpoint::RuntimeDir::resolve(Some(&tmp.join("run")));
    let ctx = zmq::Context::new();
    let mut publisher = secpol::bus::Publisher::bind(&ctx, &dir).unwrap();
    let m = monitor(&tmp, "m", &["-aps"]);
    assert_eq!(publisher.wait_for_subscribers(1, LONG), 1);
    publisher.send_frames(b"ev.ability", b"\xc1\xff garbage").unwrap();
    publisher.send_frames(b"ev.attach", &[0x92, 0x01]).unwrap();
    publisher.send_frames(b"sys.bogus", b"x").unwrap();
    let mut event = secpol::qnxlog::parse_line(
        "error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability PATHSPACE as root",
    )
    .unwrap();
    event.instance = 5;
    event.seq = 1;
    publisher.send(&secpol::wire::Message::Event(event)).unwrap();
    wait_until(LONG, "the good line", || line_count(&m) >= 1);
    wait_until(LONG, "three reports", || m.err().matches("malformed").count() >= 3);
    let err = m.err();
    assert!(err.contains("undecodable ev.ability body"), "{err}");
    assert!(err.contains("unknown topic \"sys.bogus\""), "{err}");
    assert_eq!(
        m.out(),
        "error: sbin/devf-ram (pid:2670618) type fs_user_t lacks ability PATHSPACE as root\n"
    );
}

#[test]
fn recording_replays_to_the_same_lines_and_o_appends() {
    let tmp = TempDir::new("monitor-record");
    let rec = tmp.join("rec.jsonl");
    let out_file = tmp.join("monitor.log");
    std::fs::write(&out_file, "earlier line\n").unwrap();
    let m = monitor(&tmp, "m", &["-aps", "-o", out_file.to_str().unwrap()]);
    let json = monitor(&tmp, "json", &["-aps", "-r", "--json"]);
    let mut tracer = Service::start(
        "tracer1",
        tmp.path(),
        tracer_cmd(&tmp, &[&devf_ram_log()], &["--wait-subscribers", "2", "--record", rec.to_str().unwrap()]),
    );
    assert!(tracer.wait(LONG).success(), "{}", tracer.err());
    let read = || std::fs::read_to_string(&out_file).unwrap_or_default();
    wait_until(LONG, "13 lines in -o file", || read().lines().count() >= 13);
    wait_until(LONG, "12 json lines", || line_count(&json) >= 12);
    assert!(m.out().is_empty(), "-o must not print on stdout");
    let first = read();
    assert!(first.starts_with("earlier line\n"), "-o must append");
    assert_eq!(std::fs::read_to_string(&rec).unwrap().lines().count(), 12);
    for line in json.out().lines() {
        let v: secpol::Event = serde_json_line(line);
        assert!(v.seq >= 1 && v.instance != 0);
    }

    let fresh = TempDir::new("monitor-record2");
    let m2 = monitor(&fresh, "m2", &["-aps"]);
    let mut tracer2 =
        Service::start("tracer2", fresh.path(), tracer_cmd(&fresh, &[&rec], &["--wait-subscribers", "1"]));
    assert!(tracer2.wait(LONG).success(), "{}", tracer2.err());
    wait_until(LONG, "12 replayed lines", || line_count(&m2) >= 12);
    assert_eq!(m2.out(), first.trim_start_matches("earlier line\n"));
}

fn serde_json_line(line: &str) -> secpol::Event {
    secpol::record::parse_json_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}
