//! The fleet transport (docs/fleet.md): hosts forward their tracer's bus to one collector over
//! `tcp://`, encrypted and authenticated with CurveZMQ.
//!
//! A host's forwarder (`secpoltrace --forward`) is a DEALER socket, the collector
//! (`secpolgenerate --listen`) a ROUTER whose ZAP handler admits only the public keys of its
//! allow-list (one `HOSTNAME.pub` per host) and names the connection after the key's host.
//! Every bus message goes as `[header, topic, body]`: the [`Header`] carries the forwarder's
//! session (new at each start), the message's sequence number in that session, the oldest
//! number the forwarder still holds, and the host name it claims. The collector answers
//! `["ack", session+seq]` once what it applied is saved, and the forwarder forgets what is
//! acknowledged; `["nack", session+seq]` asks it to resend what follows `seq` (after a gap,
//! or a collector restart). So a collector restart loses nothing a host still holds, and what
//! a host had to drop (its buffer full) is counted on both sides.
//!
//! This module holds what both sides share: the key files, the allow-list, the frames.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// ZAP domain of the collector's socket.
pub const ZAP_DOMAIN: &str = "secpol-fleet";
/// Longest host name.
pub const MAX_HOST_NAME: usize = 64;
/// First frame of an acknowledgement.
pub const ACK: &[u8] = b"ack";
/// First frame of a request to resend.
pub const NACK: &[u8] = b"nack";
/// Topic prefix of the collector's fleet bus: `fleet/HOST/ev.ability`.
pub const FLEET_TOPIC_PREFIX: &str = "fleet/";
/// File of the collector's fleet bus in the runtime directory.
pub const FLEET_BUS_FILE: &str = "fleet";
const HEADER_MAGIC: &[u8; 4] = b"SPF1";
const HEADER_FIXED: usize = 4 + 8 + 8 + 8 + 1;
const KEY_LEN: usize = 32;

/// A fleet key, a key file or a frame that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// libzmq was built without CURVE.
    #[error(
        "this build's libzmq has no CURVE (zmq_has(\"curve\") is false): it cannot encrypt or \
         authenticate fleet traffic, so it refuses to; build it with shared/zmq-vendored (libsodium-dev, \
         scripts/setup.sh; .cargo/config.toml)"
    )]
    NoCurve,
    /// A key file could not be read or written.
    #[error("{path}: {why}")]
    KeyFile {
        /// The file (with `:LINE` when a line is at fault).
        path: String,
        /// Why.
        why: String,
    },
    /// A host name that cannot be used.
    #[error("bad host name {name:?}: {why}")]
    HostName {
        /// The name.
        name: String,
        /// Why.
        why: &'static str,
    },
    /// A frame that is not what the protocol sends.
    #[error("bad fleet frame: {0}")]
    Frame(&'static str),
}

/// Refuses to go on without CURVE: fleet traffic is never sent or accepted in the clear.
pub fn require_curve() -> Result<(), FleetError> {
    match zmq::has("curve") {
        Some(true) => Ok(()),
        _ => Err(FleetError::NoCurve),
    }
}

/// A host name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
pub fn check_host_name(name: &str) -> Result<(), FleetError> {
    let bad = |why| Err(FleetError::HostName { name: name.to_string(), why });
    if name.is_empty() || name.len() > MAX_HOST_NAME {
        return bad("must be 1 to 64 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only letters, digits, `.`, `_` and `-` are allowed");
    }
    if name.starts_with(['.', '-']) {
        return bad("must not start with `.` or `-`");
    }
    Ok(())
}

/// A host's (or the collector's) key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// Public key.
    pub public: [u8; KEY_LEN],
    /// Secret key.
    pub secret: [u8; KEY_LEN],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair {{ public: {}, secret: (hidden) }}", z85(&self.public))
    }
}

/// A key in Z85 (40 characters), as key files and logs show it.
pub fn z85(key: &[u8; KEY_LEN]) -> String {
    zmq::z85_encode(key).unwrap_or_default()
}

