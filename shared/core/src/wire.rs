//! The wire format of the bus: multipart `[topic, body]` ZeroMQ messages.
//!
//! The topic is ASCII and lets a SUB socket filter by prefix: `ev.<kind>` for events
//! (`ev.ability`, `ev.attach`, ...), `sys.heartbeat`, `sys.loss` and `sys.faults` for the
//! tracer's own news. The body is MessagePack with named fields, `{v: VERSION, body: {...}}`, so old
//! and new processes read each other: unknown fields are ignored and an event kind this
//! build does not know decodes as [`EventKind::Unknown`](crate::EventKind::Unknown).
//!
//! Everything received is untrusted: [`decode`] bounds the size, never panics and says
//! what was wrong. Event bodies are read by a direct MessagePack decoder (`wire/fast.rs`,
//! several times faster than serde's derived one); whatever it declines goes to serde, so
//! both read the same events. docs/bus.md has the details and figures.

use serde::{Deserialize, Serialize};

use crate::event::Event;

mod fast;

pub use fast::StringPool;

/// Version written into every body. Readers accept any version: fields they do not
/// know are ignored, fields they miss take defaults.
pub const VERSION: u16 = 1;

/// Largest body accepted (and produced). Paths are at most 4 KiB, so an event is far below.
pub const MAX_BODY: usize = 64 * 1024;

/// Largest topic accepted.
pub const MAX_TOPIC: usize = 64;

/// Topic prefix of all events.
pub const EVENT_PREFIX: &str = "ev.";
/// Topic of the tracer's periodic heartbeat.
pub const HEARTBEAT_TOPIC: &str = "sys.heartbeat";
/// Topic of a loss the tracer itself counted (kernel ring buffer overflow).
pub const LOSS_TOPIC: &str = "sys.loss";

/// The tracer's periodic "still here": lets subscribers detect losses at the end of a
/// stream, and tracer restarts, even when no event follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Tracer instance id.
    pub instance: u64,
    /// Sequence number of the last event published by that instance (0: none yet).
    pub last_seq: u64,
    /// Time sent, nanoseconds since the Unix epoch.
    pub time_ns: u64,
}

/// Events the tracer knows it lost before publishing them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoss {
    /// Tracer instance id.
    pub instance: u64,
    /// How many events were lost.
    pub count: u64,
    /// Where (`kernel ring buffer`, `preload socket`).
    pub source: String,
}

/// Topic of the tracer's counts of faults on the sockets it listens on.
pub const FAULTS_TOPIC: &str = "sys.faults";

/// Faults the tracer counted on the sockets it listens on (`events`, `ingest`): bad
/// handshakes, garbage, oversized or malformed datagrams. Sent after a heartbeat when the
/// counts changed, so `secpolctl status` can show them (the generator keeps the last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketFaults {
    /// Tracer instance id.
    pub instance: u64,
    /// Counts since the tracer started, as `socket: kind` -> count.
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// One message of the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// An observation.
    Event(Event),
    /// The tracer's heartbeat.
    Heartbeat(Heartbeat),
    /// A loss the tracer counted.
    Loss(SourceLoss),
    /// The tracer's socket fault counts.
    Faults(SocketFaults),
}

impl Message {
    /// The topic this message is published under.
    pub fn topic(&self) -> String {
        self.topic_parts().concat()
    }

    fn topic_parts(&self) -> [&'static str; 2] {
        match self {
            Message::Event(e) => [EVENT_PREFIX, e.what.name()],
            Message::Heartbeat(_) => [HEARTBEAT_TOPIC, ""],
            Message::Loss(_) => [LOSS_TOPIC, ""],
            Message::Faults(_) => [FAULTS_TOPIC, ""],
        }
    }
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The message did not have exactly two frames.
    #[error("expected 2 frames [topic, body], got {0}")]
    Frames(usize),
    /// The topic was too long or not UTF-8.
    #[error("malformed topic ({0} bytes)")]
    BadTopic(usize),
    /// A topic this build does not know.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// The body was larger than [`MAX_BODY`].
    #[error("body of {0} bytes exceeds the limit of {MAX_BODY}")]
    TooLarge(usize),
    /// The body was not valid MessagePack of the expected shape.
    #[error("undecodable {topic} body: {source}")]
    Decode {
        /// Topic of the message.
        topic: String,
        /// What the decoder said.
        source: rmp_serde::decode::Error,
    },
    /// Encoding failed (only for values that cannot be represented).
    #[error("cannot encode message: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

#[derive(Serialize)]
struct OutBody<'a, T> {
    v: u16,
    body: &'a T,
}

