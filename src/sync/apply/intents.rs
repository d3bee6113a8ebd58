//! Write-ahead intents: [`announce`] makes the intents of a batch's writes, which `apply()`
//! records before it sends them; [`settle_intents`] runs before the next plan and records what
//! a write left without an outcome (a run killed, a full disk, an error answer) really did, by
//! reading its user in the target. Without it a disable the application committed but adsync
//! never recorded leaves the user disabled for good when back in scope: R7 would take it for
//! someone else's disable.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::BTreeSet;

use super::super::journal::{GroupIntent, Intent, IntentKind, Journal};
use super::super::model::{Link, Links};
use super::super::plan::Action;
use crate::config::GroupMode;
use crate::scim::{ScimClient, ScimError};

/// The intents of `actions` (those whose kind needs one), recorded as sent by run `run_id`.
pub(super) fn announce(actions: &[Action], run_id: i64) -> Vec<Intent> {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    actions
        .iter()
        .filter_map(|action| {
            let kind = IntentKind::of(action)?;
            Some(Intent {
                entra_id: action.entra_id.clone(),
                target_id: match kind {
                    IntentKind::Create => None,
                    _ => action.target_user_id.clone(),
                },
                kind,
                run_id,
                at_ms,
                groups: GroupIntent::of(&action.execution),
            })
        })
        .collect()
}

