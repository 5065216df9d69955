//! The control protocol's decoder, [`secpol::control::decode`]: what the generator reads
//! from its `control` socket (a [`Request`]) and what `secpolctl` reads back (a
//! [`Response`]). Any bytes: never a panic; a request or response it accepts encodes and
//! decodes back to itself, and a response always describes itself for a person.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::control::{self, Request, Response, MAX_REQUEST, MAX_RESPONSE};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = control::decode::<Request>(data, MAX_REQUEST) {
        let bytes = control::encode(&req, MAX_REQUEST).expect("a decoded request does not encode");
        let back: Request = control::decode(&bytes, MAX_REQUEST).expect("an encoded request does not decode");
        assert_eq!(back, req);
    }
    if let Ok(resp) = control::decode::<Response>(data, MAX_RESPONSE) {
        let _ = resp.describe();
        let bytes = control::encode(&resp, MAX_RESPONSE).expect("a decoded response does not encode");
        let back: Response =
            control::decode(&bytes, MAX_RESPONSE).expect("an encoded response does not decode");
        assert_eq!(back, resp);
    }
});
