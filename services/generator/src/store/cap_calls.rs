//! What a type's own capability calls did with one ability ([`CapNote`]), and what that
//! means for its policy ([`CallEffect`]).

use std::collections::BTreeSet;

use secpol::event::{CapAction, Domain};
use secpol::qnxlog;

use super::origin::Origin;

/// What a type's own capability calls did with one ability (seed 003's comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapNote {
    /// Descriptions as `qnxlog::describe_request` words them (`deny all lock`), sorted.
    pub actions: BTreeSet<String>,
    /// Blocks the ability must appear in: root, non-root.
    pub root: bool,
    /// See `root`.
    pub nonroot: bool,
    /// First call.
    pub origin: Origin,
}

/// What the calls recorded in a [`CapNote`] mean for the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallEffect {
    /// A call raised the ability for root (`allow root`, `inherit root`): it needs a grant.
    pub raised_root: bool,
    /// A call raised it for non-root, or for both (`allow nonroot`, `allow all`): it needs a
    /// `nonroot` grant (which serves root too).
    pub raised_nonroot: bool,
    /// A call passed it on to children (`inherit`): no `noinherit`.
    pub inherited: bool,
}

impl CapNote {
    /// What the calls did, read back from their descriptions (so state files, which keep
    /// only the words, mean the same). Only `allow` and `inherit` raise anything: `deny`,
    /// `drop`, `lock` and `noinherit` give up what the process has, which needs no grant.
    pub fn effect(&self) -> CallEffect {
        let mut e = CallEffect::default();
        for (domain, actions) in self.actions.iter().filter_map(|a| qnxlog::parse_description(a)) {
            let raises = actions.iter().any(|a| matches!(a, CapAction::Allow | CapAction::Inherit));
            e.inherited |= actions.contains(&CapAction::Inherit);
            match domain {
                _ if !raises => {}
                Domain::Root => e.raised_root = true,
                Domain::NonRoot | Domain::All => e.raised_nonroot = true,
            }
        }
        e
    }

    /// Whether some call raised the ability (in either domain).
    pub fn raised(&self) -> bool {
        let e = self.effect();
        e.raised_root || e.raised_nonroot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(actions: &[&str]) -> CapNote {
        CapNote {
            actions: actions.iter().map(|a| a.to_string()).collect(),
            root: true,
            nonroot: true,
            origin: Origin { process: "p".into(), pid: 1, time_ns: 1, ..Default::default() },
        }
    }

    #[test]
    fn only_allow_and_inherit_raise_anything() {
        let e = |a: &[&str]| note(a).effect();
        let none = CallEffect::default();
        assert_eq!(e(&["deny all lock", "drop all lock", "noinherit root", "deny nonroot"]), none);
        assert_eq!(e(&["allow root"]), CallEffect { raised_root: true, ..none });
        assert_eq!(e(&["allow nonroot", "drop all lock"]), CallEffect { raised_nonroot: true, ..none });
        assert_eq!(e(&["allow all inherit"]), CallEffect { raised_nonroot: true, inherited: true, ..none });
        assert_eq!(e(&["inherit root"]), CallEffect { raised_root: true, inherited: true, ..none });
        // Words that are no description (a hand-written state file) raise nothing.
        assert_eq!(e(&["", "frob all"]), none);
        assert!(!note(&["deny root"]).raised() && note(&["allow root"]).raised());
    }
}
