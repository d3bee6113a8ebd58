//! What adsync writes to a SCIM server: the mapped attributes of one user as one comparable
//! struct ([`UserAttributes`]), the field names plans use ([`UserField`]), the create body, and a
//! PATCH built from "set these fields" ([`UserPatch`]). The wire types it reads are in
//! [`super::model`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::{
    ADDRESS_KEY, ADDRESS_PARTS, CORE_EXTRA, ENTERPRISE_EXTRA, ENTERPRISE_SCHEMA, PATCH_SCHEMA,
    TYPED_EXTRA, USER_SCHEMA, extension_of,
};
use super::typed::{Held, Slot, TypedEdit, merged_ops};
use crate::secret::Secret;

/// A mapped user attribute, named by the SCIM path the plan JSON uses (SPEC §4 `changes[].field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UserField {
    #[serde(rename = "userName")]
    UserName,
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "active")]
    Active,
    #[serde(rename = "name.givenName")]
    GivenName,
    #[serde(rename = "name.familyName")]
    FamilyName,
    #[serde(rename = "displayName")]
    DisplayName,
    #[serde(rename = "emails")]
    Emails,
    #[serde(rename = "phoneNumbers")]
    PhoneNumbers,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "department")]
    Department,
    #[serde(rename = "employeeNumber")]
    EmployeeNumber,
}

impl UserField {
    /// Every mapped field, in the order plans list them.
    pub const ALL: [UserField; 11] = [
        UserField::UserName,
        UserField::ExternalId,
        UserField::Active,
        UserField::GivenName,
        UserField::FamilyName,
        UserField::DisplayName,
        UserField::Emails,
        UserField::PhoneNumbers,
        UserField::Title,
        UserField::Department,
        UserField::EmployeeNumber,
    ];

    /// The name used in plan JSON (`changes[].field`).
    pub fn path(self) -> &'static str {
        match self {
            UserField::UserName => "userName",
            UserField::ExternalId => "externalId",
            UserField::Active => "active",
            UserField::GivenName => "name.givenName",
            UserField::FamilyName => "name.familyName",
            UserField::DisplayName => "displayName",
            UserField::Emails => "emails",
            UserField::PhoneNumbers => "phoneNumbers",
            UserField::Title => "title",
            UserField::Department => "department",
            UserField::EmployeeNumber => "employeeNumber",
        }
    }

    /// The field named `path` in plan JSON.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// The attribute path sent to the server in a PATCH.
    fn scim_path(self) -> String {
        match self {
            UserField::Department | UserField::EmployeeNumber => {
                format!("{ENTERPRISE_SCHEMA}:{}", self.path())
            }
            other => other.path().to_owned(),
        }
    }
}

/// The mapped attributes of one user: what adsync writes and compares (SPEC §2 default mapping).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAttributes {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// The primary work email.
    pub email: Option<String>,
    /// The work phone number.
    pub phone: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub employee_number: Option<String>,
    /// The other mapped attributes (SPEC §3.1), by mapping key.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// The whole `roles` list to write; `None` leaves the server's roles alone.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Which managed typed items the target user holds (what an update adds rather than
    /// replaces); not compared.
    #[serde(skip)]
    pub held: Held,
}

impl UserAttributes {
    /// The `emails` list: the work address (primary) and the home one when mapped.
    fn emails_json(&self) -> Option<Value> {
        let home = self.extra.get(TYPED_EXTRA[0].0);
        match (&self.email, home) {
            (Some(work), None) => Some(email_list(work)),
            (work, home) => {
                let mut list = Vec::new();
                if let Some(w) = work {
                    list.push(json!({"value": w, "type": "work", "primary": true}));
                }
                if let Some(h) = home {
                    list.push(json!({"value": h, "type": "home"}));
                }
                (!list.is_empty()).then_some(Value::Array(list))
            }
        }
    }

    /// The `phoneNumbers` list: work, mobile and fax, as mapped.
    fn phones_json(&self) -> Option<Value> {
        let mut list = Vec::new();
        if let Some(w) = &self.phone {
            list.push(json!({"value": w, "type": "work"}));
        }
        for (key, _, kind) in &TYPED_EXTRA[1..] {
            if let Some(v) = self.extra.get(*key) {
                list.push(json!({"value": v, "type": kind}));
            }
        }
        (!list.is_empty()).then_some(Value::Array(list))
    }

