//! `libsecpol-preload.so`: reports the capability calls a process makes on itself.
//!
//! Loaded with `LD_PRELOAD`, it interposes `capset(2)`, `prctl(2)` (only
//! `PR_CAPBSET_DROP`, `PR_CAP_AMBIENT` raise/lower/clear-all, `PR_SET_KEEPCAPS` and
//! `PR_SET_SECUREBITS`; every other option goes straight through) and libcap's
//! `cap_set_proc` (which reaches the kernel through `capset`; the preload only labels it).
//! Each call is passed on unchanged to the next definition (`dlsym(RTLD_NEXT)`), and what
//! it asked and what it returned go to the tracer as one datagram (layout in
//! [`proto`], the shared `preload_proto.rs`).
//!
//! One exception to "unchanged": `ability NAME protect`. When a `capset` drops capabilities
//! wholesale ("keep these, drop everything else") and the protect file lists some of them
//! for this process's type, the preload keeps those in the sets it passes on
//! ([`proto::protect_keep`]). A capability the call drops by name goes.
//!
//! Rules that keep it safe inside any process: no threads, no locks (atomics only, so
//! nothing can deadlock after `fork`), no allocation, no blocking (a non-blocking send on a
//! datagram socket; a full socket or an absent tracer loses the report, never the call),
//! `errno` exactly as the real call left it, and nothing on stdout or stderr.
//!
//! Built with `panic = "abort"` (`cargo build --profile preload`, what is installed) the
//! library is `no_std`: no Rust runtime, no unwinder (`libgcc_s`), a few kilobytes, and a
//! panic (there is no code path that panics by design) aborts. Built with the workspace's
//! ordinary profiles (tests, `cargo build`) it links `std` and behaves the same.
#![cfg_attr(panic = "abort", no_std)]
use secpol_proto as proto;

mod caps;
mod protect;
mod real;
mod report;
mod runtime;

use core::ffi::{c_int, c_ulong, c_void};
use core::sync::atomic::{AtomicI32, Ordering};

use proto::{Call, Record};

use proto::capset::{
    Data as CapData, Header as CapHeader, VERSION_1 as CAP_V1, VERSION_2 as CAP_V2, VERSION_3 as CAP_V3,
};

const PR_SET_KEEPCAPS: c_int = 8;
const PR_CAPBSET_DROP: c_int = 24;
const PR_SET_SECUREBITS: c_int = 28;
const PR_CAP_AMBIENT: c_int = 47;
const PR_CAP_AMBIENT_RAISE: c_ulong = 2;
const PR_CAP_AMBIENT_LOWER: c_ulong = 3;
const PR_CAP_AMBIENT_CLEAR_ALL: c_ulong = 4;

/// The thread (id) inside libcap's `cap_set_proc` right now, or 0. One slot: when two
/// threads call it at once, the second one's `capset` is reported as plain `capset`.
static IN_CAP_SET_PROC: AtomicI32 = AtomicI32::new(0);

fn gettid() -> i32 {
    // SAFETY: gettid cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

// Without std nothing else asks the linker for libc (the libc crate leaves it to std);
// name it, so the library records its dependency and glibc's symbol versions.
#[link(name = "c")]
extern "C" {}

#[cfg(panic = "abort")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort never returns.
    unsafe { libc::abort() }
}

/// Resolves the real functions and the runtime directory while the process is still
/// single-threaded (constructors of preloaded objects run before `main`).
extern "C" fn init() {
    real::resolve_all();
    runtime::init();
    report::init();
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = init;

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e }
}

/// Fills in the result of the real call, sends the record, and restores `errno` to what
/// the real call left.
fn finish(rec: &mut Record, ret: c_int) -> c_int {
    let after = errno();
    if ret < 0 {
        rec.result = -1;
        rec.errno = if (1..=proto::MAX_ERRNO).contains(&after) { after } else { libc::EINVAL };
    }
    report::send(rec);
    set_errno(after);
    ret
}

