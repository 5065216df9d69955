//! `secpolgenerate`: learns a security policy from the events on the bus (seed 000).
//!
//! [`learn`] decides what each event teaches under the restricted/unrestricted rules and
//! the configuration; [`store`] keeps it per type; [`state`] saves and restores it as text;
//! [`output`] renders `policy`, `unused`, `errors` and the protect list through the policy
//! model, with [`self_managed`] deciding what a type's own capability calls mean; [`service`] is the loop that ties the bus, the control socket, the files and the
//! signals together (`run(settings, shutdown, reload)`), so tests can run it in-process.

pub mod base;
pub mod collector;
pub mod files;
pub mod learn;
pub mod output;
pub mod self_managed;
pub mod service;
pub mod state;
pub mod store;
pub mod syslog;

pub use service::{run, Settings};