    /// The `addresses` list: the work address's mapped parts.
    fn addresses_json(&self) -> Option<Value> {
        let mut address = Map::new();
        for part in ADDRESS_PARTS {
            if let Some(v) = self.extra.get(&format!("{ADDRESS_KEY}{part}")) {
                address.insert((*part).to_owned(), json!(v));
            }
        }
        if address.is_empty() {
            return None;
        }
        address.insert("type".into(), json!("work"));
        Some(json!([address]))
    }

    fn roles_json(&self) -> Option<Value> {
        self.roles
            .as_ref()
            .map(|roles| Value::Array(roles.iter().map(|r| json!({"value": r})).collect()))
    }

    /// A field's value as plan JSON shows it (`active` as `"true"`/`"false"`; `None` = unset).
    pub fn get(&self, field: UserField) -> Option<String> {
        match field {
            UserField::UserName => Some(self.user_name.clone()),
            UserField::ExternalId => self.external_id.clone(),
            UserField::Active => Some(self.active.to_string()),
            UserField::GivenName => self.given_name.clone(),
            UserField::FamilyName => self.family_name.clone(),
            UserField::DisplayName => self.display_name.clone(),
            UserField::Emails => self.email.clone(),
            UserField::PhoneNumbers => self.phone.clone(),
            UserField::Title => self.title.clone(),
            UserField::Department => self.department.clone(),
            UserField::EmployeeNumber => self.employee_number.clone(),
        }
    }

    /// The fields whose values differ from `desired`. userName and email compare ignoring case
    /// (servers commonly fold them); everything else exactly.
    pub fn differences(&self, desired: &UserAttributes) -> Vec<UserField> {
        UserField::ALL
            .into_iter()
            .filter(|&field| {
                let (a, b) = (self.get(field), desired.get(field));
                match field {
                    UserField::UserName | UserField::Emails => {
                        a.map(|s| s.to_lowercase()) != b.map(|s| s.to_lowercase())
                    }
                    _ => a != b,
                }
            })
            .collect()
    }

    /// The JSON body of a create request (RFC 7644 §3.3).
    pub fn to_create_json(&self, password: Option<&Secret>) -> Value {
        let mut doc = Map::new();
        let mut schemas = vec![json!(USER_SCHEMA)];
        doc.insert("userName".into(), json!(self.user_name));
        if let Some(v) = &self.external_id {
            doc.insert("externalId".into(), json!(v));
        }
        let mut name = Map::new();
        if let Some(v) = &self.given_name {
            name.insert("givenName".into(), json!(v));
        }
        if let Some(v) = &self.family_name {
            name.insert("familyName".into(), json!(v));
        }
        for part in ["middleName", "formatted"] {
            if let Some(v) = self.extra.get(&format!("name.{part}")) {
                name.insert(part.into(), json!(v));
            }
        }
        if !name.is_empty() {
            doc.insert("name".into(), Value::Object(name));
        }
        if let Some(v) = &self.display_name {
            doc.insert("displayName".into(), json!(v));
        }
        if let Some(list) = self.emails_json() {
            doc.insert("emails".into(), list);
        }
        if let Some(list) = self.phones_json() {
            doc.insert("phoneNumbers".into(), list);
        }
        if let Some(list) = self.addresses_json() {
            doc.insert("addresses".into(), list);
        }
        if let Some(list) = self.roles_json()
            && !self.roles.as_ref().is_some_and(Vec::is_empty)
        {
            doc.insert("roles".into(), list);
        }
        for name in CORE_EXTRA {
            if let Some(v) = self.extra.get(*name) {
                doc.insert((*name).to_owned(), json!(v));
            }
        }
        if let Some(v) = &self.title {
            doc.insert("title".into(), json!(v));
        }
        doc.insert("active".into(), json!(self.active));
        if let Some(password) = password {
            doc.insert("password".into(), json!(password.expose()));
        }
        let mut enterprise = Map::new();
        if let Some(v) = &self.department {
            enterprise.insert("department".into(), json!(v));
        }
        if let Some(v) = &self.employee_number {
            enterprise.insert("employeeNumber".into(), json!(v));
        }
        for attr in ENTERPRISE_EXTRA {
            if let Some(v) = self.extra.get(*attr) {
                let value = if *attr == "manager" {
                    json!({"value": v})
                } else {
                    json!(v)
                };
                enterprise.insert((*attr).to_owned(), value);
            }
        }
        if !enterprise.is_empty() {
            schemas.push(json!(ENTERPRISE_SCHEMA));
            doc.insert(ENTERPRISE_SCHEMA.into(), Value::Object(enterprise));
        }
        for (key, v) in &self.extra {
            if let Some((urn, attr)) = extension_of(key) {
                if !schemas.iter().any(|s| s == urn) {
                    schemas.push(json!(urn));
                }
                doc.entry(urn.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()))
                    .as_object_mut()
                    .expect("an extension object")
                    .insert(attr.to_owned(), json!(v));
            }
        }
        doc.insert("schemas".into(), Value::Array(schemas));
        Value::Object(doc)
    }
}

