//! What the planner reads: the source snapshot (paired Entra groups, their user members, and the
//! fate of managed users outside them), the target snapshot (users and paired groups), and the
//! links adsync keeps in its state store.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One of an Entra user's optional text values. Shared: the values that repeat across a tenant
/// (department, city, company, job title, …) are held once for all the users that have them
/// ([`Interner`]). Written and read as a plain JSON string.
pub type Text = Arc<str>;

/// Hands out one shared copy of each distinct value. A department, city, company or job title
/// is held by many users of a tenant; a copy for every user was about a third of the source
/// snapshot at 100,000 users (docs/PERFORMANCE.md). Lives as long as one read of the snapshot.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Text, foldhash::fast::RandomState>);

impl Interner {
    /// Replaces `value` with the shared copy of its text, which it becomes if there is none yet.
    pub fn share(&mut self, value: &mut Option<Text>) {
        let Some(text) = value else { return };
        match self.0.get(&**text) {
            Some(shared) => *text = shared.clone(),
            None => {
                self.0.insert(text.clone());
            }
        }
    }
}

/// An Entra user, with the attributes the mapping and the scope rules read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceUser {
    /// The Entra object id.
    pub id: String,
    pub user_principal_name: String,
    pub mail: Option<Text>,
    pub given_name: Option<Text>,
    pub surname: Option<Text>,
    pub display_name: Option<Text>,
    pub business_phones: Vec<String>,
    pub job_title: Option<Text>,
    pub department: Option<Text>,
    pub employee_id: Option<Text>,
    pub office_location: Option<Text>,
    pub company_name: Option<Text>,
    pub city: Option<Text>,
    pub country: Option<Text>,
    /// `Member` or `Guest`.
    pub user_type: Option<Text>,
    pub account_enabled: bool,
    /// The other Graph properties `[[mappings]]` read (SPEC §3.1), by their source names
    /// (`mobilePhone`, `employeeOrgData.costCenter`, `manager` = the manager's object id, …);
    /// only non-empty values. Empty for the default mapping, so it costs nothing then.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl SourceUser {
    /// Shares this user's repeating values with the other users `interner` has seen: every
    /// optional value but those that identify one person (mail, display name, employee id),
    /// which would only fill the interner.
    pub fn share(&mut self, interner: &mut Interner) {
        for value in [
            &mut self.given_name,
            &mut self.surname,
            &mut self.job_title,
            &mut self.department,
            &mut self.office_location,
            &mut self.company_name,
            &mut self.city,
            &mut self.country,
            &mut self.user_type,
        ] {
            interner.share(value);
        }
    }

    /// The user's email for matching and the `emails` attribute: `mail`, else the UPN.
    pub fn email(&self) -> &str {
        self.mail
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.user_principal_name)
    }

    /// Is this a guest (B2B) account?
    pub fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    }

    /// A mapping source's value (SPEC §3.1 names), trimmed; `None` when unset or blank.
    /// `manager` is the manager's Entra object id here.
    pub fn source(&self, name: &str) -> Option<&str> {
        let value = match name {
            "id" => Some(self.id.as_str()),
            "userPrincipalName" => Some(self.user_principal_name.as_str()),
            "mail" => self.mail.as_deref(),
            "givenName" => self.given_name.as_deref(),
            "surname" => self.surname.as_deref(),
            "displayName" => self.display_name.as_deref(),
            "businessPhones" => self.business_phones.first().map(String::as_str),
            "jobTitle" => self.job_title.as_deref(),
            "department" => self.department.as_deref(),
            "employeeId" => self.employee_id.as_deref(),
            "officeLocation" => self.office_location.as_deref(),
            "companyName" => self.company_name.as_deref(),
            "city" => self.city.as_deref(),
            "country" => self.country.as_deref(),
            "userType" => self.user_type.as_deref(),
            other => self.extra.get(other).map(String::as_str),
        };
        value.map(str::trim).filter(|v| !v.is_empty())
    }
}

/// A paired Entra group and its user members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceGroup {
    pub id: String,
    pub display_name: String,
    /// ISO 8601, as Graph sends it (`2021-03-04T10:00:00Z`); compared as text, which orders it.
    pub created: Option<String>,
    /// User members, direct or transitive as the pair asks; other object types already dropped.
    pub members: BTreeSet<String>,
}

