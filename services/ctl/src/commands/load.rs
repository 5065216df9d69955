//! `secpolctl load FILE`: the running generator applies a state file or a secpolmonitor log
//! (QNX target logs too); the answer comes once the contents are applied, and unreadable
//! lines are reported as `FILE:LINE`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secpol::control::{Request, MAX_REQUEST};
use secpol::endpoint::RuntimeDir;

/// Runs the command.
pub fn run(dir: &RuntimeDir, file: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {name}"))?.len();
    if size > MAX_REQUEST as u64 - 4096 {
        anyhow::bail!("{name} is {size} bytes; load takes at most {} bytes", MAX_REQUEST - 4096);
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    super::generator::send(dir, &Request::Load { name, text }, timeout)
}