fn email_list(address: &str) -> Value {
    json!([{"value": address, "type": "work", "primary": true}])
}

/// A user to create: the mapped attributes and, when configured, the initial password.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewUser {
    pub attributes: UserAttributes,
    pub password: Option<Secret>,
}

/// "Set these attributes" for one user, sent as one PATCH (RFC 7644 §3.5.2).
///
/// The managed items of `emails`, `phoneNumbers` and `addresses` (the work email and phone, and
/// the mapped home email, mobile, fax and work address) are written one by one through filtered
/// paths (`emails[type eq "work"].value`), or added when the user has no item of that type:
/// a whole list is never replaced, so the items adsync does not manage (a private email, a
/// mobile number nobody mapped) stay. For an application that refuses filtered paths,
/// [`UserPatch::to_json_merged`] writes each touched list as the application holds it with only
/// the managed items changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPatch {
    changes: Vec<(UserField, Option<String>)>,
    /// The managed typed items beyond `emails`/`phoneNumbers` in `changes`.
    typed: Vec<TypedEdit>,
    /// Other operations, built whole (SPEC §3.1 paths, `roles`).
    other: Vec<Value>,
    /// Which typed items the user holds (the default: the ones with a value).
    held: Held,
}

impl UserPatch {
    /// An empty patch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `field` to `value` (`None` removes it). `active` takes `"true"` or `"false"`;
    /// `emails` and `phoneNumbers` set the work item.
    pub fn set(mut self, field: UserField, value: Option<&str>) -> Self {
        self.changes.retain(|(f, _)| *f != field);
        self.changes.push((field, value.map(str::to_owned)));
        self
    }

    /// A patch writing `fields` with their values from `desired`.
    pub fn from_attributes(desired: &UserAttributes, fields: &[UserField]) -> Self {
        let patch = Self {
            held: desired.held,
            ..Self::new()
        };
        fields.iter().fold(patch, |patch, &field| {
            patch.set(field, desired.get(field).as_deref())
        })
    }

