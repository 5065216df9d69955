//! `secpolctl status --json` and `secpolctl policy --json`: the generator's counters and
//! its policy model (types, abilities with ranges and domains, paths, connects,
//! provenance) as JSON, for scripts and dashboards.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secpol::control::{self, Output, Request, Response};
use secpol::endpoint::RuntimeDir;

use super::policy_view::PolicyView;

/// Prints the status as a JSON object.
pub fn status(dir: &RuntimeDir, timeout: Duration) -> anyhow::Result<ExitCode> {
    match control::request(dir, &Request::Status, timeout)? {
        Response::Status(s) => {
            println!("{:#}", serde_json::to_value(&s)?);
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!(
            "the running generator did not give its status: {}",
            other.describe().problems.join("; ")
        ),
    }
}

/// Prints the current policy as a JSON object.
pub fn policy(dir: &RuntimeDir, timeout: Duration) -> anyhow::Result<ExitCode> {
    let origin = format!("the running generator ({})", dir.control_path().display());
    let text = super::report::generator_text(dir, Output::Policy, timeout)?;
    let policy = secpol::policy::parse(&text, &origin)
        .with_context(|| format!("the policy of {origin} does not parse"))?;
    println!("{:#}", serde_json::to_value(PolicyView::new(&policy, &origin))?);
    Ok(ExitCode::SUCCESS)
}
