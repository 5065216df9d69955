//! The event bus: the tracer's PUB socket and its subscribers.
//!
//! [`Publisher`] binds `ipc://<runtime-dir>/events` as an XPUB socket, so it can tell how
//! many subscribers are attached (replays can wait for them). [`Subscriber`] connects to
//! it; ZeroMQ reconnects on its own, so a subscriber may start before the tracer and
//! survives the tracer's restart. [`SeqTracker`] turns sequence gaps into loss counts:
//! nothing is lost silently.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::endpoint::RuntimeDir;
use crate::fault::{record_shared, HandshakeWatch, SharedFaultLog};
use crate::wire::{self, Message, WireError};

/// Every subscriber subscribes to this prefix first; the publisher counts these.
const SYS_PREFIX: &[u8] = b"sys.";
/// Queue length, in messages, on both sides before ZeroMQ drops (drops show up as sequence
/// gaps). A message is one event or a [`wire::Batch`] of at most [`wire::MAX_BATCH_EVENTS`]
/// events and about [`wire::BATCH_BODY`] bytes, so a full queue holds 20,000 events when each
/// came alone and up to 640,000 in full batches (a stopped monitor holding one: 140 MiB
/// resident; docs/bus.md).
const HIGH_WATER_MARK: i32 = 20_000;
/// Longest pause between a subscriber's attempts to reach a tracer that is not there
/// (ZeroMQ backs off from 100 ms to this): a subscriber started before the tracer is
/// attached at most this long after the tracer binds, so the tracer can wait for it.
pub const RECONNECT_INTERVAL_MAX: Duration = Duration::from_millis(200);

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

/// Sends between two looks at the subscriptions while publishing (a look is a system call).
const SENDS_PER_SUBSCRIPTION_CHECK: u32 = 256;

/// Largest message a subscriber may send the publisher (`\x01` and a topic prefix, longer
/// than any topic); ZeroMQ drops the connection of one that sends more before reading it.
pub const MAX_SUBSCRIPTION: usize = 256;

/// The publishing end of the bus (the tracer).
///
/// Its socket listens, so every byte a peer sends it is untrusted: a broken handshake
/// (from libzmq's monitor) and a message that is not a subscription are counted in its
/// [`fault_log`](Self::fault_log) under `events`, and the counts go out on the bus as
/// [`Message::Faults`] after each heartbeat that follows a change.
pub struct Publisher {
    sock: zmq::Socket,
    subscribers: usize,
    /// Sends since the subscriptions were last read.
    unchecked_sends: u32,
    /// Encoding buffers, reused for every message.
    topic: Vec<u8>,
    body: Vec<u8>,
    faults: SharedFaultLog,
    handshakes: HandshakeWatch,
    /// The fault total last published.
    faults_published: u64,
}

impl Publisher {
    /// Binds the events endpoint of `dir`.
    pub fn bind(ctx: &zmq::Context, dir: &RuntimeDir) -> Result<Self, BusError> {
        let io = |source| BusError::Io { op: "socket setup", source };
        let sock = ctx.socket(zmq::XPUB).map_err(io)?;
        sock.set_sndhwm(HIGH_WATER_MARK).map_err(io)?;
        sock.set_xpub_verbose(true).map_err(io)?;
        sock.set_linger(1000).map_err(io)?;
        sock.set_maxmsgsize(MAX_SUBSCRIPTION as i64).map_err(io)?;
        let handshakes = HandshakeWatch::attach(ctx, &sock, "events").map_err(io)?;
        bind_ipc(&sock, dir, &dir.events_path())?;
        Ok(Publisher {
            sock,
            subscribers: 0,
            unchecked_sends: 0,
            topic: Vec::new(),
            body: Vec::new(),
            faults: SharedFaultLog::default(),
            handshakes,
            faults_published: 0,
        })
    }

    /// The log this publisher counts its socket's faults in; the tracer's other listening
    /// socket (`ingest`) counts into it too, so one message carries them all.
    pub fn fault_log(&self) -> SharedFaultLog {
        self.faults.clone()
    }

