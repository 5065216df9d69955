//! `--listen`: the fleet collector (docs/fleet.md). Hosts' forwarders connect over `tcp://`
//! with CurveZMQ; the ZAP handler admits only the keys of the allow-list (`--allow-keys DIR`,
//! one `HOSTNAME.pub` per host, read again at every connection, so removing a file revokes the
//! host) and names each connection after its key's host. A refused key is counted and never
//! learned from; so is a message whose claimed host is not its key's, or whose host was revoked
//! since it connected.
//!
//! Each host's messages are applied in order of the forwarder's sequence numbers: a duplicate
//! (sent again after a reconnect) is dropped, a gap is not applied but asked for again
//! (`nack`); what the forwarder says it no longer holds is counted as lost. What was applied is
//! acknowledged once the state file holds it (at once without one), so a collector that stops,
//! or crashes, is sent again whatever it had not saved. Events go on to the learner tagged with
//! the host, and out on the fleet bus (`ipc://RUNDIR/fleet`, topics `fleet/HOST/ev.KIND`) for
//! monitors.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secpol::bus::{self, SeqTracker};
use secpol::control::{FleetHost, FleetStatus, Status};
use secpol::endpoint::RuntimeDir;
use secpol::event::Event;
use secpol::fleet::{self, AllowList, Header, KeyPair};
use secpol::wire::{self, Message};

/// What the collector feeds with what the hosts send: the service's generator. A trait, so
/// the collector knows nothing of the service that runs it.
pub trait FleetSink {
    /// Applies an event from `host`, recorded with the host in its provenance.
    fn apply_from_host(&mut self, host: Arc<str>, e: &Event);
    /// Counts a message that could not be decoded.
    fn count_garbage(&mut self);
}

/// How the collector listens.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// `tcp://ADDR:PORT`.
    pub listen: String,
    /// The collector's secret key file.
    pub secret: PathBuf,
    /// Directory of `HOSTNAME.pub` files (or one such file).
    pub allow_keys: PathBuf,
}

/// A host not heard from for this long is shown as not connected.
const CONNECTED_FOR: Duration = Duration::from_secs(5);
/// Fewest milliseconds between two requests to resend to one host.
const NACK_INTERVAL: Duration = Duration::from_millis(500);
/// How often the allow-list is read again for hosts already connected (revocation).
const ALLOW_RELOAD: Duration = Duration::from_secs(2);

/// What the ZAP thread and the collector share.
#[derive(Default)]
struct Admission {
    allow: AllowList,
    refused: BTreeMap<String, u64>,
}

impl Admission {
    fn refuse(&mut self, why: String) {
        let n = self.refused.entry(why.clone()).or_default();
        *n += 1;
        if *n == 1 || n.is_power_of_two() {
            log::warn!("fleet: refused {why} ({n} times)");
        }
    }
}

#[derive(Default)]
struct HostState {
    name: Arc<str>,
    routing_id: Vec<u8>,
    session: u64,
    applied: u64,
    acked: u64,
    seq: SeqTracker,
    lost: u64,
    events: u64,
    duplicates: u64,
    connections: u64,
    sessions: u64,
    last_seen: Option<Instant>,
    last_nack: Option<Instant>,
}

/// What to do with a host's message, by its forwarder's session and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The one due: apply it.
    Apply,
    /// Applied before (the forwarder resent it): drop it.
    Duplicate,
    /// One after a gap: drop it and ask for the gap again.
    Gap,
}

