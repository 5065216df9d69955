//! Loading the kernel side: kernel filesystems, privileges, NOAUDIT text ranges, and
//! the BPF object (compiled from `bpf/secpol.bpf.c` by `build.rs`) loaded and attached
//! with aya.

use std::ffi::CString;
use std::io;
use std::path::Path;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};

use super::KernelError;

/// The compiled BPF object.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/secpol.bpf.o"));

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
    ("enter_bind", "sys_enter_bind"),
    ("exit_bind", "sys_exit_bind"),
    ("enter_connect", "sys_enter_connect"),
    ("exit_connect", "sys_exit_connect"),
    ("enter_mount", "sys_enter_mount"),
    ("exit_mount", "sys_exit_mount"),
    ("enter_symlink", "sys_enter_symlink"),
    ("exit_symlink", "sys_exit_symlink"),
    ("enter_symlinkat", "sys_enter_symlinkat"),
    ("exit_symlinkat", "sys_exit_symlinkat"),
    ("enter_setuid", "sys_enter_setuid"),
    ("exit_setuid", "sys_exit_setuid"),
    ("enter_setreuid", "sys_enter_setreuid"),
    ("exit_setreuid", "sys_exit_setreuid"),
    ("enter_setresuid", "sys_enter_setresuid"),
    ("exit_setresuid", "sys_exit_setresuid"),
    ("enter_setfsuid", "sys_enter_setfsuid"),
    ("exit_setfsuid", "sys_exit_setfsuid"),
    ("enter_setgid", "sys_enter_setgid"),
    ("exit_setgid", "sys_exit_setgid"),
    ("enter_setregid", "sys_enter_setregid"),
    ("exit_setregid", "sys_exit_setregid"),
    ("enter_setresgid", "sys_enter_setresgid"),
    ("exit_setresgid", "sys_exit_setresgid"),
    ("enter_setfsgid", "sys_enter_setfsgid"),
    ("exit_setfsgid", "sys_exit_setfsgid"),
    ("enter_setgroups", "sys_enter_setgroups"),
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

/// Capability numbers checked before loading.
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Whether the effective set (`CapEff:` of `/proc/self/status`) has BPF and perfmon
/// rights (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN).
fn has_bpf_privileges(status: &str) -> bool {
    let Some(eff) = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    else {
        return false;
    };
    let has = |c: u32| eff & (1u64 << c) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// The text ranges of [`NOAUDIT_CALLERS`] in the text of `/proc/kallsyms`: from a
/// function's address to the next text symbol's. Functions missing in this kernel
/// (inlined, renamed) are skipped.
pub fn noaudit_ranges(kallsyms: &str) -> Vec<TextRange> {
    let mut text: Vec<u64> = Vec::new();
    let mut starts: Vec<u64> = Vec::new();
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
        if f.next().is_none() && NOAUDIT_CALLERS.contains(&name) {
            starts.push(addr);
        }
    }
    text.sort_unstable();
    text.dedup();
    starts.sort_unstable();
    starts.dedup();
    starts
        .into_iter()
        .filter_map(|start| {
            let i = text.partition_point(|&a| a <= start);
            text.get(i).map(|&end| TextRange { start, end })
        })
        .take(MAX_RANGES)
        .collect()
}

/// Mounts what is missing, checks privileges, loads and attaches everything.
pub fn load(repeat: bool) -> Result<Loaded, KernelError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if !has_bpf_privileges(&status) {
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
    Ok(Loaded { ebpf, ring, lost })
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
    fn privileges_come_from_the_effective_set() {
        assert!(has_bpf_privileges("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(has_bpf_privileges("CapEff:\t000000c000000000\n"));
        assert!(has_bpf_privileges("CapEff:\t0000000000200000\n"));
        assert!(!has_bpf_privileges("CapEff:\t0000008000000000\n"));
        assert!(!has_bpf_privileges("CapEff:\t0000000000000000\n"));
        assert!(!has_bpf_privileges("nothing"));
    }
}
