//! The attribute mapping: what an Entra user should look like in the target — the default
//! mapping of SPEC §2, with the config's `[[mappings]]` (§3.1) compiled over it, and the pair's
//! roles.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::model::{SourceUser, TargetUser};
use crate::config::{DEFAULT_TARGETS, Mapping, Transform, UsernamePolicy, When, canonical_target};
use crate::scim::UserAttributes;

/// The target attributes an Entra user maps to. Field names are the plan's SCIM paths.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DesiredUser {
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(rename = "externalId")]
    pub external_id: String,
    pub active: bool,
    #[serde(rename = "name.givenName")]
    pub given_name: Option<String>,
    #[serde(rename = "name.familyName")]
    pub family_name: Option<String>,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
    /// The primary work email.
    pub emails: String,
    /// The work phone number.
    #[serde(rename = "phoneNumbers")]
    pub phone: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    #[serde(rename = "employeeNumber")]
    pub employee_number: Option<String>,
    /// Values of the other target paths the mappings fill, by key (SPEC §3.1); absent = unset.
    /// Left out of the JSON when empty, so the default mapping hashes as it always did.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// The SCIM roles the user's pairs give it, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Which keys the mappings manage (none = the default mapping only).
    #[serde(skip)]
    pub keys: Option<Arc<MappedKeys>>,
    /// The whole `roles` list to write when the roles change: the target's own roles, less the
    /// ones adsync gave and no longer gives, plus the desired ones (set by the planner).
    #[serde(skip)]
    pub roles_write: Option<Vec<String>>,
}

/// The keys a mapping set manages, shared by every user's [`DesiredUser`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedKeys {
    /// Non-default keys compared and written (`when = "always"`).
    pub extra: Vec<String>,
    /// Keys written on create only and never compared.
    pub create_only: BTreeSet<String>,
}

/// Where a mapped value came from (`adsync explain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The default mapping of SPEC §2.
    Default,
    /// A Graph property named by a mapping.
    Source(String),
    /// A mapping's `value`.
    Constant,
    /// A mapping's `template`.
    Template(String),
    /// A mapping's `default`, its source or template being empty.
    Fallback,
    /// `omit = true`.
    Omitted,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default mapping"),
            Origin::Source(s) => write!(f, "source {s}"),
            Origin::Constant => f.write_str("constant"),
            Origin::Template(t) => write!(f, "template {t}"),
            Origin::Fallback => f.write_str("default (source empty)"),
            Origin::Omitted => f.write_str("omitted"),
        }
    }
}

#[derive(Clone, Debug)]
enum RuleKind {
    Source(String),
    Value(String),
    Template(String),
    Omit,
}

/// A Graph property a rule reads, resolved from its name once per plan rather than once per
/// user: the same values as [`SourceUser::source`] (a test checks every name).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Prop {
    Id,
    Upn,
    Mail,
    GivenName,
    Surname,
    DisplayName,
    BusinessPhones,
    JobTitle,
    Department,
    EmployeeId,
    OfficeLocation,
    CompanyName,
    City,
    Country,
    UserType,
    /// The manager's Entra id, which the planner turns into its target id.
    Manager,
    /// Any other property, kept in [`SourceUser::extra`] by name.
    Other(String),
}

impl Prop {
    fn new(name: &str) -> Self {
        match name {
            "id" => Prop::Id,
            "userPrincipalName" => Prop::Upn,
            "mail" => Prop::Mail,
            "givenName" => Prop::GivenName,
            "surname" => Prop::Surname,
            "displayName" => Prop::DisplayName,
            "businessPhones" => Prop::BusinessPhones,
            "jobTitle" => Prop::JobTitle,
            "department" => Prop::Department,
            "employeeId" => Prop::EmployeeId,
            "officeLocation" => Prop::OfficeLocation,
            "companyName" => Prop::CompanyName,
            "city" => Prop::City,
            "country" => Prop::Country,
            "userType" => Prop::UserType,
            "manager" => Prop::Manager,
            other => Prop::Other(other.to_owned()),
        }
    }

    /// The user's value, trimmed; `None` when unset or blank (the manager's Entra id for
    /// [`Prop::Manager`]).
    fn get<'u>(&self, user: &'u SourceUser) -> Option<&'u str> {
        let value = match self {
            Prop::Id => Some(user.id.as_str()),
            Prop::Upn => Some(user.user_principal_name.as_str()),
            Prop::Mail => user.mail.as_deref(),
            Prop::GivenName => user.given_name.as_deref(),
            Prop::Surname => user.surname.as_deref(),
            Prop::DisplayName => user.display_name.as_deref(),
            Prop::BusinessPhones => user.business_phones.first().map(String::as_str),
            Prop::JobTitle => user.job_title.as_deref(),
            Prop::Department => user.department.as_deref(),
            Prop::EmployeeId => user.employee_id.as_deref(),
            Prop::OfficeLocation => user.office_location.as_deref(),
            Prop::CompanyName => user.company_name.as_deref(),
            Prop::City => user.city.as_deref(),
            Prop::Country => user.country.as_deref(),
            Prop::UserType => user.user_type.as_deref(),
            Prop::Manager => user.extra.get("manager").map(String::as_str),
            Prop::Other(name) => user.extra.get(name).map(String::as_str),
        };
        value.map(str::trim).filter(|v| !v.is_empty())
    }
}