/// What became of a managed user that is in no paired group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Whereabouts {
    /// Graph no longer has the user (deleted, soft or hard).
    Deleted,
    /// The user exists; the record says whether it is enabled.
    Exists(Box<SourceUser>),
}

/// Everything the planner needs from Entra ID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSnapshot {
    /// The paired groups that exist, by Entra group id.
    pub groups: BTreeMap<String, SourceGroup>,
    /// Every user that is a member of a paired group, by id.
    pub users: BTreeMap<String, SourceUser>,
    /// Managed users (linked in the state) that are in no paired group.
    pub outside: BTreeMap<String, Whereabouts>,
}

/// A user in the target application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetUser {
    pub id: String,
    pub external_id: Option<String>,
    pub user_name: String,
    pub emails: Vec<String>,
    pub active: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub employee_number: Option<String>,
    /// The values of the other mappable target paths the user has (SPEC §3.1), by the keys
    /// [`crate::config::canonical_target`] gives.
    pub extra: BTreeMap<String, String>,
    /// The user's SCIM `roles` values.
    pub roles: Vec<String>,
    /// Which managed typed items (work email, home email, mobile, …) the user holds: an update
    /// writes those through filtered paths and adds the others.
    pub held: crate::scim::Held,
}

/// A target group with its member ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    pub id: String,
    pub display_name: String,
    pub members: BTreeSet<String>,
}

/// Everything the planner needs from the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetSnapshot {
    pub users: BTreeMap<String, TargetUser>,
    /// The paired target groups, by id.
    pub groups: BTreeMap<String, TargetGroup>,
}

/// adsync's record of one Entra user it created or linked (R2/R3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub entra_id: String,
    pub target_id: String,
    /// `single` mode: the target group adsync last put the user in.
    pub group: Option<String>,
    /// `all` mode: the memberships adsync added itself. `single` mode: groups a move was to take the
    /// user out of and did not (cut off or refused), left by the next plan.
    pub groups_added: BTreeSet<String>,
    /// Hash of the Entra values last written ([`super::values_hash`]).
    pub values_hash: String,
    /// adsync disabled this user (R6), so it may enable it again (R7).
    pub disabled_by_adsync: bool,
    /// The SCIM roles adsync gave the user (SPEC §3.1): the only ones it ever removes.
    pub roles_given: BTreeSet<String>,
    /// Set when an administrator made this link by hand (`adsync link`, the wizard's preview)
    /// rather than adsync matching it (R2).
    pub manual: Option<ManualLink>,
}

/// Who made a link by hand, and when.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManualLink {
    /// The OS user who ran `adsync link` (or the wizard).
    pub by: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
}

impl Link {
    /// A link made by hand whose values were never written: the next sync treats it as an R2
    /// link (externalId and the mapped values written where they differ).
    pub fn is_pending_manual(&self) -> bool {
        self.manual.is_some() && self.values_hash.is_empty()
    }
}

/// The links, by Entra id.
pub type Links = BTreeMap<String, Link>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A user as the state store's snapshot cache holds it (written before the values were
    /// shared) loads unchanged, writes back the same JSON, and after sharing holds one copy of
    /// a value two users have.
    #[test]
    fn cached_users_load_as_before_and_share_their_repeating_values() {
        let body = |id: &str| {
            format!(
                r#"{{"id":"{id}","user_principal_name":"{id}@contoso.example","mail":null,"given_name":"Ann","surname":null,"display_name":"Ann {id}","business_phones":[],"job_title":"Agent","department":"Support","employee_id":null,"office_location":null,"company_name":null,"city":"Oslo","country":null,"user_type":"Member","account_enabled":true}}"#
            )
        };
        let mut interner = Interner::default();
        let users = ["a", "b"].map(|id| {
            let mut user: SourceUser = serde_json::from_str(&body(id)).unwrap();
            assert_eq!(serde_json::to_string(&user).unwrap(), body(id));
            user.share(&mut interner);
            user
        });
        assert_eq!(users[0].department.as_deref(), Some("Support"));
        let [a, b] = &users;
        for (x, y) in [
            (&a.department, &b.department),
            (&a.city, &b.city),
            (&a.given_name, &b.given_name),
        ] {
            assert!(Arc::ptr_eq(x.as_ref().unwrap(), y.as_ref().unwrap()));
        }
        // A value that identifies one person is not shared.
        assert_ne!(a.display_name, b.display_name);
    }
}
