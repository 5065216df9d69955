//! The generator's control protocol (`secpolctl` and `secpolgenerate -C`), over ZeroMQ (REQ clients, a ROUTER server).
//!
//! The generator binds a ROUTER socket on [`RuntimeDir::control_path`] (owner and group only,
//! like every socket of the runtime directory); a client sends one [`Request`] and waits for
//! one [`Response`] with a deadline ([`request`]). Bodies are MessagePack with named fields in
//! a versioned envelope, as on the event bus, and bounded in size: a request at most
//! [`MAX_REQUEST`] bytes (a `load` carries the file's text, read by the client with the
//! client's permissions), a response at most [`MAX_RESPONSE`].
//!
//! Every request gets exactly one answer, also a malformed one (an [`Response::Error`]), so
//! the server never stalls; anything that is not a request is counted
//! ([`crate::fault`]) and the next asker is answered all the same.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::bus::{bind_ipc, BusError};
use crate::endpoint::RuntimeDir;
use crate::fault::{HandshakeWatch, Monitor};

/// Version written into every envelope.
pub const VERSION: u16 = 1;
/// Largest request accepted (a `load` carries a whole file).
pub const MAX_REQUEST: usize = 64 * 1024 * 1024;
/// Largest response accepted (the text of a large policy).
pub const MAX_RESPONSE: usize = 256 * 1024 * 1024;
/// Default time a client waits for the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `clear` forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClearTarget {
    /// Successful uses: learned rules and the record of base rules exercised.
    Used,
    /// Failures.
    Errors,
}

impl std::str::FromStr for ClearTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "used" => Ok(ClearTarget::Used),
            "errors" => Ok(ClearTarget::Errors),
            other => Err(format!("cannot clear {other:?}: expected `used` or `errors`")),
        }
    }
}

/// One of the generator's output texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// The whole policy: base plus what was learned.
    Policy,
    /// Base rules never exercised.
    Unused,
    /// Failures, as the rules that would allow them.
    Errors,
}

impl Output {
    /// File name in the output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Output::Policy => "policy",
            Output::Unused => "unused",
            Output::Errors => "errors",
        }
    }
}

/// A command for the running generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Counters and settings.
    Status,
    /// Forget successful uses or failures.
    Clear {
        /// Which.
        target: ClearTarget,
    },
    /// Apply a state file or a QNX secpolmonitor log; answered once applied.
    Load {
        /// Name of the file, for messages (`FILE:LINE`).
        name: String,
        /// Its contents.
        text: String,
    },
    /// The current text of an output.
    Show {
        /// Which.
        output: Output,
    },
    /// Save the state file and rewrite the outputs now.
    Save,
    /// How `secpolctl on -T TYPE` must start a process of this type.
    Launch {
        /// The type.
        type_name: String,
    },
}

/// How the generator treats a type, for the launcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchMode {
    /// Held to the policy.
    #[default]
    Restricted,
    /// Learns: runs with the caller's privileges (less `deny:`/`keep:`).
    Unrestricted,
    /// New, and the generator admits no new types: no rules at all.
    Refused,
}

impl std::fmt::Display for LaunchMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LaunchMode::Restricted => "restricted",
            LaunchMode::Unrestricted => "unrestricted",
            LaunchMode::Refused => "refused",
        })
    }
}

/// How a type is launched, for `secpolctl on`: the generator knows which types are
/// restricted (their policy is enforced) and what `deny:`/`keep:` take from unrestricted
/// ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPlan {
    /// The type.
    pub type_name: String,
    /// How the generator treats the type.
    pub mode: LaunchMode,
    /// The published policy id; 0 (`-T zero_id`) means no policy: nothing is enforced.
    pub policy_id: u32,
    /// The current policy text (what a restricted type is held to).
    #[serde(default)]
    pub policy: String,
    /// Abilities an unrestricted type loses when it runs as root (`deny:`, and `keep:`
    /// abilities the base policy does not grant).
    #[serde(default)]
    pub drop_root: Vec<String>,
    /// Abilities an unrestricted type loses when it runs as non-root.
    #[serde(default)]
    pub drop_nonroot: Vec<String>,
}

