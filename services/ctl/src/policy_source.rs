//! Which policy `secpolctl on` and `secpolctl export` use: the file given with
//! `--policy`, else the running generator's current policy, else the installed one
//! (`/etc/secpol/policy`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use secpol::control::{self, ControlError, Output, Request, Response};
use secpol::endpoint::RuntimeDir;
use secpol::policy::Policy;

/// The installed policy.
pub const INSTALLED_POLICY: &str = "/etc/secpol/policy";

/// How long `secpolctl on` and `export` wait for a running generator's answer. A generator that is there but does
/// not answer in time is an error, never a reason to use another policy: on a busy machine
/// that would start the command under a policy the user did not mean.
pub(crate) const GENERATOR_TIMEOUT: Duration = Duration::from_secs(15);

/// A policy and where it came from (for messages).
pub struct Loaded {
    /// The policy.
    pub policy: Policy,
    /// `the running generator` or a file name.
    pub origin: String,
}

/// The policy to use: `explicit`, else the running generator's, else the installed one.
pub fn load(dir: &RuntimeDir, explicit: Option<&Path>) -> anyhow::Result<Loaded> {
    if let Some(path) = explicit {
        return from_file(path);
    }
    match control::request(dir, &Request::Show { output: Output::Policy }, GENERATOR_TIMEOUT) {
        Ok(Response::Text { text }) => {
            let origin = format!("the running generator ({})", dir.control_path().display());
            let policy = secpol::policy::parse(&text, &origin)
                .with_context(|| format!("the policy of {origin} does not parse"))?;
            Ok(Loaded { policy, origin })
        }
        Ok(other) => {
            let d = other.describe();
            anyhow::bail!("the running generator did not give its policy: {}", d.problems.join("; "))
        }
        Err(ControlError::NotRunning(_)) => {
            log::info!("no generator answers on {}; using {INSTALLED_POLICY}", dir.control_path().display());
            from_file(&PathBuf::from(INSTALLED_POLICY))
        }
        Err(e) => Err(e).context("cannot ask the running generator for its policy"),
    }
}

fn from_file(path: &Path) -> anyhow::Result<Loaded> {
    let policy = secpol::policy::load(path)?;
    Ok(Loaded { policy, origin: path.display().to_string() })
}
