//! From a policy to what the launcher imposes: the [`Restrictions`] of one type.
//!
//! A type's rules are its own plus those of its attributes. Abilities that are Linux
//! capabilities become capability sets (a `nonroot` grant holds for root too, as in the
//! policy language); QNX abilities and dynamic ones have no Linux capability and are
//! listed in the notes. `allow_attach` and `allow_link` patterns become Landlock
//! "beneath" directories; `net_bind_service` subranges become the privileged ports that
//! may be bound. Where the translation is looser than the policy the notes say so.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use secpol::policy::{Domain, Policy, RangeSet, SubjectRules, Values};

use crate::restrictions::{beneath_dir, IdRanges, Restrictions, Unenforceable};

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

/// The values one domain grants an id capability over, while the grants are read.
#[derive(Debug, Clone, Default)]
enum IdGrant {
    /// Not granted: the kernel refuses every change itself.
    #[default]
    Absent,
    /// Granted over any id.
    Any,
    /// Granted over these ids only.
    Only(RangeSet),
}

impl IdGrant {
    fn add(&mut self, values: &Values) {
        *self = match (std::mem::take(self), values) {
            (IdGrant::Any, _) | (_, Values::Any) | (_, Values::Types(_)) => IdGrant::Any,
            (IdGrant::Absent, Values::Numbers(set)) => IdGrant::Only(set.clone()),
            (IdGrant::Only(mut have), Values::Numbers(set)) => {
                have.union_with(set);
                IdGrant::Only(have)
            }
        }
    }

    /// The 32-bit ids allowed (`-1`, which never names an id, is left out).
    fn ranges(&self) -> Option<Vec<RangeInclusive<u32>>> {
        let IdGrant::Only(set) = self else { return None };
        let top = u64::from(u32::MAX - 1);
        Some(
            set.ranges().iter().filter(|r| r.lo <= top).map(|r| r.lo as u32..=r.hi.min(top) as u32).collect(),
        )
    }
}

/// How the policy's grants of `setuid` and `setgid` read for one domain.
#[derive(Debug, Clone, Default)]
struct DomainIds {
    uids: IdGrant,
    gids: IdGrant,
}

impl DomainIds {
    fn ranges(&self) -> IdRanges {
        IdRanges { uids: self.uids.ranges(), gids: self.gids.ranges() }
    }
}

