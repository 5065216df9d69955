//! Enforcement for `secpolctl on -T TYPE` when TYPE is restricted: what the launcher does to
//! itself before it enters the type and execs the command.
//!
//! A restricted type gets exactly its policy's capabilities and nothing else:
//!
//! | mechanism | from the policy |
//! |---|---|
//! | bounding set | root and non-root abilities together (nothing else can ever come back) |
//! | permitted, effective, inheritable | the abilities of the domain the command starts in (root or non-root) |
//! | ambient | the non-root abilities, when the command starts as non-root (so they survive exec) |
//! | `no_new_privs` | always: setuid binaries and file capabilities cannot add anything |
//! | Landlock `MAKE_SOCK` | socket files only beneath the directories of `allow_attach` paths |
//! | Landlock `MAKE_SYM` | symbolic links only beneath the directories of `allow_link` paths |
//! | Landlock `BIND_TCP` | privileged ports only within `net_bind_service`'s subranges (when it has any) |
//! | seccomp filter on ids | `setuid`/`setgid` subranges: the set*id calls may name only those ids ([`crate::idfilter`]) |
//!
//! It fails closed: what the system cannot enforce ([`crate::shortfall`]) stops the launch
//! before anything here runs, unless `--best-effort` is given; then each mechanism is
//! applied as far as the system allows. Where Linux can only approximate what the policy
//! says, [`Restrictions::notes`] says how; `secpolctl on -v` prints them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use caps::{CapSet, Capability, CapsHashSet};

use crate::restrictions::{Enforcement, Restrictions};
use crate::shortfall::{describe_dirs, describe_ranges, landlock_needs, LandlockRight, SystemOffers};

/// Why restrictions could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    /// A capability operation failed.
    #[error("cannot {what} for type {type_name}")]
    Caps {
        /// What was being done.
        what: String,
        /// The type.
        type_name: String,
        /// Why.
        source: caps::errors::CapsError,
    },
    /// A prctl failed.
    #[error("cannot {what}: {source}")]
    Os {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// Landlock refused the rules.
    #[error("cannot apply Landlock rules for type {type_name}: {source}")]
    Landlock {
        /// The type.
        type_name: String,
        /// Why.
        source: landlock::RulesetError,
    },
    /// A directory named by a Landlock rule cannot be opened.
    #[error("cannot open {path} for a Landlock rule: {source}")]
    LandlockPath {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: landlock::PathFdError,
    },
    /// Switching user failed.
    #[error("{0}")]
    User(String),
    /// The seccomp filter on ids could not be installed.
    #[error(transparent)]
    IdFilter(#[from] crate::idfilter::IdFilterError),
}

/// What was applied, for `-v`.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Lines describing each step.
    pub steps: Vec<String>,
}

fn cap_set(numbers: &BTreeSet<u32>) -> CapsHashSet {
    caps::all().into_iter().filter(|c| numbers.contains(&u32::from(c.index()))).collect()
}

fn names(numbers: &BTreeSet<u32>) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    numbers.iter().filter_map(|n| secpol::ability::capability_name(*n)).collect::<Vec<_>>().join(",")
}

fn prctl(what: &'static str, op: libc::c_int, arg: libc::c_ulong) -> Result<(), EnforceError> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(op, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(EnforceError::Os { what, source: std::io::Error::last_os_error() })
    }
}

/// `SECBIT_NO_SETUID_FIXUP`.
const NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;

/// Sets effective = permitted = `eff_perm` and inheritable = `inh` in one `capset(2)`.
fn capset_all(eff_perm: &CapsHashSet, inh: &CapsHashSet) -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let bits = |set: &CapsHashSet| set.iter().fold(0u64, |acc, c| acc | c.bitmask());
    let (ep, ih) = (bits(eff_perm), bits(inh));
    let mut data = [Data::default(); 2];
    for (i, d) in data.iter_mut().enumerate() {
        let shift = 32 * i;
        d.effective = (ep >> shift) as u32;
        d.permitted = (ep >> shift) as u32;
        d.inheritable = (ih >> shift) as u32;
    }
    // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
    let mut header = Header { version: 0x2008_0522, pid: 0 };
    // SAFETY: header and data are valid, properly laid out for capset(2) version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The lowest unprivileged port (`net.ipv4.ip_unprivileged_port_start`, 1024 by default).
fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// Applies `r` to this process. `switch_user` (when the command runs as another user)
/// is called at the point where the user must change: after the bounding set is cut,
/// with `PR_SET_KEEPCAPS`, before the final capability sets. `starts_as_root` says
/// whether the command will run with effective uid 0.
fn apply(
    r: &Restrictions,
    starts_as_root: bool,
    offers: &SystemOffers,
    switch_user: Option<&dyn Fn() -> Result<(), String>>,
) -> Result<Applied, EnforceError> {
    let mut applied = Applied::default();
    let t = &r.type_name;
    let caps_err = |what: &str| {
        let what = what.to_string();
        move |source| EnforceError::Caps { what: what.clone(), type_name: t.clone(), source }
    };
    // Only what the caller's bounding set still holds can be granted at all (what it
    // lacks is a shortfall: refused, or reported with --best-effort).
    let bounding = caps::read(None, CapSet::Bounding).map_err(caps_err("read the bounding set"))?;
    let grantable = |numbers: &BTreeSet<u32>| -> BTreeSet<u32> {
        numbers.intersection(&offers.bounding).copied().collect()
    };
    let requested = if starts_as_root { &r.root } else { &r.nonroot };
    let wanted_numbers = &grantable(requested);
    let wanted = cap_set(wanted_numbers);
    let union: BTreeSet<u32> = grantable(&r.root.union(&r.nonroot).copied().collect());
    let keep = cap_set(&union);
    let have_setpcap = caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false);

    // Inheritable first, while the effective set still holds everything. A root command
    // gets its capabilities from the bounding set; inheritable only passes them on, which
    // `noinherit` ones must not be.
    let inheritable_numbers: BTreeSet<u32> = if starts_as_root {
        wanted_numbers.difference(&r.noinherit).copied().collect()
    } else {
        wanted_numbers.clone()
    };
    // A caller without any capability (not root) has nothing to give or take: touching
    // the sets would only make capability checks it fails.
    let caller_permitted = caps::read(None, CapSet::Permitted).map_err(caps_err("read the permitted set"))?;
    if caller_permitted.is_empty() {
        if let Some(switch) = switch_user {
            switch().map_err(EnforceError::User)?;
        }
        applied.steps.push("capabilities: none (the caller has none)".into());
        return finish(r, starts_as_root, offers, applied);
    }
    caps::set(None, CapSet::Inheritable, &cap_set(&inheritable_numbers))
        .map_err(caps_err("set the inheritable set"))?;
    // Bounding set: only the policy's abilities can ever be held again.
    if have_setpcap {
        for cap in bounding {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap).map_err(caps_err("drop from the bounding set"))?;
            }
        }
        applied.steps.push(format!("bounding set: {}", names(&union)));
    } else {
        applied.steps.push("bounding set: unchanged (no CAP_SETPCAP; nothing can be gained anyway)".into());
    }
    if let Some(switch) = switch_user {
        // SECBIT_NO_SETUID_FIXUP keeps every set, the effective one included, across the
        // switch, so the launcher never makes a capability check it fails (which the
        // tracer would report); the bit is cleared again at once.
        prctl("keep capabilities across the user switch", libc::PR_SET_SECUREBITS, NO_SETUID_FIXUP)?;
        switch().map_err(EnforceError::User)?;
        prctl("clear the securebits", libc::PR_SET_SECUREBITS, 0)?;
    }
    let permitted = caps::read(None, CapSet::Permitted).map_err(caps_err("read the permitted set"))?;
    let effective: CapsHashSet = wanted.intersection(&permitted).copied().collect();
    // One capset for all three sets: while the effective set still holds CAP_SETPCAP.
    capset_all(&effective, &cap_set(&inheritable_numbers))
        .map_err(|source| EnforceError::Os { what: "set the capability sets", source })?;
    caps::clear(None, CapSet::Ambient).map_err(caps_err("clear the ambient set"))?;
    if !starts_as_root {
        for cap in &effective {
            caps::raise(None, CapSet::Ambient, *cap).map_err(caps_err("raise an ambient capability"))?;
        }
        let leaking: BTreeSet<u32> = wanted_numbers.intersection(&r.noinherit).copied().collect();
        if !leaking.is_empty() {
            applied.steps.push(format!(
                "note: {} are noinherit, but a non-root command receives capabilities only as \
                 ambient ones, which its children inherit too",
                names(&leaking)
            ));
        }
    }
    let effective_numbers: BTreeSet<u32> = effective.iter().map(|c| u32::from(c.index())).collect();
    applied.steps.push(format!(
        "capabilities as {}: {}",
        if starts_as_root { "root" } else { "non-root" },
        names(&effective_numbers)
    ));
    finish(r, starts_as_root, offers, applied)
}

/// The steps every restricted launch ends with: no_new_privs, Landlock, the id filter,
/// the notes. Each mechanism is applied as far as `offers` allows (the shortfalls were
/// refused before, unless `--best-effort` was given).
fn finish(
    r: &Restrictions,
    starts_as_root: bool,
    offers: &SystemOffers,
    mut applied: Applied,
) -> Result<Applied, EnforceError> {
    prctl("set no_new_privs", libc::PR_SET_NO_NEW_PRIVS, 1)?;
    applied.steps.push("no_new_privs: set".into());
    applied.steps.extend(apply_landlock(r, offers.landlock_abi)?);
    let ids = r.ids(starts_as_root);
    if offers.seccomp_filter {
        applied.steps.extend(crate::idfilter::apply(&r.type_name, ids)?);
    } else if ids.is_restricted() {
        applied.steps.push("seccomp: not available; ids not restricted".into());
    }
    applied.steps.extend(r.notes.iter().map(|n| format!("note: {n}")));
    Ok(applied)
}

