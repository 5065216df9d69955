//! Which capabilities `protect` keeps for this process: its type from
//! `/proc/self/cgroup`, looked up in `<runtime-dir>/protect` (format in
//! [`crate::proto`]). Read at the process's first reported call and again at each
//! wholesale drop, so a change of the file or of the process's type takes effect at once;
//! when the file cannot be read any more (the process switched users), the last reading
//! stands.

use core::cell::UnsafeCell;
use core::ffi::c_char;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::proto;
use crate::runtime;

const CGROUP_LEN: usize = 4096;
const PROTECT_LEN: usize = 16384;

struct Buffers {
    busy: AtomicBool,
    cgroup: UnsafeCell<[u8; CGROUP_LEN]>,
    protect: UnsafeCell<[u8; PROTECT_LEN]>,
}

// SAFETY: the buffers are used only by the thread that set `busy`.
unsafe impl Sync for Buffers {}

static BUFFERS: Buffers = Buffers {
    busy: AtomicBool::new(false),
    cgroup: UnsafeCell::new([0; CGROUP_LEN]),
    protect: UnsafeCell::new([0; PROTECT_LEN]),
};

/// Reads a whole small file into `buf`; `None` if it cannot be read or does not fit.
fn read_file(path: *const c_char, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: open/read/close on a descriptor we own, into our buffer.
    unsafe {
        let fd = libc::open(path, libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK);
        if fd < 0 {
            return None;
        }
        let mut len = 0;
        let result = loop {
            if len == buf.len() {
                break None; // too large to be trusted whole
            }
            let n = libc::read(fd, buf[len..].as_mut_ptr() as *mut libc::c_void, buf.len() - len);
            match n {
                0 => break Some(len),
                n if n > 0 => len += n as usize,
                _ if *libc::__errno_location() == libc::EINTR => {}
                _ => break None,
            }
        };
        libc::close(fd);
        result
    }
}

/// The protected capabilities read last, for when the file cannot be read any more.
static REMEMBERED: AtomicU64 = AtomicU64::new(0);
/// Whether [`REMEMBERED`] holds a reading.
static HAVE_READ: AtomicBool = AtomicBool::new(false);

/// Reads the protect file for this process's type; `None` when it cannot be read (no
/// file, no permission, or another thread is reading it right now).
fn read_now() -> Option<u64> {
    if BUFFERS.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: we hold `busy`.
    let (cgroup, protect) = unsafe { (&mut *BUFFERS.cgroup.get(), &mut *BUFFERS.protect.get()) };
    let mask = (|| {
        runtime::ensure();
        let path = runtime::PROTECT.c_ptr()?;
        let n = read_file(path, protect)?;
        let type_name = match read_file(c"/proc/self/cgroup".as_ptr(), cgroup) {
            Some(m) => proto::type_from_cgroup(&cgroup[..m]).unwrap_or(proto::DEFAULT_TYPE.as_bytes()),
            None => proto::DEFAULT_TYPE.as_bytes(),
        };
        Some(proto::protected_caps(&protect[..n], type_name))
    })();
    BUFFERS.busy.store(false, Ordering::Release);
    if let Some(m) = mask {
        REMEMBERED.store(m, Ordering::Release);
        HAVE_READ.store(true, Ordering::Release);
    }
    mask
}

/// Reads the protect file once, at the process's first reported call: services make their
/// first calls as root, and may have switched to a user who cannot read the runtime
/// directory by the time they drop capabilities wholesale.
pub fn prime() {
    if !HAVE_READ.load(Ordering::Acquire) {
        let _ = read_now();
    }
}

/// The capabilities protected for this process's type: read now, or as read last when the
/// file cannot be read any more; 0 when it was never readable.
pub fn protected_for_self() -> u64 {
    read_now().unwrap_or_else(|| {
        if HAVE_READ.load(Ordering::Acquire) {
            REMEMBERED.load(Ordering::Acquire)
        } else {
            0
        }
    })
}

/// In the child of a `fork`: the thread that may have held the buffers does not exist.
pub fn after_fork_in_child() {
    BUFFERS.busy.store(false, Ordering::Release);
}
