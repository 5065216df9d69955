//! What every event source hands to the publisher.
//!
//! Sources (the kernel, the preload ingest socket, replayed files) run on their own
//! threads and send [`Item`]s into one channel; the publisher thread stamps each event
//! with the instance id and the next sequence number, records it if asked, and publishes
//! it. Sources leave `instance` and `seq` at zero.

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
}

/// Where sources send what they observe.
pub type Sink = crossbeam_channel::Sender<Item>;

/// Events already published, handed back to a source so their strings hold the next ones
/// (the kernel's: no allocation per record for what it knows).
pub type Spares = crossbeam_channel::Receiver<secpol::event::Event>;

/// Most published events waiting to be reused.
pub const SPARES: usize = 64;
