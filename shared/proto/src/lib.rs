//! What `libsecpol-preload.so` tells the tracer, and what it reads itself.
//!
//! The preload library links this crate and nothing else of ours (libzmq has no business
//! inside every process); the tracer reaches it as `secpol::preload_proto`. So it is
//! `no_std`: no allocation, no I/O, nothing that can panic on any input.
//!
//! # The datagram
//!
//! One intercepted call (`capset`, `prctl(PR_CAPBSET_DROP ...)`, ...) is one record of
//! exactly [`RECORD_LEN`] bytes. A datagram on the `AF_UNIX` datagram socket
//! `<runtime-dir>/ingest` holds 1 to [`MAX_BATCH`] records: usually one, more when the
//! socket was full and the preload kept reports back to send them with the next one
//! (a datagram socket queues only `net.unix.max_dgram_qlen` datagrams, 10 by default
//! without systemd, and a loop of `PR_CAPBSET_DROP` makes 40 calls in a few
//! microseconds). [`records`] splits a datagram. Integers are little-endian. Capability sets are 64-bit masks, bit *n* = capability
//! number *n* (`CAP_NET_BIND_SERVICE` = 10).
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `SPCL` |
//! | 4 | 2 | version, [`VERSION`] |
//! | 6 | 2 | [`Call`] |
//! | 8 | 8 | `arg`: the capability (`PR_CAPBSET_DROP`, ambient raise/lower), the flag (`PR_SET_KEEPCAPS`) or the bits (`PR_SET_SECUREBITS`); 0 otherwise |
//! | 16 | 4 | `result`: what the call returned (0 or -1) |
//! | 20 | 4 | `errno` when it returned -1, else 0 |
//! | 24 | 4 | `euid` the process had when it called (used only to say root or non-root) |
//! | 28 | 4 | `securebits` before the call (`PR_GET_SECUREBITS`; bit 4 is keep-caps) |
//! | 32 | 4 | `flags`: [`FLAG_BEFORE`], [`FLAG_REQUESTED`], [`FLAG_AMBIENT`], [`FLAG_LIBCAP`] |
//! | 36 | 4 | `dropped`: reports this process could not send before this one (full socket) |
//! | 40 | 24 | effective, permitted, inheritable sets before the call |
//! | 64 | 8 | ambient set before the call (with [`FLAG_AMBIENT`]) |
//! | 72 | 24 | effective, permitted, inheritable sets the call asked for (`capset`) |
//! | 96 | 8 | `protect_kept`: capabilities the preload kept although the call dropped them |
//!
//! The sender's pid and uid are **not** in the datagram: the tracer takes them from the
//! kernel (`SO_PASSCRED`). Everything else is what the process says about its own call;
//! the tracer checks it ([`Record::decode`]) and never trusts it for anything but that.
//!
//! # The protect file
//!
//! `<runtime-dir>/protect`, written by the generator, read by the preload when a call
//! drops "everything else" (see [`protect_keep`]). One line per type that runs
//! unrestricted; `*` stands for every type without a line of its own; capability
//! *numbers* follow (the preload has no name table); `#` starts a comment.
//!
//! ```text
//! # TYPE CAPABILITY-NUMBER...
//! *      10 23    # net_bind_service sys_nice
//! fs_t            # restricted: nothing protected
//! ```
//!
//! [`ProtectLine`] writes such a line, [`protected_caps`] looks a type up and
//! [`validate_protect`] checks a whole file with line and column.

#![no_std]

#[cfg(test)]
extern crate std;

use core::fmt;

pub mod capset;

/// Size of every record.
pub const RECORD_LEN: usize = 104;
/// Most records in one datagram.
pub const MAX_BATCH: usize = 32;
/// First four bytes of every datagram.
pub const MAGIC: [u8; 4] = *b"SPCL";
/// Version this build writes and reads.
pub const VERSION: u16 = 1;
/// Name of the datagram socket in the runtime directory.
pub const INGEST_FILE: &str = "ingest";
/// Name of the protect file in the runtime directory.
pub const PROTECT_FILE: &str = "protect";
/// Type of a process in no type's cgroup (same as `event::DEFAULT_TYPE`).
pub const DEFAULT_TYPE: &str = "default";

