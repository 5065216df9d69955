//! Path patterns of `allow_attach` and `allow_link` rules.
//!
//! A pattern is an absolute path whose components may hold `*` (any run of characters
//! inside one component, as in a shell glob) and whose last component may be `...`
//! (the path before it and anything below: `/dev/...` matches `/dev`, `/dev/null` and
//! `/dev/pts/0`; `/...` matches every path). Patterns are written without quotes, so they
//! cannot hold white space or the characters `;`, `{`, `}` and `#` of the policy syntax.

use std::cmp::Ordering;
use std::fmt;

/// Longest pattern accepted (Linux `PATH_MAX`).
pub const MAX_PATTERN_LEN: usize = 4096;

/// A validated path pattern; compares and sorts by its text.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    /// Components without the `...` tail, as byte ranges of `text`.
    parts: Vec<Part>,
    /// Whether the pattern ends in `/...`.
    subtree: bool,
}

#[derive(Debug, Clone, Copy)]
struct Part {
    start: u32,
    end: u32,
    glob: bool,
}

/// Why a text is not a path pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty text.
    #[error("empty path")]
    Empty,
    /// Does not start with `/`.
    #[error("path `{0}` is not absolute (it must start with `/`)")]
    NotAbsolute(String),
    /// Longer than [`MAX_PATTERN_LEN`].
    #[error("path is longer than {MAX_PATTERN_LEN} bytes")]
    TooLong,
    /// Holds a character the policy syntax cannot carry.
    #[error("path `{path}` contains {what}, which a policy path cannot hold")]
    BadChar {
        /// The path.
        path: String,
        /// The character, described.
        what: String,
    },
    /// `//`, a trailing `/`, `.` or `..`.
    #[error("path `{0}` is not canonical (no empty, `.` or `..` components, no trailing `/`)")]
    NotCanonical(String),
    /// `...` anywhere but as the last component.
    #[error("path `{0}`: `...` may only be the last component")]
    MisplacedEllipsis(String),
}

impl Pattern {
    /// Parses and validates a pattern.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        if let Some(c) = text.chars().find(|&c| c.is_whitespace() || c.is_control() || ";{}#".contains(c)) {
            let what = if c.is_whitespace() || c.is_control() {
                format!("the character U+{:04X}", c as u32)
            } else {
                format!("`{c}`")
            };
            return Err(PatternError::BadChar { path: text.to_string(), what });
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(PatternError::NotAbsolute(text.to_string()));
        };
        let mut parts = Vec::new();
        let mut subtree = false;
        if !rest.is_empty() {
            let count = rest.split('/').count();
            let mut start = 1u32;
            for (i, c) in rest.split('/').enumerate() {
                let end = start + c.len() as u32;
                match c {
                    "" | "." | ".." => return Err(PatternError::NotCanonical(text.to_string())),
                    "..." if i + 1 == count => subtree = true,
                    "..." => return Err(PatternError::MisplacedEllipsis(text.to_string())),
                    c => parts.push(Part { start, end, glob: c.contains('*') }),
                }
                start = end + 1;
            }
        }
        Ok(Pattern { text: text.to_string(), parts, subtree })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches exactly one path (no `*`, no `...`).
    pub fn is_literal(&self) -> bool {
        !self.subtree && self.parts.iter().all(|p| !p.glob)
    }

    fn part(&self, p: Part) -> &str {
        &self.text[p.start as usize..p.end as usize]
    }

    /// Whether `path` (absolute; empty components such as a trailing `/` are ignored)
    /// matches the pattern.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut comps = rest.split('/').filter(|c| !c.is_empty());
        for part in &self.parts {
            let Some(c) = comps.next() else {
                return false;
            };
            let p = self.part(*part);
            let ok = if part.glob { glob_match(p.as_bytes(), c.as_bytes()) } else { p == c };
            if !ok {
                return false;
            }
        }
        self.subtree || comps.next().is_none()
    }
}

