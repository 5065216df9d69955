//! What the generator commands share: one request to the running `secpolgenerate`, its
//! answer printed (text on stdout, problems on stderr), the exit status from the answer.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use secpol::control::{self, Request};
use secpol::endpoint::RuntimeDir;

/// Sends `req`, prints the answer and says how the command went.
pub fn send(dir: &RuntimeDir, req: &Request, timeout: Duration) -> anyhow::Result<ExitCode> {
    let resp = control::request(dir, req, timeout)?;
    let d = resp.describe();
    std::io::stdout().write_all(d.out.as_bytes())?;
    for p in &d.problems {
        eprintln!("secpolctl: {p}");
    }
    Ok(if d.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