/// The generator's counters and settings, for `secpolctl status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Process id of the generator.
    #[serde(default)]
    pub pid: u32,
    /// Seconds since it started.
    #[serde(default)]
    pub uptime_s: u64,
    /// Events received from the bus and from loads.
    #[serde(default)]
    pub events_seen: u64,
    /// Events lost between tracer and generator (sequence gaps and tracer-side losses).
    #[serde(default)]
    pub events_lost: u64,
    /// Bus messages that could not be decoded.
    #[serde(default)]
    pub garbage: u64,
    /// Types known (base and learned).
    #[serde(default)]
    pub types: u64,
    /// Distinct failures recorded.
    #[serde(default)]
    pub failures: u64,
    /// Failure events counted (each distinct failure may repeat).
    #[serde(default)]
    pub failure_events: u64,
    /// Events of new types refused because `-t` was reached.
    #[serde(default)]
    pub refused_types: u64,
    /// `restricted` or `unrestricted`: the default mode of types.
    #[serde(default)]
    pub mode: String,
    /// Abilities marked `protect` in the configuration (for the preload).
    #[serde(default)]
    pub protect: Vec<String>,
    /// The policy id published (0 with `-T zero_id`).
    #[serde(default)]
    pub policy_id: u32,
    /// Output directory.
    #[serde(default)]
    pub output_dir: String,
    /// State file, if any.
    #[serde(default)]
    pub state_file: Option<String>,
    /// Seconds since the state was last saved (`None`: never).
    #[serde(default)]
    pub last_save_s: Option<u64>,
    /// Faults seen on the generator's sockets, as `socket: kind` -> count.
    #[serde(default)]
    pub socket_faults: std::collections::BTreeMap<String, u64>,
    /// Faults the tracer last reported on its sockets (`events`, `ingest`), as
    /// `socket: kind` -> count since that tracer started.
    #[serde(default)]
    pub tracer_faults: std::collections::BTreeMap<String, u64>,
    /// Seconds since the tracer reported them (`None`: it never did).
    #[serde(default)]
    pub tracer_faults_age_s: Option<u64>,
    /// Files that could not be written (outputs, state), as `FILE: why`; retried at every
    /// flush until they are written, while learning goes on in memory.
    #[serde(default)]
    pub write_problems: Vec<String>,
    /// The fleet collector's view, when it collects (`--listen`, docs/fleet.md).
    #[serde(default)]
    pub fleet: Option<Box<FleetStatus>>,
}

/// What a fleet collector knows of its hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetStatus {
    /// The endpoint it listens on.
    #[serde(default)]
    pub listen: String,
    /// Hosts admitted by the allow-list (and any since revoked), and what each sent.
    #[serde(default)]
    pub hosts: Vec<FleetHost>,
    /// Connections and messages refused, as `WHY` (the key, the address) -> count. Never
    /// learned from.
    #[serde(default)]
    pub refused: std::collections::BTreeMap<String, u64>,
}

/// One host of a fleet, as the collector sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetHost {
    /// Its name (its key's file name in the allow-list).
    #[serde(default)]
    pub host: String,
    /// Heard from in the last 5 seconds.
    #[serde(default)]
    pub connected: bool,
    /// Seconds since its last message (`None`: never).
    #[serde(default)]
    pub last_seen_s: Option<u64>,
    /// Events applied from it.
    #[serde(default)]
    pub events: u64,
    /// Events lost on the way (its tracer's losses, sequence gaps, its forwarder's drops).
    #[serde(default)]
    pub lost: u64,
    /// Messages it sent again that were already applied (dropped).
    #[serde(default)]
    pub duplicates: u64,
    /// Connections after the first (its network or the collector broke, it restarted).
    #[serde(default)]
    pub reconnects: u64,
    /// Forwarder sessions seen (one per start of its tracer).
    #[serde(default)]
    pub sessions: u64,
}

/// What a `load` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Which format the file was read as (`state` or `secpolmonitor log`).
    pub format: String,
    /// Records or lines applied.
    pub applied: u64,
    /// Lines that could not be read, as `FILE:LINE: why`.
    pub problems: Vec<String>,
}

