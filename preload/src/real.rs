//! The real `capset`, `prctl` and `cap_set_proc`: the next definitions after ours
//! (`dlsym(RTLD_NEXT)`, so other interposers such as fakeroot still see the calls),
//! resolved in the constructor while the process is single-threaded, except
//! `cap_set_proc` (at its first call). Without one, `capset` and `prctl` fall back to
//! the raw system call.

use core::ffi::CStr;
use core::ffi::{c_int, c_ulong, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::proto::capset::{Data as CapData, Header as CapHeader};

type CapsetFn = unsafe extern "C" fn(*mut CapHeader, *const CapData) -> c_int;
type PrctlFn = unsafe extern "C" fn(c_int, ...) -> c_int;
type CapSetProcFn = unsafe extern "C" fn(*mut c_void) -> c_int;

static CAPSET: AtomicUsize = AtomicUsize::new(0);
static PRCTL: AtomicUsize = AtomicUsize::new(0);
static CAP_SET_PROC: AtomicUsize = AtomicUsize::new(0);

fn lookup(slot: &AtomicUsize, name: &CStr) -> usize {
    let known = slot.load(Ordering::Acquire);
    if known != 0 {
        return known;
    }
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT searches the objects after ours.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    if p != 0 {
        slot.store(p, Ordering::Release);
    }
    p
}

/// Resolves `capset` and `prctl` now (called from the constructor). `cap_set_proc` is
/// looked up at its first call: only then is libcap surely loaded, and most processes
/// never make one, so they are spared a search of every loaded object.
pub fn resolve_all() {
    lookup(&CAPSET, c"capset");
    lookup(&PRCTL, c"prctl");
}

/// The real `capset`.
///
/// # Safety
///
/// `capset(2)`'s contract.
pub unsafe fn capset(hdr: *mut CapHeader, data: *const CapData) -> c_int {
    match lookup(&CAPSET, c"capset") {
        0 => unsafe { libc::syscall(libc::SYS_capset, hdr, data) as c_int },
        // SAFETY: the address dlsym gave for `capset`, which has this signature.
        p => unsafe { core::mem::transmute::<usize, CapsetFn>(p)(hdr, data) },
    }
}

/// The real `prctl`.
///
/// # Safety
///
/// `prctl(2)`'s contract.
pub unsafe fn prctl(option: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> c_int {
    match lookup(&PRCTL, c"prctl") {
        0 => unsafe { libc::syscall(libc::SYS_prctl, option, a2, a3, a4, a5) as c_int },
        // SAFETY: the address dlsym gave for the variadic `prctl`.
        p => unsafe { core::mem::transmute::<usize, PrctlFn>(p)(option, a2, a3, a4, a5) },
    }
}

/// The real `cap_set_proc`; `ENOSYS` when no libcap is loaded (then nobody could have
/// called it but through our symbol).
///
/// # Safety
///
/// `cap_set_proc(3)`'s contract.
pub unsafe fn cap_set_proc(cap: *mut c_void) -> c_int {
    match lookup(&CAP_SET_PROC, c"cap_set_proc") {
        0 => {
            // SAFETY: this thread's errno.
            unsafe { *libc::__errno_location() = libc::ENOSYS };
            -1
        }
        // SAFETY: the address dlsym gave for `cap_set_proc`, which has this signature.
        p => unsafe { core::mem::transmute::<usize, CapSetProcFn>(p)(cap) },
    }
}