/// `flags`: the sets before the call are known (`capget` worked).
pub const FLAG_BEFORE: u32 = 1;
/// `flags`: the sets the call asked for are known (`capset` data was readable).
pub const FLAG_REQUESTED: u32 = 2;
/// `flags`: the ambient set before the call is known.
pub const FLAG_AMBIENT: u32 = 4;
/// `flags`: the call came through libcap's `cap_set_proc`.
pub const FLAG_LIBCAP: u32 = 8;
const KNOWN_FLAGS: u32 = FLAG_BEFORE | FLAG_REQUESTED | FLAG_AMBIENT | FLAG_LIBCAP;

/// Largest errno a call can report (the kernel's `MAX_ERRNO`).
pub const MAX_ERRNO: i32 = 4095;

/// Securebits (`linux/securebits.h`).
pub mod secbit {
    /// Root gets no capabilities from exec.
    pub const NOROOT: u32 = 1 << 0;
    /// [`NOROOT`] cannot change any more.
    pub const NOROOT_LOCKED: u32 = 1 << 1;
    /// Changing uids does not touch the capability sets.
    pub const NO_SETUID_FIXUP: u32 = 1 << 2;
    /// [`NO_SETUID_FIXUP`] cannot change any more.
    pub const NO_SETUID_FIXUP_LOCKED: u32 = 1 << 3;
    /// Permitted set survives the switch from uid 0 (`PR_SET_KEEPCAPS`).
    pub const KEEP_CAPS: u32 = 1 << 4;
    /// [`KEEP_CAPS`] cannot change any more.
    pub const KEEP_CAPS_LOCKED: u32 = 1 << 5;
    /// Ambient capabilities cannot be raised.
    pub const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    /// [`NO_CAP_AMBIENT_RAISE`] cannot change any more.
    pub const NO_CAP_AMBIENT_RAISE_LOCKED: u32 = 1 << 7;
}

/// The intercepted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `capset(2)` (libcap's `cap_set_proc` with [`FLAG_LIBCAP`]).
    Capset = 1,
    /// `prctl(PR_CAPBSET_DROP, cap)` (also libcap's `cap_drop_bound`).
    CapbsetDrop = 2,
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`.
    AmbientRaise = 3,
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap)`.
    AmbientLower = 4,
    /// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
    AmbientClearAll = 5,
    /// `prctl(PR_SET_KEEPCAPS, flag)`.
    SetKeepcaps = 6,
    /// `prctl(PR_SET_SECUREBITS, bits)`.
    SetSecurebits = 7,
}

impl Call {
    /// All calls, in number order.
    pub const ALL: [Call; 7] = [
        Call::Capset,
        Call::CapbsetDrop,
        Call::AmbientRaise,
        Call::AmbientLower,
        Call::AmbientClearAll,
        Call::SetKeepcaps,
        Call::SetSecurebits,
    ];

    /// The call with wire number `n`.
    pub fn from_u16(n: u16) -> Option<Call> {
        Call::ALL.into_iter().find(|c| *c as u16 == n)
    }

    /// How events name the call (`prctl(PR_CAPBSET_DROP)`).
    pub fn name(self, libcap: bool) -> &'static str {
        match self {
            Call::Capset if libcap => "cap_set_proc",
            Call::Capset => "capset",
            Call::CapbsetDrop => "prctl(PR_CAPBSET_DROP)",
            Call::AmbientRaise => "prctl(PR_CAP_AMBIENT_RAISE)",
            Call::AmbientLower => "prctl(PR_CAP_AMBIENT_LOWER)",
            Call::AmbientClearAll => "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
            Call::SetKeepcaps => "prctl(PR_SET_KEEPCAPS)",
            Call::SetSecurebits => "prctl(PR_SET_SECUREBITS)",
        }
    }

    /// Whether `arg` is a capability number.
    pub fn takes_capability(self) -> bool {
        matches!(self, Call::CapbsetDrop | Call::AmbientRaise | Call::AmbientLower)
    }
}