/// A template split once into its text and its `{property}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Prop(Prop),
}

/// Splits a template as [`render`] reads it: an unclosed `{` is text.
fn parse_template(template: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        parts.push(Part::Prop(Prop::new(&after[..close])));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    parts
}

/// What a rule reads, compiled: its property, or its template's parts.
#[derive(Clone, Debug)]
enum Reads {
    Nothing,
    Prop(Prop),
    Template(Vec<Part>),
}

/// Where a rule's value goes in the record: one of the default attributes, or the `n`th of the
/// other keys in [`Shape::extra_keys`]. Resolved once when the mappings are compiled, so that a
/// plan does not match each rule's key text for each of its users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    UserName,
    Emails,
    GivenName,
    FamilyName,
    DisplayName,
    Phone,
    Title,
    Department,
    EmployeeNumber,
    Extra(usize),
}

impl Slot {
    /// The slot of a default attribute's key; `None` for the other keys.
    fn named(key: &str) -> Option<Self> {
        Some(match key {
            "userName" => Slot::UserName,
            "emails" => Slot::Emails,
            "name.givenName" => Slot::GivenName,
            "name.familyName" => Slot::FamilyName,
            "displayName" => Slot::DisplayName,
            "phoneNumbers" => Slot::Phone,
            "title" => Slot::Title,
            "department" => Slot::Department,
            "employeeNumber" => Slot::EmployeeNumber,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
struct Rule {
    key: String,
    slot: Slot,
    kind: RuleKind,
    reads: Reads,
    default: Option<String>,
    transform: Option<Transform>,
}

/// What every record of one mapping set shares: the keys of the values beyond the default
/// attributes (sorted, as the record's JSON lists them) and which keys the mappings manage.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shape {
    extra_keys: Vec<String>,
    /// `None` for the default mapping (no `[[mappings]]`).
    keys: Option<Arc<MappedKeys>>,
}

/// The shape of the default mapping's records: no other keys.
static DEFAULT_SHAPE: LazyLock<Arc<Shape>> = LazyLock::new(Arc::default);

/// The config's `[[mappings]]`, compiled once per plan.
#[derive(Clone, Debug)]
pub struct MappingSet {
    rules: Vec<Rule>,
    keys: Arc<MappedKeys>,
    shape: Arc<Shape>,
    fingerprint: String,
}

impl Default for MappingSet {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            keys: Arc::default(),
            shape: DEFAULT_SHAPE.clone(),
            fingerprint: String::new(),
        }
    }
}

/// Where a rule's value came from, before it is spelled as an [`Origin`] (`adsync explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Came {
    Rule,
    Fallback,
    Omitted,
}

impl MappingSet {
    /// Compiles validated mappings (entries the parser would refuse are skipped).
    pub fn new(mappings: &[Mapping]) -> Self {
        if mappings.is_empty() {
            return Self::default();
        }
        let mut rules = Vec::new();
        let mut keys = MappedKeys::default();
        let mut extra_keys = BTreeSet::new();
        for m in mappings {
            let Ok(key) = canonical_target(&m.target) else {
                continue;
            };
            let kind = match (&m.source, &m.value, &m.template, m.omit) {
                (Some(s), _, _, _) => RuleKind::Source(s.clone()),
                (_, Some(v), _, _) => RuleKind::Value(v.clone()),
                (_, _, Some(t), _) => RuleKind::Template(t.clone()),
                _ => RuleKind::Omit,
            };
            if m.when == When::Create {
                keys.create_only.insert(key.clone());
            } else if !DEFAULT_TARGETS.contains(&key.as_str()) && !matches!(kind, RuleKind::Omit) {
                keys.extra.push(key.clone());
            }
            if Slot::named(&key).is_none() {
                extra_keys.insert(key.clone());
            }
            let reads = match &kind {
                RuleKind::Source(s) => Reads::Prop(Prop::new(s)),
                RuleKind::Template(t) => Reads::Template(parse_template(t)),
                _ => Reads::Nothing,
            };
            rules.push(Rule {
                slot: Slot::UserName, // resolved below, once every other key is known
                key,
                kind,
                reads,
                default: m.default.clone(),
                transform: m.transform,
            });
        }
        let extra_keys: Vec<String> = extra_keys.into_iter().collect();
        for rule in &mut rules {
            rule.slot = Slot::named(&rule.key).unwrap_or_else(|| {
                Slot::Extra(
                    extra_keys
                        .binary_search(&rule.key)
                        .expect("every other key is listed"),
                )
            });
        }
        let json = serde_json::to_vec(mappings).expect("plain data serializes");
        let fingerprint = lower_hex(&Sha256::digest(&json)[..4]);
        let keys = Arc::new(keys);
        Self {
            rules,
            keys: keys.clone(),
            shape: Arc::new(Shape {
                extra_keys,
                keys: Some(keys),
            }),
            fingerprint,
        }
    }

