//! The calling thread's capability state, read with raw system calls (never through our
//! own interposed `prctl`), for the "before" half of a report.

use core::ffi::c_long;

use crate::proto::capset::{Data as CapData, Header as CapHeader};
use crate::proto::{self, CapSets, Record};

const PR_GET_SECUREBITS: c_long = 27;
const PR_CAP_AMBIENT: c_long = 47;
const PR_CAP_AMBIENT_IS_SET: c_long = 1;

fn raw_prctl(option: c_long, a2: c_long, a3: c_long) -> c_long {
    // SAFETY: a query prctl with integer arguments.
    unsafe { libc::syscall(libc::SYS_prctl, option, a2, a3, 0 as c_long, 0 as c_long) }
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
    let mut hdr = CapHeader::v3_self();
    let mut data = [CapData::default(); 2];
    // SAFETY: a version 3 header and room for two data structs.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) } == 0 {
        rec.before = CapSets::from_data(&data);
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