/// The reads that settle intents: implemented by the SCIM client, and in memory by the tests.
pub trait TargetLookup: Sync {
    /// Why a read failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether the target user `id` is active; `None` when the target has no such user.
    fn user_active(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<bool>, Self::Error>> + Send;

    /// The ids of the target users whose `externalId` is `entra_id`.
    fn users_with_external_id(
        &self,
        entra_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Which of `groups` the target user `id` is a member of; `None` when the target has no
    /// such user.
    fn memberships(
        &self,
        id: &str,
        groups: &[&String],
    ) -> impl Future<Output = Result<Option<BTreeSet<String>>, Self::Error>> + Send;
}

impl TargetLookup for ScimClient {
    type Error = ScimError;

    async fn user_active(&self, id: &str) -> Result<Option<bool>, ScimError> {
        match self.get_user(id).await {
            Ok(user) => Ok(Some(user.active)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn users_with_external_id(&self, entra_id: &str) -> Result<Vec<String>, ScimError> {
        let users = self.find_users_by_external_id(entra_id).await?;
        // Some servers compare externalId without case: only an exact match is this user's.
        Ok(users
            .into_iter()
            .filter(|u| u.external_id.as_deref() == Some(entra_id))
            .map(|u| u.id)
            .collect())
    }

    /// The user's own `groups` first; a group it does not list is read whole, as not every
    /// application lists a user's groups with the user. Only after a run was cut off during its
    /// group writes, so a large group's read is rare.
    async fn memberships(
        &self,
        id: &str,
        groups: &[&String],
    ) -> Result<Option<BTreeSet<String>>, ScimError> {
        let user = match self.get_user(id).await {
            Ok(user) => user,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut member = BTreeSet::new();
        for group in groups {
            let listed = user.groups.iter().any(|g| &&g.value == group);
            let found = listed
                || match self.get_group(group).await {
                    Ok(read) => read.members.iter().any(|m| m.value == id),
                    // A group gone from the target has no members.
                    Err(e) if e.is_not_found() => false,
                    Err(e) => return Err(e),
                };
            if found {
                member.insert((*group).clone());
            }
        }
        Ok(Some(member))
    }
}

/// What [`settle_intents`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Intents found (all of them are gone afterwards).
    pub intents: usize,
    /// Writes that had taken effect and are now recorded: disables and enables in their link,
    /// creates as a new link.
    pub recorded: usize,
}

/// Settling stopped: nothing was recorded and the intents are kept for the next run.
#[derive(Debug, thiserror::Error)]
pub enum SettleError<L: std::error::Error + 'static, J: std::error::Error + 'static> {
    /// The target could not be read, so what a write did is unknown; planning on a guess could
    /// leave a user disabled for good (R7), so the cycle stops before its first write.
    #[error(
        "could not check in the application what an earlier run that was cut off wrote for \
         Entra user {entra_id}: {source}. Nothing was written; the check is repeated next run"
    )]
    Read {
        entra_id: String,
        #[source]
        source: L,
    },
    /// The state store could not be read or written.
    #[error(transparent)]
    Journal(J),
}

/// What the intents left in a store stand for: each one, and the links that record what their
/// writes really did (see [`settle_intents`]).
#[derive(Clone, Debug, Default)]
pub struct Assessed {
    pub intents: Vec<Intent>,
    /// The links to store: a disable or enable that took effect, a create that made an account.
    pub links: Vec<(IntentKind, Link)>,
}

impl Assessed {
    /// `links` with what the intents' writes did: what [`settle_intents`] would store, for a
    /// plan that must not write (`plan` beside a running `sync`, the wizard's preview).
    pub fn apply_to(&self, links: &mut Links) {
        for (_, link) in &self.links {
            links.insert(link.entra_id.clone(), link.clone());
        }
    }
}

/// Settles every intent left in `store`: reads each user in the target and records what its
/// write really did, then forgets the intents, all in one transaction. A disable that took effect
/// is recorded as adsync's (so R7 enables the user again when back in scope), an enable as
/// undoing it; a create as a link (so the account is disabled when its user leaves, R6), with no
/// values hash, so the next plan writes the mapped values; group changes that took effect (a
/// move, a group joined) in the link's group fields, so a later move back is planned. A write
/// that did not take effect leaves the link as it was and the next plan repeats it. Call it
/// before planning.
pub async fn settle_intents<L: TargetLookup, J: Journal>(
    target: &L,
    store: &J,
    group_mode: GroupMode,
) -> Result<Settled, SettleError<L::Error, J::Error>> {
    let Assessed { intents, links } = assess_intents(target, store, group_mode).await?;
    if intents.is_empty() {
        return Ok(Settled::default());
    }
    store
        .batch(|| {
            for (_, link) in &links {
                store.put_link(link)?;
            }
            for intent in &intents {
                store.remove_intent(&intent.entra_id)?;
            }
            Ok(())
        })
        .map_err(SettleError::Journal)?;
    for (kind, link) in &links {
        tracing::warn!(
            entra_id = %link.entra_id,
            target_id = %link.target_id,
            "an earlier run was cut off after the application took its {} of this user; \
             recorded now",
            kind.as_str()
        );
    }
    Ok(Settled {
        intents: intents.len(),
        recorded: links.len(),
    })
}

/// Records in `link` the group changes of `groups` that the target shows were made (`member`:
/// the groups of `groups` the user is in), as `apply()` records them once confirmed: in `single`
/// mode the new group once every addition went through (with a group it did not get to leave in
/// `groups_added`, for the next plan to leave), in `all` mode each membership added and each
/// removed.
fn record_groups(
    link: &mut Link,
    groups: &GroupIntent,
    member: &BTreeSet<String>,
    group_mode: GroupMode,
) {
    match group_mode {
        GroupMode::Single => {
            if let Some(group) = &groups.record
                && groups.add_to.iter().all(|g| member.contains(g))
            {
                link.group = Some(group.clone());
                // A group the move did not get to leave: left by the next plan (R1).
                for g in &groups.remove_from {
                    if member.contains(g) {
                        link.groups_added.insert(g.clone());
                    } else {
                        link.groups_added.remove(g);
                    }
                }
                link.groups_added.remove(group);
            }
        }
        GroupMode::All => {
            for g in &groups.add_to {
                if member.contains(g) {
                    link.groups_added.insert(g.clone());
                }
            }
            for g in &groups.remove_from {
                if !member.contains(g) {
                    link.groups_added.remove(g);
                }
            }
        }
    }
}

/// Reads what the writes of the intents left in `store` did, writing nothing: the first half
/// of [`settle_intents`].
pub async fn assess_intents<L: TargetLookup, J: Journal>(
    target: &L,
    store: &J,
    group_mode: GroupMode,
) -> Result<Assessed, SettleError<L::Error, J::Error>> {
    let intents = store.intents().map_err(SettleError::Journal)?;
    if intents.is_empty() {
        return Ok(Assessed::default());
    }
    let links = store
        .links_of(intents.iter().map(|i| i.entra_id.as_str()))
        .map_err(SettleError::Journal)?;
    // Only a create that was cut off needs every link: a target user linked to someone else is
    // never taken (R2). Rare, so the full read is too.
    let all_links: Option<Links> = if intents.iter().any(|i| i.kind == IntentKind::Create) {
        Some(store.links().map_err(SettleError::Journal)?)
    } else {
        None
    };
    let read = |entra_id: &str| {
        let entra_id = entra_id.to_owned();
        move |source| SettleError::Read { entra_id, source }
    };
    let mut changed: Vec<(IntentKind, Link)> = Vec::new();
    for intent in &intents {
        // The link as this intent's write left it, when that differs from the stored one.
        let mut settled: Option<Link> = None;
        match (intent.kind, &intent.target_id) {
            (IntentKind::Disable | IntentKind::Enable, Some(target_id)) => {
                let disable = intent.kind == IntentKind::Disable;
                // A link dropped or pointed elsewhere since: nothing of this write to record.
                let Some(link) = links
                    .get(&intent.entra_id)
                    .filter(|l| &l.target_id == target_id)
                else {
                    continue;
                };
                let active = target
                    .user_active(target_id)
                    .await
                    .map_err(read(&intent.entra_id))?;
                // `None`: the user is gone from the target; the planner deals with that.
                if active == Some(!disable) && link.disabled_by_adsync != disable {
                    settled = Some(Link {
                        disabled_by_adsync: disable,
                        ..link.clone()
                    });
                }
            }
            (IntentKind::Create, _) if !links.contains_key(&intent.entra_id) => {
                let ids = target
                    .users_with_external_id(&intent.entra_id)
                    .await
                    .map_err(read(&intent.entra_id))?;
                // None: the create did not take effect and is planned again. Several: R13's
                // duplicate warning and R2's skip apply; adsync does not guess.
                let [id] = ids.as_slice() else { continue };
                let taken = all_links
                    .as_ref()
                    .is_some_and(|all| all.values().any(|l| &l.target_id == id));
                if taken {
                    continue;
                }
                settled = Some(Link {
                    entra_id: intent.entra_id.clone(),
                    target_id: id.clone(),
                    ..Link::default()
                });
            }
            // A create linked after all, a move, or an intent without its target user.
            _ => {}
        }
        if !intent.groups.is_empty() {
            let link = settled.as_ref().or_else(|| {
                links.get(&intent.entra_id).filter(|l| {
                    intent.target_id.is_none() || intent.target_id.as_ref() == Some(&l.target_id)
                })
            });
            if let Some(link) = link {
                let groups: Vec<&String> = intent.groups.groups().collect();
                let member = target
                    .memberships(&link.target_id, &groups)
                    .await
                    .map_err(read(&intent.entra_id))?;
                if let Some(member) = member {
                    let mut moved = link.clone();
                    record_groups(&mut moved, &intent.groups, &member, group_mode);
                    if &moved != link || settled.is_some() {
                        settled = Some(moved);
                    }
                }
            }
        }
        if let Some(link) = settled {
            changed.push((intent.kind, link));
        }
    }
    Ok(Assessed {
        intents,
        links: changed,
    })
}
