//! Enforcement fails closed: what a restricted type's policy needs from this system,
//! against what the system offers the launcher.
//!
//! [`shortfalls`] is the whole decision and a pure function: the system's side comes in
//! as [`SystemOffers`] (Landlock ABI, the caller's bounding and permitted sets, seccomp
//! filters), so every case is tested without root. `secpolctl on` refuses to start the
//! command when the list is not empty, naming each [`Shortfall`]; with `--best-effort`
//! it prints them as `not enforced:` and applies the rest.
//!
//! [`SystemOffers::probe`] reads the facts from the running system. The test knob
//! `SECPOL_LANDLOCK_ABI_MAX=N` caps the Landlock ABI the launcher uses at N (0: none), so
//! tests can meet an older kernel honestly; it only ever lowers the ABI, never raises it.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::restrictions::{IdRanges, Restrictions};

/// The environment variable that caps the Landlock ABI the launcher uses (a test knob).
pub const LANDLOCK_ABI_MAX_ENV: &str = "SECPOL_LANDLOCK_ABI_MAX";

/// What this system offers the launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemOffers {
    /// The Landlock ABI the launcher may use (0: no Landlock).
    pub landlock_abi: u32,
    /// The caller's bounding set (capability numbers).
    pub bounding: BTreeSet<u32>,
    /// The caller's permitted set (capability numbers).
    pub permitted: BTreeSet<u32>,
    /// Whether seccomp filters (with `SECCOMP_RET_ERRNO`) are available.
    pub seccomp_filter: bool,
}

/// The system facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The test knob holds something else than a number.
    #[error("{LANDLOCK_ABI_MAX_ENV}={value:?}: expected a Landlock ABI number")]
    Knob {
        /// What it holds.
        value: String,
    },
    /// A capability set cannot be read.
    #[error("cannot read the caller's {set} set")]
    Caps {
        /// Which set.
        set: &'static str,
        /// Why.
        source: caps::errors::CapsError,
    },
}

/// The Landlock ABI the launcher uses: the kernel's, lowered (never raised) by the knob.
pub fn effective_landlock_abi(kernel: u32, knob: Option<u32>) -> u32 {
    knob.map_or(kernel, |cap| cap.min(kernel))
}

impl SystemOffers {
    /// Reads the facts from this system and process.
    pub fn probe() -> Result<SystemOffers, ProbeError> {
        let knob = match std::env::var(LANDLOCK_ABI_MAX_ENV) {
            Ok(value) => Some(value.trim().parse::<u32>().map_err(|_| ProbeError::Knob { value })?),
            Err(_) => None,
        };
        let numbers = |set: caps::CapSet, name: &'static str| -> Result<BTreeSet<u32>, ProbeError> {
            let held = caps::read(None, set).map_err(|source| ProbeError::Caps { set: name, source })?;
            Ok(held.iter().map(|c| u32::from(c.index())).collect())
        };
        Ok(SystemOffers {
            landlock_abi: effective_landlock_abi(kernel_landlock_abi(), knob),
            bounding: numbers(caps::CapSet::Bounding, "bounding")?,
            permitted: numbers(caps::CapSet::Permitted, "permitted")?,
            seccomp_filter: seccomp_filter_available(),
        })
    }
}

/// The kernel's Landlock ABI version (0 when it has none or it is disabled).
fn kernel_landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_ulong = 1;
    // SAFETY: with a null attribute and size 0 this only asks for the ABI version.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(rc).unwrap_or(0)
}

/// Whether seccomp filters that return an errno can be installed here.
fn seccomp_filter_available() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
        .is_ok_and(|actions| actions.split_whitespace().any(|a| a == "errno"))
}

/// A Landlock access right the launcher uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LandlockRight {
    /// `LANDLOCK_ACCESS_FS_MAKE_SOCK`: `allow_attach`.
    MakeSock,
    /// `LANDLOCK_ACCESS_FS_MAKE_SYM`: `allow_link`.
    MakeSym,
    /// `LANDLOCK_ACCESS_NET_BIND_TCP`: `net_bind_service` ports.
    BindTcp,
}

