//! `secpolctl policy|unused|errors`: prints the generator's current text of that output.

use std::process::ExitCode;
use std::time::Duration;

use secpol::control::{Output, Request};
use secpol::endpoint::RuntimeDir;

/// Runs the command.
pub fn run(dir: &RuntimeDir, output: Output, timeout: Duration) -> anyhow::Result<ExitCode> {
    super::generator::send(dir, &Request::Show { output }, timeout)
}
