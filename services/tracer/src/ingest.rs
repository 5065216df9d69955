//! The preload library's socket: `<runtime-dir>/ingest`, an `AF_UNIX` datagram socket
//! whose datagrams become [`EventKind::CapCall`] events.
//!
//! Each datagram holds one or more [`Record`]s (layout in [`secpol::preload_proto`]). Who sent it is
//! never read from it: `SO_PASSCRED` makes the kernel attach the sender's pid and uid,
//! and the process's type (`/proc/PID/cgroup`), name (`/proc/PID/exe`) and effective uid
//! (`/proc/PID/status`) are read from the kernel too. What the datagram says is only what
//! the process says about its own call, checked field by field; a bad datagram is logged
//! with the sender and skipped, and the thread goes on: each is counted by kind in the tracer's
//! fault log (published on the bus, shown by `secpolctl status`), logged once and then at
//! most every 10 s ([`secpol::fault`]).
//!
//! The socket file is mode 0666: every process must be able to report its own calls (a
//! service that drops to a non-root user keeps its connected socket, but one that starts
//! non-root connects as itself), and a report can only ever speak for its sender. Access
//! is still limited by the runtime directory's own mode.
//!
//! Losses are counted, never silent: reports the preload could not send (full socket) come
//! in the next datagram's `dropped` field, and events this thread cannot hand to the
//! publisher, or whose sender exited before it could be identified, are reported as an
//! [`Item::Loss`] from `preload socket`.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::TrySendError;
use secpol::ability;
use secpol::cgroup_types::Naming;
use secpol::endpoint::{EndpointError, RuntimeDir};
use secpol::event::{CapAction, CapRequest, Domain, Event, EventKind, Process, Verdict};
use secpol::fault::{record_shared, SharedFaultLog};
use secpol::preload_proto::{
    self, secbit, Call, ProtoError, Record, FLAG_AMBIENT, FLAG_BEFORE, FLAG_LIBCAP, FLAG_REQUESTED,
};

use secpol::process::{self, now_ns};

use crate::source::{Item, Sink, Waker};

/// Where losses of this source are said to happen.
pub const LOSS_SOURCE: &str = "preload socket";

/// Largest datagram read whole (a full batch); anything longer is refused as truncated.
const RECV_LEN: usize = preload_proto::RECORD_LEN * preload_proto::MAX_BATCH + 1;

/// The ingest socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The runtime directory is unusable.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A socket operation failed.
    #[error("cannot {action} {path}: {source}")]
    Socket {
        /// What was being done (`bind`, `set SO_PASSCRED on`).
        action: &'static str,
        /// The socket file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The thread could not be started.
    #[error("cannot start the ingest thread: {0}")]
    Thread(io::Error),
}

/// Binds `<runtime-dir>/ingest` (replacing a stale socket file) and starts the thread that
/// turns datagrams into events on `sink`, until `shutdown` is set (then `waker` woken) or
/// the sink closes. Bad datagrams are counted in `faults` under `ingest` (and logged,
/// rate-limited).
pub fn start(
    dir: &RuntimeDir,
    sink: Sink,
    shutdown: Arc<AtomicBool>,
    waker: Arc<Waker>,
    faults: SharedFaultLog,
    naming: Naming,
) -> Result<JoinHandle<()>, IngestError> {
    let sock = bind(dir)?;
    let path = dir.ingest_path();
    log::info!("listening for the preload library on {}", path.display());
    std::thread::Builder::new()
        .name("ingest".into())
        .spawn(move || {
            receive(&sock, &sink, &shutdown, &waker, &faults, naming);
            let _ = std::fs::remove_file(&path);
        })
        .map_err(IngestError::Thread)
}

fn bind(dir: &RuntimeDir) -> Result<UnixDatagram, IngestError> {
    dir.prepare()?;
    let path = dir.ingest_path();
    let err = |action, source| IngestError::Socket { action, path: path.clone(), source };
    match std::fs::remove_file(&path) {
        Ok(()) => log::info!("replacing stale socket {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("remove stale", e)),
    }
    let sock = UnixDatagram::bind(&path).map_err(|e| err("bind", e))?;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to an int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(err("set SO_PASSCRED on", io::Error::last_os_error()));
    }
    sock.set_nonblocking(true).map_err(|e| err("make non-blocking", e))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).map_err(|e| err("chmod", e))?;
    Ok(sock)
}

