//! The SCIM wire resources as adsync reads them: users with the attributes of the default mapping
//! (SPEC §2) and the extra mappable ones, groups with members, and the attribute tables the
//! payload builder ([`super::payload`]) shares. Parsing is lenient the way real servers need:
//! attribute names in any case, `active` as a boolean or as the string `"true"`/`"false"`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::payload::UserAttributes;
use super::typed::Held;

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN (RFC 7643 §4.3): `department`, `employeeNumber`.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The PatchOp message URN.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(obj: &Map<String, Value>, name: &str) -> Option<String> {
    match get_ci(obj, name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean that may arrive as `true` or `"True"`.
pub(crate) fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// One value of a multi-valued attribute such as `emails` or `phoneNumbers`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiValue {
    pub value: String,
    /// `type` (`work`, `home`, ...).
    pub kind: Option<String>,
    pub primary: bool,
}

fn multi_values(obj: &Map<String, Value>, name: &str) -> Vec<MultiValue> {
    let items = match get_ci(obj, name) {
        Some(Value::Array(items)) => items.as_slice(),
        _ => return Vec::new(),
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Object(o) => Some(MultiValue {
                value: text(o, "value")?,
                kind: text(o, "type"),
                primary: get_ci(o, "primary").and_then(lenient_bool).unwrap_or(false),
            }),
            Value::String(s) => Some(MultiValue {
                value: s.clone(),
                kind: None,
                primary: false,
            }),
            _ => None,
        })
        .collect()
}

/// The item adsync takes for the work one: the `work` item (the primary one if several), else
/// the primary untyped item, else the first untyped one. Items of other types (a home email, a
/// mobile number, whatever else the application keeps) are never taken for it: adsync compares
/// and writes only the types it manages.
fn work_item(values: &[MultiValue]) -> Option<&MultiValue> {
    let of = |typed: bool| {
        values.iter().filter(move |v| match &v.kind {
            Some(k) => typed && k.eq_ignore_ascii_case("work"),
            None => !typed,
        })
    };
    let first = |typed: bool| of(typed).find(|v| v.primary).or_else(|| of(typed).next());
    first(true).or_else(|| first(false))
}

/// A reference to a group (a user's `groups`) or to a member (a group's `members`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The referenced resource's id.
    pub value: String,
    pub display: Option<String>,
    /// `User` or `Group` for members; `direct` or `indirect` for a user's groups.
    pub kind: Option<String>,
}

