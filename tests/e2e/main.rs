//! End-to-end tests: the real binaries on `ipc://` sockets in temporary directories,
//! driven as a user would. Build the binaries first (`cargo build --workspace --bins`;
//! `scripts/test.sh` does).

mod access;
mod check;
mod conventions;
mod daemons;
mod enforce;
mod enforce_ids;
mod faults;
mod fleet;
mod generator;
mod hostile;
mod kernel;
mod load;
mod monitor;
mod preload;
mod report;
mod socket_fuzz;
mod tracer_ids;
mod units;
mod util;