/// One datagram with the sender the kernel vouches for.
struct Datagram {
    len: usize,
    truncated: bool,
    sender: Option<(u32, u32)>,
}

fn recv(sock: &UnixDatagram, buf: &mut [u8; RECV_LEN]) -> io::Result<Datagram> {
    // Room for one SCM_CREDENTIALS message (and anything else the kernel adds).
    let mut control = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: recvmsg into the buffers described by msg.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut sender = None;
    // SAFETY: walking the control messages the kernel wrote, with the libc macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_CREDENTIALS {
                let cred = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::ucred);
                sender = Some((cred.pid as u32, cred.uid));
            } else if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_RIGHTS {
                // Nobody should send descriptors here; close any we were given.
                let data = libc::CMSG_DATA(cmsg) as *const libc::c_int;
                let count = (c.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<libc::c_int>();
                for i in 0..count {
                    libc::close(std::ptr::read_unaligned(data.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Datagram { len: n as usize, truncated: msg.msg_flags & libc::MSG_TRUNC != 0, sender })
}

/// The socket's name in fault counts and log lines.
const SOCKET: &str = "ingest";

/// The fault kind of a datagram or record the protocol refused.
fn fault_kind(e: &ProtoError) -> &'static str {
    match e {
        ProtoError::Length(_) => "bad length",
        ProtoError::Magic(_) => "bad magic",
        ProtoError::Version(_) => "other version",
        ProtoError::Call(_) | ProtoError::Field { .. } => "bad record",
    }
}

/// Most records read before they are turned into events: reading first keeps the socket
/// from filling while `/proc` is read.
const DRAIN: usize = 1024;

fn receive(
    sock: &UnixDatagram,
    sink: &Sink,
    shutdown: &AtomicBool,
    waker: &Waker,
    faults: &SharedFaultLog,
    naming: Naming,
) {
    let mut buf = [0u8; RECV_LEN];
    let fault = |kind, what: std::fmt::Arguments<'_>| record_shared(faults, SOCKET, kind, &what);
    let mut identities = Identities { naming, recent: HashMap::new() };
    let mut lost = 0u64;
    let mut batch: Vec<(u32, u32, Record)> = Vec::with_capacity(DRAIN);
    while !shutdown.load(Ordering::Relaxed) {
        let mut pfds =
            [libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 }, waker.pollfd()];
        // SAFETY: two valid pollfds. No timeout: a datagram or the shutdown's wakeup ends it.
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        while batch.len() < DRAIN {
            let d = match recv(sock, &mut buf) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    fault("receive failed", format_args!("{e}"));
                    break;
                }
            };
            let Some((pid, uid)) = d.sender else {
                fault("no credentials", format_args!("datagram without sender credentials skipped"));
                continue;
            };
            if d.truncated {
                fault(
                    "oversized datagram",
                    format_args!("pid {pid} uid {uid}: longer than {RECV_LEN} bytes"),
                );
                continue;
            }
            let records = match preload_proto::records(&buf[..d.len]) {
                Ok(r) => r,
                Err(e) => {
                    fault(fault_kind(&e), format_args!("pid {pid} uid {uid}: datagram of {e}"));
                    continue;
                }
            };
            for (at, rec) in records {
                match rec {
                    Ok(rec) => batch.push((pid, uid, rec)),
                    Err(e) => {
                        fault(fault_kind(&e), format_args!("pid {pid} uid {uid}: record at byte {at}: {e}"))
                    }
                }
            }
        }
        // One look at /proc per process and batch.
        let mut seen: HashMap<u32, Option<Process>> = HashMap::new();
        for (pid, uid, rec) in batch.drain(..) {
            lost += u64::from(rec.dropped);
            if rec.protect_kept != 0 {
                log::info!("pid {pid}: protect kept {} in {}", names(rec.protect_kept), rec.call.name(false));
            }
            let Some(mut process) = seen.entry(pid).or_insert_with(|| identities.identify(pid, uid)).clone()
            else {
                log::debug!("pid {pid} exited before it could be identified; its report is lost");
                lost += 1;
                continue;
            };
            process.uid = Some(uid);
            let ev = Event { instance: 0, seq: 0, time_ns: now_ns(), process, what: cap_call(&rec) };
            match sink.try_send(Item::Event(ev)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => lost += 1,
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        if lost > 0 {
            match sink.try_send(Item::Loss { count: lost, source: LOSS_SOURCE }) {
                Ok(()) => lost = 0,
                Err(TrySendError::Full(_)) => {}
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

fn names(mask: u64) -> String {
    caps(mask).map(ability::capability_or_number).collect::<Vec<_>>().join(",")
}

/// How long an identity stands in for a process that has gone since.
const REMEMBER: Duration = Duration::from_secs(5);

/// Who sent recent datagrams. A process may exit, and be reaped, before its last reports
/// are read; its pid cannot have been reused within seconds (pids cycle through
/// `pid_max`), so the identity read from `/proc` for its earlier report stands in.
struct Identities {
    /// How a sender's cgroup names its type.
    naming: Naming,
    recent: HashMap<u32, (Process, Instant)>,
}

impl Identities {
    fn identify(&mut self, pid: u32, uid: u32) -> Option<Process> {
        let remembered = self.recent.get(&pid).filter(|(_, at)| at.elapsed() < REMEMBER).map(|(p, _)| p);
        let process = match (who(&self.naming, pid, uid), remembered) {
            (Some(mut now), Some(before)) => {
                // A zombie has its cgroup but no executable any more.
                if now.name.is_none() {
                    now.name.clone_from(&before.name);
                }
                now
            }
            (Some(now), None) => now,
            (None, Some(before)) => Process { uid: Some(uid), ..before.clone() },
            (None, None) => return None,
        };
        if self.recent.len() >= 4096 {
            self.recent.retain(|_, (_, at)| at.elapsed() < REMEMBER);
        }
        self.recent.insert(pid, (process.clone(), Instant::now()));
        Some(process)
    }
}

/// Who `pid` is, from `/proc`. A zombie still has its cgroup (so its type) but no name.
fn who(naming: &Naming, pid: u32, uid: u32) -> Option<Process> {
    let type_name = naming.type_of_pid(pid).ok()?;
    let name = process::name_of(pid);
    let euid = process::effective_uid_of(pid);
    Some(Process { pid, name, type_name, uid: Some(uid), euid, start_ns: None })
}

fn caps(mask: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |c| mask & (1u64 << c) != 0)
}

/// The domain a call's changes apply to: non-root when the caller's effective uid is not 0;
/// both when it is root and its sets survive the switch to another uid (keep-caps or
/// no-setuid-fixup); root otherwise.
fn domain(rec: &Record) -> Domain {
    if rec.euid != 0 {
        Domain::NonRoot
    } else if rec.securebits & (secbit::KEEP_CAPS | secbit::NO_SETUID_FIXUP) != 0 {
        Domain::All
    } else {
        Domain::Root
    }
}

/// What a record asked, per capability, as a [`EventKind::CapCall`] (the mapping is
/// documented in `docs/preload.md`).
pub fn cap_call(rec: &Record) -> EventKind {
    let mut requests = Vec::new();
    let mut ask = |cap: u32, domain: Domain, actions: Vec<CapAction>| {
        if !actions.is_empty() {
            requests.push(CapRequest { ability: ability::capability_or_number(cap), domain, actions });
        }
    };
    let before_known = rec.flags & FLAG_BEFORE != 0;
    match rec.call {
        Call::Capset if rec.flags & FLAG_REQUESTED != 0 => {
            let (old, new) = (if before_known { rec.before } else { Default::default() }, rec.requested);
            let removed = old.permitted & !new.permitted;
            let raised = (new.permitted & !old.permitted) | (new.effective & !old.effective);
            // Built as "only these" (not derived from the current sets): what it keeps is
            // named, and needed, too.
            let named_keep = if preload_proto::wholesale_drop(old.permitted, new.permitted) {
                new.permitted & old.permitted
            } else {
                0
            };
            for cap in caps(u64::MAX) {
                let bit = 1u64 << cap;
                if rec.protect_kept & bit != 0 {
                    // Dropped only as part of "everything else" and kept: not mentioned.
                    continue;
                }
                let mut actions = Vec::new();
                if (raised | named_keep) & bit != 0 {
                    actions.push(CapAction::Allow);
                } else if removed & bit != 0 {
                    actions.push(CapAction::Deny);
                }
                if new.inheritable & bit != 0 && old.inheritable & bit == 0 {
                    actions.push(CapAction::Inherit);
                } else if old.inheritable & bit != 0 && new.inheritable & bit == 0 {
                    actions.push(CapAction::NoInherit);
                }
                ask(cap, domain(rec), actions);
            }
        }
        Call::Capset => {}
        Call::CapbsetDrop => ask(rec.arg as u32, Domain::All, vec![CapAction::Drop, CapAction::Lock]),
        Call::AmbientRaise => ask(rec.arg as u32, domain(rec), vec![CapAction::Allow, CapAction::Inherit]),
        Call::AmbientLower => ask(rec.arg as u32, domain(rec), vec![CapAction::NoInherit]),
        Call::AmbientClearAll if rec.flags & FLAG_AMBIENT != 0 => {
            for cap in caps(rec.ambient_before) {
                ask(cap, domain(rec), vec![CapAction::NoInherit]);
            }
        }
        Call::AmbientClearAll => {}
        // They name no capability: the event says the type manages its capabilities (and
        // that securebits must not be locked for it), nothing more.
        Call::SetKeepcaps | Call::SetSecurebits => {}
    }
    EventKind::CapCall {
        call: rec.call.name(rec.flags & FLAG_LIBCAP != 0).to_string(),
        requests,
        verdict: if rec.succeeded() { Verdict::Allowed } else { Verdict::Denied(rec.errno) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secpol::preload_proto::{CapSets, RECORD_LEN};

    const ALL: u64 = (1 << 41) - 1;
    const NET_BIND_SERVICE: u32 = 10;
    const SYS_NICE: u32 = 23;

    fn summary(kind: &EventKind) -> (String, Vec<String>, Verdict) {
        let EventKind::CapCall { call, requests, verdict } = kind else { panic!("not a cap call: {kind:?}") };
        let reqs = requests
            .iter()
            .map(|r| format!("{} {}", secpol::qnxlog::describe_request(r), r.ability))
            .collect();
        (call.clone(), reqs, *verdict)
    }

    #[test]
    fn a_pps_like_start_up_maps_to_requests() {
        // As root with keep-caps: drop sys_boot from the bounding set.
        let mut r = Record::new(Call::CapbsetDrop);
        r.arg = 22;
        r.securebits = secbit::KEEP_CAPS;
        r.flags = FLAG_BEFORE;
        r.before = CapSets { effective: ALL, permitted: ALL, inheritable: 0 };
        let (call, reqs, verdict) = summary(&cap_call(&r));
        assert_eq!((call.as_str(), verdict), ("prctl(PR_CAPBSET_DROP)", Verdict::Allowed));
        assert_eq!(reqs, ["drop all lock sys_boot"]);

        // Then as nobody: keep net_bind_service and sys_nice, drop the rest, through libcap.
        let mut r = Record::new(Call::Capset);
        r.euid = 65534;
        r.flags = FLAG_BEFORE | FLAG_REQUESTED | FLAG_LIBCAP;
        r.before = CapSets { effective: 0, permitted: ALL, inheritable: 0 };
        let keep = 1 << NET_BIND_SERVICE | 1 << SYS_NICE;
        r.requested = CapSets { effective: keep, permitted: keep, inheritable: 0 };
        let (call, reqs, _) = summary(&cap_call(&r));
        assert_eq!(call, "cap_set_proc");
        assert_eq!(reqs.len(), 41);
        assert!(reqs.contains(&"allow nonroot net_bind_service".to_string()), "{reqs:?}");
        assert!(reqs.contains(&"allow nonroot sys_nice".to_string()));
        assert!(reqs.contains(&"deny nonroot sys_admin".to_string()));
    }

    #[test]
    fn a_capset_derived_from_the_current_sets_names_only_what_it_changes() {
        // cap_get_proc, clear net_raw, cap_set_proc: the 39 others are "whatever I had".
        let mut r = Record::new(Call::Capset);
        r.flags = FLAG_BEFORE | FLAG_REQUESTED;
        r.before = CapSets { effective: ALL, permitted: ALL, inheritable: 1 << 10 };
        r.requested = CapSets { effective: ALL & !(1 << 13), permitted: ALL & !(1 << 13), inheritable: 0 };
        assert_eq!(summary(&cap_call(&r)).1, ["noinherit root net_bind_service", "deny root net_raw"]);
        // Root keeping everything but raising sys_nice into the effective set.
        r.before = CapSets { effective: 0, permitted: 1 << 23 | 1 << 10, inheritable: 0 };
        r.requested = CapSets { effective: 1 << 23, permitted: 1 << 23 | 1 << 10, inheritable: 0 };
        assert_eq!(summary(&cap_call(&r)).1, ["allow root sys_nice"]);
    }

    #[test]
    fn failures_and_protect_show_in_the_event() {
        // io-pkt like: as nobody, ask for net_admin; refused.
        let mut r = Record::new(Call::Capset);
        r.euid = 65534;
        r.result = -1;
        r.errno = libc::EPERM;
        r.flags = FLAG_BEFORE | FLAG_REQUESTED;
        r.requested = CapSets { effective: 1 << 12, permitted: 1 << 12, inheritable: 0 };
        let (call, reqs, verdict) = summary(&cap_call(&r));
        assert_eq!((call.as_str(), verdict), ("capset", Verdict::Denied(libc::EPERM)));
        assert_eq!(reqs, ["allow nonroot net_admin"]);

        // Root keeps only net_bind_service; protect kept sys_nice, which is not mentioned.
        let mut r = Record::new(Call::Capset);
        r.flags = FLAG_BEFORE | FLAG_REQUESTED;
        r.before = CapSets { effective: ALL, permitted: ALL, inheritable: 0 };
        r.requested = CapSets { effective: 1 << 10, permitted: 1 << 10, inheritable: 0 };
        r.protect_kept = 1 << SYS_NICE;
        let (_, reqs, _) = summary(&cap_call(&r));
        assert_eq!(reqs.len(), 40);
        assert!(reqs.contains(&"allow root net_bind_service".to_string()));
        assert!(!reqs.iter().any(|r| r.ends_with("sys_nice")));
    }

    #[test]
    fn prctl_calls_map_to_requests() {
        let mut r = Record::new(Call::AmbientRaise);
        r.arg = 13;
        r.euid = 1000;
        assert_eq!(summary(&cap_call(&r)).1, ["allow nonroot inherit net_raw"]);
        r.call = Call::AmbientLower;
        assert_eq!(summary(&cap_call(&r)).1, ["noinherit nonroot net_raw"]);
        let mut r = Record::new(Call::AmbientClearAll);
        r.flags = FLAG_AMBIENT;
        r.ambient_before = 1 << 10 | 1 << 13;
        assert_eq!(summary(&cap_call(&r)).1, ["noinherit root net_bind_service", "noinherit root net_raw"]);
        // Keep-caps and securebits name no capability; the call itself is the news.
        let mut r = Record::new(Call::SetKeepcaps);
        r.arg = 1;
        r.flags = FLAG_BEFORE;
        r.before.permitted = 1 << 10;
        assert_eq!(summary(&cap_call(&r)), ("prctl(PR_SET_KEEPCAPS)".into(), vec![], Verdict::Allowed));
        let mut r = Record::new(Call::SetSecurebits);
        r.arg = u64::from(secbit::KEEP_CAPS | secbit::KEEP_CAPS_LOCKED | secbit::NO_CAP_AMBIENT_RAISE);
        r.result = -1;
        r.errno = libc::EPERM;
        let (call, reqs, verdict) = summary(&cap_call(&r));
        assert_eq!((call.as_str(), reqs.len(), verdict), ("prctl(PR_SET_SECUREBITS)", 0, Verdict::Denied(1)));
    }

    #[test]
    fn preload_and_cgroup_module_agree_on_types() {
        for path in [
            "/secpol/web_t",
            "/secpol/web_t/sub",
            "/",
            "/secpol",
            "/x/secpol/a_t",
            "/secpol/.x",
            "/secpol/a.b",
        ] {
            let text = format!("1:cpu:/\n0::{path}\n");
            let preload = secpol::preload_proto::type_from_cgroup(text.as_bytes())
                .map_or(secpol::event::DEFAULT_TYPE.to_string(), |t| String::from_utf8_lossy(t).into_owned());
            assert_eq!(preload, secpol::cgroup::type_of_cgroup_path(path), "{path}");
        }
    }

    #[test]
    fn datagrams_become_events_with_the_kernels_sender() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RuntimeDir::resolve(Some(&tmp.path().join("run")));
        let (sink, items) = crossbeam_channel::bounded(16);
        let shutdown = Arc::new(AtomicBool::new(false));
        let faults = SharedFaultLog::default();
        let waker = Arc::new(Waker::new().unwrap());
        let handle =
            start(&dir, sink, shutdown.clone(), waker.clone(), faults.clone(), Naming::default()).unwrap();
        let mode = std::fs::metadata(dir.ingest_path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);

        let client = UnixDatagram::unbound().unwrap();
        let to = dir.ingest_path();
        // Garbage of every kind first: skipped, the thread goes on.
        client.send_to(b"", &to).unwrap();
        client.send_to(b"hello", &to).unwrap();
        client.send_to(&[0u8; RECV_LEN + 10], &to).unwrap();
        let mut bad = Record::new(Call::CapbsetDrop).encode();
        bad[8] = 200; // capability 200
        client.send_to(&bad, &to).unwrap();
        client.send_to(&[bad, bad, bad].concat()[..RECORD_LEN * 2 + 1], &to).unwrap();
        // Then a batch of a real record, which says 3 were lost before it, and a bad one.
        let mut r = Record::new(Call::CapbsetDrop);
        r.arg = 22;
        r.dropped = 3;
        let bytes = r.encode();
        assert_eq!(bytes.len(), RECORD_LEN);
        client.send_to(&[bytes, bad].concat(), &to).unwrap();

        let first = items.recv_timeout(Duration::from_secs(5)).unwrap();
        let Item::Event(ev) = first else { panic!("expected an event, got {first:?}") };
        assert_eq!(ev.process.pid, std::process::id());
        assert_eq!(ev.process.uid, Some(unsafe { libc::getuid() }));
        assert_eq!(ev.process.euid, Some(unsafe { libc::geteuid() }));
        assert!(ev.process.name.as_deref().is_some_and(|n| !n.starts_with('/')), "{:?}", ev.process.name);
        assert_eq!(summary(&ev.what).1, ["drop all lock sys_boot"]);
        match items.recv_timeout(Duration::from_secs(5)).unwrap() {
            Item::Loss { count, source } => assert_eq!((count, source), (3, LOSS_SOURCE)),
            other => panic!("expected the loss, got {other:?}"),
        }
        assert!(items.try_recv().is_err(), "the bad datagrams made no events");
        let counts = faults.lock().unwrap().counts();
        let expected =
            [("ingest: bad length", 3), ("ingest: oversized datagram", 1), ("ingest: bad record", 2)];
        assert_eq!(counts, expected.iter().map(|(k, n)| (k.to_string(), *n)).collect(), "{counts:?}");

        shutdown.store(true, Ordering::Relaxed);
        waker.wake();
        handle.join().unwrap();
        assert!(!to.exists(), "the socket file is removed at exit");
    }
}
