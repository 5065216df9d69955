//! The QNX secpol policy language: parse, check, match, merge, diff and print.
//!
//! One model, [`Policy`], serves the generator (which learns one), the launcher (which
//! enforces one) and the tools (`secpolctl check`). Its text is QNX's, so a policy goes
//! to `secpolcompile` unchanged, and policies written for QNX load here.
//!
//! # API overview
//!
//! | task | call |
//! |---|---|
//! | read a file | [`load(path)`](load) → `Result<Policy, PolicyError>` |
//! | read a text | [`parse(text, source_name)`](parse) → `Result<Policy, ParseError>` |
//! | validate, keep every problem | [`analyze(bytes)`](analyze) → [`Analysis`] (policy + diagnostics) |
//! | start empty | [`Policy::new`] |
//! | learn a rule | [`Policy::add_type`], [`add_ability`](Policy::add_ability) (domain [`Domain::Root`] / [`Domain::NonRoot`], optional [`Value`]: a [`Subrange`](crate::event::Subrange) or a target type), [`add_connect`](Policy::add_connect), [`add_attach`](Policy::add_attach), [`add_link`](Policy::add_link), [`add_derivation`](Policy::add_derivation) |
//! | flags and comments | the returned [`AbilityGrant`] (`unlock`, `noinherit`, `comments.push(..)`), or an existing one from [`grant_mut`](Policy::grant_mut); other `add_*` return the rule's [`Comments`] |
//! | base + learned | [`Policy::merge`] |
//! | base rules not exercised | [`Policy::difference`] (`base.difference(&learned)`) |
//! | is this event allowed? | [`Policy::check(type, &EventKind)`](Policy::check) → [`Decision`] |
//! | canonical text | [`Policy::to_text`] / `Display`; `parse(print(p)) == p` |
//!
//! ```
//! use secpol_core::policy::{self, Domain, Value, ConnectTarget};
//! use secpol_core::event::{EventKind, Subrange, Verdict};
//!
//! let mut p = policy::Policy::new();
//! p.add_type("fs_t")?;
//! let g = p.add_ability("fs_t", "setuid", Domain::Root, Some(Value::Range(Subrange::value(4))))?;
//! g.comments.push("first needed by usr/bin/x (pid 12)");
//! p.add_attach("fs_t", "/dev/fsF*")?;
//! p.add_connect("fs_t", ConnectTarget::SelfType)?;
//! let text = p.to_text();
//! assert_eq!(policy::parse(&text, "learned")?, p);
//! let setuid = |v| EventKind::Ability {
//!     ability: "setuid".into(), range: Some(Subrange::value(v)), target_type: None,
//!     root: true, verdict: Verdict::Allowed, probe: false,
//! };
//! assert!(p.check("fs_t", &setuid(4)).permits());
//! assert!(!p.check("fs_t", &setuid(5)).permits());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Language
//!
//! `type T;`, `type T, attr1, attr2;`, `attribute A;`, `ability dyn/name;`,
//! `allow T self:ability { [nonroot] [unlock] [noinherit] name[:values] ... };` and
//! `allow T self:ability name[:values];`, `allow A B:channel connect;` (with `self`, and
//! `{ a_t b_t }` sets on either side), `allow_attach T path;` / `allow_attach T { ... };`,
//! `allow_link` alike, `derive_type PARENT PROGRAM DERIVED;`, `#` comments. Values are
//! numbers (decimal, `0x` hexadecimal, `0` octal), ranges `lo-hi` and open ranges `lo-`,
//! or type names (`settypeid:a_t,b_t`). Keywords and ability names are case-insensitive
//! (`RSRCDBMGR`); type names are not. `nonroot`, `unlock` and `noinherit` apply to the
//! whole block they are in. A stray `};` after a statement is accepted with a warning
//! (QNX's own io_pkt example has one). See `docs/policy.md`.

mod build;
mod diag;
mod matcher;
mod model;
mod pattern;
mod print;
mod range;
mod syntax;

use std::io::Read;
use std::path::Path;

