//! Loading the kernel side: kernel filesystems, privileges, NOAUDIT text ranges, and
//! the BPF object (compiled from `bpf/secpol.bpf.c` by `build.rs`) loaded and attached
//! with aya.

use std::ffi::CString;
use std::io;
use std::path::Path;

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};

use super::KernelError;

/// The compiled BPF object.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/secpol.bpf.o"));

/// The compiled BPF object this tracer loads (`secpoltrace --write-bpf-object`: to look at
/// it with `bpftool` or `llvm-objdump`, or to measure what verifying it costs).
pub fn object() -> &'static [u8] {
    OBJECT
}

/// Kernel functions whose calls to `cap_capable` are NOAUDIT probes, not needs.
pub const NOAUDIT_CALLERS: &[&str] = &[
    "ns_capable_noaudit",
    "has_ns_capability_noaudit",
    "has_capability_noaudit",
    "ptracer_capable",
    "cap_vm_enough_memory",
    "security_vm_enough_memory_mm",
];

/// `SP_MAX_RANGES` in `events.h`.
const MAX_RANGES: usize = 16;

/// `struct sp_range`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextRange {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
}

// SAFETY: two u64, no padding, any bit pattern is valid.
unsafe impl Pod for TextRange {}

/// BTF tracepoints: (program, tracepoint).
const BTF_PROGRAMS: &[(&str, &str)] = &[
    ("cap_capable", "cap_capable"),
    ("signal_generate", "signal_generate"),
    ("sched_process_exec", "sched_process_exec"),
    ("sched_process_exit", "sched_process_exit"),
];

/// Syscall tracepoints: (program, tracepoint name in category `syscalls`).
const SYSCALL_PROGRAMS: &[(&str, &str)] = &[
    ("exit_bind", "sys_exit_bind"),
    ("exit_connect", "sys_exit_connect"),
    ("exit_mount", "sys_exit_mount"),
    ("exit_symlink", "sys_exit_symlink"),
    ("exit_symlinkat", "sys_exit_symlinkat"),
    ("exit_setuid", "sys_exit_setuid"),
    ("exit_setreuid", "sys_exit_setreuid"),
    ("exit_setresuid", "sys_exit_setresuid"),
    ("exit_setfsuid", "sys_exit_setfsuid"),
    ("exit_setgid", "sys_exit_setgid"),
    ("exit_setregid", "sys_exit_setregid"),
    ("exit_setresgid", "sys_exit_setresgid"),
    ("exit_setfsgid", "sys_exit_setfsgid"),
    ("exit_setgroups", "sys_exit_setgroups"),
];

/// The loaded, attached programs and the maps user space reads.
pub struct Loaded {
    /// Keeps the programs attached while alive.
    pub ebpf: Ebpf,
    /// Records from the kernel.
    pub ring: RingBuf<MapData>,
    /// Records lost to a full ring buffer, per CPU.
    pub lost: PerCpuArray<MapData, u64>,
    /// Learns where cap_capable's callers lie on the stack.
    pub slots: SlotLearner,
}

/// `SP_STACK_DEPTH` and `SP_SLOT_WORDS` in `events.h`.
const STACK_DEPTH: usize = 8;
const SLOT_WORDS: usize = 64;

/// `struct stack_slots`: one set.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackSlots {
    state: u32,
    cc: u32,
    c1: u32,
    c2: u32,
    has_c2: u32,
    pad: u32,
}

// SAFETY: six u32, no padding, any bit pattern is valid.
unsafe impl Pod for StackSlots {}

/// `enum slots_state`.
const SLOTS_UNKNOWN: u32 = 0;
const SLOTS_READY: u32 = 1;
const SLOTS_OFF: u32 = 2;
/// `SP_SLOT_SETS`: layouts (this program alone on the tracepoint, or with others).
const SLOT_SETS: u32 = 2;

/// `struct slot_sample`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SlotSample {
    /// Return addresses of one stack walk from the program up.
    pub frames: [u64; STACK_DEPTH],
    /// Bytes of `frames` filled.
    pub n: i64,
    /// The kernel stack above the tracepoint's arguments, word by word.
    pub words: [u64; SLOT_WORDS],
}

// SAFETY: u64 and i64 only, no padding, any bit pattern is valid.
unsafe impl Pod for SlotSample {}

/// Where, in words above the tracepoint's arguments, the return addresses into
/// cap_capable (`cc`), its caller (`c1`) and, when the caller is security_capable, the
/// caller's caller (`c2`) are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// Return into cap_capable.
    pub cc: u32,
    /// Return into cap_capable's caller.
    pub c1: u32,
    /// Return into the caller's caller, when the sample went through security_capable.
    pub c2: Option<u32>,
}

