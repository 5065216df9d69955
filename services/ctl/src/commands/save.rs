//! `secpolctl save`: the generator saves its state file and rewrites its outputs now.

use std::process::ExitCode;
use std::time::Duration;

use secpol::control::Request;
use secpol::endpoint::RuntimeDir;

/// Runs the command.
pub fn run(dir: &RuntimeDir, timeout: Duration) -> anyhow::Result<ExitCode> {
    super::generator::send(dir, &Request::Save, timeout)
}
