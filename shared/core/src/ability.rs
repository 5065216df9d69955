//! Ability names.
//!
//! On Linux an ability is a kernel capability without `CAP_`, in lower case
//! (`CAP_NET_BIND_SERVICE` is `net_bind_service`). QNX ability names are known too, so
//! policies and logs from QNX targets load unchanged, and *dynamic* abilities, which
//! resource managers create at run time, have a `/` in their name (`iofunc/read`).
//! Monitors print names in upper case (`NET_BIND_SERVICE`).

/// Linux capabilities by number, through `CAP_CHECKPOINT_RESTORE` (40).
pub const CAPABILITIES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// QNX Neutrino ability names (`PROCMGR_AID_*` in lower case).
pub const QNX_ABILITIES: &[&str] = &[
    "able_create",
    "able_priv",
    "aps_root",
    "channel_connect",
    "child_newapp",
    "chroot",
    "clockperiod",
    "clockset",
    "confset",
    "connection",
    "cpumode",
    "event",
    "fork",
    "getid",
    "interrupt",
    "interruptevent",
    "io",
    "keydata",
    "map_fixed",
    "mem_add",
    "mem_global",
    "mem_lock",
    "mem_peer",
    "mem_phys",
    "mem_special",
    "pathspace",
    "pgrp",
    "priority",
    "prot_exec",
    "prot_write_and_exec",
    "public_channel",
    "qnet",
    "reboot",
    "rlimit",
    "rsrcdbmgr",
    "runstate",
    "schedule",
    "session",
    "setgid",
    "setrlimit",
    "settypeid",
    "setuid",
    "signal",
    "spawn",
    "spawn_setgid",
    "spawn_setuid",
    "srandom",
    "timer",
    "trace",
    "umask",
    "v86",
    "wait",
    "xprocess_debug",
    "xprocess_query",
    "xthread_threadctl",
];

/// Abilities whose subrange is a type, not a number (QNX: `settypeid`, `channel_connect`).
pub const TYPE_RANGED: &[&str] = &["channel_connect", "settypeid"];

/// Static QNX abilities whose subrange is a virtual address (`PROT_EXEC(146050510848 -
/// 146050768735)`): it moves with each boot's address-space layout, so a rule pinned to one
/// boot's addresses breaks on the next. Learned without the range unless the configuration
/// says `ability NAME range` (seed 000); the monitor still prints the range seen.
/// (`mem_phys` and `mem_add` take physical addresses, which stay put: they keep theirs.)
pub const ADDRESS_RANGED: &[&str] = &["map_fixed", "prot_exec", "prot_write_and_exec"];

/// Whether the value a use of `name` (canonical form) was checked with is learned when the
/// configuration says nothing: yes for static abilities, except the address-ranged ones;
/// no for dynamic abilities.
pub fn ranged_by_default(name: &str) -> bool {
    !is_dynamic(name) && !ADDRESS_RANGED.contains(&name)
}

/// Linux capabilities whose checks carry a value the kernel shows (target uid or gid,
/// bound port, nice value), so policies may restrict them to subranges.
pub const VALUED_CAPABILITIES: &[&str] = &["net_bind_service", "setgid", "setuid", "sys_nice"];

/// What a subrange of an ability is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// The ability takes no value (most Linux capabilities).
    Nothing,
    /// Numbers and numeric ranges (`setuid:4,6`, `mem_phys:0x1000-0x1fff`).
    Number,
    /// Type names (`settypeid:a_t`, `channel_connect:fs_t`).
    Type,
    /// Either, decided by the policy (dynamic and custom abilities, which QNX's
    /// configuration may declare numerically or type ranged).
    NumberOrType,
}

/// What values `name` (canonical form) accepts in a policy.
pub fn value_kind(name: &str) -> ValueKind {
    if TYPE_RANGED.contains(&name) {
        ValueKind::Type
    } else if VALUED_CAPABILITIES.contains(&name) || QNX_ABILITIES.contains(&name) {
        ValueKind::Number
    } else if capability_number(name).is_some() {
        ValueKind::Nothing
    } else {
        ValueKind::NumberOrType
    }
}

/// Whether `name` is predefined: a Linux capability or a static QNX ability.
pub fn is_static(name: &str) -> bool {
    capability_number(name).is_some() || QNX_ABILITIES.contains(&name)
}

/// The ability name of capability number `cap`.
pub fn capability_name(cap: u32) -> Option<&'static str> {
    CAPABILITIES.get(cap as usize).copied()
}

/// The ability name the kernel's capability number `cap` is reported under: its name, or
/// `cap_N` for a capability newer than this build knows.
pub fn capability_or_number(cap: u32) -> String {
    capability_name(cap).map_or_else(|| format!("cap_{cap}"), str::to_string)
}

/// The capability number of an ability name (`net_bind_service` is 10).
pub fn capability_number(name: &str) -> Option<u32> {
    CAPABILITIES.iter().position(|c| *c == name).map(|n| n as u32)
}

/// Whether `name` is a dynamic ability (created at run time, has a `/`).
pub fn is_dynamic(name: &str) -> bool {
    name.contains('/')
}

/// Whether `name` is a Linux capability or a QNX ability, or a well-formed dynamic name.
pub fn is_known(name: &str) -> bool {
    capability_number(name).is_some()
        || QNX_ABILITIES.contains(&name)
        || (is_dynamic(name) && is_well_formed(name))
}

/// Whether `name` has the shape of an ability name: letters, digits, `_`, and for dynamic
/// names `/` between parts.
pub fn is_well_formed(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/' || b == b'-')
}

/// The canonical (lower-case, no `CAP_`) form of an ability name as a person may write it:
/// `NET_BIND_SERVICE`, `cap_net_bind_service` and `CAP_NET_BIND_SERVICE` all become
/// `net_bind_service`.
pub fn normalize(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    match lower.strip_prefix("cap_") {
        Some(rest) if capability_number(rest).is_some() => rest.to_string(),
        _ => lower,
    }
}

/// The name as monitors print it (`NET_BIND_SERVICE`, `IOFUNC/READ`).
pub fn display(name: &str) -> String {
    name.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_numbers_match_the_kernel() {
        assert_eq!(capability_number("chown"), Some(0));
        assert_eq!(capability_number("net_bind_service"), Some(10));
        assert_eq!(capability_number("sys_admin"), Some(21));
        assert_eq!(capability_number("bpf"), Some(39));
        assert_eq!(capability_name(40), Some("checkpoint_restore"));
        assert_eq!(capability_name(41), None);
        assert_eq!(capability_or_number(10), "net_bind_service");
        assert_eq!(capability_or_number(63), "cap_63");
    }

    #[test]
    fn names_normalize_and_display() {
        assert_eq!(normalize("CAP_NET_BIND_SERVICE"), "net_bind_service");
        assert_eq!(normalize("PATHSPACE"), "pathspace");
        assert_eq!(display("iofunc/read"), "IOFUNC/READ");
        assert!(is_known("pathspace") && is_known("sys_nice") && is_known("iofunc/read"));
        assert!(!is_known("teleport") && !is_known("/x") && !is_known("a//b"));
    }
}