    /// Publishes one message. Never blocks: a subscriber that is too slow loses messages,
    /// which it sees as a sequence gap. After a heartbeat, the fault counts follow if they
    /// changed.
    pub fn send(&mut self, msg: &Message) -> Result<(), BusError> {
        wire::encode_into(msg, &mut self.topic, &mut self.body)?;
        self.sending();
        send_two(&self.sock, &self.topic, &self.body)?;
        if let Message::Heartbeat(h) = msg {
            // What peers sent is read at least once a heartbeat, also when nothing else is
            // published, so it is counted and never piles up.
            self.poll_subscriptions(0);
            self.report_faults(h.instance)?;
        }
        Ok(())
    }

    /// Publishes the fault counts if they changed since they were last published.
    fn report_faults(&mut self, instance: u64) -> Result<(), BusError> {
        let counts = {
            let mut log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            self.handshakes.drain(&mut log);
            log.tick();
            if log.total() == self.faults_published {
                return Ok(());
            }
            self.faults_published = log.total();
            log.counts()
        };
        let msg = Message::Faults(wire::SocketFaults { instance, counts });
        wire::encode_into(&msg, &mut self.topic, &mut self.body)?;
        send_two(&self.sock, &self.topic, &self.body)
    }

    /// Publishes a batch of events (one message; see [`wire::Batch`]).
    pub fn send_batch(&mut self, batch: &wire::Batch) -> Result<(), BusError> {
        let (topic, body) = batch.frames();
        self.send_frames(topic, body)
    }

    /// Publishes already encoded frames.
    pub fn send_frames(&mut self, topic: &[u8], body: &[u8]) -> Result<(), BusError> {
        self.sending();
        send_two(&self.sock, topic, body)
    }

    /// Subscriptions arrive as messages on this socket: read them now and then, so the
    /// count stays current without a system call per message.
    fn sending(&mut self) {
        self.unchecked_sends += 1;
        if self.unchecked_sends >= SENDS_PER_SUBSCRIPTION_CHECK {
            self.poll_subscriptions(0);
        }
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
        self.unchecked_sends = 0;
        let mut wait = timeout_ms;
        loop {
            match self.sock.poll(zmq::POLLIN, wait) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
            wait = 0;
            let Ok(frames) = self.sock.recv_multipart(zmq::DONTWAIT) else { return };
            match frames.as_slice() {
                [msg] if msg.len() > SYS_PREFIX.len() - 1 && msg[1..] == *SYS_PREFIX => match msg[0] {
                    1 => self.subscribers += 1,
                    0 => self.subscribers = self.subscribers.saturating_sub(1),
                    _ => self.bad_message(&frames),
                },
                [msg] if matches!(msg.first(), Some(0 | 1)) => {}
                _ => self.bad_message(&frames),
            }
        }
    }

    /// A peer sent something other than a subscription (an XSUB can send anything).
    fn bad_message(&self, frames: &[Vec<u8>]) {
        let bytes: usize = frames.iter().map(Vec::len).sum();
        record_shared(
            &self.faults,
            "events",
            "not a subscription",
            &format_args!("{} frames, {bytes} bytes", frames.len()),
        );
    }
}

