//! The target side of a sync: reading the target snapshot through the SCIM client, and the
//! [`TargetWriter`] the SCIM client provides to `apply()`.

use std::collections::{BTreeMap, BTreeSet};

use super::apply::{Blame, NewAccount, TargetWriter, WriteError};
use super::delta::TargetInfo;
use super::mapping::DesiredUser;
use super::model::*;
use crate::config::Settings;
use crate::scim::{
    Created, NewUser, ScimClient, ScimError, ScimUser, UserAttributes, UserPatch, WriteOp,
    WriteOutcome, quote,
};
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
            extra: u.extra,
            roles: u.roles,
            held: u.held,
        }
    }
}

/// Reads every target user (in pages) and each paired target group with its members. A paired
/// group the target no longer has is left out, and the planner then refuses to plan (R10).
pub async fn read_target(
    client: &ScimClient,
    settings: &Settings,
) -> Result<TargetSnapshot, ScimError> {
    Ok(read_target_with_info(client, settings).await?.0)
}

/// [`read_target`], and what an incremental cycle needs to know of the target: the paired
/// groups' names, and whether the target lists each user's groups in the user (checked against
/// the groups' own member lists, so a server that leaves `groups` out is never trusted).
pub async fn read_target_with_info(
    client: &ScimClient,
    settings: &Settings,
) -> Result<(TargetSnapshot, TargetInfo), ScimError> {
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
    let users = client.list_users().await?;
    let listed: BTreeMap<&str, BTreeSet<&str>> = users
        .iter()
        .map(|u| {
            let groups = u.groups.iter().map(|g| g.value.as_str()).collect();
            (u.id.as_str(), groups)
        })
        .collect();
    let mut memberships = 0usize;
    let mut agree = true;
    for group in snapshot.groups.values() {
        for member in &group.members {
            if let Some(groups) = listed.get(member.as_str()) {
                memberships += 1;
                agree &= groups.contains(group.id.as_str());
            }
        }
    }
    for (id, groups) in &listed {
        for group in snapshot.groups.values() {
            if groups.contains(group.id.as_str()) && !group.members.contains(*id) {
                agree = false;
            }
        }
    }
    let info = TargetInfo {
        group_names: snapshot
            .groups
            .values()
            .map(|g| (g.id.clone(), g.display_name.clone()))
            .collect(),
        user_groups: agree && memberships > 0,
    };
    for user in users {
        snapshot.users.insert(user.id.clone(), user.into());
    }
    Ok((snapshot, info))
}

/// Target users read by id at once: an incremental cycle's, and links to confirm.
const BY_ID_CONCURRENCY: usize = 8;

