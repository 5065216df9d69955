//! The semantic model of a policy: declarations and rules, per subject and domain.
//!
//! Everything is kept in sorted maps, so two policies with the same meaning compare
//! equal and print the same text whatever order their rules were written or learned in.
//! The `add_*` methods validate names and values and declare what a learned rule needs
//! (its subject type, a target type, a custom ability), so a policy built from events is
//! always one that [`parse`](super::parse) accepts back.

use std::collections::{BTreeMap, BTreeSet};

use crate::ability::{self, ValueKind};
use crate::event::Subrange;

use super::pattern::{Pattern, PatternError};
use super::range::RangeSet;
use super::syntax::is_single_token;

/// Longest type, attribute or ability name accepted.
pub const MAX_NAME_LEN: usize = 128;

pub use super::syntax::SELF;

/// Which credentials an ability grant applies to.
///
/// A `nonroot` grant applies to processes running with a non-zero effective uid *and*
/// to root ones (what a process may do unprivileged it may do as root); a root grant
/// only to effective uid 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// Effective uid 0 (the default in a rule).
    Root,
    /// Any effective uid (the `nonroot` keyword).
    NonRoot,
}

/// Comment lines attached to a declaration or rule (text after `# `, one line each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Comments(Vec<String>);

impl Comments {
    /// No comments.
    pub fn new() -> Self {
        Comments(Vec::new())
    }

    /// Adds a line unless an equal one is there. Control characters (a newline would
    /// end the comment) become spaces; trailing white space is dropped.
    pub fn push(&mut self, text: &str) {
        let owned;
        let clean = if text.chars().any(char::is_control) {
            owned = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
            owned.trim_end()
        } else {
            text.trim_end()
        };
        if !self.0.iter().any(|l| l == clean) {
            self.0.push(clean.to_string());
        }
    }

    /// Adds a line read from a policy text as it is (the lexer has cut it at the end of
    /// its line): a parsed policy keeps repeated comment lines, and a long comment run
    /// costs linear time.
    pub(crate) fn push_parsed(&mut self, text: &str) {
        self.0.push(text.to_string());
    }

    /// Adds every line of `other` that is not here yet, in order (linear time).
    pub fn extend_from(&mut self, other: &Comments) {
        if other.0.is_empty() || other.0 == self.0 {
            return;
        }
        let mut seen: std::collections::HashSet<String> = self.0.iter().cloned().collect();
        for l in &other.0 {
            if seen.insert(l.clone()) {
                self.0.push(l.clone());
            }
        }
    }

    /// The lines.
    pub fn lines(&self) -> &[String] {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A value a learned ability use was checked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number or numeric range (uid, port, address).
    Range(Subrange),
    /// A type (`settypeid`, `channel_connect`).
    Type(String),
}

/// The values an ability is granted over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Values {
    /// Any value (no subrange written).
    Any,
    /// Only these numbers (never empty).
    Numbers(RangeSet),
    /// Only these types or attributes (never empty).
    Types(BTreeSet<String>),
}

impl Values {
    /// Whether every value allowed by `other` is allowed by `self`.
    pub fn covers(&self, other: &Values) -> bool {
        match (self, other) {
            (Values::Any, _) => true,
            (_, Values::Any) => false,
            (Values::Numbers(a), Values::Numbers(b)) => a.covers(b),
            (Values::Types(a), Values::Types(b)) => b.is_subset(a),
            _ => false,
        }
    }

    /// Union; `None` when one side is numeric and the other typed.
    pub(crate) fn union(&self, other: &Values) -> Option<Values> {
        Some(match (self, other) {
            (Values::Any, _) | (_, Values::Any) => Values::Any,
            (Values::Numbers(a), Values::Numbers(b)) => {
                let mut a = a.clone();
                a.union_with(b);
                Values::Numbers(a)
            }
            (Values::Types(a), Values::Types(b)) => Values::Types(a.union(b).cloned().collect()),
            _ => return None,
        })
    }
}

/// One ability granted to a subject in one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbilityGrant {
    /// The values it is granted over.
    pub values: Values,
    /// `unlock`: the type manages this capability itself (capset, prctl), so the launcher
    /// leaves it changeable.
    pub unlock: bool,
    /// `noinherit`: the capability must not reach children (no inheritable/ambient).
    pub noinherit: bool,
    /// Comments printed before the ability (`first needed by ...`, `deny all lock`).
    pub comments: Comments,
}

