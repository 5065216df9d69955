//! `secpolctl check FILE...`: validates policies as QNX's `secpolcompile` does without
//! `-o`. Every problem is printed on stderr as `FILE:LINE:COL: error: ...` (warnings
//! too); the exit status is 1 when any file has an error or cannot be read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use secpol::policy;

/// Runs the command; `-` reads standard input.
pub fn run(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        let (name, bytes) = match read(file) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("secpolctl: {e:#}");
                failed = true;
                continue;
            }
        };
        let analysis = policy::analyze(&bytes);
        for d in &analysis.diagnostics {
            eprintln!("{}", d.display(&name));
        }
        if analysis.has_errors() {
            failed = true;
        } else if let Some(p) = &analysis.policy {
            let rules: usize = p.subjects().len();
            log::info!("{name}: ok ({} types, {rules} subjects with rules)", p.types().len());
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn read(file: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(policy::MAX_POLICY_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .context("cannot read policy from standard input")?;
        return Ok(("<stdin>".to_string(), bytes));
    }
    Ok((file.display().to_string(), policy::read_policy_file(file)?))
}