/// The generator's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Response {
    /// Done; a short message for the user.
    Done {
        /// What was done.
        message: String,
    },
    /// Answer to [`Request::Status`].
    Status(Status),
    /// Answer to [`Request::Show`].
    Text {
        /// The text.
        text: String,
    },
    /// Answer to [`Request::Load`].
    Loaded(LoadReport),
    /// Answer to [`Request::Launch`].
    Launch(LaunchPlan),
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// A response as a person reads it: what goes to stdout, the problems for stderr, and
/// whether the command succeeded (the exit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// Text for stdout (with its final newline, or empty).
    pub out: String,
    /// Lines for stderr.
    pub problems: Vec<String>,
    /// Whether the request succeeded with no problem.
    pub ok: bool,
}

impl Response {
    /// How `secpolctl` and `secpolgenerate -C` print this answer.
    pub fn describe(&self) -> Described {
        let (out, problems, ok) = match self {
            Response::Done { message } => (format!("{message}\n"), vec![], true),
            Response::Text { text } => (text.clone(), vec![], true),
            Response::Status(s) => (s.to_string(), vec![], true),
            Response::Loaded(r) => (
                format!("loaded {}: {} applied, {} unreadable\n", r.format, r.applied, r.problems.len()),
                r.problems.clone(),
                r.problems.is_empty(),
            ),
            Response::Launch(p) => (format!("type {}: {}\n", p.type_name, p.mode), vec![], true),
            Response::Error { message } => (String::new(), vec![message.clone()], false),
        };
        Described { out, problems, ok }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "pid:            {}", self.pid)?;
        writeln!(f, "uptime:         {} s", self.uptime_s)?;
        writeln!(f, "events seen:    {}", self.events_seen)?;
        writeln!(f, "events lost:    {}", self.events_lost)?;
        writeln!(f, "bad messages:   {}", self.garbage)?;
        writeln!(f, "types:          {}", self.types)?;
        writeln!(f, "failures:       {} ({} events)", self.failures, self.failure_events)?;
        writeln!(f, "refused events: {}", self.refused_types)?;
        writeln!(f, "mode:           {}", self.mode)?;
        writeln!(f, "policy id:      {}", self.policy_id)?;
        writeln!(f, "protect:        {}", self.protect.join(" "))?;
        writeln!(f, "output dir:     {}", self.output_dir)?;
        writeln!(f, "state file:     {}", self.state_file.as_deref().unwrap_or("-"))?;
        match self.last_save_s {
            Some(s) => writeln!(f, "last save:      {s} s ago")?,
            None => writeln!(f, "last save:      never")?,
        }
        if self.write_problems.is_empty() {
            writeln!(f, "write problems: none")?;
        } else {
            writeln!(f, "write problems: {} (retried at every flush)", self.write_problems.len())?;
            self.write_problems.iter().try_for_each(|p| writeln!(f, "  {p}"))?;
        }
        if let Some(fleet) = &self.fleet {
            writeln!(f, "fleet:          listening on {}, {} hosts", fleet.listen, fleet.hosts.len())?;
            for h in &fleet.hosts {
                let seen = h.last_seen_s.map_or("never".to_string(), |s| format!("{s} s ago"));
                writeln!(
                    f,
                    "  {}: {}, {} events, {} lost, {} duplicates, {} reconnects, {} sessions, last seen {seen}",
                    h.host,
                    if h.connected { "connected" } else { "not connected" },
                    h.events,
                    h.lost,
                    h.duplicates,
                    h.reconnects,
                    h.sessions
                )?;
            }
            let refused: u64 = fleet.refused.values().sum();
            writeln!(f, "fleet refused:  {refused}")?;
            fleet.refused.iter().try_for_each(|(why, n)| writeln!(f, "  {why}: {n}"))?;
        }
        if self.socket_faults.is_empty() && self.tracer_faults.is_empty() {
            return writeln!(f, "socket faults:  0");
        }
        writeln!(f, "socket faults:")?;
        self.socket_faults.iter().try_for_each(|(what, n)| writeln!(f, "  {what}: {n}"))?;
        let age = self.tracer_faults_age_s.unwrap_or_default();
        self.tracer_faults
            .iter()
            .try_for_each(|(what, n)| writeln!(f, "  {what}: {n} (reported by secpoltrace {age} s ago)"))
    }
}

