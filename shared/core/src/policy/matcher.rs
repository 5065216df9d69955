//! "Does this policy allow this event?"
//!
//! The generator asks it to tell new needs from ones the policy already grants, the
//! monitor and the tools to explain a failure. A process of type `T` is governed by the
//! rules of `T` and of every attribute `T` has.

use std::fmt;

use crate::ability;
use crate::event::{CapAction, Domain as CapDomain, EventKind, Subrange, DEFAULT_TYPE};

use super::model::{AbilityGrant, ConnectTarget, Domain, Policy, Values};

/// The answer of [`Policy::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A rule allows it.
    Allowed,
    /// No rule allows it.
    Denied(Denial),
    /// The policy language has no rule for this kind of event (exec, exit, signals,
    /// remote connections, unknown kinds).
    NotGoverned,
}

impl Decision {
    /// Whether the event is allowed (or not governed by a policy at all).
    pub fn permits(&self) -> bool {
        !matches!(self, Decision::Denied(_))
    }
}

/// Why an event is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Nothing grants the ability, path or connection.
    NoRule,
    /// The ability is granted, but not over the value checked.
    OutsideRange,
    /// The ability is granted to root only and the process is not root.
    RootOnly,
    /// The process tried to change a capability the policy grants but does not unlock.
    Locked(String),
    /// The process tried to pass on a capability the policy marks `noinherit`.
    NotInheritable(String),
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::NoRule => f.write_str("no rule"),
            Denial::OutsideRange => f.write_str("value outside the allowed subranges"),
            Denial::RootOnly => f.write_str("allowed as root only"),
            Denial::Locked(a) => write!(f, "ability {a} is locked (no `unlock`)"),
            Denial::NotInheritable(a) => write!(f, "ability {a} is `noinherit`"),
        }
    }
}

impl Policy {
    /// Whether the rules of `type_name` allow `what`.
    ///
    /// - ability checks: the ability must be granted in the checked domain (a `nonroot`
    ///   grant also serves root); a checked value must lie inside one subrange, a checked
    ///   type must be listed. A check without a value passes on any grant.
    ///   `channel_connect` with a target type is also allowed by a connect rule.
    /// - attach and link: a pattern of the matching kind must match the path.
    /// - connect: a connect rule for the channel's type (or `self`), a `channel_connect`
    ///   grant over it, or a channel of type `default` (anyone may connect, as QNX's type 0).
    /// - self-managed capability calls: raising or passing on a capability needs a grant;
    ///   touching a granted one needs `unlock`; passing one on needs no `noinherit`.
    pub fn check(&self, type_name: &str, what: &EventKind) -> Decision {
        let subjects = self.subjects_of(type_name);
        let verdict = match what {
            EventKind::Ability { ability: name, range, target_type, root, .. } => {
                let name = canonical(name);
                let mut r = self.check_ability(&subjects, &name, *root, *range, target_type.as_deref());
                if r.is_err() && name == "channel_connect" {
                    if let Some(t) = target_type {
                        if self.connect_allowed(&subjects, type_name, t) {
                            r = Ok(());
                        }
                    }
                }
                r
            }
            EventKind::Attach { path, .. } => self.path_allowed(&subjects, path, false),
            EventKind::Link { path, .. } => self.path_allowed(&subjects, path, true),
            EventKind::Connect { channel_type, .. } => {
                if channel_type == DEFAULT_TYPE || self.connect_allowed(&subjects, type_name, channel_type) {
                    Ok(())
                } else {
                    let root =
                        self.check_ability(&subjects, "channel_connect", true, None, Some(channel_type));
                    root.or_else(|_| {
                        self.check_ability(&subjects, "channel_connect", false, None, Some(channel_type))
                    })
                }
            }
            EventKind::CapCall { requests, .. } => {
                let mut out = Ok(());
                for req in requests {
                    let name = canonical(&req.ability);
                    let domains: &[bool] = match req.domain {
                        CapDomain::Root => &[true],
                        CapDomain::NonRoot => &[false],
                        CapDomain::All => &[true, false],
                    };
                    for &root in domains {
                        if let Err(d) = self.check_cap_request(&subjects, &name, root, &req.actions) {
                            out = Err(d);
                            break;
                        }
                    }
                    if out.is_err() {
                        break;
                    }
                }
                out
            }
            EventKind::Signal { .. }
            | EventKind::Remote { .. }
            | EventKind::Exec { .. }
            | EventKind::Exit { .. }
            | EventKind::Unknown => return Decision::NotGoverned,
        };
        match verdict {
            Ok(()) => Decision::Allowed,
            Err(d) => Decision::Denied(d),
        }
    }

