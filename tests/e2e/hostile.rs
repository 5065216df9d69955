//! Issue 10, hostile input and a hostile environment, against the real binaries: every
//! socket the services listen on (`control`, `events`, `ingest`) fed garbage of each kind,
//! truncated and oversized frames, other versions and floods; the output directory made
//! read-only and then full; corrupt state, configuration and base policy files at start;
//! the modes of the files written.
//!
//! What each test proves is listed in docs/bus.md (sockets) and docs/generator.md (files).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use secpol::bus::{Publisher, Received, Subscriber};
use secpol::control::{self, Request, Response, Status};
use secpol::event::{AttachResult, EventKind};
use secpol::preload_proto::{Call, Record};

use crate::generator::{ability, event, process, publish, Gen, WAIT};
use crate::util::{bin, root_or_skip, secpolctl, skip_or_fail, wait_until, Service};

/// Bytes that look random, the same in every run.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

/// Writes `bytes` to the stream socket at `path` with a plain connect and hangs up. The
/// service may close the connection part way through: that is its right.
fn write_raw(path: &Path, bytes: &[u8]) {
    if let Ok(mut raw) = UnixStream::connect(path) {
        let _ = raw.write_all(bytes);
    }
}

/// A ZMTP 3.0 greeting (signature, version, mechanism NULL, as-server 0, filler).
fn zmtp_greeting() -> Vec<u8> {
    let mut g = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    g
}

/// The READY command of a NULL handshake for a peer of `socket_type`.
fn zmtp_ready(socket_type: &str) -> Vec<u8> {
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}

/// How many log lines of `text` speak of `socket` and `kind`.
fn lines_about(text: &str, socket: &str, kind: &str) -> usize {
    let needle = format!("{socket} socket: {kind}: ");
    text.lines().filter(|l| l.contains(&needle)).count()
}

/// The count of `socket: kind` in the generator's own counts or in the tracer's.
fn fault_count(st: &Status, key: &str) -> u64 {
    st.socket_faults.get(key).or_else(|| st.tracer_faults.get(key)).copied().unwrap_or(0)
}

