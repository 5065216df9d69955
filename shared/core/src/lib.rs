//! The core of the secpol toolchain: what every service must agree on, free of ZeroMQ and
//! of logging set-up, so that parsers, fuzz targets and tools can use it alone.
//!
//! The [event model](event), the [wire format](wire) of the bus's bodies, the
//! [endpoints](endpoint) in the runtime directory, [ability names](ability), the
//! [policy language](policy), the [configuration](config) and how it names
//! [types after cgroups](cgroup_types), and the text form of QNX `secpolmonitor` lines
//! ([`qnxlog`]) that the monitor prints and the tracer and generator read back. The
//! services reach all of it through the `secpol` crate, which adds the bus itself.
#![deny(missing_docs)]

pub mod ability;
pub mod cgroup;
pub mod cgroup_types;
pub mod config;
pub mod endpoint;
pub mod event;
pub mod files;
pub mod policy;
pub use secpol_proto as preload_proto;
pub mod process;
pub mod qnxlog;
pub mod record;
pub mod wire;

pub use event::{Event, EventKind};