    /// No mappings: the default mapping of SPEC §2 alone.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Tells mapping sets apart in the stored hash: empty for the default mapping, so hashes
    /// stored before mappings existed stay valid.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The Graph properties the mappings read beyond the default ones (for `$select`).
    pub fn sources(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for rule in &self.rules {
            match &rule.kind {
                RuleKind::Source(s) => {
                    out.insert(s.clone());
                }
                RuleKind::Template(t) => {
                    if let Ok(names) = crate::config::template_sources(t) {
                        out.extend(names.into_iter().map(str::to_owned));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The user's desired record: the default mapping, each mapping over it, and `roles`.
    /// `manager` turns the manager's Entra id into its target id (managed managers only).
    pub fn desired(
        &self,
        user: &SourceUser,
        policy: UsernamePolicy,
        roles: &[String],
        manager: &dyn Fn(&str) -> Option<String>,
    ) -> DesiredUser {
        self.view(user, policy, roles.to_vec(), manager)
            .to_desired()
    }

    /// [`Self::desired`], borrowing from the user and the mappings wherever a value is copied
    /// unchanged: what the planner hashes for every user, so that only the values a template
    /// or a transform makes are allocated (docs/PERFORMANCE.md).
    pub fn view<'a>(
        &'a self,
        user: &'a SourceUser,
        policy: UsernamePolicy,
        mut roles: Vec<String>,
        manager: &dyn Fn(&str) -> Option<String>,
    ) -> DesiredView<'a> {
        let mut view = desired_view(user, policy);
        roles.sort();
        roles.dedup();
        view.roles = roles;
        if self.is_empty() {
            return view;
        }
        view.shape = &self.shape;
        view.extra = vec![None; self.shape.extra_keys.len()];
        for rule in &self.rules {
            let (value, _) = self.eval(rule, user, manager);
            view.set(rule.slot, value);
        }
        view
    }

    /// Each mapped value of the user with where it came from (`adsync explain`), default
    /// attributes first, in the plan's field names.
    pub fn explain(
        &self,
        user: &SourceUser,
        policy: UsernamePolicy,
        manager: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<(String, Option<String>, Origin, bool)> {
        let base = UserAttributes::from(&desired_view(user, policy).to_desired());
        let mut out: Vec<(String, Option<String>, Origin, bool)> = crate::scim::UserField::ALL
            .into_iter()
            .filter(|f| DEFAULT_TARGETS.contains(&f.path()))
            .map(|f| (f.path().to_owned(), base.get(f), Origin::Default, false))
            .collect();
        for rule in &self.rules {
            let (value, origin) = self.value(rule, user, manager);
            let value = match (rule.key.as_str(), value) {
                ("userName", None) => base.get(crate::scim::UserField::UserName),
                (_, v) => v,
            };
            let create_only = self.keys.create_only.contains(&rule.key);
            match out.iter_mut().find(|(k, ..)| *k == rule.key) {
                Some(row) => *row = (rule.key.clone(), value, origin, create_only),
                None => out.push((rule.key.clone(), value, origin, create_only)),
            }
        }
        out
    }

    fn value(
        &self,
        rule: &Rule,
        user: &SourceUser,
        manager: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<String>, Origin) {
        let (value, came) = self.eval(rule, user, manager);
        let origin = match (came, &rule.kind) {
            (Came::Omitted, _) => Origin::Omitted,
            (Came::Fallback, _) => Origin::Fallback,
            (Came::Rule, RuleKind::Value(_)) => Origin::Constant,
            (Came::Rule, RuleKind::Source(s)) => Origin::Source(s.clone()),
            (Came::Rule, RuleKind::Template(t)) => Origin::Template(t.clone()),
            (Came::Rule, RuleKind::Omit) => Origin::Omitted,
        };
        (value.map(Cow::into_owned), origin)
    }

    /// One rule's value for the user: the source, constant or template, transformed and
    /// trimmed; the rule's `default` when that is empty. Borrowed unless a template, a transform
    /// or the manager's target id made it.
    fn eval<'a>(
        &'a self,
        rule: &'a Rule,
        user: &'a SourceUser,
        manager: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<Cow<'a, str>>, Came) {
        let raw: Option<Cow<'a, str>> = match (&rule.kind, &rule.reads) {
            (RuleKind::Omit, _) => return (None, Came::Omitted),
            (RuleKind::Value(v), _) => Some(Cow::Borrowed(v)),
            (_, Reads::Prop(Prop::Manager)) => {
                Prop::Manager.get(user).and_then(manager).map(Cow::Owned)
            }
            (_, Reads::Prop(prop)) => prop.get(user).map(Cow::Borrowed),
            (_, Reads::Template(parts)) => render(parts, user, manager).map(Cow::Owned),
            (_, Reads::Nothing) => None,
        };
        let value = raw
            .map(|v| match (rule.transform, v) {
                (None, v) => v,
                // In place when the text is ASCII: the same result without another copy.
                (Some(Transform::Lower), Cow::Owned(mut o)) if o.is_ascii() => {
                    o.make_ascii_lowercase();
                    Cow::Owned(o)
                }
                (Some(Transform::Upper), Cow::Owned(mut o)) if o.is_ascii() => {
                    o.make_ascii_uppercase();
                    Cow::Owned(o)
                }
                (Some(t), v) => Cow::Owned(t.apply(&v)),
            })
            .and_then(trim_cow);
        match (value, &rule.default) {
            (Some(v), _) => (Some(v), Came::Rule),
            (None, Some(d)) if !d.trim().is_empty() => (Some(Cow::Borrowed(d)), Came::Fallback),
            (None, _) => (None, Came::Rule),
        }
    }
}

/// The value trimmed, `None` when blank; copied only when owned and trimming shortens it.
fn trim_cow(value: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match value {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    })
}

/// Fills a template's `{property}` placeholders; `None` when every placeholder is empty (the
/// template "comes out empty" and the mapping's `default` applies).
fn render(
    parts: &[Part],
    user: &SourceUser,
    manager: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut out = String::with_capacity(64);
    let mut any = false;
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Prop(Prop::Manager) => {
                if let Some(v) = Prop::Manager.get(user).and_then(manager) {
                    any = true;
                    out.push_str(&v);
                }
            }
            Part::Prop(prop) => {
                if let Some(v) = prop.get(user) {
                    any = true;
                    out.push_str(v);
                }
            }
        }
    }
    any.then_some(out)
}

