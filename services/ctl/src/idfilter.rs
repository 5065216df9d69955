//! User and group subranges enforced: the seccomp filter that holds a restricted type with
//! `setuid:33` (or `setgid:33`) to switching to 33 and nothing else.
//!
//! A capability is all or nothing in Linux: `CAP_SETUID` lets a process become any user,
//! root included. The launcher adds a seccomp filter (built with `seccompiler`, a pure
//! Rust compiler of seccomp programs) on the id arguments of `setuid`, `setreuid`,
//! `setresuid`, `setfsuid` (user ids) and `setgid`, `setregid`, `setresgid`, `setfsgid`
//! (group ids): a call with an id outside the type's subranges fails with `EPERM` before
//! the kernel looks at any capability. The filter allows everything else.
//!
//! - `-1` never names an id (it means "unchanged" for `setre*id`/`setres*id`, is the query
//!   of `setfs*id` and is invalid for `setuid`/`setgid`): it is always passed to the kernel.
//! - The filter looks at the value, not at whether it changes anything: `setuid(0)` by a
//!   root process of a type with `setuid:33` is refused although it is no change.
//! - `setgroups` passes its list by pointer, which seccomp cannot read. With a `setgid`
//!   subrange the filter allows only `setgroups(0, ...)` (clearing the supplementary groups,
//!   which gives nothing) and refuses any list, even one of allowed groups: enforcement is
//!   never looser than the policy.
//! - The filter is for the x86_64 system call table (x32 numbers are covered too); a
//!   32-bit (i386) system call made under it kills the process rather than slip past it.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

use crate::restrictions::IdRanges;
use crate::shortfall::id_needs;
use crate::syscalls::Syscalls;

/// `-1`: never a new id.
const UNCHANGED: u32 = u32::MAX;

/// x32 system calls are x86_64 ones with this bit set.
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// The calls that change user ids, and how many id arguments each takes.
const UID_CALLS: [(i64, usize); 4] =
    [(libc::SYS_setuid, 1), (libc::SYS_setreuid, 2), (libc::SYS_setresuid, 3), (libc::SYS_setfsuid, 1)];

/// The calls that change group ids, and how many id arguments each takes.
const GID_CALLS: [(i64, usize); 4] =
    [(libc::SYS_setgid, 1), (libc::SYS_setregid, 2), (libc::SYS_setresgid, 3), (libc::SYS_setfsgid, 1)];

/// The id filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the seccomp filter on user and group ids for type {type_name}: {source}")]
pub struct IdFilterError {
    /// The type.
    pub type_name: String,
    /// Why.
    #[source]
    pub source: seccompiler::Error,
}

/// The 32-bit ids a filter refuses: everything but `allowed` and `-1`, as ranges.
pub fn refused_ids(allowed: &[RangeInclusive<u32>]) -> Vec<RangeInclusive<u32>> {
    let mut open: Vec<RangeInclusive<u32>> = allowed.to_vec();
    open.push(UNCHANGED..=UNCHANGED);
    open.sort_by_key(|r| *r.start());
    let mut refused = Vec::new();
    // The next id not yet known to be allowed (`None`: past the top).
    let mut next: Option<u32> = Some(0);
    for r in open.iter().filter(|r| r.start() <= r.end()) {
        let Some(from) = next else { break };
        if *r.start() > from {
            refused.push(from..=*r.start() - 1);
        }
        if *r.end() >= from {
            next = r.end().checked_add(1);
        }
    }
    refused
}

fn condition(arg: usize, op: SeccompCmpOp, value: u32) -> Result<SeccompCondition, seccompiler::Error> {
    // Ids are 32-bit: the kernel ignores the upper half of the register, so the filter does.
    Ok(SeccompCondition::new(arg as u8, SeccompCmpArgLen::Dword, op, u64::from(value))?)
}

/// One rule per refused range and id argument: any of them matching refuses the call.
fn rules_for(args: usize, refused: &[RangeInclusive<u32>]) -> Result<Vec<SeccompRule>, seccompiler::Error> {
    let mut rules = Vec::new();
    for arg in 0..args {
        for r in refused {
            let (lo, hi) = (*r.start(), *r.end());
            let conditions = if lo == hi {
                vec![condition(arg, SeccompCmpOp::Eq, lo)?]
            } else if lo == 0 {
                vec![condition(arg, SeccompCmpOp::Le, hi)?]
            } else {
                vec![condition(arg, SeccompCmpOp::Ge, lo)?, condition(arg, SeccompCmpOp::Le, hi)?]
            };
            rules.push(SeccompRule::new(conditions)?);
        }
    }
    Ok(rules)
}

