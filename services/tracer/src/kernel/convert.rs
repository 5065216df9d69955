//! Kernel records -> [`secpol::Event`]s: names, types, times, channel types, and the
//! user-space half of "only what is new".
//!
//! The kernel sends cgroup ids, boot-clock times and raw paths; this fills each event
//! the way the rest of the toolchain expects: the process name as QNX prints it (the
//! executable's path without its leading slash), the type from the cgroup id, wall-clock
//! times, absolute paths, and the type of the channel a connect reaches.
//!
//! A path that cannot be had whole (cut by the kernel side, which only happens beyond
//! PATH_MAX, or relative to a directory that is gone) never becomes an event: a wrong
//! path would become a wrong rule. Such records are counted ([`Converter::take_unusable`])
//! and published as a loss.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;

use secpol::ability;
use secpol::cgroup_types::Naming;
use secpol::cgroup_types::TypeTree;
use secpol::event::{AttachResult, Event, EventKind, Process, Subrange, Verdict, DEFAULT_TYPE};
use secpol::process::{self, qnx_name};
use secpol::wire::StringPool;

use super::channels::Channels;
use super::record::{Kind, RawEvent, F_HAS_VALUE, F_PROBE, F_ROOT};

const AT_FDCWD: i32 = -100;
const AF_INET: u32 = 2;

/// Boot clock -> wall clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset: i128,
}