#[derive(Deserialize)]
struct InBody<T> {
    #[serde(default)]
    #[allow(dead_code)]
    v: u16,
    body: T,
}

/// Appends the body of one message to `out`; on an error `out` is as it was.
fn encode_body<T: Serialize>(body: &T, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    let mut ser = rmp_serde::Serializer::new(&mut *out).with_struct_map();
    let written = OutBody { v: VERSION, body }.serialize(&mut ser);
    let len = out.len() - start;
    let result = match written {
        Err(e) => Err(e.into()),
        Ok(()) if len > MAX_BODY => Err(WireError::TooLarge(len)),
        Ok(()) => return Ok(()),
    };
    out.truncate(start);
    result
}

/// Encodes a message as its two frames `[topic, body]`.
pub fn encode(msg: &Message) -> Result<[Vec<u8>; 2], WireError> {
    let (mut topic, mut body) = (Vec::new(), Vec::new());
    encode_into(msg, &mut topic, &mut body)?;
    Ok([topic, body])
}

/// Like [`encode`], into buffers the caller reuses (they are cleared first), so a publisher
/// allocates nothing per message.
pub fn encode_into(msg: &Message, topic: &mut Vec<u8>, body: &mut Vec<u8>) -> Result<(), WireError> {
    topic.clear();
    body.clear();
    for part in msg.topic_parts() {
        topic.extend_from_slice(part.as_bytes());
    }
    match msg {
        Message::Event(e) => encode_body(e, body),
        Message::Heartbeat(h) => encode_body(h, body),
        Message::Loss(l) => encode_body(l, body),
        Message::Faults(f) => encode_body(f, body),
    }
}

fn decode_body<T: for<'de> Deserialize<'de>>(topic: &str, body: &[u8]) -> Result<T, WireError> {
    rmp_serde::from_slice::<InBody<T>>(body)
        .map(|b| b.body)
        .map_err(|source| WireError::Decode { topic: topic.to_string(), source })
}

/// An event body: the direct decoder ([`fast`]) first, serde's derived one when it declines.
fn decode_event(topic: &str, body: &[u8]) -> Result<Event, WireError> {
    match fast::event(body) {
        Some(e) => Ok(e),
        None => decode_body(topic, body),
    }
}

/// The direct event decoder alone: the event, or `None` where it declines. Public only for
/// the differential fuzz target (fuzz/), which compares it with [`decode_event_derived`].
#[doc(hidden)]
pub fn decode_event_fast(body: &[u8]) -> Option<Event> {
    fast::event(body)
}

/// Serde's derived event decoder alone (the fallback of [`decode`]). Public only for the
/// differential fuzz target (fuzz/).
#[doc(hidden)]
pub fn decode_event_derived(body: &[u8]) -> Result<Event, rmp_serde::decode::Error> {
    rmp_serde::from_slice::<InBody<Event>>(body).map(|b| b.body)
}

/// Most events one message carries ([`Batch`]).
pub const MAX_BATCH_EVENTS: usize = 32;

/// A [`Batch`] takes no further event once its body is this large; with the last event it
/// stays within [`MAX_BODY`]. Together with the bus's high-water mark in messages, this
/// bounds the memory of a full queue (docs/bus.md).
pub const BATCH_BODY: usize = 4 * 1024;