/// The slots one sample shows: the first frame in cap_capable's text, the words above
/// the arguments that hold it and the next frames, in order. `None` when the sample does
/// not show them (a cut walk, a frame not found).
pub fn find_slots(s: &SlotSample, cap_capable: TextRange, security_capable: TextRange) -> Option<Slots> {
    let n = (s.n.max(0) as usize / 8).min(STACK_DEPTH);
    let frames = &s.frames[..n];
    let inside = |ip: u64, t: TextRange| ip >= t.start && ip < t.end;
    let f = frames.iter().position(|&ip| inside(ip, cap_capable))?;
    let after = |from: usize, v: u64| (from..SLOT_WORDS).find(|&i| s.words[i] == v);
    let cc = after(0, frames[f])?;
    let c1 = after(cc + 1, *frames.get(f + 1)?)?;
    let c2 = if inside(frames[f + 1], security_capable) {
        frames.get(f + 2).and_then(|&v| after(c1 + 1, v))
    } else {
        None
    };
    Some(Slots { cc: cc as u32, c1: c1 as u32, c2: c2.map(|c| c as u32) })
}

/// Asks the kernel side for stack samples and turns them into slot sets: until every
/// set it found knows both levels, and again when walks keep coming (another tracer on
/// the tracepoint changed the layout) while a set is free.
pub struct SlotLearner {
    slots: Array<MapData, StackSlots>,
    sample: Array<MapData, SlotSample>,
    want: Array<MapData, u32>,
    walks: PerCpuArray<MapData, u64>,
    cap_capable: TextRange,
    security_capable: TextRange,
    /// A sample was asked for and not looked at yet.
    asked: bool,
    tries: u32,
    /// Walks counted when last looked at.
    walks_seen: u64,
    /// Sets already said to be off.
    off_said: [bool; SLOT_SETS as usize],
    disabled: bool,
    /// When the maps were last read.
    last_look: std::time::Instant,
}

/// How often the maps are read when no sample is asked for.
const SLOT_LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Samples taken at most (a sample is one walk's copy of 584 bytes: cheap, but bounded).
const SLOT_TRIES: u32 = 400;
/// Walks between two looks that say the slots do not cover the checks being made.
const WALKS_FOR_A_SAMPLE: u64 = 64;

impl SlotLearner {
    fn ask(&mut self) {
        if let Err(e) = self.want.set(0, 1, 0) {
            log::warn!("cannot ask for a stack sample: {e}; every probe is told by a stack walk");
            self.disabled = true;
        }
        self.asked = true;
    }

    fn sets(&self) -> Vec<StackSlots> {
        (0..SLOT_SETS).map(|i| self.slots.get(&i, 0).unwrap_or_default()).collect()
    }

    /// Learns from the sample, if one was taken, and asks for another when needed. Call
    /// now and then (each poll of the ring buffer): it reads the maps at most every
    /// 100 ms, or at once while a sample is asked for.
    pub fn tick(&mut self) {
        if self.disabled || (!self.asked && self.last_look.elapsed() < SLOT_LOOK_EVERY) {
            return;
        }
        self.last_look = std::time::Instant::now();
        let sets = self.sets();
        for (i, set) in sets.iter().enumerate() {
            if set.state == SLOTS_OFF && !self.off_said[i] {
                self.off_said[i] = true;
                log::warn!("stack slot set {i} disagreed with a stack walk: switched off");
            }
        }
        if self.asked {
            if self.want.get(&0, 0).unwrap_or(1) != 0 {
                return; // not taken yet
            }
            self.asked = false;
            self.tries += 1;
            let sample = self.sample.get(&0, 0).ok();
            if let Some(f) = sample.and_then(|s| find_slots(&s, self.cap_capable, self.security_capable)) {
                self.learn(&sets, f);
            }
        }
        let sets = self.sets();
        let walks = self.counts().1;
        let walking = walks.saturating_sub(self.walks_seen) >= WALKS_FOR_A_SAMPLE;
        self.walks_seen = walks;
        let lacks_c2 = sets.iter().any(|s| s.state == SLOTS_READY && s.has_c2 == 0);
        let free = sets.iter().any(|s| s.state == SLOTS_UNKNOWN);
        let none = !sets.iter().any(|s| s.state == SLOTS_READY);
        if self.tries < SLOT_TRIES && (none || lacks_c2 || (walking && free)) {
            self.ask();
        }
    }

    /// Puts what a sample showed into the set of its layout, or a free one.
    fn learn(&mut self, sets: &[StackSlots], f: Slots) {
        let same = sets.iter().position(|s| s.state != SLOTS_UNKNOWN && s.cc == f.cc && s.c1 == f.c1);
        let (i, mut set) = match same {
            Some(i) if sets[i].state == SLOTS_READY && sets[i].has_c2 == 0 && f.c2.is_some() => (i, sets[i]),
            Some(_) => return,
            None => match sets.iter().position(|s| s.state == SLOTS_UNKNOWN) {
                Some(i) => {
                    (i, StackSlots { state: SLOTS_READY, cc: f.cc, c1: f.c1, ..StackSlots::default() })
                }
                None => return,
            },
        };
        if let Some(c2) = f.c2 {
            set.c2 = c2;
            set.has_c2 = 1;
        }
        log::debug!("stack slot set {i}: {set:?}");
        if let Err(e) = self.slots.set(i as u32, set, 0) {
            log::warn!("cannot set stack slot set {i}: {e}");
        }
    }

    /// Probes told by the slots and full stack walks so far.
    pub fn counts(&self) -> (u64, u64) {
        let sum = |i: u32| self.walks.get(&i, 0).map(|v| v.iter().sum()).unwrap_or(0);
        (sum(0), sum(1))
    }
}

const TRACEFS_MAGIC: i64 = 0x7472_6163;
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn fs_magic(path: &Path) -> Option<i64> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string, st a valid out buffer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_type as i64)
}