fn refs(obj: &Map<String, Value>, name: &str) -> Vec<ResourceRef> {
    match get_ci(obj, name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|o| {
                Some(ResourceRef {
                    value: text(o, "value")?,
                    display: text(o, "display"),
                    kind: text(o, "type"),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A SCIM user as the target holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimUser {
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    /// `name.givenName`
    pub given_name: Option<String>,
    /// `name.familyName`
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub emails: Vec<MultiValue>,
    pub phone_numbers: Vec<MultiValue>,
    pub title: Option<String>,
    /// `active`; a server that leaves it out is taken to mean active.
    pub active: bool,
    /// Enterprise extension `department`.
    pub department: Option<String>,
    /// Enterprise extension `employeeNumber`.
    pub employee_number: Option<String>,
    /// The groups the server says the user is in (empty when the server does not return it).
    pub groups: Vec<ResourceRef>,
    /// `meta.version` (the ETag), weak or strong, as sent.
    pub version: Option<String>,
    /// The other mappable attributes the user has (SPEC §3.1), by their mapping keys.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// `roles` values.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Which managed typed items (work email, home email, …) the user holds.
    #[serde(default)]
    pub held: Held,
}

impl ScimUser {
    /// Reads a User resource.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let obj = value.as_object().ok_or("a user must be a JSON object")?;
        let id = text(obj, "id").ok_or("the user has no id")?;
        let user_name = text(obj, "userName").ok_or("the user has no userName")?;
        let name = get_ci(obj, "name").and_then(Value::as_object);
        let enterprise = get_ci(obj, ENTERPRISE_SCHEMA).and_then(Value::as_object);
        let emails = multi_values(obj, "emails");
        let held = Held::read(obj).with_work_email(work_item(&emails).is_some());
        Ok(Self {
            id,
            external_id: text(obj, "externalId"),
            user_name,
            given_name: name.and_then(|n| text(n, "givenName")),
            family_name: name.and_then(|n| text(n, "familyName")),
            display_name: text(obj, "displayName"),
            emails,
            phone_numbers: multi_values(obj, "phoneNumbers"),
            title: text(obj, "title"),
            active: get_ci(obj, "active").and_then(lenient_bool).unwrap_or(true),
            department: enterprise.and_then(|e| text(e, "department")),
            employee_number: enterprise.and_then(|e| text(e, "employeeNumber")),
            groups: refs(obj, "groups"),
            version: get_ci(obj, "meta")
                .and_then(Value::as_object)
                .and_then(|m| text(m, "version")),
            extra: extras(obj),
            roles: multi_values(obj, "roles")
                .into_iter()
                .map(|v| v.value)
                .collect(),
            held,
        })
    }

    /// The work email: the `work` one, else an untyped one (see `work_item`).
    pub fn primary_email(&self) -> Option<&str> {
        work_item(&self.emails).map(|v| v.value.as_str())
    }

    /// The work phone number: the `work` one, else an untyped one.
    pub fn work_phone(&self) -> Option<&str> {
        work_item(&self.phone_numbers).map(|v| v.value.as_str())
    }

    /// Does the userName or any email equal `address`, ignoring case (R2 matching)?
    pub fn has_address(&self, address: &str) -> bool {
        self.user_name.eq_ignore_ascii_case(address)
            || self
                .emails
                .iter()
                .any(|e| e.value.eq_ignore_ascii_case(address))
    }

    /// The user's current values of the mapped attributes, to compare with the desired ones.
    pub fn attributes(&self) -> UserAttributes {
        UserAttributes {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            active: self.active,
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            display_name: self.display_name.clone(),
            email: self.primary_email().map(str::to_owned),
            phone: self.work_phone().map(str::to_owned),
            title: self.title.clone(),
            department: self.department.clone(),
            employee_number: self.employee_number.clone(),
            extra: self.extra.clone(),
            roles: (!self.roles.is_empty()).then(|| self.roles.clone()),
            // The values alone: what the user holds is the planner's business.
            held: Held::default(),
        }
    }
}

/// Core attributes beyond the default mapping that take a plain value.
pub(super) const CORE_EXTRA: &[&str] = &[
    "nickName",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
];
/// Typed values of multi-valued attributes beyond the work email and phone: (key, list, type).
pub(super) const TYPED_EXTRA: &[(&str, &str, &str)] = &[
    (r#"emails[type eq "home"].value"#, "emails", "home"),
    (
        r#"phoneNumbers[type eq "mobile"].value"#,
        "phoneNumbers",
        "mobile",
    ),
    (
        r#"phoneNumbers[type eq "fax"].value"#,
        "phoneNumbers",
        "fax",
    ),
];
pub(super) const ADDRESS_KEY: &str = r#"addresses[type eq "work"]."#;
pub(super) const ADDRESS_PARTS: &[&str] = &[
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
];
pub(super) const ENTERPRISE_EXTRA: &[&str] = &["costCenter", "organization", "division", "manager"];

fn typed<'a>(
    obj: &'a Map<String, Value>,
    list: &str,
    kind: &str,
) -> Option<&'a Map<String, Value>> {
    match get_ci(obj, list)? {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_object)
            .find(|o| text(o, "type").is_some_and(|t| t.eq_ignore_ascii_case(kind))),
        _ => None,
    }
}

/// The mappable attributes beyond the default ones that a User resource holds, by mapping key:
/// core ones, typed emails and phones, the work address, the enterprise extension's others, and
/// every attribute of any other schema extension (`URN:attribute`).
fn extras(obj: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for name in CORE_EXTRA {
        if let Some(v) = text(obj, name) {
            out.insert((*name).to_owned(), v);
        }
    }
    if let Some(name) = get_ci(obj, "name").and_then(Value::as_object) {
        for part in ["middleName", "formatted"] {
            if let Some(v) = text(name, part) {
                out.insert(format!("name.{part}"), v);
            }
        }
    }
    for (key, list, kind) in TYPED_EXTRA {
        if let Some(v) = typed(obj, list, kind).and_then(|o| text(o, "value")) {
            out.insert((*key).to_owned(), v);
        }
    }
    if let Some(address) = typed(obj, "addresses", "work") {
        for part in ADDRESS_PARTS {
            if let Some(v) = text(address, part) {
                out.insert(format!("{ADDRESS_KEY}{part}"), v);
            }
        }
    }
    for (urn, value) in obj {
        let Some(ext) = value.as_object() else {
            continue;
        };
        if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            for name in ENTERPRISE_EXTRA {
                let v = match get_ci(ext, name) {
                    Some(Value::Object(m)) => text(m, "value"),
                    Some(_) => text(ext, name),
                    None => None,
                };
                if let Some(v) = v {
                    out.insert((*name).to_owned(), v);
                }
            }
        } else if urn.len() > 4 && urn[..4].eq_ignore_ascii_case("urn:") {
            for (attr, _) in ext {
                if let Some(v) = text(ext, attr) {
                    out.insert(format!("{urn}:{attr}"), v);
                }
            }
        }
    }
    out
}

/// The schema extension URN of an `URN:attribute` key (`None` for the core and enterprise keys).
pub(super) fn extension_of(key: &str) -> Option<(&str, &str)> {
    key.starts_with("urn:")
        .then(|| key.rsplit_once(':'))
        .flatten()
}

/// A SCIM group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimGroup {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Members as the server returned them (empty when members were not requested).
    pub members: Vec<ResourceRef>,
    pub version: Option<String>,
}

