//! The secpolgenerate configuration file (seed 000: `ability`, `type`, `option` lines).
//!
//! One statement a line; `#` starts a comment line; blank lines are ignored:
//!
//! ```text
//! option restricted|unrestricted
//! option no_cgroup_types
//! type NAME [unrestricted|restricted] [deny:A,B[:nonroot]]... [keep:A,B] [unlock:A,B] [no_procmgr_ability]
//! type NAME cgroup PATH
//! ability NAME [range] [protect] [type]
//! ```
//!
//! `type NAME cgroup PATH` (repeatable) gives the processes of the cgroup `PATH` below the
//! cgroup2 mount, and of the cgroups below it, type NAME, winning over the automatic names
//! of units and containers, which `option no_cgroup_types` turns off
//! ([`cgroup_types`](crate::cgroup_types)). The tracer reads these two from the same file
//! (`secpoltrace --config FILE`).
//!
//! Several lines may name the same type or ability: their options add up (a type cannot be
//! both restricted and unrestricted). Every mistake is reported as `FILE:LINE:COL` with the
//! offending word and what was expected, and all mistakes of a file are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::ability;
use crate::cgroup_types::{normalize_cgroup_path, CgroupMapping, Naming};

/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Whether a type may learn beyond the base policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Restricted to the rules of the base policy; other uses are failures.
    Restricted,
    /// Everything it uses is learned.
    Unrestricted,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Restricted => "restricted",
            Mode::Unrestricted => "unrestricted",
        })
    }
}

/// A `deny:` entry: an ability an unrestricted type must not be given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deny {
    /// Ability name (canonical form).
    pub ability: String,
    /// Denied for non-root only (`:nonroot`); otherwise for root and non-root.
    pub nonroot_only: bool,
}

/// What the configuration says about one type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeOptions {
    /// `restricted` / `unrestricted`, overriding the global mode.
    pub mode: Option<Mode>,
    /// `deny:` entries.
    pub deny: Vec<Deny>,
    /// `keep:` abilities: the base policy's rules hold even when unrestricted.
    pub keep: BTreeSet<String>,
    /// `unlock:` abilities: left unlocked, as if the type managed them itself.
    pub unlock: BTreeSet<String>,
    /// `no_procmgr_ability`: the type's own capability calls are ignored.
    pub no_procmgr_ability: bool,
}

impl TypeOptions {
    /// Whether `ability` is denied to this type in the given domain (`root`: effective uid 0).
    pub fn denies(&self, ability: &str, root: bool) -> bool {
        self.deny.iter().any(|d| d.ability == ability && (!root || !d.nonroot_only))
    }
}

/// What the configuration says about one ability.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AbilityOptions {
    /// `range`: keep the values the ability was used with (dynamic abilities and the
    /// address-ranged static ones, [`ability::ADDRESS_RANGED`], drop them otherwise).
    pub range: bool,
    /// `protect`: the preload keeps it when a process drops "everything else".
    pub protect: bool,
    /// `type`: subranged by type name rather than numerically.
    pub by_type: bool,
}

/// A parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `option restricted|unrestricted`; `None` leaves the command line to decide.
    pub default_mode: Option<Mode>,
    /// Per-type options, by type name.
    pub types: BTreeMap<String, TypeOptions>,
    /// Per-ability options, by canonical ability name.
    pub abilities: BTreeMap<String, AbilityOptions>,
    /// `type NAME cgroup PATH` mappings, in file order.
    pub cgroups: Vec<CgroupMapping>,
    /// `option no_cgroup_types`: units and containers are not named automatically.
    pub no_cgroup_types: bool,
}

/// One mistake in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File name as given.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.line, self.col, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("config {file} is {size} bytes, more than the limit of {MAX_CONFIG_BYTES}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        size: u64,
    },
    /// The file has mistakes; every one is listed, one a line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

impl Config {
    /// The rules naming cgroups this configuration gives (`type NAME cgroup PATH`,
    /// `option no_cgroup_types`).
    pub fn naming(&self) -> Naming {
        Naming::new(!self.no_cgroup_types, self.cgroups.clone())
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        if meta.len() > MAX_CONFIG_BYTES as u64 {
            return Err(ConfigError::TooLarge { file, size: meta.len() });
        }
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        let text = String::from_utf8_lossy(&bytes);
        Config::parse(&file, &text)
    }

