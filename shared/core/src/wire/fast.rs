//! The event decoder of the receive path: reads an event body's MessagePack directly.
//!
//! Through serde, an event cost 1-2 µs to decode: the derived decoder of the internally
//! tagged [`EventKind`] (`#[serde(tag = "kind")]`) buffers the whole `what` map into an
//! intermediate tree before it picks the variant, and every key on the way is checked as
//! UTF-8 and matched as a string. This decoder walks the bytes once, compares keys as
//! bytes, and allocates only the strings the event keeps.
//!
//! It accepts only the shape the encoder writes (named fields, `kind` first in `what`, enums
//! as a string or a one-entry map), skips fields it does not know, as serde does, and
//! *declines* (`None`) anything else: another field order, a duplicate field, a value of an
//! unexpected type, damaged bytes. [`decode`](super::decode) then falls back to serde's
//! derived decoder, so which bodies are accepted, and what they mean, stays serde's. The
//! one rule this decoder must keep: when it accepts a body, it reads the same event serde
//! reads. The names below are the event model's field and variant names on the wire; the
//! constructors name every field, so a field added to the model does not compile until it
//! is read here, and the property test `fast_decoder_agrees_with_serde` compares both
//! decoders on every kind.

use crate::event::{
    AttachResult, CapAction, CapRequest, Domain, Event, EventKind, Process, Subrange, Verdict,
};

/// Nesting deeper than this inside an unknown field is left to serde.
const MAX_SKIP_DEPTH: usize = 32;

/// Decodes the body of an event message (`{v, body: Event}`), or declines.
pub(super) fn event(body: &[u8]) -> Option<Event> {
    let mut r = Reader { buf: body, pos: 0, strings: Fresh };
    let event = r.message()?;
    // Trailing bytes are not what the encoder writes.
    (r.pos == body.len()).then_some(event)
}

/// Decodes the first event of a batch body (events written one after another) and how many
/// bytes it took, or declines. Its strings reuse the allocations in `pool`.
pub(super) fn first_event(body: &[u8], pool: &mut StringPool) -> Option<(Event, usize)> {
    let mut r = Reader { buf: body, pos: 0, strings: pool };
    let event = r.message()?;
    Some((event, r.pos))
}

/// Stores a field's value; a field seen twice is refused (serde refuses it too).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// Strings of events already handled, kept to hold the strings of the next ones: a decoded
/// event then costs no allocation (its type name, process name and ability or path are
/// copied into buffers that are already there). The bus subscriber keeps one, and so does
/// the tracer's kernel converter; [`StringPool::recycle`] takes an event's strings back.
#[derive(Debug, Default)]
pub struct StringPool {
    free: Vec<String>,
}

impl StringPool {
    /// Most strings kept.
    const MAX_STRINGS: usize = 64;
    /// Strings with more room than this are freed, not kept (a rare long path).
    const MAX_CAPACITY: usize = 256;

    /// A string holding `s`, in a kept buffer when there is one.
    #[inline]
    pub fn take(&mut self, s: &str) -> String {
        match self.free.pop() {
            Some(mut out) => {
                out.clear();
                out.push_str(s);
                out
            }
            None => s.to_owned(),
        }
    }

    /// An empty string to write into, a kept buffer when there is one.
    #[inline]
    pub fn buffer(&mut self) -> String {
        self.take("")
    }

    /// Keeps a string's buffer for a later event (or a later [`take`](Self::take)).
    #[inline]
    pub fn keep(&mut self, s: String) {
        if self.free.len() < Self::MAX_STRINGS && s.capacity() <= Self::MAX_CAPACITY && s.capacity() > 0 {
            self.free.push(s);
        }
    }