impl Enforcement {
    /// Applies this to the current process, as far as `offers` allows; `switch_user`
    /// changes user at the right moment (it is called exactly once). Returns the steps
    /// taken, for `-v`.
    pub fn apply(
        &self,
        starts_as_root: bool,
        offers: &SystemOffers,
        switch_user: &dyn Fn() -> Result<(), String>,
    ) -> Result<Vec<String>, EnforceError> {
        match self {
            Enforcement::Nothing(why) => {
                switch_user().map_err(EnforceError::User)?;
                Ok(vec![format!("not enforced: {why}")])
            }
            Enforcement::Restricted(r) => Ok(apply(r, starts_as_root, offers, Some(switch_user))?.steps),
            Enforcement::Unrestricted { drop_root, drop_nonroot } => {
                switch_user().map_err(EnforceError::User)?;
                let drops = if starts_as_root { drop_root } else { drop_nonroot };
                let mut steps = vec![
                    "unrestricted: the caller's privileges".to_string(),
                    "note: derive_type rules are not applied on Linux: every program the type runs stays in it"
                        .to_string(),
                ];
                if !drops.is_empty() {
                    drop_everywhere(drops, "unrestricted")?;
                    steps.push(format!("without {} (deny:/keep: in the configuration)", names(drops)));
                }
                Ok(steps)
            }
        }
    }
}

/// Removes `caps` from every set of this process (the bounding set when permitted).
fn drop_everywhere(numbers: &BTreeSet<u32>, type_name: &str) -> Result<(), EnforceError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |source| EnforceError::Caps { what: what.clone(), type_name: type_name.to_string(), source }
    };
    let have_setpcap = caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false);
    for cap in cap_set(numbers) {
        if have_setpcap {
            caps::drop(None, CapSet::Bounding, cap).map_err(err("drop from the bounding set"))?;
        }
        for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
            caps::drop(None, set, cap).map_err(err("drop a capability"))?;
        }
    }
    Ok(())
}

/// Applies the type's Landlock rules with the rights of ABI `abi` (the others were
/// refused before, or are reported with `--best-effort`).
fn apply_landlock(r: &Restrictions, abi: u32) -> Result<Vec<String>, EnforceError> {
    use landlock::{
        AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus,
    };
    let err = |source| EnforceError::Landlock { type_name: r.type_name.clone(), source };
    let needs = landlock_needs(r);
    if needs.is_empty() {
        return Ok(vec!["landlock: nothing to restrict".into()]);
    }
    let mut steps = Vec::new();
    let usable = |right: LandlockRight| right.abi() <= abi;
    for (right, restriction) in &needs {
        if !usable(*right) {
            steps.push(format!("landlock: not enforced: {restriction} (ABI {abi} lacks {})", right.name()));
        }
    }
    if !needs.iter().any(|(right, _)| usable(*right)) {
        return Ok(steps);
    }
    // Every right asked for is one the decision found offered: the kernel refusing one
    // is an error, never a silent downgrade.
    let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    let sock = r.sock_beneath.as_ref().filter(|_| usable(LandlockRight::MakeSock));
    let link = r.link_beneath.as_ref().filter(|_| usable(LandlockRight::MakeSym));
    let ports = r.privileged_ports.as_ref().filter(|_| usable(LandlockRight::BindTcp));
    if sock.is_some() {
        ruleset = ruleset.handle_access(AccessFs::MakeSock).map_err(err)?;
    }
    if link.is_some() {
        ruleset = ruleset.handle_access(AccessFs::MakeSym).map_err(err)?;
    }
    if ports.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp).map_err(err)?;
    }
    let mut created = ruleset.create().map_err(err)?;
    for (dirs, access, what) in [(sock, AccessFs::MakeSock, "sockets"), (link, AccessFs::MakeSym, "links")] {
        if let Some(dirs) = dirs {
            for d in dirs {
                let fd = PathFd::new(d)
                    .map_err(|source| EnforceError::LandlockPath { path: d.clone(), source })?;
                created = created.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
            }
            steps.push(format!("landlock: {what} only beneath {}", describe_dirs(dirs)));
        }
    }
    if let Some(ports) = ports {
        let start = unprivileged_port_start();
        // Port 0 (any free port) and every unprivileged port stay open: only the
        // privileged ones are a matter of policy.
        let allowed = std::iter::once(0u16)
            .chain(start..=u16::MAX)
            .chain(ports.iter().flat_map(|r| r.clone()).filter(|p| *p < start));
        for port in allowed {
            created = created.add_rule(NetPort::new(port, AccessNet::BindTcp)).map_err(err)?;
        }
        steps.push(format!("landlock: privileged TCP ports only {}", describe_ranges(ports)));
    }
    let status = created.restrict_self().map_err(err)?;
    steps.push(match status.ruleset {
        RulesetStatus::FullyEnforced => format!("landlock: enforced (ABI {abi})"),
        RulesetStatus::PartiallyEnforced => format!("landlock: partly enforced (ABI {abi})"),
        RulesetStatus::NotEnforced => "landlock: not enforced".into(),
    });
    Ok(steps)
}