/// A control exchange that failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nobody listens on the control socket.
    #[error("secpolgenerate is not running: no control socket at {0}")]
    NotRunning(String),
    /// No answer in time.
    #[error("no answer from secpolgenerate at {endpoint} within {secs} s")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The deadline, in seconds.
        secs: u64,
    },
    /// A socket operation failed.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The message could not be encoded or decoded.
    #[error("control message: {0}")]
    Codec(String),
    /// A message of another version of the protocol that this build cannot read.
    #[error("control message of version {version} (this build speaks {VERSION}): {why}")]
    Version {
        /// The version in its envelope.
        version: u16,
        /// What the decoder said.
        why: String,
    },
    /// A request not framed as `[identity, "", body]`.
    #[error("expected [\"\", body], got {0} frames")]
    Envelope(usize),
    /// The message is larger than allowed.
    #[error("control message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl ControlError {
    /// The kind of fault a rejected request was, as counted in `secpolctl status`.
    pub fn fault_kind(&self) -> &'static str {
        match self {
            ControlError::Envelope(_) => "bad envelope",
            ControlError::Version { .. } => "other version",
            ControlError::TooLarge { .. } => "oversized request",
            _ => "bad request",
        }
    }
}

#[derive(Serialize)]
struct OutEnvelope<'a, T> {
    v: u16,
    body: &'a T,
}

#[derive(Deserialize)]
struct InEnvelope<T> {
    #[serde(default)]
    #[allow(dead_code)]
    v: u16,
    body: T,
}

/// Encodes a control message (request or response) with its envelope.
pub fn encode<T: Serialize>(msg: &T, limit: usize) -> Result<Vec<u8>, ControlError> {
    let bytes = rmp_serde::to_vec_named(&OutEnvelope { v: VERSION, body: msg })
        .map_err(|e| ControlError::Codec(e.to_string()))?;
    if bytes.len() > limit {
        return Err(ControlError::TooLarge { size: bytes.len(), limit });
    }
    Ok(bytes)
}

/// Decodes a control message, refusing more than `limit` bytes.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], limit: usize) -> Result<T, ControlError> {
    if bytes.len() > limit {
        return Err(ControlError::TooLarge { size: bytes.len(), limit });
    }
    rmp_serde::from_slice::<InEnvelope<T>>(bytes).map(|e| e.body).map_err(|e| {
        // Another version's message is worth saying so; readers accept any version they can read.
        match rmp_serde::from_slice::<InEnvelope<serde::de::IgnoredAny>>(bytes) {
            Ok(envelope) if envelope.v != VERSION => {
                ControlError::Version { version: envelope.v, why: e.to_string() }
            }
            _ => ControlError::Codec(e.to_string()),
        }
    })
}

/// Sends `req` to the generator of `dir` and waits up to `timeout` for its answer.
pub fn request(dir: &RuntimeDir, req: &Request, timeout: Duration) -> Result<Response, ControlError> {
    // A user outside group secpol is told so at once, not after the timeout.
    dir.check_access(&dir.control_path()).map_err(BusError::from)?;
    request_endpoint(&dir.control_endpoint(), req, timeout)
}

