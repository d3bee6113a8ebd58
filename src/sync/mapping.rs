//! The default attribute mapping (SPEC §2): what an Entra user should look like in the target.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::model::{SourceUser, TargetUser};
use crate::config::UsernamePolicy;

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
}

fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Maps an Entra user to its target attributes under the `username` policy.
pub fn desired_user(user: &SourceUser, policy: UsernamePolicy) -> DesiredUser {
    let upn = user.user_principal_name.clone();
    let user_name = match policy {
        UsernamePolicy::Upn => upn,
        UsernamePolicy::UpnLocalPart => upn.split('@').next().unwrap_or(&upn).to_owned(),
        UsernamePolicy::Mail => clean(&user.mail).unwrap_or(upn),
    };
    DesiredUser {
        user_name,
        external_id: user.id.clone(),
        active: true,
        given_name: clean(&user.given_name),
        family_name: clean(&user.surname),
        display_name: clean(&user.display_name),
        emails: user.email().to_owned(),
        phone: user
            .business_phones
            .first()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty()),
        title: clean(&user.job_title),
        department: clean(&user.department),
        employee_number: clean(&user.employee_id),
    }
}

/// A stable hash of the mapped values (R4: write only when the Entra values changed).
pub fn values_hash(desired: &DesiredUser) -> String {
    let json = serde_json::to_vec(desired).expect("plain data serializes");
    let digest = Sha256::digest(&json);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One attribute whose target value differs from the desired one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Difference {
    pub field: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
}

fn text_differs(a: &Option<String>, b: &Option<String>) -> bool {
    clean(a) != clean(b)
}

/// The attributes where `current` differs from `desired`. `userName` and emails compare without
/// case (SCIM treats them as case-insensitive); the rest compare exactly.
pub(super) fn differences(desired: &DesiredUser, current: &TargetUser) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push =
        |field, from: Option<String>, to: Option<String>| out.push(Difference { field, from, to });
    if !desired.user_name.eq_ignore_ascii_case(&current.user_name) {
        push(
            "userName",
            Some(current.user_name.clone()),
            Some(desired.user_name.clone()),
        );
    }
    if current.external_id.as_deref() != Some(desired.external_id.as_str()) {
        push(
            "externalId",
            current.external_id.clone(),
            Some(desired.external_id.clone()),
        );
    }
    if current.active != desired.active {
        push(
            "active",
            Some(current.active.to_string()),
            Some(desired.active.to_string()),
        );
    }
    let pairs: [(&'static str, &Option<String>, &Option<String>); 7] = [
        ("name.givenName", &current.given_name, &desired.given_name),
        (
            "name.familyName",
            &current.family_name,
            &desired.family_name,
        ),
        ("displayName", &current.display_name, &desired.display_name),
        ("phoneNumbers", &current.phone, &desired.phone),
        ("title", &current.title, &desired.title),
        ("department", &current.department, &desired.department),
        (
            "employeeNumber",
            &current.employee_number,
            &desired.employee_number,
        ),
    ];
    // emails sit between displayName and phoneNumbers in the documented order.
    for (field, from, to) in pairs {
        if field == "phoneNumbers" {
            let primary = current.emails.first();
            if !primary.is_some_and(|e| e.eq_ignore_ascii_case(&desired.emails)) {
                push("emails", primary.cloned(), Some(desired.emails.clone()));
            }
        }
        if text_differs(from, to) {
            push(field, clean(from), clean(to));
        }
    }
    out
}
