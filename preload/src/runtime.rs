//! Where the runtime directory is: `$SECPOL_RUNTIME_DIR`, else `/run/secpol`, read once
//! in the constructor (no allocation: the paths live in static buffers).

use core::ffi::c_char;
use core::sync::atomic::{AtomicU8, Ordering};

/// Room for a path: the ingest socket must fit `sun_path` (108 bytes) anyway.
const MAX: usize = 108;

/// A NUL-terminated path in a static buffer, written once before it is published.
pub struct Path {
    state: AtomicU8,
    len: core::cell::UnsafeCell<usize>,
    buf: core::cell::UnsafeCell<[u8; MAX]>,
}

// SAFETY: `buf` and `len` are written only by the thread that moves `state` from EMPTY to
// BUSY, and read only after `state` is READY (Release/Acquire).
unsafe impl Sync for Path {}

const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;
const NONE: u8 = 3;

impl Path {
    const fn new() -> Self {
        Path {
            state: AtomicU8::new(EMPTY),
            len: core::cell::UnsafeCell::new(0),
            buf: core::cell::UnsafeCell::new([0; MAX]),
        }
    }

    /// The path without its NUL, once set.
    pub fn get(&self) -> Option<&[u8]> {
        if self.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: READY means the buffer is written and never changes again.
        unsafe { Some(&(&*self.buf.get())[..*self.len.get()]) }
    }

    /// The path with its NUL, for system calls.
    pub fn c_ptr(&self) -> Option<*const c_char> {
        self.get().map(|p| p.as_ptr() as *const c_char)
    }

    fn set(&self, dir: &[u8], file: &[u8]) {
        if self.state.compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return;
        }
        let len = dir.len() + 1 + file.len();
        if len + 1 > MAX {
            self.state.store(NONE, Ordering::Release);
            return;
        }
        // SAFETY: we own the buffer while BUSY.
        unsafe {
            let buf = &mut *self.buf.get();
            buf[..dir.len()].copy_from_slice(dir);
            buf[dir.len()] = b'/';
            buf[dir.len() + 1..len].copy_from_slice(file);
            buf[len] = 0;
            *self.len.get() = len;
        }
        self.state.store(READY, Ordering::Release);
    }
}

/// `<runtime-dir>/ingest`.
pub static INGEST: Path = Path::new();
/// `<runtime-dir>/protect`.
pub static PROTECT: Path = Path::new();

const DEFAULT_DIR: &[u8] = b"/run/secpol";

/// Reads the environment and fills in the paths (first call only).
pub fn init() {
    // SAFETY: getenv with a NUL-terminated name; the result is read at once.
    let dir = unsafe {
        let p = libc::getenv(c"SECPOL_RUNTIME_DIR".as_ptr());
        if p.is_null() {
            DEFAULT_DIR
        } else {
            let s = core::ffi::CStr::from_ptr(p).to_bytes();
            if s.is_empty() {
                DEFAULT_DIR
            } else {
                s
            }
        }
    };
    let dir = match dir {
        [rest @ .., b'/'] if !rest.is_empty() => rest,
        d => d,
    };
    INGEST.set(dir, crate::proto::INGEST_FILE.as_bytes());
    PROTECT.set(dir, crate::proto::PROTECT_FILE.as_bytes());
}

/// The paths, initialising them if the constructor has not run (a `dlopen`ed preload).
pub fn ensure() {
    if INGEST.state.load(Ordering::Acquire) == EMPTY {
        init();
    }
}
