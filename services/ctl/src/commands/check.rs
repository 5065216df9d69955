//! `secpolctl check FILE...`: validates policies as QNX's `secpolcompile` does without
//! `-o`. Every problem is printed on stderr as `FILE:LINE:COL: error: ...` (warnings
//! too, among them one for each `derive_type` rule, which Linux cannot apply); the exit
//! status is 1 when any file has an error or cannot be read.

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
        let mut diagnostics = analysis.diagnostics.clone();
        if analysis.policy.is_some() {
            diagnostics.extend(not_applied(&bytes));
            diagnostics.sort_by_key(|d| d.pos);
        }
        for d in &diagnostics {
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

/// A warning for each `derive_type` rule: Linux offers no honest way to apply one (a
/// process's type cannot change at exec without a security module), so neither the
/// launcher nor the generator does.
fn not_applied(bytes: &[u8]) -> Vec<policy::Diagnostic> {
    let text = String::from_utf8_lossy(bytes);
    policy::derive_type_rules(&text)
        .into_iter()
        .map(|rule| policy::Diagnostic {
            severity: policy::Severity::Warning,
            pos: rule.pos,
            message: format!(
                "derive_type {parent} {program} {derived} is not applied on Linux: a process of type \
                 {parent} that runs {program} keeps type {parent} (`secpolctl on` refuses a restricted \
                 {parent} unless --best-effort; see docs/enforce.md)",
                parent = rule.parent,
                program = rule.program,
                derived = rule.derived,
            ),
        })
        .collect()
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
