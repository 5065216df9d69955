//! Faults on the sockets a service listens on: counted by socket and kind, and logged as one
//! line naming both, rate-limited so that a flood of garbage cannot flood the log too.
//!
//! Every byte that arrives on a socket is untrusted. A fault is never fatal: the service
//! counts it (the counts appear in `secpolctl status`), logs the first one of each kind at
//! once and then at most one line per [`FaultLog::INTERVAL`] with the number seen since
//! ([`FaultLog::tick`] says the number of a burst that ended quietly).
//!
//! ZeroMQ reads the handshake itself, so the application never sees a broken one:
//! [`HandshakeWatch`] reads libzmq's socket monitor to count those too. [`Monitor`] is the
//! reader of that monitor, also used by the control client to tell a dead generator at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts and rate-limited log lines of the faults seen on a service's sockets.
#[derive(Debug, Default)]
pub struct FaultLog {
    kinds: BTreeMap<(&'static str, &'static str), Kind>,
}

/// A fault log shared by the threads of one service (the tracer's publisher and its ingest
/// thread).
pub type SharedFaultLog = Arc<Mutex<FaultLog>>;

#[derive(Debug)]
struct Kind {
    total: u64,
    unlogged: u64,
    logged_at: Instant,
}

impl FaultLog {
    /// The shortest time between two log lines about the same socket and kind.
    pub const INTERVAL: Duration = Duration::from_secs(10);

    /// Records one fault of `kind` on `socket` (e.g. `control`, `bad request`), with what
    /// went wrong; logs it unless a line about the same socket and kind was written less
    /// than [`Self::INTERVAL`] ago.
    pub fn record(&mut self, socket: &'static str, kind: &'static str, detail: &dyn std::fmt::Display) {
        let now = Instant::now();
        match self.kinds.get_mut(&(socket, kind)) {
            None => {
                log::warn!("{socket} socket: {kind}: {detail}");
                self.kinds.insert((socket, kind), Kind { total: 1, unlogged: 0, logged_at: now });
            }
            Some(k) => {
                k.total += 1;
                k.unlogged += 1;
                if now.duration_since(k.logged_at) >= Self::INTERVAL {
                    log::warn!("{socket} socket: {kind}: {detail} ({} since the last report)", k.unlogged);
                    k.unlogged = 0;
                    k.logged_at = now;
                }
            }
        }
    }

    /// Logs, for each kind whose last line is [`Self::INTERVAL`] old, how many came since
    /// without a line: a burst that stopped is still told. Call it now and then.
    pub fn tick(&mut self) {
        let now = Instant::now();
        for ((socket, kind), k) in &mut self.kinds {
            if k.unlogged > 0 && now.duration_since(k.logged_at) >= Self::INTERVAL {
                log::warn!("{socket} socket: {kind}: {} more since the last report", k.unlogged);
                k.unlogged = 0;
                k.logged_at = now;
            }
        }
    }

    /// Every socket and kind seen, with its count, as `socket: kind` -> count.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.kinds.iter().map(|((s, k), v)| (format!("{s}: {k}"), v.total)).collect()
    }

    /// All faults seen.
    pub fn total(&self) -> u64 {
        self.kinds.values().map(|k| k.total).sum()
    }
}

/// Records into a shared log; a log poisoned by a panicking thread is still used (it only
/// holds counters).
pub fn record_shared(
    log: &SharedFaultLog,
    socket: &'static str,
    kind: &'static str,
    detail: &dyn std::fmt::Display,
) {
    log.lock().unwrap_or_else(|p| p.into_inner()).record(socket, kind, detail);
}

/// The events libzmq's socket monitor reports for one socket, read without blocking.
pub struct Monitor {
    events: zmq::Socket,
}

