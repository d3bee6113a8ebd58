//! The attribute mapping: what an Entra user should look like in the target — the default
//! mapping of SPEC §2, with the config's `[[mappings]]` (§3.1) compiled over it, and the pair's
//! roles.

mod record;

pub use record::{CreateRecord, DesiredView};

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
    /// Which managed typed items the target user holds, recorded by [`differences`]: an update
    /// replaces those through filtered paths and adds the others.
    #[serde(skip)]
    pub held: crate::scim::Held,
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

fn trimmed(value: &Option<impl AsRef<str>>) -> Option<&str> {
    value
        .as_ref()
        .map(|v| v.as_ref().trim())
        .filter(|v| !v.is_empty())
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
/// Blank target values count as absent. Of `emails`, `phoneNumbers` and `addresses` only the
/// items of the types adsync manages are compared, so an application's other items (a private
/// email, an unmapped mobile) never make a change.
/// Mapped keys beyond the default ones are compared the same way (a home email without case);
/// `when = "create"` values never are.
/// Records in `desired` which typed items the user holds, for the update to write them.
pub(super) fn differences(desired: &mut DesiredUser, current: &TargetUser) -> Vec<Difference> {
    desired.held = current.held;
    let desired = &*desired;
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
            held: d.held,
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
            // The first is the work email, unless the application holds none.
            email: if t.held.lacks_work_email() {
                None
            } else {
                t.emails.first().cloned()
            },
            phone: clean(&t.phone),
            title: clean(&t.title),
            department: clean(&t.department),
            employee_number: clean(&t.employee_number),
            extra: BTreeMap::new(),
            roles: None,
            held: t.held,
        }
    }
}

#[cfg(test)]
mod tests;