/// The Linux capabilities whose values the launcher checks: ports through Landlock, ids
/// through seccomp.
const CHECKED_VALUES: [&str; 3] = ["net_bind_service", "setuid", "setgid"];

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
    // A non-root grant holds for root too: the root domain reads both blocks.
    let (mut ids_root, mut ids_nonroot) = (DomainIds::default(), DomainIds::default());
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
                let checked = CHECKED_VALUES.contains(&name.as_str());
                match &grant.values {
                    Values::Any => {}
                    Values::Numbers(_) if checked => {}
                    Values::Numbers(_) | Values::Types(_) => r.unenforceable.push(Unenforceable {
                        what: format!(
                            "{}: Linux has no check of the values of {name}; the capability would be \
                             granted over every value",
                            secpol::policy::ability_text(name, &grant.values)
                        ),
                        root_only: domain == Domain::Root,
                    }),
                }
                if name == "net_bind_service" {
                    match &grant.values {
                        Values::Numbers(set) => ports.extend(set.ranges().iter().map(|sr| {
                            (sr.lo.min(u64::from(u16::MAX)) as u16)..=(sr.hi.min(u64::from(u16::MAX)) as u16)
                        })),
                        Values::Any | Values::Types(_) => any_port = true,
                    }
                }
                let domains: &mut [&mut DomainIds] = match domain {
                    Domain::Root => &mut [&mut ids_root],
                    Domain::NonRoot => &mut [&mut ids_root, &mut ids_nonroot],
                };
                for ids in domains.iter_mut() {
                    match name.as_str() {
                        "setuid" => ids.uids.add(&grant.values),
                        "setgid" => ids.gids.add(&grant.values),
                        _ => {}
                    }
                }
                if grant.noinherit {
                    r.noinherit.insert(cap);
                }
            }
        }
    }
    r.ids_as_root = ids_root.ranges();
    r.ids_as_nonroot = ids_nonroot.ranges();
    if !not_linux.is_empty() {
        let list: Vec<String> = not_linux.into_iter().collect();
        r.notes
            .push(format!("no Linux capability for {} (QNX or dynamic abilities): ignored", list.join(", ")));
    }
    if r.root.contains(&secpol::ability::capability_number("net_bind_service").unwrap_or(10)) && !any_port {
        r.privileged_ports = Some(ports);
    }
    let dirs = |patterns: &[String]| -> Option<Vec<std::path::PathBuf>> {
        let mut v: Vec<_> = patterns.iter().map(|p| beneath_dir(p)).collect();
        v.sort();
        v.dedup();
        // Beneath `/` is everywhere: nothing to restrict.
        (!v.iter().any(|d| d == std::path::Path::new("/"))).then_some(v)
    };
    let attaches: Vec<String> =
        rules.iter().flat_map(|s| s.attaches().keys().map(|p| p.as_str().to_string())).collect();
    let links: Vec<String> =
        rules.iter().flat_map(|s| s.links().keys().map(|p| p.as_str().to_string())).collect();
    let (sock_beneath, link_beneath) = (dirs(&attaches), dirs(&links));
    if may_mount && (sock_beneath.is_some() || link_beneath.is_some()) {
        // A Landlock domain that handles file system rights cannot mount at all: a type
        // that may mount would be broken by the path rules.
        r.unenforceable.push(Unenforceable {
            what: "allow_attach/allow_link paths: the type holds sys_admin (it may mount), and a \
                   process under Landlock path rules cannot mount"
                .into(),
            // Whatever domain the command starts in, no path rule is applied.
            root_only: false,
        });
    } else {
        let inexact = attaches.iter().chain(&links).any(|p| !p.ends_with("/..."));
        if inexact && (sock_beneath.is_some() || link_beneath.is_some()) {
            r.notes.push(
                "Landlock allows sockets and links beneath whole directories: a path or glob in \
                 allow_attach/allow_link is widened to its directory"
                    .into(),
            );
        }
        r.sock_beneath = sock_beneath;
        r.link_beneath = link_beneath;
    }
    for ((parent, program), d) in policy.derivations() {
        if parent == type_name {
            r.unenforceable.push(Unenforceable {
                what: format!(
                    "derive_type {parent} {program} {}: not applied on Linux (no hook on exec without \
                     a security module), so {program} would run as {parent}",
                    d.derived
                ),
                root_only: false,
            });
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
    use crate::restrictions::IdRanges;
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
    fn id_subranges_per_domain() {
        let p = policy(
            "type ids_t;\n\
             allow ids_t self:ability { setuid:33 setgid:33-34 };\n\
             allow ids_t self:ability { nonroot setuid:1000 };\n",
        );
        let r = restrictions(&p, "ids_t", "test").unwrap();
        // A non-root grant holds for root too.
        assert_eq!(
            r.ids_as_root,
            IdRanges { uids: Some(vec![33..=33, 1000..=1000]), gids: Some(vec![33..=34]) }
        );
        // Non-root: setuid only to 1000; setgid is not granted at all (the kernel refuses it).
        assert_eq!(r.ids_as_nonroot, IdRanges { uids: Some(vec![1000..=1000]), gids: None });
        assert!(r.unenforceable.is_empty(), "{:?}", r.unenforceable);
        // An unranged grant anywhere in the domain: no value check.
        let p = policy("type any_t;\nallow any_t self:ability { setuid:33 };\nallow any_t self:ability { nonroot setuid };\n");
        let r = restrictions(&p, "any_t", "test").unwrap();
        assert_eq!(r.ids_as_root.uids, None);
        // -1 is never an id: a range reaching it stops below.
        let p = policy("type top_t;\nallow top_t self:ability { setgid:100- };\n");
        assert_eq!(
            restrictions(&p, "top_t", "test").unwrap().ids_as_root.gids,
            Some(vec![100..=u32::MAX - 1])
        );
    }

    #[test]
    fn values_linux_cannot_check_are_unenforceable() {
        let p = policy("type nice_t;\nallow nice_t self:ability { sys_nice:5 };\nallow nice_t self:ability { nonroot sys_nice:7 };\n");
        let r = restrictions(&p, "nice_t", "test").unwrap();
        let what: Vec<(&str, bool)> =
            r.unenforceable.iter().map(|u| (u.what.as_str(), u.root_only)).collect();
        assert_eq!(
            what,
            [
                ("sys_nice:5: Linux has no check of the values of sys_nice; the capability would be granted over every value", true),
                ("sys_nice:7: Linux has no check of the values of sys_nice; the capability would be granted over every value", false),
            ]
        );
    }

    #[test]
    fn sys_admin_paths_and_derive_type_are_unenforceable() {
        let p = policy(
            "type mnt_t;\ntype helper_t;\nallow mnt_t self:ability { sys_admin };\nallow_attach mnt_t /tmp/m.sock;\n\
             derive_type mnt_t /usr/bin/helper helper_t;\n",
        );
        let r = restrictions(&p, "mnt_t", "test").unwrap();
        assert_eq!(r.sock_beneath, None);
        let what: Vec<&str> = r.unenforceable.iter().map(|u| u.what.as_str()).collect();
        assert_eq!(what.len(), 2, "{what:?}");
        assert!(what[0].starts_with("allow_attach/allow_link paths: the type holds sys_admin"), "{what:?}");
        assert!(
            what[1].starts_with("derive_type mnt_t /usr/bin/helper helper_t: not applied on Linux"),
            "{what:?}"
        );
        // The derived type itself is not the parent: nothing unenforced for it.
        assert!(restrictions(&p, "helper_t", "test").unwrap().unenforceable.is_empty());
        // A type that may attach anywhere needs no path rule, so sys_admin costs nothing.
        let p = policy("type root_t;\nallow root_t self:ability { sys_admin };\nallow_attach root_t /...;\nallow_link root_t /...;\n");
        let r = restrictions(&p, "root_t", "test").unwrap();
        assert!(r.unenforceable.is_empty() && r.sock_beneath.is_none() && r.link_beneath.is_none(), "{r:?}");
    }

    #[test]
    fn unknown_types_are_refused() {
        let err = restrictions(&policy("type a_t;\n"), "b_t", "/etc/secpol/policy").unwrap_err();
        assert_eq!(err.to_string(), "type b_t is not in the policy /etc/secpol/policy");
    }
}
