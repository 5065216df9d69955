//! The common library of the secpol toolchain.
//!
//! Every service links this crate, so the things they must agree on live here once:
//! the [event model](event), the [wire format](wire) of the ZeroMQ bus, the
//! [endpoints](endpoint) in the runtime directory, [ability names](ability), and the
//! text form of QNX `secpolmonitor` lines ([`qnxlog`]) that the monitor prints and the
//! tracer and generator read back.
#![deny(missing_docs)]

// libzmq itself (CURVE through libsodium), statically linked: docs/fleet.md.
use secpol_zmq_vendored as _;

pub mod ability;
pub mod bus;
pub mod cgroup;
pub mod cgroup_types;
pub mod cli;
pub mod config;
pub mod control;
pub mod docs;
pub mod endpoint;
pub mod event;
pub mod fault;
pub mod files;
pub mod fleet;
pub mod policy;
pub mod preload_proto;
pub mod qnxlog;
pub mod record;
pub mod systemd;
pub mod wire;

pub use event::{Event, EventKind};
