//! Ingest benchmark (not a test): how many events per second `secpolgenerate` takes from the
//! bus, and its memory with many types. Run by `bench/generator.sh`.
//!
//! 1. In process: decoding bus frames, and applying decoded events to the learner.
//! 2. End to end: the release `secpolgenerate` subscribes to a publisher in this process,
//!    which sends pre-encoded events as fast as ZeroMQ takes them; the rate is the events the
//!    generator counted (its `status`) over the time until it had seen or lost them all.
//!    Its resident memory is read from `/proc` afterwards.
//!
//! Usage: `ingest [EVENTS] [TYPES]` (defaults 2,000,000 and 10,000).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secpol::bus::Publisher;
use secpol::control::{self, Request, Response};
use secpol::endpoint::RuntimeDir;
use secpol::event::{AttachResult, Event, EventKind, Process, Subrange, Verdict};
use secpol::wire::{self, Heartbeat, Message};
use secpolgenerate::learn::{LearnOptions, Learner, NoBase};

const ABILITIES: [&str; 8] =
    ["setuid", "setgid", "net_bind_service", "sys_nice", "chown", "fowner", "kill", "net_raw"];

fn make_event(i: u64, types: u64) -> Event {
    let t = i % types;
    let k = (i / types) % 16;
    let process = Process {
        pid: 1000 + (t as u32),
        name: Some(format!("usr/sbin/daemon{}", t % 97)),
        type_name: format!("t{t}_t"),
        uid: Some(0),
        euid: Some(0),
        start_ns: None,
    };
    let what = match k {
        0..=11 => EventKind::Ability {
            ability: ABILITIES[(k % 8) as usize].into(),
            range: (k % 8 < 4).then(|| Subrange::value((i * 7919) % 1024)),
            target_type: None,
            root: k % 3 != 0,
            verdict: if i % 50 == 0 { Verdict::Denied(1) } else { Verdict::Allowed },
            probe: i % 5 == 1,
        },
        12 | 13 => EventKind::Attach { path: format!("/run/t{t}/sock{}", k - 12), result: AttachResult::Ok },
        14 => EventKind::Connect {
            path: "/run/x".into(),
            channel_type: format!("t{}_t", (t + 1) % types),
            verdict: Verdict::Allowed,
        },
        _ => EventKind::Exec { path: "/usr/bin/true".into() },
    };
    Event { instance: 42, seq: i + 1, time_ns: 1_764_410_400_000_000_000 + i, process, what }
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn status(dir: &RuntimeDir) -> control::Status {
    match control::request(dir, &Request::Status, Duration::from_secs(30)) {
        Ok(Response::Status(s)) => s,
        other => panic!("status: {other:?}"),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let types: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("secpolgenerate");
    assert!(bin.exists(), "{} missing: cargo build --release -p secpolgenerate", bin.display());

    println!("events: {n}, types: {types}");
    let t = Instant::now();
    let frames: Vec<[Vec<u8>; 2]> =
        (0..n).map(|i| wire::encode(&Message::Event(make_event(i, types))).unwrap()).collect();
    let bytes: usize = frames.iter().map(|[a, b]| a.len() + b.len()).sum();
    println!("encoded in {:.2} s, {:.0} bytes/event", t.elapsed().as_secs_f64(), bytes as f64 / n as f64);

    // 1. In process.
    let t = Instant::now();
    let events: Vec<Event> = frames
        .iter()
        .map(|f| match wire::decode(f).unwrap() {
            Message::Event(e) => e,
            _ => unreachable!(),
        })
        .collect();
    let decode = t.elapsed().as_secs_f64();
    println!("in process: decode {:.0} events/s", n as f64 / decode);
    let opts = LearnOptions { unrestricted: true, ..Default::default() };
    let mut learner = Learner::new(NoBase, opts, Default::default());
    let (before, _) = rss_kib(std::process::id());
    let t = Instant::now();
    for e in &events {
        learner.apply(e, 1);
    }
    let apply = t.elapsed().as_secs_f64();
    println!(
        "in process: apply  {:.0} events/s ({} types, {} failures)",
        n as f64 / apply,
        learner.store.type_count(),
        learner.store.failure_count()
    );
    println!("in process: decode + apply {:.0} events/s", n as f64 / (decode + apply));
    let (after, _) = rss_kib(std::process::id());
    println!("in process: the store of {} types takes {} KiB", learner.store.type_count(), after - before);
    drop(events);
    drop(learner);

    // 2. End to end over the bus.
    let tmp = std::env::temp_dir().join(format!("secpol-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let dir = RuntimeDir::resolve(Some(&tmp.join("run")));
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &dir).unwrap();
    let mut child = Command::new(&bin)
        .args(["-u", "-N", "-f", "5", "--runtime-dir"])
        .arg(dir.path())
        .arg("--output-dir")
        .arg(tmp.join("out"))
        .arg("-s")
        .arg(tmp.join("state"))
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(publisher.wait_for_subscribers(1, Duration::from_secs(30)), 1, "generator did not subscribe");
    let (rss0, _) = rss_kib(child.id());
    let t = Instant::now();
    for [topic, body] in &frames {
        // The socket drops at its high-water mark; the generator counts that as lost.
        let _ = publisher.send_frames(topic, body);
    }
    let sent = t.elapsed().as_secs_f64();
    let (seen, lost, end) = loop {
        // The heartbeat tells the generator how many were sent, so it can count a lost tail.
        let hb = Heartbeat { instance: 42, last_seq: n, time_ns: 0 };
        let _ = publisher.send(&Message::Heartbeat(hb));
        let s = status(&dir);
        if s.events_seen + s.events_lost >= n || t.elapsed() > Duration::from_secs(300) {
            break (s.events_seen, s.events_lost, t.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let s = status(&dir);
    let (rss, hwm) = rss_kib(child.id());
    println!("bus: published {n} in {sent:.2} s ({:.0} events/s offered)", n as f64 / sent);
    println!(
        "bus: generator saw {seen}, lost {lost}, in {end:.2} s: {:.0} events/s ingested",
        seen as f64 / end
    );
    println!("bus: {} types, {} failures", s.types, s.failures);
    println!("memory: {} KiB resident before, {rss} KiB after ({hwm} KiB peak)", rss0);
    let t = Instant::now();
    match control::request(&dir, &Request::Save, Duration::from_secs(60)) {
        Ok(Response::Done { .. }) => {}
        other => panic!("save: {other:?}"),
    }
    let size = |f: &str| std::fs::metadata(tmp.join(f)).map(|m| m.len()).unwrap_or(0);
    println!(
        "save: outputs rendered and written, state saved, in {:.3} s (policy {} bytes, state {} bytes)",
        t.elapsed().as_secs_f64(),
        size("out/policy"),
        size("state")
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&tmp);
}
