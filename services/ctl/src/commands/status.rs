//! `secpolctl status`: the running generator's uptime, events seen and lost, types,
//! failures, mode and protected abilities.

use std::process::ExitCode;
use std::time::Duration;

use secpol::control::Request;
use secpol::endpoint::RuntimeDir;

/// Runs the command.
pub fn run(dir: &RuntimeDir, timeout: Duration) -> anyhow::Result<ExitCode> {
    super::generator::send(dir, &Request::Status, timeout)
}
