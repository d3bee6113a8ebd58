//! The target side of a sync: reading the target snapshot through the SCIM client, and the
//! [`TargetWriter`] the SCIM client provides to `apply()`.

use std::collections::BTreeSet;

use super::apply::{TargetWriter, WriteError};
use super::mapping::DesiredUser;
use super::model::*;
use crate::config::Settings;
use crate::scim::{NewUser, ScimClient, ScimError, ScimUser, UserAttributes, UserField, UserPatch};
use crate::secret::Secret;

impl From<ScimUser> for TargetUser {
    fn from(u: ScimUser) -> Self {
        let phone = u.work_phone().map(str::to_owned);
        let mut emails: Vec<String> = Vec::new();
        if let Some(primary) = u.primary_email() {
            emails.push(primary.to_owned());
        }
        for e in &u.emails {
            if !emails.iter().any(|x| x.eq_ignore_ascii_case(&e.value)) {
                emails.push(e.value.clone());
            }
        }
        Self {
            id: u.id,
            external_id: u.external_id,
            user_name: u.user_name,
            emails,
            active: u.active,
            given_name: u.given_name,
            family_name: u.family_name,
            display_name: u.display_name,
            phone,
            title: u.title,
            department: u.department,
            employee_number: u.employee_number,
        }
    }
}

/// Reads every target user (in pages) and each paired target group with its members. A paired
/// group the target no longer has is left out, and the planner then refuses to plan (R10).
pub async fn read_target(
    client: &ScimClient,
    settings: &Settings,
) -> Result<TargetSnapshot, ScimError> {
    let mut snapshot = TargetSnapshot::default();
    let mut seen = BTreeSet::new();
    for pair in &settings.pairs {
        if !seen.insert(pair.target_group_id.clone()) {
            continue;
        }
        let group = match client.get_group(&pair.target_group_id).await {
            Ok(group) => group,
            Err(ScimError::Status { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        };
        snapshot.groups.insert(
            group.id.clone(),
            TargetGroup {
                members: group.member_ids().into_iter().collect(),
                id: group.id,
                display_name: group.display_name,
            },
        );
    }
    for user in client.list_users().await? {
        snapshot.users.insert(user.id.clone(), user.into());
    }
    Ok(snapshot)
}

fn write_error(e: ScimError) -> WriteError {
    WriteError(e.to_string())
}

impl TargetWriter for ScimClient {
    async fn create_user(
        &self,
        desired: &DesiredUser,
        password: Option<&Secret>,
    ) -> Result<String, WriteError> {
        let new = NewUser {
            attributes: desired.into(),
            password: password.cloned(),
        };
        let created = self.create_user(&new).await.map_err(write_error)?;
        if created.already_existed {
            // A 409: someone holds the userName. Only a user already carrying this Entra id (a
            // create retried after a crash) is ours to take over; never guess past that (R2).
            match created.user.external_id.as_deref() {
                Some(ext) if ext == desired.external_id => {}
                _ => {
                    return Err(WriteError(format!(
                        "the target already has a user named {} (id {}) that is not linked to \
                         this Entra user; adsync left it alone. Rename or link it by hand",
                        desired.user_name, created.user.id
                    )));
                }
            }
        }
        Ok(created.user.id)
    }

    async fn update_user(
        &self,
        id: &str,
        desired: &DesiredUser,
        fields: &[&str],
    ) -> Result<(), WriteError> {
        let attributes: UserAttributes = desired.into();
        let fields: Vec<UserField> = fields
            .iter()
            .filter_map(|f| UserField::from_path(f))
            .collect();
        let patch = UserPatch::from_attributes(&attributes, &fields);
        self.patch_user(id, &patch).await.map_err(write_error)
    }

    async fn set_active(&self, id: &str, active: bool) -> Result<(), WriteError> {
        ScimClient::set_active(self, id, active)
            .await
            .map_err(write_error)
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.add_members(group, &[user.to_owned()])
            .await
            .map_err(write_error)
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        ScimClient::remove_member(self, group, user)
            .await
            .map_err(write_error)
    }
}
