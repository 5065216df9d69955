//! The policy parser, [`secpol::policy::analyze`]: what `secpolgenerate -S`, `secpolctl
//! check` and the launcher read. Any bytes: never a panic, every diagnostic prints with its
//! position; a policy it accepts prints (canonical text) to a text that parses again and
//! prints the same, so the generator's output always reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secpol::policy;

fuzz_target!(|data: &[u8]| {
    let analysis = policy::analyze(data);
    for d in &analysis.diagnostics {
        let _ = d.display("fuzz.policy").to_string();
    }
    if let Some(p) = analysis.policy {
        let text = p.to_text();
        let again = policy::analyze(text.as_bytes());
        let Some(reparsed) = again.policy else {
            panic!("the printed policy does not parse: {:?}\n{text}", again.diagnostics);
        };
        assert_eq!(reparsed.to_text(), text, "printing a reparsed policy changed it");
    }
});