fn clean(value: &Option<String>) -> Option<String> {
    trimmed(value).map(str::to_owned)
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// [`DesiredUser`] borrowed from the Entra user and the mappings: what the planner hashes for
/// every user, so that only users with an action pay for an owned copy (most users, most
/// cycles, have none). It serializes, and so hashes, exactly like [`DesiredUser`].
#[derive(Clone, Debug)]
pub struct DesiredView<'a> {
    user_name: Cow<'a, str>,
    external_id: &'a str,
    active: bool,
    given_name: Option<Cow<'a, str>>,
    family_name: Option<Cow<'a, str>>,
    display_name: Option<Cow<'a, str>>,
    emails: Cow<'a, str>,
    phone: Option<Cow<'a, str>>,
    title: Option<Cow<'a, str>>,
    department: Option<Cow<'a, str>>,
    employee_number: Option<Cow<'a, str>>,
    /// The other keys' values, in the order of `shape.extra_keys`; `None` = unset.
    extra: Vec<Option<Cow<'a, str>>>,
    /// Sorted, without repeats.
    roles: Vec<String>,
    shape: &'a Arc<Shape>,
}

/// The fields of [`DesiredUser`]'s JSON, in its order and with its names: the stored hashes
/// (R4) are of those bytes.
impl Serialize for DesiredView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let has_extra = self.extra.iter().any(Option::is_some);
        let len = 11 + usize::from(has_extra) + usize::from(!self.roles.is_empty());
        let mut s = serializer.serialize_struct("DesiredUser", len)?;
        s.serialize_field("userName", &self.user_name)?;
        s.serialize_field("externalId", self.external_id)?;
        s.serialize_field("active", &self.active)?;
        s.serialize_field("name.givenName", &self.given_name)?;
        s.serialize_field("name.familyName", &self.family_name)?;
        s.serialize_field("displayName", &self.display_name)?;
        s.serialize_field("emails", &self.emails)?;
        s.serialize_field("phoneNumbers", &self.phone)?;
        s.serialize_field("title", &self.title)?;
        s.serialize_field("department", &self.department)?;
        s.serialize_field("employeeNumber", &self.employee_number)?;
        if has_extra {
            s.serialize_field("extra", &ExtraMap(self))?;
        } else {
            s.skip_field("extra")?;
        }
        if self.roles.is_empty() {
            s.skip_field("roles")?;
        } else {
            s.serialize_field("roles", &self.roles)?;
        }
        s.end()
    }
}

/// The view's other values as the map of their keys, sorted (as a `BTreeMap` serializes).
struct ExtraMap<'v, 'a>(&'v DesiredView<'a>);

impl Serialize for ExtraMap<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.extras())
    }
}

