//! Sending a record to the tracer: one non-blocking datagram on a socket connected to
//! `<runtime-dir>/ingest`.
//!
//! The socket is opened at the first report (most processes never make one) and connected
//! then, so a process that later drops to a user who cannot reach the runtime directory
//! still reports. Its descriptor is remembered with the socket's inode: a program that
//! closes all its descriptors and reuses the number for something else is detected with
//! `fstat` and its file is never written to. No tracer: nothing is sent and nothing is
//! counted. Full socket: the report is counted in `dropped` and the next one carries the
//! count, so the tracer reports the loss.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::proto::{Record, RECORD_LEN};
use crate::runtime;

/// `(inode low 32 bits) << 32 | fd`, or [`NO_SOCKET`].
static SOCKET: AtomicU64 = AtomicU64::new(NO_SOCKET);
const NO_SOCKET: u64 = u64::MAX;
/// Reports lost to a full socket since the last one sent.
static DROPPED: AtomicU32 = AtomicU32::new(0);

fn pack(fd: c_int, ino: u64) -> u64 {
    (ino & 0xffff_ffff) << 32 | u64::from(fd as u32)
}

fn socket_inode(fd: c_int) -> Option<u64> {
    // SAFETY: fstat fills a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    Some(st.st_ino)
}

/// Our socket, if it is still ours.
fn current() -> Option<c_int> {
    let packed = SOCKET.load(Ordering::Acquire);
    if packed == NO_SOCKET {
        return None;
    }
    let fd = packed as u32 as c_int;
    if socket_inode(fd).is_some_and(|ino| pack(fd, ino) == packed) {
        return Some(fd);
    }
    // Closed or reused by the program: forget it, never close it.
    let _ = SOCKET.compare_exchange(packed, NO_SOCKET, Ordering::AcqRel, Ordering::Relaxed);
    None
}

/// Opens and connects a new socket; `None` when the tracer is not listening.
fn open() -> Option<c_int> {
    runtime::ensure();
    let path = runtime::INGEST.get()?;
    // SAFETY: plain socket calls on a descriptor we own; the address is built in place.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
        let connected = libc::connect(
            fd,
            &addr as *const libc::sockaddr_un as *const libc::sockaddr,
            len as libc::socklen_t,
        );
        let ino = if connected == 0 { socket_inode(fd) } else { None };
        let Some(ino) = ino else {
            libc::close(fd);
            return None;
        };
        let packed = pack(fd, ino);
        match SOCKET.compare_exchange(NO_SOCKET, packed, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Some(fd),
            Err(_) => {
                // Another thread was quicker; use its socket.
                libc::close(fd);
                current()
            }
        }
    }
}

fn forget(fd: c_int) {
    if let Some(ino) = socket_inode(fd) {
        let packed = pack(fd, ino);
        if SOCKET.compare_exchange(packed, NO_SOCKET, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            // SAFETY: the descriptor is ours (checked just above) and now forgotten.
            unsafe { libc::close(fd) };
        }
    }
}

/// Sends `rec` (adding the count of reports lost before it). Never blocks; clobbers errno.
pub fn send(rec: &mut Record) {
    rec.dropped = DROPPED.swap(0, Ordering::AcqRel);
    let buf = rec.encode();
    for attempt in 0..2 {
        let fd = match current() {
            Some(fd) => fd,
            None => match open() {
                Some(fd) => fd,
                None => break,
            },
        };
        // SAFETY: sending our buffer on our socket.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr() as *const libc::c_void,
                RECORD_LEN,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n == RECORD_LEN as isize {
            return;
        }
        // SAFETY: this thread's errno.
        let e = unsafe { *libc::__errno_location() };
        match e {
            libc::ECONNREFUSED | libc::ENOTCONN | libc::ECONNRESET | libc::EPIPE if attempt == 0 => {
                // The tracer restarted (a new socket file): reconnect once.
                forget(fd);
            }
            libc::ECONNREFUSED | libc::ENOTCONN | libc::ECONNRESET | libc::EPIPE => {
                forget(fd);
                break;
            }
            _ => {
                // Full (EAGAIN, ENOBUFS) or another failure: this report is lost; say so next time.
                DROPPED.fetch_add(1 + rec.dropped, Ordering::AcqRel);
                return;
            }
        }
    }
    // No tracer: keep the earlier count for when one comes.
    DROPPED.fetch_add(rec.dropped, Ordering::AcqRel);
}