fn key_error(path: &Path, line: Option<usize>, why: impl Into<String>) -> FleetError {
    let path = match line {
        Some(n) => format!("{}:{n}", path.display()),
        None => path.display().to_string(),
    };
    FleetError::KeyFile { path, why: why.into() }
}

impl KeyPair {
    /// A new random key pair (libsodium's generator).
    pub fn generate() -> Result<KeyPair, FleetError> {
        require_curve()?;
        let pair = zmq::CurveKeyPair::new().map_err(|e| FleetError::KeyFile {
            path: "(new key)".into(),
            why: format!("cannot generate a key pair: {e}"),
        })?;
        Ok(KeyPair { public: pair.public_key, secret: pair.secret_key })
    }

    /// Writes the secret key to `path` (mode 0600, created new: an existing key is never
    /// overwritten) and the public key to `path.pub` (mode 0644).
    pub fn write(&self, path: &Path) -> Result<PathBuf, FleetError> {
        let public_path = public_path(path);
        let secret = format!(
            "# secpol CurveZMQ secret key (secpolctl keygen): keep it private, mode 0600\npublic {}\nsecret {}\n",
            z85(&self.public),
            z85(&self.secret)
        );
        let public =
            format!("# secpol CurveZMQ public key (secpolctl keygen)\npublic {}\n", z85(&self.public));
        write_new(path, secret.as_bytes(), 0o600)?;
        if let Err(e) = write_new(&public_path, public.as_bytes(), 0o644) {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(public_path)
    }

    /// Reads a secret key file; one that others may read (group or world bits) is refused.
    pub fn read(path: &Path) -> Result<KeyPair, FleetError> {
        let meta = std::fs::metadata(path).map_err(|e| key_error(path, None, e.to_string()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(key_error(
                path,
                None,
                format!(
                    "secret key file is readable by others (mode {:o}); refusing it (chmod 600)",
                    meta.mode() & 0o777
                ),
            ));
        }
        let fields = read_key_file(path)?;
        let get = |name: &str| {
            fields.get(name).copied().ok_or_else(|| key_error(path, None, format!("no `{name}` line")))
        };
        Ok(KeyPair { public: get("public")?, secret: get("secret")? })
    }
}

/// `FILE.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut p = secret.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Reads a public key file (`public Z85`); a file with a secret in it is refused.
pub fn read_public(path: &Path) -> Result<[u8; KEY_LEN], FleetError> {
    let fields = read_key_file(path)?;
    if fields.contains_key("secret") {
        return Err(key_error(path, None, "holds a secret key; give the public key (FILE.pub)"));
    }
    fields.get("public").copied().ok_or_else(|| key_error(path, None, "no `public` line"))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FleetError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| key_error(path, None, format!("cannot create: {e}")))?;
    // A loose umask cannot widen the mode: it only takes bits away.
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| key_error(path, None, e.to_string()))
}

/// The `public`/`secret` lines of a key file, decoded.
fn read_key_file(path: &Path) -> Result<HashMap<&'static str, [u8; KEY_LEN]>, FleetError> {
    let text = std::fs::read_to_string(path).map_err(|e| key_error(path, None, e.to_string()))?;
    let mut fields = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |why: String| key_error(path, Some(n + 1), why);
        let (name, value) =
            line.split_once(' ').ok_or_else(|| err(format!("expected `public|secret Z85`, got {line:?}")))?;
        let name = match name {
            "public" => "public",
            "secret" => "secret",
            other => return Err(err(format!("unknown field {other:?}; expected public or secret"))),
        };
        let key = zmq::z85_decode(value.trim())
            .ok()
            .and_then(|k| <[u8; KEY_LEN]>::try_from(k).ok())
            .ok_or_else(|| err(format!("{name} key is not 40 characters of Z85")))?;
        if fields.insert(name, key).is_some() {
            return Err(err(format!("a second `{name}` line")));
        }
    }
    Ok(fields)
}

/// The public keys a collector admits, each with its host's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    by_key: HashMap<[u8; KEY_LEN], Arc<str>>,
}

