//! `secpolgenerate`: learns a security policy from the events on the bus (seed 000).
//!
//! [`learn`] decides what each event teaches under the restricted/unrestricted rules and
//! the configuration; [`store`] keeps it per type; [`state`] saves and restores it as text.

pub mod learn;
pub mod state;
pub mod store;
