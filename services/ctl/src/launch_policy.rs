//! How `secpolctl on` launches a type: the [`Enforcement`] of the policy that holds for it.
//!
//! The policy is the file given with `--policy` (the type is restricted), else what the
//! running generator says of the type (restricted, unrestricted, refused as new, or
//! nothing under `-T zero_id`), else the installed policy (restricted). This module only
//! finds the answer; [`crate::plan`] makes a policy's restrictions and [`crate::enforce`]
//! applies them.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context as _;
use secpol::control::{self, ControlError, LaunchMode, Request, Response};

use crate::restrictions::{Enforcement, Restrictions};

fn cap_numbers(names: &[String]) -> BTreeSet<u32> {
    names.iter().filter_map(|n| secpol::ability::capability_number(n)).collect()
}

/// Decides how `type_name` is launched: by `policy_file` (restricted), else as the running
/// generator says, else by the installed policy (restricted).
pub fn decide(
    dir: &secpol::endpoint::RuntimeDir,
    type_name: &str,
    policy_file: Option<&Path>,
) -> anyhow::Result<Enforcement> {
    if policy_file.is_some() {
        let loaded = crate::policy_source::load(dir, policy_file)?;
        return Ok(Enforcement::Restricted(Box::new(crate::plan::restrictions(
            &loaded.policy,
            type_name,
            &loaded.origin,
        )?)));
    }
    let req = Request::Launch { type_name: type_name.to_string() };
    match control::request(dir, &req, crate::policy_source::GENERATOR_TIMEOUT) {
        Ok(Response::Launch(plan)) => {
            if plan.policy_id == 0 {
                return Ok(Enforcement::Nothing(
                    "the generator runs with -T zero_id: no policy is enforced".into(),
                ));
            }
            match plan.mode {
                LaunchMode::Unrestricted => Ok(Enforcement::Unrestricted {
                    drop_root: cap_numbers(&plan.drop_root),
                    drop_nonroot: cap_numbers(&plan.drop_nonroot),
                }),
                LaunchMode::Restricted => {
                    let origin = "the running generator's policy";
                    let policy = secpol::policy::parse(&plan.policy, origin)
                        .with_context(|| format!("{origin} does not parse"))?;
                    Ok(Enforcement::Restricted(Box::new(crate::plan::restrictions(
                        &policy, type_name, origin,
                    )?)))
                }
                LaunchMode::Refused => Ok(Enforcement::Restricted(Box::new(Restrictions {
                    type_name: type_name.to_string(),
                    sock_beneath: Some(Vec::new()),
                    link_beneath: Some(Vec::new()),
                    notes: vec![format!(
                        "type {type_name} is new and the generator admits no new types (neither -u nor -t, \
                         or -t reached): it runs with no privileges and its failures go to errors"
                    )],
                    ..Default::default()
                }))),
            }
        }
        Ok(other) => {
            anyhow::bail!(
                "the running generator cannot say how to launch {type_name}: {}",
                other.describe().problems.join("; ")
            )
        }
        Err(ControlError::NotRunning(_)) => {
            let loaded =
                crate::policy_source::load(dir, Some(Path::new(crate::policy_source::INSTALLED_POLICY)))?;
            Ok(Enforcement::Restricted(Box::new(crate::plan::restrictions(
                &loaded.policy,
                type_name,
                &loaded.origin,
            )?)))
        }
        Err(e) => Err(e).context("cannot ask the running generator how to launch the type"),
    }
}
