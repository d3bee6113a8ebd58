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
        let extra = if u.other.is_empty() {
            Default::default()
        } else {
            u.extra_sources()
        };
        Self {
            id: u.id,
            user_principal_name: u.user_principal_name.unwrap_or_default(),
            mail: u.mail.map(Text::from),
            given_name: u.given_name.map(Text::from),
            surname: u.surname.map(Text::from),
            display_name: u.display_name.map(Text::from),
            business_phones: u.business_phones,
            job_title: u.job_title.map(Text::from),
            department: u.department.map(Text::from),
            employee_id: u.employee_id.map(Text::from),
            office_location: u.office_location.map(Text::from),
            company_name: u.company_name.map(Text::from),
            city: u.city.map(Text::from),
            country: u.country.map(Text::from),
            user_type: u.user_type.map(Text::from),
            account_enabled,
            extra,
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
    let mut interner = Interner::default();
    for pair in &settings.pairs {
        let group = match client.get_group(&pair.entra_group_id).await {
            Ok(group) => group,
            Err(EntraError::GroupNotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut ids = std::collections::BTreeSet::new();
        let users = &mut snapshot.users;
        client
            .for_each_member(&pair.entra_group_id, pair.nested, |user| {
                if ids.insert(user.id.clone()) {
                    users.entry(user.id.clone()).or_insert_with(|| {
                        let mut user = SourceUser::from(user);
                        user.share(&mut interner);
                        user
                    });
                }
            })
            .await?;
        snapshot.groups.insert(
            group.id.clone(),
            SourceGroup {
                id: group.id,
                display_name: group.display_name.unwrap_or_default(),
                created: group.created_date_time,
                // Built again in one go for full B-tree nodes (see the users below).
                members: ids.into_iter().collect(),
            },
        );
    }
    // Members arrive in Graph's order, and a B-tree grown one insert at a time keeps its nodes
    // partly empty; built again in one go from its sorted entries, every node is full. At
    // 100,000 users that is about a fifth of the snapshot's node memory, held through the plan.
    snapshot.users = std::mem::take(&mut snapshot.users).into_iter().collect();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{EntraCredential, Pair, parse_str};
    use crate::entra::TokenSource;
    use crate::http::RetryPolicy;
    use crate::secret::{Secret, SecretRef};
    use crate::sim::entra::{EntraSim, Fixture};

    fn group_id(name: &str) -> String {
        let tenant: serde_json::Value =
            serde_json::from_str(include_str!("../../assets/demo-tenant.json")).unwrap();
        tenant["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["displayName"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn read(sim: &EntraSim, nested: bool, links: &Links) -> SourceSnapshot {
        let text = "version = 1\n[entra]\ntenant = \"contoso.example\"\nclient_id = \
             \"11111111-2222-3333-4444-555555555555\"\nclient_secret = \"env:X\"\n[target]\n\
             url = \"http://127.0.0.1:1\"\ntoken = \"env:Y\"\n";
        let mut settings = Settings::from_file(&parse_str(text).unwrap());
        settings.pairs = vec![Pair {
            entra_group_id: group_id("Support (all)"),
            entra_group_name: None,
            target_group_id: "t".into(),
            target_group_name: None,
            order: 1,
            nested,
            roles: Vec::new(),
        }];
        let entra = sim.settings(EntraCredential::Secret(SecretRef::Env("UNUSED".into())));
        let tokens = TokenSource::with_secret(
            &entra,
            Secret::new(sim.client_secret().unwrap()),
            RetryPolicy::fast(),
        );
        let client = GraphClient::with_tokens(&entra, Arc::new(tokens), RetryPolicy::fast());
        read_source(&client, &settings, links).await.unwrap()
    }

    /// "Support (all)" holds one user directly and three support groups: a direct pair sees the
    /// one user, a nested pair every user of the subgroups too, and neither sees the groups.
    #[tokio::test]
    async fn nested_pairs_expand_subgroups_and_direct_pairs_do_not() {
        let sim = EntraSim::start(Fixture::demo()).await.unwrap();
        let direct = read(&sim, false, &Links::new()).await;
        let nested = read(&sim, true, &Links::new()).await;
        let all = &group_id("Support (all)");
        assert_eq!(direct.groups[all].members.len(), 1);
        let tier1 = sim.member_ids(&group_id("Support Tier 1"));
        assert!(nested.groups[all].members.len() > 30);
        assert!(
            tier1
                .iter()
                .all(|id| nested.groups[all].members.contains(id))
        );
        assert!(
            !nested.groups[all]
                .members
                .contains(&group_id("Support Tier 1"))
        );
        assert!(nested.outside.is_empty());

        // A managed user no longer in the group is looked up: deleted, or still there.
        let leaver = tier1[0].clone();
        let gone = tier1[1].clone();
        let mut links = Links::new();
        for id in [&leaver, &gone] {
            links.insert(
                id.clone(),
                Link {
                    entra_id: id.clone(),
                    ..Link::default()
                },
            );
        }
        sim.delete_user(&gone);
        let direct = read(&sim, false, &links).await;
        assert_eq!(direct.outside[&gone], Whereabouts::Deleted);
        assert!(matches!(direct.outside[&leaver], Whereabouts::Exists(ref u) if u.id == leaver));
    }
}