/// The three capability sets of a thread, as masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Effective.
    pub effective: u64,
    /// Permitted.
    pub permitted: u64,
    /// Inheritable.
    pub inheritable: u64,
}

/// One intercepted call, as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Which call.
    pub call: Call,
    /// Its argument (see the layout).
    pub arg: u64,
    /// What it returned.
    pub result: i32,
    /// Its errno when it failed, else 0.
    pub errno: i32,
    /// Effective uid of the caller at the call.
    pub euid: u32,
    /// Securebits before the call.
    pub securebits: u32,
    /// [`FLAG_BEFORE`] and friends.
    pub flags: u32,
    /// Reports lost before this one.
    pub dropped: u32,
    /// Sets before the call.
    pub before: CapSets,
    /// Ambient set before the call.
    pub ambient_before: u64,
    /// Sets the call asked for (`capset`).
    pub requested: CapSets,
    /// Capabilities kept by `protect`.
    pub protect_kept: u64,
}

/// Why a datagram was refused. Offsets are byte positions in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoError {
    /// Not [`RECORD_LEN`] bytes (a record), or not 1 to [`MAX_BATCH`] of them (a datagram).
    Length(usize),
    /// Bytes 0..4 are not [`MAGIC`].
    Magic([u8; 4]),
    /// Bytes 4..6 name a version this build does not read.
    Version(u16),
    /// Bytes 6..8 name no known call.
    Call(u16),
    /// A field holds an impossible value.
    Field {
        /// Byte offset of the field.
        offset: usize,
        /// Its name.
        name: &'static str,
        /// The value found.
        value: i64,
    },
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::Length(n) => {
                write!(f, "{n} bytes, expected 1 to {MAX_BATCH} records of {RECORD_LEN} bytes")
            }
            ProtoError::Magic(m) => write!(f, "bytes 0..4: bad magic {m:02x?}, expected \"SPCL\""),
            ProtoError::Version(v) => {
                write!(f, "bytes 4..6: version {v} unsupported (this build reads {VERSION})")
            }
            ProtoError::Call(c) => write!(f, "bytes 6..8: unknown call {c}"),
            ProtoError::Field { offset, name, value } => {
                write!(f, "byte {offset}: impossible {name} {value}")
            }
        }
    }
}

impl core::error::Error for ProtoError {}