impl HostState {
    /// Where message `seq` of forwarder session `session` stands, `oldest` being the oldest
    /// the forwarder still holds; counts sessions, duplicates and what a forwarder dropped.
    fn sequence(&mut self, session: u64, seq: u64, oldest: u64) -> Step {
        if self.session != session {
            self.session = session;
            self.sessions += 1;
            self.applied = 0;
            self.acked = 0;
        }
        // The next message due: after what was applied, or the oldest the forwarder holds
        // when it no longer holds that (what lies between is gone: counted).
        let expected = (self.applied + 1).max(oldest);
        if seq < expected {
            self.duplicates += 1;
            // Acknowledge again: the forwarder resent it because an acknowledgement was lost.
            self.acked = self.acked.min(self.applied.saturating_sub(1));
            return Step::Duplicate;
        }
        if seq > expected {
            return Step::Gap;
        }
        if self.applied > 0 && expected > self.applied + 1 {
            self.lost += expected - self.applied - 1;
        }
        self.applied = seq;
        Step::Apply
    }

    /// The acknowledgement due once what was applied is saved (the last applied number),
    /// if any.
    fn ack_due(&self) -> Option<u64> {
        (self.applied > self.acked).then_some(self.applied)
    }
}

/// The collector's sockets and per-host state.
pub struct Collector {
    router: zmq::Socket,
    fleet_bus: zmq::Socket,
    admission: Arc<Mutex<Admission>>,
    allow_keys: PathBuf,
    allow_loaded: Instant,
    listen: String,
    hosts: HashMap<Arc<str>, HostState>,
    zap: Option<std::thread::JoinHandle<()>>,
    zap_stop: Arc<AtomicBool>,
    topic: Vec<u8>,
}

impl Collector {
    /// Starts the ZAP handler, binds the collector socket and the fleet bus. Fails closed:
    /// without CURVE, a readable secret, a good allow-list, nothing listens.
    pub fn start(ctx: &zmq::Context, s: &FleetSettings, dir: &RuntimeDir) -> anyhow::Result<Collector> {
        fleet::require_curve()?;
        if !s.listen.starts_with("tcp://") {
            anyhow::bail!("--listen {}: expected tcp://ADDR:PORT", s.listen);
        }
        let keys = KeyPair::read(&s.secret).context("--curve-secret")?;
        let allow = AllowList::load(&s.allow_keys).context("--allow-keys")?;
        if allow.is_empty() {
            log::warn!(
                "--allow-keys {}: no HOSTNAME.pub files; every host is refused",
                s.allow_keys.display()
            );
        }
        let admission = Arc::new(Mutex::new(Admission { allow, refused: BTreeMap::new() }));
        // The ZAP handler must be bound before the socket it authenticates.
        let zap_sock = ctx.socket(zmq::REP).context("cannot create the ZAP socket")?;
        zap_sock.bind("inproc://zeromq.zap.01").context("cannot bind the ZAP handler")?;
        let zap_stop = Arc::new(AtomicBool::new(false));
        let zap = {
            let (admission, stop, dir) = (admission.clone(), zap_stop.clone(), s.allow_keys.clone());
            std::thread::Builder::new()
                .name("fleet-zap".into())
                .spawn(move || zap_loop(zap_sock, &admission, &dir, &stop))
                .context("cannot start the ZAP thread")?
        };
        let router = ctx.socket(zmq::ROUTER).context("cannot create the collector socket")?;
        let setup = || -> Result<(), zmq::Error> {
            router.set_curve_server(true)?;
            router.set_curve_secretkey(&keys.secret)?;
            router.set_zap_domain(fleet::ZAP_DOMAIN)?;
            router.set_rcvhwm(200_000)?;
            router.set_linger(0)?;
            router.set_heartbeat_ivl(1000)?;
            router.set_heartbeat_timeout(5000)?;
            // A message bigger than a bus message plus its header is no forwarder's.
            router.set_maxmsgsize((wire::MAX_BODY + 4096) as i64)?;
            router.bind(&s.listen)
        };
        setup().with_context(|| format!("cannot listen on {}", s.listen))?;
        let fleet_bus = ctx.socket(zmq::PUB).context("cannot create the fleet bus")?;
        fleet_bus.set_sndhwm(200_000).context("fleet bus")?;
        bus::bind_ipc(&fleet_bus, dir, &dir.path().join(fleet::FLEET_BUS_FILE))?;
        log::info!("fleet: collecting on {} (public key {})", s.listen, fleet::z85(&keys.public));
        Ok(Collector {
            router,
            fleet_bus,
            admission,
            allow_keys: s.allow_keys.clone(),
            allow_loaded: Instant::now(),
            listen: s.listen.clone(),
            hosts: HashMap::new(),
            zap: Some(zap),
            zap_stop,
            topic: Vec::new(),
        })
    }