/// Regression: 4 KiB of random bytes written to the control socket with a plain `AF_UNIX`
/// stream connect killed secpolgenerate (`bus control receive failed: Resource temporarily
/// unavailable`), 5 times out of 5, and secpolctl then said `secpolgenerate is not running:
/// no control socket` with the socket file still there. Now the generator counts each
/// fault, keeps answering after every round, and still learns.
#[test]
fn control_socket_survives_random_bytes() {
    let mut g = Gen::new("control-random-bytes");
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &g.runtime()).unwrap();
    g.start(&["-u", "-f", "0.2"]);
    assert_eq!(publisher.wait_for_subscribers(1, WAIT), 1);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..5 {
        write_raw(&g.run_dir().join("control"), &noise.bytes(4096));
        let (out, _) = secpolctl(&g.run_dir(), &["status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "round {round}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(!g.exited(g.svc.as_ref().unwrap()), "round {round}: secpolgenerate died: {}", g.svc().err());
    }
    wait_until(WAIT, "the faults counted in status", || {
        g.status()
            .socket_faults
            .iter()
            .filter(|(k, _)| k.starts_with("control: "))
            .map(|(_, n)| n)
            .sum::<u64>()
            >= 5
    });
    let (out, _) = secpolctl(&g.run_dir(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("socket faults:\n  control: "), "status: {text}");
    // Still learning: an event published now becomes a rule.
    publish(
        &mut publisher,
        &event(1, process("web_t", 40, "usr/sbin/web", 0), ability("chown", None, true, true)),
    );
    wait_until(WAIT, "the rule learned after the garbage", || {
        g.read("policy").contains("allow web_t self:ability chown;")
    });
    assert!(g.svc().err().contains("control socket: "), "no fault line in the log: {}", g.svc().err());
}

/// `secpolctl` itself causes no fault: asking a live generator is not a broken handshake.
#[test]
fn control_clients_cause_no_fault() {
    let mut g = Gen::new("control-clean");
    g.start(&["-u", "-N"]);
    for _ in 0..5 {
        let (out, _) = secpolctl(&g.run_dir(), &["status"]);
        assert!(out.status.success());
    }
    let st = g.status();
    assert!(st.socket_faults.is_empty(), "{:?}", st.socket_faults);
    assert!(
        String::from_utf8_lossy(&secpolctl(&g.run_dir(), &["status"]).0.stdout).contains("socket faults:  0")
    );
}

/// Each kind of bad input on `control` is counted under its own kind and logged once (then
/// at most every 10 s), and every asker after it is answered.
#[test]
fn control_socket_counts_each_kind_of_fault_and_keeps_answering() {
    let mut g = Gen::new("control-kinds");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let path = g.run_dir().join("control");
    let endpoint = g.runtime().control_endpoint();
    let started = Instant::now();
    let ctx = zmq::Context::new();
    let req = |frames: &[&[u8]]| -> Option<Response> {
        let s = ctx.socket(zmq::REQ).unwrap();
        s.set_linger(0).unwrap();
        s.set_rcvtimeo(20_000).unwrap();
        s.connect(&endpoint).unwrap();
        s.send_multipart(frames, 0).unwrap();
        s.recv_bytes(0).ok().and_then(|b| control::decode(&b, control::MAX_RESPONSE).ok())
    };
    let is_error = |r: Option<Response>| matches!(r, Some(Response::Error { .. }));

    // A greeting cut short, a greeting of another protocol, a mechanism nobody speaks.
    write_raw(&path, &zmtp_greeting()[..7]);
    write_raw(&path, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut curve = zmtp_greeting();
    curve[12..16].copy_from_slice(b"NOPE");
    write_raw(&path, &curve);
    // Undecodable bodies, several times: one line in the log for all of them.
    for _ in 0..20 {
        assert!(is_error(req(&[b"\xc1\xc1\xc1"])));
    }
    // Extra frames; an envelope of a newer version with a request this build does not know.
    assert!(is_error(req(&[b"a", b"b"])));
    // MessagePack of {v: 99, body: {op: "teleport"}}.
    let mut future = vec![0x82, 0xa1, b'v', 99, 0xa4];
    future.extend_from_slice(b"body");
    future.extend_from_slice(&[0x81, 0xa2, b'o', b'p', 0xa8]);
    future.extend_from_slice(b"teleport");
    match req(&[&future]) {
        Some(Response::Error { message }) => assert!(message.contains("version 99"), "{message}"),
        other => panic!("a version-99 request answered {other:?}"),
    }
    // A DEALER sends no empty delimiter: the envelope is wrong.
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    dealer.connect(&endpoint).unwrap();
    dealer.send(control::encode(&Request::Status, control::MAX_REQUEST).unwrap(), 0).unwrap();
    // A frame announcing 1 TiB after a good handshake: ZeroMQ drops the connection
    // (ZMQ_MAXMSGSIZE) without reading it, and the generator goes on.
    if let Ok(mut raw) = UnixStream::connect(&path) {
        let mut bytes = zmtp_greeting();
        bytes.extend(zmtp_ready("REQ"));
        bytes.push(0x02); // a long frame
        bytes.extend_from_slice(&(1u64 << 40).to_be_bytes());
        bytes.extend(vec![0u8; 4096]);
        let _ = raw.write_all(&bytes);
    }
    // A request truncated mid-frame, then the peer hangs up.
    if let Ok(mut raw) = UnixStream::connect(&path) {
        let mut bytes = zmtp_greeting();
        bytes.extend(zmtp_ready("REQ"));
        bytes.extend_from_slice(&[0x01, 0x00, 0x00, 200, 1, 2, 3]);
        let _ = raw.write_all(&bytes);
    }

    wait_until(WAIT, "every kind counted", || {
        let st = g.status();
        fault_count(&st, "control: bad request") >= 20
            && fault_count(&st, "control: bad envelope") >= 2
            && fault_count(&st, "control: other version") >= 1
            && st
                .socket_faults
                .keys()
                .filter(|k| k.contains("handshake"))
                .map(|k| st.socket_faults[k])
                .sum::<u64>()
                >= 2
    });
    // Still answering, and the right answer.
    assert!(matches!(g.request(&Request::Status), Response::Status(_)));
    assert!(matches!(g.request(&Request::Show { output: control::Output::Policy }), Response::Text { .. }));
    let err = g.svc().err();
    let windows = 2 + started.elapsed().as_secs() as usize / 10;
    for kind in ["bad request", "bad envelope", "other version"] {
        let n = lines_about(&err, "control", kind);
        assert!((1..=windows).contains(&n), "{n} log lines about {kind} (at most {windows}):\n{err}");
    }
    assert!(!g.exited(g.svc.as_ref().unwrap()));
}

/// A flood of garbage connections from four threads while a client asks for status: every
/// status is answered, every connection is counted (each breaks its handshake once: a
/// greeting cut short, or one with a mechanism nobody speaks and noise after it), and the
/// log stays short.
#[test]
fn control_socket_flood_is_counted_and_status_still_answers() {
    let mut g = Gen::new("control-flood");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let path = g.run_dir().join("control");
    const PER_THREAD: usize = 250;
    let started = Instant::now();
    let floods: Vec<_> = (0..4u64)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut noise = Noise(0x1234_5678 + t);
                for i in 0..PER_THREAD {
                    let mut bytes = zmtp_greeting();
                    if i % 2 == 0 {
                        bytes.truncate(1 + i % 9);
                    } else {
                        bytes[12..16].copy_from_slice(b"NOPE");
                        bytes.extend(noise.bytes(448));
                    }
                    write_raw(&path, &bytes);
                }
            })
        })
        .collect();
    loop {
        let st = g.status();
        assert!(st.pid > 0);
        if floods.iter().all(|f| f.is_finished()) {
            break;
        }
    }
    for f in floods {
        f.join().unwrap();
    }
    wait_until(WAIT, "the flood counted", || {
        let st = g.status();
        st.socket_faults.iter().filter(|(k, _)| k.starts_with("control: ")).map(|(_, n)| n).sum::<u64>()
            >= (4 * PER_THREAD) as u64
    });
    let err = g.svc().err();
    let lines = err.lines().filter(|l| l.contains("control socket: ")).count();
    let kinds = g.status().socket_faults.len();
    let bound = kinds * (2 + started.elapsed().as_secs() as usize / 10);
    assert!(lines <= bound, "{lines} log lines for the flood (at most {bound}):\n{err}");
    assert!(!g.exited(g.svc.as_ref().unwrap()), "{err}");
}

