//! The system calls enforcement makes, behind one small seam ([`Syscalls`]), as youki does
//! with its `Syscall` trait.
//!
//! [`crate::enforce`] decides which capabilities go in which set, in which order, and what
//! Landlock and seccomp are given; [`Linux`] only makes the calls. Unit tests put a
//! recording fake (`recording::Recording`, in test builds only) in its place, so the
//! decision and the order are checked without root and without changing the test
//! process, which a real `capset` or Landlock ruleset would do for good.
//!
//! Each method is one kernel operation and fails with the error of the library that makes
//! it; the caller says what was being done and for which type.

use std::io;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use caps::errors::CapsError;
use caps::{CapSet, Capability, CapsHashSet};
use seccompiler::BpfProgram;
use secpol::preload_proto::{capset, CapSets};

/// A Landlock ruleset, as enforcement decided it. A right that is `None` is not handled:
/// the ruleset leaves it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandlockRules {
    /// `MAKE_SOCK`: socket files only beneath these directories.
    pub sock_beneath: Option<Vec<PathBuf>>,
    /// `MAKE_SYM`: symbolic links only beneath these directories.
    pub link_beneath: Option<Vec<PathBuf>>,
    /// `NET_BIND_TCP`: binding only these TCP ports.
    pub bind_tcp: Option<Vec<RangeInclusive<u16>>>,
}

/// What the kernel made of a Landlock ruleset (the landlock crate's `RulesetStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandlockOutcome {
    /// Every handled right is enforced.
    Full,
    /// Some of them are.
    Partial,
    /// None is.
    Nothing,
}

/// Why a Landlock ruleset could not be applied.
#[derive(Debug)]
pub enum LandlockError {
    /// The kernel (or the landlock crate) refused the ruleset or a rule.
    Ruleset(landlock::RulesetError),
    /// A directory a rule names cannot be opened.
    Path {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: landlock::PathFdError,
    },
}

/// The system calls of enforcement, on the calling process.
pub trait Syscalls {
    /// Reads one of the capability sets.
    fn read_caps(&mut self, set: CapSet) -> Result<CapsHashSet, CapsError>;
    /// Whether the effective set holds `cap`.
    fn has_effective(&mut self, cap: Capability) -> Result<bool, CapsError>;
    /// Replaces the inheritable set.
    fn set_inheritable(&mut self, caps: &CapsHashSet) -> Result<(), CapsError>;
    /// Drops `cap` from `set` (from the bounding set: for good).
    fn drop_cap(&mut self, set: CapSet, cap: Capability) -> Result<(), CapsError>;
    /// Sets effective = permitted = `effective` and inheritable = `inheritable` in one
    /// `capset(2)`.
    fn set_capabilities(&mut self, effective: &CapsHashSet, inheritable: &CapsHashSet) -> io::Result<()>;
    /// Empties the ambient set.
    fn clear_ambient(&mut self) -> Result<(), CapsError>;
    /// Adds `cap` to the ambient set.
    fn raise_ambient(&mut self, cap: Capability) -> Result<(), CapsError>;
    /// `PR_SET_SECUREBITS`.
    fn set_securebits(&mut self, bits: libc::c_ulong) -> io::Result<()>;
    /// `PR_SET_NO_NEW_PRIVS`.
    fn set_no_new_privs(&mut self) -> io::Result<()>;
    /// The lowest unprivileged port (`net.ipv4.ip_unprivileged_port_start`).
    fn unprivileged_port_start(&mut self) -> u16;
    /// Creates `rules` as a Landlock ruleset (every right a hard requirement) and
    /// restricts this thread with it.
    fn restrict_landlock(&mut self, rules: &LandlockRules) -> Result<LandlockOutcome, LandlockError>;
    /// Installs a seccomp filter on this thread (`no_new_privs` must be set).
    fn install_seccomp(&mut self, filter: &BpfProgram) -> Result<(), seccompiler::Error>;
}

/// The real calls, on this process.
#[derive(Debug, Default)]
pub struct Linux;