/// Interposed `capset(2)`.
///
/// # Safety
///
/// Same contract as `capset(2)`: `hdr` and `data` point to a capability header and to one
/// (version 1) or two (versions 2 and 3) data structs, or are invalid in the ways the
/// kernel reports with `EFAULT` (only null pointers are checked here).
#[no_mangle]
pub unsafe extern "C" fn capset(hdr: *mut CapHeader, data: *const CapData) -> c_int {
    let saved = errno();
    protect::prime();
    let inside = IN_CAP_SET_PROC.load(Ordering::Acquire);
    let libcap = inside != 0 && inside == gettid();
    let mut rec = Record::new(Call::Capset);
    if libcap {
        rec.flags |= proto::FLAG_LIBCAP;
    }
    caps::snapshot(&mut rec, false);

    // SAFETY: checked for null; the caller promises a valid header otherwise.
    let (version, pid) = if hdr.is_null() { (0, 0) } else { unsafe { ((*hdr).version, (*hdr).pid) } };
    let words = match version {
        CAP_V1 => 1,
        CAP_V2 | CAP_V3 => 2,
        _ => 0,
    };
    let mut copy = [CapData::default(); 2];
    if words > 0 && !data.is_null() {
        for (i, slot) in copy.iter_mut().enumerate().take(words) {
            // SAFETY: the caller passes `words` structs for this header version.
            *slot = unsafe { *data.add(i) };
        }
        rec.requested = proto::CapSets::from_data(&copy);
        rec.flags |= proto::FLAG_REQUESTED;
    }

    let mut pass = data;
    let own = pid == 0 || pid == unsafe { libc::getpid() };
    let known = proto::FLAG_BEFORE | proto::FLAG_REQUESTED;
    if own && rec.flags & known == known {
        let mut candidates = proto::protect_keep(rec.before.permitted, rec.requested.permitted, u64::MAX);
        if words == 1 {
            candidates &= 0xffff_ffff; // a version 1 call cannot carry capabilities 32..
        }
        if candidates != 0 {
            let keep = candidates & protect::protected_for_self();
            if keep != 0 {
                let sets = proto::apply_protect(rec.before, rec.requested, keep);
                copy = sets.to_data();
                pass = copy.as_ptr();
                rec.protect_kept = keep;
            }
        }
    }

    set_errno(saved);
    // SAFETY: forwarding the caller's arguments (or our copy of its data).
    let ret = unsafe { real::capset(hdr, pass) };
    finish(&mut rec, ret)
}

/// Interposed `prctl(2)`. C declares it variadic; on x86_64 and aarch64 a call with up to
/// five integer arguments passes them in the same registers either way.
///
/// # Safety
///
/// Same contract as `prctl(2)` for the option given.
#[no_mangle]
pub unsafe extern "C" fn prctl(option: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> c_int {
    let (call, arg) = match (option, a2) {
        (PR_CAPBSET_DROP, cap) => (Call::CapbsetDrop, cap),
        (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE) => (Call::AmbientRaise, a3),
        (PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER) => (Call::AmbientLower, a3),
        (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) => (Call::AmbientClearAll, 0),
        (PR_SET_KEEPCAPS, flag) => (Call::SetKeepcaps, flag),
        (PR_SET_SECUREBITS, bits) => (Call::SetSecurebits, bits),
        // SAFETY: forwarding unchanged.
        _ => return unsafe { real::prctl(option, a2, a3, a4, a5) },
    };
    let sane = match call {
        c if c.takes_capability() => arg < 64,
        Call::SetSecurebits => arg <= 0xff,
        _ => true,
    };
    if !sane {
        // The kernel refuses it (EINVAL): not a request worth reporting.
        // SAFETY: forwarding unchanged.
        return unsafe { real::prctl(option, a2, a3, a4, a5) };
    }
    let saved = errno();
    protect::prime();
    let mut rec = Record::new(call);
    #[allow(clippy::unnecessary_cast)] // c_ulong is 32 bits wide on some targets
    let arg = arg as u64;
    rec.arg = arg;
    caps::snapshot(&mut rec, call == Call::AmbientClearAll);
    set_errno(saved);
    // SAFETY: forwarding unchanged.
    let ret = unsafe { real::prctl(option, a2, a3, a4, a5) };
    finish(&mut rec, if ret < 0 { -1 } else { ret })
}

/// Interposed libcap `cap_set_proc(3)`: marks this thread so the `capset` it makes is
/// reported as `cap_set_proc`, and calls libcap. (A libcap that reaches the kernel without
/// glibc's `capset`, as with libpsx, is not seen.)
///
/// # Safety
///
/// Same contract as `cap_set_proc(3)`.
#[no_mangle]
pub unsafe extern "C" fn cap_set_proc(cap: *mut c_void) -> c_int {
    let saved = errno();
    let tid = gettid();
    let marked = IN_CAP_SET_PROC.compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed).is_ok();
    set_errno(saved);
    // SAFETY: forwarding unchanged.
    let ret = unsafe { real::cap_set_proc(cap) };
    if marked {
        IN_CAP_SET_PROC.store(0, Ordering::Release);
    }
    ret
}