/// The object of a channel-connect rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectTarget {
    /// `self`: channels of the subject's own type.
    SelfType,
    /// Channels of this type (or of the types of this attribute).
    Type(String),
}

/// The rules one subject (a type or an attribute) has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectRules {
    pub(crate) root: BTreeMap<String, AbilityGrant>,
    pub(crate) nonroot: BTreeMap<String, AbilityGrant>,
    pub(crate) connect: BTreeMap<ConnectTarget, Comments>,
    pub(crate) attach: BTreeMap<Pattern, Comments>,
    pub(crate) link: BTreeMap<Pattern, Comments>,
}

impl SubjectRules {
    /// Abilities granted in `domain`, by canonical name.
    pub fn abilities(&self, domain: Domain) -> &BTreeMap<String, AbilityGrant> {
        match domain {
            Domain::Root => &self.root,
            Domain::NonRoot => &self.nonroot,
        }
    }

    pub(crate) fn abilities_mut(&mut self, domain: Domain) -> &mut BTreeMap<String, AbilityGrant> {
        match domain {
            Domain::Root => &mut self.root,
            Domain::NonRoot => &mut self.nonroot,
        }
    }

    /// Adds values to the grant of `name` in `domain`, creating it; `None` when that
    /// would mix numbers and types.
    pub(crate) fn grant(&mut self, name: &str, domain: Domain, values: Values) -> Option<&mut AbilityGrant> {
        let map = self.abilities_mut(domain);
        if let Some(g) = map.get_mut(name) {
            g.values = g.values.union(&values)?;
        } else {
            let g = AbilityGrant { values, unlock: false, noinherit: false, comments: Comments::new() };
            map.insert(name.to_string(), g);
        }
        map.get_mut(name)
    }

    /// `allow S X:channel connect` rules, by object.
    pub fn connects(&self) -> &BTreeMap<ConnectTarget, Comments> {
        &self.connect
    }

    /// `allow_attach` patterns.
    pub fn attaches(&self) -> &BTreeMap<Pattern, Comments> {
        &self.attach
    }

    /// `allow_link` patterns.
    pub fn links(&self) -> &BTreeMap<Pattern, Comments> {
        &self.link
    }

    /// Whether the subject has no rule at all.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
            && self.nonroot.is_empty()
            && self.connect.is_empty()
            && self.attach.is_empty()
            && self.link.is_empty()
    }
}

/// A `type` declaration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeDecl {
    /// Attributes the type has (`type t, a1, a2;`).
    pub attributes: BTreeSet<String>,
    /// Comments printed before the declaration.
    pub comments: Comments,
}

/// A `derive_type PARENT PROGRAM DERIVED;` rule: a process of type `PARENT` that runs
/// `PROGRAM` gets type `DERIVED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    /// The type the new program runs as.
    pub derived: String,
    /// Comments printed before the rule.
    pub comments: Comments,
}

/// A mistake in building a policy through the API (the parser reports the same
/// mistakes as [`Diagnostic`](super::Diagnostic)s with positions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// Not a valid type or attribute name.
    #[error("invalid {what} name `{name}`: {why}")]
    InvalidName {
        /// `type`, `attribute`.
        what: &'static str,
        /// The name.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Not a valid ability name.
    #[error("invalid ability name `{0}`")]
    InvalidAbility(String),
    /// The name is declared as the other kind (type vs attribute).
    #[error("`{name}` is already declared as {existing}")]
    NameClash {
        /// The name.
        name: String,
        /// `a type`, `an attribute`.
        existing: &'static str,
    },
    /// An attribute that is not declared.
    #[error("undeclared attribute `{0}`")]
    UnknownAttribute(String),
    /// `ability NAME;` for a predefined ability.
    #[error("`{0}` is a predefined ability and cannot be declared")]
    PredefinedAbility(String),
    /// A value the ability does not take.
    #[error("ability `{ability}` {why}")]
    BadValue {
        /// The ability.
        ability: String,
        /// `takes no value`, `takes numbers, not types`, ...
        why: &'static str,
    },
    /// One ability of one subject mixes numeric and typed values.
    #[error("ability `{ability}` of `{subject}` mixes numbers and types")]
    MixedValues {
        /// The subject.
        subject: String,
        /// The ability.
        ability: String,
    },
    /// An invalid path pattern.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// The same parent and program derive two different types.
    #[error("`derive_type {parent} {program}` already derives `{existing}`, not `{new}`")]
    DerivationConflict {
        /// Parent type.
        parent: String,
        /// Program.
        program: String,
        /// Type already derived.
        existing: String,
        /// Type asked for.
        new: String,
    },
    /// A program name in `derive_type` that the syntax cannot carry.
    #[error("invalid program `{0}` in derive_type")]
    InvalidProgram(String),
}