fn prctl(op: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(op, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Syscalls for Linux {
    fn read_caps(&mut self, set: CapSet) -> Result<CapsHashSet, CapsError> {
        caps::read(None, set)
    }

    fn has_effective(&mut self, cap: Capability) -> Result<bool, CapsError> {
        caps::has_cap(None, CapSet::Effective, cap)
    }

    fn set_inheritable(&mut self, caps: &CapsHashSet) -> Result<(), CapsError> {
        caps::set(None, CapSet::Inheritable, caps)
    }

    fn drop_cap(&mut self, set: CapSet, cap: Capability) -> Result<(), CapsError> {
        caps::drop(None, set, cap)
    }

    fn set_capabilities(&mut self, effective: &CapsHashSet, inheritable: &CapsHashSet) -> io::Result<()> {
        let bits = |set: &CapsHashSet| set.iter().fold(0u64, |acc, c| acc | c.bitmask());
        let sets = CapSets {
            effective: bits(effective),
            permitted: bits(effective),
            inheritable: bits(inheritable),
        };
        let data = sets.to_data();
        let mut header = capset::Header::v3_self();
        // SAFETY: header and data are valid, properly laid out for capset(2) version 3.
        let rc =
            unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut capset::Header, data.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn clear_ambient(&mut self) -> Result<(), CapsError> {
        caps::clear(None, CapSet::Ambient)
    }

    fn raise_ambient(&mut self, cap: Capability) -> Result<(), CapsError> {
        caps::raise(None, CapSet::Ambient, cap)
    }

    fn set_securebits(&mut self, bits: libc::c_ulong) -> io::Result<()> {
        prctl(libc::PR_SET_SECUREBITS, bits)
    }

    fn set_no_new_privs(&mut self) -> io::Result<()> {
        prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
    }

    fn unprivileged_port_start(&mut self) -> u16 {
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1024)
    }

    fn restrict_landlock(&mut self, rules: &LandlockRules) -> Result<LandlockOutcome, LandlockError> {
        use landlock::{
            AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
            RulesetCreatedAttr, RulesetStatus,
        };
        let err = LandlockError::Ruleset;
        // Every right asked for is one the decision found offered: the kernel refusing one
        // is an error, never a silent downgrade.
        let mut ruleset = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
        if rules.sock_beneath.is_some() {
            ruleset = ruleset.handle_access(AccessFs::MakeSock).map_err(err)?;
        }
        if rules.link_beneath.is_some() {
            ruleset = ruleset.handle_access(AccessFs::MakeSym).map_err(err)?;
        }
        if rules.bind_tcp.is_some() {
            ruleset = ruleset.handle_access(AccessNet::BindTcp).map_err(err)?;
        }
        let mut created = ruleset.create().map_err(err)?;
        for (dirs, access) in
            [(&rules.sock_beneath, AccessFs::MakeSock), (&rules.link_beneath, AccessFs::MakeSym)]
        {
            for d in dirs.iter().flatten() {
                let fd = PathFd::new(d).map_err(|source| LandlockError::Path { path: d.clone(), source })?;
                created = created.add_rule(PathBeneath::new(fd, access)).map_err(err)?;
            }
        }
        for port in rules.bind_tcp.iter().flatten().flat_map(|r| r.clone()) {
            created = created.add_rule(NetPort::new(port, AccessNet::BindTcp)).map_err(err)?;
        }
        let status = created.restrict_self().map_err(err)?;
        Ok(match status.ruleset {
            RulesetStatus::FullyEnforced => LandlockOutcome::Full,
            RulesetStatus::PartiallyEnforced => LandlockOutcome::Partial,
            RulesetStatus::NotEnforced => LandlockOutcome::Nothing,
        })
    }

    fn install_seccomp(&mut self, filter: &BpfProgram) -> Result<(), seccompiler::Error> {
        seccompiler::apply_filter(filter)
    }
}

/// A fake for unit tests: it answers from the facts it is given and records every call
/// that would change the process, in order.
#[cfg(test)]
pub mod recording {
    use std::cell::RefCell;
    use std::collections::BTreeSet;
    use std::rc::Rc;

    use super::*;

    /// A call that changes the process (reads are not recorded).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        /// The inheritable set replaced by these capability numbers.
        SetInheritable(BTreeSet<u32>),
        /// A capability dropped from a set (named as the caps crate names it: `Bounding`, ...).
        Drop(String, u32),
        /// One `capset(2)`: effective = permitted, and inheritable.
        SetCapabilities {
            /// Effective and permitted.
            effective: BTreeSet<u32>,
            /// Inheritable.
            inheritable: BTreeSet<u32>,
        },
        /// The ambient set emptied.
        ClearAmbient,
        /// A capability added to the ambient set.
        RaiseAmbient(u32),
        /// `PR_SET_SECUREBITS`.
        SetSecurebits(libc::c_ulong),
        /// `PR_SET_NO_NEW_PRIVS`.
        NoNewPrivs,
        /// A Landlock ruleset created and applied.
        Landlock(LandlockRules),
        /// A seccomp filter installed (its length in instructions).
        Seccomp(usize),
        /// The user switched (recorded by [`Recording::switch_user`]'s closure).
        SwitchUser,
    }

    /// The fake. Its facts are public so each test states the process it pretends to be.
    pub struct Recording {
        /// The bounding set.
        pub bounding: BTreeSet<u32>,
        /// The permitted set (before and after a user switch alike, as with
        /// `SECBIT_NO_SETUID_FIXUP`).
        pub permitted: BTreeSet<u32>,
        /// Whether the effective set holds `CAP_SETPCAP`.
        pub setpcap: bool,
        /// `net.ipv4.ip_unprivileged_port_start`.
        pub unprivileged_port_start: u16,
        /// What the kernel makes of a Landlock ruleset.
        pub landlock: LandlockOutcome,
        /// The first recorded call this matches fails (after being recorded).
        pub fail: Option<fn(&Call) -> bool>,
        /// The calls so far, in order (shared with [`Recording::switch_user`]'s closure).
        pub log: Rc<RefCell<Vec<Call>>>,
    }

    fn numbers(caps: &CapsHashSet) -> BTreeSet<u32> {
        caps.iter().map(|c| u32::from(c.index())).collect()
    }

    fn caps_of(numbers: &BTreeSet<u32>) -> CapsHashSet {
        caps::all().into_iter().filter(|c| numbers.contains(&u32::from(c.index()))).collect()
    }

    impl Recording {
        /// A root caller holding every capability, on a system where Landlock enforces
        /// whatever it is given.
        pub fn root() -> Recording {
            let all: BTreeSet<u32> = caps::all().iter().map(|c| u32::from(c.index())).collect();
            Recording {
                bounding: all.clone(),
                permitted: all,
                setpcap: true,
                unprivileged_port_start: 1024,
                landlock: LandlockOutcome::Full,
                fail: None,
                log: Rc::default(),
            }
        }

        /// A caller without any capability.
        pub fn unprivileged() -> Recording {
            Recording { permitted: BTreeSet::new(), setpcap: false, ..Recording::root() }
        }

        /// The calls so far, in order.
        pub fn calls(&self) -> Vec<Call> {
            self.log.borrow().clone()
        }

        /// A user switch for enforcement to call: it records [`Call::SwitchUser`] among
        /// the other calls.
        pub fn switch_user(&self) -> impl Fn() -> Result<(), String> {
            let calls = Rc::clone(&self.log);
            move || {
                calls.borrow_mut().push(Call::SwitchUser);
                Ok(())
            }
        }

        /// Records `call`; `Err` when it is the one to fail.
        fn record(&mut self, call: Call) -> Result<(), ()> {
            let fails = self.fail.is_some_and(|f| f(&call));
            self.log.borrow_mut().push(call);
            if fails {
                self.fail = None;
                Err(())
            } else {
                Ok(())
            }
        }

        fn caps_call(&mut self, call: Call) -> Result<(), CapsError> {
            self.record(call).map_err(|()| CapsError::from("refused by the test"))
        }

        fn os_call(&mut self, call: Call) -> io::Result<()> {
            self.record(call).map_err(|()| io::Error::from_raw_os_error(libc::EPERM))
        }
    }

    impl Syscalls for Recording {
        fn read_caps(&mut self, set: CapSet) -> Result<CapsHashSet, CapsError> {
            Ok(match set {
                CapSet::Bounding => caps_of(&self.bounding),
                CapSet::Permitted => caps_of(&self.permitted),
                _ => CapsHashSet::new(),
            })
        }

        fn has_effective(&mut self, cap: Capability) -> Result<bool, CapsError> {
            Ok(cap == Capability::CAP_SETPCAP && self.setpcap)
        }

        fn set_inheritable(&mut self, caps: &CapsHashSet) -> Result<(), CapsError> {
            self.caps_call(Call::SetInheritable(numbers(caps)))
        }

        fn drop_cap(&mut self, set: CapSet, cap: Capability) -> Result<(), CapsError> {
            self.caps_call(Call::Drop(format!("{set:?}"), u32::from(cap.index())))
        }

        fn set_capabilities(&mut self, effective: &CapsHashSet, inheritable: &CapsHashSet) -> io::Result<()> {
            self.os_call(Call::SetCapabilities {
                effective: numbers(effective),
                inheritable: numbers(inheritable),
            })
        }

        fn clear_ambient(&mut self) -> Result<(), CapsError> {
            self.caps_call(Call::ClearAmbient)
        }

        fn raise_ambient(&mut self, cap: Capability) -> Result<(), CapsError> {
            self.caps_call(Call::RaiseAmbient(u32::from(cap.index())))
        }

        fn set_securebits(&mut self, bits: libc::c_ulong) -> io::Result<()> {
            self.os_call(Call::SetSecurebits(bits))
        }

        fn set_no_new_privs(&mut self) -> io::Result<()> {
            self.os_call(Call::NoNewPrivs)
        }

        fn unprivileged_port_start(&mut self) -> u16 {
            self.unprivileged_port_start
        }

        fn restrict_landlock(&mut self, rules: &LandlockRules) -> Result<LandlockOutcome, LandlockError> {
            match self.record(Call::Landlock(rules.clone())) {
                Ok(()) => Ok(self.landlock),
                Err(()) => {
                    let path = PathBuf::from("/no/such/dir");
                    let source = landlock::PathFd::new(&path).expect_err("the path does not exist");
                    Err(LandlockError::Path { path, source })
                }
            }
        }

        fn install_seccomp(&mut self, filter: &BpfProgram) -> Result<(), seccompiler::Error> {
            self.record(Call::Seccomp(filter.len()))
                .map_err(|()| seccompiler::Error::Seccomp(io::Error::from_raw_os_error(libc::EINVAL)))
        }
    }
}
