//! Failures: a refused need counted, with the first failing process and the last time.

use super::origin::Origin;

/// A failure, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// How many times.
    pub count: u64,
    /// First time and process.
    pub first: Origin,
    /// Last time, nanoseconds since the Unix epoch.
    pub last_ns: u64,
}

impl Failure {
    /// Counts `count` more failures from `first_ns` to `last_ns`; `first` (called only if it
    /// is earlier than the first known) names the first failing process.
    pub(super) fn absorb(&mut self, count: u64, first_ns: u64, last_ns: u64, first: impl FnOnce() -> Origin) {
        self.count = self.count.saturating_add(count);
        self.last_ns = self.last_ns.max(last_ns);
        if first_ns < self.first.time_ns {
            self.first.replace_keeping_hosts(first());
        }
    }
}
