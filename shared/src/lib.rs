//! The common library of the secpol toolchain.
//!
//! Every service links this crate, so the things they must agree on live here once. The
//! core (event model, wire format, endpoints, policy language, ability names, config, QNX
//! log lines) is the crate `secpol-core`, re-exported here module by module; this crate adds
//! the edge: the ZeroMQ [bus], the [control] socket, [fleet] keys and topics, [fault]
//! counting, command-line and logging set-up ([`cli`], [`docs`]) and [systemd]
//! notification. `docs/architecture.md` maps every module.
#![deny(missing_docs)]

// libzmq itself (CURVE through libsodium), statically linked: docs/fleet.md.
use secpol_zmq_vendored as _;

pub use secpol_core::{
    ability, cgroup, cgroup_types, config, endpoint, event, files, policy, preload_proto, process, qnxlog,
    record, wire,
};
pub use secpol_core::{Event, EventKind};

pub mod bus;
pub mod cli;
pub mod control;
pub mod docs;
pub mod fault;
pub mod fleet;
pub mod systemd;
