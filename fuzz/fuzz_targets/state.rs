//! The generator's state file loader, [`secpolgenerate::state::read`] (`-s` at start,
//! `secpolctl load`). Any text: never a panic; every problem names `FILE:LINE`; and what it
//! learned from the text writes out (both modes) to a state file that reads back with no
//! problem and writes out the same again, so nothing learned is lost across a restart.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpolgenerate::state;
use secpolgenerate::store::Store;

const FILE: &str = "fuzz.state";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = state::is_state(&text);
    let mut store = Store::new();
    let report = state::read(FILE, &text, &mut store);
    for p in &report.problems {
        assert!(p.starts_with(&format!("{FILE}:")), "a problem that names no line: {p}");
    }
    let admitted: Vec<&str> = report.admitted.iter().map(String::as_str).collect();
    for names in [false, true] {
        let written = state::write(&store, &admitted, names);
        let mut back = Store::new();
        let again = state::read("written.state", &written, &mut back);
        assert!(
            again.problems.is_empty(),
            "written state does not read back: {:?}\n{written}",
            again.problems
        );
        let readmitted: Vec<&str> = again.admitted.iter().map(String::as_str).collect();
        let rewritten = state::write(&back, &readmitted, names);
        assert_eq!(rewritten, written, "state changed across a write and a read (names={names})");
    }
});