/// Checks the shape of a type or attribute name: a letter or `_`, then letters, digits
/// and `_` (QNX: a hyphen is an error), at most [`MAX_NAME_LEN`] bytes, not `self` in
/// any case (the object of a rule may be written `self` or `SELF`).
pub fn check_type_name(what: &'static str, name: &str) -> Result<(), ModelError> {
    let bad = |why| Err(ModelError::InvalidName { what, name: name.to_string(), why });
    let b = name.as_bytes();
    if b.is_empty() {
        return bad("it is empty");
    }
    if b.len() > MAX_NAME_LEN {
        return bad("it is longer than 128 bytes");
    }
    if b[0].is_ascii_digit() {
        return bad("it starts with a digit");
    }
    if b.contains(&b'-') {
        return bad("it contains a hyphen (only letters, digits and `_` are allowed)");
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
        return bad("only letters, digits and `_` are allowed");
    }
    if name.eq_ignore_ascii_case(SELF) {
        return bad("`self` is reserved");
    }
    Ok(())
}

/// A policy: the model every part of the toolchain shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Comment lines at the top of the file (separated from the rest by a blank line).
    pub header: Comments,
    /// Comment lines that followed the last rule.
    pub trailing: Comments,
    pub(crate) types: BTreeMap<String, TypeDecl>,
    pub(crate) attributes: BTreeMap<String, Comments>,
    pub(crate) abilities: BTreeMap<String, Comments>,
    pub(crate) rules: BTreeMap<String, SubjectRules>,
    pub(crate) derivations: BTreeMap<(String, String), Derivation>,
}

impl Policy {
    /// An empty policy.
    pub fn new() -> Self {
        Policy::default()
    }