    /// Takes back the strings of an event that has been handled.
    pub fn recycle(&mut self, event: Event) {
        let Event { process, what, .. } = event;
        self.keep(process.type_name);
        if let Some(name) = process.name {
            self.keep(name);
        }
        match what {
            EventKind::Ability { ability, target_type, .. } => {
                self.keep(ability);
                if let Some(t) = target_type {
                    self.keep(t);
                }
            }
            EventKind::Attach { path, .. } | EventKind::Exec { path } => self.keep(path),
            EventKind::Link { path, target, .. } => {
                self.keep(path);
                if let Some(t) = target {
                    self.keep(t);
                }
            }
            EventKind::Connect { path, channel_type, .. } => {
                self.keep(path);
                self.keep(channel_type);
            }
            EventKind::Signal { target_type, .. } => self.keep(target_type),
            EventKind::Remote { address, .. } => self.keep(address),
            EventKind::CapCall { call, requests, .. } => {
                self.keep(call);
                for r in requests {
                    self.keep(r.ability);
                }
            }
            EventKind::Exit { .. } | EventKind::Unknown => {}
        }
    }
}

/// Where a decoded string's allocation comes from.
trait Strings {
    fn string(&mut self, s: &str) -> String;
}

/// A new allocation for each string.
struct Fresh;

impl Strings for Fresh {
    #[inline]
    fn string(&mut self, s: &str) -> String {
        s.to_owned()
    }
}

impl Strings for &mut StringPool {
    #[inline]
    fn string(&mut self, s: &str) -> String {
        self.take(s)
    }
}

struct Reader<'a, S> {
    buf: &'a [u8],
    pos: usize,
    strings: S,
}