impl ScimGroup {
    /// Reads a Group resource.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let obj = value.as_object().ok_or("a group must be a JSON object")?;
        Ok(Self {
            id: text(obj, "id").ok_or("the group has no id")?,
            display_name: text(obj, "displayName").unwrap_or_default(),
            external_id: text(obj, "externalId"),
            members: refs(obj, "members"),
            version: get_ci(obj, "meta")
                .and_then(Value::as_object)
                .and_then(|m| text(m, "version")),
        })
    }

    /// The members' ids.
    pub fn member_ids(&self) -> Vec<String> {
        self.members.iter().map(|m| m.value.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_users_leniently() {
        let user = ScimUser::from_json(&json!({
            "ID": "1", "USERNAME": "Ann@x.example", "Active": "False",
            "name": {"GivenName": "Ann"},
            "emails": [{"value": "home@x.example", "type": "home"}, {"value": "ann@x.example", "type": "work"}],
            "phoneNumbers": [{"value": "1", "type": "mobile", "primary": "true"}, {"value": "2", "type": "work"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Ops", "employeeNumber": 7},
            "meta": {"version": "W/\"3\""}
        }))
        .unwrap();
        assert_eq!(user.user_name, "Ann@x.example");
        assert!(!user.active);
        assert_eq!(user.given_name.as_deref(), Some("Ann"));
        assert_eq!(user.primary_email(), Some("ann@x.example"));
        assert_eq!(user.work_phone(), Some("2"));
        assert_eq!(user.department.as_deref(), Some("Ops"));
        assert_eq!(user.employee_number.as_deref(), Some("7"));
        assert_eq!(user.version.as_deref(), Some("W/\"3\""));
        assert!(user.has_address("HOME@x.example"));
    }
}