    /// Parses `text`; `file` names it in diagnostics.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut p = LineParser { file, line: n + 1, text: line, errors: &mut errors };
            p.statement(&mut cfg);
        }
        if text.len() > MAX_CONFIG_BYTES {
            errors.push(Diagnostic {
                file: file.to_string(),
                line: 1,
                col: 1,
                message: format!("file larger than {MAX_CONFIG_BYTES} bytes"),
            });
        }
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid(errors))
        }
    }

    /// The options of type `name`, if the file mentions it.
    pub fn type_options(&self, name: &str) -> Option<&TypeOptions> {
        self.types.get(name)
    }

    /// The options of ability `name`, or the defaults.
    pub fn ability_options(&self, name: &str) -> AbilityOptions {
        self.abilities.get(name).copied().unwrap_or_default()
    }

    /// Abilities marked `protect`, sorted.
    pub fn protected(&self) -> Vec<String> {
        self.abilities.iter().filter(|(_, o)| o.protect).map(|(n, _)| n.clone()).collect()
    }
}

/// Whether `name` is a valid type name (the policy language's rule).
pub fn is_type_name(name: &str) -> bool {
    crate::policy::check_type_name("type", name).is_ok()
}

struct LineParser<'a, 'e> {
    file: &'a str,
    line: usize,
    text: &'a str,
    errors: &'e mut Vec<Diagnostic>,
}

