//! The learner's hot path allocates nothing: an event that teaches nothing new (a use already
//! recorded, a failure already counted) is applied without a single heap allocation, for
//! unrestricted types and for restricted ones whose uses the base policy allowed.
//!
//! This binary counts the allocations of the calling thread with its own global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use secpol::config::Config;
use secpol::event::{AttachResult, Event, EventKind, Process, Subrange, Verdict};
use secpolgenerate::base::{Base, BasePolicy, NoBase};
use secpolgenerate::learn::{LearnOptions, Learner, Outcome};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as the caller promised for this call.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as the caller promised for this call.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as the caller promised for this call.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promised for this call.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

fn event(type_name: &str, what: EventKind) -> Event {
    let process = Process {
        pid: 7,
        name: Some("usr/sbin/d".into()),
        type_name: type_name.into(),
        uid: Some(0),
        euid: Some(0),
        start_ns: None,
    };
    Event { instance: 1, seq: 1, time_ns: 1_000, process, what }
}

fn ability(name: &str, value: Option<u64>, target: Option<&str>, allowed: bool) -> EventKind {
    EventKind::Ability {
        ability: name.into(),
        range: value.map(Subrange::value),
        target_type: target.map(Into::into),
        root: true,
        verdict: if allowed { Verdict::Allowed } else { Verdict::Denied(1) },
        probe: false,
    }
}

/// Events of every kind the learner records, for types a_t and b_t.
fn events() -> Vec<Event> {
    let mut v = Vec::new();
    for t in ["a_t", "b_t"] {
        v.push(event(t, ability("setuid", Some(33), None, true)));
        v.push(event(t, ability("chown", None, None, true)));
        v.push(event(t, ability("settypeid", None, Some("c_t"), true)));
        v.push(event(t, ability("kill", None, None, false)));
        v.push(event(t, EventKind::Attach { path: format!("/run/{t}/s"), result: AttachResult::Ok }));
        v.push(event(t, EventKind::Link { path: "/tmp/l".into(), target: None, result: AttachResult::Ok }));
        v.push(event(
            t,
            EventKind::Connect {
                path: "/run/c".into(),
                channel_type: "c_t".into(),
                verdict: Verdict::Allowed,
            },
        ));
    }
    v
}

/// Applies `events` once (learning), then again: the second time nothing is new and nothing
/// is allocated.
fn repeat_allocates_nothing<B: Base>(mut l: Learner<B>, events: &[Event]) {
    for e in events {
        assert!(l.apply(e, 1).changed(), "first time: {e:?}");
    }
    for e in events {
        let (outcome, n) = allocations(|| l.apply(e, 2));
        assert!(
            matches!(outcome, Outcome::Used { changed: false } | Outcome::Failed { new: false }),
            "{e:?}"
        );
        assert_eq!(n, 0, "allocations applying {e:?} again");
    }
}

#[test]
fn unrestricted_repeats_allocate_nothing() {
    let opts = LearnOptions { unrestricted: true, ..Default::default() };
    repeat_allocates_nothing(Learner::new(NoBase, opts, Config::default()), &events());
}

#[test]
fn restricted_repeats_allocate_nothing() {
    let text = "type a_t;\ntype b_t;\ntype c_t;\n\
                allow a_t self:ability { setuid:0-100 chown settypeid:c_t };\n\
                allow_attach a_t /run/a_t/...;\nallow_link a_t /tmp/...;\nallow a_t c_t:channel connect;\n";
    let base = BasePolicy::new(secpol::policy::parse(text, "base").unwrap());
    // a_t is allowed what it does but kill; b_t is allowed nothing: all its uses are failures.
    let events = events();
    let mut l = Learner::new(base, LearnOptions::default(), Config::default());
    for e in &events {
        l.apply(e, 1);
    }
    for e in events.iter().filter(|e| e.process.type_name == "a_t") {
        let (outcome, n) = allocations(|| l.apply(e, 2));
        assert!(
            matches!(outcome, Outcome::Used { changed: false } | Outcome::Failed { new: false }),
            "{e:?}"
        );
        if matches!(outcome, Outcome::Used { .. }) {
            assert_eq!(n, 0, "allocations applying {e:?} again");
        }
    }
    assert_eq!(l.store.get("a_t").map(|r| r.failures.len()), Some(1));
    assert_eq!(l.store.get("b_t").map(|r| r.failures.len()), Some(7));
}

#[test]
fn the_counter_counts() {
    let (_, n) = allocations(|| String::from("x"));
    assert_eq!(n, 1);
}
