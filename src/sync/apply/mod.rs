//! `apply()`: carries out a plan through a [`TargetWriter`], a few actions at a time. There is no
//! dry-run flag here: a dry run is not calling this. Every action's outcome is recorded; one failed
//! action does not stop the others; the state changes only after the target confirms, so a run cut
//! off anywhere converges on the next one (R12): a user created but not yet linked is found again
//! by its `externalId` (R2).
//!
//! The plan goes in batches of [`BATCH`] actions: first the batch's user writes (creates, attribute
//! changes, `active`), several in flight; then its group changes, with every user joining the same
//! group in one request; then one state transaction for the whole batch. At 100,000 users this
//! turned 97,000 single-member group PATCHes into about 400, and 300,000 state commits into 400
//! (docs/PERFORMANCE.md).
//!
//! Creates, disables, enables and group changes are announced first ([`intents`]): a batch's
//! intents are written in the commit before the batch's first request (the previous batch's last
//! one, so no commit is added), and each is forgotten in the commit that records its outcome (an
//! action with group changes: the commit after them). A failed write keeps its intent (the
//! application may have committed it before failing to answer); [`settle_intents`] reads what
//! such writes did before the next plan.

use std::future::Future;

use futures::StreamExt;

use super::journal::{IntentKind, Journal, RunOutcome};
use super::mapping::DesiredUser;
use super::model::{Link, Links};
use super::plan::*;
use crate::config::GroupMode;
use crate::secret::Secret;

mod intents;

pub use intents::{Assessed, SettleError, Settled, TargetLookup, assess_intents, settle_intents};

/// A write the target refused or could not take, and whom that concerns. The message is shown to
/// the administrator and stored in the history; it must never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub String, pub Blame);

/// Whom a failed write concerns. The service sets aside a user the application keeps refusing
/// (its own failure does not hold the others back), but a cycle the target as a whole could not
/// take is a failed cycle, not a reason to set everyone aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The application refused this user's write: a 4xx other than 401, 403, 409 and 429, a 5xx
    /// left after the retries, an answer it could not make sense of.
    User,
    /// A uniqueness conflict (409) or an account adsync will not take over: about this user,
    /// but settled by the next read of the target or by an administrator, so not counted
    /// towards setting the user aside.
    Conflict,
    /// The target as a whole: unreachable, adsync's credentials refused, throttled past the
    /// retries, or the credential unreadable.
    Target,
}

/// The account a create ended with: one made now, or one the target already had with this
/// user's Entra id, taken over after the target refused the create as a duplicate (409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Its target id.
    pub id: String,
    /// It already existed and was taken over: the history records a link, not a create.
    pub taken_over: bool,
}

impl From<String> for NewAccount {
    /// An account made now.
    fn from(id: String) -> Self {
        Self {
            id,
            taken_over: false,
        }
    }
}

/// The writes `apply` makes. Implemented by the SCIM client; each call is one target request (or a
/// few), and returns only once the target has confirmed.
pub trait TargetWriter: Sync {
    /// Creates a user with every mapped attribute; returns its account. A uniqueness conflict
    /// resolved to an existing user with the same `externalId` returns that user, taken over.
    fn create_user(
        &self,
        desired: &DesiredUser,
        password: Option<&Secret>,
    ) -> impl Future<Output = Result<NewAccount, WriteError>> + Send;

    /// Creates several users, one outcome per user in order, each as [`TargetWriter::create_user`]
    /// would have it. The default creates them one by one, `concurrency` in flight; the SCIM
    /// client sends them in `/Bulk` requests when the application advertises bulk.
    fn create_users(
        &self,
        users: &[&DesiredUser],
        password: Option<&Secret>,
        concurrency: usize,
    ) -> impl Future<Output = Vec<Result<NewAccount, WriteError>>> + Send {
        async move {
            let mut creates = Vec::with_capacity(users.len());
            for desired in users {
                creates.push(self.create_user(desired, password));
            }
            futures::stream::iter(creates)
                .buffered(concurrency.max(1))
                .collect()
                .await
        }
    }

