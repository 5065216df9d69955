//! `secpolctl report --html FILE`: the page of [`super::report_html`] for the running
//! generator's policy and failures, or for `--policy FILE` and `--errors FILE`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secpol::control::{self, Output, Request, Response};
use secpol::endpoint::RuntimeDir;

use super::failures;
use super::policy_view::PolicyView;
use super::report_html::{render, Review};

/// Where the report's inputs come from.
pub struct Sources<'a> {
    /// A policy file instead of the running generator's policy.
    pub policy: Option<&'a Path>,
    /// An errors file (with `policy`).
    pub errors: Option<&'a Path>,
}

/// The generator's text of `output`.
pub fn generator_text(dir: &RuntimeDir, output: Output, timeout: Duration) -> anyhow::Result<String> {
    match control::request(dir, &Request::Show { output }, timeout)? {
        Response::Text { text } => Ok(text),
        other => anyhow::bail!(
            "the running generator did not give its {}: {}",
            output.file_name(),
            other.describe().problems.join("; ")
        ),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into())
}

/// Writes the report to `html`.
pub fn run(dir: &RuntimeDir, sources: &Sources, html: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
    let (policy, origin, errors) = match sources.policy {
        Some(path) => {
            let policy = secpol::policy::load(path)?;
            let errors = match sources.errors {
                Some(e) => {
                    let text =
                        std::fs::read_to_string(e).with_context(|| format!("cannot read {}", e.display()))?;
                    Some((text, e.display().to_string()))
                }
                None => None,
            };
            (policy, path.display().to_string(), errors)
        }
        None => {
            let origin = format!("the running generator ({})", dir.control_path().display());
            let text = generator_text(dir, Output::Policy, timeout)?;
            let policy = secpol::policy::parse(&text, &origin)
                .with_context(|| format!("the policy of {origin} does not parse"))?;
            let errors = generator_text(dir, Output::Errors, timeout)?;
            (policy, origin.clone(), Some((errors, origin)))
        }
    };
    let failures = match &errors {
        Some((text, name)) => failures::parse(text, name)?,
        None => Vec::new(),
    };
    let view = PolicyView::new(&policy, &origin);
    let generated = secpol::qnxlog::utc_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    let page = render(&Review {
        policy: &view,
        failures: &failures,
        failures_source: errors.as_ref().map(|(_, n)| n.as_str()),
        host: &host_name(),
        generated: &generated,
    });
    std::fs::write(html, page.as_bytes()).with_context(|| format!("cannot write {}", html.display()))?;
    eprintln!(
        "secpolctl: wrote {} ({} types, {} failures)",
        html.display(),
        view.types.len(),
        failures.len()
    );
    Ok(ExitCode::SUCCESS)
}