impl<'a> DesiredView<'a> {
    /// The owned [`DesiredUser`].
    pub fn to_desired(&self) -> DesiredUser {
        let owned = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::to_owned);
        DesiredUser {
            user_name: self.user_name.to_string(),
            external_id: self.external_id.to_owned(),
            active: self.active,
            given_name: owned(&self.given_name),
            family_name: owned(&self.family_name),
            display_name: owned(&self.display_name),
            emails: self.emails.to_string(),
            phone: owned(&self.phone),
            title: owned(&self.title),
            department: owned(&self.department),
            employee_number: owned(&self.employee_number),
            extra: self
                .extras()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            roles: self.roles.clone(),
            keys: self.shape.keys.clone(),
            roles_write: None,
        }
    }

    /// [`values_hash`] of [`Self::to_desired`], without making it.
    pub fn values_hash(&self) -> String {
        hash_json(self)
    }

    /// The mapped `userName`.
    pub fn user_name(&self) -> &str {
        &self.user_name
    }

    /// The mapped work email (empty when unset).
    pub fn emails(&self) -> &str {
        &self.emails
    }

    /// The set values of the other keys, by key, sorted.
    fn extras(&self) -> impl Iterator<Item = (&str, &str)> {
        self.shape
            .extra_keys
            .iter()
            .zip(&self.extra)
            .filter_map(|(k, v)| Some((k.as_str(), v.as_deref()?)))
    }

    /// Writes one mapped value (`None` = unset).
    fn set(&mut self, slot: Slot, value: Option<Cow<'a, str>>) {
        match slot {
            // Every SCIM user needs a userName: an empty mapped one keeps the policy's.
            Slot::UserName => {
                if let Some(v) = value {
                    self.user_name = v;
                }
            }
            Slot::Emails => self.emails = value.unwrap_or_default(),
            Slot::GivenName => self.given_name = value,
            Slot::FamilyName => self.family_name = value,
            Slot::DisplayName => self.display_name = value,
            Slot::Phone => self.phone = value,
            Slot::Title => self.title = value,
            Slot::Department => self.department = value,
            Slot::EmployeeNumber => self.employee_number = value,
            Slot::Extra(n) => self.extra[n] = value,
        }
    }

    /// The record a create keeps until apply time, compactly ([`CreateRecord`]).
    pub fn to_record(&self) -> CreateRecord {
        let base = [
            Some(&*self.user_name),
            Some(self.external_id),
            self.given_name.as_deref(),
            self.family_name.as_deref(),
            self.display_name.as_deref(),
            Some(&*self.emails),
            self.phone.as_deref(),
            self.title.as_deref(),
            self.department.as_deref(),
            self.employee_number.as_deref(),
        ];
        let values = || {
            base.into_iter()
                .chain(self.extra.iter().map(|v| v.as_deref()))
        };
        // Sized exactly, so that the buffer is never copied to grow or to shrink.
        let size = values()
            .chain(self.roles.iter().map(|r| Some(r.as_str())))
            .map(|v| v.map_or(1, |v| len_size(v.len() + 1) + v.len()))
            .sum::<usize>()
            + len_size(self.roles.len());
        let mut bytes = Vec::with_capacity(size);
        for value in values() {
            put(&mut bytes, value);
        }
        put_len(&mut bytes, self.roles.len());
        for role in &self.roles {
            put(&mut bytes, Some(role));
        }
        debug_assert_eq!(bytes.len(), size);
        CreateRecord {
            shape: self.shape.clone(),
            bytes: bytes.into_boxed_slice(),
        }
    }
}

/// A create's mapped record as the plan keeps it until apply time: every value one after
/// another in one allocation, each after its length, with the keys shared by the whole plan.
/// A [`DesiredUser`] kept for each of 100,000 creates was most of `plan()`'s peak with 15
/// mappings (docs/PERFORMANCE.md); this is a quarter of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRecord {
    shape: Arc<Shape>,
    /// Per value: its length + 1 as LEB128 (0 = unset), then its UTF-8. The default
    /// attributes, then the other keys in `shape.extra_keys` order, then the roles' count
    /// and the roles.
    bytes: Box<[u8]>,
}

impl CreateRecord {
    /// The owned [`DesiredUser`] (what the target writer takes).
    pub fn to_desired(&self) -> DesiredUser {
        let mut read = Reader(&self.bytes);
        let mut next = || read.value().map(str::to_owned);
        let mut desired = DesiredUser {
            user_name: next().unwrap_or_default(),
            external_id: next().unwrap_or_default(),
            active: true,
            given_name: next(),
            family_name: next(),
            display_name: next(),
            emails: next().unwrap_or_default(),
            phone: next(),
            title: next(),
            department: next(),
            employee_number: next(),
            keys: self.shape.keys.clone(),
            ..DesiredUser::default()
        };
        for key in &self.shape.extra_keys {
            if let Some(v) = read.value() {
                desired.extra.insert(key.clone(), v.to_owned());
            }
        }
        desired.roles = self.roles_from(read);
        desired
    }

    /// The roles the record gives, without making the rest.
    pub fn roles(&self) -> Vec<String> {
        let mut read = Reader(&self.bytes);
        for _ in 0..10 + self.shape.extra_keys.len() {
            read.value();
        }
        self.roles_from(read)
    }

    fn roles_from(&self, mut read: Reader<'_>) -> Vec<String> {
        let count = read.len();
        (0..count)
            .filter_map(|_| read.value().map(str::to_owned))
            .collect()
    }
}

/// How many bytes [`put_len`] takes for `n`.
fn len_size(n: usize) -> usize {
    (usize::BITS - n.leading_zeros()).max(1).div_ceil(7) as usize
}

fn put_len(bytes: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(low);
            return;
        }
        bytes.push(low | 0x80);
    }
}

