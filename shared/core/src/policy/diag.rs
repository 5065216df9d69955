//! Problems found in a policy text, with their positions, printed like a compiler's.

use std::fmt;
use std::path::PathBuf;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The policy is still accepted (a stray `};`, a repeated keyword).
    Warning,
    /// The policy is refused.
    Error,
}

/// A position in a policy text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub pos: Pos,
    /// What is wrong, naming the offending token and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// The line `SOURCE:LINE:COL: error: MESSAGE`.
    pub fn display<'a>(&'a self, source: &'a str) -> impl fmt::Display + 'a {
        DisplayDiag { d: self, source }
    }
}

struct DisplayDiag<'a> {
    d: &'a Diagnostic,
    source: &'a str,
}

impl fmt::Display for DisplayDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {sev}: {}", self.source, self.d.pos.line, self.d.pos.col, self.d.message)
    }
}

/// A policy text that was refused: every error (and warning) found, in text order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Name of the text (a file name) used in the messages.
    pub source: String,
    /// The problems, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParseError {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(f, "{} has {n} error{}", self.source, if n == 1 { "" } else { "s" })?;
        for d in &self.diagnostics {
            write!(f, "\n{}", d.display(&self.source))?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// A policy file that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Reading failed (the message says why; the I/O error is not repeated as a source).
    #[error("cannot read policy {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Larger than [`MAX_POLICY_BYTES`](super::MAX_POLICY_BYTES).
    #[error("policy {path} is too large ({size} bytes; at most {max})")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// The text has errors.
    #[error("{0}")]
    Invalid(#[from] ParseError),
}
