//! Faults on the sockets a service listens on: counted by socket and kind, and logged as one
//! line naming both, rate-limited so that a flood of garbage cannot flood the log too.
//!
//! Every byte that arrives on a socket is untrusted. A fault is never fatal: the service
//! counts it (the counts appear in `secpolctl status`), logs the first one of each kind at
//! once and then at most one line per [`FaultLog::INTERVAL`] with the number seen since.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Counts and rate-limited log lines of the faults seen on a service's sockets.
#[derive(Debug, Default)]
pub struct FaultLog {
    kinds: BTreeMap<(&'static str, &'static str), Kind>,
}

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

    /// Every socket and kind seen, with its count, as `socket: kind` -> count.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.kinds.iter().map(|((s, k), v)| (format!("{s}: {k}"), v.total)).collect()
    }

    /// All faults seen.
    pub fn total(&self) -> u64 {
        self.kinds.values().map(|k| k.total).sum()
    }
}

/// Failed ZMTP handshakes on one listening socket (garbage instead of a greeting, a
/// truncated or malformed greeting, a wrong mechanism), read from ZeroMQ's socket monitor:
/// the application never sees those bytes, so without this they would pass uncounted.
pub struct HandshakeWatch {
    events: zmq::Socket,
    socket: &'static str,
}

impl HandshakeWatch {
    /// Watches `watched` (named `socket` in counts and log lines).
    pub fn attach(
        ctx: &zmq::Context,
        watched: &zmq::Socket,
        socket: &'static str,
    ) -> Result<Self, zmq::Error> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let endpoint = format!("inproc://secpol-handshakes-{socket}-{n}");
        let failed = zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL as i32
            | zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32;
        watched.monitor(&endpoint, failed)?;
        let events = ctx.socket(zmq::PAIR)?;
        events.set_linger(0)?;
        events.connect(&endpoint)?;
        Ok(HandshakeWatch { events, socket })
    }

    /// Records every failed handshake reported since the last call.
    pub fn drain(&self, log: &mut FaultLog) {
        while let Ok(frames) = self.events.recv_multipart(zmq::DONTWAIT) {
            let Some(head) = frames.first().filter(|f| f.len() >= 6) else { continue };
            let event = u16::from_ne_bytes([head[0], head[1]]);
            let value = u32::from_ne_bytes([head[2], head[3], head[4], head[5]]);
            match zmq::SocketEvent::from_raw(event) {
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
        let c = f.counts();
        assert_eq!(c["control: bad request"], 3);
        assert_eq!(c["control: reply failed"], 1);
        assert_eq!(c["ingest: bad request"], 1);
        assert_eq!(f.total(), 5);
    }
}
