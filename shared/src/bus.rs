//! The event bus: the tracer's PUB socket and its subscribers.
//!
//! [`Publisher`] binds `ipc://<runtime-dir>/events` as an XPUB socket, so it can tell how
//! many subscribers are attached (replays can wait for them). [`Subscriber`] connects to
//! it; ZeroMQ reconnects on its own, so a subscriber may start before the tracer and
//! survives the tracer's restart. [`SeqTracker`] turns sequence gaps into loss counts:
//! nothing is lost silently.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::endpoint::RuntimeDir;
use crate::wire::{self, Message, WireError};

/// Every subscriber subscribes to this prefix first; the publisher counts these.
const SYS_PREFIX: &[u8] = b"sys.";
/// Queue length on both sides before ZeroMQ drops (drops show up as sequence gaps).
const HIGH_WATER_MARK: i32 = 200_000;

/// A bus socket that could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Binding the endpoint failed.
    #[error("failed to bind {endpoint}: {source}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: zmq::Error,
    },
    /// Connecting failed.
    #[error("failed to connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: zmq::Error,
    },
    /// Sending or receiving failed.
    #[error("bus {op} failed: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Why.
        source: zmq::Error,
    },
    /// A message could not be encoded.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The runtime directory is unusable.
    #[error(transparent)]
    Endpoint(#[from] crate::endpoint::EndpointError),
    /// The socket file could not be secured.
    #[error("cannot secure {path}: {source}")]
    Secure {
        /// The socket file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Binds a ZeroMQ socket to the ipc path `file`, replacing a stale socket file left by a
/// crashed predecessor, and restricts the file to owner and group.
pub fn bind_ipc(sock: &zmq::Socket, dir: &RuntimeDir, file: &Path) -> Result<(), BusError> {
    dir.prepare()?;
    let endpoint = format!("ipc://{}", file.display());
    let _ = std::fs::remove_file(file);
    sock.bind(&endpoint).map_err(|source| BusError::Bind { endpoint, source })?;
    dir.secure_socket(file).map_err(|source| BusError::Secure { path: file.display().to_string(), source })
}

/// The publishing end of the bus (the tracer).
pub struct Publisher {
    sock: zmq::Socket,
    subscribers: usize,
}

impl Publisher {
    /// Binds the events endpoint of `dir`.
    pub fn bind(ctx: &zmq::Context, dir: &RuntimeDir) -> Result<Self, BusError> {
        let io = |source| BusError::Io { op: "socket setup", source };
        let sock = ctx.socket(zmq::XPUB).map_err(io)?;
        sock.set_sndhwm(HIGH_WATER_MARK).map_err(io)?;
        sock.set_xpub_verbose(true).map_err(io)?;
        sock.set_linger(1000).map_err(io)?;
        bind_ipc(&sock, dir, &dir.events_path())?;
        Ok(Publisher { sock, subscribers: 0 })
    }

    /// Publishes one message. Never blocks: a subscriber that is too slow loses messages,
    /// which it sees as a sequence gap.
    pub fn send(&mut self, msg: &Message) -> Result<(), BusError> {
        let [topic, body] = wire::encode(msg)?;
        self.send_frames(&topic, &body)
    }

    /// Publishes already encoded frames.
    pub fn send_frames(&mut self, topic: &[u8], body: &[u8]) -> Result<(), BusError> {
        self.poll_subscriptions(0);
        let io = |source| BusError::Io { op: "send", source };
        self.sock.send(topic, zmq::SNDMORE | zmq::DONTWAIT).map_err(io)?;
        self.sock.send(body, zmq::DONTWAIT).map_err(io)
    }

    /// Number of subscribers attached now (as far as their subscriptions have arrived).
    pub fn subscribers(&mut self) -> usize {
        self.poll_subscriptions(0);
        self.subscribers
    }

    /// Waits until at least `n` subscribers are attached, or `timeout` passes.
    /// Returns how many are attached.
    pub fn wait_for_subscribers(&mut self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.subscribers < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.poll_subscriptions(left.as_millis().min(100) as i64);
        }
        self.subscribers
    }

    fn poll_subscriptions(&mut self, timeout_ms: i64) {
        let mut wait = timeout_ms;
        loop {
            match self.sock.poll(zmq::POLLIN, wait) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
            wait = 0;
            let Ok(msg) = self.sock.recv_bytes(zmq::DONTWAIT) else { return };
            if msg.len() > SYS_PREFIX.len() - 1 && msg[1..] == *SYS_PREFIX {
                match msg[0] {
                    1 => self.subscribers += 1,
                    0 => self.subscribers = self.subscribers.saturating_sub(1),
                    _ => {}
                }
            }
        }
    }
}

/// What [`Subscriber::recv`] got.
#[derive(Debug)]
pub enum Received {
    /// A message.
    Message(Message),
    /// Something that was not a valid message: report it and go on.
    Garbage(WireError),
    /// Nothing arrived in time.
    Timeout,
}

/// A receiving end of the bus (generator, monitors, tools).
pub struct Subscriber {
    sock: zmq::Socket,
}

impl Subscriber {
    /// Connects to the events endpoint of `dir`, receiving events whose topic starts with
    /// one of `prefixes` (`"ev."` for all events) plus the tracer's `sys.` news.
    pub fn connect(ctx: &zmq::Context, dir: &RuntimeDir, prefixes: &[&str]) -> Result<Self, BusError> {
        Self::connect_endpoint(ctx, &dir.events_endpoint(), prefixes)
    }

    /// Like [`connect`](Self::connect) with an explicit endpoint.
    pub fn connect_endpoint(ctx: &zmq::Context, endpoint: &str, prefixes: &[&str]) -> Result<Self, BusError> {
        let io = |source| BusError::Io { op: "socket setup", source };
        let sock = ctx.socket(zmq::SUB).map_err(io)?;
        sock.set_rcvhwm(HIGH_WATER_MARK).map_err(io)?;
        sock.set_reconnect_ivl(100).map_err(io)?;
        sock.set_reconnect_ivl_max(1000).map_err(io)?;
        sock.set_subscribe(SYS_PREFIX).map_err(io)?;
        for p in prefixes {
            sock.set_subscribe(p.as_bytes()).map_err(io)?;
        }
        sock.connect(endpoint)
            .map_err(|source| BusError::Connect { endpoint: endpoint.to_string(), source })?;
        Ok(Subscriber { sock })
    }

    /// Waits up to `timeout_ms` (-1: forever) for the next message. A signal ends the
    /// wait as a timeout, so the caller can look at its shutdown flag.
    pub fn recv(&self, timeout_ms: i64) -> Result<Received, BusError> {
        let io = |source| BusError::Io { op: "receive", source };
        match self.sock.poll(zmq::POLLIN, timeout_ms) {
            Ok(0) | Err(zmq::Error::EINTR) => return Ok(Received::Timeout),
            Ok(_) => {}
            Err(e) => return Err(io(e)),
        }
        let frames = match self.sock.recv_multipart(zmq::DONTWAIT) {
            Ok(f) => f,
            // A signal (the caller checks its shutdown flag) or a message that vanished.
            Err(zmq::Error::EINTR | zmq::Error::EAGAIN) => return Ok(Received::Timeout),
            Err(e) => return Err(io(e)),
        };
        Ok(match wire::decode(&frames) {
            Ok(m) => Received::Message(m),
            Err(e) => Received::Garbage(e),
        })
    }
}

/// Counts events lost between a tracer and one subscriber, from sequence numbers.
#[derive(Debug, Default, Clone)]
pub struct SeqTracker {
    current: Option<(u64, u64)>,
    lost: u64,
}

/// What a sequence number revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// In order.
    None,
    /// This many events went missing just before.
    Lost(u64),
    /// A new tracer instance (restart); counting starts again.
    NewInstance,
    /// The first message seen from any tracer.
    First,
}

