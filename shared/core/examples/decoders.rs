//! Event decoders side by side (not a test): the direct decoder of `wire/fast.rs` against
//! serde's derived decoder into the owned model, and serde's derived decoder into a mirror of
//! the model that borrows every string from the body (`&str` with `#[serde(borrow)]`, no
//! owned `String`). Docs: docs/architecture.md ("One decoder?"). Run with
//! `cargo run --release -p secpol-core --example decoders [EVENTS] [ROUNDS]`.
//!
//! The rounds alternate the three decoders over the same encoded bodies; the table gives each
//! one's median time per event and its ratio to the direct decoder.

use std::hint::black_box;
use std::time::Instant;

use secpol_core::event::{AttachResult, Event, EventKind, Process, Subrange, Verdict};
use secpol_core::wire::{self, Message};

/// The event model with borrowed strings: the same names and tagging on the wire.
mod borrowed {
    use secpol_core::event::{AttachResult, Subrange, Verdict};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct InBody<'a> {
        #[serde(default)]
        #[allow(dead_code)]
        pub v: u16,
        #[serde(borrow)]
        pub body: Event<'a>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Event<'a> {
        #[serde(default)]
        pub instance: u64,
        #[serde(default)]
        pub seq: u64,
        #[serde(default)]
        pub time_ns: u64,
        #[serde(borrow)]
        pub process: Process<'a>,
        #[serde(borrow)]
        pub what: EventKind<'a>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    pub struct Process<'a> {
        pub pid: u32,
        #[serde(default, borrow)]
        pub name: Option<&'a str>,
        #[serde(rename = "type")]
        pub type_name: &'a str,
        #[serde(default)]
        pub uid: Option<u32>,
        #[serde(default)]
        pub euid: Option<u32>,
        #[serde(default)]
        pub start_ns: Option<u64>,
    }

    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    #[allow(dead_code)]
    pub enum EventKind<'a> {
        Ability {
            ability: &'a str,
            #[serde(default)]
            range: Option<Subrange>,
            #[serde(default, borrow)]
            target_type: Option<&'a str>,
            root: bool,
            verdict: Verdict,
            #[serde(default)]
            probe: bool,
        },
        Attach {
            path: &'a str,
            result: AttachResult,
        },
        Connect {
            path: &'a str,
            channel_type: &'a str,
            verdict: Verdict,
        },
        Exec {
            path: &'a str,
        },
        #[serde(other)]
        Unknown,
    }

    impl EventKind<'_> {
        /// The first string of the kind, to compare with the owned decoders.
        pub fn text(&self) -> &str {
            match self {
                EventKind::Ability { ability, .. } => ability,
                EventKind::Attach { path, .. }
                | EventKind::Connect { path, .. }
                | EventKind::Exec { path } => path,
                EventKind::Unknown => "",
            }
        }
    }
}

/// The first string of an owned event's kind.
fn text(e: &Event) -> &str {
    match &e.what {
        EventKind::Ability { ability, .. } => ability,
        EventKind::Attach { path, .. } | EventKind::Connect { path, .. } | EventKind::Exec { path } => path,
        _ => "",
    }
}

/// A mix of kinds and strings like the tracer's (the generator's ingest benchmark's mix).
fn make_event(i: u64) -> Event {
    const ABILITIES: [&str; 4] = ["setuid", "net_bind_service", "chown", "kill"];
    let t = i % 1000;
    let process = Process {
        pid: 1000 + t as u32,
        name: Some(format!("usr/sbin/daemon{}", t % 97)),
        type_name: format!("t{t}_t"),
        uid: Some(0),
        euid: Some(0),
        start_ns: Some(1_764_410_000_000_000_000),
    };
    let what = match i % 16 {
        k @ 0..=11 => EventKind::Ability {
            ability: ABILITIES[(k % 4) as usize].into(),
            range: (k % 2 == 0).then(|| Subrange::value(i % 1024)),
            target_type: None,
            root: k % 3 != 0,
            verdict: Verdict::Allowed,
            probe: i % 5 == 1,
        },
        12 | 13 => EventKind::Attach { path: format!("/run/t{t}/sock"), result: AttachResult::Ok },
        14 => EventKind::Connect {
            path: "/run/x".into(),
            channel_type: format!("t{}_t", t + 1),
            verdict: Verdict::Allowed,
        },
        _ => EventKind::Exec { path: "/usr/bin/true".into() },
    };
    Event { instance: 42, seq: i + 1, time_ns: 1_764_410_400_000_000_000 + i, process, what }
}

/// Decodes a body and returns something of it (so the work is not optimised away).
type Decoder = dyn Fn(&[u8]) -> usize;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(500_000);
    let rounds = args.next().unwrap_or(7);
    let bodies: Vec<Vec<u8>> = (0..n as u64)
        .map(|i| {
            let [_, body] = wire::encode(&Message::Event(make_event(i))).expect("encodes");
            body
        })
        .collect();

    // The three read the same events (checked on every body once, outside the timing).
    for b in &bodies {
        let fast = wire::decode_event_fast(b).expect("the direct decoder takes the encoder's bodies");
        let derived = wire::decode_event_derived(b).expect("serde reads the encoder's bodies");
        let lent: borrowed::InBody = rmp_serde::from_slice(b).expect("the borrowed mirror reads them");
        assert_eq!(fast, derived);
        assert_eq!(
            (text(&fast), fast.process.type_name.as_str()),
            (lent.body.what.text(), lent.body.process.type_name)
        );
    }

    let decoders: [(&str, &Decoder); 3] = [
        ("direct (wire/fast.rs), owned strings", &|b| {
            wire::decode_event_fast(b).map_or(0, |e| text(&e).len())
        }),
        ("serde derived, owned strings", &|b| wire::decode_event_derived(b).map_or(0, |e| text(&e).len())),
        ("serde derived, borrowed strings", &|b| {
            rmp_serde::from_slice::<borrowed::InBody>(b).map_or(0, |e| e.body.what.text().len())
        }),
    ];
    let mut times = vec![Vec::new(); decoders.len()];
    for _ in 0..rounds {
        for (i, (_, decode)) in decoders.iter().enumerate() {
            let start = Instant::now();
            let mut sum = 0;
            for b in &bodies {
                sum += decode(black_box(b));
            }
            black_box(sum);
            times[i].push(start.elapsed().as_secs_f64() * 1e9 / n as f64);
        }
    }
    println!("{n} event bodies, {rounds} alternating rounds, median per event");
    println!("| decoder | ns/event | events/s | x direct |");
    println!("|---|---:|---:|---:|");
    let direct = median(&mut times[0].clone());
    for ((name, _), t) in decoders.iter().zip(&mut times) {
        let m = median(t);
        println!("| {name} | {m:.0} | {:.0} | {:.2} |", 1e9 / m, m / direct);
    }
}
