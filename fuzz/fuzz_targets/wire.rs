//! The bus decoder, [`secpol::wire::decode_parts`]: every subscriber (generator, monitor)
//! reads `[topic, body]` with it. Any topic and body: never a panic; a message it accepts
//! encodes and decodes back to itself.
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
    let Ok(msg) = wire::decode_parts(topic, body) else { return };
    match wire::encode(&msg) {
        Ok(frames) => {
            let back = wire::decode(&frames).expect("an encoded message does not decode");
            assert_eq!(back, msg, "a message changed across encode and decode");
        }
        // Defaults written out in full can outgrow a body near the limit.
        Err(WireError::TooLarge(_)) => {}
        Err(e) => panic!("a decoded message does not encode: {e}"),
    }
});