/// Like [`request`] with an explicit endpoint.
///
/// A socket file left by a generator that died accepts nobody: that is said at once
/// ([`ControlError::NotRunning`]) instead of after the timeout. ZeroMQ's socket monitor tells
/// whether the first connection attempt failed; only then is the socket file probed with a
/// plain connect (a probe against a live generator would look like a broken handshake there).
pub fn request_endpoint(endpoint: &str, req: &Request, timeout: Duration) -> Result<Response, ControlError> {
    let body = encode(req, MAX_REQUEST)?;
    let ctx = zmq::Context::new();
    let io = |op| move |source| ControlError::Bus(BusError::Io { op, source });
    let sock = ctx.socket(zmq::REQ).map_err(io("socket setup"))?;
    sock.set_linger(0).map_err(io("socket setup"))?;
    sock.set_maxmsgsize(MAX_RESPONSE as i64).map_err(io("socket setup"))?;
    let attempts = Monitor::attach(
        &ctx,
        &sock,
        zmq::SocketEvent::CONNECTED as i32 | zmq::SocketEvent::CONNECT_RETRIED as i32,
    )
    .map_err(io("socket setup"))?;
    sock.connect(endpoint).map_err(|source| BusError::Connect { endpoint: endpoint.to_string(), source })?;
    let deadline = Instant::now() + timeout;
    let timed_out =
        || ControlError::Timeout { endpoint: endpoint.to_string(), secs: timeout.as_secs().max(1) };
    let left = |deadline: Instant| deadline.saturating_duration_since(Instant::now()).as_millis() as i64;
    loop {
        match attempts.next(left(deadline).max(1)) {
            Some((zmq::SocketEvent::CONNECTED, _)) => break,
            Some(_) => {
                // Refused, or the file is missing; or a full listen queue (a flood), in which
                // case ZeroMQ tries again and so does this loop.
                if let Some(path) = endpoint.strip_prefix("ipc://") {
                    if let Err(e) = std::os::unix::net::UnixStream::connect(path) {
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                        ) {
                            return Err(ControlError::NotRunning(path.to_string()));
                        }
                    }
                }
            }
            None => return Err(timed_out()),
        }
    }
    if sock.poll(zmq::POLLOUT, left(deadline)).map_err(io("send"))? == 0 {
        return Err(timed_out());
    }
    sock.send(body, zmq::DONTWAIT).map_err(io("send"))?;
    if sock.poll(zmq::POLLIN, left(deadline)).map_err(io("receive"))? == 0 {
        return Err(timed_out());
    }
    let answer = sock.recv_bytes(0).map_err(io("receive"))?;
    decode(&answer, MAX_RESPONSE)
}

/// The generator's end: a ROUTER socket on the control endpoint.
///
/// A ROUTER socket, not REP: REP keeps the state of one exchange, and a peer that sends a
/// malformed envelope (a ZMTP 1.0 peer's random bytes) and vanishes leaves it routing the
/// next asker's answer to the vanished peer. Here every request is answered by the identity
/// it came with, and anything not shaped `[identity, "", body]` is dropped and counted.
pub struct Server {
    sock: zmq::Socket,
    handshakes: HandshakeWatch,
    /// The identity of the asker to answer next.
    asker: Option<Vec<u8>>,
}

/// What [`Server::recv`] got.
#[derive(Debug)]
pub enum Incoming {
    /// A request to answer with [`Server::reply`].
    Request(Request),
    /// A message that was not a valid request; it has been answered with an error already.
    Rejected(ControlError),
    /// Nothing arrived in time.
    Idle,
}

impl Server {
    /// Binds the control endpoint of `dir` (replacing a stale socket file).
    pub fn bind(ctx: &zmq::Context, dir: &RuntimeDir) -> Result<Self, BusError> {
        Self::bind_path(ctx, dir, &dir.control_path())
    }

    /// Binds an explicit socket path inside `dir`.
    pub fn bind_path(ctx: &zmq::Context, dir: &RuntimeDir, path: &Path) -> Result<Self, BusError> {
        let io = |source| BusError::Io { op: "socket setup", source };
        let sock = ctx.socket(zmq::ROUTER).map_err(io)?;
        sock.set_linger(0).map_err(io)?;
        sock.set_maxmsgsize(MAX_REQUEST as i64).map_err(io)?;
        let handshakes = HandshakeWatch::attach(ctx, &sock, "control").map_err(io)?;
        bind_ipc(&sock, dir, path)?;
        Ok(Server { sock, handshakes, asker: None })
    }

