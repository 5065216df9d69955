//! The wire format of the bus: multipart `[topic, body]` ZeroMQ messages.
//!
//! The topic is ASCII and lets a SUB socket filter by prefix: `ev.<kind>` for events
//! (`ev.ability`, `ev.attach`, ...), `sys.heartbeat` and `sys.loss` for the tracer's own
//! news. The body is MessagePack with named fields, `{v: VERSION, body: {...}}`, so old
//! and new processes read each other: unknown fields are ignored and an event kind this
//! build does not know decodes as [`EventKind::Unknown`](crate::EventKind::Unknown).
//!
//! Everything received is untrusted: [`decode`] bounds the size, never panics and says
//! what was wrong.

use serde::{Deserialize, Serialize};

use crate::event::Event;

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

/// One message of the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// An observation.
    Event(Event),
    /// The tracer's heartbeat.
    Heartbeat(Heartbeat),
    /// A loss the tracer counted.
    Loss(SourceLoss),
}

impl Message {
    /// The topic this message is published under.
    pub fn topic(&self) -> String {
        match self {
            Message::Event(e) => format!("{EVENT_PREFIX}{}", e.what.name()),
            Message::Heartbeat(_) => HEARTBEAT_TOPIC.to_string(),
            Message::Loss(_) => LOSS_TOPIC.to_string(),
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

fn encode_body<T: Serialize>(body: &T) -> Result<Vec<u8>, WireError> {
    let bytes = rmp_serde::to_vec_named(&OutBody { v: VERSION, body })?;
    if bytes.len() > MAX_BODY {
        return Err(WireError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Encodes a message as its two frames `[topic, body]`.
pub fn encode(msg: &Message) -> Result<[Vec<u8>; 2], WireError> {
    let body = match msg {
        Message::Event(e) => encode_body(e)?,
        Message::Heartbeat(h) => encode_body(h)?,
        Message::Loss(l) => encode_body(l)?,
    };
    Ok([msg.topic().into_bytes(), body])
}

fn decode_body<T: for<'de> Deserialize<'de>>(topic: &str, body: &[u8]) -> Result<T, WireError> {
    rmp_serde::from_slice::<InBody<T>>(body)
        .map(|b| b.body)
        .map_err(|source| WireError::Decode { topic: topic.to_string(), source })
}

/// Decodes the frames of one message.
pub fn decode(frames: &[Vec<u8>]) -> Result<Message, WireError> {
    let [topic, body] = frames else {
        return Err(WireError::Frames(frames.len()));
    };
    if topic.len() > MAX_TOPIC {
        return Err(WireError::BadTopic(topic.len()));
    }
    let topic = std::str::from_utf8(topic).map_err(|_| WireError::BadTopic(topic.len()))?;
    if body.len() > MAX_BODY {
        return Err(WireError::TooLarge(body.len()));
    }
    if topic.starts_with(EVENT_PREFIX) {
        decode_body(topic, body).map(Message::Event)
    } else if topic == HEARTBEAT_TOPIC {
        decode_body(topic, body).map(Message::Heartbeat)
    } else if topic == LOSS_TOPIC {
        decode_body(topic, body).map(Message::Loss)
    } else {
        Err(WireError::UnknownTopic(topic.chars().take(MAX_TOPIC).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Process, Subrange, Verdict};

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
            let _ = decode(&[t, b]);
        }
    }
}