impl Pattern {
    /// Whether every path `other` matches is matched by `self`, as far as a plain
    /// comparison can tell (it never claims a cover that does not hold): equal patterns,
    /// a literal path this pattern matches, or a subtree (`P/...`) whose components
    /// match the leading components of `other`.
    pub fn covers(&self, other: &Pattern) -> bool {
        if self.text == other.text {
            return true;
        }
        if other.is_literal() {
            return self.matches(&other.text);
        }
        if !self.subtree || self.parts.len() > other.parts.len() {
            return false;
        }
        self.parts.iter().zip(&other.parts).all(|(&mine, &theirs)| {
            let (a, b) = (self.part(mine), other.part(theirs));
            match (mine.glob, theirs.glob) {
                (false, false) | (true, true) => a == b,
                (true, false) => glob_match(a.as_bytes(), b.as_bytes()),
                (false, true) => false,
            }
        })
    }
}

/// `*`-only wildcard match, linear with single-star backtracking.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() && pat[p] == b'*' {
            star = Some((p, i));
            p += 1;
        } else if p < pat.len() && pat[p] == s[i] {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&b| b == b'*')
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl PartialOrd for Pattern {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pattern {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl std::hash::Hash for Pattern {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        Pattern::parse(p).unwrap().matches(path)
    }

    #[test]
    fn ellipsis_matches_the_directory_and_below() {
        assert!(m("/...", "/"));
        assert!(m("/...", "/a/b/c"));
        assert!(m("/dev/...", "/dev"));
        assert!(m("/dev/...", "/dev/pts/0"));
        assert!(!m("/dev/...", "/devices"));
        assert!(!m("/dev/...", "/"));
    }

    #[test]
    fn star_matches_inside_one_component() {
        assert!(m("/dev/fsF*", "/dev/fsF"));
        assert!(m("/dev/fsF*", "/dev/fsFp0"));
        assert!(!m("/dev/fsF*", "/dev/fsFp0/x"));
        assert!(m("/tmp/libc*", "/tmp/libc.so.5"));
        assert!(!m("/tmp/libc*", "/tmp/notlibc.so.5"));
        assert!(m("/a/*/c", "/a/b/c"));
        assert!(m("/x/a*b*c", "/x/aXbYbZc"));
        assert!(!m("/x/a*b*c", "/x/aXbYbZ"));
    }

    #[test]
    fn literal_paths_match_exactly() {
        assert!(m("/", "/"));
        assert!(!m("/", "/fsFp0"));
        assert!(m("/fsFp0", "/fsFp0"));
        assert!(m("/fsFp0", "/fsFp0/"));
        assert!(!m("/fsFp0", "fsFp0"));
    }

    #[test]
    fn covering_is_conservative() {
        let p = |s| Pattern::parse(s).unwrap();
        assert!(p("/...").covers(&p("/dev/fsF*")));
        assert!(p("/dev/...").covers(&p("/dev/null")));
        assert!(p("/dev/...").covers(&p("/dev/pts/...")));
        assert!(p("/dev/*").covers(&p("/dev/null")));
        assert!(!p("/dev/*").covers(&p("/dev/...")));
        assert!(!p("/dev/null").covers(&p("/dev/...")));
        assert!(!p("/tmp/a*").covers(&p("/tmp/b*")));
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        assert_eq!(Pattern::parse("dev"), Err(PatternError::NotAbsolute("dev".into())));
        assert!(matches!(Pattern::parse("/a//b"), Err(PatternError::NotCanonical(_))));
        assert!(matches!(Pattern::parse("/a/"), Err(PatternError::NotCanonical(_))));
        assert!(matches!(Pattern::parse("/a/../b"), Err(PatternError::NotCanonical(_))));
        assert!(matches!(Pattern::parse("/.../b"), Err(PatternError::MisplacedEllipsis(_))));
        assert!(matches!(Pattern::parse("/a b"), Err(PatternError::BadChar { .. })));
        assert!(matches!(Pattern::parse("/a;b"), Err(PatternError::BadChar { .. })));
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
    }
}