/// The filter's rules: system call number to the rules that refuse it.
pub fn rules(ids: &IdRanges) -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::Error> {
    let mut map = BTreeMap::new();
    let mut add = |nr: i64, rules: Vec<SeccompRule>| {
        if !rules.is_empty() {
            map.insert(nr | X32_SYSCALL_BIT, rules.clone());
            map.insert(nr, rules);
        }
    };
    for (allowed, calls) in [(&ids.uids, &UID_CALLS), (&ids.gids, &GID_CALLS)] {
        let Some(allowed) = allowed else { continue };
        let refused = refused_ids(allowed);
        for (nr, args) in calls {
            add(*nr, rules_for(*args, &refused)?);
        }
    }
    if ids.gids.is_some() {
        // setgroups(size, list): the list is behind a pointer; only size 0 is allowed.
        add(libc::SYS_setgroups, vec![SeccompRule::new(vec![condition(0, SeccompCmpOp::Ne, 0)?])?]);
    }
    Ok(map)
}

/// The compiled filter.
fn program(ids: &IdRanges) -> Result<BpfProgram, seccompiler::Error> {
    let arch = std::env::consts::ARCH.try_into()?;
    let filter = SeccompFilter::new(
        rules(ids)?,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )?;
    Ok(filter.try_into()?)
}

/// Installs the filter for `ids` on this thread through `sys` (no_new_privs must be set).
/// Returns the steps for `-v`; nothing is installed when no id is restricted.
pub fn apply(sys: &mut dyn Syscalls, type_name: &str, ids: &IdRanges) -> Result<Vec<String>, IdFilterError> {
    if !ids.is_restricted() {
        return Ok(vec!["seccomp: no id restriction".into()]);
    }
    let err = |source| IdFilterError { type_name: type_name.to_string(), source };
    let prog = program(ids).map_err(err)?;
    sys.install_seccomp(&prog).map_err(err)?;
    let mut steps: Vec<String> =
        id_needs(ids).into_iter().map(|n| format!("seccomp: {n} (else EPERM)")).collect();
    if ids.gids.is_some() {
        steps.push(
            "seccomp: setgroups only to clear the supplementary groups: Linux cannot check the list \
             setgroups passes by pointer, so a list is refused, even of allowed groups"
                .into(),
        );
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_ids_are_the_gaps() {
        assert_eq!(refused_ids(&[33..=33]), vec![0..=32, 34..=u32::MAX - 1]);
        assert_eq!(refused_ids(&[0..=0]), vec![1..=u32::MAX - 1]);
        assert_eq!(refused_ids(&[]), vec![0..=u32::MAX - 1]);
        assert_eq!(refused_ids(&[6..=7, 5..=5, 100..=200]), vec![0..=4, 8..=99, 201..=u32::MAX - 1]);
        assert_eq!(refused_ids(&[0..=u32::MAX - 1]), vec![]);
        assert_eq!(refused_ids(&[10..=20, 15..=30]), vec![0..=9, 31..=u32::MAX - 1]);
    }

    #[test]
    fn every_id_call_and_setgroups_is_filtered() {
        let ids = IdRanges { uids: Some(vec![33..=33]), gids: Some(vec![33..=33]) };
        let map = rules(&ids).unwrap();
        for nr in [UID_CALLS, GID_CALLS].iter().flatten().map(|c| c.0).chain([libc::SYS_setgroups]) {
            assert!(map.contains_key(&nr), "syscall {nr}");
            assert!(map.contains_key(&(nr | X32_SYSCALL_BIT)), "x32 syscall {nr}");
        }
        // setresuid: two refused ranges for each of its three ids.
        assert_eq!(map[&libc::SYS_setresuid].len(), 6);
        // Only users restricted: group calls pass untouched.
        let map = rules(&IdRanges { uids: Some(vec![33..=33]), gids: None }).unwrap();
        assert!(!map.contains_key(&libc::SYS_setgid) && !map.contains_key(&libc::SYS_setgroups));
        assert!(program(&ids).is_ok());
    }

    /// `setfsuid` tells the filter's answer apart without privileges: the kernel returns
    /// the previous fsuid (and changes nothing without `CAP_SETUID`), the filter -1/EPERM.
    fn setfsuid(id: u32) -> (i64, i32) {
        // SAFETY: a plain system call.
        let rc = unsafe { libc::syscall(libc::SYS_setfsuid, id as libc::c_long) };
        (rc, std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    #[test]
    fn the_filter_refuses_other_ids_in_a_forked_child() {
        // SAFETY: the child only makes system calls and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = (|| {
                // SAFETY: prctl with integer arguments.
                if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    return 10;
                }
                let ids = IdRanges { uids: Some(vec![33..=33]), gids: None };
                if apply(&mut crate::syscalls::Linux, "test_t", &ids).is_err() {
                    return 11;
                }
                if setfsuid(33).0 == -1 {
                    return 12; // allowed id refused
                }
                if setfsuid(u32::MAX).0 == -1 {
                    return 13; // -1 (the query) refused
                }
                if setfsuid(1000) != (-1, libc::EPERM) {
                    return 14;
                }
                if setfsuid(0) != (-1, libc::EPERM) {
                    return 15;
                }
                0
            })();
            // SAFETY: leave the child without running the test harness's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child died: status {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "the child's check that failed (see the codes above)");
    }
}
