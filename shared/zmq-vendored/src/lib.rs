//! libzmq, built from the `zeromq-src` crate's sources with CURVE through libsodium and
//! linked statically, in place of the `zmq-sys` crate's own build (whose vendored libzmq
//! has no CURVE). Nothing to call: the `zmq` crate's functions resolve to it. Why and how:
//! docs/fleet.md.
#![no_std]
