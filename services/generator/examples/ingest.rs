//! Ingest benchmark (not a test): how many events per second `secpolgenerate` takes from the
//! bus, and its memory with many types. Run by `bench/generator.sh`.
//!
//! 1. In process: decoding bus frames (each event dropped at once, as the generator does),
//!    decoding batches with fresh and with pooled strings (as `bus::Subscriber` reads them),
//!    encoding events into reused buffers (as the tracer publishes), and applying decoded
//!    events to the learner: unrestricted (`-u -N`, as the end-to-end run) and restricted
//!    (a base policy that declares every type and allows what the events use, so each use is
//!    checked against it).
//! 2. End to end: the release `secpolgenerate` (`-f 3600`: the periodic write of the outputs,
//!    timed by the `save` line, stays out of the timed phases) subscribes to a publisher in
//!    this process. A third of the events each:
//!    - *paced, batches*: in batches as the tracer sends a backlog (`wire::Batch`), never more
//!      than [`WINDOW`] messages ahead of what the generator has counted (its `status`), so
//!      nothing is dropped: the rate is all events over the time until the generator had seen
//!      them. The generator's CPU time (main thread, whole process) comes from `/proc`.
//!    - *paced, one per message*: the same, one event per message, as the tracer sends when it
//!      keeps up.
//!    - *flood*: batches as fast as ZeroMQ takes them; what the subscriber cannot take is
//!      dropped at the high-water mark and counted as lost; the rate is the events the
//!      generator saw over the time until it had seen or lost them all.
//!    - *paced, batches, known uses*: the first third's events again, under new sequence
//!      numbers: every one a use the generator has already learned, as most of what the
//!      tracer sends at its fastest (`--repeat`) is.
//!
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
use secpolgenerate::base::{Base, BasePolicy, NoBase};
use secpolgenerate::learn::{LearnOptions, Learner};

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

/// The bus frames of one event.
fn frame(e: Event) -> [Vec<u8>; 2] {
    wire::encode(&Message::Event(e)).unwrap()
}

/// A base policy that declares every type and allows what [`make_event`] makes it use.
fn base_policy(types: u64) -> BasePolicy {
    let mut text = String::new();
    let all = ABILITIES.join(" ");
    for t in 0..types {
        let next = (t + 1) % types;
        text.push_str(&format!(
            "type t{t}_t;\nallow t{t}_t self:ability {{ {all} }};\n\
             allow t{t}_t self:ability {{ nonroot {all} }};\n\
             allow_attach t{t}_t /run/t{t}/...;\nallow t{t}_t t{next}_t:channel connect;\n"
        ));
    }
    BasePolicy::new(secpol::policy::parse(&text, "bench").expect("bench policy parses"))
}

/// Applies `events` to `learner` and prints the rate under `label`; returns the seconds taken.
fn learn<B: Base>(label: &str, learner: &mut Learner<B>, events: &[&Event]) -> f64 {
    let t = Instant::now();
    for e in events {
        learner.apply(e, 1);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "in process: {label} {:.0} events/s ({} types, {} failures)",
        events.len() as f64 / secs,
        learner.store.type_count(),
        learner.store.failure_count()
    );
    secs
}

