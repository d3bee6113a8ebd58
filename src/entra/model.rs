//! What adsync reads from Entra ID: users, groups, group members and delta rounds, shaped as Graph
//! sends them (camelCase, with `Option` wherever Graph may omit a property or send `null`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The user properties adsync asks Graph for (`$select`); every field of [`EntraUser`].
pub const USER_SELECT: &str = "id,userPrincipalName,mail,givenName,surname,displayName,\
businessPhones,jobTitle,department,employeeId,officeLocation,companyName,city,country,userType,\
accountEnabled";

/// The group properties adsync asks Graph for.
pub const GROUP_SELECT: &str =
    "id,displayName,description,createdDateTime,securityEnabled,mailEnabled";

/// An Entra ID user, with the properties the mapping and the scope rules use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraUser {
    /// The object id (a lowercase GUID); the target's `externalId`.
    pub id: String,
    pub user_principal_name: Option<String>,
    pub mail: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub display_name: Option<String>,
    /// At most one number in practice; `[]` when none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub business_phones: Vec<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub employee_id: Option<String>,
    pub office_location: Option<String>,
    pub company_name: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// `None` only when Graph left it out; treat as enabled only when `Some(true)`.
    pub account_enabled: Option<bool>,
    /// Every other property Graph sent (those `[[mappings]]` selected, SPEC §3.1).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl EntraUser {
    /// Is this a guest (B2B) account?
    pub fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    }

    /// The mapping sources among [`Self::other`], by their SPEC §3.1 names, non-empty values
    /// only: plain strings, `employeeOrgData.*` and `onPremisesExtensionAttributes.*` flattened,
    /// and `manager` as the manager's object id.
    pub fn extra_sources(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |key: String, value: &Value| {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return,
            };
            if !text.is_empty() {
                out.insert(key, text);
            }
        };
        for (name, value) in &self.other {
            if name.starts_with('@') {
                continue;
            }
            match value {
                Value::Object(inner) if name == "manager" => {
                    if let Some(id) = inner.get("id") {
                        put(name.clone(), id);
                    }
                }
                Value::Object(inner) => {
                    for (sub, v) in inner {
                        if !sub.starts_with('@') {
                            put(format!("{name}.{sub}"), v);
                        }
                    }
                }
                other => put(name.clone(), other),
            }
        }
        out
    }

    /// Is the account enabled (explicitly)?
    pub fn is_enabled(&self) -> bool {
        self.account_enabled == Some(true)
    }
}

/// An Entra ID group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraGroup {
    pub id: String,
    pub display_name: Option<String>,
    /// ISO-8601 UTC (`2021-03-12T10:36:14Z`); used for precedence ties (R1). Sorts as text.
    pub created_date_time: Option<String>,
    pub description: Option<String>,
    pub security_enabled: Option<bool>,
    pub mail_enabled: Option<bool>,
}

/// The kind of a directory object in a membership list, from its `@odata.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectKind {
    User,
    Group,
    Device,
    ServicePrincipal,
    OrgContact,
    Other,
}

impl ObjectKind {
    /// Reads `#microsoft.graph.user` and friends.
    pub fn from_odata_type(odata_type: Option<&str>) -> Self {
        match odata_type
            .unwrap_or_default()
            .trim_start_matches("#microsoft.graph.")
        {
            "user" => Self::User,
            "group" => Self::Group,
            "device" => Self::Device,
            "servicePrincipal" => Self::ServicePrincipal,
            "orgContact" => Self::OrgContact,
            _ => Self::Other,
        }
    }
}

/// A member named in a group's `members@delta`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberRef {
    pub id: String,
    pub kind: ObjectKind,
}

/// Why an object left the directory, from `@removed.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RemovedReason {
    /// Soft-deleted (restorable for about 30 days).
    Changed,
    /// Permanently deleted.
    Deleted,
}

/// An object a delta round reports as removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub id: String,
    pub reason: RemovedReason,
}

/// A group that changed in a delta round: its properties (as far as Graph sent them) and the
/// membership changes, merged over every page the group appeared on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChange {
    pub group: EntraGroup,
    /// Members added (or present, in the first round), in the order Graph sent them.
    pub members_added: Vec<MemberRef>,
    /// Members removed.
    pub members_removed: Vec<MemberRef>,
}

/// One complete users delta round.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersDelta {
    /// New and changed users (the full selected representation).
    pub changed: Vec<EntraUser>,
    pub removed: Vec<Removed>,
    /// Where the next round starts; keep it.
    pub delta_link: String,
    /// For a changed user whose entry left out properties the request selected, their Graph
    /// names. A delta entry omits never-set properties (graph-notes §5.2), so an absent one is
    /// not an empty one: a cached value stays, and an absent `accountEnabled` is never `false`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent: BTreeMap<String, Vec<String>>,
}

/// One complete groups delta round.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupsDelta {
    /// Changed groups, one entry per group id (pages merged).
    pub changed: Vec<GroupChange>,
    pub removed: Vec<Removed>,
    /// Where the next round starts; keep it.
    pub delta_link: String,
}

/// The delta links to keep between rounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaLinks {
    pub users: String,
    pub groups: String,
}

/// A users round and a groups round read together: what changed since the last [`DeltaLinks`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaRound {
    pub users: UsersDelta,
    pub groups: GroupsDelta,
}

impl DeltaRound {
    /// The links the next round starts from.
    pub fn links(&self) -> DeltaLinks {
        DeltaLinks {
            users: self.users.delta_link.clone(),
            groups: self.groups.delta_link.clone(),
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_with_nulls_deserializes() {
        let user: EntraUser = serde_json::from_str(
            r#"{"id":"4562bcc8-c436-4f95-b7c0-4f8ce89dca5e","displayName":"Bob (guest)","userPrincipalName":"bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
               "mail":"bob@fabrikam.com","givenName":null,"surname":null,"jobTitle":null,"businessPhones":null,"department":null,"employeeId":null,
               "accountEnabled":false,"userType":"Guest","extra":1}"#,
        )
        .unwrap();
        assert!(user.is_guest());
        assert!(!user.is_enabled());
        assert!(user.business_phones.is_empty());
        assert_eq!(
            ObjectKind::from_odata_type(Some("#microsoft.graph.servicePrincipal")),
            ObjectKind::ServicePrincipal
        );
    }
}