    /// Writes the named fields (plan field paths) of `desired` to the user.
    fn update_user(
        &self,
        id: &str,
        desired: &DesiredUser,
        fields: &[&str],
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Sets `active`.
    fn set_active(
        &self,
        id: &str,
        active: bool,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Adds a user to a group.
    fn add_member(
        &self,
        group: &str,
        user: &str,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;

    /// Adds several users to a group: all of them, or (on an error) possibly only some. The
    /// default adds them one at a time; the SCIM client sends one PATCH.
    fn add_members(
        &self,
        group: &str,
        users: &[String],
    ) -> impl Future<Output = Result<(), WriteError>> + Send {
        async move {
            for user in users {
                self.add_member(group, user).await?;
            }
            Ok(())
        }
    }

    /// Removes a user from a group.
    fn remove_member(
        &self,
        group: &str,
        user: &str,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
}

/// Options for one apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Actions in flight at once.
    pub concurrency: usize,
    /// `single` or `all`, for how group records are kept.
    pub group_mode: GroupMode,
    /// The password set on created users, if configured.
    pub default_password: Option<Secret>,
    /// Where the run is recorded (`sync`, `service`, `wizard`).
    pub trigger: String,
    /// Set to stop between actions: actions not yet started are reported `not-run`.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl ApplyOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// What the target confirmed for one action, whatever failed after.
#[derive(Debug, Default)]
struct Done {
    target_id: Option<String>,
    /// The user record itself was written (create, attribute changes, active).
    user_written: bool,
    added: Vec<String>,
    removed: Vec<String>,
    error: Option<String>,
    /// Cancelled before it began: nothing was sent.
    not_started: bool,
    /// A create that took over the account the target already had (after a 409).
    taken_over: bool,
}

/// How many actions go through the target between two state commits; also the most users one
/// group request adds.
pub const BATCH: usize = 250;

/// A batch with at least this many creates makes them in one [`TargetWriter::create_users`]
/// call (one `/Bulk` request where the application has it); fewer are created one by one, so
/// an incremental cycle's single create costs one request, not a capability read besides.
pub const BULK_CREATES: usize = 20;

/// The user write of one action (the group changes come after, for the whole batch).
/// `created` is the outcome of its create when the batch's creates were made together.
async fn write_user<T: TargetWriter>(
    target: &T,
    action: &Action,
    options: &ApplyOptions,
    created: Option<Result<NewAccount, WriteError>>,
) -> Done {
    let mut done = Done {
        target_id: action.target_user_id.clone(),
        ..Done::default()
    };
    // A create already made is recorded whatever happens now.
    if options.cancelled() && created.is_none() {
        done.not_started = true;
        return done;
    }
    let ex = &action.execution;
    let outcome: Result<(), WriteError> = async {
        match action.kind {
            ActionKind::Skip => return Ok(()),
            ActionKind::Disable => {
                let id = action
                    .target_user_id
                    .as_deref()
                    .expect("disable has a target user");
                target.set_active(id, false).await?;
                done.user_written = true;
                return Ok(());
            }
            ActionKind::Create => {
                let account = match created {
                    Some(outcome) => outcome?,
                    None => {
                        // Made from the plan's compact record now, one create at a time.
                        let desired = ex.desired().expect("create has a record");
                        target
                            .create_user(&desired, options.default_password.as_ref())
                            .await?
                    }
                };
                done.target_id = Some(account.id);
                done.taken_over = account.taken_over;
                done.user_written = true;
            }
            ActionKind::Link | ActionKind::Update | ActionKind::Move | ActionKind::Enable => {
                if !action.changes.is_empty() {
                    let desired = ex.desired().expect("changes come with a record");
                    let fields: Vec<&str> =
                        action.changes.iter().map(|c| c.field.as_str()).collect();
                    let id = action.target_user_id.as_deref().expect("has a target user");
                    target.update_user(id, &desired, &fields).await?;
                }
                done.user_written = true;
            }
        }
        Ok(())
    }
    .await;
    done.error = outcome.err().map(|e| e.0);
    done
}

/// The batch's creates made in one call when there are at least [`BULK_CREATES`] of them: the
/// outcome for each slot that is a create, `None` for the rest (and for every slot otherwise).
async fn create_together<T: TargetWriter>(
    target: &T,
    batch: &[(usize, &Action)],
    options: &ApplyOptions,
    concurrency: usize,
) -> Vec<Option<Result<NewAccount, WriteError>>> {
    let mut created: Vec<Option<Result<NewAccount, WriteError>>> =
        std::iter::repeat_with(|| None).take(batch.len()).collect();
    let slots: Vec<usize> = batch
        .iter()
        .enumerate()
        .filter(|(_, (_, action))| action.kind == ActionKind::Create)
        .map(|(slot, _)| slot)
        .collect();
    if slots.len() < BULK_CREATES || options.cancelled() {
        return created;
    }
    // The batch's records, made from the plan's compact ones: only a batch's worth at a time.
    let records: Vec<_> = slots
        .iter()
        .map(|slot| {
            batch[*slot]
                .1
                .execution
                .desired()
                .expect("create has a record")
        })
        .collect();
    let desired: Vec<&DesiredUser> = records.iter().map(|d| &**d).collect();
    let outcomes = target
        .create_users(&desired, options.default_password.as_ref(), concurrency)
        .await;
    debug_assert_eq!(outcomes.len(), slots.len(), "one outcome per create");
    for (slot, outcome) in slots.into_iter().zip(outcomes) {
        created[slot] = Some(outcome);
    }
    created
}

/// Does the action still have group changes to make: its user write went through?
fn ready_for_groups(action: &Action, done: &Done) -> bool {
    action.kind != ActionKind::Skip
        && !done.not_started
        && done.error.is_none()
        && done.target_id.is_some()
}

/// The batch's group changes: every user joining a group in one request per group (when that
/// request fails, one request per user, so each action gets its own outcome); then the removals,
/// one request each, for users whose additions all went through (a move adds before it removes).
async fn write_groups<T: TargetWriter>(
    target: &T,
    batch: &[(usize, &Action)],
    dones: &mut [Done],
    concurrency: usize,
) {
    // group → the batch slots joining it, in plan order.
    let mut joining: Vec<(&str, Vec<usize>)> = Vec::new();
    for (slot, (_, action)) in batch.iter().enumerate() {
        if !ready_for_groups(action, &dones[slot]) {
            continue;
        }
        for group in &action.execution.add_to {
            match joining.iter_mut().find(|(g, _)| *g == &**group) {
                Some((_, slots)) => slots.push(slot),
                None => joining.push((group, vec![slot])),
            }
        }
    }
    let ids = |slots: &[usize], dones: &[Done]| -> Vec<String> {
        slots
            .iter()
            .map(|s| dones[*s].target_id.clone().expect("ready"))
            .collect()
    };
    let requests: Vec<_> = joining
        .iter()
        .map(|(group, slots)| {
            let users = ids(slots, dones);
            async move {
                let outcome = target.add_members(group, &users).await;
                if outcome.is_ok() || users.len() == 1 {
                    return vec![outcome; users.len()];
                }
                // One user may be what the application refused: find out which.
                let mut each = Vec::with_capacity(users.len());
                for user in &users {
                    each.push(target.add_member(group, user).await);
                }
                each
            }
        })
        .collect();
    let outcomes: Vec<Vec<Result<(), WriteError>>> = futures::stream::iter(requests)
        .buffered(concurrency)
        .collect()
        .await;
    for ((group, slots), outcomes) in joining.iter().zip(outcomes) {
        for (slot, outcome) in slots.iter().zip(outcomes) {
            let done = &mut dones[*slot];
            match outcome {
                Ok(()) => done.added.push((*group).to_owned()),
                Err(e) => {
                    done.error.get_or_insert(e.0);
                }
            }
        }
    }

    let removals: Vec<_> = batch
        .iter()
        .enumerate()
        .filter(|(slot, (_, action))| {
            ready_for_groups(action, &dones[*slot]) && !action.execution.remove_from.is_empty()
        })
        .map(|(slot, (_, action))| {
            let id = dones[slot].target_id.clone().expect("ready");
            async move {
                let mut removed = Vec::new();
                for group in &action.execution.remove_from {
                    if let Err(e) = target.remove_member(group, &id).await {
                        return (slot, removed, Some(e.0));
                    }
                    removed.push(group.to_string());
                }
                (slot, removed, None)
            }
        })
        .collect();
    let removed: Vec<_> = futures::stream::iter(removals)
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (slot, removed, error) in removed {
        let done = &mut dones[slot];
        done.removed = removed;
        if let Some(e) = error {
            done.error.get_or_insert(e);
        }
    }
}

/// Records in the state what the target confirmed for one action: the user write, and with
/// `groups` its group changes too (without, the link's group fields stay as they were, so that
/// a run cut off before the group writes plans them again).
fn record<J: Journal>(
    store: &J,
    links: &mut Links,
    action: &Action,
    done: &Done,
    group_mode: GroupMode,
    groups: bool,
) -> Result<(), J::Error> {
    let Some(target_id) = &done.target_id else {
        return Ok(()); // nothing was created: nothing to remember
    };
    if action.kind == ActionKind::Skip || !done.user_written {
        return Ok(());
    }
    let ex = &action.execution;
    let mut link = links
        .get(&action.entra_id)
        .cloned()
        .unwrap_or_else(|| Link {
            entra_id: action.entra_id.clone(),
            target_id: target_id.clone(),
            ..Link::default()
        });
    link.target_id = target_id.clone();
    if action.kind == ActionKind::Disable {
        link.disabled_by_adsync = true;
    } else {
        link.disabled_by_adsync = false;
        // The values are only "synced" once the record was written; a failed attribute write
        // leaves the old hash, so the next plan writes them again.
        link.values_hash = ex.values_hash.clone();
        if let Some(roles) = ex.roles() {
            link.roles_given = roles.into_iter().collect();
        }
        match group_mode {
            _ if !groups => {}
            GroupMode::Single => {
                if let Some(group) = &ex.record_group
                    && done.added.len() == ex.add_to.len()
                {
                    link.group = group.as_deref().map(str::to_owned);
                    // A group the move did not get to leave: left by the next plan (R1).
                    let kept = ex
                        .remove_from
                        .iter()
                        .filter(|g| !done.removed.iter().any(|r| **r == ***g));
                    link.groups_added.extend(kept.map(|g| g.to_string()));
                }
                for g in done
                    .removed
                    .iter()
                    .map(|g| g.to_string())
                    .chain(link.group.clone())
                {
                    link.groups_added.remove(&g);
                }
            }
            GroupMode::All => {
                link.groups_added.extend(done.added.iter().cloned());
                for g in &done.removed {
                    link.groups_added.remove(g);
                }
            }
        }
    }
    store.put_link(&link)?;
    links.insert(link.entra_id.clone(), link);
    Ok(())
}

/// A create the target refused as a duplicate (409) whose existing account, carrying this
/// user's Entra id, was taken over: it is reported and recorded as the link it became.
fn took_over(action: &mut Action, summary: &mut Summary) {
    action.kind = ActionKind::Link;
    action.reason = format!(
        "{}; the application already had this user's account (it answered 409), so adsync \
         linked it instead of creating one",
        action.reason
    );
    summary.create = summary.create.saturating_sub(1);
    summary.link += 1;
}

/// How an apply ended.
#[derive(Debug)]
pub struct Applied {
    /// The plan with every action's `result` filled in.
    pub plan: Plan,
    /// The run's id in the history.
    pub run_id: i64,
    pub failed: usize,
}

/// Applies `plan` to the target, recording links and history in `store` (the state store). The caller has already
/// refused a blocked plan (R11) unless the administrator allowed it.
/// `progress` is called with the number of actions finished after each batch.
pub async fn apply<T: TargetWriter, J: Journal>(
    plan: Plan,
    target: &T,
    store: &J,
    options: &ApplyOptions,
    progress: impl FnMut(usize),
) -> Result<Applied, J::Error> {
    apply_or_return(plan, target, store, options, progress)
        .await
        .map_err(|(error, _)| error)
}

/// [`apply`], handing the plan back with the journal's error, so a caller that must still
/// report it (`sync --format json`) needs no copy of a plan that may hold 100,000 actions.
pub async fn apply_or_return<T: TargetWriter, J: Journal>(
    mut plan: Plan,
    target: &T,
    store: &J,
    options: &ApplyOptions,
    progress: impl FnMut(usize),
) -> Result<Applied, (J::Error, Plan)> {
    match apply_in_place(&mut plan, target, store, options, progress).await {
        Ok((run_id, failed)) => Ok(Applied {
            plan,
            run_id,
            failed,
        }),
        Err(error) => Err((error, plan)),
    }
}

/// The body of [`apply`]: the run's id and its number of failed actions.
async fn apply_in_place<T: TargetWriter, J: Journal>(
    plan: &mut Plan,
    target: &T,
    store: &J,
    options: &ApplyOptions,
    mut progress: impl FnMut(usize),
) -> Result<(i64, usize), J::Error> {
    plan.dry_run = false;
    let run_id = store.begin_run(&options.trigger)?;
    // A small plan (an incremental cycle) reads only its users' links, not all of them.
    let mut links = if plan.actions.len() + plan.state_fixes.len() <= 1000 {
        let fixes = plan.state_fixes.iter().map(|f| match f {
            StateFix::Rehash { entra_id, .. } | StateFix::Unlink { entra_id } => entra_id.as_str(),
        });
        store.links_of(
            plan.actions
                .iter()
                .map(|a| a.entra_id.as_str())
                .chain(fixes),
        )?
    } else {
        store.links()?
    };
    // State fixes first: an Unlink (the linked target user is gone) must not remove the link
    // that this run's own action for the same user is about to record. The first batch's
    // intents go in the same commit.
    store.batch(|| {
        store.put_intents(&intents::announce(
            &plan.actions[..BATCH.min(plan.actions.len())],
            run_id,
        ))?;
        for fix in &plan.state_fixes {
            match fix {
                StateFix::Rehash {
                    entra_id,
                    values_hash,
                } => {
                    if let Some(link) = links.get_mut(entra_id) {
                        link.values_hash = values_hash.clone();
                        store.put_link(link)?;
                    }
                }
                StateFix::Unlink { entra_id } => {
                    if links.remove(entra_id).is_some() {
                        store.remove_link(entra_id)?;
                    }
                }
            }
        }
        Ok(())
    })?;
    let concurrency = options.concurrency.max(1);
    let mut failed = 0;
    let mut finished = 0;
    let mut reported = 0;
    let mut start = 0;
    while start < plan.actions.len() {
        let end = (start + BATCH).min(plan.actions.len());
        let batch: Vec<(usize, &Action)> = (start..end).zip(&plan.actions[start..end]).collect();
        let created = create_together(target, &batch, options, concurrency).await;
        let writes = futures::stream::iter(batch.iter().zip(created))
            .map(|((_, action), created)| write_user(target, action, options, created))
            .buffered(concurrency);
        let mut dones: Vec<Done> = writes.collect().await;
        // The user writes are recorded before the group writes begin, so a run cut off during
        // the group writes loses no user's state (they converge next run; see the module doc).
        // A write with an outcome forgets its intent here; a failed one keeps it.
        store.batch(|| {
            for ((_, action), done) in batch.iter().zip(&dones) {
                record(store, &mut links, action, done, options.group_mode, false)?;
                if IntentKind::of(action).is_some()
                    && (done.not_started
                        || (done.user_written && !action.execution.changes_groups()))
                {
                    store.remove_intent(&action.entra_id)?;
                }
            }
            Ok(())
        })?;
        write_groups(target, &batch, &mut dones, concurrency).await;
        drop(batch);
        store.batch(|| {
            for (index, done) in (start..end).zip(&dones) {
                let action = &mut plan.actions[index];
                if let Some(id) = &done.target_id {
                    action.target_user_id = Some(id.clone());
                }
                if done.taken_over && action.kind == ActionKind::Create {
                    took_over(action, &mut plan.summary);
                }
                record(store, &mut links, action, done, options.group_mode, true)?;
                // Group changes all made: their intent goes with their record.
                if action.execution.changes_groups()
                    && IntentKind::of(action).is_some()
                    && done.user_written
                    && done.error.is_none()
                {
                    store.remove_intent(&action.entra_id)?;
                }
                // A user has one action per plan: its link is not read again, and its mapped
                // record is not needed for the report, so neither stays for the rest of the run
                // (at 100,000 creates they were a fifth of the peak).
                links.remove(&action.entra_id);
                action.execution.record = Record::None;
                action.result = Some(match (&done.error, action.kind) {
                    _ if done.not_started => ActionResult {
                        status: ResultStatus::NotRun,
                        error: Some("stopped before this action began".into()),
                    },
                    (_, ActionKind::Skip) => ActionResult {
                        status: ResultStatus::NotRun,
                        error: None,
                    },
                    (None, _) => ActionResult {
                        status: ResultStatus::Ok,
                        error: None,
                    },
                    (Some(e), _) => {
                        failed += 1;
                        ActionResult {
                            status: ResultStatus::Failed,
                            error: Some(e.clone()),
                        }
                    }
                });
                store.record_action(run_id, index, action)?;
                if action.kind != ActionKind::Skip {
                    finished += 1;
                }
            }
            // The next batch's intents, before its first request.
            let next = &plan.actions[end..(end + BATCH).min(plan.actions.len())];
            store.put_intents(&intents::announce(next, run_id))
        })?;
        if finished > reported {
            reported = finished;
            progress(finished);
        }
        start = end;
    }
    let not_run = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::Skip)
        .filter(|a| {
            a.result
                .as_ref()
                .is_some_and(|r| r.status == ResultStatus::NotRun)
        })
        .count();
    let outcome = match (failed, not_run) {
        (0, 0) => RunOutcome::Ok,
        (_, 0) => RunOutcome::Partial,
        _ => RunOutcome::Stopped,
    };
    let error = match (failed, not_run) {
        (0, 0) => None,
        (f, 0) => Some(format!("{f} action(s) failed")),
        (f, n) => Some(format!("stopped: {n} action(s) not run, {f} failed")),
    };
    store.finish_run(run_id, outcome, &plan.summary, error.as_deref())?;
    Ok((run_id, failed))
}

#[cfg(test)]
mod tests;
