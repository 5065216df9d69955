//! The event model: one [`Event`] for everything a source observes.
//!
//! The kernel tracer, the preload library and replayed logs all produce these; the
//! generator learns from them and the monitor prints them. Every event carries who did
//! it (pid, process name, type, uid, euid), when, and where it came from (the tracer's
//! instance id and a per-instance sequence number, so a subscriber can count losses).
//!
//! Names follow the QNX documents: an *ability* is a Linux capability without `CAP_`,
//! in lower case (`net_bind_service`), or a QNX ability name (`pathspace`) when the event
//! was read from a QNX target's log.

use serde::{Deserialize, Serialize};

/// The type a process runs as when it is in no type's cgroup.
pub const DEFAULT_TYPE: &str = "default";

/// One observation, with the process that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Id of the tracer instance that published it (new at every tracer start).
    #[serde(default)]
    pub instance: u64,
    /// Sequence number within that instance, starting at 1, without gaps unless lost.
    #[serde(default)]
    pub seq: u64,
    /// Wall-clock time of the observation, nanoseconds since the Unix epoch.
    #[serde(default)]
    pub time_ns: u64,
    /// The acting process.
    pub process: Process,
    /// What happened.
    pub what: EventKind,
}

/// The process an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Name as QNX prints it: the executable's path without its leading slash
    /// (`usr/bin/touch`). `None` while the process has no name yet.
    #[serde(default)]
    pub name: Option<String>,
    /// Security type (`default` outside any type).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Real user id, when known (QNX logs do not say).
    #[serde(default)]
    pub uid: Option<u32>,
    /// Effective user id, when known.
    #[serde(default)]
    pub euid: Option<u32>,
    /// When the process started, nanoseconds since the Unix epoch, when known.
    #[serde(default)]
    pub start_ns: Option<u64>,
}

/// A value or inclusive range an ability was checked with (port, uid, address, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subrange {
    /// First value.
    pub lo: u64,
    /// Last value (equal to `lo` for a single value).
    pub hi: u64,
}

impl Subrange {
    /// A single value.
    pub fn value(v: u64) -> Self {
        Subrange { lo: v, hi: v }
    }
}

/// Outcome of an operation: allowed, or refused with an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// The operation was allowed.
    Allowed,
    /// The operation was refused; the errno (`EPERM` = 1) the caller saw.
    Denied(i32),
}

impl Verdict {
    /// Whether the operation was allowed.
    pub fn allowed(self) -> bool {
        matches!(self, Verdict::Allowed)
    }
}

/// Result of attaching to (or linking at) a path, as QNX distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttachResult {
    /// Attached.
    Ok,
    /// The policy has no rule allowing it.
    NoRule,
    /// Another type's rule conflicts.
    Conflict,
    /// The operation is not one that can be attached.
    BadOp,
    /// Failed with this errno for another reason.
    Errno(i32),
}

impl AttachResult {
    /// Whether the attach succeeded.
    pub fn ok(self) -> bool {
        matches!(self, AttachResult::Ok)
    }
}

/// Which credentials an ability applies to (QNX's `as root` / `as non-root`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Domain {
    /// Effective uid 0.
    Root,
    /// Any other effective uid.
    NonRoot,
    /// Both (only in self-managed capability calls).
    All,
}

/// What a self-managed capability call asked for one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CapAction {
    /// Keep or raise it (permitted/effective set, or ambient raise).
    Allow,
    /// Remove it from the effective/permitted set.
    Deny,
    /// Drop it from the bounding set (it can never come back).
    Drop,
    /// Lock the setting (securebits locks, bounding-set drop).
    Lock,
    /// Let children inherit it (inheritable or ambient set).
    Inherit,
    /// Keep it from children.
    NoInherit,
}

/// One capability's part in a self-managed capability call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapRequest {
    /// Ability name (`net_bind_service`).
    pub ability: String,
    /// Which credentials the request is about.
    pub domain: Domain,
    /// What was asked, in the order the call implies.
    pub actions: Vec<CapAction>,
}

/// What an event reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A privilege check.
    Ability {
        /// Ability name, lower case.
        ability: String,
        /// Value or range checked, where the source shows it.
        #[serde(default)]
        range: Option<Subrange>,
        /// Type the ability was checked against (`channel_connect`, `settypeid`).
        #[serde(default)]
        target_type: Option<String>,
        /// Checked for effective uid 0 (`as root`) or not (`as non-root`).
        root: bool,
        /// Allowed or denied.
        verdict: Verdict,
        /// Only a probe the kernel made without auditing (`CAP_OPT_NOAUDIT`): never a need.
        #[serde(default)]
        probe: bool,
    },
    /// A channel attached to a path: an `AF_UNIX` socket bound, or a mount.
    Attach {
        /// The path.
        path: String,
        /// The result.
        result: AttachResult,
    },
    /// A symbolic link created (QNX `procmgr_symlink`).
    Link {
        /// Where the link is.
        path: String,
        /// What it points to, when known.
        #[serde(default)]
        target: Option<String>,
        /// The result.
        result: AttachResult,
    },
    /// A connection to a channel attached by a process of `channel_type`.
    Connect {
        /// The path connected to.
        path: String,
        /// Type of the process that attached the path (`default` when unknown).
        channel_type: String,
        /// Allowed or denied.
        verdict: Verdict,
    },
    /// The process managed its own capabilities (capset, prctl, cap_set_proc).
    CapCall {
        /// Which call (`capset`, `prctl(PR_CAPBSET_DROP)`, ...).
        call: String,
        /// What it asked, per capability.
        requests: Vec<CapRequest>,
        /// The call's result.
        verdict: Verdict,
    },
    /// A signal sent to a process of another type.
    Signal {
        /// Receiving process.
        target_pid: u32,
        /// Its type.
        target_type: String,
        /// Signal number.
        signal: i32,
        /// Allowed or denied.
        verdict: Verdict,
    },
    /// A connection to another host (QNX: QNET).
    Remote {
        /// Address and port, as `1.2.3.4:80` or `[::1]:80`.
        address: String,
        /// Allowed or denied.
        verdict: Verdict,
    },
    /// The process executed a program.
    Exec {
        /// Path of the executable.
        path: String,
    },
    /// The process exited.
    Exit {
        /// Exit code, or 128 + signal.
        code: i32,
    },
    /// A kind this build does not know (sent by a newer peer): counted and skipped.
    #[serde(other)]
    Unknown,
}

impl EventKind {
    /// Short name of the kind, used as the bus topic suffix (`ev.ability`).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Ability { .. } => "ability",
            EventKind::Attach { .. } => "attach",
            EventKind::Link { .. } => "link",
            EventKind::Connect { .. } => "connect",
            EventKind::CapCall { .. } => "cap_call",
            EventKind::Signal { .. } => "signal",
            EventKind::Remote { .. } => "remote",
            EventKind::Exec { .. } => "exec",
            EventKind::Exit { .. } => "exit",
            EventKind::Unknown => "unknown",
        }
    }

    /// Whether this reports a failure (a denied check, a refused attach).
    pub fn is_failure(&self) -> bool {
        match self {
            EventKind::Ability { verdict, .. }
            | EventKind::Connect { verdict, .. }
            | EventKind::CapCall { verdict, .. }
            | EventKind::Signal { verdict, .. }
            | EventKind::Remote { verdict, .. } => !verdict.allowed(),
            EventKind::Attach { result, .. } | EventKind::Link { result, .. } => !result.ok(),
            EventKind::Exec { .. } | EventKind::Exit { .. } | EventKind::Unknown => false,
        }
    }
}