/// The generator under test; killed if the benchmark stops early (a panic), so it never
/// outlives it holding the terminal or a pipe.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// CPU time of a process, or of one of its threads, in seconds (user + system).
fn cpu_s(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // SAFETY: sysconf has no preconditions.
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// (main thread, whole process) CPU seconds of `pid`.
fn cpu_of(pid: u32) -> (f64, f64) {
    (cpu_s(&format!("/proc/{pid}/task/{pid}/stat")), cpu_s(&format!("/proc/{pid}/stat")))
}

fn status(dir: &RuntimeDir) -> control::Status {
    match control::request(dir, &Request::Status, Duration::from_secs(30)) {
        Ok(Response::Status(s)) => s,
        other => panic!("status: {other:?}"),
    }
}

/// Paced runs keep at most this many messages queued. ZeroMQ tells a pipe's writer what its
/// reader consumed only every low-water mark (half the bus's high-water mark of 20,000
/// messages), so a writer may count up to 9,999 messages as queued that are gone: it sees a
/// full queue (and the publisher drops) only when more than 10,000 are really queued.
const WINDOW: usize = 9_000;
/// How often a paced run asks the generator's `status` what it has seen (which sorts the
/// types: about 0.3 ms with 10,000 of them).
const POLL: Duration = Duration::from_millis(5);

/// Encoded events packed as the tracer packs a backlog: `(topic, body, events)`.
fn batches(frames: &[[Vec<u8>; 2]]) -> Vec<(Vec<u8>, Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut batch = wire::Batch::new();
    let mut take = |batch: &mut wire::Batch| {
        let (t, b) = batch.frames();
        out.push((t.to_vec(), b.to_vec(), batch.len() as u64));
        batch.clear();
    };
    for f in frames {
        let Message::Event(e) = wire::decode(f).unwrap() else { unreachable!() };
        if !batch.push(&e).unwrap() {
            take(&mut batch);
            assert!(batch.push(&e).unwrap());
        }
    }
    if !batch.is_empty() {
        take(&mut batch);
    }
    out
}

/// Publishes `msgs` never more than [`WINDOW`] messages ahead of what the generator has seen
/// (counted from what it had seen when called), until it has seen them all, and none is lost;
/// returns the seconds that took.
fn paced<T: AsRef<[u8]>>(publisher: &mut Publisher, dir: &RuntimeDir, msgs: &[(T, T, u64)]) -> f64 {
    let before = status(dir);
    let total: u64 = msgs.iter().map(|m| m.2).sum();
    // Events before each message: the generator has taken message i once it saw ends[i].
    let ends: Vec<u64> = msgs
        .iter()
        .scan(0, |n, m| {
            *n += m.2;
            Some(*n)
        })
        .collect();
    let t = Instant::now();
    let (mut next, mut seen) = (0, 0u64);
    while seen < total {
        let taken = ends.partition_point(|&e| e <= seen);
        while next < msgs.len() && next < taken + WINDOW {
            let (topic, body, _) = &msgs[next];
            publisher.send_frames(topic.as_ref(), body.as_ref()).expect("paced send dropped an event");
            next += 1;
        }
        std::thread::sleep(POLL);
        let s = status(dir);
        assert_eq!(s.events_lost, before.events_lost, "paced run lost events");
        seen = s.events_seen - before.events_seen;
        assert!(t.elapsed() < Duration::from_secs(300), "generator stalled at {seen} events");
    }
    t.elapsed().as_secs_f64()
}

fn report_paced(what: &str, events: u64, secs: f64, (main0, proc0): (f64, f64), (main1, proc1): (f64, f64)) {
    println!(
        "bus, {what}: generator saw {events}, lost 0, in {secs:.2} s: {:.0} events/s ingested",
        events as f64 / secs
    );
    println!(
        "bus, {what}: generator CPU {:.2} s main thread ({:.0} events per CPU second), {:.2} s whole process",
        main1 - main0,
        events as f64 / (main1 - main0),
        proc1 - proc0
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let types: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let bin = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("secpolgenerate");
    assert!(bin.exists(), "{} missing: cargo build --release -p secpolgenerate", bin.display());

    println!("events: {n}, types: {types}");
    let t = Instant::now();
    let frames: Vec<[Vec<u8>; 2]> = (0..n).map(|i| frame(make_event(i, types))).collect();
    let bytes: usize = frames.iter().map(|[a, b]| a.len() + b.len()).sum();
    println!("encoded in {:.2} s, {:.0} bytes/event", t.elapsed().as_secs_f64(), bytes as f64 / n as f64);

    // 1. In process.
    let t = Instant::now();
    let mut kinds = 0usize;
    for f in &frames {
        match wire::decode(f).unwrap() {
            Message::Event(e) => kinds += e.what.name().len(),
            _ => unreachable!(),
        }
    }
    let decode = t.elapsed().as_secs_f64();
    assert!(kinds > 0);
    println!("in process: decode {:.0} events/s", n as f64 / decode);
    // Batches as the subscriber reads them: strings in fresh allocations, or in the buffers
    // of events already handled (`wire::StringPool`, as `bus::Subscriber` does); 3 rounds
    // each, alternating, the best of each.
    let all_batches = batches(&frames);
    let (mut fresh, mut pooled) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        for use_pool in [false, true] {
            let mut pool = wire::StringPool::default();
            let t = Instant::now();
            let mut count = 0;
            let mut decoded = Vec::with_capacity(wire::MAX_BATCH_EVENTS);
            for (topic, body, _) in &all_batches {
                wire::decode_batch_pooled(topic, body, &mut pool, |m| decoded.push(m));
                count += decoded.len() as u64;
                for m in decoded.drain(..) {
                    if let (true, Ok(Message::Event(e))) = (use_pool, m) {
                        pool.recycle(e);
                    }
                }
            }
            assert_eq!(count, n);
            let took = t.elapsed().as_secs_f64();
            let best = if use_pool { &mut pooled } else { &mut fresh };
            *best = best.min(took);
        }
    }
    println!(
        "in process: decode batches {:.0} events/s with fresh strings, {:.0} events/s with pooled strings",
        n as f64 / fresh,
        n as f64 / pooled
    );
    let messages: Vec<Message> = frames.iter().map(|f| wire::decode(f).unwrap()).collect();
    // Encoding as the tracer publishes: into reused buffers.
    let (mut topic, mut body) = (Vec::new(), Vec::new());
    let t = Instant::now();
    let mut bytes = 0;
    for m in &messages {
        wire::encode_into(m, &mut topic, &mut body).unwrap();
        bytes += body.len();
    }
    let encode = t.elapsed().as_secs_f64();
    assert!(bytes > 0);
    println!("in process: encode {:.0} events/s", n as f64 / encode);
    let events: Vec<&Event> = messages
        .iter()
        .map(|m| match m {
            Message::Event(e) => e,
            _ => unreachable!(),
        })
        .collect();
    let opts = LearnOptions { unrestricted: true, ..Default::default() };
    let mut learner = Learner::new(NoBase, opts, Default::default());
    let (before, _) = rss_kib(std::process::id());
    let apply = learn("apply ", &mut learner, &events);
    println!("in process: decode + apply {:.0} events/s", n as f64 / (decode + apply));
    let (after, _) = rss_kib(std::process::id());
    println!("in process: the store of {} types takes {} KiB", learner.store.type_count(), after - before);
    drop(learner);
    let mut learner = Learner::new(base_policy(types), LearnOptions::default(), Default::default());
    learn("apply restricted", &mut learner, &events);
    drop(events);
    drop(messages);
    drop(learner);

    // 2. End to end over the bus.
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = RuntimeDir::resolve(Some(&tmp.path().join("run")));
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &dir).unwrap();
    let mut child = Child(
        Command::new(&bin)
            .args(["-u", "-N", "-f", "3600", "--runtime-dir"])
            .arg(dir.path())
            .arg("--output-dir")
            .arg(tmp.path().join("out"))
            .arg("-s")
            .arg(tmp.path().join("state"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    assert_eq!(publisher.wait_for_subscribers(1, Duration::from_secs(30)), 1, "generator did not subscribe");
    let (rss0, _) = rss_kib(pid);

    // The events as the tracer publishes them: in batches of one kind when it has a backlog
    // (`wire::Batch`), one per message when it keeps up.
    let third = n / 3;
    let batched = batches(&frames[..third as usize]);
    println!(
        "bus: {} events in {} batches ({:.1} events per message)",
        third,
        batched.len(),
        third as f64 / batched.len() as f64
    );
    let cpu0 = cpu_of(pid);
    let secs = paced(&mut publisher, &dir, &batched);
    report_paced("paced, batches", third, secs, cpu0, cpu_of(pid));
    let singles: Vec<(&[u8], &[u8], u64)> =
        frames[third as usize..2 * third as usize].iter().map(|[t, b]| (&t[..], &b[..], 1)).collect();
    let cpu0 = cpu_of(pid);
    let secs = paced(&mut publisher, &dir, &singles);
    report_paced("paced, one per message", third, secs, cpu0, cpu_of(pid));
    let half = 2 * third;

    // Flood, in batches: as fast as ZeroMQ takes them; the rest is dropped and counted as lost.
    let rest = batches(&frames[half as usize..]);
    let t = Instant::now();
    for (topic, body, _) in &rest {
        // The socket drops at its high-water mark; the generator counts that as lost.
        let _ = publisher.send_frames(topic, body);
    }
    let sent = t.elapsed().as_secs_f64();
    let flood = n - half;
    let (seen, lost, end) = loop {
        // The heartbeat tells the generator how many were sent, so it can count a lost tail.
        let hb = Heartbeat { instance: 42, last_seq: n, time_ns: 0 };
        let _ = publisher.send(&Message::Heartbeat(hb));
        let s = status(&dir);
        if s.events_seen + s.events_lost >= n || t.elapsed() > Duration::from_secs(300) {
            break (s.events_seen - half, s.events_lost, t.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let s = status(&dir);
    let (rss, hwm) = rss_kib(pid);
    println!("bus, flood: published {flood} in {sent:.2} s ({:.0} events/s offered)", flood as f64 / sent);
    println!(
        "bus, flood: generator saw {seen}, lost {lost}, in {end:.2} s: {:.0} events/s ingested",
        seen as f64 / end
    );
    println!("bus: {} types, {} failures", s.types, s.failures);

    // Known uses, paced, in batches: the first third's events again (new sequence numbers),
    // every one a use already learned, as the tracer's `--repeat` mostly sends.
    let again: Vec<[Vec<u8>; 2]> =
        (0..third).map(|i| frame(Event { seq: n + i + 1, ..make_event(i, types) })).collect();
    let again = batches(&again);
    let cpu0 = cpu_of(pid);
    let secs = paced(&mut publisher, &dir, &again);
    report_paced("paced, batches, known uses", third, secs, cpu0, cpu_of(pid));
    println!("memory: {} KiB resident before, {rss} KiB after ({hwm} KiB peak)", rss0);
    let t = Instant::now();
    match control::request(&dir, &Request::Save, Duration::from_secs(60)) {
        Ok(Response::Done { .. }) => {}
        other => panic!("save: {other:?}"),
    }
    let size = |f: &str| std::fs::metadata(tmp.path().join(f)).map(|m| m.len()).unwrap_or(0);
    println!(
        "save: outputs rendered and written, state saved, in {:.3} s (policy {} bytes, state {} bytes)",
        t.elapsed().as_secs_f64(),
        size("out/policy"),
        size("state")
    );
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = child.0.wait();
}
