//! Sending records to the tracer: non-blocking datagrams on a socket connected to
//! `<runtime-dir>/ingest`.
//!
//! The socket is opened at the first report (most processes never make one) and connected
//! then, so a process that later drops to a user who cannot reach the runtime directory
//! still reports. Its descriptor is remembered with the socket's inode: a program that
//! closes all its descriptors and reuses the number for something else is detected with
//! `fstat` and its file is never written to.
//!
//! No tracer: nothing is sent, kept or counted. Full socket (the tracer is behind): the
//! record waits in a small buffer and goes with the next one, up to
//! [`MAX_BATCH`](crate::proto::MAX_BATCH) records per datagram; beyond that, records are
//! counted in the next record's `dropped` field, so the tracer reports the loss. At
//! `exit` the library gives waiting records at most [`EXIT_WAIT_MS`] to find room.
//!
//! Concurrency without locks: one atomic flag guards the buffer; a thread (or a signal
//! handler) that finds it taken counts its record as dropped instead of waiting, and the
//! child of a `fork` starts with the flag free (`pthread_atfork`).

use core::cell::UnsafeCell;
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::proto::{Record, MAX_BATCH, RECORD_LEN};
use crate::{errno, runtime, set_errno};

/// Longest wait at `exit` for room for records still waiting.
pub const EXIT_WAIT_MS: c_int = 20;

/// `(inode low 32 bits) << 32 | fd`, or [`NO_SOCKET`].
static SOCKET: AtomicU64 = AtomicU64::new(NO_SOCKET);
const NO_SOCKET: u64 = u64::MAX;
/// Records lost since the last one queued.
static DROPPED: AtomicU32 = AtomicU32::new(0);

struct Pending {
    busy: AtomicBool,
    count: UnsafeCell<usize>,
    buf: UnsafeCell<[u8; RECORD_LEN * MAX_BATCH]>,
}

// SAFETY: `count` and `buf` are touched only by the holder of `busy`.
unsafe impl Sync for Pending {}

static PENDING: Pending = Pending {
    busy: AtomicBool::new(false),
    count: UnsafeCell::new(0),
    buf: UnsafeCell::new([0; RECORD_LEN * MAX_BATCH]),
};

fn pack(fd: c_int, ino: u64) -> u64 {
    (ino & 0xffff_ffff) << 32 | u64::from(fd as u32)
}

fn socket_inode(fd: c_int) -> Option<u64> {
    // SAFETY: fstat fills a zeroed stat buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
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
        // No socket file, no tracer: one stat is cheaper than socket + connect + close.
        let mut st: libc::stat = core::mem::zeroed();
        if libc::stat(path.as_ptr() as *const libc::c_char, &mut st) != 0
            || st.st_mode & libc::S_IFMT != libc::S_IFSOCK
        {
            return None;
        }
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
        if fd < 0 {
            return None;
        }
        let mut addr: libc::sockaddr_un = core::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in addr.sun_path.iter_mut().zip(path) {
            *dst = *src as libc::c_char;
        }
        let len = core::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
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

/// What became of an attempt to send the waiting records.
enum Sent {
    /// Gone to the tracer.
    Yes,
    /// The socket is full: keep them.
    Full,
    /// No tracer: drop them.
    NoTracer,
}

/// Sends `data` as one datagram, reconnecting once if the tracer restarted.
fn send_datagram(data: &[u8]) -> Sent {
    for attempt in 0..2 {
        let Some(fd) = current().or_else(open) else { return Sent::NoTracer };
        // SAFETY: sending our buffer on our socket.
        let n = unsafe {
            libc::send(
                fd,
                data.as_ptr() as *const libc::c_void,
                data.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n == data.len() as isize {
            return Sent::Yes;
        }
        match errno() {
            libc::EAGAIN | libc::ENOBUFS | libc::EINTR => return Sent::Full,
            // The tracer restarted (a new socket file) or went away: reconnect once.
            libc::ECONNREFUSED | libc::ENOTCONN | libc::ECONNRESET | libc::EPIPE if attempt == 0 => {
                forget(fd)
            }
            _ => {
                forget(fd);
                return Sent::NoTracer;
            }
        }
    }
    Sent::NoTracer
}

/// With the buffer held: tries to send what waits.
fn flush_held(count: &mut usize, buf: &[u8; RECORD_LEN * MAX_BATCH]) -> Sent {
    if *count == 0 {
        return Sent::Yes;
    }
    let sent = send_datagram(&buf[..*count * RECORD_LEN]);
    if !matches!(sent, Sent::Full) {
        *count = 0;
    }
    sent
}

/// Queues `rec` (with the count of records lost before it) and sends what waits.
/// Never blocks; clobbers errno.
pub fn send(rec: &mut Record) {
    if PENDING.busy.swap(true, Ordering::Acquire) {
        // Another thread, or a signal handler that interrupted us, is sending.
        DROPPED.fetch_add(1, Ordering::AcqRel);
        return;
    }
    // SAFETY: we hold `busy`.
    let (count, buf) = unsafe { (&mut *PENDING.count.get(), &mut *PENDING.buf.get()) };
    if *count == MAX_BATCH && matches!(flush_held(count, buf), Sent::Full) {
        DROPPED.fetch_add(1, Ordering::AcqRel);
    } else {
        rec.dropped = DROPPED.swap(0, Ordering::AcqRel);
        buf[*count * RECORD_LEN..(*count + 1) * RECORD_LEN].copy_from_slice(&rec.encode());
        *count += 1;
        // Full: it waits for the next record. No tracer: nobody to tell, nothing counted.
        let _ = flush_held(count, buf);
    }
    PENDING.busy.store(false, Ordering::Release);
}

/// At `exit`: gives records still waiting a last, short chance.
extern "C" fn flush_at_exit() {
    if PENDING.busy.swap(true, Ordering::Acquire) {
        return;
    }
    // SAFETY: we hold `busy`.
    let (count, buf) = unsafe { (&mut *PENDING.count.get(), &*PENDING.buf.get()) };
    let saved = errno();
    let mut waited = 0;
    while *count > 0 && matches!(flush_held(count, buf), Sent::Full) && waited < EXIT_WAIT_MS {
        let Some(fd) = current() else { break };
        let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 2) };
        waited += 2;
    }
    set_errno(saved);
    PENDING.busy.store(false, Ordering::Release);
}

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = flush_at_exit;

/// In the child of a `fork`: the thread that may have held the buffer does not exist
/// there, and what waits was the parent's to send.
extern "C" fn after_fork_in_child() {
    // SAFETY: the child has one thread; nobody else touches the buffer.
    unsafe { *PENDING.count.get() = 0 };
    DROPPED.store(0, Ordering::Release);
    PENDING.busy.store(false, Ordering::Release);
    crate::protect::after_fork_in_child();
}

/// Registers the fork handler (from the constructor).
pub fn init() {
    // SAFETY: registering a handler that only resets atomics and a counter.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
}