fn put_u64(buf: &mut [u8; RECORD_LEN], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(buf: &mut [u8; RECORD_LEN], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(buf: &[u8; RECORD_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

fn get_u32(buf: &[u8; RECORD_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

impl Record {
    /// A record for `call` with everything else zero.
    pub const fn new(call: Call) -> Record {
        Record {
            call,
            arg: 0,
            result: 0,
            errno: 0,
            euid: 0,
            securebits: 0,
            flags: 0,
            dropped: 0,
            before: CapSets { effective: 0, permitted: 0, inheritable: 0 },
            ambient_before: 0,
            requested: CapSets { effective: 0, permitted: 0, inheritable: 0 },
            protect_kept: 0,
        }
    }

    /// The datagram.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&(self.call as u16).to_le_bytes());
        put_u64(&mut b, 8, self.arg);
        put_u32(&mut b, 16, self.result as u32);
        put_u32(&mut b, 20, self.errno as u32);
        put_u32(&mut b, 24, self.euid);
        put_u32(&mut b, 28, self.securebits);
        put_u32(&mut b, 32, self.flags);
        put_u32(&mut b, 36, self.dropped);
        put_u64(&mut b, 40, self.before.effective);
        put_u64(&mut b, 48, self.before.permitted);
        put_u64(&mut b, 56, self.before.inheritable);
        put_u64(&mut b, 64, self.ambient_before);
        put_u64(&mut b, 72, self.requested.effective);
        put_u64(&mut b, 80, self.requested.permitted);
        put_u64(&mut b, 88, self.requested.inheritable);
        put_u64(&mut b, 96, self.protect_kept);
        b
    }

    /// Reads and checks a datagram. Never panics.
    pub fn decode(data: &[u8]) -> Result<Record, ProtoError> {
        let b: &[u8; RECORD_LEN] = data.try_into().map_err(|_| ProtoError::Length(data.len()))?;
        let magic = [b[0], b[1], b[2], b[3]];
        if magic != MAGIC {
            return Err(ProtoError::Magic(magic));
        }
        let version = u16::from_le_bytes([b[4], b[5]]);
        if version != VERSION {
            return Err(ProtoError::Version(version));
        }
        let call_no = u16::from_le_bytes([b[6], b[7]]);
        let call = Call::from_u16(call_no).ok_or(ProtoError::Call(call_no))?;
        let r = Record {
            call,
            arg: get_u64(b, 8),
            result: get_u32(b, 16) as i32,
            errno: get_u32(b, 20) as i32,
            euid: get_u32(b, 24),
            securebits: get_u32(b, 28),
            flags: get_u32(b, 32),
            dropped: get_u32(b, 36),
            before: CapSets {
                effective: get_u64(b, 40),
                permitted: get_u64(b, 48),
                inheritable: get_u64(b, 56),
            },
            ambient_before: get_u64(b, 64),
            requested: CapSets {
                effective: get_u64(b, 72),
                permitted: get_u64(b, 80),
                inheritable: get_u64(b, 88),
            },
            protect_kept: get_u64(b, 96),
        };
        let bad = |offset, name, value: i64| Err(ProtoError::Field { offset, name, value });
        if call.takes_capability() && r.arg > 63 {
            return bad(8, "capability", r.arg as i64);
        }
        if call == Call::SetSecurebits && r.arg > 0xff {
            return bad(8, "securebits", r.arg as i64);
        }
        if call == Call::SetKeepcaps && r.arg > 1 {
            // The kernel refuses anything but 0 and 1; the call then failed with EINVAL.
            if r.result == 0 {
                return bad(8, "keepcaps flag of a successful call", r.arg as i64);
            }
        }
        if !(-1..=0).contains(&r.result) {
            return bad(16, "result", i64::from(r.result));
        }
        let errno_ok = if r.result == 0 { r.errno == 0 } else { (1..=MAX_ERRNO).contains(&r.errno) };
        if !errno_ok {
            return bad(20, "errno", i64::from(r.errno));
        }
        if r.securebits > 0xff {
            return bad(28, "securebits", i64::from(r.securebits));
        }
        if r.flags & !KNOWN_FLAGS != 0 {
            return bad(32, "flags", i64::from(r.flags));
        }
        if r.flags & FLAG_LIBCAP != 0 && call != Call::Capset {
            return bad(32, "libcap flag on a prctl call", i64::from(r.flags));
        }
        if r.protect_kept & !r.before.permitted != 0 {
            return bad(96, "protect_kept (not in the permitted set before)", r.protect_kept as i64);
        }
        Ok(r)
    }

    /// Whether the call succeeded.
    pub fn succeeded(&self) -> bool {
        self.result == 0
    }
}

/// The records of a datagram, each checked on its own (an error names the record's
/// first byte in the datagram), or the datagram's length error.
pub fn records(
    datagram: &[u8],
) -> Result<impl Iterator<Item = (usize, Result<Record, ProtoError>)> + '_, ProtoError> {
    let n = datagram.len();
    if n == 0 || n % RECORD_LEN != 0 || n / RECORD_LEN > MAX_BATCH {
        return Err(ProtoError::Length(n));
    }
    Ok(datagram.chunks(RECORD_LEN).enumerate().map(|(i, c)| (i * RECORD_LEN, Record::decode(c))))
}

/// Whether a `capset` that turns `before` (permitted) into `requested` drops capabilities
/// wholesale ("keep these, drop everything else") rather than naming the ones it drops.
///
/// `capset` always passes whole sets, so the difference is read from their shape: a call
/// that removes one capability, or no more capabilities than it keeps, names what it drops
/// (`cap_get_proc`, clear a flag, `cap_set_proc`); a call that removes at least two and
/// more than it keeps was built as "only these" (`cap_clear`, set a few, `cap_set_proc`).
pub fn wholesale_drop(before: u64, requested: u64) -> bool {
    let removed = (before & !requested).count_ones();
    let kept = (before & requested).count_ones();
    removed >= 2 && removed > kept
}

/// The capabilities `protect` keeps in a `capset` that turns `before` into `requested`:
/// the protected ones the call drops wholesale; none when it names what it drops.
pub fn protect_keep(before: u64, requested: u64, protected: u64) -> u64 {
    if wholesale_drop(before, requested) {
        before & !requested & protected
    } else {
        0
    }
}

/// The sets a `capset` passes to the kernel once `keep` is kept: permitted always, and
/// effective when the call makes effective everything it keeps in permitted (the usual
/// `effective = permitted`) or the capability was effective before.
pub fn apply_protect(before: CapSets, requested: CapSets, keep: u64) -> CapSets {
    let mut out = requested;
    out.permitted |= keep;
    let effective_all = requested.permitted & !requested.effective == 0;
    out.effective |= keep & (if effective_all { u64::MAX } else { before.effective });
    out
}

/// The type named by the contents of `/proc/PID/cgroup`: the directory right under
/// `/secpol/` in the cgroup v2 line (`0::/secpol/web_t`), or `None` outside any type.
/// The same rule as `cgroup::type_of_cgroup_path`, without allocation, for the preload.
pub fn type_from_cgroup(contents: &[u8]) -> Option<&[u8]> {
    let line = contents.split(|b| *b == b'\n').find_map(|l| l.strip_prefix(b"0::"))?;
    let path = line.strip_prefix(b"/").unwrap_or(line);
    let rest = path.strip_prefix(b"secpol/")?;
    let name = rest.split(|b| *b == b'/').next()?;
    is_type_name(name).then_some(name)
}

/// `cgroup::validate_type_name` (the policy language's rule) for bytes: 1 to 128
/// letters, digits and `_`, not starting with a digit, not `self`.
fn is_type_name(t: &[u8]) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t[0].is_ascii_digit()
        && !t.eq_ignore_ascii_case(b"self")
        && t.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

fn tokens(line: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let end = line.iter().position(|b| *b == b'#').unwrap_or(line.len());
    let line = &line[..end];
    let mut pos = 0;
    core::iter::from_fn(move || {
        while pos < line.len() && line[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if pos >= line.len() {
            return None;
        }
        let start = pos;
        while pos < line.len() && !line[pos].is_ascii_whitespace() {
            pos += 1;
        }
        Some((start, &line[start..pos]))
    })
}

fn cap_number(tok: &[u8]) -> Option<u32> {
    if tok.is_empty() || tok.len() > 2 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = tok.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    (n < 64).then_some(n)
}

/// The capabilities protected for `type_name` by the protect file `contents`: its own line
/// if it has one, else the `*` line, else none. Malformed tokens are skipped (the preload
/// cannot complain inside someone else's process; [`validate_protect`] is for writers).
pub fn protected_caps(contents: &[u8], type_name: &[u8]) -> u64 {
    let mut star = None;
    for line in contents.split(|b| *b == b'\n') {
        let mut toks = tokens(line);
        let Some((_, first)) = toks.next() else { continue };
        let mask = toks.filter_map(|(_, t)| cap_number(t)).fold(0u64, |m, n| m | 1 << n);
        if first == type_name {
            return mask;
        }
        if first == b"*" && star.is_none() {
            star = Some(mask);
        }
    }
    star.unwrap_or(0)
}

/// A malformed protect file: where and what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectError {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What is wrong.
    pub what: &'static str,
}

impl fmt::Display for ProtectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.what)
    }
}

impl core::error::Error for ProtectError {}

/// Checks a whole protect file.
pub fn validate_protect(contents: &[u8]) -> Result<(), ProtectError> {
    for (i, line) in contents.split(|b| *b == b'\n').enumerate() {
        let err = |col: usize, what| Err(ProtectError { line: i + 1, column: col + 1, what });
        let mut toks = tokens(line);
        let Some((col, first)) = toks.next() else { continue };
        if first != b"*" && !is_type_name(first) {
            return err(col, "expected a type name or `*`");
        }
        for (col, t) in toks {
            if cap_number(t).is_none() {
                return err(col, "expected a capability number 0..63");
            }
        }
    }
    Ok(())
}

/// One line of the protect file: `Display` writes `TYPE N N ...` (no newline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtectLine<'a> {
    /// The type, or `*`.
    pub type_name: &'a str,
    /// Protected capabilities.
    pub caps: u64,
}

