//! The attribute mapping: what an Entra user should look like in the target — the default
//! mapping of SPEC §2, with the config's `[[mappings]]` (§3.1) compiled over it, and the pair's
//! roles.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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

#[derive(Clone, Debug)]
struct Rule {
    key: String,
    kind: RuleKind,
    default: Option<String>,
    transform: Option<Transform>,
}

/// The config's `[[mappings]]`, compiled once per plan.
#[derive(Clone, Debug, Default)]
pub struct MappingSet {
    rules: Vec<Rule>,
    keys: Arc<MappedKeys>,
    fingerprint: String,
}

impl MappingSet {
    /// Compiles validated mappings (entries the parser would refuse are skipped).
    pub fn new(mappings: &[Mapping]) -> Self {
        if mappings.is_empty() {
            return Self::default();
        }
        let mut rules = Vec::new();
        let mut keys = MappedKeys::default();
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
            rules.push(Rule {
                key,
                kind,
                default: m.default.clone(),
                transform: m.transform,
            });
        }
        let json = serde_json::to_vec(mappings).expect("plain data serializes");
        let fingerprint = lower_hex(&Sha256::digest(&json)[..4]);
        Self {
            rules,
            keys: Arc::new(keys),
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
        let mut desired = desired_view(user, policy).to_desired();
        for rule in &self.rules {
            let (value, _) = self.value(rule, user, manager);
            set_key(&mut desired, &rule.key, value);
        }
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        desired.roles = roles;
        if !self.is_empty() {
            desired.keys = Some(self.keys.clone());
        }
        desired
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
        let (raw, origin) = match &rule.kind {
            RuleKind::Omit => return (None, Origin::Omitted),
            RuleKind::Value(v) => (Some(v.clone()), Origin::Constant),
            RuleKind::Source(s) if s == "manager" => (
                user.source("manager").and_then(manager),
                Origin::Source(s.clone()),
            ),
            RuleKind::Source(s) => (user.source(s).map(str::to_owned), Origin::Source(s.clone())),
            RuleKind::Template(t) => (render(t, user, manager), Origin::Template(t.clone())),
        };
        let value = raw
            .map(|v| match rule.transform {
                Some(t) => t.apply(&v),
                None => v,
            })
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        match (value, &rule.default) {
            (Some(v), _) => (Some(v), origin),
            (None, Some(d)) if !d.trim().is_empty() => (Some(d.clone()), Origin::Fallback),
            (None, _) => (None, origin),
        }
    }
}

/// Fills a template's `{property}` placeholders; `None` when every placeholder is empty (the
/// template "comes out empty" and the mapping's `default` applies).
fn render(
    template: &str,
    user: &SourceUser,
    manager: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    let mut any = false;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let name = &after[..close];
        let value = if name == "manager" {
            user.source(name).and_then(manager)
        } else {
            user.source(name).map(str::to_owned)
        };
        if let Some(v) = value {
            any = true;
            out.push_str(&v);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    any.then_some(out)
}

/// Writes one mapped value into the record (`None` = unset).
fn set_key(desired: &mut DesiredUser, key: &str, value: Option<String>) {
    match key {
        // Every SCIM user needs a userName: an empty mapped one keeps the policy's.
        "userName" => {
            if let Some(v) = value {
                desired.user_name = v;
            }
        }
        "emails" => desired.emails = value.unwrap_or_default(),
        "name.givenName" => desired.given_name = value,
        "name.familyName" => desired.family_name = value,
        "displayName" => desired.display_name = value,
        "phoneNumbers" => desired.phone = value,
        "title" => desired.title = value,
        "department" => desired.department = value,
        "employeeNumber" => desired.employee_number = value,
        other => match value {
            Some(v) => {
                desired.extra.insert(other.to_owned(), v);
            }
            None => {
                desired.extra.remove(other);
            }
        },
    }
}

fn clean(value: &Option<String>) -> Option<String> {
    trimmed(value).map(str::to_owned)
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// [`DesiredUser`] borrowed from the Entra user: what the planner hashes for every user, so that
/// only users with an action pay for the owned copy (most users, most cycles, have none). Same
/// fields in the same order, so it serializes, and hashes, exactly like [`DesiredUser`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DesiredView<'a> {
    #[serde(rename = "userName")]
    user_name: &'a str,
    #[serde(rename = "externalId")]
    external_id: &'a str,
    active: bool,
    #[serde(rename = "name.givenName")]
    given_name: Option<&'a str>,
    #[serde(rename = "name.familyName")]
    family_name: Option<&'a str>,
    #[serde(rename = "displayName")]
    display_name: Option<&'a str>,
    emails: &'a str,
    #[serde(rename = "phoneNumbers")]
    phone: Option<&'a str>,
    title: Option<&'a str>,
    department: Option<&'a str>,
    #[serde(rename = "employeeNumber")]
    employee_number: Option<&'a str>,
}

impl DesiredView<'_> {
    /// The owned [`DesiredUser`].
    pub fn to_desired(self) -> DesiredUser {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        DesiredUser {
            user_name: self.user_name.to_owned(),
            external_id: self.external_id.to_owned(),
            active: self.active,
            given_name: owned(self.given_name),
            family_name: owned(self.family_name),
            display_name: owned(self.display_name),
            emails: self.emails.to_owned(),
            phone: owned(self.phone),
            title: owned(self.title),
            department: owned(self.department),
            employee_number: owned(self.employee_number),
            ..DesiredUser::default()
        }
    }

    /// [`values_hash`] of [`Self::to_desired`], without making it.
    pub fn values_hash(self) -> String {
        hash_json(&self)
    }
}

/// [`desired_user`], borrowed.
pub fn desired_view(user: &SourceUser, policy: UsernamePolicy) -> DesiredView<'_> {
    let upn = user.user_principal_name.as_str();
    let user_name = match policy {
        UsernamePolicy::Upn => upn,
        UsernamePolicy::UpnLocalPart => upn.split('@').next().unwrap_or(upn),
        UsernamePolicy::Mail => trimmed(&user.mail).unwrap_or(upn),
    };
    DesiredView {
        user_name,
        external_id: &user.id,
        active: true,
        given_name: trimmed(&user.given_name),
        family_name: trimmed(&user.surname),
        display_name: trimmed(&user.display_name),
        emails: user.email(),
        phone: user
            .business_phones
            .first()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty()),
        title: trimmed(&user.job_title),
        department: trimmed(&user.department),
        employee_number: trimmed(&user.employee_id),
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
}
