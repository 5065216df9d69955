//! `--forward`: sends everything the tracer publishes to a fleet collector over `tcp://`,
//! encrypted and authenticated with CurveZMQ (protocol: `secpol::fleet`, docs/fleet.md).
//!
//! The publishing loop hands each message to [`Forwarder::push`] and calls
//! [`Forwarder::pump`] at every turn. A message stays in the forwarder's buffer until the
//! collector acknowledges it (which it does once what it applied is saved), so a collector
//! that restarts, or a network that breaks, costs nothing the buffer holds: what was not
//! acknowledged is sent again after a reconnect (the collector asks with a `nack`) or when no
//! acknowledgement came for [`RESEND_AFTER`]; the collector drops what it already has. A full
//! buffer drops its oldest message, counted here and, from the header's `oldest`, by the
//! collector.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secpol::fleet::{self, Header, KeyPair};
use secpol::wire::{self, Message};

/// Without an acknowledgement for this long, everything unacknowledged is sent again.
pub const RESEND_AFTER: Duration = Duration::from_secs(3);
/// Messages libzmq may queue towards the collector (the forwarder's buffer holds the rest).
const SOCKET_QUEUE: i32 = 10_000;

/// Where and as whom to forward.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    /// `tcp://ADDR:PORT` of the collector.
    pub endpoint: String,
    /// This host's name (its key's name in the collector's allow-list).
    pub host: String,
    /// This host's secret key file.
    pub secret: PathBuf,
    /// The collector's public key file.
    pub collector_key: PathBuf,
    /// Most messages held unacknowledged.
    pub buffer: usize,
}

struct Pending {
    seq: u64,
    topic: Vec<u8>,
    body: Vec<u8>,
}

/// What a forwarder did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ForwardStats {
    /// Messages acknowledged by the collector.
    pub acknowledged: u64,
    /// Messages dropped because the buffer was full.
    pub dropped: u64,
    /// Messages sent again.
    pub resent: u64,
    /// Messages still unacknowledged.
    pub unacknowledged: u64,
}

/// The forwarding end: a DEALER socket and the buffer of unacknowledged messages.
pub struct Forwarder {
    sock: zmq::Socket,
    host: String,
    session: u64,
    next_seq: u64,
    pending: VecDeque<Pending>,
    /// How many of `pending` (from the front) were sent since the last rewind.
    sent: usize,
    capacity: usize,
    last_progress: Instant,
    stats: ForwardStats,
    header: Vec<u8>,
}

impl Forwarder {
    /// Checks the keys and the host name, and connects (ZeroMQ connects in the background
    /// and reconnects on its own).
    pub fn connect(ctx: &zmq::Context, config: &ForwardConfig, session: u64) -> anyhow::Result<Forwarder> {
        fleet::require_curve()?;
        fleet::check_host_name(&config.host).context("--host")?;
        if !config.endpoint.starts_with("tcp://") {
            anyhow::bail!("--forward {}: expected tcp://ADDR:PORT", config.endpoint);
        }
        let keys = KeyPair::read(&config.secret).context("--curve-secret")?;
        let server = fleet::read_public(&config.collector_key).context("--collector-key")?;
        let sock = ctx.socket(zmq::DEALER).context("cannot create the forwarding socket")?;
        let setup = || -> Result<(), zmq::Error> {
            sock.set_curve_serverkey(&server)?;
            sock.set_curve_publickey(&keys.public)?;
            sock.set_curve_secretkey(&keys.secret)?;
            // Queue only towards a connected collector: while there is none, messages wait in
            // the buffer, where acknowledgements can account for them.
            sock.set_immediate(true)?;
            sock.set_sndhwm(SOCKET_QUEUE)?;
            sock.set_linger(0)?;
            sock.set_reconnect_ivl(100)?;
            sock.set_reconnect_ivl_max(2000)?;
            // ZMTP heartbeats notice a collector that vanished without closing the connection.
            sock.set_heartbeat_ivl(1000)?;
            sock.set_heartbeat_timeout(5000)?;
            sock.connect(&config.endpoint)
        };
        setup().with_context(|| format!("cannot connect to collector {}", config.endpoint))?;
        log::info!("forwarding to {} as host {} (session {session:x})", config.endpoint, config.host);
        Ok(Forwarder {
            sock,
            host: config.host.clone(),
            session,
            next_seq: 1,
            pending: VecDeque::new(),
            sent: 0,
            capacity: config.buffer.max(1),
            last_progress: Instant::now(),
            stats: ForwardStats::default(),
            header: Vec::with_capacity(64),
        })
    }

