//! The configuration parser, [`secpol::config::Config::parse`] (`secpolgenerate -c`, read at
//! start and on SIGHUP). Any text: never a panic, and every mistake is reported as
//! `FILE:LINE:COL: error: ...` with a line that exists in the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::config::{Config, ConfigError};

const FILE: &str = "fuzz.conf";

fuzz_target!(|data: &[u8]| {
    // As `Config::load` reads a file: bytes that are not UTF-8 are replaced.
    let text = String::from_utf8_lossy(data);
    match Config::parse(FILE, &text) {
        Ok(cfg) => {
            let _ = cfg.protected();
        }
        Err(ConfigError::Invalid(diagnostics)) => {
            assert!(!diagnostics.is_empty(), "an invalid configuration without a diagnostic");
            let lines = text.lines().count().max(1);
            for d in &diagnostics {
                assert_eq!(d.file, FILE);
                assert!(d.line >= 1 && d.line <= lines, "line {} of {lines}: {d}", d.line);
                assert!(d.to_string().starts_with(&format!("{FILE}:{}:", d.line)), "{d}");
            }
        }
        Err(other) => panic!("parse of a text gave a file error: {other}"),
    }
});