    /// Whether it declares and allows nothing (comments aside).
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
            && self.attributes.is_empty()
            && self.abilities.is_empty()
            && self.rules.values().all(SubjectRules::is_empty)
            && self.derivations.is_empty()
    }

    /// Declared types, by name.
    pub fn types(&self) -> &BTreeMap<String, TypeDecl> {
        &self.types
    }

    /// Declared attributes, by name, with their comments.
    pub fn attributes(&self) -> &BTreeMap<String, Comments> {
        &self.attributes
    }

    /// Declared custom abilities (`ability NAME;`), by name, with their comments.
    pub fn declared_abilities(&self) -> &BTreeMap<String, Comments> {
        &self.abilities
    }

    /// Rules by subject (type or attribute). Subjects may have empty rules.
    pub fn subjects(&self) -> &BTreeMap<String, SubjectRules> {
        &self.rules
    }

    /// The rules of one subject.
    pub fn rules(&self, subject: &str) -> Option<&SubjectRules> {
        self.rules.get(subject)
    }

    /// `derive_type` rules, by (parent type, program).
    pub fn derivations(&self) -> &BTreeMap<(String, String), Derivation> {
        &self.derivations
    }

    /// The type a process of type `parent` gets when it runs `program`, if a
    /// `derive_type` rule says so.
    pub fn derived_type(&self, parent: &str, program: &str) -> Option<&str> {
        self.derivations.get(&(parent.to_string(), program.to_string())).map(|d| d.derived.as_str())
    }

    /// Whether `name` is a declared type.
    pub fn has_type(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// Whether `name` is a declared type or attribute.
    pub fn is_subject(&self, name: &str) -> bool {
        self.types.contains_key(name) || self.attributes.contains_key(name)
    }

    /// Declares a type (nothing happens if it exists). Returns it, to add comments.
    pub fn add_type(&mut self, name: &str) -> Result<&mut TypeDecl, ModelError> {
        if !self.types.contains_key(name) {
            check_type_name("type", name)?;
            if self.attributes.contains_key(name) {
                return Err(ModelError::NameClash { name: name.into(), existing: "an attribute" });
            }
        }
        Ok(self.types.entry(name.to_string()).or_default())
    }

    /// Declares an attribute (nothing happens if it exists). Returns its comments.
    pub fn add_attribute(&mut self, name: &str) -> Result<&mut Comments, ModelError> {
        if !self.attributes.contains_key(name) {
            check_type_name("attribute", name)?;
            if self.types.contains_key(name) {
                return Err(ModelError::NameClash { name: name.into(), existing: "a type" });
            }
        }
        Ok(self.attributes.entry(name.to_string()).or_default())
    }

    /// Gives a declared type a declared attribute.
    pub fn add_type_attribute(&mut self, type_name: &str, attribute: &str) -> Result<(), ModelError> {
        if !self.attributes.contains_key(attribute) {
            return Err(ModelError::UnknownAttribute(attribute.to_string()));
        }
        self.add_type(type_name)?.attributes.insert(attribute.to_string());
        Ok(())
    }

    /// Declares a custom ability (`ability NAME;`). Predefined names are refused.
    pub fn declare_ability(&mut self, name: &str) -> Result<&mut Comments, ModelError> {
        let name = ability::normalize(name);
        check_ability_name(&name)?;
        if ability::is_static(&name) {
            return Err(ModelError::PredefinedAbility(name));
        }
        Ok(self.abilities.entry(name).or_default())
    }

    /// Grants `ability` to `subject` in `domain`, over `value` (or any value with `None`),
    /// adding to what is granted already (ranges merge; `None` widens to any value).
    /// Declares the subject as a type when it is neither a type nor an attribute, a
    /// target type, and a custom ability name. Returns the grant, to set
    /// [`unlock`](AbilityGrant::unlock) / [`noinherit`](AbilityGrant::noinherit) or add
    /// comments.
    pub fn add_ability(
        &mut self,
        subject: &str,
        ability: &str,
        domain: Domain,
        value: Option<Value>,
    ) -> Result<&mut AbilityGrant, ModelError> {
        let name = ability::normalize(ability);
        check_ability_name(&name)?;
        let kind = self.value_kind(&name);
        let values = match value {
            None => Values::Any,
            Some(Value::Range(r)) => {
                check_value_kind(&name, kind, false)?;
                Values::Numbers(RangeSet::of(r))
            }
            Some(Value::Type(t)) => {
                check_value_kind(&name, kind, true)?;
                if !self.is_subject(&t) {
                    self.add_type(&t)?;
                }
                Values::Types([t].into_iter().collect())
            }
        };
        self.declare_subject(subject)?;
        if !ability::is_static(&name) && !ability::is_dynamic(&name) {
            self.abilities.entry(name.clone()).or_default();
        }
        self.insert_ability(subject, &name, domain, values)
    }

    /// The grant of `ability` to `subject` in `domain`, to change its keywords or comments
    /// (its values stay: [`add_ability`](Self::add_ability) widens them). `None` when
    /// there is no such grant.
    pub fn grant_mut(&mut self, subject: &str, ability: &str, domain: Domain) -> Option<&mut AbilityGrant> {
        let name = ability::normalize(ability);
        self.rules.get_mut(subject)?.abilities_mut(domain).get_mut(&name)
    }

    /// Allows `subject` to connect to channels of `target`; declares both as types when
    /// they are unknown. `allow t t:channel connect` is stored as `self`.
    pub fn add_connect(&mut self, subject: &str, target: ConnectTarget) -> Result<&mut Comments, ModelError> {
        self.declare_subject(subject)?;
        if let ConnectTarget::Type(t) = &target {
            if !self.is_subject(t) {
                self.add_type(t)?;
            }
        }
        Ok(self.insert_connect(subject, target))
    }

    /// Allows `subject` to attach channels at paths matching `pattern`.
    pub fn add_attach(&mut self, subject: &str, pattern: &str) -> Result<&mut Comments, ModelError> {
        let p = Pattern::parse(pattern)?;
        self.declare_subject(subject)?;
        Ok(self.rules.entry(subject.to_string()).or_default().attach.entry(p).or_default())
    }

    /// Allows `subject` to create symbolic links at paths matching `pattern`.
    pub fn add_link(&mut self, subject: &str, pattern: &str) -> Result<&mut Comments, ModelError> {
        let p = Pattern::parse(pattern)?;
        self.declare_subject(subject)?;
        Ok(self.rules.entry(subject.to_string()).or_default().link.entry(p).or_default())
    }

    /// Adds `derive_type parent program derived;`, declaring both types when unknown.
    pub fn add_derivation(
        &mut self,
        parent: &str,
        program: &str,
        derived: &str,
    ) -> Result<&mut Comments, ModelError> {
        if program.len() > super::pattern::MAX_PATTERN_LEN || !is_single_token(program) {
            return Err(ModelError::InvalidProgram(program.to_string()));
        }
        if !self.has_type(parent) {
            self.add_type(parent)?;
        }
        if !self.has_type(derived) {
            self.add_type(derived)?;
        }
        self.insert_derivation(parent, program, derived)
    }

    /// Adds everything `other` declares and allows (comments too) to `self`. On an
    /// error (a name that is a type in one and an attribute in the other, values that
    /// mix numbers and types, conflicting `derive_type`) `self` is left unchanged.
    pub fn merge(&mut self, other: &Policy) -> Result<(), ModelError> {
        let mut out = self.clone();
        out.header.extend_from(&other.header);
        out.trailing.extend_from(&other.trailing);
        for (name, c) in &other.attributes {
            out.add_attribute(name)?.extend_from(c);
        }
        for (name, c) in &other.abilities {
            out.abilities.entry(name.clone()).or_default().extend_from(c);
        }
        for (name, decl) in &other.types {
            let t = out.add_type(name)?;
            t.attributes.extend(decl.attributes.iter().cloned());
            t.comments.extend_from(&decl.comments);
        }
        for (subject, rules) in &other.rules {
            out.declare_subject(subject)?;
            for domain in [Domain::Root, Domain::NonRoot] {
                for (name, g) in rules.abilities(domain) {
                    let mine = out.insert_ability(subject, name, domain, g.values.clone())?;
                    mine.unlock |= g.unlock;
                    mine.noinherit |= g.noinherit;
                    mine.comments.extend_from(&g.comments);
                }
            }
            for (target, c) in &rules.connect {
                out.insert_connect(subject, target.clone()).extend_from(c);
            }
            let mine = out.rules.entry(subject.clone()).or_default();
            for (p, c) in &rules.attach {
                mine.attach.entry(p.clone()).or_default().extend_from(c);
            }
            for (p, c) in &rules.link {
                mine.link.entry(p.clone()).or_default().extend_from(c);
            }
        }
        for ((parent, program), d) in &other.derivations {
            out.insert_derivation(parent, program, &d.derived)?.extend_from(&d.comments);
        }
        *self = out;
        Ok(())
    }

    /// What `self` allows that `other` does not, as a policy (the generator's `unused`
    /// is `base.difference(&learned)`). Rules are compared subject by subject: an
    /// ability keeps the values `other` lacks (a root grant is covered by the other's
    /// root or non-root grant); it also stays, whole, when `self` unlocks it and `other`
    /// does not. A path rule stays unless the other has the same pattern or one that
    /// plainly covers it (`/dev/...` covers `/dev/null`). Types, attributes and custom
    /// abilities `other` lacks are declared, and so is everything the kept rules name,
    /// so the result parses on its own.
    pub fn difference(&self, other: &Policy) -> Policy {
        let mut out = Policy::new();
        for (name, decl) in &self.types {
            if !other.types.contains_key(name) {
                out.types.insert(name.clone(), decl.clone());
            }
        }
        for (name, c) in &self.attributes {
            if !other.attributes.contains_key(name) {
                out.attributes.insert(name.clone(), c.clone());
            }
        }
        for (name, c) in &self.abilities {
            if !other.abilities.contains_key(name) {
                out.abilities.insert(name.clone(), c.clone());
            }
        }
        let empty = SubjectRules::default();
        for (subject, rules) in &self.rules {
            let theirs = other.rules.get(subject).unwrap_or(&empty);
            let mut kept = SubjectRules::default();
            for domain in [Domain::Root, Domain::NonRoot] {
                for (name, g) in rules.abilities(domain) {
                    let mut covering: Vec<&AbilityGrant> = Vec::new();
                    covering.extend(theirs.nonroot.get(name));
                    if domain == Domain::Root {
                        covering.extend(theirs.root.get(name));
                    }
                    if let Some(rest) = values_minus(&g.values, &covering) {
                        kept.abilities_mut(domain)
                            .insert(name.clone(), AbilityGrant { values: rest, ..g.clone() });
                    } else if g.unlock && !covering.iter().any(|c| c.unlock) {
                        kept.abilities_mut(domain).insert(name.clone(), g.clone());
                    }
                }
            }
            for (t, c) in &rules.connect {
                if !theirs.connect.contains_key(t) {
                    kept.connect.insert(t.clone(), c.clone());
                }
            }
            kept.attach = uncovered(&rules.attach, &theirs.attach);
            kept.link = uncovered(&rules.link, &theirs.link);
            if !kept.is_empty() {
                out.rules.insert(subject.clone(), kept);
            }
        }
        for (key, d) in &self.derivations {
            if other.derivations.get(key).map(|o| &o.derived) != Some(&d.derived) {
                out.derivations.insert(key.clone(), d.clone());
            }
        }
        out.declare_referenced_from(self);
        out
    }

    /// Copies from `source` the declarations of every name this policy's rules use but
    /// it does not declare.
    fn declare_referenced_from(&mut self, source: &Policy) {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut abilities: BTreeSet<String> = BTreeSet::new();
        for (subject, rules) in &self.rules {
            names.insert(subject.clone());
            for domain in [Domain::Root, Domain::NonRoot] {
                for (name, g) in rules.abilities(domain) {
                    abilities.insert(name.clone());
                    if let Values::Types(ts) = &g.values {
                        names.extend(ts.iter().cloned());
                    }
                }
            }
            for t in rules.connect.keys() {
                if let ConnectTarget::Type(t) = t {
                    names.insert(t.clone());
                }
            }
        }
        for ((parent, _), d) in &self.derivations {
            names.insert(parent.clone());
            names.insert(d.derived.clone());
        }
        for name in names {
            if let Some(decl) = source.types.get(&name) {
                self.types.entry(name).or_insert_with(|| decl.clone());
            } else if let Some(c) = source.attributes.get(&name) {
                self.attributes.entry(name).or_insert_with(|| c.clone());
            }
        }
        let attrs: BTreeSet<String> =
            self.types.values().flat_map(|d| d.attributes.iter().cloned()).collect();
        for a in attrs {
            if let Some(c) = source.attributes.get(&a) {
                self.attributes.entry(a).or_insert_with(|| c.clone());
            }
        }
        for a in abilities {
            if let Some(c) = source.abilities.get(&a) {
                self.abilities.entry(a).or_insert_with(|| c.clone());
            }
        }
    }

    /// What values `name` takes in this policy (custom abilities take either).
    pub(crate) fn value_kind(&self, name: &str) -> ValueKind {
        ability::value_kind(name)
    }

    /// Declares `subject` as a type unless it is a type or attribute already.
    fn declare_subject(&mut self, subject: &str) -> Result<(), ModelError> {
        if !self.is_subject(subject) {
            self.add_type(subject)?;
        }
        Ok(())
    }

    /// Adds values to a grant, creating it; names are trusted.
    pub(crate) fn insert_ability(
        &mut self,
        subject: &str,
        name: &str,
        domain: Domain,
        values: Values,
    ) -> Result<&mut AbilityGrant, ModelError> {
        self.subject_rules_mut(subject).grant(name, domain, values).ok_or_else(|| ModelError::MixedValues {
            subject: subject.to_string(),
            ability: name.to_string(),
        })
    }

    /// The rules of `subject`, created empty when missing; the name is trusted.
    pub(crate) fn subject_rules_mut(&mut self, subject: &str) -> &mut SubjectRules {
        if !self.rules.contains_key(subject) {
            self.rules.insert(subject.to_string(), SubjectRules::default());
        }
        self.rules.get_mut(subject).expect("inserted above")
    }

    /// Adds a connect rule; names are trusted.
    pub(crate) fn insert_connect(&mut self, subject: &str, target: ConnectTarget) -> &mut Comments {
        let target = match target {
            ConnectTarget::Type(t) if t == subject && self.types.contains_key(subject) => {
                ConnectTarget::SelfType
            }
            t => t,
        };
        if !self.rules.contains_key(subject) {
            self.rules.insert(subject.to_string(), SubjectRules::default());
        }
        self.rules.get_mut(subject).expect("inserted above").connect.entry(target).or_default()
    }

    /// Adds a derivation; names are trusted.
    pub(crate) fn insert_derivation(
        &mut self,
        parent: &str,
        program: &str,
        derived: &str,
    ) -> Result<&mut Comments, ModelError> {
        let key = (parent.to_string(), program.to_string());
        if let Some(d) = self.derivations.get(&key) {
            if d.derived != derived {
                return Err(ModelError::DerivationConflict {
                    parent: parent.into(),
                    program: program.into(),
                    existing: d.derived.clone(),
                    new: derived.into(),
                });
            }
        }
        let d = self
            .derivations
            .entry(key)
            .or_insert_with(|| Derivation { derived: derived.to_string(), comments: Comments::new() });
        Ok(&mut d.comments)
    }
}

