//! What the launcher imposes on a type's process, as plain data: the [`Restrictions`] of a
//! restricted type and the [`Enforcement`] `secpolctl on` settles on.
//!
//! It sits below everything that reads or writes it: [`crate::plan`] makes restrictions
//! from a policy, [`crate::launch_policy`] finds the enforcement of a type, [`crate::shortfall`]
//! holds them against the system and [`crate::enforce`] applies them. Keeping the data apart
//! keeps those modules from depending on each other.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// What to impose on the process before exec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restrictions {
    /// The type, for messages.
    pub type_name: String,
    /// Capability numbers allowed as root.
    pub root: BTreeSet<u32>,
    /// Capability numbers allowed as non-root.
    pub nonroot: BTreeSet<u32>,
    /// Capability numbers that must not reach children (`noinherit`): never inheritable,
    /// and ambient only when a non-root command could not get them otherwise.
    pub noinherit: BTreeSet<u32>,
    /// Directories beneath which socket files may be created (`None`: not restricted).
    pub sock_beneath: Option<Vec<PathBuf>>,
    /// Directories beneath which symbolic links may be created (`None`: not restricted).
    pub link_beneath: Option<Vec<PathBuf>>,
    /// Privileged TCP ports that may be bound (`None`: not restricted by port).
    pub privileged_ports: Option<Vec<RangeInclusive<u16>>>,
    /// The ids a command starting as root may switch to.
    pub ids_as_root: IdRanges,
    /// The ids a command starting as non-root may switch to.
    pub ids_as_nonroot: IdRanges,
    /// Parts of the policy that no Linux mechanism enforces: the launcher refuses to
    /// start the command unless `--best-effort` is given.
    pub unenforceable: Vec<Unenforceable>,
    /// Where the enforcement is an approximation of the policy, and how.
    pub notes: Vec<String>,
}

impl Restrictions {
    /// The ids of the domain the command starts in.
    pub fn ids(&self, starts_as_root: bool) -> &IdRanges {
        if starts_as_root {
            &self.ids_as_root
        } else {
            &self.ids_as_nonroot
        }
    }
}

/// The user and group ids `setuid`/`setgid` subranges allow (`None`: no value check, because
/// the grant has no subrange or the capability is not granted at all, so the kernel itself
/// refuses every change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdRanges {
    /// User ids (`setuid:33`).
    pub uids: Option<Vec<RangeInclusive<u32>>>,
    /// Group ids (`setgid:33`).
    pub gids: Option<Vec<RangeInclusive<u32>>>,
}

impl IdRanges {
    /// Whether any id argument must be checked.
    pub fn is_restricted(&self) -> bool {
        self.uids.is_some() || self.gids.is_some()
    }
}

/// A part of a type's policy that Linux offers no way to enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unenforceable {
    /// What is not enforced, and why.
    pub what: String,
    /// It matters only to a command starting as root (a root-only grant).
    pub root_only: bool,
}

/// What `secpolctl on` does to a type's process before exec.
#[derive(Debug, Clone)]
pub enum Enforcement {
    /// Nothing: the caller's privileges (and why).
    Nothing(String),
    /// The type is restricted: exactly its policy.
    Restricted(Box<Restrictions>),
    /// The type is unrestricted: the caller's privileges less these capabilities
    /// (`deny:`, and `keep:` abilities the base policy does not grant).
    Unrestricted {
        /// Lost when the command runs as root.
        drop_root: BTreeSet<u32>,
        /// Lost when it runs as non-root.
        drop_nonroot: BTreeSet<u32>,
    },
}

/// The directory a Landlock rule must name for a policy path pattern: the pattern's fixed
/// directory part, or its nearest existing ancestor.
pub fn beneath_dir(pattern: &str) -> PathBuf {
    let dir = match pattern.strip_suffix("/...") {
        Some("") => PathBuf::from("/"),
        Some(base) => PathBuf::from(base),
        None => {
            let fixed = pattern.find(['*', '?', '[']).map_or(pattern, |i| &pattern[..i]);
            if fixed.ends_with('/') {
                PathBuf::from(fixed)
            } else {
                Path::new(fixed).parent().unwrap_or(Path::new("/")).to_path_buf()
            }
        }
    };
    dir.ancestors().find(|d| d.is_dir()).map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beneath_dirs_follow_the_patterns() {
        assert_eq!(beneath_dir("/..."), PathBuf::from("/"));
        assert_eq!(beneath_dir("/tmp/..."), PathBuf::from("/tmp"));
        assert_eq!(beneath_dir("/tmp/app.sock"), PathBuf::from("/tmp"));
        assert_eq!(beneath_dir("/dev/fsF*"), PathBuf::from("/dev"));
        assert_eq!(beneath_dir("/tmp/libc*"), PathBuf::from("/tmp"));
        assert_eq!(beneath_dir("/no/such/dir/x.sock"), PathBuf::from("/"));
        assert_eq!(beneath_dir("/tmp/*/x"), PathBuf::from("/tmp"));
    }
}