fn put(bytes: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => put_len(bytes, 0),
        Some(v) => {
            put_len(bytes, v.len() + 1);
            bytes.extend_from_slice(v.as_bytes());
        }
    }
}

/// Reads a [`CreateRecord`]'s values back in the order they were put.
struct Reader<'b>(&'b [u8]);

impl<'b> Reader<'b> {
    fn len(&mut self) -> usize {
        let mut n = 0usize;
        let mut shift = 0;
        while let Some((&b, rest)) = self.0.split_first() {
            self.0 = rest;
            n |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        n
    }

    fn value(&mut self) -> Option<&'b str> {
        let len = self.len().checked_sub(1)?;
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(std::str::from_utf8(text).expect("put from a str"))
    }
}

/// [`desired_user`], borrowed.
pub fn desired_view(user: &SourceUser, policy: UsernamePolicy) -> DesiredView<'_> {
    fn borrowed(v: Option<&str>) -> Option<Cow<'_, str>> {
        v.map(Cow::Borrowed)
    }
    let upn = user.user_principal_name.as_str();
    let user_name = match policy {
        UsernamePolicy::Upn => upn,
        UsernamePolicy::UpnLocalPart => upn.split('@').next().unwrap_or(upn),
        UsernamePolicy::Mail => trimmed(&user.mail).unwrap_or(upn),
    };
    DesiredView {
        user_name: Cow::Borrowed(user_name),
        external_id: &user.id,
        active: true,
        given_name: borrowed(trimmed(&user.given_name)),
        family_name: borrowed(trimmed(&user.surname)),
        display_name: borrowed(trimmed(&user.display_name)),
        emails: Cow::Borrowed(user.email()),
        phone: user
            .business_phones
            .first()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(Cow::Borrowed),
        title: borrowed(trimmed(&user.job_title)),
        department: borrowed(trimmed(&user.department)),
        employee_number: borrowed(trimmed(&user.employee_id)),
        extra: Vec::new(),
        roles: Vec::new(),
        shape: &DEFAULT_SHAPE,
    }
}

/// Maps an Entra user to its target attributes under the `username` policy.
pub fn desired_user(user: &SourceUser, policy: UsernamePolicy) -> DesiredUser {
    desired_view(user, policy).to_desired()
}

/// [`values_hash`] tagged with the mapping set's fingerprint (`fp:hash`), so that a plan can
/// tell a mapping change from an Entra change; plain for the default mapping (hashes stored by
/// earlier versions stay valid).
pub fn tagged_hash(fingerprint: &str, hash: String) -> String {
    if fingerprint.is_empty() {
        hash
    } else {
        format!("{fingerprint}:{hash}")
    }
}

/// The mapping fingerprint a stored hash was made under (empty for the default mapping).
pub fn hash_fingerprint(stored: &str) -> &str {
    stored.split_once(':').map_or("", |(fp, _)| fp)
}

/// A stable hash of the mapped values (R4: write only when the Entra values changed).
///
/// The JSON of the mapped values is fed to SHA-256 as it is written, and the digest is spelled in
/// lower-case hex by table: the same bytes as serializing to a buffer and `format!`ting each
/// byte, which was a quarter of `plan()`'s time at 100,000 users (docs/PERFORMANCE.md).
pub fn values_hash(desired: &DesiredUser) -> String {
    hash_json(desired)
}

fn hash_json(value: &impl Serialize) -> String {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new());
    serde_json::to_writer(&mut hashing, value).expect("plain data serializes");
    lower_hex(&hashing.0.finalize())
}

/// Bytes as lower-case hex.
fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// One attribute whose target value differs from the desired one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Difference {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The attributes where `current` differs from `desired`, compared by the SCIM model's one rule
/// ([`UserAttributes::differences`]: `userName` and emails without case, the rest exactly).
/// Blank target values count as absent.
/// Mapped keys beyond the default ones are compared the same way (a home email without case);
/// `when = "create"` values never are.
pub(super) fn differences(desired: &DesiredUser, current: &TargetUser) -> Vec<Difference> {
    let want = UserAttributes::from(desired);
    let have = UserAttributes::from(current);
    let keys = desired.keys.as_deref();
    let create_only = |key: &str| keys.is_some_and(|k| k.create_only.contains(key));
    let mut out: Vec<Difference> = have
        .differences(&want)
        .into_iter()
        .filter(|field| !create_only(field.path()))
        .map(|field| Difference {
            field: field.path().to_owned(),
            from: have.get(field),
            to: want.get(field),
        })
        .collect();
    for key in keys.map(|k| k.extra.as_slice()).unwrap_or_default() {
        let to = desired.extra.get(key);
        let from = current.extra.get(key).filter(|v| !v.trim().is_empty());
        let same = match (from, to) {
            (Some(a), Some(b)) if key.starts_with("emails") => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        };
        if !same {
            out.push(Difference {
                field: key.clone(),
                from: from.cloned(),
                to: to.cloned(),
            });
        }
    }
    out
}