impl SeqTracker {
    /// Notes an event's `(instance, seq)`.
    pub fn event(&mut self, instance: u64, seq: u64) -> Gap {
        self.advance(instance, seq, seq.saturating_sub(1))
    }

    /// Notes a heartbeat saying the tracer has published up to `last_seq`.
    pub fn heartbeat(&mut self, instance: u64, last_seq: u64) -> Gap {
        self.advance(instance, last_seq, last_seq)
    }

    fn advance(&mut self, instance: u64, new_last: u64, expected_before: u64) -> Gap {
        let gap = match self.current {
            None => Gap::First,
            Some((i, _)) if i != instance => Gap::NewInstance,
            Some((_, last)) if expected_before > last => {
                let n = expected_before - last;
                self.lost += n;
                Gap::Lost(n)
            }
            Some((_, last)) if new_last <= last => {
                // A duplicate or a heartbeat that crossed an event: no news.
                return Gap::None;
            }
            Some(_) => Gap::None,
        };
        self.current = Some((instance, new_last));
        gap
    }

    /// Events lost so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_become_losses() {
        let mut t = SeqTracker::default();
        assert_eq!(t.event(1, 5), Gap::First);
        assert_eq!(t.event(1, 6), Gap::None);
        assert_eq!(t.event(1, 9), Gap::Lost(2));
        assert_eq!(t.heartbeat(1, 9), Gap::None);
        assert_eq!(t.heartbeat(1, 12), Gap::Lost(3));
        assert_eq!(t.event(1, 13), Gap::None);
        assert_eq!(t.event(2, 1), Gap::NewInstance);
        assert_eq!(t.event(2, 2), Gap::None);
        assert_eq!(t.lost(), 5);
    }
}