    /// A patch writing the plan's `fields` (SPEC §4/§3.1 names, `roles` included) with their
    /// values from `desired`. Each typed email, phone or address is its own item (see
    /// [`UserPatch`]); `desired.held` says which of them the user already has.
    pub fn from_fields(desired: &UserAttributes, fields: &[&str]) -> Self {
        let mut patch = Self {
            held: desired.held,
            ..Self::new()
        };
        let mut address: Vec<String> = Vec::new();
        for field in fields {
            match UserField::from_path(field) {
                Some(f) => patch = patch.set(f, desired.get(f).as_deref()),
                None if *field == "roles" => {
                    let value = desired.roles_json().unwrap_or_else(|| json!([]));
                    patch
                        .other
                        .push(json!({"op": "replace", "path": "roles", "value": value}));
                }
                None => {
                    if let Some((key, list, kind)) = TYPED_EXTRA.iter().find(|(k, ..)| k == field) {
                        let slot = Slot::of(list, kind).expect("a managed type");
                        let value = desired.extra.get(*key).map(String::as_str);
                        patch.typed.push(TypedEdit::single(slot, value));
                    } else if let Some(part) = field.strip_prefix(ADDRESS_KEY) {
                        address.push(part.to_owned());
                    } else {
                        let value = desired.extra.get(*field);
                        let path = if ENTERPRISE_EXTRA.contains(field) {
                            format!("{ENTERPRISE_SCHEMA}:{field}")
                        } else {
                            (*field).to_owned()
                        };
                        patch.other.push(match value {
                            Some(v) if *field == "manager" => {
                                json!({"op": "replace", "path": path, "value": {"value": v}})
                            }
                            Some(v) => json!({"op": "replace", "path": path, "value": v}),
                            None => json!({"op": "remove", "path": path}),
                        });
                    }
                }
            }
        }
        if !address.is_empty() {
            let part = |p: &str| desired.extra.get(&format!("{ADDRESS_KEY}{p}")).cloned();
            let mut values: Vec<(String, Option<String>)> = ADDRESS_PARTS
                .iter()
                .map(|p| ((*p).to_owned(), part(p)))
                .collect();
            for changed in &address {
                if !values.iter().any(|(p, _)| p == changed) {
                    values.push((changed.clone(), part(changed)));
                }
            }
            patch.typed.push(TypedEdit {
                slot: Slot::WorkAddress,
                values,
                changed: address,
            });
        }
        patch
    }

    /// Only `active`.
    pub fn active(active: bool) -> Self {
        Self::new().set(
            UserField::Active,
            Some(if active { "true" } else { "false" }),
        )
    }