impl From<&DesiredUser> for UserAttributes {
    fn from(d: &DesiredUser) -> Self {
        Self {
            user_name: d.user_name.clone(),
            external_id: Some(d.external_id.clone()),
            active: d.active,
            given_name: d.given_name.clone(),
            family_name: d.family_name.clone(),
            display_name: d.display_name.clone(),
            email: (!d.emails.is_empty()).then(|| d.emails.clone()),
            phone: d.phone.clone(),
            title: d.title.clone(),
            department: d.department.clone(),
            employee_number: d.employee_number.clone(),
            extra: d.extra.clone(),
            roles: d
                .roles_write
                .clone()
                .or_else(|| (!d.roles.is_empty()).then(|| d.roles.clone())),
        }
    }
}

impl From<&TargetUser> for UserAttributes {
    fn from(t: &TargetUser) -> Self {
        Self {
            user_name: t.user_name.clone(),
            external_id: t.external_id.clone(),
            active: t.active,
            given_name: clean(&t.given_name),
            family_name: clean(&t.family_name),
            display_name: clean(&t.display_name),
            email: t.emails.first().cloned(),
            phone: clean(&t.phone),
            title: clean(&t.title),
            department: clean(&t.department),
            employee_number: clean(&t.employee_number),
            extra: BTreeMap::new(),
            roles: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mapping;

    /// Hashes stored by earlier versions (JSON buffered, then each byte `format!`ted) must still
    /// match, or every managed user would be compared field by field again after an upgrade.
    #[test]
    fn values_hash_is_the_sha256_hex_of_the_mapped_json() {
        let user = SourceUser {
            id: "0b6d4c9e-1111-2222-3333-444455556666".into(),
            user_principal_name: "Zoë.Müller@contoso.example".into(),
            mail: Some("zoe.mueller@contoso.example".into()),
            given_name: Some(" Zoë ".into()),
            surname: Some("Müller \"Quote\"".into()),
            business_phones: vec!["+49 30 1234".into()],
            job_title: Some("Lead\\Engineer".into()),
            ..SourceUser::default()
        };
        for policy in [
            UsernamePolicy::Upn,
            UsernamePolicy::UpnLocalPart,
            UsernamePolicy::Mail,
        ] {
            let desired = desired_user(&user, policy);
            let json = serde_json::to_vec(&desired).unwrap();
            let expected: String = Sha256::digest(&json)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(values_hash(&desired), expected);
            // The borrowed view the planner hashes is the same record, hashing the same.
            let view = desired_view(&user, policy);
            assert_eq!(view.to_desired(), desired);
            assert_eq!(view.values_hash(), expected);
            assert_eq!(expected.len(), 64);
        }
        let mut other = user.clone();
        other.job_title = Some("Engineer".into());
        assert_ne!(
            values_hash(&desired_user(&user, UsernamePolicy::Upn)),
            values_hash(&desired_user(&other, UsernamePolicy::Upn))
        );
    }

    /// The properties compiled once per plan read what [`SourceUser::source`] reads, by every
    /// name it knows and by any other; and templates split as they render.
    #[test]
    fn compiled_properties_and_templates_read_as_the_names_do() {
        let mut user = SourceUser {
            id: "u-1".into(),
            user_principal_name: "ann@contoso.example".into(),
            mail: Some(" ann@contoso.example ".into()),
            given_name: Some("Ann".into()),
            surname: Some("Lee".into()),
            display_name: Some("Ann Lee".into()),
            business_phones: vec!["+1 555 0100".into()],
            job_title: Some("Technician".into()),
            department: Some("Field".into()),
            employee_id: Some("4711".into()),
            office_location: Some("B1".into()),
            company_name: Some("Contoso".into()),
            city: Some("Berlin".into()),
            country: Some("DE".into()),
            user_type: Some("Member".into()),
            account_enabled: true,
            ..SourceUser::default()
        };
        user.extra.insert("manager".into(), "m-1".into());
        user.extra
            .insert("mobilePhone".into(), "+1 555 0199".into());
        user.extra
            .insert("employeeOrgData.costCenter".into(), "  ".into());
        for name in [
            "id",
            "userPrincipalName",
            "mail",
            "givenName",
            "surname",
            "displayName",
            "businessPhones",
            "jobTitle",
            "department",
            "employeeId",
            "officeLocation",
            "companyName",
            "city",
            "country",
            "userType",
            "manager",
            "mobilePhone",
            "employeeOrgData.costCenter",
            "unknown",
        ] {
            assert_eq!(Prop::new(name).get(&user), user.source(name), "{name}");
        }
        let none = |_: &str| None;
        let text = |t: &str| render(&parse_template(t), &user, &none);
        assert_eq!(text("{givenName}.{surname}").as_deref(), Some("Ann.Lee"));
        assert_eq!(text("x {unknown} y").as_deref(), None);
        assert_eq!(
            text("{city} {unclosed").as_deref(),
            Some("Berlin {unclosed")
        );
        assert_eq!(text("{}{city}}").as_deref(), Some("Berlin}"));
        let boss = |id: &str| Some(format!("t-{id}"));
        assert_eq!(
            render(&parse_template("by {manager}"), &user, &boss).as_deref(),
            Some("by t-m-1")
        );
        for n in [0, 1, 126, 127, 128, 16_383, 16_384, 1 << 30] {
            let mut bytes = Vec::new();
            put_len(&mut bytes, n);
            assert_eq!(bytes.len(), len_size(n), "{n}");
            assert_eq!(Reader(&bytes).len(), n);
        }
    }

    fn mapping(json: serde_json::Value) -> Mapping {
        serde_json::from_value(json).expect("a valid mapping")
    }

    /// The borrowed view the planner hashes and the compact record a create keeps are the
    /// record [`MappingSet::desired`] gives, with every kind of mapping: same JSON, so the same
    /// stored hashes, and the same record written at apply time.
    #[test]
    fn view_and_create_record_are_the_desired_record_under_mappings() {
        let mappings = MappingSet::new(&[
            mapping(
                serde_json::json!({"target": "costCenter", "source": "employeeOrgData.costCenter", "default": "CC-0"}),
            ),
            mapping(serde_json::json!({"target": "division", "value": " Operations "})),
            mapping(
                serde_json::json!({"target": "nickName", "template": "{givenName}.{surname}", "transform": "lower"}),
            ),
            mapping(
                serde_json::json!({"target": "title", "source": "jobTitle", "transform": "upper"}),
            ),
            mapping(
                serde_json::json!({"target": "displayName", "template": " {surname}, {givenName} "}),
            ),
            mapping(
                serde_json::json!({"target": "name.formatted", "template": "{givenName} {surname}", "when": "create"}),
            ),
            mapping(serde_json::json!({"target": "phoneNumbers", "omit": true})),
            mapping(
                serde_json::json!({"target": "urn:example:params:scim:schemas:extension:acme:2.0:User:badge", "source": "onPremisesExtensionAttributes.extensionAttribute1"}),
            ),
            mapping(serde_json::json!({"target": "manager", "source": "manager"})),
            mapping(serde_json::json!({"target": "userName", "source": "employeeId"})),
        ]);
        let long = "x".repeat(300); // a length that takes two bytes in the record
        let mut user = SourceUser {
            id: "0b6d4c9e-1111-2222-3333-444455556666".into(),
            user_principal_name: "Zoë.Müller@contoso.example".into(),
            given_name: Some(" Zoë ".into()),
            surname: Some("Müller".into()),
            business_phones: vec!["+49 30 1234".into()],
            job_title: Some("Lead Engineer".into()),
            department: Some(long.clone()),
            ..SourceUser::default()
        };
        user.extra.insert(
            "onPremisesExtensionAttributes.extensionAttribute1".into(),
            "B-7".into(),
        );
        user.extra.insert("manager".into(), "m-1".into());
        let manager = |id: &str| (id == "m-1").then(|| "target-m-1".to_owned());
        let roles = vec![
            "technician".to_owned(),
            "lead".to_owned(),
            "lead".to_owned(),
        ];
        let desired = mappings.desired(&user, UsernamePolicy::Upn, &roles, &manager);
        assert_eq!(desired.title.as_deref(), Some("LEAD ENGINEER"));
        assert_eq!(desired.display_name.as_deref(), Some("Müller, Zoë"));
        assert_eq!(desired.phone, None);
        assert_eq!(desired.department.as_deref(), Some(long.as_str()));
        assert_eq!(desired.user_name, "Zoë.Müller@contoso.example"); // employeeId unset
        assert_eq!(desired.roles, ["lead", "technician"]);
        let extra: Vec<(&str, &str)> = desired
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            extra,
            [
                ("costCenter", "CC-0"),
                ("division", "Operations"),
                ("manager", "target-m-1"),
                ("name.formatted", "Zoë Müller"),
                ("nickName", "zoë.müller"),
                (
                    "urn:example:params:scim:schemas:extension:acme:2.0:User:badge",
                    "B-7"
                ),
            ]
        );
        let view = mappings.view(&user, UsernamePolicy::Upn, roles.clone(), &manager);
        let json = serde_json::to_vec(&desired).unwrap();
        assert_eq!(serde_json::to_vec(&view).unwrap(), json);
        let expected: String = Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(view.values_hash(), expected);
        assert_eq!(values_hash(&desired), expected);
        assert_eq!(view.to_desired(), desired);
        let record = view.to_record();
        assert_eq!(record.to_desired(), desired);
        assert_eq!(record.roles(), ["lead", "technician"]);
        // A blank mapped value is unset in the record, not an empty string.
        user.extra
            .remove("onPremisesExtensionAttributes.extensionAttribute1");
        user.job_title = None;
        let view = mappings.view(&user, UsernamePolicy::Upn, Vec::new(), &manager);
        let desired = view.to_record().to_desired();
        assert_eq!(
            desired,
            mappings.desired(&user, UsernamePolicy::Upn, &[], &manager)
        );
        assert_eq!(desired.title, None);
        assert!(
            !desired
                .extra
                .contains_key("urn:example:params:scim:schemas:extension:acme:2.0:User:badge")
        );
        assert!(desired.roles.is_empty());
    }
}
