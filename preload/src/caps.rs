//! The calling thread's capability state, read with raw system calls (never through our
//! own interposed `prctl`), for the "before" half of a report.

use core::ffi::c_long;

use crate::proto::{self, CapSets, Record};
use crate::{CapData, CapHeader};

const PR_GET_SECUREBITS: c_long = 27;
const PR_CAP_AMBIENT: c_long = 47;
const PR_CAP_AMBIENT_IS_SET: c_long = 1;
const CAP_V3: u32 = 0x2008_0522;

fn raw_prctl(option: c_long, a2: c_long, a3: c_long) -> c_long {
    // SAFETY: a query prctl with integer arguments.
    unsafe { libc::syscall(libc::SYS_prctl, option, a2, a3, 0 as c_long, 0 as c_long) }
}

/// The sets of two kernel data structs as masks.
pub fn from_data(d: &[CapData; 2]) -> CapSets {
    let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
    CapSets {
        effective: join(d[0].effective, d[1].effective),
        permitted: join(d[0].permitted, d[1].permitted),
        inheritable: join(d[0].inheritable, d[1].inheritable),
    }
}

/// Masks into two kernel data structs.
pub fn to_data(s: &CapSets, d: &mut [CapData; 2]) {
    for (i, slot) in d.iter_mut().enumerate() {
        let shift = 32 * i;
        slot.effective = (s.effective >> shift) as u32;
        slot.permitted = (s.permitted >> shift) as u32;
        slot.inheritable = (s.inheritable >> shift) as u32;
    }
}

/// Records the effective uid, securebits and sets before a call (and the ambient set
/// when `ambient`). Clobbers errno; the caller restores it.
pub fn snapshot(rec: &mut Record, ambient: bool) {
    // SAFETY: geteuid cannot fail.
    rec.euid = unsafe { libc::geteuid() };
    let bits = raw_prctl(PR_GET_SECUREBITS, 0, 0);
    if (0..=0xff).contains(&bits) {
        rec.securebits = bits as u32;
    }
    let mut hdr = CapHeader { version: CAP_V3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: a version 3 header and room for two data structs.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) } == 0 {
        rec.before = from_data(&data);
        rec.flags |= proto::FLAG_BEFORE;
    }
    if ambient {
        let mut set = 0u64;
        let mut known = false;
        for cap in 0..64 {
            match raw_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap) {
                1 => set |= 1 << cap,
                0 => {}
                _ => break, // past the last capability this kernel knows
            }
            known = true;
        }
        if known {
            rec.ambient_before = set;
            rec.flags |= proto::FLAG_AMBIENT;
        }
    }
}