impl LandlockRight {
    /// The first Landlock ABI that has it.
    pub fn abi(self) -> u32 {
        match self {
            LandlockRight::MakeSock | LandlockRight::MakeSym => 1,
            LandlockRight::BindTcp => 4,
        }
    }

    /// Its name in the kernel's documentation.
    pub fn name(self) -> &'static str {
        match self {
            LandlockRight::MakeSock => "MAKE_SOCK",
            LandlockRight::MakeSym => "MAKE_SYM",
            LandlockRight::BindTcp => "NET_BIND_TCP",
        }
    }
}

/// `/run/web, /tmp`, or `nowhere`.
pub fn describe_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "nowhere".into();
    }
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `80-80, 443-443` (ports) or `33, 40-49` (ids).
pub fn describe_ranges<T: fmt::Display + PartialEq>(ranges: &[RangeInclusive<T>]) -> String {
    if ranges.is_empty() {
        return "none".into();
    }
    let one = |r: &RangeInclusive<T>| {
        if r.start() == r.end() {
            r.start().to_string()
        } else {
            format!("{}-{}", r.start(), r.end())
        }
    };
    ranges.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// The Landlock rights a type's restrictions need, each with what it restricts.
pub fn landlock_needs(r: &Restrictions) -> Vec<(LandlockRight, String)> {
    let mut needs = Vec::new();
    if let Some(dirs) = &r.sock_beneath {
        needs.push((LandlockRight::MakeSock, format!("sockets only beneath {}", describe_dirs(dirs))));
    }
    if let Some(dirs) = &r.link_beneath {
        needs.push((LandlockRight::MakeSym, format!("links only beneath {}", describe_dirs(dirs))));
    }
    if let Some(ports) = &r.privileged_ports {
        needs.push((LandlockRight::BindTcp, format!("privileged TCP ports only {}", describe_ranges(ports))));
    }
    needs
}

/// The id restrictions of one domain, as `-v` and the shortfalls name them.
pub fn id_needs(ids: &IdRanges) -> Vec<String> {
    let mut needs = Vec::new();
    if let Some(uids) = &ids.uids {
        needs.push(format!("setuid only to {}", describe_ranges(uids)));
    }
    if let Some(gids) = &ids.gids {
        needs.push(format!("setgid only to {}", describe_ranges(gids)));
    }
    needs
}

/// One part of a type's policy that cannot be enforced here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortfall {
    /// The Landlock ABI in use lacks a right the type needs.
    Landlock {
        /// The right.
        right: LandlockRight,
        /// The ABI in use (0: no Landlock).
        have_abi: u32,
        /// What it would have restricted.
        restriction: String,
    },
    /// Capabilities the type is granted that the caller's bounding set lacks.
    Bounding(BTreeSet<u32>),
    /// Capabilities the type is granted that the caller does not hold.
    NotHeld(BTreeSet<u32>),
    /// An id restriction, and seccomp filters are not available.
    Seccomp {
        /// What it would have restricted.
        restriction: String,
    },
    /// Something no Linux mechanism enforces (from the plan).
    Unenforceable(String),
}

/// `net_bind_service, sys_resource`.
fn capability_names(numbers: &BTreeSet<u32>) -> String {
    numbers
        .iter()
        .map(|n| {
            secpol::ability::capability_name(*n).map_or_else(|| format!("capability {n}"), str::to_string)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shortfall::Landlock { right, have_abi: 0, restriction } => write!(
                f,
                "{restriction}: Landlock is not available on this kernel (needs {} of Landlock ABI {})",
                right.name(),
                right.abi()
            ),
            Shortfall::Landlock { right, have_abi, restriction } => write!(
                f,
                "{restriction}: Landlock ABI {have_abi} lacks {} (ABI {})",
                right.name(),
                right.abi()
            ),
            Shortfall::Bounding(caps) => {
                write!(f, "the caller's bounding set lacks {}: cannot be granted", capability_names(caps))
            }
            Shortfall::NotHeld(caps) => write!(
                f,
                "the caller does not hold {}: cannot be granted (run as root)",
                capability_names(caps)
            ),
            Shortfall::Seccomp { restriction } => {
                write!(f, "{restriction}: seccomp filters are not available on this kernel")
            }
            Shortfall::Unenforceable(what) => f.write_str(what),
        }
    }
}

