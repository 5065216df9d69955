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
//! applied as far as the system allows. [`admit`] makes that decision, and only the
//! [`Admitted`] launch it returns can be applied. Where Linux can only approximate what the
//! policy says, [`Restrictions::notes`] says how; `secpolctl on -v` prints them.
//!
//! This module decides which capability goes in which set and in what order; the calls
//! themselves go through [`Syscalls`] ([`crate::syscalls`]), so unit tests check the
//! decision and the order with a recording fake, without root.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use caps::{CapSet, Capability, CapsHashSet};

use crate::restrictions::{Enforcement, Restrictions};
use crate::shortfall::{
    describe_dirs, describe_ranges, landlock_needs, shortfalls, LandlockRight, Shortfall, SystemOffers,
};
use crate::syscalls::{LandlockError, LandlockOutcome, LandlockRules, Syscalls};

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

/// The capabilities of `numbers`, lowest first: the calls that add or drop them one at a
/// time are made in a fixed order.
fn in_order(numbers: &BTreeSet<u32>) -> Vec<Capability> {
    let mut caps: Vec<Capability> = cap_set(numbers).into_iter().collect();
    caps.sort_by_key(|c| c.index());
    caps
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> EnforceError {
    move |source| EnforceError::Os { what, source }
}

/// `SECBIT_NO_SETUID_FIXUP`.
const NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;

/// A launch `--best-effort` did not allow: parts of the restricted type's policy cannot be
/// enforced here, so nothing is applied.
#[derive(Debug)]
pub struct Refused {
    /// What cannot be enforced.
    pub shortfalls: Vec<Shortfall>,
}

/// A launch let through: the only way to apply its enforcement ([`Admitted::apply`]), so
/// nothing is applied before the shortfalls were weighed.
#[derive(Debug)]
pub struct Admitted<'a> {
    enforcement: &'a Enforcement,
    starts_as_root: bool,
    offers: &'a SystemOffers,
    /// What will not be enforced (accepted with `--best-effort`).
    pub not_enforced: Vec<Shortfall>,
}

/// Weighs what of `enforcement` this system cannot enforce ([`crate::shortfall`]) for a
/// command starting as root (`starts_as_root`) or not: any shortfall refuses the launch,
/// unless `best_effort`. Only a restricted type can fall short: the others take the
/// caller's privileges, or less.
pub fn admit<'a>(
    enforcement: &'a Enforcement,
    starts_as_root: bool,
    offers: &'a SystemOffers,
    best_effort: bool,
) -> Result<Admitted<'a>, Refused> {
    let missing = match enforcement {
        Enforcement::Restricted(r) => shortfalls(r, starts_as_root, offers),
        Enforcement::Nothing(_) | Enforcement::Unrestricted { .. } => Vec::new(),
    };
    if !missing.is_empty() && !best_effort {
        return Err(Refused { shortfalls: missing });
    }
    Ok(Admitted { enforcement, starts_as_root, offers, not_enforced: missing })
}

impl Admitted<'_> {
    /// Applies the enforcement to this process through `sys`, as far as the system allows;
    /// `switch_user` changes user at the right moment (it is called exactly once). Returns
    /// the steps taken, for `-v`.
    pub fn apply(
        &self,
        sys: &mut dyn Syscalls,
        switch_user: &dyn Fn() -> Result<(), String>,
    ) -> Result<Vec<String>, EnforceError> {
        match self.enforcement {
            Enforcement::Nothing(why) => {
                switch_user().map_err(EnforceError::User)?;
                Ok(vec![format!("not enforced: {why}")])
            }
            Enforcement::Restricted(r) => {
                Ok(apply(sys, r, self.starts_as_root, self.offers, Some(switch_user))?.steps)
            }
            Enforcement::Unrestricted { drop_root, drop_nonroot } => {
                switch_user().map_err(EnforceError::User)?;
                let drops = if self.starts_as_root { drop_root } else { drop_nonroot };
                let mut steps = vec![
                    "unrestricted: the caller's privileges".to_string(),
                    "note: derive_type rules are not applied on Linux: every program the type runs stays in it"
                        .to_string(),
                ];
                if !drops.is_empty() {
                    drop_everywhere(sys, drops, "unrestricted")?;
                    steps.push(format!("without {} (deny:/keep: in the configuration)", names(drops)));
                }
                Ok(steps)
            }
        }
    }
}