fn clock_ns(id: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl Clock {
    /// The offset between `CLOCK_REALTIME` and `CLOCK_BOOTTIME` now.
    pub fn now() -> Clock {
        Clock { offset: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME) }
    }

    /// A boot-clock time as nanoseconds since the Unix epoch.
    pub fn to_epoch(self, boot_ns: u64) -> u64 {
        (i128::from(boot_ns) + self.offset).clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// The errno a syscall result carries, when it is a refused permission.
fn permission_errno(ret: i32) -> Option<i32> {
    matches!(-ret, libc::EPERM | libc::EACCES | libc::EROFS).then_some(-ret)
}

/// Result of a bind, mount or symlink as an attach result; `None` for failures that say
/// nothing about privileges (`EADDRINUSE`, `EEXIST`, `ENOENT`, ...).
pub fn attach_result(ret: i32) -> Option<AttachResult> {
    if ret == 0 {
        return Some(AttachResult::Ok);
    }
    permission_errno(ret).map(AttachResult::Errno)
}

/// Verdict of a connect; `None` when it failed for a reason other than permission.
pub fn connect_verdict(ret: i32) -> Option<Verdict> {
    if ret == 0 || matches!(-ret, libc::EINPROGRESS | libc::EALREADY | libc::EISCONN) {
        return Some(Verdict::Allowed);
    }
    permission_errno(ret).map(Verdict::Denied)
}

/// Exit code from a wait status: the code, or 128 + the signal that killed it.
pub fn exit_code(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig != 0 {
        128 + sig
    } else {
        (status >> 8) & 0xff
    }
}

/// `1.2.3.4:80` or `[2001:db8::1]:443`, written into `out` (cleared first).
pub fn format_address_into(family: u32, addr: &[u8; 16], port: u32, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    // Writing into a String cannot fail.
    let _ = if family == AF_INET {
        write!(out, "{}.{}.{}.{}:{port}", addr[0], addr[1], addr[2], addr[3])
    } else {
        write!(out, "[{}]:{port}", std::net::Ipv6Addr::from(*addr))
    };
}

/// `base/rel` (just `rel` when it is absolute) with `.` and `..` resolved lexically, as an
/// absolute path, written into `out` (cleared first).
pub fn join_path_into(base: &str, rel: &str, out: &mut String) {
    out.clear();
    let base = if rel.starts_with('/') { "" } else { base };
    for part in base.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => out.truncate(out.rfind('/').unwrap_or(0)),
            name => {
                out.push('/');
                out.push_str(name);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
}

/// A process the tracer knows.
#[derive(Debug)]
struct Proc {
    start: u64,
    name: Option<String>,
    /// Hashes of connect/remote/signal events already reported (without `repeat`).
    seen: HashSet<u64>,
}

/// cgroup id -> type, rescanning the type tree on a miss.
#[derive(Debug)]
struct Types {
    tree: Option<TypeTree>,
    ids: HashMap<u64, String>,
}

impl Types {
    /// The type of cgroup `cgid`, in a string from `strings`.
    fn type_of(&mut self, cgid: u64, strings: &mut StringPool) -> String {
        if let Some(t) = self.ids.get(&cgid) {
            return strings.take(t);
        }
        if let Some(tree) = &self.tree {
            // The one new cgroup by its id; only where the kernel refuses that, the whole
            // tree (which can hold thousands of cgroups, one per session and unit).
            match tree.type_of_id(cgid) {
                Ok(Some(t)) => {
                    self.ids.insert(cgid, t);
                }
                Ok(None) => {}
                Err(e) => {
                    log::debug!("cgroup {cgid} by its id: {e}; reading the whole tree");
                    match tree.ids() {
                        Ok(ids) => self.ids.extend(ids),
                        Err(e) => log::warn!("{e}"),
                    }
                }
            }
        }
        // cgroup ids are never reused: an id outside the tree stays outside.
        strings.take(self.ids.entry(cgid).or_insert_with(|| DEFAULT_TYPE.to_string()))
    }
}

/// Turns kernel records into events.
#[derive(Debug)]
pub struct Converter {
    repeat: bool,
    clock: Clock,
    types: Types,
    procs: HashMap<u32, Proc>,
    channels: Channels,
    /// Buffers of published events, for the strings of the next ones.
    strings: StringPool,
    /// Records dropped because a path could not be had whole, not yet reported.
    unusable: u64,
}

fn hash_of(v: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn read_link(path: String) -> Option<PathBuf> {
    std::fs::read_link(path).ok()
}

impl Converter {
    /// A converter; `tree` is the type tree (`None`: every process is `default`).
    pub fn new(repeat: bool, tree: Option<TypeTree>) -> Self {
        Converter {
            repeat,
            clock: Clock::now(),
            types: Types { tree, ids: HashMap::new() },
            procs: HashMap::new(),
            channels: Channels::default(),
            strings: StringPool::default(),
            unusable: 0,
        }
    }

    /// Learns the channels that exist now.
    pub fn seed_channels(&mut self) {
        let naming = self.types.tree.as_ref().map_or_else(Naming::secpol_only, |t| t.naming().clone());
        self.channels.seed(&naming);
        log::info!("{} existing channels", self.channels.len());
    }

    /// Re-reads the wall clock offset (call now and then).
    pub fn refresh_clock(&mut self) {
        self.clock = Clock::now();
    }

    /// How many processes are tracked.
    pub fn processes(&self) -> usize {
        self.procs.len()
    }

    /// Records dropped since the last call because a path could not be had whole.
    pub fn take_unusable(&mut self) -> u64 {
        std::mem::take(&mut self.unusable)
    }

    /// `path` made absolute (against the process's cwd or `dirfd`), in a pooled buffer;
    /// `None` when the directory it is relative to cannot be read any more.
    fn absolute(&mut self, raw: &RawEvent, path: &str, dirfd: i32) -> Option<String> {
        let base = if path.starts_with('/') {
            None
        } else if dirfd == AT_FDCWD {
            Some(read_link(format!("/proc/{}/cwd", raw.tgid))?)
        } else {
            Some(read_link(format!("/proc/{}/fd/{dirfd}", raw.tgid))?)
        };
        let mut out = self.strings.buffer();
        // A directory whose name is not UTF-8 is as lossy as the rest of the path.
        join_path_into(base.as_deref().map(|b| b.to_string_lossy()).as_deref().unwrap_or(""), path, &mut out);
        Some(out)
    }

    /// The whole absolute path of a path record, or `None` (counted) when it cannot be had.
    fn whole_path(&mut self, raw: &RawEvent, dirfd: i32) -> Option<String> {
        let path = if raw.truncated() { None } else { self.absolute(raw, &raw.path, dirfd) };
        if path.is_none() {
            self.unusable += 1;
            log::warn!(
                "pid {}: path {:?} ({} bytes{}) cannot be had whole; not reported",
                raw.tgid,
                raw.path.chars().take(80).collect::<String>(),
                raw.path.len(),
                if raw.truncated() { ", cut at PATH_MAX" } else { ", relative to a directory that is gone" }
            );
        }
        path
    }

    fn proc_entry<'p>(procs: &'p mut HashMap<u32, Proc>, raw: &RawEvent) -> &'p mut Proc {
        let fresh = procs.get(&raw.tgid).is_none_or(|p| p.start != raw.start_ns);
        if fresh {
            let name = process::name_of(raw.tgid);
            procs.insert(raw.tgid, Proc { start: raw.start_ns, name, seen: HashSet::new() });
        }
        procs.get_mut(&raw.tgid).expect("inserted")
    }

    /// Whether an event with this identity was reported for the process already (and
    /// remembers it). Always false with `repeat`.
    fn repeated(&mut self, raw: &RawEvent, identity: impl Hash) -> bool {
        if self.repeat {
            return false;
        }
        let h = hash_of(identity);
        !Self::proc_entry(&mut self.procs, raw).seen.insert(h)
    }

    /// Takes back the strings of an event already published: the next events' strings are
    /// copied into them, so a capability check of a known process and type allocates nothing.
    pub fn recycle(&mut self, event: Event) {
        self.strings.recycle(event);
    }

    /// The event for one kernel record, or `None` when it reports nothing to publish.
    pub fn convert(&mut self, raw: &RawEvent) -> Option<Event> {
        let type_name = self.types.type_of(raw.cgid, &mut self.strings);
        let Some(what) = self.what(raw, &type_name) else {
            self.strings.keep(type_name);
            return None;
        };
        let name = match raw.kind {
            Kind::Exit => self.procs.remove(&raw.tgid).and_then(|p| p.name),
            _ => Self::proc_entry(&mut self.procs, raw).name.as_deref().map(|n| self.strings.take(n)),
        };
        Some(Event {
            instance: 0,
            seq: 0,
            time_ns: self.clock.to_epoch(raw.time_ns),
            process: Process {
                pid: raw.tgid,
                name,
                type_name,
                uid: Some(raw.uid),
                euid: Some(raw.euid),
                start_ns: Some(self.clock.to_epoch(raw.start_ns)),
            },
            what,
        })
    }
    /// What a kernel record reports, or `None` (its strings back in the pool) when it
    /// reports nothing to publish.
    fn what(&mut self, raw: &RawEvent, type_name: &str) -> Option<EventKind> {
        Some(match raw.kind {
            Kind::Cap => EventKind::Ability {
                ability: match ability::capability_name(raw.cap) {
                    Some(name) => self.strings.take(name),
                    None => ability::capability_or_number(raw.cap),
                },
                range: (raw.flags & F_HAS_VALUE != 0).then(|| Subrange::value(raw.value)),
                target_type: None,
                root: raw.flags & F_ROOT != 0,
                verdict: if raw.ret == 0 { Verdict::Allowed } else { Verdict::Denied(-raw.ret) },
                probe: raw.flags & F_PROBE != 0,
            },
            Kind::Bind | Kind::Mount => {
                let result = attach_result(raw.ret)?;
                let path = self.whole_path(raw, AT_FDCWD)?;
                if raw.kind == Kind::Bind && result.ok() {
                    self.channels.attached(&path, type_name);
                }
                EventKind::Attach { path, result }
            }
            Kind::Symlink => {
                let result = attach_result(raw.ret)?;
                let path = self.whole_path(raw, raw.dirfd)?;
                let target = (!raw.path2.is_empty()).then(|| self.strings.take(&raw.path2));
                EventKind::Link { path, target, result }
            }
            Kind::Connect => {
                let verdict = connect_verdict(raw.ret)?;
                let path = self.whole_path(raw, AT_FDCWD)?;
                let channel_type = self.strings.take(self.channels.type_of(&path));
                if self.repeated(raw, ("connect", &path, &channel_type, verdict)) {
                    self.strings.keep(path);
                    self.strings.keep(channel_type);
                    return None;
                }
                EventKind::Connect { path, channel_type, verdict }
            }
            Kind::Remote => {
                let verdict = connect_verdict(raw.ret)?;
                let mut address = self.strings.buffer();
                format_address_into(raw.family, &raw.addr, raw.port, &mut address);
                // The kernel sends a repeat only when its hash of them has forgotten it.
                if self.repeated(raw, ("remote", &address, verdict)) {
                    self.strings.keep(address);
                    return None;
                }
                EventKind::Remote { address, verdict }
            }
            Kind::Signal => {
                let target_type = self.types.type_of(raw.target_cgid, &mut self.strings);
                if target_type == type_name || self.repeated(raw, ("signal", &target_type, raw.sig)) {
                    self.strings.keep(target_type);
                    return None;
                }
                EventKind::Signal {
                    target_pid: raw.target_pid,
                    target_type,
                    signal: raw.sig,
                    verdict: Verdict::Allowed,
                }
            }
            Kind::Exec => {
                // Only names the process: a path relative to a lost cwd stays as given.
                let path = match self.absolute(raw, &raw.path, AT_FDCWD) {
                    Some(p) => p,
                    None => self.strings.take(&raw.path),
                };
                // The exec names the process: no need to read /proc/PID/exe for it.
                let name = Some(qnx_name(&path));
                match self.procs.get_mut(&raw.tgid) {
                    Some(p) if p.start == raw.start_ns => {
                        p.name = name;
                        p.seen.clear();
                    }
                    _ => {
                        self.procs.insert(raw.tgid, Proc { start: raw.start_ns, name, seen: HashSet::new() });
                    }
                }
                EventKind::Exec { path }
            }
            Kind::Exit => EventKind::Exit { code: exit_code(raw.ret) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::{put_u32, put_u64, record};
    use super::super::record::F_SECCOMP;
    use super::*;

    fn raw(kind: u32, fill: impl FnOnce(&mut [u8])) -> RawEvent<'static> {
        raw_with(kind, &[], fill)
    }

    fn raw_with(kind: u32, paths: &[&str], fill: impl FnOnce(&mut [u8])) -> RawEvent<'static> {
        let bytes = record(kind, paths, |b| {
            put_u32(b, 4, std::process::id());
            put_u64(b, 24, u64::MAX - 1); // a cgroup id no tree has
            fill(b)
        });
        RawEvent::parse(&bytes).unwrap().into_owned()
    }

    /// Counts the allocations of the thread that asks (the test's own), for
    /// `known_checks_allocate_nothing_with_a_spare`.
    struct Counting;

    thread_local! {
        static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: as the caller promised.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: as the caller promised.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            // SAFETY: as the caller promised.
            unsafe { std::alloc::System.realloc(ptr, layout, new) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn allocations() -> u64 {
        ALLOCATIONS.with(|n| n.get())
    }

    /// A capability check of a process and type already known, converted into the strings
    /// of an event already published (as the kernel thread does with what the publisher
    /// gives back), allocates nothing, and reads what a fresh conversion reads, whatever the
    /// recycled event held before.
    #[test]
    fn known_checks_allocate_nothing_with_a_spare() {
        let mut c = Converter::new(false, None);
        let check = |cap: u32| {
            raw(1, move |b| {
                put_u32(b, 12, 0);
                put_u32(b, 16, 0);
                put_u32(b, 48, cap);
            })
        };
        let (setuid, chown) = (check(7), check(0));
        let fresh = c.convert(&setuid).unwrap();
        // An event of another kind and ability given back: its buffers hold the check,
        // nothing of it stays.
        c.recycle(Event {
            what: EventKind::Exec { path: "/a/long/path/of/another/program".into() },
            ..fresh.clone()
        });
        assert_eq!(c.convert(&setuid).unwrap(), fresh);
        c.recycle(fresh.clone());
        let mut spare = c.convert(&chown).unwrap();
        assert!(matches!(&spare.what, EventKind::Ability { ability, .. } if ability == "chown"));
        // The pool hands its buffers out in any order: after a few rounds each has grown to
        // the longest string it holds (the process name), and no round allocates again.
        let round = |c: &mut Converter, i: usize, spare: Event| {
            c.recycle(spare);
            c.convert(if i % 2 == 0 { &setuid } else { &chown }).unwrap()
        };
        for i in 0..8 {
            spare = round(&mut c, i, spare);
        }
        let before = allocations();
        for i in 0..1000 {
            spare = round(&mut c, i, spare);
        }
        let during = allocations() - before;
        assert_eq!(during, 0, "1000 known checks allocated {during} times");
        // The last was a chown check, read as a fresh conversion reads it; that one, with
        // nothing given back, allocates its strings (so the count above counts).
        let before = allocations();
        assert_eq!(spare, c.convert(&chown).unwrap());
        assert!(allocations() >= before + 3, "a conversion without a spare allocated nothing");
    }

    /// A repeated connect, to a path or to another host, is dropped without allocating:
    /// the strings made to tell it was a repeat go back to the pool.
    #[test]
    fn repeated_connects_allocate_nothing() {
        let mut c = Converter::new(false, None);
        let remote = raw(6, |b| {
            put_u32(b, 80, AF_INET);
            put_u32(b, 84, 443);
            b[96..100].copy_from_slice(&[192, 0, 2, 7]);
        });
        let connect = raw_with(5, &["/run/secpol-test/srv.sock"], |_| {});
        let first = c.convert(&remote).unwrap();
        assert_eq!(
            first.what,
            EventKind::Remote { address: "192.0.2.7:443".into(), verdict: Verdict::Allowed }
        );
        c.recycle(first);
        let first = c.convert(&connect).unwrap();
        assert!(
            matches!(&first.what, EventKind::Connect { path, .. } if path == "/run/secpol-test/srv.sock")
        );
        c.recycle(first);
        for _ in 0..8 {
            assert!(c.convert(&remote).is_none() && c.convert(&connect).is_none());
        }
        let before = allocations();
        for _ in 0..1000 {
            assert!(c.convert(&remote).is_none() && c.convert(&connect).is_none());
        }
        let during = allocations() - before;
        assert_eq!(during, 0, "1000 repeated connects of each kind allocated {during} times");
    }

    #[test]
    fn results_map_to_verdicts() {
        assert_eq!(attach_result(0), Some(AttachResult::Ok));
        assert_eq!(attach_result(-libc::EACCES), Some(AttachResult::Errno(libc::EACCES)));
        assert_eq!(attach_result(-libc::EADDRINUSE), None);
        assert_eq!(connect_verdict(-libc::EINPROGRESS), Some(Verdict::Allowed));
        assert_eq!(connect_verdict(-libc::EPERM), Some(Verdict::Denied(libc::EPERM)));
        assert_eq!(connect_verdict(-libc::ENOENT), None);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
        assert_eq!(exit_code(0), 0);
    }

    #[test]
    fn addresses_and_paths_are_formatted() {
        // Into a buffer that held something longer: nothing of it stays.
        let mut out = String::from("a much longer string than any of these results");
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[192, 0, 2, 7]);
        format_address_into(2, &a, 80, &mut out);
        assert_eq!(out, "192.0.2.7:80");
        let v6: [u8; 16] = "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets();
        format_address_into(10, &v6, 443, &mut out);
        assert_eq!(out, "[2001:db8::1]:443");
        let join = |base: &str, rel: &str, out: &mut String| {
            join_path_into(base, rel, out);
            out.clone()
        };
        assert_eq!(join("/tmp/a", "b/./c", &mut out), "/tmp/a/b/c");
        assert_eq!(join("/tmp/a", "../x", &mut out), "/tmp/x");
        assert_eq!(join("/", "//x//y/", &mut out), "/x/y");
        assert_eq!(join("/tmp/a", "/etc/./passwd", &mut out), "/etc/passwd");
        assert_eq!(join("/tmp", "../../..", &mut out), "/");
        assert_eq!(join("/", ".", &mut out), "/");
        assert_eq!(join("/a/b", "../../c/../d", &mut out), "/d");
        assert_eq!(qnx_name("/usr/bin/touch"), "usr/bin/touch");
    }

    #[test]
    fn capability_checks_become_ability_events() {
        let mut c = Converter::new(false, None);
        let e = c
            .convert(&raw(1, |b| {
                put_u32(b, 12, 65534);
                put_u32(b, 16, 65534);
                put_u32(b, 20, (-libc::EPERM) as u32);
                put_u32(b, 48, 10);
                put_u32(b, 52, F_HAS_VALUE);
                put_u64(b, 56, 80);
            }))
            .unwrap();
        assert_eq!(e.process.type_name, "default");
        assert_eq!(e.process.pid, std::process::id());
        assert_eq!((e.process.uid, e.process.euid), (Some(65534), Some(65534)));
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(e.process.name.as_deref(), Some(qnx_name(me.to_str().unwrap()).as_str()));
        assert_eq!(
            e.what,
            EventKind::Ability {
                ability: "net_bind_service".into(),
                range: Some(Subrange::value(80)),
                target_type: None,
                root: false,
                verdict: Verdict::Denied(libc::EPERM),
                probe: false,
            }
        );
        assert!(e.what.is_failure());
    }

    #[test]
    fn connects_get_the_binders_type_and_repeat_only_in_repeat_mode() {
        let mut c = Converter::new(false, None);
        c.types.ids.insert(7, "web_t".into());
        let bind = raw_with(2, &["/tmp/srv.sock"], |b| put_u64(b, 24, 7));
        let e = c.convert(&bind).unwrap();
        assert_eq!(e.process.type_name, "web_t");
        assert_eq!(e.what, EventKind::Attach { path: "/tmp/srv.sock".into(), result: AttachResult::Ok });
        let connect = raw_with(5, &["/tmp/srv.sock"], |_| {});
        let e = c.convert(&connect).unwrap();
        assert_eq!(
            e.what,
            EventKind::Connect {
                path: "/tmp/srv.sock".into(),
                channel_type: "web_t".into(),
                verdict: Verdict::Allowed
            }
        );
        assert!(c.convert(&connect).is_none(), "a repeated connect is not new");
        let refused = raw_with(5, &["/tmp/none.sock"], |b| put_u32(b, 20, (-libc::ECONNREFUSED) as u32));
        assert!(c.convert(&refused).is_none());
        let mut r = Converter::new(true, None);
        assert!(r.convert(&connect).is_some() && r.convert(&connect).is_some());
    }

    #[test]
    fn exec_names_the_process_and_exit_forgets_it() {
        let mut c = Converter::new(false, None);
        let exec = raw_with(8, &["/usr/bin/ls"], |_| {});
        let e = c.convert(&exec).unwrap();
        assert_eq!(e.what, EventKind::Exec { path: "/usr/bin/ls".into() });
        assert_eq!(e.process.name.as_deref(), Some("usr/bin/ls"));
        let exit = raw(9, |b| put_u32(b, 20, 2 << 8));
        let e = c.convert(&exit).unwrap();
        assert_eq!(e.what, EventKind::Exit { code: 2 });
        assert_eq!(e.process.name.as_deref(), Some("usr/bin/ls"));
        assert_eq!(c.processes(), 0);
    }

    #[test]
    fn signals_within_one_type_are_dropped() {
        let mut c = Converter::new(false, None);
        c.types.ids.insert(7, "web_t".into());
        c.types.ids.insert(8, "web_t".into());
        c.types.ids.insert(9, "db_t".into());
        let sig = |target: u64| {
            raw(7, move |b| {
                put_u64(b, 24, 7);
                put_u64(b, 64, target);
                put_u32(b, 72, 1234);
                put_u32(b, 76, 15);
            })
        };
        assert!(c.convert(&sig(8)).is_none());
        let e = c.convert(&sig(9)).unwrap();
        assert_eq!(
            e.what,
            EventKind::Signal {
                target_pid: 1234,
                target_type: "db_t".into(),
                signal: 15,
                verdict: Verdict::Allowed
            }
        );
        assert!(c.convert(&sig(9)).is_none());
    }

    #[test]
    fn long_paths_stay_whole_and_cut_or_baseless_ones_are_counted_not_reported() {
        let mut c = Converter::new(false, None);
        let long = format!("/tmp/{}/link", "deep".repeat(300));
        let e = c.convert(&raw_with(4, &[&long, "/etc/hostname"], |_| {})).unwrap();
        assert_eq!(
            e.what,
            EventKind::Link {
                path: long.clone(),
                target: Some("/etc/hostname".into()),
                result: AttachResult::Ok
            }
        );
        assert_eq!(c.take_unusable(), 0);
        let cut = raw_with(2, &[&long], |b| put_u32(b, 52, super::super::record::F_TRUNCATED));
        assert!(c.convert(&cut).is_none(), "a cut path must never be reported");
        // Relative to a directory fd this process does not have.
        let baseless = raw_with(4, &["rel/link"], |b| put_u32(b, 88, 987_654));
        assert!(c.convert(&baseless).is_none());
        assert_eq!(c.take_unusable(), 2);
        assert_eq!(c.take_unusable(), 0);
    }

    #[test]
    fn set_id_checks_carry_the_target_id_and_seccomp_refusals_are_failures() {
        let mut c = Converter::new(false, None);
        let check = |flags: u32, ret: i32| {
            raw(1, move |b| {
                put_u32(b, 20, ret as u32);
                put_u32(b, 48, 7);
                put_u32(b, 52, F_HAS_VALUE | F_ROOT | flags);
                put_u64(b, 56, 33);
            })
        };
        let e = c.convert(&check(0, 0)).unwrap();
        assert_eq!(
            e.what,
            EventKind::Ability {
                ability: "setuid".into(),
                range: Some(Subrange::value(33)),
                target_type: None,
                root: true,
                verdict: Verdict::Allowed,
                probe: false,
            }
        );
        let e = c.convert(&check(F_SECCOMP, -libc::EPERM)).unwrap();
        assert!(e.what.is_failure());
        assert!(matches!(e.what, EventKind::Ability { verdict: Verdict::Denied(libc::EPERM), .. }));
    }
}
