//! The bus decoders, [`secpol::wire::decode_parts`] (one message) and
//! [`secpol::wire::decode_batch`] (what every subscriber reads a received `[topic, body]`
//! with: a batch of events, or one message). Any topic and body: never a panic; a message
//! accepted encodes and decodes back to itself; at most one error, and only last; and where
//! the body holds one message, both decoders agree.
//!
//! Input: the first byte picks the topic, the rest is the body. Below 0x80 it indexes
//! [`TOPICS`] (the fuzzer reaches every decoder at once); from 0x80 its low seven bits are
//! the length of a topic taken from the input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::wire::{self, WireError};

/// Topics this build knows, and one it does not.
const TOPICS: &[&[u8]] = &[
    b"ev.ability",
    b"ev.attach",
    b"ev.link",
    b"ev.connect",
    b"ev.cap_call",
    b"ev.signal",
    b"ev.remote",
    b"ev.exec",
    b"ev.exit",
    b"ev.teleport",
    b"sys.heartbeat",
    b"sys.loss",
    b"sys.faults",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (topic, body) = if pick < 0x80 {
        (TOPICS[usize::from(pick) % TOPICS.len()], rest)
    } else {
        rest.split_at(usize::from(pick & 0x7f).min(rest.len()))
    };
    let mut batch = Vec::new();
    let handed = wire::decode_batch(topic, body, |m| batch.push(m));
    assert_eq!(handed, batch.len());
    assert!(batch.iter().rev().skip(1).all(Result::is_ok), "an error before the end of a batch");
    for msg in batch.iter().flatten() {
        round_trip(msg);
    }
    let Ok(msg) = wire::decode_parts(topic, body) else { return };
    // `decode_parts` reads a body that is exactly one message (serde's fallback may read a
    // first value and ignore what follows); the batch reader starts with the same message.
    match batch.first() {
        Some(Ok(first)) => assert_eq!(first, &msg, "the batch decoder read another first message"),
        other => panic!("decode_parts accepted what decode_batch refused: {other:?}"),
    }
    round_trip(&msg);
});

fn round_trip(msg: &wire::Message) {
    match wire::encode(msg) {
        Ok(frames) => {
            let back = wire::decode(&frames).expect("an encoded message does not decode");
            assert_eq!(&back, msg, "a message changed across encode and decode");
        }
        // Defaults written out in full can outgrow a body near the limit.
        Err(WireError::TooLarge(_)) => {}
        Err(e) => panic!("a decoded message does not encode: {e}"),
    }
}
