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

use std::future::Future;

use futures::StreamExt;

use super::journal::{Journal, RunOutcome};
use super::mapping::DesiredUser;
use super::model::{Link, Links};
use super::plan::*;
use crate::config::GroupMode;
use crate::secret::Secret;

/// A write the target refused or could not take. The message is shown to the administrator and
/// stored in the history; it must never contain a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(pub String);

/// The writes `apply` makes. Implemented by the SCIM client; each call is one target request (or a
/// few), and returns only once the target has confirmed.
pub trait TargetWriter: Sync {
    /// Creates a user with every mapped attribute; returns its target id. A uniqueness conflict
    /// resolved to an existing user with the same `externalId` returns that user's id.
    fn create_user(
        &self,
        desired: &DesiredUser,
        password: Option<&Secret>,
    ) -> impl Future<Output = Result<String, WriteError>> + Send;

    /// Creates several users, one outcome per user in order, each as [`TargetWriter::create_user`]
    /// would have it. The default creates them one by one, `concurrency` in flight; the SCIM
    /// client sends them in `/Bulk` requests when the application advertises bulk.
    fn create_users(
        &self,
        users: &[&DesiredUser],
        password: Option<&Secret>,
        concurrency: usize,
    ) -> impl Future<Output = Vec<Result<String, WriteError>>> + Send {
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
    created: Option<Result<String, WriteError>>,
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
                let id = match created {
                    Some(outcome) => outcome?,
                    None => {
                        let desired = ex.desired.as_ref().expect("create has a record");
                        target
                            .create_user(desired, options.default_password.as_ref())
                            .await?
                    }
                };
                done.target_id = Some(id);
                done.user_written = true;
            }
            ActionKind::Link | ActionKind::Update | ActionKind::Move | ActionKind::Enable => {
                if !action.changes.is_empty() {
                    let desired = ex.desired.as_ref().expect("changes come with a record");
                    let fields: Vec<&str> =
                        action.changes.iter().map(|c| c.field.as_str()).collect();
                    let id = action.target_user_id.as_deref().expect("has a target user");
                    target.update_user(id, desired, &fields).await?;
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
) -> Vec<Option<Result<String, WriteError>>> {
    let mut created: Vec<Option<Result<String, WriteError>>> =
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
    let desired: Vec<&DesiredUser> = slots
        .iter()
        .map(|slot| {
            batch[*slot]
                .1
                .execution
                .desired
                .as_ref()
                .expect("create has a record")
        })
        .collect();
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
            match joining.iter_mut().find(|(g, _)| *g == group.as_str()) {
                Some((_, slots)) => slots.push(slot),
                None => joining.push((group.as_str(), vec![slot])),
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
                    removed.push(group.clone());
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
        if let Some(desired) = &ex.desired {
            link.roles_given = desired.roles.iter().cloned().collect();
        }
        match group_mode {
            _ if !groups => {}
            GroupMode::Single => {
                if let Some(group) = &ex.record_group {
                    let all_added = done.added.len() == ex.add_to.len();
                    if all_added {
                        link.group = group.clone();
                    }
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
    mut plan: Plan,
    target: &T,
    store: &J,
    options: &ApplyOptions,
    mut progress: impl FnMut(usize),
) -> Result<Applied, J::Error> {
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
    // that this run's own action for the same user is about to record.
    store.batch(|| {
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
        let mut writes = futures::stream::iter(batch.iter().zip(created))
            .map(|((_, action), created)| write_user(target, action, options, created))
            .buffered(concurrency);
        let mut dones: Vec<Done> = Vec::with_capacity(batch.len());
        while let Some(done) = writes.next().await {
            // A disable is recorded the moment the target confirms it: lost, the user would
            // stay disabled when back in scope (R7 enables only what adsync disabled).
            let action = batch[dones.len()].1;
            if action.kind == ActionKind::Disable && done.user_written {
                record(store, &mut links, action, &done, options.group_mode, false)?;
            }
            dones.push(done);
        }
        drop(writes);
        // The user writes are recorded before the group writes begin, so a run cut off during
        // the group writes loses no user's state (they converge next run; see the module doc).
        store.batch(|| {
            for ((_, action), done) in batch.iter().zip(&dones) {
                record(store, &mut links, action, done, options.group_mode, false)?;
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
                record(store, &mut links, action, done, options.group_mode, true)?;
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
            Ok(())
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
    Ok(Applied {
        plan,
        run_id,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;

    use super::*;
    use crate::config::Settings;
    use crate::state::StateStore;
    use crate::sync::tests::{SALES, SUPPORT, settings, user};
    use crate::sync::{
        Link, PlanInput, SourceGroup, SourceSnapshot, TargetGroup, TargetSnapshot, TargetUser,
        Whereabouts, plan as make_plan,
    };

    /// A target in memory that logs each request and refuses to put `refused` in any group; with
    /// `hang_groups`, group writes never answer (a run cut off during them).
    #[derive(Default)]
    struct Target {
        refused: Option<String>,
        hang_groups: bool,
        /// Creates several users in one request, as over SCIM `/Bulk`, refusing this user name.
        bulk_refusing: Option<String>,
        members: Mutex<BTreeMap<String, BTreeSet<String>>>,
        requests: Mutex<Vec<String>>,
    }

    impl Target {
        fn log(&self, request: String) {
            self.requests.lock().unwrap().push(request);
        }

        fn requests(&self, prefix: &str) -> usize {
            let requests = self.requests.lock().unwrap();
            requests.iter().filter(|r| r.starts_with(prefix)).count()
        }
    }

    impl TargetWriter for Target {
        async fn create_user(
            &self,
            desired: &DesiredUser,
            _: Option<&Secret>,
        ) -> Result<String, WriteError> {
            self.log(format!("create {}", desired.user_name));
            Ok(format!("t-{}", desired.external_id))
        }

        async fn create_users(
            &self,
            users: &[&DesiredUser],
            password: Option<&Secret>,
            _: usize,
        ) -> Vec<Result<String, WriteError>> {
            let Some(refused) = &self.bulk_refusing else {
                let mut out = Vec::new();
                for desired in users {
                    out.push(self.create_user(desired, password).await);
                }
                return out;
            };
            self.log(format!("bulk {}", users.len()));
            users
                .iter()
                .map(|desired| {
                    if &desired.user_name == refused {
                        Err(WriteError(format!("{refused} is not a valid name here")))
                    } else {
                        Ok(format!("t-{}", desired.external_id))
                    }
                })
                .collect()
        }

        async fn update_user(
            &self,
            id: &str,
            _: &DesiredUser,
            _: &[&str],
        ) -> Result<(), WriteError> {
            self.log(format!("update {id}"));
            Ok(())
        }

        async fn set_active(&self, id: &str, _: bool) -> Result<(), WriteError> {
            self.log(format!("active {id}"));
            Ok(())
        }

        async fn add_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
            self.add_members(group, &[user.to_owned()]).await
        }

        async fn add_members(&self, group: &str, users: &[String]) -> Result<(), WriteError> {
            self.log(format!("add {group} {}", users.len()));
            if self.hang_groups {
                std::future::pending::<()>().await;
            }
            if let Some(refused) = &self.refused
                && users.contains(refused)
            {
                return Err(WriteError(format!("{refused} may not join {group}")));
            }
            let mut members = self.members.lock().unwrap();
            members
                .entry(group.to_owned())
                .or_default()
                .extend(users.iter().cloned());
            Ok(())
        }

        async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
            self.log(format!("remove {group} {user}"));
            Ok(())
        }
    }

    /// `support` members of Support (→ tier-1) and `sales` of Sales (→ tier-2), none in the target.
    fn first_plan(support: usize, sales: usize) -> Plan {
        let (settings, source, target) = snapshots(support, sales);
        make_plan(PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &Links::new(),
        })
        .unwrap()
    }

    fn snapshots(support: usize, sales: usize) -> (Settings, SourceSnapshot, TargetSnapshot) {
        let settings = settings("");
        let mut source = SourceSnapshot::default();
        for (group, count, prefix) in [(SUPPORT, support, "s"), (SALES, sales, "x")] {
            let mut members = BTreeSet::new();
            for n in 0..count {
                let id = format!("{prefix}{n:05}");
                members.insert(id.clone());
                source.users.insert(id.clone(), user(&id, &id));
            }
            source.groups.insert(
                group.into(),
                SourceGroup {
                    id: group.into(),
                    display_name: group.into(),
                    created: None,
                    members,
                },
            );
        }
        let mut target = TargetSnapshot::default();
        for id in ["tier-1", "tier-2"] {
            target.groups.insert(
                id.into(),
                TargetGroup {
                    id: id.into(),
                    display_name: id.into(),
                    members: BTreeSet::new(),
                },
            );
        }
        (settings, source, target)
    }

    fn options() -> ApplyOptions {
        ApplyOptions {
            concurrency: 4,
            group_mode: GroupMode::Single,
            default_password: None,
            trigger: "test".into(),
            cancel: None,
        }
    }

    #[tokio::test]
    async fn users_join_their_group_in_one_request_per_batch_and_each_batch_is_recorded() {
        let plan = first_plan(600, 10);
        assert_eq!(plan.summary.create, 610);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        let target = Target::default();
        let mut reported = Vec::new();
        let applied = apply(plan, &target, &store, &options(), |n| reported.push(n))
            .await
            .unwrap();

        assert_eq!(applied.failed, 0);
        assert_eq!(target.requests("create "), 610);
        // 610 actions are 3 batches; each batch adds its users with at most one request per group.
        let adds = target.requests("add ");
        assert!((3..=6).contains(&adds), "{adds} group requests");
        assert_eq!(target.requests("add tier-1"), 3);
        let members = target.members.lock().unwrap();
        assert_eq!(members["tier-1"].len(), 600);
        assert_eq!(members["tier-2"].len(), 10);
        assert!(members["tier-2"].iter().all(|m| m.starts_with("t-x")));
        // Progress after each batch, ending at the total.
        assert_eq!(reported, vec![BATCH, 2 * BATCH, 610]);
        let links = store.links().unwrap();
        assert_eq!(links.len(), 610);
        assert_eq!(links["s00042"].group.as_deref(), Some("tier-1"));
        assert_eq!(links["x00003"].group.as_deref(), Some("tier-2"));
        assert_eq!(links["x00003"].target_id, "t-x00003");
    }

    #[tokio::test]
    async fn a_batch_creates_its_users_together_and_each_result_goes_to_its_own_action() {
        let plan = first_plan(300, 0);
        let refused = plan
            .actions
            .iter()
            .find(|a| a.entra_id == "s00123")
            .and_then(|a| a.execution.desired.as_ref())
            .map(|d| d.user_name.clone())
            .expect("s00123 is created");
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        let target = Target {
            bulk_refusing: Some(refused.clone()),
            ..Target::default()
        };
        let applied = apply(plan, &target, &store, &options(), |_| {})
            .await
            .unwrap();

        // 300 creates are two batches (250 + 50): two requests, none one by one.
        assert_eq!(target.requests("bulk "), 2);
        assert_eq!(target.requests("bulk 250"), 1);
        assert_eq!(target.requests("create "), 0);
        assert_eq!(applied.failed, 1);
        let failed: Vec<_> = applied
            .plan
            .actions
            .iter()
            .filter(|a| a.result.as_ref().unwrap().status == ResultStatus::Failed)
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].entra_id, "s00123");
        assert!(
            failed[0]
                .result
                .as_ref()
                .unwrap()
                .error
                .as_deref()
                .unwrap()
                .contains(&refused),
            "{:?}",
            failed[0].result
        );
        // Everyone else is created, linked under their own id, and in the group; not the refused.
        let links = store.links().unwrap();
        assert_eq!(links.len(), 299);
        assert!(!links.contains_key("s00123"));
        assert_eq!(links["s00124"].target_id, "t-s00124");
        let members = target.members.lock().unwrap();
        assert_eq!(members["tier-1"].len(), 299);
        assert!(!members["tier-1"].contains("t-s00123"));
    }

    #[tokio::test]
    async fn a_few_creates_go_one_by_one() {
        let plan = first_plan(BULK_CREATES - 1, 0);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        let target = Target {
            bulk_refusing: Some("nobody".into()),
            ..Target::default()
        };
        let applied = apply(plan, &target, &store, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!(applied.failed, 0);
        assert_eq!(target.requests("bulk "), 0);
        assert_eq!(target.requests("create "), BULK_CREATES - 1);
    }

    #[tokio::test]
    async fn a_member_the_target_refuses_fails_only_its_own_action() {
        let plan = first_plan(5, 0);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        let target = Target {
            refused: Some("t-s00002".into()),
            ..Target::default()
        };
        let applied = apply(plan, &target, &store, &options(), |_| {})
            .await
            .unwrap();

        assert_eq!(applied.failed, 1);
        // The whole batch first, then one request per user to find the one refused.
        assert_eq!(target.requests("add tier-1 5"), 1);
        assert_eq!(target.requests("add tier-1 1"), 5);
        let failed: Vec<&Action> = applied
            .plan
            .actions
            .iter()
            .filter(|a| a.result.as_ref().unwrap().status == ResultStatus::Failed)
            .collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].entra_id, "s00002");
        assert_eq!(
            failed[0].result.as_ref().unwrap().error.as_deref(),
            Some("t-s00002 may not join tier-1")
        );
        assert_eq!(target.members.lock().unwrap()["tier-1"].len(), 4);
        // The refused user exists and is linked, but not recorded in the group, so the next plan
        // adds it again.
        let links = store.links().unwrap();
        assert_eq!(links["s00002"].target_id, "t-s00002");
        assert_eq!(links["s00002"].group, None);
        assert_eq!(links["s00001"].group.as_deref(), Some("tier-1"));
    }

    #[tokio::test]
    async fn a_run_cut_off_during_group_writes_keeps_the_user_writes_and_disables() {
        let (settings, mut source, mut target) = snapshots(5, 0);
        // A managed user deleted in Entra: disabled by this run.
        target.users.insert(
            "t-gone".into(),
            TargetUser {
                id: "t-gone".into(),
                user_name: "gone@contoso.example".into(),
                active: true,
                ..TargetUser::default()
            },
        );
        source.outside.insert("gone".into(), Whereabouts::Deleted);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        let gone = Link {
            entra_id: "gone".into(),
            target_id: "t-gone".into(),
            values_hash: "old".into(),
            ..Link::default()
        };
        store.put_link(&gone).unwrap();
        let plan = make_plan(PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &store.links().unwrap(),
        })
        .unwrap();
        assert_eq!((plan.summary.create, plan.summary.disable), (5, 1));
        let writer = Target {
            hang_groups: true,
            ..Target::default()
        };
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(300),
            apply(plan, &writer, &store, &options(), |_| {}),
        )
        .await;
        assert!(cut.is_err(), "the group writes never answer");
        assert_eq!(writer.requests("create "), 5);
        let links = store.links().unwrap();
        assert!(links["gone"].disabled_by_adsync);
        // Created and linked, but not yet in the group: the next plan adds them.
        assert_eq!(links.len(), 6);
        assert_eq!(links["s00003"].target_id, "t-s00003");
        assert_eq!(links["s00003"].group, None);
    }

    #[tokio::test]
    async fn a_user_whose_target_user_vanished_is_linked_to_the_new_one() {
        let (settings, source, target) = snapshots(2, 0);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.db")).unwrap();
        store
            .put_link(&Link {
                entra_id: "s00001".into(),
                target_id: "t-vanished".into(),
                ..Link::default()
            })
            .unwrap();
        let plan = make_plan(PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &store.links().unwrap(),
        })
        .unwrap();
        // The old link is dropped (a state fix) and the user created again.
        assert_eq!(plan.state_fixes.len(), 1);
        assert_eq!(plan.summary.create, 2);
        apply(plan, &Target::default(), &store, &options(), |_| {})
            .await
            .unwrap();
        let links = store.links().unwrap();
        assert_eq!(links["s00001"].target_id, "t-s00001");
        assert_eq!(links["s00001"].group.as_deref(), Some("tier-1"));
    }
}
