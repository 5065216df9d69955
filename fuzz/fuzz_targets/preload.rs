//! What the preload library and the tracer exchange and read (`secpol::preload_proto`):
//! the datagram the tracer's `ingest` socket receives ([`preload_proto::records`], then
//! [`secpoltrace::ingest::cap_call`] as the tracer turns a record into an event), and the
//! two files the preload reads inside every process: `/proc/PID/cgroup`
//! ([`preload_proto::type_from_cgroup`]) and the protect file
//! ([`preload_proto::protected_caps`], [`preload_proto::validate_protect`]). Any bytes:
//! never a panic; a record it accepts encodes back to the very bytes it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::preload_proto::{self, Record, RECORD_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = preload_proto::records(data) {
        for (offset, result) in records {
            assert_eq!(offset % RECORD_LEN, 0);
            let Ok(record) = result else { continue };
            assert_eq!(&record.encode()[..], &data[offset..offset + RECORD_LEN], "record at {offset}");
            let _ = secpoltrace::ingest::cap_call(&record);
            let _ = preload_proto::wholesale_drop(record.before.permitted, record.requested.permitted);
            let keep =
                preload_proto::protect_keep(record.before.permitted, record.requested.permitted, record.arg);
            let _ = preload_proto::apply_protect(record.before, record.requested, keep);
        }
    }
    let _ = Record::decode(data);
    let type_name = preload_proto::type_from_cgroup(data);
    for t in [type_name.unwrap_or(b"default"), b"*", b"fs_t"] {
        let _ = preload_proto::protected_caps(data, t);
    }
    if let Err(e) = preload_proto::validate_protect(data) {
        assert!(e.line >= 1 && e.column >= 1, "{e}");
    }
});
