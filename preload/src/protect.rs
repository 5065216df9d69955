//! Which capabilities `protect` keeps for this process: its type from
//! `/proc/self/cgroup`, looked up in `<runtime-dir>/protect` (format in
//! [`crate::proto`]). Read at each wholesale drop, so a change of the file or of the
//! process's type takes effect at once; that is rare enough to cost nothing.

use core::cell::UnsafeCell;
use core::ffi::c_char;
use core::sync::atomic::{AtomicBool, Ordering};

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

/// The capabilities protected for this process's type now (0 when there is no protect
/// file, or another thread is reading it right now).
pub fn protected_for_self() -> u64 {
    if BUFFERS.busy.swap(true, Ordering::Acquire) {
        return 0;
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
    })()
    .unwrap_or(0);
    BUFFERS.busy.store(false, Ordering::Release);
    mask
}

/// In the child of a `fork`: the thread that may have held the buffers does not exist.
pub fn after_fork_in_child() {
    BUFFERS.busy.store(false, Ordering::Release);
}