impl fmt::Display for ProtectLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name)?;
        for n in 0..64 {
            if self.caps & (1 << n) != 0 {
                write!(f, " {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    fn sample() -> Record {
        Record {
            call: Call::Capset,
            arg: 0,
            result: -1,
            errno: 1,
            euid: 65534,
            securebits: secbit::KEEP_CAPS,
            flags: FLAG_BEFORE | FLAG_REQUESTED | FLAG_LIBCAP,
            dropped: 3,
            before: CapSets { effective: 0, permitted: 0x1ff_ffff_ffff, inheritable: 0 },
            ambient_before: 0,
            requested: CapSets { effective: 1 << 10, permitted: 1 << 10, inheritable: 0 },
            protect_kept: 1 << 23,
        }
    }

    #[test]
    fn records_round_trip_and_pin_the_layout() {
        let r = sample();
        let b = r.encode();
        assert_eq!(&b[0..8], b"SPCL\x01\x00\x01\x00");
        assert_eq!(&b[16..20], &[0xff; 4], "result -1");
        assert_eq!(&b[24..28], &65534u32.to_le_bytes());
        assert_eq!(&b[80..88], &(1u64 << 10).to_le_bytes());
        assert_eq!(Record::decode(&b), Ok(r));
    }

    #[test]
    fn bad_datagrams_name_what_is_wrong() {
        let good = sample().encode();
        assert_eq!(Record::decode(&good[..50]), Err(ProtoError::Length(50)));
        let mut b = good;
        b[0] = b'X';
        assert!(matches!(Record::decode(&b), Err(ProtoError::Magic(_))));
        let mut b = good;
        b[4] = 9;
        assert_eq!(Record::decode(&b), Err(ProtoError::Version(9)));
        let mut b = good;
        b[6] = 99;
        assert_eq!(Record::decode(&b), Err(ProtoError::Call(99)));
        let mut r = sample();
        r.errno = 0;
        let e = Record::decode(&r.encode()).unwrap_err();
        assert_eq!(e.to_string(), "byte 20: impossible errno 0");
        let mut r = sample();
        r.call = Call::CapbsetDrop;
        r.flags = 0;
        r.arg = 64;
        assert!(matches!(Record::decode(&r.encode()), Err(ProtoError::Field { offset: 8, .. })));
        let mut r = sample();
        r.protect_kept = 1 << 63;
        assert!(matches!(Record::decode(&r.encode()), Err(ProtoError::Field { offset: 96, .. })));
    }

    #[test]
    fn datagrams_carry_one_to_max_batch_records() {
        let one = sample().encode();
        let mut three = Vec::new();
        for _ in 0..3 {
            three.extend_from_slice(&one);
        }
        three[RECORD_LEN * 2] = b'X';
        let got: Vec<_> = records(&three).unwrap().collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (0, Ok(sample())));
        assert!(matches!(got[2], (208, Err(ProtoError::Magic(_)))));
        assert_eq!(records(&three[..RECORD_LEN + 1]).err(), Some(ProtoError::Length(RECORD_LEN + 1)));
        assert_eq!(records(&[]).err(), Some(ProtoError::Length(0)));
        assert!(records(&vec![0u8; RECORD_LEN * (MAX_BATCH + 1)]).is_err());
    }

    #[test]
    fn decoding_any_bytes_never_panics() {
        // A cheap deterministic fuzz: every single-byte change of a valid record, and
        // random records from a fixed LCG.
        let good = sample().encode();
        for i in 0..RECORD_LEN {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = good;
                b[i] = v;
                let _ = Record::decode(&b);
            }
        }
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let mut b = [0u8; RECORD_LEN];
            for byte in b.iter_mut() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *byte = (x >> 56) as u8;
            }
            b[..4].copy_from_slice(&MAGIC);
            b[4..6].copy_from_slice(&VERSION.to_le_bytes());
            let _ = Record::decode(&b);
        }
    }

    #[test]
    fn wholesale_drops_are_told_from_named_ones() {
        let all = (1u64 << 41) - 1;
        // keep two, drop 39: "everything else"
        assert!(wholesale_drop(all, 1 << 10 | 1 << 23));
        // drop everything
        assert!(wholesale_drop(all, 0));
        // drop one named capability
        assert!(!wholesale_drop(all, all & !(1 << 13)));
        // a process with two capabilities dropping one names it
        assert!(!wholesale_drop(1 << 10 | 1 << 13, 1 << 10));
        // drop two of four: no more than it keeps, so named
        assert!(!wholesale_drop(0b1111, 0b0011));
        assert_eq!(protect_keep(all, 1 << 10, 1 << 23 | 1 << 10), 1 << 23);
        assert_eq!(protect_keep(all, all & !(1 << 23), 1 << 23), 0);
    }

    #[test]
    fn protect_keeps_effective_like_the_call_does() {
        let before = CapSets { effective: 0, permitted: 0xff, inheritable: 0 };
        let same = CapSets { effective: 1, permitted: 1, inheritable: 0 };
        let out = apply_protect(before, same, 1 << 5);
        assert_eq!((out.permitted, out.effective), (1 | 1 << 5, 1 | 1 << 5));
        let lowered = CapSets { effective: 0, permitted: 1, inheritable: 0 };
        let out = apply_protect(before, lowered, 1 << 5);
        assert_eq!((out.permitted, out.effective), (1 | 1 << 5, 0));
    }

    #[test]
    fn types_come_from_the_cgroup_v2_line() {
        let hybrid = b"12:cpuset:/\n1:name=systemd:/user.slice\n0::/secpol/web_t\n";
        assert_eq!(type_from_cgroup(hybrid), Some(&b"web_t"[..]));
        assert_eq!(type_from_cgroup(b"0::/secpol/web_t/worker\n"), Some(&b"web_t"[..]));
        assert_eq!(type_from_cgroup(b"0::/system.slice/secpol/db_t\n"), None);
        assert_eq!(type_from_cgroup(b"0::/secpol/..\n"), None);
        assert_eq!(type_from_cgroup(b"0::/user.slice/session-1.scope\n"), None);
        assert_eq!(type_from_cgroup(b"0::/secpol\n"), None);
        assert_eq!(type_from_cgroup(b"0::/secpol/a b\n"), None);
        assert_eq!(type_from_cgroup(b""), None);
    }

    #[test]
    fn protect_file_lookup_and_validation() {
        let file = b"# protected\n* 10 23 # net_bind_service sys_nice\nfs_t\nweb_t 12\n";
        assert_eq!(protected_caps(file, b"web_t"), 1 << 12);
        assert_eq!(protected_caps(file, b"fs_t"), 0);
        assert_eq!(protected_caps(file, b"default"), 1 << 10 | 1 << 23);
        assert_eq!(protected_caps(b"web_t 12\n", b"db_t"), 0);
        assert_eq!(validate_protect(file), Ok(()));
        let e = validate_protect(b"* 10\nweb_t 10 net_raw\n").unwrap_err();
        assert_eq!(e.to_string(), "2:10: expected a capability number 0..63");
        assert_eq!(validate_protect(b"  w/t 1").unwrap_err().column, 3);
        let line = ProtectLine { type_name: "*", caps: 1 << 10 | 1 << 23 };
        assert_eq!(line.to_string(), "* 10 23");
        assert_eq!(protected_caps(line.to_string().as_bytes(), b"x_t"), 1 << 10 | 1 << 23);
    }
}