/// Sends `[topic, body]` without blocking.
fn send_two(sock: &zmq::Socket, topic: &[u8], body: &[u8]) -> Result<(), BusError> {
    let io = |source| BusError::Io { op: "send", source };
    sock.send(topic, zmq::SNDMORE | zmq::DONTWAIT).map_err(io)?;
    sock.send(body, zmq::DONTWAIT).map_err(io)
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
///
/// A received batch ([`wire::Batch`]) is handed on one message at a time; what is left of it
/// waits in the subscriber, so [`has_pending`](Self::has_pending) must be asked before
/// waiting on [`poll_item`](Self::poll_item).
pub struct Subscriber {
    sock: zmq::Socket,
    /// The frames of the last message received and how far its events were handed on.
    pending: RefCell<Option<(zmq::Message, zmq::Message, wire::BatchReader)>>,
    /// Buffers for the strings of the events decoded next ([`recycle`](Self::recycle)).
    strings: RefCell<wire::StringPool>,
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
        // No ZMQ_MAXMSGSIZE here: a frame over it is a protocol error, after which libzmq
        // 4.3 never reconnects a connecting socket, so one oversized frame would leave the
        // subscriber deaf for good. `wire::decode_parts` refuses a body over MAX_BODY.
        sock.set_reconnect_ivl(100).map_err(io)?;
        sock.set_reconnect_ivl_max(RECONNECT_INTERVAL_MAX.as_millis() as i32).map_err(io)?;
        sock.set_subscribe(SYS_PREFIX).map_err(io)?;
        for p in prefixes {
            sock.set_subscribe(p.as_bytes()).map_err(io)?;
        }
        sock.connect(endpoint)
            .map_err(|source| BusError::Connect { endpoint: endpoint.to_string(), source })?;
        Ok(Subscriber { sock, pending: RefCell::new(None), strings: RefCell::default() })
    }

    /// Gives back an event that has been handled, so the next events' strings reuse its
    /// allocations (optional: an event simply dropped costs its allocations, no more).
    pub fn recycle(&self, event: crate::event::Event) {
        self.strings.borrow_mut().recycle(event);
    }

    /// Whether messages of a batch already received wait to be handed on (the socket's
    /// poll item does not show them).
    pub fn has_pending(&self) -> bool {
        self.pending.borrow().as_ref().is_some_and(|(_, body, reader)| !reader.is_done(body))
    }

    /// The socket to poll beside others (for input); ask [`has_pending`](Self::has_pending)
    /// first.
    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.sock.as_poll_item(zmq::POLLIN)
    }

    /// Waits up to `timeout_ms` (-1: forever) for the next message. A signal ends the
    /// wait as a timeout, so the caller can look at its shutdown flag.
    ///
    /// A message already queued is taken without polling (a `zmq_poll` per message
    /// costs more than the receive itself); the socket is polled only when nothing waits.
    pub fn recv(&self, timeout_ms: i64) -> Result<Received, BusError> {
        Ok(match self.next_message(timeout_ms)? {
            Some(Ok(m)) => Received::Message(m),
            Some(Err(e)) => Received::Garbage(e),
            None => Received::Timeout,
        })
    }

    /// The next message: what is left of the last batch, else the next one received (waiting
    /// up to `timeout_ms` when none is queued); `None` after the timeout or a signal.
    fn next_message(&self, timeout_ms: i64) -> Result<Option<Result<Message, WireError>>, BusError> {
        let mut pending = self.pending.borrow_mut();
        let mut strings = self.strings.borrow_mut();
        if let Some((topic, body, reader)) = pending.as_mut() {
            if let Some(m) = reader.next(topic, body, &mut strings) {
                return Ok(Some(m));
            }
            *pending = None;
        }
        match self.next_frames(timeout_ms)? {
            None => Ok(None),
            Some(Frames::Wrong(n)) => Ok(Some(Err(WireError::Frames(n)))),
            Some(Frames::Two(topic, body)) => {
                let mut reader = wire::BatchReader::default();
                let first = reader.next(&topic, &body, &mut strings);
                *pending = Some((topic, body, reader));
                Ok(first)
            }
        }
    }

    /// Like [`recv`](Self::recv) on a bus whose topics start with a route that `split`
    /// takes off (the fleet bus: `fleet/HOST/ev.KIND`, [`crate::fleet::split_fleet_topic`]):
    /// the route and what was received. A topic `split` refuses is garbage, without a route.
    /// The fleet bus carries one message per ZeroMQ message (the collector sends no batches).
    pub fn recv_routed(
        &self,
        timeout_ms: i64,
        split: impl for<'t> Fn(&'t [u8]) -> Option<(&'t str, &'t [u8])>,
    ) -> Result<(Option<String>, Received), BusError> {
        let Some(frames) = self.next_frames(timeout_ms)? else {
            return Ok((None, Received::Timeout));
        };
        let (topic, body) = match &frames {
            Frames::Two(topic, body) => (topic, body),
            Frames::Wrong(n) => return Ok((None, Received::Garbage(WireError::Frames(*n)))),
        };
        let Some((route, inner)) = split(topic) else {
            let shown = String::from_utf8_lossy(&topic[..topic.len().min(64)]).into_owned();
            return Ok((None, Received::Garbage(WireError::UnknownTopic(shown))));
        };
        Ok(match wire::decode_parts(inner, body) {
            Ok(m) => (Some(route.to_string()), Received::Message(m)),
            Err(e) => (Some(route.to_string()), Received::Garbage(e)),
        })
    }

    /// Waits up to `timeout_ms` for a first message, then hands `each` every message
    /// queued, at most `max`, without waiting again: `Ok` for a message, `Err` for
    /// something that was not one (report it and go on). Returns how many it handed on; a
    /// signal ends the wait early, like a timeout.
    pub fn drain(
        &self,
        timeout_ms: i64,
        max: usize,
        mut each: impl FnMut(Result<Message, WireError>),
    ) -> Result<usize, BusError> {
        for n in 0..max {
            match self.next_message(if n == 0 { timeout_ms } else { 0 })? {
                Some(m) => each(m),
                None => return Ok(n),
            }
        }
        Ok(max)
    }

    /// The frames of the next message, waiting up to `timeout_ms` when none is queued;
    /// `None` after the timeout or a signal.
    fn next_frames(&self, timeout_ms: i64) -> Result<Option<Frames>, BusError> {
        if let Some(frames) = self.try_frames()? {
            return Ok(Some(frames));
        }
        if timeout_ms == 0 {
            return Ok(None);
        }
        match self.sock.poll(zmq::POLLIN, timeout_ms) {
            Ok(0) | Err(zmq::Error::EINTR) => Ok(None),
            Ok(_) => self.try_frames(),
            Err(e) => Err(BusError::Io { op: "receive", source: e }),
        }
    }

    /// The frames of the next message if one is queued (`None` also when a signal
    /// interrupted, or the message the poll announced vanished).
    fn try_frames(&self) -> Result<Option<Frames>, BusError> {
        let io = |source| BusError::Io { op: "receive", source };
        let mut topic = zmq::Message::new();
        match self.sock.recv(&mut topic, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(None),
            Err(e) => return Err(io(e)),
        }
        if !topic.get_more() {
            return Ok(Some(Frames::Wrong(1)));
        }
        let mut body = zmq::Message::new();
        self.recv_part(&mut body).map_err(io)?;
        if !body.get_more() {
            return Ok(Some(Frames::Two(topic, body)));
        }
        // More than two frames: take the rest so the next message starts clean.
        let mut count = 2;
        let mut extra = zmq::Message::new();
        loop {
            self.recv_part(&mut extra).map_err(io)?;
            count += 1;
            if !extra.get_more() {
                return Ok(Some(Frames::Wrong(count)));
            }
        }
    }

    /// The next part of a multipart message: ZeroMQ delivers the parts together, so it is
    /// there; only a signal can delay it.
    fn recv_part(&self, part: &mut zmq::Message) -> Result<(), zmq::Error> {
        loop {
            match self.sock.recv(part, 0) {
                Err(zmq::Error::EINTR) => continue,
                r => return r,
            }
        }
    }
}

