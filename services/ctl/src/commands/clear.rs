//! `secpolctl clear used|errors`: the running generator forgets successful uses or failures.

use std::process::ExitCode;
use std::time::Duration;

use secpol::control::{ClearTarget, Request};
use secpol::endpoint::RuntimeDir;

/// Runs the command.
pub fn run(dir: &RuntimeDir, target: ClearTarget, timeout: Duration) -> anyhow::Result<ExitCode> {
    super::generator::send(dir, &Request::Clear { target }, timeout)
}
