//! What every event source hands to the publisher.
//!
//! Sources (the kernel, the preload ingest socket, replayed files) run on their own
//! threads and send [`Item`]s into one channel; the publisher thread stamps each event
//! with the instance id and the next sequence number, records it if asked, and publishes
//! it. Sources leave `instance` and `seq` at zero.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use secpol::Event;

/// One thing a source observed.
#[derive(Debug)]
pub enum Item {
    /// An event to publish.
    Event(Event),
    /// Events the source knows it lost (a full ring buffer).
    Loss {
        /// How many.
        count: u64,
        /// Where (`kernel ring buffer`).
        source: &'static str,
    },
    /// Nothing to publish: ends the publisher's wait (a signal came).
    Wake,
}

/// Where sources send what they observe.
pub type Sink = crossbeam_channel::Sender<Item>;

/// Events already published, handed back to a source so their strings hold the next ones
/// (the kernel's: no allocation per record for what it knows).
pub type Spares = crossbeam_channel::Receiver<secpol::event::Event>;

/// Most published events waiting to be reused.
pub const SPARES: usize = 64;

/// Ends the waits of the sources' threads at once: set `shutdown`, then [`wake`](Self::wake),
/// and every thread that polls [`pollfd`](Self::pollfd) looks at `shutdown` without waiting
/// out its interval. An eventfd: once woken it stays readable, for every thread.
#[derive(Debug)]
pub struct Waker(OwnedFd);

impl Waker {
    /// A new eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd has no preconditions; the fd is owned from here on.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new fd that nothing else owns.
        Ok(Waker(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Wakes every waiting thread, for good (`shutdown` must be set first).
    pub fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to the eventfd this struct owns. A full
        // counter (EAGAIN) means a wakeup is pending already.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    /// What a thread adds to its `poll` to be woken.
    pub fn pollfd(&self) -> libc::pollfd {
        libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLIN, revents: 0 }
    }
}
