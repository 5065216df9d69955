//! The event log reader, [`secpol::record::read_events`]: QNX `secpolmonitor` logs
//! (`secpol::qnxlog`, wrapped lines joined) and JSON recordings, as `secpolgenerate -C load`,
//! `secpolctl load` and `secpoltrace --replay` read them. Any text: never a panic and every
//! line number exists. Every event read prints (plain and verbose,
//! [`secpol::qnxlog::format_event`]) and records ([`record::to_json_line`]); a recording
//! line reads back as the same event; a monitor line prints as a line that reads back and
//! prints the same. (An event from a recording may hold names no monitor line can carry,
//! such as a type name with spaces, so only its JSON form must read back.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::qnxlog::{self, FormatOptions, LogicalLines};
use secpol::record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let plain = FormatOptions::default();
    let verbose =
        FormatOptions { subranged: vec!["setuid".into(), "net_bind_service".into()], verbose: true };
    let mut read = 0;
    for (n, result) in record::read_events(&text) {
        assert!(n >= 1 && n <= lines, "line {n} of {lines}");
        read += 1;
        let Ok(event) = result else { continue };
        let _ = qnxlog::format_event(&event, &verbose);
        let json = record::to_json_line(&event);
        let back = record::parse_json_line(&json)
            .unwrap_or_else(|e| panic!("a recorded event does not read back: {e}\n{json}"));
        assert_eq!(back, event, "an event changed across its recording line");
    }
    // The same lines one by one: the monitor's own lines must survive a print.
    let mut seen = 0;
    for (_, line) in LogicalLines::new(&text).filter(|(_, l)| !l.trim_start().starts_with('#')) {
        seen += 1;
        if line.trim_start().starts_with('{') {
            continue;
        }
        let Ok(event) = qnxlog::parse_line(&line) else { continue };
        let Some(printed) = qnxlog::format_event(&event, &plain) else { continue };
        let back = qnxlog::parse_line(&printed)
            .unwrap_or_else(|e| panic!("a printed line does not read back: {e}\n{line}\n{printed}"));
        assert_eq!(qnxlog::format_event(&back, &plain).as_deref(), Some(printed.as_str()), "{line}");
    }
    assert_eq!(read, seen, "read_events and the logical lines disagree");
    let _ = qnxlog::parse_description(&text);
});