    /// Queues one bus message for the collector and sends what it can.
    pub fn push(&mut self, msg: &Message) {
        let (mut topic, mut body) = (Vec::new(), Vec::new());
        if let Err(e) = wire::encode_into(msg, &mut topic, &mut body) {
            log::warn!("not forwarded: {e}");
            return;
        }
        if self.pending.len() >= self.capacity {
            self.pending.pop_front();
            self.sent = self.sent.saturating_sub(1);
            self.stats.dropped += 1;
            if self.stats.dropped == 1 || self.stats.dropped.is_power_of_two() {
                log::warn!(
                    "forward buffer full ({} messages unacknowledged): {} dropped so far",
                    self.capacity,
                    self.stats.dropped
                );
            }
        }
        self.pending.push_back(Pending { seq: self.next_seq, topic, body });
        self.next_seq += 1;
        self.pump();
    }

    /// Reads acknowledgements, sends what has not been sent, and resends after a silence.
    pub fn pump(&mut self) {
        self.read_replies();
        if self.sent > 0 && self.last_progress.elapsed() >= RESEND_AFTER {
            log::info!("no acknowledgement for {RESEND_AFTER:?}: sending {} messages again", self.sent);
            self.rewind(0);
        }
        while self.sent < self.pending.len() {
            let oldest = self.pending.front().map_or(self.next_seq, |p| p.seq);
            let p = &self.pending[self.sent];
            Header { session: self.session, seq: p.seq, oldest, host: &self.host }
                .encode_into(&mut self.header);
            let frames: [&[u8]; 3] = [&self.header, &p.topic, &p.body];
            match self.sock.send_multipart(frames, zmq::DONTWAIT) {
                Ok(()) => self.sent += 1,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => break,
                Err(e) => {
                    log::warn!("forward: {e}");
                    break;
                }
            }
        }
    }

    /// Sends again from the first unacknowledged message after `seq`.
    fn rewind(&mut self, after_seq: u64) {
        let from = self.pending.iter().position(|p| p.seq > after_seq).unwrap_or(self.pending.len());
        self.stats.resent += self.sent.saturating_sub(from) as u64;
        self.sent = self.sent.min(from);
        self.last_progress = Instant::now();
    }

    fn read_replies(&mut self) {
        loop {
            let frames = match self.sock.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return,
                Err(e) => {
                    log::warn!("forward: receive failed: {e}");
                    return;
                }
            };
            let parsed = match frames.as_slice() {
                [kind, body] => fleet::decode_ack(body).map(|(s, q)| (kind.as_slice(), s, q)),
                _ => None,
            };
            match parsed {
                Some((_, session, _)) if session != self.session => {}
                Some((fleet::ACK, _, seq)) => {
                    let before = self.pending.len();
                    while self.pending.front().is_some_and(|p| p.seq <= seq) {
                        self.pending.pop_front();
                    }
                    let n = before - self.pending.len();
                    self.sent = self.sent.saturating_sub(n);
                    self.stats.acknowledged += n as u64;
                    self.last_progress = Instant::now();
                }
                Some((fleet::NACK, _, seq)) => self.rewind(seq),
                _ => log::warn!("forward: the collector sent something that is not an acknowledgement"),
            }
        }
    }

    /// Pumps until everything is acknowledged or `timeout` passed; what it did.
    pub fn finish(&mut self, timeout: Duration) -> ForwardStats {
        let end = Instant::now() + timeout;
        while !self.pending.is_empty() && Instant::now() < end {
            self.pump();
            let _ = self.sock.poll(zmq::POLLIN, 50);
        }
        self.stats()
    }

    /// Counts so far.
    pub fn stats(&self) -> ForwardStats {
        ForwardStats { unacknowledged: self.pending.len() as u64, ..self.stats }
    }
}
