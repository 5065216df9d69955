//! From a policy to what the launcher imposes: the [`Restrictions`] of one type.
//!
//! A type's rules are its own plus those of its attributes. Abilities that are Linux
//! capabilities become capability sets (a `nonroot` grant holds for root too, as in the
//! policy language); QNX abilities and dynamic ones have no Linux capability and are
//! listed in the notes. `allow_attach` and `allow_link` patterns become Landlock
//! "beneath" directories; `net_bind_service` subranges become the privileged ports that
//! may be bound. Where the translation is looser than the policy the notes say so.

use std::collections::BTreeSet;

use secpol::policy::{Domain, Policy, SubjectRules, Values};

use crate::enforce::{beneath_dir, Restrictions};

/// Why a type cannot be launched restricted.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The type is not declared in the policy.
    #[error("type {type_name} is not in the policy {source_name}")]
    UnknownType {
        /// The type.
        type_name: String,
        /// Which policy.
        source_name: String,
    },
}

/// The rule sets that apply to `type_name`: its own and its attributes'.
fn subjects<'p>(policy: &'p Policy, type_name: &str) -> Vec<&'p SubjectRules> {
    let mut names = vec![type_name.to_string()];
    if let Some(decl) = policy.types().get(type_name) {
        names.extend(decl.attributes.iter().cloned());
    }
    names.iter().filter_map(|n| policy.rules(n)).collect()
}

/// The restrictions of `type_name` under `policy` (named `source_name` in messages).
pub fn restrictions(policy: &Policy, type_name: &str, source_name: &str) -> Result<Restrictions, PlanError> {
    if !policy.has_type(type_name) {
        return Err(PlanError::UnknownType {
            type_name: type_name.to_string(),
            source_name: source_name.to_string(),
        });
    }
    let rules = subjects(policy, type_name);
    let mut r = Restrictions { type_name: type_name.to_string(), ..Default::default() };
    let mut not_linux = BTreeSet::new();
    let mut ports = Vec::new();
    let mut any_port = false;
    let mut may_mount = false;
    for s in &rules {
        for domain in [Domain::Root, Domain::NonRoot] {
            for (name, grant) in s.abilities(domain) {
                let Some(cap) = secpol::ability::capability_number(name) else {
                    not_linux.insert(name.clone());
                    continue;
                };
                r.root.insert(cap);
                if domain == Domain::NonRoot {
                    r.nonroot.insert(cap);
                }
                if name == "sys_admin" {
                    may_mount = true;
                }
                if name == "net_bind_service" {
                    match &grant.values {
                        Values::Numbers(set) => ports.extend(set.ranges().iter().map(|sr| {
                            (sr.lo.min(u64::from(u16::MAX)) as u16)..=(sr.hi.min(u64::from(u16::MAX)) as u16)
                        })),
                        Values::Any | Values::Types(_) => any_port = true,
                    }
                }
                if grant.noinherit {
                    r.noinherit.insert(cap);
                }
            }
        }
    }
    if !not_linux.is_empty() {
        let list: Vec<String> = not_linux.into_iter().collect();
        r.notes
            .push(format!("no Linux capability for {} (QNX or dynamic abilities): ignored", list.join(", ")));
    }
    if r.root.contains(&secpol::ability::capability_number("net_bind_service").unwrap_or(10)) && !any_port {
        r.privileged_ports = Some(ports);
    }
    let dirs = |patterns: Vec<String>| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = patterns.iter().map(|p| beneath_dir(p)).collect();
        v.sort();
        v.dedup();
        v
    };
    let attaches: Vec<String> =
        rules.iter().flat_map(|s| s.attaches().keys().map(|p| p.as_str().to_string())).collect();
    let links: Vec<String> =
        rules.iter().flat_map(|s| s.links().keys().map(|p| p.as_str().to_string())).collect();
    if may_mount {
        // A Landlock domain cannot mount at all: a type that may mount is left without
        // path rules rather than broken.
        r.notes
            .push("the type holds sys_admin (it may mount): attach and link paths are not enforced".into());
    } else {
        let inexact = attaches.iter().chain(&links).any(|p| !p.ends_with("/..."));
        r.sock_beneath = Some(dirs(attaches));
        r.link_beneath = Some(dirs(links));
        if inexact {
            r.notes.push(
                "Landlock allows sockets and links beneath whole directories: a path or glob in \
                 allow_attach/allow_link is widened to its directory"
                    .into(),
            );
        }
    }
    let connects = rules.iter().any(|s| !s.connects().is_empty());
    if connects {
        r.notes.push("channel connects are observed and reported, not enforced, by the launcher".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn policy(text: &str) -> Policy {
        secpol::policy::parse(text, "test").unwrap()
    }

    #[test]
    fn capabilities_ports_and_paths_of_a_type() {
        let p = policy(
            "type web_t, net_a;\nattribute net_a;\n\
             allow web_t self:ability { net_bind_service:80 setuid };\n\
             allow net_a self:ability { nonroot chown };\n\
             allow web_t self:ability { pathspace };\n\
             allow_attach web_t /tmp/web.sock;\nallow_link web_t /tmp/...;\n",
        );
        let r = restrictions(&p, "web_t", "test").unwrap();
        let n = |s| secpol::ability::capability_number(s).unwrap();
        assert_eq!(r.root, [n("chown"), n("setuid"), n("net_bind_service")].into());
        assert_eq!(r.nonroot, [n("chown")].into());
        assert_eq!(r.privileged_ports, Some(vec![80..=80]));
        assert_eq!(r.sock_beneath, Some(vec![PathBuf::from("/tmp")]));
        assert_eq!(r.link_beneath, Some(vec![PathBuf::from("/tmp")]));
        assert!(r.notes.iter().any(|n| n.contains("pathspace")), "{:?}", r.notes);
    }

    #[test]
    fn a_type_with_no_rules_gets_nothing() {
        let r = restrictions(&policy("type quiet_t;\n"), "quiet_t", "test").unwrap();
        assert!(r.root.is_empty() && r.nonroot.is_empty());
        assert_eq!(r.sock_beneath, Some(vec![]));
        assert_eq!(r.privileged_ports, None);
    }

    #[test]
    fn unknown_types_are_refused() {
        let err = restrictions(&policy("type a_t;\n"), "b_t", "/etc/secpol/policy").unwrap_err();
        assert_eq!(err.to_string(), "type b_t is not in the policy /etc/secpol/policy");
    }
}
