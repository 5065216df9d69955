//! A policy as data: the model of [`secpol::policy::Policy`] flattened for
//! `secpolctl policy --json` and the HTML report. Each rule keeps its provenance: the
//! `learned: PROCESS (pid N) TIME` comments the generator writes become objects, other
//! comments stay as text.

use secpol::policy::{AbilityGrant, Comments, ConnectTarget, Domain, Policy, Values};
use serde::Serialize;

/// Who first needed a learned rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The process name as QNX prints it (`usr/sbin/nginx`).
    pub process: String,
    /// Its pid.
    pub pid: u32,
    /// When, `2026-11-29T10:41:41Z`.
    pub time: String,
}

/// The comments of a rule: provenance and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notes {
    /// `learned:` comments.
    pub provenance: Vec<Provenance>,
    /// Every other comment line.
    pub comments: Vec<String>,
}

/// Reads `learned: usr/bin/touch (pid 2949147) 2026-11-29T10:00:00Z`.
pub fn parse_provenance(line: &str) -> Option<Provenance> {
    let rest = line.strip_prefix("learned: ")?;
    let (process, rest) = rest.rsplit_once(" (pid ")?;
    let (pid, time) = rest.split_once(") ")?;
    Some(Provenance { process: process.to_string(), pid: pid.parse().ok()?, time: time.trim().to_string() })
}

impl From<&Comments> for Notes {
    fn from(c: &Comments) -> Self {
        let mut n = Notes::default();
        for l in c.lines() {
            match parse_provenance(l) {
                Some(p) => n.provenance.push(p),
                None => n.comments.push(l.clone()),
            }
        }
        n
    }
}

/// The values an ability is granted over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuesView {
    /// Any value.
    Any,
    /// Inclusive numeric ranges `[lo, hi]`.
    Ranges(Vec<[u64; 2]>),
    /// Types or attributes.
    Types(Vec<String>),
}

/// One ability granted to a subject in one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbilityView {
    /// The ability, lower case.
    pub ability: String,
    /// `root` (effective uid 0) or `nonroot` (any uid).
    pub domain: &'static str,
    /// What it is granted over.
    pub values: ValuesView,
    /// `unlock`.
    pub unlock: bool,
    /// `noinherit`.
    pub noinherit: bool,
    /// Who needed it.
    #[serde(flatten)]
    pub notes: Notes,
}

impl AbilityView {
    /// The values as the policy writes them (`:0`, `:80-81,443`, empty for any).
    pub fn values_text(&self) -> String {
        match &self.values {
            ValuesView::Any => String::new(),
            ValuesView::Ranges(r) => {
                let parts: Vec<String> = r
                    .iter()
                    .map(|[lo, hi]| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") })
                    .collect();
                format!(":{}", parts.join(","))
            }
            ValuesView::Types(t) => format!(":{}", t.join(",")),
        }
    }

    /// Whether the grant lets a process become root (`setuid`/`setgid` over 0, or any id).
    pub fn reaches_root(&self) -> bool {
        match &self.values {
            ValuesView::Any => true,
            ValuesView::Ranges(r) => r.iter().any(|[lo, _]| *lo == 0),
            ValuesView::Types(_) => false,
        }
    }
}

/// A path rule (`allow_attach`, `allow_link`) or a connect rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetView {
    /// The path pattern, or the type connected to (`self` for its own).
    pub target: String,
    /// Who needed it.
    #[serde(flatten)]
    pub notes: Notes,
}

/// A type or an attribute with its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectView {
    /// The name.
    pub name: String,
    /// `type` or `attribute`.
    pub kind: &'static str,
    /// For a type, its attributes.
    pub attributes: Vec<String>,
    /// Comments on the declaration.
    pub comments: Vec<String>,
    /// Ability grants, root ones first, by name.
    pub abilities: Vec<AbilityView>,
    /// `allow_attach` patterns.
    pub attach: Vec<TargetView>,
    /// `allow_link` patterns.
    pub link: Vec<TargetView>,
    /// `allow S X:channel connect` objects.
    pub connect: Vec<TargetView>,
}

/// A `derive_type` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivationView {
    /// Parent type.
    pub parent: String,
    /// Program.
    pub program: String,
    /// Derived type.
    pub derived: String,
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// Where it came from (`the running generator (...)`, a file).
    pub source: String,
    /// Types and attributes, by name.
    pub types: Vec<SubjectView>,
    /// Custom abilities declared with `ability NAME;`.
    pub declared_abilities: Vec<String>,
    /// `derive_type` rules.
    pub derivations: Vec<DerivationView>,
}

fn values(v: &Values) -> ValuesView {
    match v {
        Values::Any => ValuesView::Any,
        Values::Numbers(r) => ValuesView::Ranges(r.ranges().iter().map(|s| [s.lo, s.hi]).collect()),
        Values::Types(t) => ValuesView::Types(t.iter().cloned().collect()),
    }
}