impl Monitor {
    /// Starts monitoring `watched` for the events in `mask` (`zmq::SocketEvent` bits); call
    /// before it binds or connects, so no event is missed.
    pub fn attach(ctx: &zmq::Context, watched: &zmq::Socket, mask: i32) -> Result<Self, zmq::Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let endpoint = format!("inproc://secpol-monitor-{}-{n}", std::process::id());
        watched.monitor(&endpoint, mask)?;
        let events = ctx.socket(zmq::PAIR)?;
        events.set_linger(0)?;
        events.connect(&endpoint)?;
        Ok(Monitor { events })
    }

    /// The next event and its value (an errno, a file descriptor or a protocol error code,
    /// by event), waiting up to `timeout_ms` (0: only one already there).
    pub fn next(&self, timeout_ms: i64) -> Option<(zmq::SocketEvent, u32)> {
        loop {
            if timeout_ms != 0 && self.events.poll(zmq::POLLIN, timeout_ms).ok()? == 0 {
                return None;
            }
            let frames = self.events.recv_multipart(zmq::DONTWAIT).ok()?;
            // Frame 1: event (u16) and value (u32), native order; frame 2: the endpoint.
            if let Some(head) = frames.first().filter(|f| f.len() >= 6) {
                let event = u16::from_ne_bytes([head[0], head[1]]);
                let value = u32::from_ne_bytes([head[2], head[3], head[4], head[5]]);
                return Some((zmq::SocketEvent::from_raw(event), value));
            }
        }
    }
}

/// Failed ZMTP handshakes on one listening socket (garbage instead of a greeting, a
/// truncated or malformed greeting, a wrong socket type), read from ZeroMQ's socket monitor:
/// the application never sees those bytes, so without this they would pass uncounted.
pub struct HandshakeWatch {
    monitor: Monitor,
    socket: &'static str,
}

impl HandshakeWatch {
    /// Watches `watched` (named `socket` in counts and log lines).
    pub fn attach(
        ctx: &zmq::Context,
        watched: &zmq::Socket,
        socket: &'static str,
    ) -> Result<Self, zmq::Error> {
        let failed = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32;
        Ok(HandshakeWatch { monitor: Monitor::attach(ctx, watched, failed)?, socket })
    }

    /// Records every failed handshake reported since the last call.
    pub fn drain(&self, log: &mut FaultLog) {
        while let Some((event, value)) = self.monitor.next(0) {
            match event {
                zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL => {
                    log.record(self.socket, "bad handshake", &format_args!("ZMTP protocol error 0x{value:x}"))
                }
                zmq::SocketEvent::HANDSHAKE_FAILED_AUTH => {
                    log.record(self.socket, "refused handshake", &format_args!("ZAP status {value}"))
                }
                // No detail: the value is the errno of the failed connection.
                _ => log.record(
                    self.socket,
                    "failed handshake",
                    &std::io::Error::from_raw_os_error(value as i32),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_socket_and_kind() {
        let mut f = FaultLog::default();
        for _ in 0..3 {
            f.record("control", "bad request", &"x");
        }
        f.record("control", "reply failed", &"y");
        f.record("ingest", "bad request", &"z");
        f.tick();
        let c = f.counts();
        assert_eq!(c["control: bad request"], 3);
        assert_eq!(c["control: reply failed"], 1);
        assert_eq!(c["ingest: bad request"], 1);
        assert_eq!(f.total(), 5);
    }

    #[test]
    fn a_greeting_of_garbage_is_a_failed_handshake() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let ctx = zmq::Context::new();
        let sock = ctx.socket(zmq::ROUTER).unwrap();
        let watch = HandshakeWatch::attach(&ctx, &sock, "test").unwrap();
        sock.bind(&format!("ipc://{}", path.display())).unwrap();
        // A ZMTP 3 signature with a nonsense version and mechanism, then the peer goes.
        let mut raw = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0];
        greeting.extend_from_slice(b"NONSENSE\0\0\0\0\0\0\0\0\0\0\0\0");
        greeting.resize(64, 0);
        let _ = raw.write_all(&greeting);
        drop(raw);
        let mut log = FaultLog::default();
        let started = Instant::now();
        while log.total() == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "no handshake fault reported");
            std::thread::sleep(Duration::from_millis(20));
            watch.drain(&mut log);
        }
        assert!(
            log.counts().keys().all(|k| k.starts_with("test: ") && k.contains("handshake")),
            "{:?}",
            log.counts()
        );
    }
}
