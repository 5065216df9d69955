//! The two event decoders against each other: the direct one (`wire/fast.rs`) and serde's
//! derived one it falls back to. Where both decode a body, they read the same event; and
//! the direct one never accepts a body serde refuses (which bodies are valid stays serde's).
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::wire::{decode_event_derived, decode_event_fast};

fuzz_target!(|body: &[u8]| {
    let fast = decode_event_fast(body);
    let derived = decode_event_derived(body);
    match (fast, derived) {
        (Some(f), Ok(d)) => assert_eq!(f, d, "the decoders read different events"),
        (Some(f), Err(e)) => panic!("the direct decoder accepted a body serde refuses ({e}): {f:?}"),
        (None, _) => {}
    }
});