/// R13: before the plan drops a link because its target user is missing from the listing,
/// that user is read by id (one request per missing link, none when nothing is missing). 404:
/// really gone, and the planner's dropped-link guard (R11) counts it. Found: the listing left
/// it out, so the listing cannot be trusted and the cycle stops before its first write
/// ([`ScimError::Incomplete`], naming the target and the user). Any other error stops it too.
pub async fn confirm_vanished(
    client: &ScimClient,
    snapshot: &TargetSnapshot,
    links: &Links,
) -> Result<(), ScimError> {
    use futures::{StreamExt, TryStreamExt};

    let missing = links
        .values()
        .filter(|l| !snapshot.users.contains_key(&l.target_id));
    futures::stream::iter(missing)
        .map(|link| async move {
            match client.get_user(&link.target_id).await {
                Err(ScimError::Status { status: 404, .. }) => Ok(()),
                Err(e) => Err(e),
                Ok(_) => Err(ScimError::Incomplete {
                    url: format!("{}/Users", client.base_url()),
                    detail: format!(
                        "user {} (linked to Entra user {}) is missing from the listing, yet the \
                         application returns it when asked by id; adsync drops no link on an \
                         incomplete listing. Nothing was written; have the application's \
                         listing fixed (or ask its vendor why it leaves users out)",
                        link.target_id, link.entra_id
                    ),
                }),
            }
        })
        .buffer_unordered(BY_ID_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// The target snapshot an incremental cycle plans from ([`super::plan_partial`]): for each of
/// `users` (Entra ids) its linked target user, read by id, or, when it has none (or the target
/// lost it), every target user that could match it (R2), found with one filter on `externalId`,
/// `userName` and `emails`; and the paired groups with the memberships of the users read (from
/// the users' `groups` when the target lists them, else from the groups). Returns the snapshot
/// and the number of SCIM requests made.
pub async fn read_target_partial(
    client: &ScimClient,
    settings: &Settings,
    info: &TargetInfo,
    links: &Links,
    source: &SourceSnapshot,
    users: &BTreeSet<String>,
) -> Result<(TargetSnapshot, usize), ScimError> {
    use futures::{StreamExt, TryStreamExt};

    let requests = std::sync::atomic::AtomicUsize::new(0);
    let count = || requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let search = |user: &SourceUser| {
        let desired = super::mapping::desired_user(user, settings.policy.username);
        let mut filter = format!("externalId eq {}", quote(&user.id));
        let mut keys = vec![user.email().to_lowercase()];
        if !keys.contains(&desired.user_name.to_lowercase()) {
            keys.push(desired.user_name.to_lowercase());
        }
        for key in keys {
            let key = quote(&key);
            filter.push_str(&format!(" or userName eq {key} or emails[value eq {key}]"));
        }
        count();
        async move { client.find_users(&filter).await }
    };
    let found: Vec<Vec<ScimUser>> = futures::stream::iter(users)
        .map(|id| {
            let count = &count;
            let search = &search;
            async move {
                if let Some(link) = links.get(id) {
                    count();
                    match client.get_user(&link.target_id).await {
                        Ok(user) => return Ok(vec![user]),
                        Err(ScimError::Status { status: 404, .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                match source.users.get(id) {
                    Some(user) => search(user).await,
                    None => Ok(Vec::new()),
                }
            }
        })
        .buffer_unordered(BY_ID_CONCURRENCY)
        .try_collect()
        .await?;
    let mut snapshot = TargetSnapshot::default();
    for pair in &settings.pairs {
        let id = &pair.target_group_id;
        snapshot.groups.insert(
            id.clone(),
            TargetGroup {
                id: id.clone(),
                display_name: info.group_names.get(id).cloned().unwrap_or_default(),
                members: BTreeSet::new(),
            },
        );
    }
    for user in found.into_iter().flatten() {
        if info.user_groups {
            for group in &user.groups {
                if let Some(g) = snapshot.groups.get_mut(&group.value) {
                    g.members.insert(user.id.clone());
                }
            }
        }
        snapshot.users.insert(user.id.clone(), user.into());
    }
    if !info.user_groups {
        for group in snapshot.groups.values_mut() {
            count();
            let read = client.get_group(&group.id).await?;
            group.members = read
                .member_ids()
                .into_iter()
                .filter(|m| snapshot.users.contains_key(m))
                .collect();
            group.display_name = read.display_name;
        }
    }
    Ok((snapshot, requests.into_inner()))
}

fn write_error(e: ScimError) -> WriteError {
    let blame = match &e {
        ScimError::Unreachable { .. }
        | ScimError::Unauthorized { .. }
        | ScimError::Redirected { .. }
        | ScimError::Secret(_) => Blame::Target,
        ScimError::Status { status: 429, .. } => Blame::Target,
        ScimError::Status { status: 409, .. } | ScimError::Ambiguous { .. } => Blame::Conflict,
        _ => Blame::User,
    };
    WriteError(e.to_string(), blame)
}

/// The id of a created user; after a 409, only a user already carrying this Entra id (a create
/// retried after a crash) is ours to take over; never guess past that (R2).
fn taken_over(desired: &DesiredUser, created: Created) -> Result<NewAccount, WriteError> {
    if created.already_existed {
        match created.user.external_id.as_deref() {
            Some(ext) if ext == desired.external_id => {}
            _ => {
                return Err(WriteError(
                    format!(
                        "the target already has a user named {} (id {}) that is not linked \
                         to this Entra user; adsync left it alone. Rename or link it by hand",
                        desired.user_name, created.user.id
                    ),
                    Blame::Conflict,
                ));
            }
        }
    }
    Ok(NewAccount {
        id: created.user.id,
        taken_over: created.already_existed,
    })
}

impl TargetWriter for ScimClient {
    async fn create_user(
        &self,
        desired: &DesiredUser,
        password: Option<&Secret>,
    ) -> Result<NewAccount, WriteError> {
        let new = NewUser {
            attributes: desired.into(),
            password: password.cloned(),
        };
        let created = self.create_user(&new).await.map_err(write_error)?;
        taken_over(desired, created)
    }

    async fn create_users(
        &self,
        users: &[&DesiredUser],
        password: Option<&Secret>,
        concurrency: usize,
    ) -> Vec<Result<NewAccount, WriteError>> {
        let ops: Vec<WriteOp> = users
            .iter()
            .map(|desired| {
                WriteOp::CreateUser(NewUser {
                    attributes: (*desired).into(),
                    password: password.cloned(),
                })
            })
            .collect();
        // Bulk when advertised: each operation's result is matched to its user by bulkId, a 409
        // goes through the same lookup as a single create, and a bulk request that fails as a
        // whole is retried one request per user (src/scim/write.rs).
        let capabilities = self.capabilities().await;
        let outcomes = self.write_many(&ops, &capabilities, concurrency).await;
        users
            .iter()
            .zip(outcomes)
            .map(|(desired, outcome)| match outcome {
                Ok(WriteOutcome::Created(created)) => taken_over(desired, created),
                Ok(WriteOutcome::Done) => Err(WriteError(
                    format!(
                        "the target did not return the user {} it created",
                        desired.user_name
                    ),
                    Blame::User,
                )),
                Err(error) => Err(write_error(error)),
            })
            .collect()
    }

    async fn update_user(
        &self,
        id: &str,
        desired: &DesiredUser,
        fields: &[&str],
    ) -> Result<(), WriteError> {
        let attributes: UserAttributes = desired.into();
        let patch = UserPatch::from_fields(&attributes, fields);
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

    async fn add_members(&self, group: &str, users: &[String]) -> Result<(), WriteError> {
        ScimClient::add_members(self, group, users)
            .await
            .map_err(write_error)
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        ScimClient::remove_member(self, group, user)
            .await
            .map_err(write_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    /// The service quarantines users the application refuses, never everyone because the
    /// application was down or refused adsync itself.
    #[test]
    fn a_write_error_says_whether_the_user_or_the_target_failed() {
        let status = |status| ScimError::Status {
            method: "PATCH".into(),
            url: "https://app/Users/1".into(),
            status,
            scim_type: None,
            detail: None,
        };
        let blame = |e| write_error(e).1;
        assert_eq!(blame(status(400)), Blame::User);
        assert_eq!(blame(status(404)), Blame::User);
        assert_eq!(blame(status(500)), Blame::User);
        assert_eq!(blame(status(503)), Blame::User, "left after the retries");
        assert_eq!(blame(status(409)), Blame::Conflict);
        assert_eq!(blame(status(429)), Blame::Target);
        let unauthorized = ScimError::Unauthorized {
            url: "https://app/Users/1".into(),
            status: 401,
            detail: None,
        };
        assert_eq!(blame(unauthorized), Blame::Target);
        let unreachable = ScimError::Unreachable {
            url: "https://app".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(blame(unreachable), Blame::Target);
    }
    use crate::http::RetryPolicy;
    use crate::scim::ScimAuth;
    use crate::sim::scim::{ScimSim, Seed};

    fn settings(url: &str) -> Settings {
        let text = format!(
            "version = 1\n[entra]\ntenant = \"contoso.example\"\nclient_id = \
             \"11111111-2222-3333-4444-555555555555\"\nclient_secret = \"env:X\"\n[target]\n\
             url = \"{url}\"\ntoken = \"env:Y\"\n[[pairs]]\n\
             entra_group_id = \"00000000-0000-0000-0000-00000000000a\"\n\
             target_group_id = \"hd-g-tier1\"\norder = 1\n[[pairs]]\n\
             entra_group_id = \"00000000-0000-0000-0000-00000000000b\"\n\
             target_group_id = \"hd-g-tier2\"\norder = 2\n"
        );
        Settings::from_file(&parse_str(&text).unwrap())
    }

    /// A partial read holds the linked user (by id) and the users matching an unlinked one (by
    /// filter), with the same memberships a full read shows, whether they come from the users'
    /// `groups` or from the groups; and it counts its requests.
    #[tokio::test]
    async fn a_partial_read_holds_the_touched_users_and_their_memberships() {
        let sim = ScimSim::start(Seed::demo()).await.unwrap();
        let client = ScimClient::new(
            &sim.url(),
            ScimAuth::Bearer(Secret::new("helpdesk-demo-token".to_owned())),
        )
        .with_retry(RetryPolicy::fast());
        let settings = settings(&sim.url());
        let (full, info) = read_target_with_info(&client, &settings).await.unwrap();
        assert!(info.user_groups, "the simulator lists a user's groups");
        assert_eq!(info.group_names["hd-g-tier1"], "Tier 1");

        let omar = "omar.haddad@tailspintoys.com";
        let mut source = SourceSnapshot::default();
        source.users.insert(
            "e-omar".into(),
            SourceUser {
                id: "e-omar".into(),
                user_principal_name: omar.to_uppercase(),
                mail: Some(omar.into()),
                account_enabled: true,
                ..SourceUser::default()
            },
        );
        let links = Links::from([(
            "e-sara".to_owned(),
            Link {
                entra_id: "e-sara".into(),
                target_id: "hd-u-0001".into(),
                ..Link::default()
            },
        )]);
        let touched = BTreeSet::from(["e-sara".to_owned(), "e-omar".to_owned()]);
        let omar_id = full
            .users
            .values()
            .find(|u| u.user_name == omar)
            .unwrap()
            .id
            .clone();
        for user_groups in [true, false] {
            let info = TargetInfo {
                user_groups,
                ..info.clone()
            };
            sim.log().clear();
            let (partial, requests) =
                read_target_partial(&client, &settings, &info, &links, &source, &touched)
                    .await
                    .unwrap();
            let ids: BTreeSet<&str> = partial.users.keys().map(String::as_str).collect();
            assert_eq!(ids, BTreeSet::from(["hd-u-0001", omar_id.as_str()]));
            for (id, group) in &partial.groups {
                let expected: BTreeSet<String> = full.groups[id]
                    .members
                    .iter()
                    .filter(|m| ids.contains(m.as_str()))
                    .cloned()
                    .collect();
                assert_eq!(group.members, expected, "{id}, user_groups = {user_groups}");
                assert_eq!(group.display_name, full.groups[id].display_name);
            }
            assert!(!partial.groups["hd-g-tier1"].members.is_empty());
            assert_eq!(requests as u64, sim.log().total());
            assert_eq!(requests, if user_groups { 2 } else { 4 });
        }
    }
}
