//! The base policy (`-S`, default `/etc/secpol/policy`; none with `-N`), as learning sees it:
//! the questions learning asks of it ([`Base`]), and their answers from a loaded policy
//! ([`BasePolicy`]) or from none ([`NoBase`]).
//!
//! Learning asks the policy model's matcher whether the base already allows a use, so a
//! restricted type's events are judged exactly as enforcement would judge them.

use std::path::Path;

use secpol::event::{AttachResult, EventKind, Verdict};
use secpol::policy::{self, Policy};

use crate::store::ValueRef;

/// The questions learning asks of the base policy.
pub trait Base {
    /// Whether the base policy declares `type_name`.
    fn has_type(&self, type_name: &str) -> bool;
    /// Number of types the base declares.
    fn type_count(&self) -> usize;
    /// Whether the base lets `type_name` use `ability` with `value` as root or not.
    fn allows_ability(&self, type_name: &str, root: bool, ability: &str, value: ValueRef<'_>) -> bool;
    /// Whether the base lets `type_name` attach to `path`.
    fn allows_attach(&self, type_name: &str, path: &str) -> bool;
    /// Whether the base lets `type_name` link at `path`.
    fn allows_link(&self, type_name: &str, path: &str) -> bool;
    /// Whether the base lets `type_name` connect to channels of `channel_type`.
    fn allows_connect(&self, type_name: &str, channel_type: &str) -> bool;
}

/// A base policy with nothing in it (`-N`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBase;

impl Base for NoBase {
    fn has_type(&self, _: &str) -> bool {
        false
    }
    fn type_count(&self) -> usize {
        0
    }
    fn allows_ability(&self, _: &str, _: bool, _: &str, _: ValueRef<'_>) -> bool {
        false
    }
    fn allows_attach(&self, _: &str, _: &str) -> bool {
        false
    }
    fn allows_link(&self, _: &str, _: &str) -> bool {
        false
    }
    fn allows_connect(&self, _: &str, _: &str) -> bool {
        false
    }
}

/// A loaded base policy.
#[derive(Debug, Clone, Default)]
pub struct BasePolicy {
    policy: Policy,
}

impl BasePolicy {
    /// No base policy (`-N`).
    pub fn empty() -> Self {
        BasePolicy::default()
    }

    /// Wraps a policy.
    pub fn new(policy: Policy) -> Self {
        BasePolicy { policy }
    }

    /// Reads and parses the policy file at `path`; errors name `FILE:LINE:COL`.
    pub fn load(path: &Path) -> Result<Self, policy::PolicyError> {
        Ok(BasePolicy { policy: policy::load(path)? })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn allows(&self, type_name: &str, what: &EventKind) -> bool {
        self.policy.check(type_name, what) == policy::Decision::Allowed
    }
}

/// Whether `policy` lets `type_name` use `ability` with `value` as root or not, as the
/// matcher answers for enforcement (a root check passes on a root or a `nonroot` grant).
pub fn policy_allows_ability(
    policy: &Policy,
    type_name: &str,
    root: bool,
    ability: &str,
    value: ValueRef<'_>,
) -> bool {
    let (range, target_type) = match value {
        ValueRef::None => (None, None),
        ValueRef::Range(r) => (Some(r), None),
        ValueRef::Type(t) => (None, Some(t.to_string())),
    };
    let what = EventKind::Ability {
        ability: ability.to_string(),
        range,
        target_type,
        root,
        verdict: Verdict::Allowed,
        probe: false,
    };
    policy.check(type_name, &what) == policy::Decision::Allowed
}

impl Base for BasePolicy {
    fn has_type(&self, type_name: &str) -> bool {
        self.policy.has_type(type_name)
    }

    fn type_count(&self) -> usize {
        self.policy.types().len()
    }

    fn allows_ability(&self, type_name: &str, root: bool, ability: &str, value: ValueRef<'_>) -> bool {
        policy_allows_ability(&self.policy, type_name, root, ability, value)
    }

    fn allows_attach(&self, type_name: &str, path: &str) -> bool {
        self.allows(type_name, &EventKind::Attach { path: path.to_string(), result: AttachResult::Ok })
    }

    fn allows_link(&self, type_name: &str, path: &str) -> bool {
        self.allows(
            type_name,
            &EventKind::Link { path: path.to_string(), target: None, result: AttachResult::Ok },
        )
    }

    fn allows_connect(&self, type_name: &str, channel_type: &str) -> bool {
        let what = EventKind::Connect {
            path: String::new(),
            channel_type: channel_type.to_string(),
            verdict: Verdict::Allowed,
        };
        self.allows(type_name, &what)
    }
}