    /// Does it change nothing?
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.typed.is_empty() && self.other.is_empty()
    }

    /// The fields it writes.
    pub fn fields(&self) -> Vec<UserField> {
        self.changes.iter().map(|(f, _)| *f).collect()
    }

    /// Does it write a typed item (through a filtered path)?
    pub fn writes_typed_items(&self) -> bool {
        !self.edits().is_empty()
    }

    /// Every typed item it writes, the work email and phone first.
    fn edits(&self) -> Vec<TypedEdit> {
        let mut edits: Vec<TypedEdit> = self
            .changes
            .iter()
            .filter_map(|(field, value)| match field {
                UserField::Emails => Some(TypedEdit::single(Slot::WorkEmail, value.as_deref())),
                UserField::PhoneNumbers => {
                    Some(TypedEdit::single(Slot::WorkPhone, value.as_deref()))
                }
                _ => None,
            })
            .collect();
        edits.extend(self.typed.iter().cloned());
        edits
    }

    /// The operations on the plain attributes (everything but the typed items).
    fn plain_ops(&self) -> Vec<Value> {
        self.changes
            .iter()
            .filter_map(|(field, value)| {
                let path = field.scim_path();
                match (field, value) {
                    (UserField::Emails | UserField::PhoneNumbers, _) => None,
                    (UserField::Active, value) => {
                        let active = value
                            .as_deref()
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                        Some(json!({"op": "replace", "path": path, "value": active}))
                    }
                    // userName is required: it can be changed but never removed.
                    (UserField::UserName, None) => None,
                    (_, Some(v)) => Some(json!({"op": "replace", "path": path, "value": v})),
                    (_, None) => Some(json!({"op": "remove", "path": path})),
                }
            })
            .collect()
    }

    /// The PatchOp request body, each typed item through its filtered path.
    pub fn to_json(&self) -> Value {
        let mut operations = self.plain_ops();
        for edit in self.edits() {
            let has_value = edit.values.iter().any(|(_, v)| v.is_some());
            operations.extend(edit.ops(self.held.holds(edit.slot, has_value)));
        }
        operations.extend(self.other.iter().cloned());
        json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
    }

    /// The PatchOp request body for an application that refuses filtered paths: each list a
    /// typed item is in is replaced by `current`'s (the User resource as the application holds
    /// it now) with only the managed items changed.
    pub fn to_json_merged(&self, current: &Map<String, Value>) -> Value {
        let mut operations = self.plain_ops();
        operations.extend(merged_ops(current, &self.edits()));
        operations.extend(self.other.iter().cloned());
        json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_round_trip_and_patch_targets_the_extension() {
        for field in UserField::ALL {
            assert_eq!(UserField::from_path(field.path()), Some(field));
            assert_eq!(
                serde_json::to_value(field).unwrap(),
                json!(field.path()),
                "serde name matches the plan JSON"
            );
        }
        let patch = UserPatch::new()
            .set(UserField::Department, Some("Ops"))
            .set(UserField::Title, None)
            .set(UserField::Active, Some("false"))
            .to_json();
        assert_eq!(
            patch["Operations"],
            json!([
                {"op": "replace", "path": format!("{ENTERPRISE_SCHEMA}:department"), "value": "Ops"},
                {"op": "remove", "path": "title"},
                {"op": "replace", "path": "active", "value": false},
            ])
        );
    }

    #[test]
    fn differences_fold_case_only_for_user_name_and_email() {
        let a = UserAttributes {
            user_name: "Ann@X.example".into(),
            email: Some("ANN@x.example".into()),
            title: Some("agent".into()),
            active: true,
            ..Default::default()
        };
        let mut b = a.clone();
        b.user_name = "ann@x.example".into();
        b.email = Some("ann@x.example".into());
        assert!(a.differences(&b).is_empty());
        b.title = Some("Agent".into());
        b.active = false;
        assert_eq!(a.differences(&b), vec![UserField::Active, UserField::Title]);
    }

    /// The exact operations of an update touching typed items: the ones the user holds are
    /// replaced (or removed) through filtered paths, the others added to their list; no list is
    /// replaced whole, and an application refusing filtered paths gets each list merged.
    #[test]
    fn typed_items_are_written_through_filtered_paths() {
        let current = json!({
            "emails": [
                {"value": "ann@home.example", "type": "home"},
                {"value": "old@contoso.example", "type": "work", "primary": true},
            ],
            "phoneNumbers": [{"value": "+1 555 0111", "type": "mobile"}],
            "addresses": [{"type": "work", "locality": "Bergen", "streetAddress": "Kaien 1"}],
        });
        let current = current.as_object().unwrap();
        let mut desired = UserAttributes {
            email: Some("new@contoso.example".into()),
            phone: Some("+1 555 0100".into()),
            held: Held::read(current),
            ..Default::default()
        };
        desired
            .extra
            .insert(format!("{ADDRESS_KEY}locality"), "Oslo".into());
        let fields = [
            "emails",
            "phoneNumbers",
            r#"phoneNumbers[type eq "mobile"].value"#,
            r#"addresses[type eq "work"].locality"#,
            r#"addresses[type eq "work"].streetAddress"#,
            "title",
        ];
        let patch = UserPatch::from_fields(&desired, &fields);
        assert!(patch.writes_typed_items());
        assert_eq!(
            patch.to_json()["Operations"],
            json!([
                {"op": "remove", "path": "title"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.example"},
                {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true},
                {"op": "add", "path": "phoneNumbers", "value": [{"type": "work", "value": "+1 555 0100"}]},
                {"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"},
                {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Oslo"},
                {"op": "remove", "path": "addresses[type eq \"work\"].streetAddress"},
            ])
        );
        assert_eq!(
            patch.to_json_merged(current)["Operations"],
            json!([
                {"op": "remove", "path": "title"},
                {"op": "replace", "path": "emails", "value": [
                    {"value": "ann@home.example", "type": "home"},
                    {"value": "new@contoso.example", "type": "work", "primary": true},
                ]},
                {"op": "replace", "path": "phoneNumbers", "value": [{"type": "work", "value": "+1 555 0100"}]},
                {"op": "replace", "path": "addresses", "value": [{"type": "work", "locality": "Oslo"}]},
            ])
        );
        // A user without a home email gets one added; the other emails are not named.
        desired.extra.insert(
            r#"emails[type eq "home"].value"#.into(),
            "ann@home.example".into(),
        );
        desired.held = Held::read(json!({"emails": []}).as_object().unwrap());
        let home = UserPatch::from_fields(&desired, &[r#"emails[type eq "home"].value"#]);
        assert_eq!(
            home.to_json()["Operations"],
            json!([{"op": "add", "path": "emails", "value": [{"type": "home", "value": "ann@home.example"}]}])
        );
    }
}