    /// Polls for a request, together with other sockets.
    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.sock.as_poll_item(zmq::POLLIN)
    }

    /// Takes the next request if one is waiting (`timeout_ms` 0: do not wait).
    pub fn recv(&mut self, timeout_ms: i64) -> Result<Incoming, BusError> {
        let io = |source| BusError::Io { op: "control receive", source };
        if self.sock.poll(zmq::POLLIN, timeout_ms).map_err(io)? == 0 {
            return Ok(Incoming::Idle);
        }
        // A peer's broken handshake can wake the poll with nothing to read.
        let frames = match self.sock.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => frames,
            Err(zmq::Error::EAGAIN) => return Ok(Incoming::Idle),
            Err(e) => return Err(io(e)),
        };
        let (asker, result) = match frames.as_slice() {
            [id, empty, body] if empty.is_empty() => (id, decode::<Request>(body, MAX_REQUEST)),
            [id, ..] => (id, Err(ControlError::Envelope(frames.len() - 1))),
            [] => return Ok(Incoming::Idle),
        };
        self.asker = Some(asker.clone());
        match result {
            Ok(req) => Ok(Incoming::Request(req)),
            Err(e) => {
                // The error answer is a courtesy: a peer that sent garbage may not read it.
                let _ = self.reply(&Response::Error { message: format!("bad request: {e}") });
                Ok(Incoming::Rejected(e))
            }
        }
    }

    /// Records the failed handshakes on the control socket since the last call.
    pub fn drain_faults(&self, log: &mut crate::fault::FaultLog) {
        self.handshakes.drain(log);
    }

    /// Sends the answer to the request last received (once; a second call sends nothing).
    /// Never blocks: an answer to an asker that is gone is dropped.
    pub fn reply(&mut self, resp: &Response) -> Result<(), BusError> {
        let Some(asker) = self.asker.take() else { return Ok(()) };
        let body = match encode(resp, MAX_RESPONSE) {
            Ok(b) => b,
            Err(e) => encode(&Response::Error { message: e.to_string() }, MAX_RESPONSE).unwrap_or_default(),
        };
        let frames: [&[u8]; 3] = [&asker, b"", &body];
        self.sock
            .send_multipart(frames, zmq::DONTWAIT)
            .map_err(|source| BusError::Io { op: "control reply", source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let reqs = [
            Request::Status,
            Request::Clear { target: ClearTarget::Used },
            Request::Load { name: "x.log".into(), text: "info: ...".into() },
            Request::Show { output: Output::Unused },
            Request::Save,
        ];
        for r in reqs {
            let b = encode(&r, MAX_REQUEST).unwrap();
            assert_eq!(decode::<Request>(&b, MAX_REQUEST).unwrap(), r);
        }
        let resp = Response::Loaded(LoadReport {
            format: "state".into(),
            applied: 3,
            problems: vec!["f:2: x".into()],
        });
        let b = encode(&resp, MAX_RESPONSE).unwrap();
        assert_eq!(decode::<Response>(&b, MAX_RESPONSE).unwrap(), resp);
    }

    #[test]
    fn bad_bytes_and_sizes_are_errors() {
        assert!(decode::<Request>(&[0xc1, 0x00], MAX_REQUEST).is_err());
        let b = encode(&Request::Status, MAX_REQUEST).unwrap();
        assert!(matches!(decode::<Request>(&b, 2), Err(ControlError::TooLarge { .. })));
        assert!("sometimes".parse::<ClearTarget>().unwrap_err().contains("expected `used` or `errors`"));
    }

    #[test]
    fn client_and_server_talk_and_garbage_gets_an_answer() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("run");
        let dir = RuntimeDir::resolve(Some(&base));
        let err = request(&dir, &Request::Status, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, ControlError::NotRunning(_)), "{err}");
        let ctx = zmq::Context::new();
        let mut server = Server::bind(&ctx, &dir).unwrap();
        let t = std::thread::spawn(move || {
            // A raw client sending garbage first.
            let ctx = zmq::Context::new();
            let raw = ctx.socket(zmq::REQ).unwrap();
            raw.connect(&RuntimeDir::resolve(Some(&base)).control_endpoint()).unwrap();
            raw.send(&b"\xc1garbage"[..], 0).unwrap();
            let answer: Response = decode(&raw.recv_bytes(0).unwrap(), MAX_RESPONSE).unwrap();
            assert!(matches!(answer, Response::Error { .. }), "{answer:?}");
            request(&RuntimeDir::resolve(Some(&base)), &Request::Save, Duration::from_secs(5))
        });
        let mut answered = 0;
        while answered < 2 {
            match server.recv(5000).unwrap() {
                Incoming::Rejected(_) => answered += 1,
                Incoming::Request(r) => {
                    assert_eq!(r, Request::Save);
                    server.reply(&Response::Done { message: "saved".into() }).unwrap();
                    answered += 1;
                }
                Incoming::Idle => panic!("no request"),
            }
        }
        assert_eq!(t.join().unwrap().unwrap(), Response::Done { message: "saved".into() });
    }
}
