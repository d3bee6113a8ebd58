//! `apply()`: carries out a plan through a [`TargetWriter`], a few actions at a time. There is no
//! dry-run flag here: a dry run is not calling this. Every action's outcome is recorded; one failed
//! action does not stop the others; the state changes only after the target confirms, so a run cut
//! off anywhere converges on the next one (R12): a user created but not yet linked is found again
//! by its `externalId` (R2).

use std::future::Future;

use futures::StreamExt;

use super::mapping::DesiredUser;
use super::model::{Link, Links};
use super::plan::*;
use crate::config::GroupMode;
use crate::secret::Secret;
use crate::state::{StateError, StateStore};

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

async fn run_action<T: TargetWriter>(target: &T, action: &Action, options: &ApplyOptions) -> Done {
    let mut done = Done {
        target_id: action.target_user_id.clone(),
        ..Done::default()
    };
    if options.cancelled() {
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
                let desired = ex.desired.as_ref().expect("create has a record");
                let id = target
                    .create_user(desired, options.default_password.as_ref())
                    .await?;
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
        let id = done.target_id.clone().expect("known by now");
        for group in &ex.add_to {
            target.add_member(group, &id).await?;
            done.added.push(group.clone());
        }
        for group in &ex.remove_from {
            target.remove_member(group, &id).await?;
            done.removed.push(group.clone());
        }
        Ok(())
    }
    .await;
    done.error = outcome.err().map(|e| e.0);
    done
}

/// Records in the state what the target confirmed for one action.
fn record(
    store: &StateStore,
    links: &mut Links,
    action: &Action,
    done: &Done,
    group_mode: GroupMode,
) -> Result<(), StateError> {
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
        match group_mode {
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

/// Applies `plan` to the target, recording links and history in `store`. The caller has already
/// refused a blocked plan (R11) unless the administrator allowed it.
/// `progress` is called with the number of actions finished after each one.
pub async fn apply<T: TargetWriter>(
    mut plan: Plan,
    target: &T,
    store: &StateStore,
    options: &ApplyOptions,
    mut progress: impl FnMut(usize),
) -> Result<Applied, StateError> {
    plan.dry_run = false;
    let run_id = store.begin_run(&options.trigger, false)?;
    let mut links = store.links()?;
    let concurrency = options.concurrency.max(1);
    let actions = plan.actions.clone();
    let mut results = futures::stream::iter(actions.iter().enumerate())
        .map(|(index, action)| async move { (index, run_action(target, action, options).await) })
        .buffer_unordered(concurrency);
    let mut failed = 0;
    let mut finished = 0;
    while let Some((index, done)) = results.next().await {
        let action = &mut plan.actions[index];
        if let Some(id) = &done.target_id {
            action.target_user_id = Some(id.clone());
        }
        record(store, &mut links, action, &done, options.group_mode)?;
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
            progress(finished);
        }
    }
    drop(results);
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
        (0, 0) => "ok",
        (_, 0) => "partial",
        _ => "stopped",
    };
    let error = match (failed, not_run) {
        (0, 0) => None,
        (f, 0) => Some(format!("{f} action(s) failed")),
        (f, n) => Some(format!("stopped: {n} action(s) not run, {f} failed")),
    };
    store.finish_run(run_id, outcome, Some(&plan.summary), error.as_deref())?;
    Ok(Applied {
        plan,
        run_id,
        failed,
    })
}
