//! Provenance: who first needed an entry of the store, and when; in a fleet, which hosts
//! needed it, and which one first.

use std::sync::Arc;

/// Who first needed something, and when; in a fleet (docs/fleet.md), on which host, and
/// which hosts needed it since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Process name as QNX prints it (`usr/bin/touch`), or `(unnamed)`. A boxed str, not
    /// a String: with the hosts' word the origin stays 40 bytes, as it was without hosts
    /// (it is in every ability use, path and failure of every type).
    pub process: Box<str>,
    /// Its pid.
    pub pid: u32,
    /// When, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The hosts, in a fleet only: boxed, so an origin of the generator's own bus (every
    /// rule of a single host) costs one word for them, not five.
    /// Read through [`host`](Self::host) and [`hosts`](Self::hosts).
    pub fleet: Option<Box<Hosts>>,
}

/// The hosts of an [`Origin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Hosts {
    /// The host it came from first.
    pub first: Option<Arc<str>>,
    /// Every host that needed it, sorted.
    pub all: Vec<Arc<str>>,
}

impl Origin {
    /// The host it came from (`None`: the generator's own bus or a file without hosts).
    pub fn host(&self) -> Option<&Arc<str>> {
        self.fleet.as_ref()?.first.as_ref()
    }

    /// Every host that needed it, sorted (empty without hosts).
    pub fn hosts(&self) -> &[Arc<str>] {
        self.fleet.as_deref().map_or(&[], |f| &f.all)
    }

    /// Names the host it came from.
    pub fn set_host(&mut self, host: Arc<str>) {
        self.fleet.get_or_insert_default().first = Some(host);
    }

    /// Adds `host` to [`hosts`](Self::hosts); whether it was new.
    pub fn add_host(&mut self, host: Option<&Arc<str>>) -> bool {
        let Some(h) = host else { return false };
        let all = &mut self.fleet.get_or_insert_default().all;
        match all.binary_search(h) {
            Ok(_) => false,
            Err(at) => {
                all.insert(at, h.clone());
                true
            }
        }
    }

    /// Counts the host it came from among [`hosts`](Self::hosts) (nothing without one).
    pub fn count_first_host(&mut self) {
        let first = self.host().cloned();
        self.add_host(first.as_ref());
    }

    /// Whether `host` is among [`hosts`](Self::hosts) (always, without a host).
    pub fn has_host(&self, host: Option<&Arc<str>>) -> bool {
        host.is_none_or(|h| self.hosts().binary_search(h).is_ok())
    }

    /// Becomes `earlier`, an earlier first need of the same entry, keeping every host
    /// counted so far.
    pub(super) fn replace_keeping_hosts(&mut self, earlier: Origin) {
        let hosts = self.fleet.as_mut().map(|f| std::mem::take(&mut f.all)).unwrap_or_default();
        *self = earlier;
        for h in &hosts {
            self.add_host(Some(h));
        }
    }

    /// Takes in what `other` says of the same rule: every host of both, and the earlier
    /// first need. Whether anything changed.
    pub fn absorb(&mut self, other: Origin) -> bool {
        let mut changed = false;
        for h in other.hosts() {
            changed |= self.add_host(Some(h));
        }
        if other.time_ns < self.time_ns {
            self.replace_keeping_hosts(other);
            changed = true;
        }
        changed
    }
}

/// `o` from `host`: an origin without a host gets it (its first and only host so far); one
/// that names its hosts (from a fleet's state file) keeps them.
pub(super) fn stamped(mut o: Origin, host: Option<&Arc<str>>) -> Origin {
    if o.host().is_none() {
        if let Some(h) = host {
            o.set_host(h.clone());
        }
    }
    o.count_first_host();
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_without_hosts_is_as_small_as_before_fleets() {
        // In every ability use, path and failure of every type: the fleet's hosts cost one
        // word, paid for by the boxed process name.
        assert_eq!(std::mem::size_of::<Origin>(), 40);
    }
}