    /// The socket to poll beside the local bus.
    pub fn poll_item(&self) -> zmq::PollItem<'_> {
        self.router.as_poll_item(zmq::POLLIN)
    }

    /// Applies up to `max` queued messages from the hosts; how many it took.
    pub fn drain(&mut self, g: &mut impl FleetSink, max: usize) -> usize {
        self.reload_allow_list();
        let mut n = 0;
        while n < max {
            match self.recv() {
                Ok(Some((user, frames))) => self.message(g, user, frames),
                Ok(None) => break,
                Err(e) => {
                    log::warn!("fleet: receive failed: {e}");
                    break;
                }
            }
            n += 1;
        }
        n
    }

    /// The next message's ZAP user id (its key's host) and frames, if one is queued.
    fn recv(&self) -> Result<Option<(String, Vec<zmq::Message>)>, zmq::Error> {
        let mut first = zmq::Message::new();
        match self.router.recv(&mut first, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut more = first.get_more();
        let mut frames = vec![first];
        while more {
            let mut part = zmq::Message::new();
            self.router.recv(&mut part, 0)?;
            more = part.get_more();
            frames.push(part);
        }
        // The routing id frame is the ROUTER's own, without the connection's properties: the
        // user id is read from a frame the peer sent.
        let user = frames.last_mut().and_then(|m| m.gets("User-Id")).unwrap_or_default().to_string();
        Ok(Some((user, frames)))
    }

    fn reload_allow_list(&mut self) {
        if self.allow_loaded.elapsed() < ALLOW_RELOAD {
            return;
        }
        self.allow_loaded = Instant::now();
        match AllowList::load(&self.allow_keys) {
            Ok(a) => self.lock().allow = a,
            Err(e) => log::warn!("fleet: keeping the previous allow-list: {e}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Admission> {
        self.admission.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One message `[routing id, header, topic, body]` from a connection whose key the ZAP
    /// handler admitted as host `user`.
    fn message(&mut self, g: &mut impl FleetSink, user: String, frames: Vec<zmq::Message>) {
        let [id, header, topic, body] = match <[zmq::Message; 4]>::try_from(frames) {
            Ok(f) => f,
            Err(f) => {
                self.lock().refuse(format!("message of {} frames (not a forwarder)", f.len()));
                return;
            }
        };
        let header = match Header::decode(&header) {
            Ok(h) => h,
            Err(e) => {
                self.lock().refuse(format!("{e}"));
                return;
            }
        };
        let Some(host) = self.authenticated_host(&user, header.host) else { return };
        let now = Instant::now();
        let st = self
            .hosts
            .entry(host.clone())
            .or_insert_with(|| HostState { name: host.clone(), ..Default::default() });
        st.last_seen = Some(now);
        if st.routing_id[..] != id[..] {
            st.connections += 1;
            st.routing_id = id.to_vec();
        }
        match st.sequence(header.session, header.seq, header.oldest) {
            Step::Apply => {}
            Step::Duplicate => return,
            Step::Gap => {
                if st.last_nack.is_none_or(|t| t.elapsed() >= NACK_INTERVAL) {
                    st.last_nack = Some(now);
                    let _ = self.router.send_multipart(
                        [st.routing_id.as_slice(), fleet::NACK, &fleet::encode_ack(st.session, st.applied)],
                        zmq::DONTWAIT,
                    );
                }
                return;
            }
        }
        match wire::decode_parts(&topic, &body) {
            Ok(m) => {
                match &m {
                    Message::Event(e) => {
                        st.seq.event(e.instance, e.seq);
                        st.events += 1;
                        g.apply_from_host(host.clone(), e);
                    }
                    Message::Heartbeat(h) => {
                        st.seq.heartbeat(h.instance, h.last_seq);
                    }
                    Message::Loss(l) => st.lost += l.count,
                    Message::Faults(_) => {}
                }
                fleet::fleet_topic(&host, &topic, &mut self.topic);
                let _ = self.fleet_bus.send_multipart([self.topic.as_slice(), &body], zmq::DONTWAIT);
            }
            Err(e) => {
                g.count_garbage();
                log::warn!("fleet: skipping a bad message from {host}: {e}");
            }
        }
    }

    /// The host a connection was admitted as, if the allow-list still has it and the
    /// message claims it.
    fn authenticated_host(&mut self, user: &str, claimed: &str) -> Option<Arc<str>> {
        let mut adm = self.lock();
        if !adm.allow.has_host(user) {
            adm.refuse(format!("host {user}: its key was revoked (no longer in the allow-list)"));
            return None;
        }
        if user != claimed {
            adm.refuse(format!("host {claimed:?} connected with the key of {user}"));
            return None;
        }
        drop(adm);
        Some(match self.hosts.get_key_value(user) {
            Some((k, _)) => k.clone(),
            None => user.into(),
        })
    }

    /// Acknowledges to every host what was applied from it, when it is saved.
    pub fn acknowledge(&mut self, saved: bool) {
        if !saved {
            return;
        }
        for st in self.hosts.values_mut() {
            if let Some(applied) = st.ack_due() {
                let ack = fleet::encode_ack(st.session, applied);
                if self
                    .router
                    .send_multipart([st.routing_id.as_slice(), fleet::ACK, &ack], zmq::DONTWAIT)
                    .is_ok()
                {
                    st.acked = applied;
                }
            }
        }
    }

    /// Adds the fleet to a status answer.
    pub fn fill_status(&self, s: &mut Status) {
        let adm = self.lock();
        let mut names: Vec<Arc<str>> = adm.allow.names();
        names.extend(self.hosts.keys().filter(|h| !adm.allow.has_host(h)).cloned());
        names.sort();
        let hosts: Vec<FleetHost> = names
            .iter()
            .map(|name| match self.hosts.get(name) {
                Some(st) => FleetHost {
                    host: st.name.to_string(),
                    connected: st.last_seen.is_some_and(|t| t.elapsed() < CONNECTED_FOR),
                    last_seen_s: st.last_seen.map(|t| t.elapsed().as_secs()),
                    events: st.events,
                    lost: st.lost + st.seq.lost(),
                    duplicates: st.duplicates,
                    reconnects: st.connections.saturating_sub(1),
                    sessions: st.sessions,
                },
                None => FleetHost { host: name.to_string(), ..Default::default() },
            })
            .collect();
        s.events_lost += hosts.iter().map(|h| h.lost).sum::<u64>();
        s.fleet =
            Some(Box::new(FleetStatus { listen: self.listen.clone(), hosts, refused: adm.refused.clone() }));
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.zap_stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.zap.take() {
            let _ = h.join();
        }
    }
}

/// Answers ZAP requests (RFC 27) until `stop`: CURVE clients whose key is in the allow-list
/// (read again for each, so a removed key is refused at once) are admitted with their host's
/// name as user id; every other request is refused and counted.
fn zap_loop(sock: zmq::Socket, admission: &Mutex<Admission>, dir: &std::path::Path, stop: &AtomicBool) {
    let _ = sock.set_linger(0);
    while !stop.load(Ordering::Relaxed) {
        match sock.poll(zmq::POLLIN, 200) {
            Ok(0) | Err(zmq::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                log::error!("fleet: ZAP handler: {e}");
                return;
            }
        }
        let Ok(req) = sock.recv_multipart(0) else { continue };
        let mut adm = admission.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(a) = AllowList::load(dir) {
            adm.allow = a;
        }
        let (status, text, user, reply_id) = match req.as_slice() {
            [version, id, _domain, address, _identity, mechanism, key, ..]
                if version.as_slice() == b"1.0" && mechanism.as_slice() == b"CURVE" =>
            {
                let address = String::from_utf8_lossy(address).into_owned();
                match adm.allow.host(key).cloned() {
                    Some(host) => {
                        log::info!("fleet: admitted {host} from {address}");
                        ("200", "OK", host.to_string(), id.clone())
                    }
                    None => {
                        let key =
                            <[u8; 32]>::try_from(key.as_slice()).map(|k| fleet::z85(&k)).unwrap_or_default();
                        adm.refuse(format!("key {key} from {address}: not in the allow-list"));
                        ("400", "key not allowed", String::new(), id.clone())
                    }
                }
            }
            [_, id, ..] => {
                adm.refuse("a connection without CURVE".to_string());
                ("400", "CURVE required", String::new(), id.clone())
            }
            _ => continue,
        };
        drop(adm);
        let reply: [&[u8]; 6] = [b"1.0", &reply_id, status.as_bytes(), text.as_bytes(), user.as_bytes(), b""];
        if let Err(e) = sock.send_multipart(reply, 0) {
            log::warn!("fleet: ZAP reply failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostState {
        HostState { name: "web1".into(), ..Default::default() }
    }

    #[test]
    fn messages_in_order_are_applied_and_acknowledged_once() {
        let mut h = host();
        assert_eq!(h.ack_due(), None);
        for seq in 1..=3 {
            assert_eq!(h.sequence(7, seq, 1), Step::Apply);
        }
        assert_eq!((h.applied, h.sessions, h.lost, h.duplicates), (3, 1, 0, 0));
        assert_eq!(h.ack_due(), Some(3));
        h.acked = 3;
        assert_eq!(h.ack_due(), None, "nothing new to acknowledge");
    }

    #[test]
    fn a_resent_message_is_a_duplicate_and_asks_for_the_acknowledgement_again() {
        let mut h = host();
        for seq in 1..=3 {
            h.sequence(7, seq, 1);
        }
        h.acked = 3;
        // The acknowledgement of 3 was lost: the forwarder sends 3 again.
        assert_eq!(h.sequence(7, 3, 1), Step::Duplicate);
        assert_eq!(h.duplicates, 1);
        assert_eq!(h.applied, 3, "not applied twice");
        assert_eq!(h.ack_due(), Some(3), "acknowledged again");
    }

    #[test]
    fn a_gap_is_not_applied_until_the_missing_message_comes() {
        let mut h = host();
        h.sequence(7, 1, 1);
        assert_eq!(h.sequence(7, 3, 1), Step::Gap);
        assert_eq!(h.applied, 1);
        assert_eq!(h.sequence(7, 2, 1), Step::Apply);
        assert_eq!(h.sequence(7, 3, 1), Step::Apply);
        assert_eq!((h.applied, h.lost), (3, 0));
    }

    #[test]
    fn what_the_forwarder_no_longer_holds_is_counted_lost() {
        let mut h = host();
        h.sequence(7, 1, 1);
        h.sequence(7, 2, 1);
        // Its buffer overflowed: it holds 6 and later only.
        assert_eq!(h.sequence(7, 6, 6), Step::Apply);
        assert_eq!((h.applied, h.lost), (6, 3));
    }

    #[test]
    fn a_new_forwarder_session_starts_again_from_its_first_message() {
        let mut h = host();
        for seq in 1..=5 {
            h.sequence(7, seq, 1);
        }
        h.acked = 5;
        // The host's tracer restarted: a new session numbers from 1 again.
        assert_eq!(h.sequence(8, 1, 1), Step::Apply);
        assert_eq!((h.session, h.sessions, h.applied, h.lost, h.duplicates), (8, 2, 1, 0, 0));
        assert_eq!(h.ack_due(), Some(1));
    }
}