/// Events of one kind in one message: the topic `ev.<kind>`, and a body that holds the
/// events' bodies one after another, each exactly as [`encode`] writes it, so a batch of one
/// is the same bytes as the single message. The tracer sends what it has queued this way
/// (never waiting for a batch to fill), which spares each subscriber a receive per event.
#[derive(Debug, Default)]
pub struct Batch {
    topic: Vec<u8>,
    body: Vec<u8>,
    events: usize,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Adds an event: `Ok(false)` when it does not belong here (another kind, or the batch
    /// is full), and the batch is unchanged; send it, [`clear`](Self::clear) it and push
    /// again. An event too large for any message is an error.
    pub fn push(&mut self, event: &Event) -> Result<bool, WireError> {
        let kind = event.what.name().as_bytes();
        if self.events > 0
            && (self.events >= MAX_BATCH_EVENTS
                || self.body.len() >= BATCH_BODY
                || self.topic.get(EVENT_PREFIX.len()..) != Some(kind))
        {
            return Ok(false);
        }
        let start = self.body.len();
        encode_body(event, &mut self.body)?;
        if self.body.len() > MAX_BODY {
            self.body.truncate(start);
            return Ok(false);
        }
        if self.events == 0 {
            self.topic.clear();
            self.topic.extend_from_slice(EVENT_PREFIX.as_bytes());
            self.topic.extend_from_slice(kind);
        }
        self.events += 1;
        Ok(true)
    }

    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.events
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// The two frames to send.
    pub fn frames(&self) -> (&[u8], &[u8]) {
        (&self.topic, &self.body)
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.body.clear();
        self.events = 0;
    }
}

/// Decodes every message of a received `[topic, body]`: one for `sys.` topics, and for an
/// event topic each event of the body in turn (a [`Batch`]; one event is a batch of one).
/// Damage stops the walk: the error is handed on once and the rest of that body is
/// dropped, since where the next event starts is then unknown. Returns how many were
/// handed on.
pub fn decode_batch(topic: &[u8], body: &[u8], each: impl FnMut(Result<Message, WireError>)) -> usize {
    decode_batch_pooled(topic, body, &mut StringPool::default(), each)
}

/// [`decode_batch`], with the events' strings in buffers from `pool` (give handled events
/// back with [`StringPool::recycle`]).
pub fn decode_batch_pooled(
    topic: &[u8],
    body: &[u8],
    pool: &mut StringPool,
    mut each: impl FnMut(Result<Message, WireError>),
) -> usize {
    let mut reader = BatchReader::default();
    let mut n = 0;
    while let Some(m) = reader.next(topic, body, pool) {
        n += 1;
        each(m);
    }
    n
}

/// Where a walk through the messages of one received `[topic, body]` stands: what
/// [`decode_batch`] does, a message at a time, so a subscriber can hand each on as it is
/// decoded (the frames stay where ZeroMQ received them).
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchReader {
    /// Bytes of the body already read.
    pos: usize,
    /// The first message was handed on.
    started: bool,
    /// Nothing more comes: an error was handed on, or the one message of a `sys.` topic.
    ended: bool,
}

impl BatchReader {
    /// The next message of `topic` and `body` (the same frames at every call), `None` once
    /// all were handed on or an error was.
    pub fn next(
        &mut self,
        topic: &[u8],
        body: &[u8],
        pool: &mut StringPool,
    ) -> Option<Result<Message, WireError>> {
        if self.is_done(body) {
            return None;
        }
        // The first message says what the body is: a single message (or its error) unless
        // the topic is a valid event topic and the body within bounds.
        if !self.started {
            self.started = true;
            let event_topic = topic.len() <= MAX_TOPIC
                && topic.starts_with(EVENT_PREFIX.as_bytes())
                && std::str::from_utf8(topic).is_ok();
            if !event_topic || body.len() > MAX_BODY {
                self.ended = true;
                return Some(decode_parts(topic, body));
            }
        }
        match next_event(topic, &body[self.pos..], pool) {
            Ok((event, used)) => {
                self.pos += used;
                Some(Ok(Message::Event(event)))
            }
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }

    /// Whether nothing of `body` is left to hand on.
    pub fn is_done(&self, body: &[u8]) -> bool {
        self.ended || (self.started && self.pos >= body.len())
    }
}

/// The first event of `body` and how many bytes it took: the direct decoder first,
/// serde's derived one when it declines.
fn next_event(topic: &[u8], body: &[u8], pool: &mut StringPool) -> Result<(Event, usize), WireError> {
    if let Some(found) = fast::first_event(body, pool) {
        return Ok(found);
    }
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(body));
    match InBody::<Event>::deserialize(&mut de) {
        // Serde reads nothing past the value, so a value takes at least one byte.
        Ok(b) => Ok((b.body, (de.position() as usize).max(1))),
        Err(source) => Err(WireError::Decode { topic: String::from_utf8_lossy(topic).into_owned(), source }),
    }
}

/// Decodes the frames of one message.
pub fn decode(frames: &[Vec<u8>]) -> Result<Message, WireError> {
    let [topic, body] = frames else {
        return Err(WireError::Frames(frames.len()));
    };
    decode_parts(topic, body)
}

/// Decodes one message from its topic and body frames.
pub fn decode_parts(topic: &[u8], body: &[u8]) -> Result<Message, WireError> {
    if topic.len() > MAX_TOPIC {
        return Err(WireError::BadTopic(topic.len()));
    }
    let topic = std::str::from_utf8(topic).map_err(|_| WireError::BadTopic(topic.len()))?;
    if body.len() > MAX_BODY {
        return Err(WireError::TooLarge(body.len()));
    }
    if topic.starts_with(EVENT_PREFIX) {
        decode_event(topic, body).map(Message::Event)
    } else if topic == HEARTBEAT_TOPIC {
        decode_body(topic, body).map(Message::Heartbeat)
    } else if topic == LOSS_TOPIC {
        decode_body(topic, body).map(Message::Loss)
    } else if topic == FAULTS_TOPIC {
        decode_body(topic, body).map(Message::Faults)
    } else {
        Err(WireError::UnknownTopic(topic.chars().take(MAX_TOPIC).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AttachResult, EventKind, Process, Subrange, Verdict};
    use proptest::prelude::*;

    fn sample() -> Event {
        Event {
            instance: 7,
            seq: 42,
            time_ns: 1_700_000_000_000_000_000,
            process: Process {
                pid: 2_949_147,
                name: Some("usr/bin/touch".into()),
                type_name: "fs_user_t".into(),
                uid: Some(0),
                euid: Some(0),
                start_ns: None,
            },
            what: EventKind::Ability {
                ability: "channel_connect".into(),
                range: Some(Subrange::value(1)),
                target_type: Some("fs_t".into()),
                root: true,
                verdict: Verdict::Allowed,
                probe: false,
            },
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pins the bytes on the wire: a change here breaks every deployed peer.
    #[test]
    fn golden_bytes_of_an_ability_event() {
        let [topic, body] = encode(&Message::Event(sample())).unwrap();
        assert_eq!(topic, b"ev.ability");
        let golden = include_str!("../testdata/wire-ability.hex").trim();
        assert_eq!(hex(&body), golden, "wire bytes changed; old peers would not read them");
        assert_eq!(decode(&[topic, body]).unwrap(), Message::Event(sample()));
    }

    #[test]
    fn round_trips_every_message() {
        let msgs = [
            Message::Event(sample()),
            Message::Heartbeat(Heartbeat { instance: 1, last_seq: 9, time_ns: 5 }),
            Message::Loss(SourceLoss { instance: 1, count: 3, source: "kernel ring buffer".into() }),
            Message::Faults(SocketFaults {
                instance: 1,
                counts: [("ingest: bad datagram".to_string(), 2)].into_iter().collect(),
            }),
        ];
        for m in msgs {
            let frames = encode(&m).unwrap();
            assert_eq!(decode(&frames).unwrap(), m);
        }
    }

    #[test]
    fn unknown_kind_and_fields_are_tolerated() {
        #[derive(Serialize)]
        struct Future<'a> {
            v: u16,
            body: FutureEvent<'a>,
            extra: u8,
        }
        #[derive(Serialize)]
        struct FutureEvent<'a> {
            instance: u64,
            seq: u64,
            process: Process,
            what: FutureKind<'a>,
            colour: &'a str,
        }
        #[derive(Serialize)]
        struct FutureKind<'a> {
            kind: &'a str,
            quark: u32,
        }
        let body = rmp_serde::to_vec_named(&Future {
            v: 9,
            extra: 1,
            body: FutureEvent {
                instance: 1,
                seq: 2,
                process: sample().process,
                what: FutureKind { kind: "teleport", quark: 3 },
                colour: "red",
            },
        })
        .unwrap();
        let Message::Event(e) = decode(&[b"ev.teleport".to_vec(), body]).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(e.what, EventKind::Unknown);
        assert_eq!(e.seq, 2);
    }

    #[test]
    fn rejects_bad_frames_with_reasons() {
        assert!(matches!(decode(&[]), Err(WireError::Frames(0))));
        assert!(matches!(decode(&[b"x".to_vec(), vec![]]), Err(WireError::UnknownTopic(_))));
        assert!(matches!(decode(&[vec![0xff], vec![]]), Err(WireError::BadTopic(1))));
        assert!(matches!(
            decode(&[b"ev.ability".to_vec(), vec![0; MAX_BODY + 1]]),
            Err(WireError::TooLarge(_))
        ));
        let [t, b] = encode(&Message::Event(sample())).unwrap();
        let err = decode(&[t, b[..b.len() / 2].to_vec()]).unwrap_err();
        assert!(err.to_string().starts_with("undecodable ev.ability body"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(topic in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
                                body in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = decode(&[topic, body.clone()]);
            let _ = decode(&[b"ev.ability".to_vec(), body.clone()]);
            let _ = decode(&[b"sys.heartbeat".to_vec(), body]);
        }

        #[test]
        fn mutated_events_never_panic(pos in 0usize..400, byte in proptest::num::u8::ANY, cut in 0usize..400) {
            let [t, mut b] = encode(&Message::Event(sample())).unwrap();
            let p = pos % b.len();
            b[p] = byte;
            b.truncate(cut.max(1).min(b.len()));
            // Where both decoders accept a damaged body, they read the same event.
            if let (Ok(f), Ok(d)) = (fast_only(&b), derived_only(&b)) {
                proptest::prop_assert_eq!(f, d);
            }
            let _ = decode(&[t, b]);
        }

        #[test]
        fn mutated_events_of_every_kind_agree(e in arb_event(), pos in 0usize..400, byte in proptest::num::u8::ANY) {
            let [_, mut b] = encode(&Message::Event(e)).unwrap();
            let p = pos % b.len();
            b[p] = byte;
            if let (Ok(f), Ok(d)) = (fast_only(&b), derived_only(&b)) {
                proptest::prop_assert_eq!(f, d);
            }
        }

        /// The encoder's output always takes the fast path, and it reads what serde's
        /// derived decoder reads: the names the direct decoder knows match the event model.
        #[test]
        fn fast_decoder_agrees_with_serde(e in arb_event()) {
            let [_, body] = encode(&Message::Event(e.clone())).unwrap();
            let fast = fast_only(&body).expect("the fast decoder declined an encoded event");
            proptest::prop_assert_eq!(&fast, &e);
            proptest::prop_assert_eq!(&derived_only(&body).unwrap(), &e);
        }

        /// Events packed into batches come out of `decode_batch` as they went in, in order,
        /// whatever their kinds and sizes.
        #[test]
        fn batches_carry_every_event_in_order(events in proptest::collection::vec(arb_event(), 1..80)) {
            let mut got = Vec::new();
            let mut batch = Batch::new();
            let mut sizes = Vec::new();
            let mut send = |batch: &mut Batch| {
                let (topic, body) = batch.frames();
                proptest::prop_assert!(body.len() <= MAX_BODY);
                sizes.push(batch.len());
                let n = decode_batch(topic, body, |m| got.push(m.unwrap()));
                proptest::prop_assert_eq!(n, batch.len());
                batch.clear();
                Ok(())
            };
            for e in &events {
                if !batch.push(e).unwrap() {
                    send(&mut batch)?;
                    proptest::prop_assert!(batch.push(e).unwrap());
                }
            }
            send(&mut batch)?;
            proptest::prop_assert!(sizes.iter().all(|&n| (1..=MAX_BATCH_EVENTS).contains(&n)));
            let want: Vec<Message> = events.into_iter().map(Message::Event).collect();
            proptest::prop_assert_eq!(got, want);
        }

        /// Strings decoded into the buffers of recycled events hold exactly the new text,
        /// whatever the recycled events held (longer, shorter, other kinds).
        #[test]
        fn pooled_strings_hold_only_the_new_text(
            first in proptest::collection::vec(arb_event(), 1..40),
            second in proptest::collection::vec(arb_event(), 1..40),
        ) {
            let mut pool = StringPool::default();
            for events in [first, second] {
                for e in events {
                    let [topic, body] = encode(&Message::Event(e.clone())).unwrap();
                    let mut got = Vec::new();
                    decode_batch_pooled(&topic, &body, &mut pool, |m| got.push(m.unwrap()));
                    proptest::prop_assert_eq!(&got, &vec![Message::Event(e)]);
                    for m in got {
                        if let Message::Event(e) = m {
                            pool.recycle(e);
                        }
                    }
                }
            }
        }

        /// Damage anywhere in a batch never panics; what comes before it is read, then one
        /// error at most, and nothing after it.
        #[test]
        fn damaged_batches_stop_at_the_damage(e in arb_event(), pos in 0usize..2000, byte in proptest::num::u8::ANY) {
            let mut batch = Batch::new();
            for seq in 0..8 {
                assert!(batch.push(&Event { seq, ..e.clone() }).unwrap());
            }
            let (topic, body) = batch.frames();
            let mut body = body.to_vec();
            let at = pos % body.len();
            body[at] ^= byte | 1;
            let mut results = Vec::new();
            decode_batch(topic, &body, |m| results.push(m));
            let errors = results.iter().filter(|r| r.is_err()).count();
            proptest::prop_assert!(errors <= 1);
            if errors == 1 {
                proptest::prop_assert!(results.last().unwrap().is_err());
            }
        }
    }

    #[test]
    fn a_batch_of_one_is_the_single_message() {
        let e = sample();
        let mut batch = Batch::new();
        assert!(batch.is_empty());
        assert!(batch.push(&e).unwrap());
        let [topic, body] = encode(&Message::Event(e)).unwrap();
        assert_eq!(batch.frames(), (&topic[..], &body[..]));
        assert_eq!(batch.len(), 1);
    }

    #[test]
    fn a_batch_holds_one_kind_and_closes_when_full() {
        let mut small = Event { what: EventKind::Exit { code: 0 }, ..sample() };
        small.process.name = None;
        let mut batch = Batch::new();
        for _ in 0..MAX_BATCH_EVENTS {
            assert!(batch.push(&small).unwrap());
        }
        assert!(batch.frames().1.len() < BATCH_BODY);
        assert!(!batch.push(&small).unwrap(), "a full batch took another event");
        assert_eq!(batch.len(), MAX_BATCH_EVENTS);
        batch.clear();
        let mut e = sample();
        assert!(batch.push(&e).unwrap());
        let exec = Event { what: EventKind::Exec { path: "bin/true".into() }, ..sample() };
        let before = batch.frames().1.len();
        assert!(!batch.push(&exec).unwrap(), "an exec joined a batch of ability checks");
        assert_eq!(batch.frames().1.len(), before, "a refused push changed the batch");
        batch.clear();
        assert!(batch.push(&exec).unwrap());
        assert_eq!(batch.frames().0, b"ev.exec");
        // Large events: the body stops taking them past BATCH_BODY, and stays within MAX_BODY.
        batch.clear();
        let with_ability = |e: &mut Event, name: String| {
            if let EventKind::Ability { ability, .. } = &mut e.what {
                *ability = name;
            }
        };
        with_ability(&mut e, "a".repeat(3000));
        assert!(batch.push(&e).unwrap());
        assert!(batch.push(&e).unwrap());
        assert!(!batch.push(&e).unwrap(), "a batch grew past {BATCH_BODY} bytes");
        with_ability(&mut e, "a".repeat(MAX_BODY));
        batch.clear();
        assert!(matches!(batch.push(&e), Err(WireError::TooLarge(_))));
        assert!(batch.is_empty());
    }

    #[test]
    fn a_batch_with_garbage_after_its_events_hands_on_the_events_then_one_error() {
        let mut batch = Batch::new();
        for seq in 1..=3 {
            assert!(batch.push(&Event { seq, ..sample() }).unwrap());
        }
        let (topic, body) = batch.frames();
        let mut body = body.to_vec();
        body.extend_from_slice(b"\xc1garbage");
        let mut got = Vec::new();
        assert_eq!(decode_batch(topic, &body, |m| got.push(m)), 4);
        let seqs: Vec<u64> = got[..3]
            .iter()
            .map(|m| match m {
                Ok(Message::Event(e)) => e.seq,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(got[3].as_ref().unwrap_err().to_string().starts_with("undecodable ev.ability body"));
        // Heartbeats and other `sys.` messages are single; an empty event body is an error.
        let [t, b] = encode(&Message::Heartbeat(Heartbeat { instance: 1, last_seq: 2, time_ns: 3 })).unwrap();
        let mut one = Vec::new();
        assert_eq!(decode_batch(&t, &b, |m| one.push(m.unwrap())), 1);
        assert_eq!(decode_batch(b"ev.exec", b"", |m| assert!(m.is_err())), 1);
        assert_eq!(decode_batch(b"ev.exec", &[0u8; MAX_BODY + 1], |m| assert!(m.is_err())), 1);
    }

    /// Unknown fields of every MessagePack type are skipped, at the top and inside `what`.
    #[test]
    fn fast_decoder_skips_unknown_fields_of_any_type() {
        // ["ab" as bin, fixext1, ext8 of 3 bytes, 1.5f32, {"k": nil}, -5, -300i16, u64::MAX, a long str]
        let mut extra = vec![0xa1, b'x', 0x99, 0xc4, 2, b'a', b'b', 0xd4, 5, 1, 0xc7, 3, 1, b'x', b'y', b'z'];
        extra.extend([0xca, 0x3f, 0xc0, 0, 0, 0xde, 0, 1, 0xa1, b'k', 0xc0, 0xfb, 0xd1, 0xfe, 0xd4]);
        extra.extend([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd9, 40]);
        extra.extend([b'z'; 40]);
        let [_, body] = encode(&Message::Event(sample())).unwrap();
        // At the top: one more entry in the outer map.
        assert_eq!(body[0], 0x82);
        let mut top = body.clone();
        top[0] = 0x83;
        top.extend(&extra);
        // Inside `what`, right after `kind`.
        let what = b"\xa4what\x87\xa4kind\xa7ability";
        let at = body.windows(what.len()).position(|w| w == what).unwrap();
        let mut inner = body[..at].to_vec();
        inner.extend(b"\xa4what\x88\xa4kind\xa7ability");
        inner.extend(&extra);
        inner.extend(&body[at + what.len()..]);
        for b in [top, inner] {
            assert_eq!(fast_only(&b), Ok(sample()));
            assert_eq!(derived_only(&b).unwrap(), sample());
        }
    }

    fn fast_only(body: &[u8]) -> Result<Event, &'static str> {
        decode_event_fast(body).ok_or("declined")
    }

    fn derived_only(body: &[u8]) -> Result<Event, rmp_serde::decode::Error> {
        decode_event_derived(body)
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        use crate::event::{AttachResult, CapAction, CapRequest, Domain};
        let text = || "\\PC{0,12}";
        let verdict = || prop_oneof![Just(Verdict::Allowed), any::<i32>().prop_map(Verdict::Denied)];
        let result = || {
            prop_oneof![
                Just(AttachResult::Ok),
                Just(AttachResult::NoRule),
                Just(AttachResult::Conflict),
                Just(AttachResult::BadOp),
                any::<i32>().prop_map(AttachResult::Errno),
            ]
        };
        let range = (any::<u64>(), any::<u64>()).prop_map(|(lo, hi)| Subrange { lo, hi });
        let action = prop_oneof![
            Just(CapAction::Allow),
            Just(CapAction::Deny),
            Just(CapAction::Drop),
            Just(CapAction::Lock),
            Just(CapAction::Inherit),
            Just(CapAction::NoInherit),
        ];
        let domain = prop_oneof![Just(Domain::Root), Just(Domain::NonRoot), Just(Domain::All)];
        let request = (text(), domain, proptest::collection::vec(action, 0..4))
            .prop_map(|(ability, domain, actions)| CapRequest { ability, domain, actions });
        let kind = prop_oneof![
            (
                text(),
                proptest::option::of(range),
                proptest::option::of(text()),
                any::<bool>(),
                verdict(),
                any::<bool>()
            )
                .prop_map(|(ability, range, target_type, root, verdict, probe)| {
                    EventKind::Ability { ability, range, target_type, root, verdict, probe }
                }),
            (text(), result()).prop_map(|(path, result)| EventKind::Attach { path, result }),
            (text(), proptest::option::of(text()), result())
                .prop_map(|(path, target, result)| EventKind::Link { path, target, result }),
            (text(), text(), verdict()).prop_map(|(path, channel_type, verdict)| EventKind::Connect {
                path,
                channel_type,
                verdict
            }),
            (text(), proptest::collection::vec(request, 0..3), verdict())
                .prop_map(|(call, requests, verdict)| EventKind::CapCall { call, requests, verdict }),
            (any::<u32>(), text(), any::<i32>(), verdict()).prop_map(
                |(target_pid, target_type, signal, verdict)| {
                    EventKind::Signal { target_pid, target_type, signal, verdict }
                }
            ),
            (text(), verdict()).prop_map(|(address, verdict)| EventKind::Remote { address, verdict }),
            text().prop_map(|path| EventKind::Exec { path }),
            any::<i32>().prop_map(|code| EventKind::Exit { code }),
        ];
        let process = (
            any::<u32>(),
            proptest::option::of(text()),
            text(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(pid, name, type_name, uid, euid, start_ns)| Process {
                pid,
                name,
                type_name,
                uid,
                euid,
                start_ns,
            });
        (any::<u64>(), any::<u64>(), any::<u64>(), process, kind).prop_map(
            |(instance, seq, time_ns, process, what)| Event { instance, seq, time_ns, process, what },
        )
    }

    #[test]
    fn kind_not_first_still_decodes() {
        #[derive(Serialize)]
        struct Body<'a> {
            v: u16,
            body: Ev<'a>,
        }
        #[derive(Serialize)]
        struct Ev<'a> {
            process: Process,
            what: What<'a>,
        }
        // `kind` last, optional fields missing: only the fallback reads it.
        #[derive(Serialize)]
        struct What<'a> {
            ability: &'a str,
            root: bool,
            verdict: Verdict,
            kind: &'a str,
        }
        let what = What { ability: "setuid", root: false, verdict: Verdict::Denied(1), kind: "ability" };
        let body =
            rmp_serde::to_vec_named(&Body { v: 1, body: Ev { process: sample().process, what } }).unwrap();
        assert!(fast_only(&body).is_err(), "the fast decoder must decline, not guess");
        let Message::Event(e) = decode(&[b"ev.ability".to_vec(), body]).unwrap() else {
            panic!("not an event")
        };
        let want = EventKind::Ability {
            ability: "setuid".into(),
            range: None,
            target_type: None,
            root: false,
            verdict: Verdict::Denied(1),
            probe: false,
        };
        assert_eq!((e.instance, e.seq, e.what), (0, 0, want));
    }

    /// Fields a peer leaves out take the same defaults on both paths.
    #[test]
    fn missing_optional_fields_take_defaults_on_the_fast_path() {
        #[derive(Serialize)]
        struct Body<'a> {
            body: Ev<'a>,
        }
        #[derive(Serialize)]
        struct Ev<'a> {
            process: Min<'a>,
            what: What<'a>,
        }
        #[derive(Serialize)]
        struct Min<'a> {
            pid: u32,
            #[serde(rename = "type")]
            type_name: &'a str,
        }
        #[derive(Serialize)]
        struct What<'a> {
            kind: &'a str,
            path: &'a str,
            result: AttachResult,
        }
        let body = rmp_serde::to_vec_named(&Body {
            body: Ev {
                process: Min { pid: 3, type_name: "t" },
                what: What { kind: "link", path: "/l", result: AttachResult::Ok },
            },
        })
        .unwrap();
        let fast = fast_only(&body).unwrap();
        assert_eq!(fast, derived_only(&body).unwrap());
        assert_eq!(fast.what, EventKind::Link { path: "/l".into(), target: None, result: AttachResult::Ok });
        assert_eq!(fast.process.name, None);
    }
}