/// Applies `r` to this process. `switch_user` (when the command runs as another user)
/// is called at the point where the user must change: after the bounding set is cut,
/// with `PR_SET_KEEPCAPS`, before the final capability sets. `starts_as_root` says
/// whether the command will run with effective uid 0.
fn apply(
    sys: &mut dyn Syscalls,
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
    let bounding = sys.read_caps(CapSet::Bounding).map_err(caps_err("read the bounding set"))?;
    let grantable = |numbers: &BTreeSet<u32>| -> BTreeSet<u32> {
        numbers.intersection(&offers.bounding).copied().collect()
    };
    let requested = if starts_as_root { &r.root } else { &r.nonroot };
    let wanted_numbers = &grantable(requested);
    let wanted = cap_set(wanted_numbers);
    let union: BTreeSet<u32> = grantable(&r.root.union(&r.nonroot).copied().collect());
    let keep = cap_set(&union);
    let have_setpcap = sys.has_effective(Capability::CAP_SETPCAP).unwrap_or(false);

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
    let caller_permitted = sys.read_caps(CapSet::Permitted).map_err(caps_err("read the permitted set"))?;
    if caller_permitted.is_empty() {
        if let Some(switch) = switch_user {
            switch().map_err(EnforceError::User)?;
        }
        applied.steps.push("capabilities: none (the caller has none)".into());
        return finish(sys, r, starts_as_root, offers, applied);
    }
    sys.set_inheritable(&cap_set(&inheritable_numbers)).map_err(caps_err("set the inheritable set"))?;
    // Bounding set: only the policy's abilities can ever be held again.
    if have_setpcap {
        let bounding_numbers: BTreeSet<u32> = bounding.iter().map(|c| u32::from(c.index())).collect();
        for cap in in_order(&bounding_numbers) {
            if !keep.contains(&cap) {
                sys.drop_cap(CapSet::Bounding, cap).map_err(caps_err("drop from the bounding set"))?;
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
        sys.set_securebits(NO_SETUID_FIXUP).map_err(os("keep capabilities across the user switch"))?;
        switch().map_err(EnforceError::User)?;
        sys.set_securebits(0).map_err(os("clear the securebits"))?;
    }
    let permitted = sys.read_caps(CapSet::Permitted).map_err(caps_err("read the permitted set"))?;
    let effective: CapsHashSet = wanted.intersection(&permitted).copied().collect();
    let effective_numbers: BTreeSet<u32> = effective.iter().map(|c| u32::from(c.index())).collect();
    // One capset for all three sets: while the effective set still holds CAP_SETPCAP.
    sys.set_capabilities(&effective, &cap_set(&inheritable_numbers))
        .map_err(os("set the capability sets"))?;
    sys.clear_ambient().map_err(caps_err("clear the ambient set"))?;
    if !starts_as_root {
        for cap in in_order(&effective_numbers) {
            sys.raise_ambient(cap).map_err(caps_err("raise an ambient capability"))?;
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
    applied.steps.push(format!(
        "capabilities as {}: {}",
        if starts_as_root { "root" } else { "non-root" },
        names(&effective_numbers)
    ));
    finish(sys, r, starts_as_root, offers, applied)
}

/// The steps every restricted launch ends with: no_new_privs, Landlock, the id filter,
/// the notes. Each mechanism is applied as far as `offers` allows (the shortfalls were
/// refused before, unless `--best-effort` was given).
fn finish(
    sys: &mut dyn Syscalls,
    r: &Restrictions,
    starts_as_root: bool,
    offers: &SystemOffers,
    mut applied: Applied,
) -> Result<Applied, EnforceError> {
    sys.set_no_new_privs().map_err(os("set no_new_privs"))?;
    applied.steps.push("no_new_privs: set".into());
    applied.steps.extend(apply_landlock(sys, r, offers.landlock_abi)?);
    let ids = r.ids(starts_as_root);
    if offers.seccomp_filter {
        applied.steps.extend(crate::idfilter::apply(sys, &r.type_name, ids)?);
    } else if ids.is_restricted() {
        applied.steps.push("seccomp: not available; ids not restricted".into());
    }
    applied.steps.extend(r.notes.iter().map(|n| format!("note: {n}")));
    Ok(applied)
}

/// Removes `caps` from every set of this process (the bounding set when permitted).
fn drop_everywhere(
    sys: &mut dyn Syscalls,
    numbers: &BTreeSet<u32>,
    type_name: &str,
) -> Result<(), EnforceError> {
    let err = |what: &str| {
        let what = what.to_string();
        move |source| EnforceError::Caps { what: what.clone(), type_name: type_name.to_string(), source }
    };
    let have_setpcap = sys.has_effective(Capability::CAP_SETPCAP).unwrap_or(false);
    for cap in in_order(numbers) {
        if have_setpcap {
            sys.drop_cap(CapSet::Bounding, cap).map_err(err("drop from the bounding set"))?;
        }
        for set in [CapSet::Ambient, CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
            sys.drop_cap(set, cap).map_err(err("drop a capability"))?;
        }
    }
    Ok(())
}

/// The TCP ports a type whose `net_bind_service` holds for `privileged` ports may bind,
/// where ports from `unprivileged_start` on need no privilege.
fn allowed_tcp_ports(
    privileged: &[RangeInclusive<u16>],
    unprivileged_start: u16,
) -> Vec<RangeInclusive<u16>> {
    // Port 0 (any free port) and every unprivileged port stay open: only the
    // privileged ones are a matter of policy.
    let mut allowed = vec![0..=0, unprivileged_start..=u16::MAX];
    allowed.extend(
        privileged
            .iter()
            .filter(|r| *r.start() < unprivileged_start)
            .map(|r| *r.start()..=(*r.end()).min(unprivileged_start - 1)),
    );
    allowed
}

/// Applies the type's Landlock rules with the rights of ABI `abi` (the others were
/// refused before, or are reported with `--best-effort`).
fn apply_landlock(sys: &mut dyn Syscalls, r: &Restrictions, abi: u32) -> Result<Vec<String>, EnforceError> {
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
    let sock = r.sock_beneath.as_ref().filter(|_| usable(LandlockRight::MakeSock));
    let link = r.link_beneath.as_ref().filter(|_| usable(LandlockRight::MakeSym));
    let ports = r.privileged_ports.as_ref().filter(|_| usable(LandlockRight::BindTcp));
    for (dirs, what) in [(sock, "sockets"), (link, "links")] {
        if let Some(dirs) = dirs {
            steps.push(format!("landlock: {what} only beneath {}", describe_dirs(dirs)));
        }
    }
    let mut bind_tcp = None;
    if let Some(ports) = ports {
        bind_tcp = Some(allowed_tcp_ports(ports, sys.unprivileged_port_start()));
        steps.push(format!("landlock: privileged TCP ports only {}", describe_ranges(ports)));
    }
    let rules = LandlockRules { sock_beneath: sock.cloned(), link_beneath: link.cloned(), bind_tcp };
    let outcome = sys.restrict_landlock(&rules).map_err(|e| match e {
        LandlockError::Ruleset(source) => EnforceError::Landlock { type_name: r.type_name.clone(), source },
        LandlockError::Path { path, source } => EnforceError::LandlockPath { path, source },
    })?;
    steps.push(match outcome {
        LandlockOutcome::Full => format!("landlock: enforced (ABI {abi})"),
        LandlockOutcome::Partial => format!("landlock: partly enforced (ABI {abi})"),
        LandlockOutcome::Nothing => "landlock: not enforced".into(),
    });
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restrictions::IdRanges;
    use crate::syscalls::recording::{Call, Recording};

    fn cap(name: &str) -> u32 {
        secpol::ability::capability_number(name).unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<u32> {
        names.iter().map(|name| cap(name)).collect()
    }

    /// A system offering everything (Landlock ABI 7, seccomp) to the fake's caller.
    fn offers(sys: &Recording) -> SystemOffers {
        SystemOffers {
            landlock_abi: 7,
            bounding: sys.bounding.clone(),
            permitted: sys.permitted.clone(),
            seccomp_filter: true,
        }
    }

    fn restricted(r: Restrictions) -> Enforcement {
        Enforcement::Restricted(Box::new(r))
    }

    /// Admits `e` with `--best-effort` and applies it with `sys`: the steps, or the error.
    fn run(
        e: &Enforcement,
        starts_as_root: bool,
        offers: &SystemOffers,
        sys: &mut Recording,
    ) -> Result<Vec<String>, EnforceError> {
        let switch = sys.switch_user();
        admit(e, starts_as_root, offers, true).expect("best effort admits everything").apply(sys, &switch)
    }

    /// The bounding set drops of a caller holding `sys.bounding` that keeps `keep`.
    fn bounding_drops(sys: &Recording, keep: &BTreeSet<u32>) -> Vec<Call> {
        sys.bounding.iter().filter(|c| !keep.contains(c)).map(|c| Call::Drop("Bounding".into(), *c)).collect()
    }

    /// chown everywhere, net_bind_service and setuid as root only; setuid must not reach children.
    fn web() -> Restrictions {
        Restrictions {
            type_name: "web_t".into(),
            root: set(&["chown", "net_bind_service", "setuid"]),
            nonroot: set(&["chown"]),
            noinherit: set(&["setuid"]),
            ..Default::default()
        }
    }

    #[test]
    fn a_root_command_holds_its_root_abilities_and_passes_on_only_the_inheritable_ones() {
        let mut sys = Recording::root();
        let steps = run(&restricted(web()), true, &offers(&sys), &mut sys).unwrap();
        let mut want = vec![Call::SetInheritable(set(&["chown", "net_bind_service"]))];
        want.extend(bounding_drops(&sys, &set(&["chown", "net_bind_service", "setuid"])));
        want.extend([
            Call::SetSecurebits(NO_SETUID_FIXUP),
            Call::SwitchUser,
            Call::SetSecurebits(0),
            Call::SetCapabilities {
                effective: set(&["chown", "net_bind_service", "setuid"]),
                inheritable: set(&["chown", "net_bind_service"]),
            },
            // A root command gets nothing ambient: it holds its capabilities as root.
            Call::ClearAmbient,
            Call::NoNewPrivs,
        ]);
        assert_eq!(sys.calls(), want);
        assert_eq!(
            steps,
            [
                "bounding set: chown,setuid,net_bind_service",
                "capabilities as root: chown,setuid,net_bind_service",
                "no_new_privs: set",
                "landlock: nothing to restrict",
                "seccomp: no id restriction",
            ]
        );
    }

    #[test]
    fn a_non_root_command_gets_its_nonroot_abilities_as_ambient_ones_noinherit_or_not() {
        let r = Restrictions {
            nonroot: set(&["chown", "net_bind_service"]),
            noinherit: set(&["net_bind_service"]),
            ..web()
        };
        let mut sys = Recording::root();
        let steps = run(&restricted(r), false, &offers(&sys), &mut sys).unwrap();
        let nonroot = set(&["chown", "net_bind_service"]);
        // The bounding set keeps both domains' abilities.
        let mut want = vec![Call::SetInheritable(nonroot.clone())];
        want.extend(bounding_drops(&sys, &set(&["chown", "net_bind_service", "setuid"])));
        want.extend([
            Call::SetSecurebits(NO_SETUID_FIXUP),
            Call::SwitchUser,
            Call::SetSecurebits(0),
            Call::SetCapabilities { effective: nonroot.clone(), inheritable: nonroot },
            Call::ClearAmbient,
            Call::RaiseAmbient(cap("chown")),
            Call::RaiseAmbient(cap("net_bind_service")),
            Call::NoNewPrivs,
        ]);
        assert_eq!(sys.calls(), want);
        assert_eq!(
            steps[1..3],
            [
                "note: net_bind_service are noinherit, but a non-root command receives capabilities only as \
                 ambient ones, which its children inherit too",
                "capabilities as non-root: chown,net_bind_service",
            ]
        );
    }

    #[test]
    fn no_new_privs_is_set_on_every_restricted_launch() {
        for starts_as_root in [true, false] {
            let callers = [
                ("root", Recording::root()),
                ("without CAP_SETPCAP", Recording { setpcap: false, ..Recording::root() }),
                ("without capabilities", Recording::unprivileged()),
            ];
            for (caller, mut sys) in callers {
                let offers = offers(&sys);
                run(&restricted(web()), starts_as_root, &offers, &mut sys).unwrap();
                let calls = sys.calls();
                assert_eq!(
                    calls.iter().filter(|c| **c == Call::NoNewPrivs).count(),
                    1,
                    "{caller}, starting as root: {starts_as_root}: {calls:?}"
                );
            }
        }
    }

    #[test]
    fn a_caller_without_capabilities_only_switches_user() {
        let mut sys = Recording::unprivileged();
        let steps = run(&restricted(web()), false, &offers(&sys), &mut sys).unwrap();
        assert_eq!(sys.calls(), [Call::SwitchUser, Call::NoNewPrivs]);
        assert_eq!(steps[0], "capabilities: none (the caller has none)");
    }

    #[test]
    fn without_cap_setpcap_the_bounding_set_is_left_alone() {
        let mut sys = Recording { setpcap: false, ..Recording::root() };
        let steps = run(&restricted(web()), true, &offers(&sys), &mut sys).unwrap();
        assert!(!sys.calls().iter().any(|c| matches!(c, Call::Drop(..))), "{:?}", sys.calls());
        assert_eq!(steps[0], "bounding set: unchanged (no CAP_SETPCAP; nothing can be gained anyway)");
        assert!(sys.calls().contains(&Call::SetCapabilities {
            effective: set(&["chown", "net_bind_service", "setuid"]),
            inheritable: set(&["chown", "net_bind_service"]),
        }));
    }

    /// Sockets beneath /tmp, port 80, setuid only to 33 as root.
    fn confined() -> Restrictions {
        Restrictions {
            sock_beneath: Some(vec![PathBuf::from("/tmp")]),
            privileged_ports: Some(vec![80..=80]),
            ids_as_root: IdRanges { uids: Some(vec![33..=33]), gids: None },
            ..web()
        }
    }

    #[test]
    fn a_shortfall_without_best_effort_refuses_before_any_call() {
        let sys = Recording::root();
        let e = restricted(confined());
        let old_kernel = SystemOffers { landlock_abi: 3, ..offers(&sys) };
        let refused = admit(&e, true, &old_kernel, false).expect_err("ABI 3 lacks NET_BIND_TCP");
        assert_eq!(
            refused.shortfalls.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["privileged TCP ports only 80: Landlock ABI 3 lacks NET_BIND_TCP (ABI 4)"]
        );
        // Nothing to apply without an admitted launch, so nothing was called.
        assert_eq!(sys.calls(), []);
        // With --best-effort the same launch goes ahead and says what is not enforced.
        let admitted = admit(&e, true, &old_kernel, true).unwrap();
        assert_eq!(admitted.not_enforced, refused.shortfalls);
        // A system that offers everything needs no --best-effort.
        assert!(admit(&e, true, &offers(&sys), false).unwrap().not_enforced.is_empty());
        // Unrestricted types take the caller's privileges: nothing falls short.
        let unrestricted =
            Enforcement::Unrestricted { drop_root: BTreeSet::new(), drop_nonroot: BTreeSet::new() };
        assert!(admit(&unrestricted, true, &SystemOffers { landlock_abi: 0, ..old_kernel }, false).is_ok());
    }

    #[test]
    fn with_best_effort_a_missing_landlock_is_not_enforced_and_the_rest_applied() {
        let mut sys = Recording::root();
        let no_landlock = SystemOffers { landlock_abi: 0, ..offers(&sys) };
        let steps = run(&restricted(confined()), true, &no_landlock, &mut sys).unwrap();
        let calls = sys.calls();
        assert!(!calls.iter().any(|c| matches!(c, Call::Landlock(_))), "{calls:?}");
        assert!(matches!(calls[calls.len() - 2..], [Call::NoNewPrivs, Call::Seccomp(_)]), "{calls:?}");
        assert!(calls.iter().any(|c| matches!(c, Call::SetCapabilities { .. })), "{calls:?}");
        assert_eq!(
            steps[2..],
            [
                "no_new_privs: set",
                "landlock: not enforced: sockets only beneath /tmp (ABI 0 lacks MAKE_SOCK)",
                "landlock: not enforced: privileged TCP ports only 80 (ABI 0 lacks NET_BIND_TCP)",
                "seccomp: setuid only to 33 (else EPERM)",
            ]
        );
        // ABI 3: the socket rule is applied, the port rule is not.
        let mut sys = Recording::root();
        let steps =
            run(&restricted(confined()), true, &SystemOffers { landlock_abi: 3, ..offers(&sys) }, &mut sys)
                .unwrap();
        let rules = LandlockRules {
            sock_beneath: Some(vec![PathBuf::from("/tmp")]),
            link_beneath: None,
            bind_tcp: None,
        };
        assert!(sys.calls().contains(&Call::Landlock(rules)), "{:?}", sys.calls());
        assert!(steps.contains(
            &"landlock: not enforced: privileged TCP ports only 80 (ABI 3 lacks NET_BIND_TCP)".into()
        ));
        assert!(steps.contains(&"landlock: enforced (ABI 3)".into()), "{steps:?}");
        // A kernel that enforces nothing of the ruleset: said so, and the id filter still follows.
        let mut sys = Recording { landlock: LandlockOutcome::Nothing, ..Recording::root() };
        let steps = run(&restricted(confined()), true, &offers(&sys), &mut sys).unwrap();
        let calls = sys.calls();
        assert!(matches!(calls[calls.len() - 3..], [Call::NoNewPrivs, Call::Landlock(_), Call::Seccomp(_)]));
        assert!(steps.contains(&"landlock: not enforced".into()), "{steps:?}");
    }

    #[test]
    fn landlock_gets_the_directories_and_every_port_but_the_other_privileged_ones() {
        let r = Restrictions {
            link_beneath: Some(vec![]),
            privileged_ports: Some(vec![80..=80, 443..=443, 1000..=2000]),
            ..confined()
        };
        let mut sys = Recording { unprivileged_port_start: 1500, ..Recording::root() };
        let steps = run(&restricted(r), true, &offers(&sys), &mut sys).unwrap();
        let want = LandlockRules {
            sock_beneath: Some(vec![PathBuf::from("/tmp")]),
            // No directory: no symbolic link anywhere.
            link_beneath: Some(vec![]),
            bind_tcp: Some(vec![0..=0, 1500..=u16::MAX, 80..=80, 443..=443, 1000..=1499]),
        };
        assert!(sys.calls().contains(&Call::Landlock(want)), "{:?}", sys.calls());
        assert_eq!(
            steps[3..7],
            [
                "landlock: sockets only beneath /tmp",
                "landlock: links only beneath nowhere",
                "landlock: privileged TCP ports only 80, 443, 1000-2000",
                "landlock: enforced (ABI 7)",
            ]
        );
        // Every privileged port above the start is unprivileged anyway.
        assert_eq!(allowed_tcp_ports(&[80..=80], 1024), [0..=0, 1024..=u16::MAX, 80..=80]);
        assert_eq!(allowed_tcp_ports(&[2000..=3000], 1024), [0..=0, 1024..=u16::MAX]);
    }

    #[test]
    fn the_id_filter_is_installed_only_where_the_starting_domain_has_subranges() {
        let seccomp = |calls: &[Call]| calls.iter().filter(|c| matches!(c, Call::Seccomp(_))).count();
        // As root: setuid only to 33, after no_new_privs.
        let mut sys = Recording::root();
        run(&restricted(confined()), true, &offers(&sys), &mut sys).unwrap();
        let calls = sys.calls();
        assert_eq!(seccomp(&calls), 1);
        assert!(matches!(calls.last(), Some(Call::Seccomp(len)) if *len > 0), "{calls:?}");
        // As non-root: no id subrange.
        let mut sys = Recording::root();
        let steps = run(&restricted(confined()), false, &offers(&sys), &mut sys).unwrap();
        assert_eq!(seccomp(&sys.calls()), 0);
        assert!(steps.contains(&"seccomp: no id restriction".into()), "{steps:?}");
        // No seccomp here (--best-effort): nothing installed, and said so.
        let mut sys = Recording::root();
        let no_seccomp = SystemOffers { seccomp_filter: false, ..offers(&sys) };
        let steps = run(&restricted(confined()), true, &no_seccomp, &mut sys).unwrap();
        assert_eq!(seccomp(&sys.calls()), 0);
        assert!(steps.contains(&"seccomp: not available; ids not restricted".into()), "{steps:?}");
    }

    #[test]
    fn a_failing_call_stops_the_launch_with_what_failed() {
        let fails = |fail: fn(&Call) -> bool| {
            let mut sys = Recording { fail: Some(fail), ..Recording::root() };
            let err = run(&restricted(confined()), true, &offers(&sys), &mut sys).unwrap_err();
            (secpol::cli::describe(&anyhow::Error::from(err)), sys.calls())
        };
        let (err, calls) = fails(|c| *c == Call::NoNewPrivs);
        assert_eq!(err, "cannot set no_new_privs: Operation not permitted (os error 1)");
        assert_eq!(calls.last(), Some(&Call::NoNewPrivs), "nothing after it: {calls:?}");
        let (err, calls) = fails(|c| matches!(c, Call::Drop(..)));
        assert_eq!(err, "cannot drop from the bounding set for type web_t: caps error: refused by the test");
        assert!(matches!(calls[..], [Call::SetInheritable(_), Call::Drop(..)]), "{calls:?}");
        let (err, calls) = fails(|c| matches!(c, Call::Landlock(_)));
        assert!(err.starts_with("cannot open /no/such/dir for a Landlock rule: "), "{err}");
        assert_eq!(calls.iter().filter(|c| matches!(c, Call::Seccomp(_))).count(), 0, "{calls:?}");
    }

    #[test]
    fn unrestricted_and_unenforced_types_keep_the_callers_privileges() {
        let drops =
            Enforcement::Unrestricted { drop_root: set(&["sys_admin"]), drop_nonroot: BTreeSet::new() };
        let mut sys = Recording::root();
        let steps = run(&drops, true, &offers(&sys), &mut sys).unwrap();
        let sys_admin = cap("sys_admin");
        let from = |set: &str| Call::Drop(set.into(), sys_admin);
        assert_eq!(
            sys.calls(),
            [
                Call::SwitchUser,
                from("Bounding"),
                from("Ambient"),
                from("Inheritable"),
                from("Effective"),
                from("Permitted")
            ]
        );
        assert_eq!(steps.last().unwrap(), "without sys_admin (deny:/keep: in the configuration)");
        // As non-root nothing is denied here: no capability is touched.
        let mut sys = Recording::root();
        run(&drops, false, &offers(&sys), &mut sys).unwrap();
        assert_eq!(sys.calls(), [Call::SwitchUser]);
        let mut sys = Recording::root();
        let steps = run(&Enforcement::Nothing("zero_id".into()), true, &offers(&sys), &mut sys).unwrap();
        assert_eq!((sys.calls(), steps), (vec![Call::SwitchUser], vec!["not enforced: zero_id".to_string()]));
    }
}
