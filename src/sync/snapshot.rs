//! Reading the snapshots the planner works from: the only I/O before a plan. A read either
//! completes or fails as a whole (R10): no partial snapshot ever reaches the planner.

use futures::{StreamExt, TryStreamExt};

use super::model::*;
use crate::config::Settings;
use crate::entra::{EntraError, EntraUser, GraphClient};

/// Requests in flight at once when looking up managed users outside the paired groups.
const LOOKUP_CONCURRENCY: usize = 8;

impl From<EntraUser> for SourceUser {
    fn from(u: EntraUser) -> Self {
        let account_enabled = u.is_enabled();
        Self {
            id: u.id,
            user_principal_name: u.user_principal_name.unwrap_or_default(),
            mail: u.mail,
            given_name: u.given_name,
            surname: u.surname,
            display_name: u.display_name,
            business_phones: u.business_phones,
            job_title: u.job_title,
            department: u.department,
            employee_id: u.employee_id,
            office_location: u.office_location,
            company_name: u.company_name,
            city: u.city,
            country: u.country,
            user_type: u.user_type,
            account_enabled,
        }
    }
}

/// Reads every paired Entra group with its user members (transitive for `nested` pairs), and
/// looks up each managed user that is in none of them, to learn whether it was deleted, disabled
/// or only removed from the groups. A paired group that no longer exists is left out, and the
/// planner then refuses to plan (R10).
pub async fn read_source(
    client: &GraphClient,
    settings: &Settings,
    links: &Links,
) -> Result<SourceSnapshot, EntraError> {
    let mut snapshot = SourceSnapshot::default();
    for pair in &settings.pairs {
        let group = match client.get_group(&pair.entra_group_id).await {
            Ok(group) => group,
            Err(EntraError::GroupNotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let members = client
            .group_members(&pair.entra_group_id, pair.nested)
            .await?;
        let mut ids = std::collections::BTreeSet::new();
        for user in members {
            ids.insert(user.id.clone());
            snapshot
                .users
                .entry(user.id.clone())
                .or_insert_with(|| user.into());
        }
        snapshot.groups.insert(
            group.id.clone(),
            SourceGroup {
                id: group.id,
                display_name: group.display_name.unwrap_or_default(),
                created: group.created_date_time,
                members: ids,
            },
        );
    }
    let outside: Vec<&String> = links
        .keys()
        .filter(|id| !snapshot.users.contains_key(*id))
        .collect();
    let found: Vec<(String, Whereabouts)> = futures::stream::iter(outside)
        .map(|id| async move {
            let whereabouts = match client.get_user(id).await? {
                Some(user) => Whereabouts::Exists(Box::new(user.into())),
                None => Whereabouts::Deleted,
            };
            Ok::<_, EntraError>((id.clone(), whereabouts))
        })
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .try_collect()
        .await?;
    snapshot.outside.extend(found);
    Ok(snapshot)
}