impl<'a, S: Strings> Reader<'a, S> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// A big-endian unsigned number of `n` bytes (1, 2, 4 or 8).
    #[inline]
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    /// A length or count of `n` bytes.
    #[inline]
    fn count(&mut self, n: usize) -> Option<usize> {
        usize::try_from(self.be(n)?).ok()
    }

    /// An integer of any MessagePack width, converted to `T` if it fits (serde refuses
    /// values that do not fit).
    #[inline]
    fn int<T: TryFrom<i128>>(&mut self) -> Option<T> {
        let m = self.byte()?;
        let v: i128 = match m {
            0x00..=0x7f => m.into(),
            0xe0..=0xff => (m as i8).into(),
            0xcc => self.be(1)?.into(),
            0xcd => self.be(2)?.into(),
            0xce => self.be(4)?.into(),
            0xcf => self.be(8)?.into(),
            0xd0 => (self.be(1)? as u8 as i8).into(),
            0xd1 => (self.be(2)? as u16 as i16).into(),
            0xd2 => (self.be(4)? as u32 as i32).into(),
            0xd3 => (self.be(8)? as i64).into(),
            _ => return None,
        };
        T::try_from(v).ok()
    }

    #[inline]
    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    /// The raw bytes of a string (not checked as UTF-8).
    #[inline]
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let m = self.byte()?;
        let len = match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.count(1)?,
            0xda => self.count(2)?,
            0xdb => self.count(4)?,
            _ => return None,
        };
        self.take(len)
    }

    #[inline]
    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.str_bytes()?).ok()
    }

    #[inline]
    fn string(&mut self) -> Option<String> {
        let s = self.str()?;
        Some(self.strings.string(s))
    }

    /// `nil` as `None`, anything else read by `read`.
    #[inline]
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// The length of a map or an array header, whichever `map` says.
    #[inline]
    fn len(&mut self, map: bool) -> Option<usize> {
        let m = self.byte()?;
        Some(match (m, map) {
            (0x80..=0x8f, true) | (0x90..=0x9f, false) => usize::from(m & 0x0f),
            (0xde, true) | (0xdc, false) => self.count(2)?,
            (0xdf, true) | (0xdd, false) => self.count(4)?,
            _ => return None,
        })
    }

    /// A map with string keys: `field` reads the value of each key (and skips the ones it
    /// does not know).
    #[inline]
    fn map(&mut self, field: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        let n = self.len(true)?;
        self.entries(n, field)
    }

    #[inline]
    fn entries(&mut self, n: usize, mut field: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        // Each entry takes at least two bytes, so a huge `n` ends at the end of the buffer.
        for _ in 0..n {
            let key = self.str_bytes()?;
            field(self, key)?;
        }
        Some(())
    }

    /// Skips one value of any type.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_SKIP_DEPTH {
            return None;
        }
        let m = self.byte()?;
        let (items, bytes) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (2 * usize::from(m & 0x0f), 0),
            0x90..=0x9f => (usize::from(m & 0x0f), 0),
            0xa0..=0xbf => (0, usize::from(m & 0x1f)),
            0xc4 | 0xd9 => (0, self.count(1)?),
            0xc5 | 0xda => (0, self.count(2)?),
            0xc6 | 0xdb => (0, self.count(4)?),
            // Extensions: a type byte, then the data.
            0xc7 => (0, self.count(1)?.checked_add(1)?),
            0xc8 => (0, self.count(2)?.checked_add(1)?),
            0xc9 => (0, self.count(4)?.checked_add(1)?),
            0xca => (0, 4),
            0xcb => (0, 8),
            0xcc | 0xd0 => (0, 1),
            0xcd | 0xd1 => (0, 2),
            0xce | 0xd2 => (0, 4),
            0xcf | 0xd3 => (0, 8),
            0xd4 => (0, 2),
            0xd5 => (0, 3),
            0xd6 => (0, 5),
            0xd7 => (0, 9),
            0xd8 => (0, 17),
            0xdc => (self.count(2)?, 0),
            0xdd => (self.count(4)?, 0),
            0xde => (self.count(2)?.checked_mul(2)?, 0),
            0xdf => (self.count(4)?.checked_mul(2)?, 0),
            0xc1 => return None,
        };
        self.take(bytes)?;
        // Each item takes at least a byte, so a huge count ends at the end of the buffer.
        for _ in 0..items {
            self.skip(depth + 1)?;
        }
        Some(())
    }

    /// A unit variant written as its name, or a newtype variant as `{name: value}`; `read`
    /// gets the name and, for the map form, the reader positioned at the value.
    fn variant<T>(&mut self, read: impl FnOnce(&'a [u8], Option<&mut Self>) -> Option<T>) -> Option<T> {
        match self.peek()? {
            0xa0..=0xbf | 0xd9..=0xdb => {
                let name = self.str_bytes()?;
                read(name, None)
            }
            0x81 => {
                self.pos += 1;
                let name = self.str_bytes()?;
                read(name, Some(self))
            }
            _ => None,
        }
    }

    fn verdict(&mut self) -> Option<Verdict> {
        self.variant(|name, value| match (name, value) {
            (b"Allowed", None) => Some(Verdict::Allowed),
            (b"Denied", Some(r)) => Some(Verdict::Denied(r.int()?)),
            _ => None,
        })
    }

    fn attach_result(&mut self) -> Option<AttachResult> {
        self.variant(|name, value| match (name, value) {
            (b"Ok", None) => Some(AttachResult::Ok),
            (b"NoRule", None) => Some(AttachResult::NoRule),
            (b"Conflict", None) => Some(AttachResult::Conflict),
            (b"BadOp", None) => Some(AttachResult::BadOp),
            (b"Errno", Some(r)) => Some(AttachResult::Errno(r.int()?)),
            _ => None,
        })
    }

    fn domain(&mut self) -> Option<Domain> {
        self.variant(|name, value| match (name, value) {
            (b"Root", None) => Some(Domain::Root),
            (b"NonRoot", None) => Some(Domain::NonRoot),
            (b"All", None) => Some(Domain::All),
            _ => None,
        })
    }

    fn cap_action(&mut self) -> Option<CapAction> {
        self.variant(|name, value| match (name, value) {
            (b"Allow", None) => Some(CapAction::Allow),
            (b"Deny", None) => Some(CapAction::Deny),
            (b"Drop", None) => Some(CapAction::Drop),
            (b"Lock", None) => Some(CapAction::Lock),
            (b"Inherit", None) => Some(CapAction::Inherit),
            (b"NoInherit", None) => Some(CapAction::NoInherit),
            _ => None,
        })
    }

    /// An array, each item read by `item`.
    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.len(false)?;
        // The length is untrusted: reserve little, grow as items really come.
        let mut items = Vec::with_capacity(n.min(16));
        for _ in 0..n {
            items.push(item(self)?);
        }
        Some(items)
    }

    fn subrange(&mut self) -> Option<Subrange> {
        let (mut lo, mut hi) = (None, None);
        self.map(|r, key| match key {
            b"lo" => set(&mut lo, r.int()?),
            b"hi" => set(&mut hi, r.int()?),
            _ => r.skip(0),
        })?;
        Some(Subrange { lo: lo?, hi: hi? })
    }

    fn cap_request(&mut self) -> Option<CapRequest> {
        let (mut ability, mut domain, mut actions) = (None, None, None);
        self.map(|r, key| match key {
            b"ability" => set(&mut ability, r.string()?),
            b"domain" => set(&mut domain, r.domain()?),
            b"actions" => set(&mut actions, r.array(Self::cap_action)?),
            _ => r.skip(0),
        })?;
        Some(CapRequest { ability: ability?, domain: domain?, actions: actions? })
    }

    /// A message body, `{v, body: Event}`.
    #[inline]
    fn message(&mut self) -> Option<Event> {
        let (mut v, mut event) = (None, None);
        self.map(|r, key| match key {
            b"v" => set(&mut v, r.int::<u16>()?),
            b"body" => set(&mut event, r.event()?),
            _ => r.skip(0),
        })?;
        event
    }

    fn event(&mut self) -> Option<Event> {
        let (mut instance, mut seq, mut time_ns, mut process, mut what) = (None, None, None, None, None);
        self.map(|r, key| match key {
            b"instance" => set(&mut instance, r.int()?),
            b"seq" => set(&mut seq, r.int()?),
            b"time_ns" => set(&mut time_ns, r.int()?),
            b"process" => set(&mut process, r.process()?),
            b"what" => set(&mut what, r.kind()?),
            _ => r.skip(0),
        })?;
        Some(Event {
            instance: instance.unwrap_or_default(),
            seq: seq.unwrap_or_default(),
            time_ns: time_ns.unwrap_or_default(),
            process: process?,
            what: what?,
        })
    }

    fn process(&mut self) -> Option<Process> {
        let (mut pid, mut name, mut type_name, mut uid, mut euid, mut start_ns) =
            (None, None, None, None, None, None);
        self.map(|r, key| match key {
            b"pid" => set(&mut pid, r.int()?),
            b"name" => set(&mut name, r.opt(Self::string)?),
            b"type" => set(&mut type_name, r.string()?),
            b"uid" => set(&mut uid, r.opt(Self::int)?),
            b"euid" => set(&mut euid, r.opt(Self::int)?),
            b"start_ns" => set(&mut start_ns, r.opt(Self::int)?),
            _ => r.skip(0),
        })?;
        Some(Process {
            pid: pid?,
            name: name.flatten(),
            type_name: type_name?,
            uid: uid.flatten(),
            euid: euid.flatten(),
            start_ns: start_ns.flatten(),
        })
    }

    /// `what`: `kind` first, then the variant's fields.
    fn kind(&mut self) -> Option<EventKind> {
        let n = self.len(true)?;
        if n == 0 || self.str_bytes()? != b"kind" {
            return None;
        }
        let kind = self.str_bytes()?;
        // The rest of the map, without a second `kind`.
        let mut fields = |field: &mut dyn FnMut(&mut Self, &[u8]) -> Option<()>| {
            self.entries(n - 1, |r, key| if key == b"kind" { None } else { field(r, key) })
        };
        Some(match kind {
            b"ability" => {
                let (mut ability, mut range, mut target_type, mut root, mut verdict, mut probe) =
                    (None, None, None, None, None, None);
                fields(&mut |r, key| match key {
                    b"ability" => set(&mut ability, r.string()?),
                    b"range" => set(&mut range, r.opt(Self::subrange)?),
                    b"target_type" => set(&mut target_type, r.opt(Self::string)?),
                    b"root" => set(&mut root, r.bool()?),
                    b"verdict" => set(&mut verdict, r.verdict()?),
                    b"probe" => set(&mut probe, r.bool()?),
                    _ => r.skip(0),
                })?;
                EventKind::Ability {
                    ability: ability?,
                    range: range.flatten(),
                    target_type: target_type.flatten(),
                    root: root?,
                    verdict: verdict?,
                    probe: probe.unwrap_or_default(),
                }
            }
            b"attach" => {
                let (mut path, mut result) = (None, None);
                fields(&mut |r, key| match key {
                    b"path" => set(&mut path, r.string()?),
                    b"result" => set(&mut result, r.attach_result()?),
                    _ => r.skip(0),
                })?;
                EventKind::Attach { path: path?, result: result? }
            }
            b"link" => {
                let (mut path, mut target, mut result) = (None, None, None);
                fields(&mut |r, key| match key {
                    b"path" => set(&mut path, r.string()?),
                    b"target" => set(&mut target, r.opt(Self::string)?),
                    b"result" => set(&mut result, r.attach_result()?),
                    _ => r.skip(0),
                })?;
                EventKind::Link { path: path?, target: target.flatten(), result: result? }
            }
            b"connect" => {
                let (mut path, mut channel_type, mut verdict) = (None, None, None);
                fields(&mut |r, key| match key {
                    b"path" => set(&mut path, r.string()?),
                    b"channel_type" => set(&mut channel_type, r.string()?),
                    b"verdict" => set(&mut verdict, r.verdict()?),
                    _ => r.skip(0),
                })?;
                EventKind::Connect { path: path?, channel_type: channel_type?, verdict: verdict? }
            }
            b"cap_call" => {
                let (mut call, mut requests, mut verdict) = (None, None, None);
                fields(&mut |r, key| match key {
                    b"call" => set(&mut call, r.string()?),
                    b"requests" => set(&mut requests, r.array(Self::cap_request)?),
                    b"verdict" => set(&mut verdict, r.verdict()?),
                    _ => r.skip(0),
                })?;
                EventKind::CapCall { call: call?, requests: requests?, verdict: verdict? }
            }
            b"signal" => {
                let (mut target_pid, mut target_type, mut signal, mut verdict) = (None, None, None, None);
                fields(&mut |r, key| match key {
                    b"target_pid" => set(&mut target_pid, r.int()?),
                    b"target_type" => set(&mut target_type, r.string()?),
                    b"signal" => set(&mut signal, r.int()?),
                    b"verdict" => set(&mut verdict, r.verdict()?),
                    _ => r.skip(0),
                })?;
                EventKind::Signal {
                    target_pid: target_pid?,
                    target_type: target_type?,
                    signal: signal?,
                    verdict: verdict?,
                }
            }
            b"remote" => {
                let (mut address, mut verdict) = (None, None);
                fields(&mut |r, key| match key {
                    b"address" => set(&mut address, r.string()?),
                    b"verdict" => set(&mut verdict, r.verdict()?),
                    _ => r.skip(0),
                })?;
                EventKind::Remote { address: address?, verdict: verdict? }
            }
            b"exec" => {
                let mut path = None;
                fields(&mut |r, key| match key {
                    b"path" => set(&mut path, r.string()?),
                    _ => r.skip(0),
                })?;
                EventKind::Exec { path: path? }
            }
            b"exit" => {
                let mut code = None;
                fields(&mut |r, key| match key {
                    b"code" => set(&mut code, r.int()?),
                    _ => r.skip(0),
                })?;
                EventKind::Exit { code: code? }
            }
            // A kind this build does not know (sent by a newer peer): its fields are skipped.
            _ => {
                fields(&mut |r, _| r.skip(0))?;
                EventKind::Unknown
            }
        })
    }
}