/// A tracer without the kernel source (ingest on), beating every 100 ms, and a generator
/// that shows what it reports.
struct TracerAndGenerator {
    gen: Gen,
    tracer: Service,
}

impl TracerAndGenerator {
    fn start(test: &str) -> Self {
        let mut gen = Gen::new(test);
        let mut cmd = Command::new(bin("secpoltrace"));
        cmd.args(["--no-kernel", "--heartbeat-ms", "100", "--runtime-dir"]).arg(gen.run_dir());
        let tracer = Service::start("secpoltrace", gen.tmp.path(), cmd);
        let ingest = gen.run_dir().join("ingest");
        wait_until(WAIT, "the tracer's sockets", || ingest.exists() && gen.run_dir().join("events").exists());
        gen.start(&["-u", "-N", "-f", "0.2"]);
        TracerAndGenerator { gen, tracer }
    }

    fn alive(&mut self) -> bool {
        self.tracer.child.try_wait().unwrap().is_none()
    }
}

/// Garbage on the tracer's `events` socket: broken handshakes, an XSUB peer sending what is
/// not a subscription, an oversized subscription. The tracer counts them, publishes the
/// counts (`secpolctl status` shows them), and keeps publishing to its subscribers.
#[test]
fn events_socket_counts_faults_and_keeps_publishing() {
    let mut s = TracerAndGenerator::start("events-faults");
    let events = s.gen.run_dir().join("events");
    let mut noise = Noise(77);
    for _ in 0..5 {
        write_raw(&events, &noise.bytes(2048));
    }
    let mut sig = zmtp_greeting();
    sig[10] = 9; // a version from the future, then nonsense
    sig[12..16].copy_from_slice(b"ZZZZ");
    write_raw(&events, &sig);
    let ctx = zmq::Context::new();
    let xsub = ctx.socket(zmq::XSUB).unwrap();
    xsub.set_linger(0).unwrap();
    xsub.connect(&format!("ipc://{}", events.display())).unwrap();
    let long = ctx.socket(zmq::SUB).unwrap();
    long.set_linger(0).unwrap();
    long.connect(&format!("ipc://{}", events.display())).unwrap();
    long.set_subscribe(&[b'x'; 4000]).unwrap();

    // An XSUB drops what it sends before it is connected: it sends until enough arrived.
    wait_until(WAIT, "the tracer's faults in status", || {
        xsub.send(&b"hello, this is not a subscription"[..], 0).unwrap();
        let st = s.gen.status();
        fault_count(&st, "events: not a subscription") >= 10
            && st.tracer_faults.keys().any(|k| k.starts_with("events: ") && k.contains("handshake"))
    });
    let (out, _) = secpolctl(&s.gen.run_dir(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  events: not a subscription: "), "{text}");
    assert!(text.contains("(reported by secpoltrace "), "{text}");
    // Still publishing: a new subscriber gets heartbeats.
    let sub = Subscriber::connect(&ctx, &s.gen.runtime(), &["ev."]).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Received::Message(secpol::wire::Message::Heartbeat(_)) = sub.recv(200).unwrap() {
            break;
        }
        assert!(Instant::now() < deadline, "no heartbeat after the garbage");
    }
    assert!(s.alive(), "secpoltrace died: {}", s.tracer.err());
    let err = s.tracer.err();
    let n = lines_about(&err, "events", "not a subscription");
    assert!((1..=3).contains(&n), "{n} lines about non-subscriptions:\n{err}");
}

/// Bad datagrams of each kind on `ingest` (the preload's socket), then a flood: counted by
/// kind, shown in status, logged briefly; a good report after them still becomes an event.
#[test]
fn ingest_socket_counts_bad_datagrams_and_goes_on() {
    let mut s = TracerAndGenerator::start("ingest-faults");
    let to = s.gen.run_dir().join("ingest");
    let client = UnixDatagram::unbound().unwrap();
    let good = {
        let mut r = Record::new(Call::CapbsetDrop);
        r.arg = 22;
        r.encode()
    };
    let mut bad_magic = good;
    bad_magic[0..4].copy_from_slice(b"NOPE");
    let mut other_version = good;
    other_version[4..6].copy_from_slice(&999u16.to_le_bytes());
    let mut bad_record = good;
    bad_record[8] = 200; // capability 200
    client.send_to(b"hello", &to).unwrap();
    client.send_to(&bad_magic, &to).unwrap();
    client.send_to(&other_version, &to).unwrap();
    client.send_to(&bad_record, &to).unwrap();
    client.send_to(&vec![0u8; 64 * 1024], &to).unwrap();
    let started = Instant::now();
    let mut noise = Noise(5);
    let mut flood = 0u64;
    for i in 0..5000 {
        let n = 1 + (i % 300);
        // The socket may be full for a moment: that datagram is simply not sent.
        if client.send_to(&noise.bytes(n), &to).is_ok() {
            flood += 1;
        }
    }
    wait_until(WAIT, "each kind counted", || {
        let st = s.gen.status();
        ["ingest: bad magic", "ingest: other version", "ingest: bad record", "ingest: oversized datagram"]
            .iter()
            .all(|k| fault_count(&st, k) >= 1)
            && st.tracer_faults.values().sum::<u64>() >= flood
    });
    // A good report after all that: the generator learns the tracer's event from it.
    client.send_to(&good, &to).unwrap();
    wait_until(WAIT, "the good report learned", || s.gen.status().events_seen >= 1);
    let (out, _) = secpolctl(&s.gen.run_dir(), &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for kind in ["bad magic", "other version", "bad record", "oversized datagram", "bad length"] {
        assert!(text.contains(&format!("  ingest: {kind}: ")), "{kind} not in status:\n{text}");
    }
    assert!(s.alive(), "secpoltrace died: {}", s.tracer.err());
    let err = s.tracer.err();
    let windows = 2 + started.elapsed().as_secs() as usize / 10;
    let n = lines_about(&err, "ingest", "bad length");
    assert!((1..=windows).contains(&n), "{n} lines about bad lengths (at most {windows}):\n{err}");
}

/// A small tmpfs mounted for one test and unmounted when it ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`) on `dir`; `None` when it cannot
    /// (not root, no mount), after saying why.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        if !root_or_skip("mounting a tmpfs needs root") {
            return None;
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        if !out.status.success() {
            skip_or_fail(&format!("cannot mount a tmpfs: {}", String::from_utf8_lossy(&out.stderr)));
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, how: &str) {
        let out =
            Command::new("mount").args(["-o", &format!("remount,{how}")]).arg(&self.0).output().unwrap();
        assert!(out.status.success(), "remount {how}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Fills the file system with one file; returns its path.
    fn fill(&self) -> PathBuf {
        let p = self.0.join("filler");
        let mut f = std::fs::File::create(&p).unwrap();
        let block = vec![0x55u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", p.display()),
            }
        }
        // The last pages too.
        while f.write(&[0x55]).is_ok_and(|n| n == 1) {}
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The output directory (and the state file beside it) read-only, then full: an error line
/// in the log and `secpolctl status` naming each file and why; learning goes on in memory;
/// once the file system can be written again the files are rewritten with what was learned
/// meanwhile.
#[test]
fn output_dir_read_only_then_full_is_reported_and_written_again() {
    let mut g = Gen::new("out-faults");
    let fs_dir = g.tmp.join("fs");
    let Some(fs) = Tmpfs::mount(&fs_dir, "1m") else { return };
    // Outputs and state inside the small file system.
    let out = fs_dir.join("out");
    let state = fs_dir.join("state");
    let ctx = zmq::Context::new();
    let mut publisher = Publisher::bind(&ctx, &g.runtime()).unwrap();
    let mut cmd = Command::new(bin("secpolgenerate"));
    cmd.arg("--runtime-dir").arg(g.run_dir()).arg("--output-dir").arg(&out);
    cmd.args(["-u", "-N", "-f", "0.2", "-s"]).arg(&state);
    g.svc = Some(Service::start("secpolgenerate", g.tmp.path(), cmd));
    assert_eq!(publisher.wait_for_subscribers(1, WAIT), 1);
    let attach = |seq: u64, path: &str| {
        let mut e = event(
            seq,
            process("web_t", 40, "usr/sbin/web", 0),
            EventKind::Attach { path: path.into(), result: AttachResult::Ok },
        );
        e.instance = 9;
        e.seq = seq;
        e
    };
    let policy_file = out.join("policy");
    let file_has = |p: &Path, s: &str| std::fs::read_to_string(p).unwrap_or_default().contains(s);
    let shown = |g: &Gen| match g.request(&Request::Show { output: control::Output::Policy }) {
        Response::Text { text } => text,
        other => panic!("show policy answered {other:?}"),
    };
    publish(&mut publisher, &attach(1, "/run/one.sock"));
    wait_until(WAIT, "the first rule written", || {
        file_has(&policy_file, "/run/one.sock") && file_has(&state, "/run/one.sock")
    });

    for (round, fault, path, why) in [
        (0, "read-only", "/run/two.sock", "Read-only file system"),
        (1, "full", "/run/three.sock", "No space left on device"),
    ] {
        let filler = match round {
            0 => {
                fs.remount("ro");
                None
            }
            _ => Some(fs.fill()),
        };
        publish(&mut publisher, &attach(2 + round, path));
        wait_until(WAIT, &format!("the {fault} file system in status"), || {
            let p = g.status().write_problems;
            p.iter().any(|l| l.starts_with(&format!("{}: {why}", policy_file.display())))
                && p.iter().any(|l| l.starts_with(&format!("{}: {why}", state.display())))
        });
        // Learning goes on in memory.
        assert!(shown(&g).contains(path), "{fault}: not learned in memory");
        assert!(!file_has(&policy_file, path), "{fault}: written although it could not be");
        let (st, _) = secpolctl(&g.run_dir(), &["status"]);
        let text = String::from_utf8_lossy(&st.stdout);
        assert!(text.contains("write problems: ") && text.contains(why), "{fault}: status:\n{text}");
        let err = g.svc().err();
        let line = format!("cannot write output {}: {why}", policy_file.display());
        assert!(err.contains(&line), "{fault}: no {line:?} in the log:\n{err}");
        assert!(err.contains(&format!("cannot write state file {}: {why}", state.display())), "{err}");
        // The file system comes back: the files are written again, with everything.
        match filler {
            None => fs.remount("rw"),
            Some(f) => std::fs::remove_file(f).unwrap(),
        }
        wait_until(WAIT, &format!("the files written again after {fault}"), || {
            file_has(&policy_file, path) && file_has(&state, path) && g.status().write_problems.is_empty()
        });
        assert_eq!(std::fs::read_to_string(&policy_file).unwrap(), shown(&g), "{fault}: policy file");
        assert!(g.svc().err().contains(&format!("output {} written again", policy_file.display())));
    }
    // The state written last restores everything: a restart from it has all three rules.
    assert!(g.svc().stop().success(), "{}", g.svc().err());
    let saved = std::fs::read_to_string(&state).unwrap();
    for p in ["/run/one.sock", "/run/two.sock", "/run/three.sock"] {
        assert!(saved.contains(p), "{p} not saved:\n{saved}");
    }
}

/// A generator that ran with a state file and stopped: the saved state.
fn learned_state(g: &mut Gen, state: &Path) -> Vec<u8> {
    g.start(&["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()]);
    g.load(&crate::util::repo_root().join("tests/data/devf-ram.log"));
    assert!(g.svc().stop().success());
    let bytes = std::fs::read(state).unwrap();
    assert!(bytes.len() > 200, "little was saved");
    bytes
}

/// Starts the generator with `args`, which must refuse to start: returns what it said.
fn refused_start(g: &Gen, args: &[&str]) -> String {
    let mut svc = Service::start("secpolgenerate-refused", g.tmp.path(), g.command(args));
    let status = svc.wait(WAIT);
    let err = svc.err();
    assert!(!status.success(), "started with {args:?}: {err}");
    err
}

/// A corrupt state file at start (a bad line, cut short, not UTF-8, unreadable): the
/// generator refuses to start with an error naming FILE:LINE, and the file is kept byte for
/// byte; repaired, it restores everything.
#[test]
fn corrupt_state_file_refuses_start_and_is_kept_byte_for_byte() {
    let mut g = Gen::new("state-corrupt");
    let state = g.tmp.join("state");
    let saved = learned_state(&mut g, &state);
    let text = String::from_utf8(saved.clone()).unwrap();
    let args = ["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()];
    let name = state.display().to_string();

    // A bad line in the middle.
    let lines: Vec<&str> = text.lines().collect();
    let (n, line) = lines.iter().enumerate().find(|(_, l)| l.starts_with("ability ")).unwrap();
    let bad = text.replacen(line, &line.replacen(" root ", " king ", 1), 1);
    // Cut at a line end (a smaller state, were it not for `records`), and mid-line.
    let cut_at_line = &text[..text.match_indices('\n').nth(lines.len() / 2).unwrap().0 + 1];
    let cut_mid_line = &text[..text.len() - 5];
    let mut not_utf8 = saved.clone();
    let attach_at = text.find("\nattach ").unwrap() + 1;
    not_utf8[attach_at + 2] = 0xff;
    let attach_line = text[..attach_at].matches('\n').count() + 1;
    for (what, bytes, expect) in [
        ("a bad line", bad.into_bytes(), format!("{name}:{}: unknown domain \"king\"", n + 1)),
        ("cut at a line end", cut_at_line.as_bytes().to_vec(), format!("{name}:3: truncated or altered: ")),
        ("cut mid-line", cut_mid_line.as_bytes().to_vec(), format!("{name}:{}: ", lines.len())),
        ("not UTF-8", not_utf8, format!("{name}:{attach_line}:3: state file: invalid UTF-8")),
    ] {
        std::fs::write(&state, &bytes).unwrap();
        let err = refused_start(&g, &args);
        assert!(err.contains(&expect), "{what}: expected {expect:?} in:\n{err}");
        assert!(err.contains("refusing to start; the state file is left as it is"), "{what}: {err}");
        assert_eq!(std::fs::read(&state).unwrap(), bytes, "{what}: the state file was changed");
    }
    // Unreadable: a directory where the file should be.
    std::fs::rename(&state, g.tmp.join("state.saved")).unwrap();
    std::fs::create_dir(&state).unwrap();
    let err = refused_start(&g, &args);
    assert!(err.contains(&format!("cannot read state file {name}: ")), "{err}");
    std::fs::remove_dir(&state).unwrap();
    // Repaired: everything is back.
    std::fs::write(&state, &saved).unwrap();
    g.start(&args);
    assert!(g.read("policy").contains("allow_attach fs_t {"), "{}", g.read("policy"));
    assert!(g.svc().stop().success());
}

/// A corrupt configuration at start: refused with FILE:LINE:COL; the state file untouched.
#[test]
fn corrupt_config_refuses_start_naming_file_line_column() {
    let mut g = Gen::new("config-corrupt");
    let state = g.tmp.join("state");
    let saved = learned_state(&mut g, &state);
    let config = g.file("secpolgenerate.conf", "option unrestricted\nabilty prot_exec range\n");
    let err = refused_start(&g, &["-u", "-N", "-s", state.to_str().unwrap(), "-c", config.to_str().unwrap()]);
    let expect = format!("{}:2:1: error: unknown statement \"abilty\"", config.display());
    assert!(err.contains(&expect), "expected {expect:?} in:\n{err}");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "the state file was changed");
    // Cut short in the middle of a word.
    std::fs::write(&config, "type web_t deny:setu").unwrap();
    let err = refused_start(&g, &["-u", "-N", "-c", config.to_str().unwrap()]);
    assert!(err.contains(&format!("{}:1:", config.display())), "{err}");
}

/// A corrupt base policy at start: refused with FILE:LINE:COL; the state file untouched.
#[test]
fn corrupt_base_policy_refuses_start_naming_file_line_column() {
    let mut g = Gen::new("base-corrupt");
    let state = g.tmp.join("state");
    let saved = learned_state(&mut g, &state);
    // Cut short inside a rule block.
    let base = g.file("base.policy", "type fs_t;\nallow fs_t self:ability {\n    io\n");
    let err = refused_start(&g, &["-u", "-s", state.to_str().unwrap(), "-S", base.to_str().unwrap()]);
    assert!(err.contains(&format!("{}:", base.display())), "no FILE:LINE in:\n{err}");
    let at = err.split(&format!("{}:", base.display())).nth(1).unwrap_or_default();
    let mut pos = at.split(':');
    let (line, col) = (pos.next().unwrap_or_default(), pos.next().unwrap_or_default());
    assert!(line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(), "not FILE:LINE:COL: {err}");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "the state file was changed");
    // A statement the language does not have.
    std::fs::write(&base, "type fs_t;\npermit fs_t everything;\n").unwrap();
    let err = refused_start(&g, &["-u", "-S", base.to_str().unwrap()]);
    assert!(err.contains(&format!("{}:2:1", base.display())), "{err}");
}

/// The files the generator writes are never world-writable, whatever the umask: outputs
/// 0644, the state file 0600 (what was learned is the generator's alone), sockets 0660.
#[test]
fn generated_files_are_not_world_writable() {
    use std::os::unix::process::CommandExt as _;
    let mut g = Gen::new("file-modes");
    let state = g.tmp.join("state");
    let mut cmd = g.command(&["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()]);
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    g.svc = Some(Service::start("secpolgenerate", g.tmp.path(), cmd));
    let control = g.run_dir().join("control");
    wait_until(WAIT, "the control socket", || control.exists() && g.out_dir().join("policy").exists());
    g.load(&crate::util::repo_root().join("tests/data/devf-ram.log"));
    wait_until(WAIT, "the state file", || state.exists());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for name in ["policy", "unused", "errors", "protect"] {
        assert_eq!(mode(&g.out_dir().join(name)), 0o644, "{name}");
    }
    assert_eq!(mode(&g.run_dir().join("protect")), 0o644, "runtime protect list");
    assert_eq!(mode(&state), 0o600, "state file");
    assert_eq!(mode(&control), 0o660, "control socket");
    assert_eq!(mode(g.run_dir().as_path()) & 0o002, 0, "runtime directory");
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(g.out_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(g.svc().stop().success());
    assert_eq!(mode(&state), 0o600, "state file after the last save");
}