/// Every part of `r` that cannot be enforced for a command starting as root
/// (`starts_as_root`) or not, on a system that offers `offers`. Empty: fully enforced.
pub fn shortfalls(r: &Restrictions, starts_as_root: bool, offers: &SystemOffers) -> Vec<Shortfall> {
    let mut found: Vec<Shortfall> = r
        .unenforceable
        .iter()
        .filter(|u| starts_as_root || !u.root_only)
        .map(|u| Shortfall::Unenforceable(u.what.clone()))
        .collect();
    for (right, restriction) in landlock_needs(r) {
        if right.abi() > offers.landlock_abi {
            found.push(Shortfall::Landlock { right, have_abi: offers.landlock_abi, restriction });
        }
    }
    let granted = if starts_as_root { &r.root } else { &r.nonroot };
    let outside: BTreeSet<u32> = granted.difference(&offers.bounding).copied().collect();
    if !outside.is_empty() {
        found.push(Shortfall::Bounding(outside));
    }
    let not_held: BTreeSet<u32> =
        granted.intersection(&offers.bounding).filter(|c| !offers.permitted.contains(c)).copied().collect();
    if !not_held.is_empty() {
        found.push(Shortfall::NotHeld(not_held));
    }
    if !offers.seccomp_filter {
        found.extend(
            id_needs(r.ids(starts_as_root)).into_iter().map(|restriction| Shortfall::Seccomp { restriction }),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restrictions::Unenforceable;

    fn n(name: &str) -> u32 {
        secpol::ability::capability_number(name).unwrap()
    }

    /// This machine kind: Landlock ABI 7, seccomp, a root caller holding everything.
    fn full() -> SystemOffers {
        let all: BTreeSet<u32> = (0..=40).collect();
        SystemOffers { landlock_abi: 7, bounding: all.clone(), permitted: all, seccomp_filter: true }
    }

    fn web() -> Restrictions {
        Restrictions {
            type_name: "web_t".into(),
            root: [n("net_bind_service")].into(),
            sock_beneath: Some(vec![PathBuf::from("/run/web")]),
            link_beneath: Some(vec![]),
            privileged_ports: Some(vec![80..=80]),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_system_enforces_everything() {
        assert_eq!(shortfalls(&web(), true, &full()), vec![]);
    }

    #[test]
    fn landlock_abi_3_lacks_net_bind_tcp_for_a_type_with_ports() {
        let offers = SystemOffers { landlock_abi: 3, ..full() };
        let found = shortfalls(&web(), true, &offers);
        assert_eq!(
            found,
            vec![Shortfall::Landlock {
                right: LandlockRight::BindTcp,
                have_abi: 3,
                restriction: "privileged TCP ports only 80".into()
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "privileged TCP ports only 80: Landlock ABI 3 lacks NET_BIND_TCP (ABI 4)"
        );
        // ABI 4 has it.
        assert_eq!(shortfalls(&web(), true, &SystemOffers { landlock_abi: 4, ..full() }), vec![]);
    }

    #[test]
    fn no_landlock_fails_every_path_and_port_rule() {
        let found = shortfalls(&web(), true, &SystemOffers { landlock_abi: 0, ..full() });
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "sockets only beneath /run/web: Landlock is not available on this kernel (needs MAKE_SOCK of \
                 Landlock ABI 1)",
                "links only beneath nowhere: Landlock is not available on this kernel (needs MAKE_SYM of \
                 Landlock ABI 1)",
                "privileged TCP ports only 80: Landlock is not available on this kernel (needs NET_BIND_TCP \
                 of Landlock ABI 4)",
            ]
        );
        // A type with nothing to restrict by Landlock needs none.
        let plain = Restrictions { type_name: "plain_t".into(), ..Default::default() };
        assert_eq!(shortfalls(&plain, true, &SystemOffers { landlock_abi: 0, ..full() }), vec![]);
    }

    #[test]
    fn a_capability_outside_the_bounding_set_is_named() {
        let r = Restrictions {
            type_name: "res_t".into(),
            root: [n("sys_resource"), n("chown")].into(),
            ..Default::default()
        };
        let mut offers = full();
        offers.bounding.remove(&n("sys_resource"));
        offers.permitted.remove(&n("sys_resource"));
        let found = shortfalls(&r, true, &offers);
        assert_eq!(found, vec![Shortfall::Bounding([n("sys_resource")].into())]);
        assert_eq!(found[0].to_string(), "the caller's bounding set lacks sys_resource: cannot be granted");
    }

    #[test]
    fn only_the_starting_domain_counts_for_capabilities() {
        // chown as root only; the command starts as non-root: nothing it needs is missing.
        let r = Restrictions { type_name: "t".into(), root: [n("chown")].into(), ..Default::default() };
        let offers = SystemOffers { bounding: BTreeSet::new(), permitted: BTreeSet::new(), ..full() };
        assert_eq!(shortfalls(&r, false, &offers), vec![]);
        assert_eq!(shortfalls(&r, true, &offers), vec![Shortfall::Bounding([n("chown")].into())]);
    }

    #[test]
    fn a_caller_without_the_capability_cannot_grant_it() {
        let offers = SystemOffers { permitted: BTreeSet::new(), ..full() };
        let found = shortfalls(&web(), true, &offers);
        assert_eq!(found, vec![Shortfall::NotHeld([n("net_bind_service")].into())]);
        assert!(found[0].to_string().contains("does not hold net_bind_service"), "{}", found[0]);
    }

    #[test]
    fn id_subranges_need_seccomp() {
        let r = Restrictions {
            type_name: "ids_t".into(),
            ids_as_root: IdRanges { uids: Some(vec![33..=33]), gids: Some(vec![33..=34]) },
            ..Default::default()
        };
        assert_eq!(shortfalls(&r, true, &full()), vec![]);
        let found = shortfalls(&r, true, &SystemOffers { seccomp_filter: false, ..full() });
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "setuid only to 33: seccomp filters are not available on this kernel",
                "setgid only to 33-34: seccomp filters are not available on this kernel"
            ]
        );
        // The non-root domain has no id subrange.
        assert_eq!(shortfalls(&r, false, &SystemOffers { seccomp_filter: false, ..full() }), vec![]);
    }

    #[test]
    fn unenforceable_parts_are_shortfalls_in_their_domain() {
        let r = Restrictions {
            type_name: "t".into(),
            unenforceable: vec![
                Unenforceable { what: "sys_nice:5: no check".into(), root_only: true },
                Unenforceable { what: "derive_type t a b_t: not applied".into(), root_only: false },
            ],
            ..Default::default()
        };
        assert_eq!(shortfalls(&r, true, &full()).len(), 2);
        assert_eq!(
            shortfalls(&r, false, &full()),
            vec![Shortfall::Unenforceable("derive_type t a b_t: not applied".into())]
        );
    }

    #[test]
    fn the_abi_knob_only_lowers() {
        assert_eq!(effective_landlock_abi(7, None), 7);
        assert_eq!(effective_landlock_abi(7, Some(3)), 3);
        assert_eq!(effective_landlock_abi(7, Some(0)), 0);
        assert_eq!(effective_landlock_abi(3, Some(7)), 3);
        assert_eq!(effective_landlock_abi(0, Some(9)), 0);
    }
}