    /// The type itself and its attributes.
    fn subjects_of<'a>(&'a self, type_name: &'a str) -> Vec<&'a str> {
        let mut v = vec![type_name];
        if let Some(decl) = self.types.get(type_name) {
            v.extend(decl.attributes.iter().map(String::as_str));
        }
        v
    }

    /// The grants of `name` that apply in the domain, over all subjects.
    fn grants<'a>(&'a self, subjects: &[&str], name: &str, root: bool) -> Vec<&'a AbilityGrant> {
        let mut out = Vec::new();
        for s in subjects {
            if let Some(rules) = self.rules.get(*s) {
                out.extend(rules.abilities(Domain::NonRoot).get(name));
                if root {
                    out.extend(rules.abilities(Domain::Root).get(name));
                }
            }
        }
        out
    }

    fn check_ability(
        &self,
        subjects: &[&str],
        name: &str,
        root: bool,
        range: Option<Subrange>,
        target_type: Option<&str>,
    ) -> Result<(), Denial> {
        let grants = self.grants(subjects, name, root);
        if grants.is_empty() {
            if !root && !self.grants(subjects, name, true).is_empty() {
                return Err(Denial::RootOnly);
            }
            return Err(Denial::NoRule);
        }
        let target_subjects = target_type.map(|t| self.subjects_of(t));
        let fits = |g: &&AbilityGrant| match (&g.values, range, &target_subjects) {
            (Values::Any, _, _) => true,
            (Values::Numbers(set), Some(r), _) => set.contains(r),
            (Values::Types(set), _, Some(ts)) => ts.iter().any(|t| set.contains(*t)),
            (Values::Numbers(_), None, _) | (Values::Types(_), _, None) => true,
        };
        if grants.iter().any(fits) {
            Ok(())
        } else {
            Err(Denial::OutsideRange)
        }
    }

    fn connect_allowed(&self, subjects: &[&str], type_name: &str, channel_type: &str) -> bool {
        let objects = self.subjects_of(channel_type);
        subjects.iter().any(|s| {
            self.rules.get(*s).is_some_and(|rules| {
                rules.connect.keys().any(|t| match t {
                    ConnectTarget::SelfType => channel_type == type_name,
                    ConnectTarget::Type(o) => objects.contains(&o.as_str()),
                })
            })
        })
    }

    fn path_allowed(&self, subjects: &[&str], path: &str, link: bool) -> Result<(), Denial> {
        let ok = subjects.iter().any(|s| {
            self.rules.get(*s).is_some_and(|rules| {
                let patterns = if link { &rules.link } else { &rules.attach };
                patterns.keys().any(|p| p.matches(path))
            })
        });
        if ok {
            Ok(())
        } else {
            Err(Denial::NoRule)
        }
    }

    fn check_cap_request(
        &self,
        subjects: &[&str],
        name: &str,
        root: bool,
        actions: &[CapAction],
    ) -> Result<(), Denial> {
        let grants = self.grants(subjects, name, root);
        if grants.is_empty() {
            // Removing or locking what the type does not have changes nothing.
            return if actions.iter().any(|a| matches!(a, CapAction::Allow | CapAction::Inherit)) {
                Err(Denial::NoRule)
            } else {
                Ok(())
            };
        }
        if !grants.iter().any(|g| g.unlock) {
            return Err(Denial::Locked(name.to_string()));
        }
        if actions.contains(&CapAction::Inherit) && grants.iter().all(|g| g.noinherit) {
            return Err(Denial::NotInheritable(name.to_string()));
        }
        Ok(())
    }
}

/// The canonical ability name, without allocating in the common (already canonical) case.
fn canonical(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) || name.starts_with("cap_") {
        std::borrow::Cow::Owned(ability::normalize(name))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}
