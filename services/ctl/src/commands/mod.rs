//! One module per `secpolctl` subcommand.

pub mod check;
pub mod clear;
pub mod diff;
pub mod export;
pub mod generator;
pub mod keygen;
pub mod load;
pub mod merge;
pub mod on;
pub mod save;
pub mod show;
pub mod status;
