//! The default attribute mapping (SPEC §2): what an Entra user should look like in the target.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::model::{SourceUser, TargetUser};
use crate::config::UsernamePolicy;
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
    pub field: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The attributes where `current` differs from `desired`, compared by the SCIM model's one rule
/// ([`UserAttributes::differences`]: `userName` and emails without case, the rest exactly).
/// Blank target values count as absent.
pub(super) fn differences(desired: &DesiredUser, current: &TargetUser) -> Vec<Difference> {
    let want = UserAttributes::from(desired);
    let have = UserAttributes::from(current);
    have.differences(&want)
        .into_iter()
        .map(|field| Difference {
            field: field.path(),
            from: have.get(field),
            to: want.get(field),
        })
        .collect()
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
            email: Some(d.emails.clone()),
            phone: d.phone.clone(),
            title: d.title.clone(),
            department: d.department.clone(),
            employee_number: d.employee_number.clone(),
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