impl<'a> LineParser<'a, '_> {
    fn error(&mut self, at: &str, message: String) {
        // `at` is a slice of `self.text`: its column is its offset, in characters.
        let offset = (at.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize).min(self.text.len());
        let col = self.text.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        self.errors.push(Diagnostic { file: self.file.to_string(), line: self.line, col, message });
    }

    fn words(&self) -> Vec<&'a str> {
        self.text.split_whitespace().collect()
    }

    fn statement(&mut self, cfg: &mut Config) {
        let words = self.words();
        let Some((&keyword, args)) = words.split_first() else { return };
        if keyword.starts_with('#') {
            return;
        }
        match keyword {
            "option" => self.option(cfg, keyword, args),
            "type" => self.type_line(cfg, keyword, args),
            "ability" => self.ability_line(cfg, keyword, args),
            other => self
                .error(other, format!("unknown statement {other:?}; expected `option`, `type` or `ability`")),
        }
    }

    fn option(&mut self, cfg: &mut Config, keyword: &'a str, args: &[&'a str]) {
        if args.is_empty() {
            self.error(keyword, "`option` needs `restricted` or `unrestricted`".into());
        }
        for &arg in args {
            let mode = match arg {
                "no_cgroup_types" => {
                    cfg.no_cgroup_types = true;
                    continue;
                }
                "restricted" => Mode::Restricted,
                "unrestricted" => Mode::Unrestricted,
                other => {
                    self.error(
                        other,
                        format!("unknown option {other:?}; expected `restricted` or `unrestricted`"),
                    );
                    continue;
                }
            };
            match cfg.default_mode {
                Some(m) if m != mode => {
                    self.error(arg, format!("`option {mode}` contradicts the earlier `option {m}`"))
                }
                _ => cfg.default_mode = Some(mode),
            }
        }
    }

    fn ability_list(&mut self, list: &'a str, what: &str) -> Vec<String> {
        let mut out = Vec::new();
        if list.is_empty() {
            self.error(list, format!("`{what}:` needs a comma-separated list of abilities"));
            return out;
        }
        for name in list.split(',') {
            let canon = ability::normalize(name);
            if name.is_empty() {
                self.error(name, format!("empty ability name in `{what}:` list"));
            } else if !ability::is_known(&canon) {
                self.error(name, format!("unknown ability {name:?} in `{what}:` list"));
            } else {
                out.push(canon);
            }
        }
        out
    }

    fn type_line(&mut self, cfg: &mut Config, keyword: &'a str, args: &[&'a str]) {
        let Some((&name, opts)) = args.split_first() else {
            self.error(keyword, "`type` needs a type name".into());
            return;
        };
        if !is_type_name(name) {
            self.error(name, format!("bad type name {name:?}"));
            return;
        }
        let mut t = cfg.types.get(name).cloned().unwrap_or_default();
        // A line of only `cgroup PATH` mappings says nothing about the type's options.
        let mut only_mappings = !opts.is_empty();
        let mut opts = opts.iter().copied();
        while let Some(opt) = opts.next() {
            if opt == "cgroup" {
                self.cgroup_mapping(cfg, name, opt, opts.next());
                continue;
            }
            only_mappings = false;
            let (word, rest) = match opt.split_once(':') {
                Some((w, r)) => (w, Some(r)),
                None => (opt, None),
            };
            match (word, rest) {
                ("unrestricted" | "restricted", None) => {
                    let mode = if word == "restricted" { Mode::Restricted } else { Mode::Unrestricted };
                    match t.mode {
                        Some(m) if m != mode => {
                            self.error(opt, format!("type {name} cannot be both {m} and {mode}"))
                        }
                        _ => t.mode = Some(mode),
                    }
                }
                ("no_procmgr_ability", None) => t.no_procmgr_ability = true,
                ("deny", Some(spec)) => {
                    let (list, user) = match spec.split_once(':') {
                        Some((l, u)) => (l, Some(u)),
                        None => (spec, None),
                    };
                    let nonroot_only = match user {
                        None => false,
                        Some("nonroot") => true,
                        Some(other) => {
                            self.error(other, format!("unknown user {other:?} in `deny:`; expected `nonroot`"));
                            continue;
                        }
                    };
                    for ability in self.ability_list(list, "deny") {
                        let d = Deny { ability, nonroot_only };
                        if !t.deny.contains(&d) {
                            t.deny.push(d);
                        }
                    }
                }
                ("keep", Some(list)) => t.keep.extend(self.ability_list(list, "keep")),
                ("unlock", Some(list)) => t.unlock.extend(self.ability_list(list, "unlock")),
                ("deny" | "keep" | "unlock", None) => {
                    self.error(opt, format!("`{word}` needs `:` and a list of abilities, as `{word}:setuid,setgid`"))
                }
                _ => self.error(
                    opt,
                    format!(
                        "unknown type option {opt:?}; expected unrestricted, restricted, deny:LIST[:nonroot], \
                         keep:LIST, unlock:LIST or no_procmgr_ability"
                    ),
                ),
            }
        }
        if !only_mappings || cfg.types.contains_key(name) {
            cfg.types.insert(name.to_string(), t);
        }
    }

    fn cgroup_mapping(&mut self, cfg: &mut Config, name: &str, keyword: &'a str, path: Option<&'a str>) {
        let Some(path) = path else {
            self.error(
                keyword,
                format!("`cgroup` needs a cgroup path, as `type {name} cgroup system.slice/nginx.service`"),
            );
            return;
        };
        let normal = match normalize_cgroup_path(path) {
            Ok(p) => p,
            Err(why) => {
                self.error(path, format!("bad cgroup path {path:?}: {why}"));
                return;
            }
        };
        match cfg.cgroups.iter().find(|m| m.path == normal) {
            Some(m) if m.type_name != name => self.error(
                path,
                format!("cgroup {normal} is mapped to type {} already; a cgroup has one type", m.type_name),
            ),
            Some(_) => {}
            None => cfg.cgroups.push(CgroupMapping { path: normal, type_name: name.to_string() }),
        }
    }

    fn ability_line(&mut self, cfg: &mut Config, keyword: &'a str, args: &[&'a str]) {
        let Some((&name, opts)) = args.split_first() else {
            self.error(keyword, "`ability` needs an ability name".into());
            return;
        };
        let canon = ability::normalize(name);
        if !ability::is_known(&canon) {
            self.error(name, format!("unknown ability {name:?}"));
            return;
        }
        if opts.is_empty() {
            self.error(name, "`ability` needs at least one of range, protect, type".into());
        }
        let mut a = cfg.abilities.get(&canon).copied().unwrap_or_default();
        for &opt in opts {
            match opt {
                "range" => a.range = true,
                "protect" => a.protect = true,
                "type" => a.by_type = true,
                other => self.error(
                    other,
                    format!("unknown ability option {other:?}; expected range, protect or type"),
                ),
            }
        }
        cfg.abilities.insert(canon, a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "\
# every keyword of seed 000
option unrestricted

type sshd_t deny:setuid,setgid:nonroot deny:fork
type fs_t restricted keep:setuid,setgid
type pps_t unlock:sys_nice,NET_BIND_SERVICE no_procmgr_ability
type io_pkt_t no_procmgr_ability
type dev_t unrestricted
   # indented comment
ability iofunc/read range
ability sys_nice protect
ability mydyn/thing type range
";

    #[test]
    fn every_keyword_of_the_seed() {
        let c = Config::parse("gen.conf", FULL).unwrap();
        assert_eq!(c.default_mode, Some(Mode::Unrestricted));
        let sshd = c.type_options("sshd_t").unwrap();
        assert!(sshd.denies("setuid", false) && !sshd.denies("setuid", true));
        assert!(sshd.denies("fork", true) && sshd.denies("fork", false));
        assert!(!sshd.denies("chown", false));
        let fs = c.type_options("fs_t").unwrap();
        assert_eq!(fs.mode, Some(Mode::Restricted));
        assert_eq!(fs.keep.iter().collect::<Vec<_>>(), ["setgid", "setuid"]);
        let pps = c.type_options("pps_t").unwrap();
        assert!(pps.no_procmgr_ability);
        assert_eq!(pps.unlock.iter().collect::<Vec<_>>(), ["net_bind_service", "sys_nice"]);
        assert_eq!(c.type_options("dev_t").unwrap().mode, Some(Mode::Unrestricted));
        assert!(c.ability_options("iofunc/read").range);
        assert_eq!(c.protected(), vec!["sys_nice".to_string()]);
        let d = c.ability_options("mydyn/thing");
        assert!(d.by_type && d.range && !d.protect);
        assert_eq!(c.ability_options("chown"), AbilityOptions::default());
    }

    #[test]
    fn mistakes_name_file_line_and_column() {
        let text = "option sometimes\n\ntype 9t\ntype a_t deny:setuid:everyone frobnicate\nability nosuch range\nability setuid\nwidget x\ntype b_t keep\n";
        let Err(ConfigError::Invalid(errs)) = Config::parse("g.conf", text) else { panic!("accepted") };
        let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![
                "g.conf:1:8: error: unknown option \"sometimes\"; expected `restricted` or `unrestricted`",
                "g.conf:3:6: error: bad type name \"9t\"",
                "g.conf:4:22: error: unknown user \"everyone\" in `deny:`; expected `nonroot`",
                "g.conf:4:31: error: unknown type option \"frobnicate\"; expected unrestricted, restricted, deny:LIST[:nonroot], keep:LIST, unlock:LIST or no_procmgr_ability",
                "g.conf:5:9: error: unknown ability \"nosuch\"",
                "g.conf:6:9: error: `ability` needs at least one of range, protect, type",
                "g.conf:7:1: error: unknown statement \"widget\"; expected `option`, `type` or `ability`",
                "g.conf:8:10: error: `keep` needs `:` and a list of abilities, as `keep:setuid,setgid`",
            ]
        );
    }

    #[test]
    fn contradictions_are_errors() {
        let err = Config::parse("c", "type a_t restricted\ntype a_t unrestricted\n").unwrap_err();
        assert_eq!(err.to_string(), "c:2:10: error: type a_t cannot be both restricted and unrestricted");
        let err = Config::parse("c", "option restricted\noption unrestricted\n").unwrap_err();
        assert!(err.to_string().starts_with("c:2:8: error: `option unrestricted` contradicts"), "{err}");
        let err = Config::parse("c", "type a_t deny:,x\n").unwrap_err();
        assert!(err.to_string().contains("c:1:15: error: empty ability name"), "{err}");
    }

    #[test]
    fn cgroup_mappings_and_the_switch_of_automatic_names() {
        let c = Config::parse(
            "c",
            "option no_cgroup_types\ntype web_t cgroup /system.slice/nginx.service/ restricted\n\
             type web_t cgroup system.slice/nginx.service cgroup system.slice/php.service\n",
        )
        .unwrap();
        assert!(c.no_cgroup_types);
        let got: Vec<(&str, &str)> =
            c.cgroups.iter().map(|m| (m.path.as_str(), m.type_name.as_str())).collect();
        assert_eq!(got, [("system.slice/nginx.service", "web_t"), ("system.slice/php.service", "web_t")]);
        assert_eq!(c.type_options("web_t").unwrap().mode, Some(Mode::Restricted));
        assert!(!Config::parse("c", "type a_t\n").unwrap().no_cgroup_types);
        let only = Config::parse("c", "type m_t cgroup system.slice/m.service\n").unwrap();
        assert!(only.type_options("m_t").is_none(), "a mapping alone configures nothing else");
        let text =
            "type a_t cgroup\ntype b_t cgroup ../x\ntype c_t cgroup a.service\ntype d_t cgroup /a.service\n";
        let Err(ConfigError::Invalid(errs)) = Config::parse("m.conf", text) else { panic!("accepted") };
        let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![
                "m.conf:1:10: error: `cgroup` needs a cgroup path, as `type a_t cgroup system.slice/nginx.service`",
                "m.conf:2:17: error: bad cgroup path \"../x\": a cgroup path cannot have empty, `.` or `..` components",
                "m.conf:4:17: error: cgroup a.service is mapped to type c_t already; a cgroup has one type",
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_files_are_fine() {
        assert_eq!(Config::parse("c", "").unwrap(), Config::default());
        assert_eq!(Config::parse("c", "  # x\n\n#y\n").unwrap(), Config::default());
    }

    #[test]
    fn missing_file_is_named() {
        let err = Config::load(Path::new("/nonexistent/secpol.conf")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read config /nonexistent/secpol.conf:"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = Config::parse("p", &s);
        }
    }
}