fn ability(name: &str, domain: Domain, g: &AbilityGrant) -> AbilityView {
    AbilityView {
        ability: name.to_string(),
        domain: match domain {
            Domain::Root => "root",
            Domain::NonRoot => "nonroot",
        },
        values: values(&g.values),
        unlock: g.unlock,
        noinherit: g.noinherit,
        notes: Notes::from(&g.comments),
    }
}

fn targets<'a, K: 'a>(
    rules: impl Iterator<Item = (&'a K, &'a Comments)>,
    text: impl Fn(&K) -> String,
) -> Vec<TargetView> {
    rules.map(|(k, c)| TargetView { target: text(k), notes: Notes::from(c) }).collect()
}

impl PolicyView {
    /// The view of `policy`, read from `source`.
    pub fn new(policy: &Policy, source: &str) -> PolicyView {
        let empty = secpol::policy::SubjectRules::default();
        let mut names: Vec<(&str, &'static str)> =
            policy.types().keys().map(|t| (t.as_str(), "type")).collect();
        names.extend(policy.attributes().keys().map(|a| (a.as_str(), "attribute")));
        names.sort();
        let types = names
            .into_iter()
            .map(|(name, kind)| {
                let rules = policy.rules(name).unwrap_or(&empty);
                let decl = policy.types().get(name);
                let mut abilities = Vec::new();
                for domain in [Domain::Root, Domain::NonRoot] {
                    abilities.extend(rules.abilities(domain).iter().map(|(n, g)| ability(n, domain, g)));
                }
                SubjectView {
                    name: name.to_string(),
                    kind,
                    attributes: decl.map(|d| d.attributes.iter().cloned().collect()).unwrap_or_default(),
                    comments: decl
                        .map(|d| d.comments.lines().to_vec())
                        .or_else(|| policy.attributes().get(name).map(|c| c.lines().to_vec()))
                        .unwrap_or_default(),
                    abilities,
                    attach: targets(rules.attaches().iter(), |p| p.as_str().to_string()),
                    link: targets(rules.links().iter(), |p| p.as_str().to_string()),
                    connect: targets(rules.connects().iter(), |t| match t {
                        ConnectTarget::SelfType => "self".to_string(),
                        ConnectTarget::Type(t) => t.clone(),
                    }),
                }
            })
            .collect();
        let derivations = policy
            .derivations()
            .iter()
            .map(|((parent, program), d)| DerivationView {
                parent: parent.clone(),
                program: program.clone(),
                derived: d.derived.clone(),
            })
            .collect();
        PolicyView {
            source: source.to_string(),
            types,
            declared_abilities: policy.declared_abilities().keys().cloned().collect(),
            derivations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "type web_t;\ntype db_t;\n\
        # learned: usr/sbin/nginx (pid 812) 2026-11-29T10:41:41Z\n\
        allow web_t self:ability net_bind_service:80;\n\
        allow web_t self:ability { nonroot setuid:33 };\n\
        allow web_t db_t:channel connect;\n\
        # learned: usr/sbin/nginx (pid 813) 2026-11-29T10:41:42Z\n\
        allow_attach web_t /run/web/*;\n";

    #[test]
    fn rules_keep_ranges_domains_and_provenance() {
        let p = secpol::policy::parse(TEXT, "p").unwrap();
        let v = PolicyView::new(&p, "p");
        let web = v.types.iter().find(|t| t.name == "web_t").unwrap();
        let bind = web.abilities.iter().find(|a| a.ability == "net_bind_service").unwrap();
        assert_eq!(bind.domain, "root");
        assert_eq!(bind.values, ValuesView::Ranges(vec![[80, 80]]));
        assert_eq!(
            bind.notes.provenance,
            [Provenance { process: "usr/sbin/nginx".into(), pid: 812, time: "2026-11-29T10:41:41Z".into() }]
        );
        let setuid = web.abilities.iter().find(|a| a.ability == "setuid").unwrap();
        assert_eq!(
            (setuid.domain, setuid.values_text().as_str(), setuid.reaches_root()),
            ("nonroot", ":33", false)
        );
        assert_eq!(web.connect[0].target, "db_t");
        assert_eq!(web.attach[0].target, "/run/web/*");
        assert_eq!(web.attach[0].notes.provenance[0].pid, 813);
        let json: serde_json::Value = serde_json::to_value(&v).unwrap();
        assert_eq!(json["types"][1]["abilities"][0]["values"], serde_json::json!({"ranges": [[80, 80]]}));
        assert_eq!(json["types"][1]["abilities"][0]["provenance"][0]["process"], "usr/sbin/nginx");
    }

    #[test]
    fn provenance_lines() {
        assert_eq!(parse_provenance("learned: a b (pid 1) T").unwrap().process, "a b");
        assert!(parse_provenance("unlock: configured").is_none());
        assert!(parse_provenance("learned: x (pid nope) T").is_none());
    }
}