pub use diag::{Diagnostic, ParseError, PolicyError, Pos, Severity};
pub use matcher::{Decision, Denial};
pub use model::{
    check_ability_name, check_type_name, AbilityGrant, Comments, ConnectTarget, Derivation, Domain,
    ModelError, Policy, SubjectRules, TypeDecl, Value, Values, MAX_NAME_LEN, SELF,
};
pub use pattern::{Pattern, PatternError, MAX_PATTERN_LEN};
pub use print::ability_text;
pub use range::RangeSet;

/// Largest policy text accepted (64 MiB).
pub const MAX_POLICY_BYTES: usize = 64 << 20;

/// The result of [`analyze`]: the policy when there are no errors, and every problem.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The policy, `None` when there is an error.
    pub policy: Option<Policy>,
    /// Errors and warnings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// Whether there is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Parses and checks a policy text of any bytes: never panics, reports every problem
/// with its position (invalid UTF-8 stops at the first bad byte).
pub fn analyze(bytes: &[u8]) -> Analysis {
    let error = |pos, message| Analysis {
        policy: None,
        diagnostics: vec![Diagnostic { severity: Severity::Error, pos, message }],
    };
    if bytes.len() > MAX_POLICY_BYTES {
        return error(
            Pos { line: 1, col: 1 },
            format!("policy is too large ({} bytes; at most {MAX_POLICY_BYTES})", bytes.len()),
        );
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let col = good[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() as u32 + 1;
            let bad = bytes[e.valid_up_to()];
            return error(
                Pos { line, col },
                format!("invalid UTF-8 (byte 0x{bad:02x}); a policy is UTF-8 text"),
            );
        }
    };
    let syntax = syntax::parse(text);
    let (policy, mut diagnostics) = build::build(&syntax);
    diagnostics.extend(syntax.diags);
    diagnostics.sort_by_key(|d| d.pos);
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    Analysis { policy: (!failed).then_some(policy), diagnostics }
}

/// A `derive_type` rule as written, with the position of its parent type (for tools that
/// comment on the rules, such as `secpolctl check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveRule {
    /// Where the rule's parent type is written.
    pub pos: Pos,
    /// The parent type.
    pub parent: String,
    /// The program.
    pub program: String,
    /// The type the program gets.
    pub derived: String,
}

/// The `derive_type` rules of a policy text, in text order (statements that do not parse
/// are left out; [`analyze`] reports them).
pub fn derive_type_rules(text: &str) -> Vec<DeriveRule> {
    syntax::parse(text)
        .stmts
        .iter()
        .filter_map(|s| match s {
            syntax::Stmt::Derive { parent, program, derived, .. } => Some(DeriveRule {
                pos: parent.pos,
                parent: parent.text.to_string(),
                program: program.text.to_string(),
                derived: derived.text.to_string(),
            }),
            _ => None,
        })
        .collect()
}

/// Parses a policy text; `source` names it in messages (a file name). Warnings are
/// logged (`log::warn!`); errors are returned, all of them.
pub fn parse(text: &str, source: &str) -> Result<Policy, ParseError> {
    let analysis = analyze(text.as_bytes());
    finish(analysis, source)
}

fn finish(analysis: Analysis, source: &str) -> Result<Policy, ParseError> {
    match analysis.policy {
        Some(p) => {
            for d in &analysis.diagnostics {
                log::warn!("{}", d.display(source));
            }
            Ok(p)
        }
        None => Err(ParseError { source: source.to_string(), diagnostics: analysis.diagnostics }),
    }
}

/// Reads and parses a policy file (at most [`MAX_POLICY_BYTES`]).
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let bytes = read_policy_file(path)?;
    Ok(finish(analyze(&bytes), &path.display().to_string())?)
}

/// Reads a policy file's bytes, refusing one larger than [`MAX_POLICY_BYTES`].
pub fn read_policy_file(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let read_err = |error| PolicyError::Read { path: path.to_path_buf(), error };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() > MAX_POLICY_BYTES {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(bytes.len() as u64);
        return Err(PolicyError::TooLarge { path: path.to_path_buf(), size, max: MAX_POLICY_BYTES });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