/// Checks the shape of a canonical ability name as a policy can carry it: a letter or
/// `_`, then letters, digits, `_`, `-` and `/` between parts (`iofunc/read`).
pub fn check_ability_name(name: &str) -> Result<(), ModelError> {
    let starts_well = name.as_bytes().first().is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_');
    if starts_well && ability::is_well_formed(name) {
        Ok(())
    } else {
        Err(ModelError::InvalidAbility(name.to_string()))
    }
}

/// Refuses a value of the wrong kind for an ability.
pub(crate) fn check_value_kind(ability: &str, kind: ValueKind, is_type: bool) -> Result<(), ModelError> {
    let why = match (kind, is_type) {
        (ValueKind::Nothing, _) => "takes no value",
        (ValueKind::Number, true) => "takes numbers, not type names",
        (ValueKind::Type, false) => "takes type names, not numbers",
        _ => return Ok(()),
    };
    Err(ModelError::BadValue { ability: ability.to_string(), why })
}

/// The patterns of `mine` that no pattern of `theirs` covers. Only `theirs`' patterns
/// with `*` or `...` can cover another one, so equal ones are found by lookup and only
/// those are scanned.
fn uncovered(
    mine: &BTreeMap<Pattern, Comments>,
    theirs: &BTreeMap<Pattern, Comments>,
) -> BTreeMap<Pattern, Comments> {
    let wide: Vec<&Pattern> = theirs.keys().filter(|q| !q.is_literal()).collect();
    mine.iter()
        .filter(|(p, _)| !theirs.contains_key(*p) && !wide.iter().any(|q| q.covers(p)))
        .map(|(p, c)| (p.clone(), c.clone()))
        .collect()
}

/// The values of `mine` that none of `theirs` allows, or `None` when all are allowed.
fn values_minus(mine: &Values, theirs: &[&AbilityGrant]) -> Option<Values> {
    let mut covered: Option<Values> = None;
    for g in theirs {
        covered = Some(match covered {
            None => g.values.clone(),
            Some(c) => c.union(&g.values).unwrap_or(c),
        });
    }
    let Some(covered) = covered else {
        return Some(mine.clone());
    };
    match (mine, &covered) {
        (_, Values::Any) => None,
        (Values::Any, Values::Numbers(c)) => {
            let rest = RangeSet::of(Subrange { lo: 0, hi: u64::MAX }).difference(c);
            (!rest.is_empty()).then_some(Values::Numbers(rest))
        }
        (Values::Any, Values::Types(_)) => Some(Values::Any),
        (Values::Numbers(m), Values::Numbers(c)) => {
            let rest = m.difference(c);
            (!rest.is_empty()).then_some(Values::Numbers(rest))
        }
        (Values::Types(m), Values::Types(c)) => {
            let rest: BTreeSet<String> = m.difference(c).cloned().collect();
            (!rest.is_empty()).then_some(Values::Types(rest))
        }
        (m, _) => Some(m.clone()),
    }
}