impl AllowList {
    /// Reads a directory of `HOSTNAME.pub` files (other files are ignored), or one such file.
    /// A bad file, a bad host name or a key given to two hosts is an error naming the file.
    pub fn load(path: &Path) -> Result<AllowList, FleetError> {
        let meta = std::fs::metadata(path).map_err(|e| key_error(path, None, e.to_string()))?;
        let files: Vec<PathBuf> = if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| key_error(path, None, e.to_string()))?;
            let mut v: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pub"))
                .collect();
            v.sort();
            v
        } else {
            vec![path.to_path_buf()]
        };
        let mut list = AllowList::default();
        for f in files {
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            check_host_name(&name).map_err(|e| key_error(&f, None, e.to_string()))?;
            let key = read_public(&f)?;
            if let Some(other) = list.by_key.insert(key, name.clone().into()) {
                return Err(key_error(&f, None, format!("the same key as host {other}")));
            }
        }
        Ok(list)
    }

    /// The host a public key belongs to.
    pub fn host(&self, key: &[u8]) -> Option<&Arc<str>> {
        <[u8; KEY_LEN]>::try_from(key).ok().and_then(|k| self.by_key.get(&k))
    }

    /// Whether a host of that name is admitted.
    pub fn has_host(&self, name: &str) -> bool {
        self.by_key.values().any(|h| &**h == name)
    }

    /// The hosts' names, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = self.by_key.values().cloned().collect();
        v.sort();
        v
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no host is admitted.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// The first frame of every forwarded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The forwarder's session (new at each start).
    pub session: u64,
    /// This message's number in the session (1, 2, ...).
    pub seq: u64,
    /// The oldest number the forwarder still holds: anything before it that the collector
    /// has not applied is lost for good (counted).
    pub oldest: u64,
    /// The host name the forwarder claims (must be its key's).
    pub host: &'a str,
}

impl<'a> Header<'a> {
    /// Encodes into `out` (cleared first).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(HEADER_MAGIC);
        for n in [self.session, self.seq, self.oldest] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.push(self.host.len() as u8);
        out.extend_from_slice(self.host.as_bytes());
    }

    /// Decodes a header frame.
    pub fn decode(b: &'a [u8]) -> Result<Header<'a>, FleetError> {
        if b.len() < HEADER_FIXED || &b[..4] != HEADER_MAGIC {
            return Err(FleetError::Frame("not a fleet header"));
        }
        let n = |i: usize| u64::from_le_bytes(b[4 + 8 * i..12 + 8 * i].try_into().unwrap_or_default());
        let len = usize::from(b[HEADER_FIXED - 1]);
        if b.len() != HEADER_FIXED + len {
            return Err(FleetError::Frame("header length does not match its host name"));
        }
        let host =
            std::str::from_utf8(&b[HEADER_FIXED..]).map_err(|_| FleetError::Frame("host name not UTF-8"))?;
        Ok(Header { session: n(0), seq: n(1), oldest: n(2), host })
    }
}

/// The body of an `ack` or `nack`: session and sequence number.
pub fn encode_ack(session: u64, seq: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&session.to_le_bytes());
    b[8..].copy_from_slice(&seq.to_le_bytes());
    b
}

/// Reads an `ack` or `nack` body.
pub fn decode_ack(b: &[u8]) -> Option<(u64, u64)> {
    let b: &[u8; 16] = b.try_into().ok()?;
    let (s, q) = b.split_at(8);
    Some((u64::from_le_bytes(s.try_into().ok()?), u64::from_le_bytes(q.try_into().ok()?)))
}

/// The fleet bus topic of `topic` from `host`: `fleet/HOST/TOPIC`.
pub fn fleet_topic(host: &str, topic: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(FLEET_TOPIC_PREFIX.as_bytes());
    out.extend_from_slice(host.as_bytes());
    out.push(b'/');
    out.extend_from_slice(topic);
}