/// Mounts `fstype` at `path` unless a filesystem of that magic is already there.
fn ensure_mounted(path: &str, fstype: &str, magic: i64) -> Result<(), KernelError> {
    let p = Path::new(path);
    if fs_magic(p) == Some(magic) {
        return Ok(());
    }
    let c_path = CString::new(path).expect("no NUL");
    let c_type = CString::new(fstype).expect("no NUL");
    let c_src = CString::new(if fstype == "bpf" { "bpf" } else { "nodev" }).expect("no NUL");
    // SAFETY: valid C strings; no data argument.
    let rc = unsafe { libc::mount(c_src.as_ptr(), c_path.as_ptr(), c_type.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(KernelError::Mount {
            fs: fstype.to_string(),
            path: path.to_string(),
            source: io::Error::last_os_error(),
        });
    }
    log::info!("mounted {fstype} at {path}");
    Ok(())
}

/// Whether an effective set has BPF and perfmon rights (CAP_BPF and CAP_PERFMON, or
/// CAP_SYS_ADMIN).
fn has_bpf_privileges(effective: &caps::CapsHashSet) -> bool {
    use caps::Capability::{CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN};
    effective.contains(&CAP_SYS_ADMIN) || (effective.contains(&CAP_BPF) && effective.contains(&CAP_PERFMON))
}

/// Kernel text symbols of `/proc/kallsyms`: where each function starts and ends (at
/// the next text symbol).
pub struct KernelText {
    /// Every text symbol's address, sorted.
    text: Vec<u64>,
    /// (name, address) of the kernel's own text symbols (not modules').
    names: Vec<(String, u64)>,
}

impl KernelText {
    /// Reads the text of `/proc/kallsyms`; symbols without addresses (kptr_restrict)
    /// are left out.
    pub fn parse(kallsyms: &str) -> KernelText {
        let mut text: Vec<u64> = Vec::new();
        let mut names = Vec::new();
        for line in kallsyms.lines() {
            let mut f = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else { continue };
            if !matches!(kind, "t" | "T") {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(addr, 16) else { continue };
            if addr == 0 {
                continue;
            }
            text.push(addr);
            // Only kernel symbols (a module's have a "[module]" field).
            if f.next().is_none() && (NOAUDIT_CALLERS.contains(&name) || SLOT_FUNCTIONS.contains(&name)) {
                names.push((name.to_string(), addr));
            }
        }
        text.sort_unstable();
        text.dedup();
        KernelText { text, names }
    }

    /// The text of function `name`, from its address to the next text symbol's.
    pub fn range(&self, name: &str) -> Option<TextRange> {
        let start = self.names.iter().find(|(n, _)| n == name)?.1;
        let i = self.text.partition_point(|&a| a <= start);
        self.text.get(i).map(|&end| TextRange { start, end })
    }
}

/// Functions whose text the kernel side needs besides the NOAUDIT callers: the one the
/// tracepoint is in and the LSM hook most checks go through (see `probe_by_slots`).
const SLOT_FUNCTIONS: &[&str] = &["cap_capable", "security_capable"];

/// The text ranges of [`NOAUDIT_CALLERS`] in the text of `/proc/kallsyms`: from a
/// function's address to the next text symbol's. Functions missing in this kernel
/// (inlined, renamed) are skipped.
pub fn noaudit_ranges(kallsyms: &str) -> Vec<TextRange> {
    let text = KernelText::parse(kallsyms);
    let mut ranges: Vec<TextRange> = NOAUDIT_CALLERS.iter().filter_map(|n| text.range(n)).collect();
    ranges.sort_unstable_by_key(|r| r.start);
    ranges.dedup();
    ranges.truncate(MAX_RANGES);
    ranges
}

/// Mounts what is missing, checks privileges, loads and attaches everything.
pub fn load(repeat: bool) -> Result<Loaded, KernelError> {
    let effective = caps::read(None, caps::CapSet::Effective).unwrap_or_default();
    if !has_bpf_privileges(&effective) {
        return Err(KernelError::NotPermitted);
    }
    ensure_mounted("/sys/kernel/tracing", "tracefs", TRACEFS_MAGIC)?;
    ensure_mounted("/sys/fs/bpf", "bpf", BPF_FS_MAGIC)?;

    let kallsyms = std::fs::read_to_string("/proc/kallsyms")
        .map_err(|source| KernelError::Io { what: "cannot read /proc/kallsyms", source })?;
    let ranges = noaudit_ranges(&kallsyms);
    if ranges.is_empty() {
        return Err(KernelError::NoKallsyms);
    }
    // Without them the kernel side walks the stack for every probe (correct, slower).
    let text = KernelText::parse(&kallsyms);
    let cap_capable_text = text.range("cap_capable").unwrap_or_default();
    let security_capable_text = text.range("security_capable").unwrap_or_default();
    drop(text);
    drop(kallsyms);
    log::info!("NOAUDIT probe callers: {} text ranges", ranges.len());
    let mut table = [TextRange::default(); MAX_RANGES];
    table[..ranges.len()].copy_from_slice(&ranges);
    let nranges = ranges.len() as u32;
    let repeat = u32::from(repeat);
    let self_tgid = std::process::id();

    let btf = Btf::from_sys_fs().map_err(|e| KernelError::Btf(e.to_string()))?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .override_global("repeat", &repeat, true)
        .override_global("self_tgid", &self_tgid, true)
        .override_global("nranges", &nranges, true)
        .override_global("noaudit", &table, true)
        .override_global("cap_capable_text", &cap_capable_text, true)
        .override_global("security_capable_text", &security_capable_text, true)
        .load(OBJECT)
        .map_err(|e| KernelError::from_load("the BPF object", &e))?;

    for (prog, tp) in BTF_PROGRAMS {
        let p: &mut BtfTracePoint = ebpf
            .program_mut(prog)
            .ok_or(KernelError::Missing(prog))?
            .try_into()
            .map_err(|e| KernelError::from_load(prog, &e))?;
        p.load(tp, &btf).map_err(|e| KernelError::from_load(prog, &e))?;
        p.attach().map_err(|e| KernelError::from_attach(tp, &e))?;
    }
    for (prog, tp) in SYSCALL_PROGRAMS {
        let p: &mut TracePoint = ebpf
            .program_mut(prog)
            .ok_or(KernelError::Missing(prog))?
            .try_into()
            .map_err(|e| KernelError::from_load(prog, &e))?;
        p.load().map_err(|e| KernelError::from_load(prog, &e))?;
        p.attach("syscalls", tp).map_err(|e| KernelError::from_attach(tp, &e))?;
    }
    let ring = RingBuf::try_from(ebpf.take_map("events").ok_or(KernelError::Missing("events"))?)
        .map_err(|e| KernelError::from_load("events", &e))?;
    let lost = PerCpuArray::try_from(ebpf.take_map("lost").ok_or(KernelError::Missing("lost"))?)
        .map_err(|e| KernelError::from_load("lost", &e))?;
    let map = |ebpf: &mut Ebpf, name: &'static str| ebpf.take_map(name).ok_or(KernelError::Missing(name));
    let slots = Array::try_from(map(&mut ebpf, "slots")?).map_err(|e| KernelError::from_load("slots", &e))?;
    let sample = Array::try_from(map(&mut ebpf, "slot_sample")?)
        .map_err(|e| KernelError::from_load("slot_sample", &e))?;
    let want =
        Array::try_from(map(&mut ebpf, "slot_want")?).map_err(|e| KernelError::from_load("slot_want", &e))?;
    let walks =
        PerCpuArray::try_from(map(&mut ebpf, "walks")?).map_err(|e| KernelError::from_load("walks", &e))?;
    let mut slots = SlotLearner {
        slots,
        sample,
        want,
        walks,
        cap_capable: cap_capable_text,
        security_capable: security_capable_text,
        asked: false,
        tries: 0,
        walks_seen: 0,
        off_said: [false; SLOT_SETS as usize],
        disabled: false,
        last_look: std::time::Instant::now(),
    };
    if cap_capable_text == TextRange::default() {
        log::warn!("no cap_capable in /proc/kallsyms: every probe is told by a stack walk");
        slots.disabled = true;
    } else {
        slots.ask();
    }
    Ok(Loaded { ebpf, ring, lost, slots })
}

/// Sum of the per-CPU loss counters.
pub fn lost_total(lost: &PerCpuArray<MapData, u64>) -> u64 {
    lost.get(&0, 0).map(|v| v.iter().sum()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noaudit_ranges_end_at_the_next_text_symbol() {
        let text = "\
ffffffff813680d0 T has_capability_noaudit
ffffffff813681a0 T ns_capable
ffffffff81368280 T ns_capable_noaudit
ffffffff81368280 t ns_capable_noaudit.alias
ffffffff813682f0 T capable_wrt_inode_uidgid
ffffffff81368300 d some_data
ffffffff81a87cb0 T security_vm_enough_memory_mm
ffffffff81a87d40 T security_other
ffffffffc0001000 t ptracer_capable\t[some_module]
ffffffffc0002000 t after_module
";
        let r = noaudit_ranges(text);
        assert_eq!(
            r,
            vec![
                TextRange { start: 0xffffffff813680d0, end: 0xffffffff813681a0 },
                TextRange { start: 0xffffffff81368280, end: 0xffffffff813682f0 },
                TextRange { start: 0xffffffff81a87cb0, end: 0xffffffff81a87d40 },
            ]
        );
        // Without addresses (kptr_restrict) nothing is known.
        assert!(noaudit_ranges("0000000000000000 T ns_capable_noaudit\n0000000000000000 T x\n").is_empty());
        assert!(noaudit_ranges("garbage\n\n").is_empty());
    }

    #[test]
    fn slots_are_the_words_holding_the_walks_return_addresses_in_order() {
        let cap = TextRange { start: 0x1000, end: 0x1100 };
        let sec = TextRange { start: 0x2000, end: 0x2100 };
        let mut s = SlotSample { frames: [0; STACK_DEPTH], n: 0, words: [0; SLOT_WORDS] };
        // program, bpf_trace_run5, __bpf_trace_cap_capable, cap_capable, security_capable, ns_capable_noaudit
        s.frames[..6].copy_from_slice(&[0xa0, 0xb0, 0xc0, 0x1083, 0x203b, 0x3010]);
        s.n = 6 * 8;
        s.words[3] = 0x203b; // an older copy below the return into cap_capable: not it
        s.words[10] = 0x1083;
        s.words[12] = 0x203b;
        s.words[17] = 0x3010;
        assert_eq!(find_slots(&s, cap, sec), Some(Slots { cc: 10, c1: 12, c2: Some(17) }));
        // A direct caller other than security_capable: no second level.
        s.frames[4] = 0x4444;
        s.words[12] = 0x4444;
        assert_eq!(find_slots(&s, cap, sec), Some(Slots { cc: 10, c1: 12, c2: None }));
        // The walk cut before the caller, or the caller's word not above cap_capable's.
        s.n = 4 * 8;
        assert_eq!(find_slots(&s, cap, sec), None);
        s.n = 6 * 8;
        s.words[12] = 0;
        s.words[5] = 0x4444;
        assert_eq!(find_slots(&s, cap, sec), None);
        // No frame in cap_capable at all, or a garbage length.
        s.frames[3] = 0x9999;
        assert_eq!(find_slots(&s, cap, sec), None);
        s.n = -1;
        assert_eq!(find_slots(&s, cap, sec), None);
    }

    #[test]
    fn privileges_come_from_the_effective_set() {
        use caps::Capability::{CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, CAP_SYS_ADMIN};
        let set = |caps: &[caps::Capability]| caps.iter().copied().collect::<caps::CapsHashSet>();
        assert!(has_bpf_privileges(&caps::all()));
        assert!(has_bpf_privileges(&set(&[CAP_BPF, CAP_PERFMON])));
        assert!(has_bpf_privileges(&set(&[CAP_SYS_ADMIN])));
        assert!(!has_bpf_privileges(&set(&[CAP_BPF, CAP_NET_ADMIN])));
        assert!(!has_bpf_privileges(&set(&[])));
    }
}