/// One message's frames as received, not copied.
enum Frames {
    /// Topic and body.
    Two(zmq::Message, zmq::Message),
    /// Not two frames: how many.
    Wrong(usize),
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
    use crate::wire::Heartbeat;

    #[test]
    fn queued_messages_come_in_order_and_bad_frames_as_garbage() {
        let ctx = zmq::Context::new();
        let publisher = ctx.socket(zmq::PUB).unwrap();
        publisher.bind("inproc://bus-test").unwrap();
        let sub = Subscriber::connect_endpoint(&ctx, "inproc://bus-test", &["ev."]).unwrap();
        let send = |frames: &[&[u8]]| publisher.send_multipart(frames, 0).unwrap();
        let beat = |n| {
            wire::encode(&Message::Heartbeat(Heartbeat { instance: 1, last_seq: n, time_ns: 0 })).unwrap()
        };
        // The subscription reaches the publisher asynchronously: publish until one arrives.
        let started = Instant::now();
        loop {
            let [t, b] = beat(0);
            send(&[&t, &b]);
            if let Received::Message(_) = sub.recv(10).unwrap() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "subscription never arrived");
        }
        while !matches!(sub.recv(0).unwrap(), Received::Timeout) {}

        let [t, b] = beat(7);
        send(&[&t, &b]);
        send(&[b"ev.ability", b"x", b"y"]);
        send(&[b"ev.ability"]);
        send(&[b"ev.exec", b"\xc1"]);
        let [t, b] = beat(8);
        send(&[&t, &b]);
        let mut got = Vec::new();
        let n = sub
            .drain(1000, 10, |r| {
                got.push(match r {
                    Ok(Message::Heartbeat(h)) => format!("beat {}", h.last_seq),
                    Ok(m) => format!("{m:?}"),
                    Err(e) => e.to_string(),
                })
            })
            .unwrap();
        assert_eq!(n, 5);
        assert_eq!(got[0], "beat 7");
        assert_eq!(got[1], "expected 2 frames [topic, body], got 3");
        assert_eq!(got[2], "expected 2 frames [topic, body], got 1");
        assert!(got[3].starts_with("undecodable ev.exec body"), "{}", got[3]);
        assert_eq!(got[4], "beat 8");
        assert!(matches!(sub.recv(0).unwrap(), Received::Timeout));
        assert!(matches!(sub.recv(30).unwrap(), Received::Timeout));
        assert_eq!(sub.drain(0, 10, |_| panic!("nothing was sent")).unwrap(), 0);
    }

    /// A batch is handed on one event at a time, by `recv` and by `drain`, in order, with
    /// what follows it; `has_pending` tells the rest of a batch waits.
    #[test]
    fn a_batch_is_handed_on_event_by_event() {
        let ctx = zmq::Context::new();
        let dir = tempfile::tempdir().unwrap();
        let dir = RuntimeDir::resolve(Some(&dir.path().join("run")));
        dir.prepare().unwrap();
        let mut publisher = Publisher::bind(&ctx, &dir).unwrap();
        let sub = Subscriber::connect(&ctx, &dir, &["ev."]).unwrap();
        assert_eq!(publisher.wait_for_subscribers(1, Duration::from_secs(10)), 1);
        let event = |seq| crate::event::Event {
            instance: 1,
            seq,
            time_ns: 1,
            process: crate::event::Process {
                pid: 1,
                name: Some("bin/x".into()),
                type_name: "t".into(),
                uid: None,
                euid: None,
                start_ns: None,
            },
            what: crate::event::EventKind::Exit { code: 0 },
        };
        let mut batch = wire::Batch::new();
        for seq in 1..=5 {
            assert!(batch.push(&event(seq)).unwrap());
        }
        publisher.send_batch(&batch).unwrap();
        publisher.send(&Message::Heartbeat(Heartbeat { instance: 1, last_seq: 5, time_ns: 0 })).unwrap();
        let seq_of = |r: Received| match r {
            Received::Message(Message::Event(e)) => e.seq,
            other => panic!("{other:?}"),
        };
        assert_eq!(seq_of(sub.recv(5000).unwrap()), 1);
        assert!(sub.has_pending());
        assert_eq!(seq_of(sub.recv(0).unwrap()), 2);
        let mut rest = Vec::new();
        assert_eq!(sub.drain(0, 2, |m| rest.push(m.unwrap())).unwrap(), 2);
        assert_eq!(sub.drain(1000, 10, |m| rest.push(m.unwrap())).unwrap(), 2);
        assert!(!sub.has_pending());
        let seqs: Vec<String> = rest
            .iter()
            .map(|m| match m {
                Message::Event(e) => e.seq.to_string(),
                Message::Heartbeat(h) => format!("beat {}", h.last_seq),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(seqs, ["3", "4", "5", "beat 5"]);
    }

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