/// The subscription prefix for one host's messages on the fleet bus, or every host's.
pub fn fleet_prefix(host: Option<&str>) -> String {
    match host {
        Some(h) => format!("{FLEET_TOPIC_PREFIX}{h}/"),
        None => FLEET_TOPIC_PREFIX.to_string(),
    }
}

/// Splits a fleet bus topic into the host and the bus topic.
pub fn split_fleet_topic(topic: &[u8]) -> Option<(&str, &[u8])> {
    let rest = topic.strip_prefix(FLEET_TOPIC_PREFIX.as_bytes())?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let host = std::str::from_utf8(&rest[..slash]).ok()?;
    Some((host, &rest[slash + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn keys_round_trip_with_safe_modes_and_are_never_overwritten() {
        require_curve().expect("this build links a libzmq with CURVE");
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let k = KeyPair::generate().unwrap();
        let public = k.write(&d.join("web1")).unwrap();
        assert_eq!(public, d.join("web1.pub"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&d.join("web1")), 0o600);
        assert_eq!(mode(&public), 0o644);
        assert_eq!(KeyPair::read(&d.join("web1")).unwrap(), k);
        assert_eq!(read_public(&public).unwrap(), k.public);
        let again = KeyPair::generate().unwrap().write(&d.join("web1")).unwrap_err().to_string();
        assert!(again.contains("cannot create"), "{again}");
        assert_eq!(KeyPair::read(&d.join("web1")).unwrap(), k, "the old key is intact");
        std::fs::set_permissions(d.join("web1"), std::fs::Permissions::from_mode(0o640)).unwrap();
        let loose = KeyPair::read(&d.join("web1")).unwrap_err().to_string();
        assert!(loose.contains("readable by others (mode 640)"), "{loose}");
        let secret_as_public = read_public(&d.join("web1")).unwrap_err().to_string();
        assert!(secret_as_public.contains("holds a secret key"), "{secret_as_public}");

        let list = AllowList::load(d).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list.host(&k.public).map(|h| &**h), Some("web1"));
        std::fs::write(d.join("bad name.pub"), "public x\n").unwrap();
        let e = AllowList::load(d).unwrap_err().to_string();
        assert!(e.contains("bad name.pub") && e.contains("bad host name"), "{e}");
        std::fs::remove_file(d.join("bad name.pub")).unwrap();
        std::fs::write(d.join("web2.pub"), "# c\npublic short\n").unwrap();
        let e = AllowList::load(d).unwrap_err().to_string();
        assert!(e.ends_with("web2.pub:2: public key is not 40 characters of Z85"), "{e}");
        std::fs::copy(&public, d.join("web2.pub")).unwrap();
        let e = AllowList::load(d).unwrap_err().to_string();
        assert!(e.contains("the same key as host web1"), "{e}");
    }

    #[test]
    fn frames_round_trip_and_bad_ones_are_refused() {
        let h = Header { session: 7, seq: 9, oldest: 3, host: "web-1.example" };
        let mut b = Vec::new();
        h.encode_into(&mut b);
        assert_eq!(Header::decode(&b).unwrap(), h);
        assert!(Header::decode(&b[..b.len() - 1]).is_err());
        assert!(Header::decode(b"SPF2xxxxxxxxxxxxxxxxxxxxxxxxxx").is_err());
        assert_eq!(decode_ack(&encode_ack(5, 6)), Some((5, 6)));
        assert_eq!(decode_ack(b"short"), None);
        let mut t = Vec::new();
        fleet_topic("web1", b"ev.ability", &mut t);
        assert_eq!(split_fleet_topic(&t), Some(("web1", &b"ev.ability"[..])));
        assert!(t.starts_with(fleet_prefix(Some("web1")).as_bytes()));
        assert!(!t.starts_with(fleet_prefix(Some("web")).as_bytes()));
        assert_eq!(split_fleet_topic(b"ev.ability"), None);
        for bad in ["", ".x", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_host_name(bad).is_err(), "{bad:?}");
        }
        check_host_name("web-1.example_2").unwrap();
    }
}
