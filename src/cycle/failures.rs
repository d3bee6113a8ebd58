//! What the service does with the writes that fail: the writer that counts a cycle's writes and
//! notes whom each failure concerns ([`Blame`]), and the bookkeeping after a cycle. A cycle
//! whose only failures are users the application refused is a success for the loop: each such
//! user is recorded in the state store, planned again by the next cycles (so its change is not
//! lost when the delta cursor advances), quarantined after three cycles in a row and then only
//! retried at its retry time; a success forgets the record. A failure of the target as a whole
//! (unreachable, credentials refused) stays a failed cycle.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Engine;
use crate::scim::ScimClient;
use crate::secret::Secret;
use crate::state::quarantine::{FailingUser, UserFailure};
use crate::state::{StateError, now_ms};
use crate::sync::{
    Action, ActionKind, Blame, DesiredUser, NewAccount, Plan, ResultStatus, TargetWriter,
    WriteError,
};

/// The target writer of a service cycle: the SCIM client, counting the writes for the log and
/// noting whom each failed write concerns.
pub(super) struct Counting<'a> {
    scim: &'a ScimClient,
    writes: AtomicUsize,
    /// By the id a failed write named (the Entra id of a create, else the target id).
    blame: Mutex<HashMap<String, Blame>>,
}

impl<'a> Counting<'a> {
    pub(super) fn new(scim: &'a ScimClient) -> Self {
        Self {
            scim,
            writes: AtomicUsize::new(0),
            blame: Mutex::new(HashMap::new()),
        }
    }

    fn count(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    fn note<T>(&self, id: &str, result: Result<T, WriteError>) -> Result<T, WriteError> {
        if let Err(WriteError(_, blame)) = &result {
            let mut map = self.blame.lock().unwrap_or_else(|e| e.into_inner());
            let slot = map.entry(id.to_owned()).or_insert(*blame);
            // A user refusal outweighs a conflict for the same user.
            if *blame == Blame::User || *blame == Blame::Target {
                *slot = *blame;
            }
        }
        result
    }

    /// Did any write fail because of the target as a whole?
    pub(super) fn target_failed(&self) -> bool {
        let map = self.blame.lock().unwrap_or_else(|e| e.into_inner());
        map.values().any(|b| *b == Blame::Target)
    }

    /// Whom `action`'s failure concerns; [`Blame::User`] when no write said.
    fn blame_of(&self, action: &Action) -> Blame {
        let map = self.blame.lock().unwrap_or_else(|e| e.into_inner());
        let by_entra = map.get(&action.entra_id).copied();
        let by_target = action
            .target_user_id
            .as_ref()
            .and_then(|id| map.get(id).copied());
        match (by_entra, by_target) {
            (Some(Blame::User), _) | (_, Some(Blame::User)) => Blame::User,
            (Some(b), _) | (None, Some(b)) => b,
            (None, None) => Blame::User,
        }
    }
}

impl TargetWriter for Counting<'_> {
    async fn create_user(
        &self,
        desired: &DesiredUser,
        password: Option<&Secret>,
    ) -> Result<NewAccount, WriteError> {
        self.count();
        let result = TargetWriter::create_user(self.scim, desired, password).await;
        self.note(&desired.external_id, result)
    }

    async fn create_users(
        &self,
        users: &[&DesiredUser],
        password: Option<&Secret>,
        concurrency: usize,
    ) -> Vec<Result<NewAccount, WriteError>> {
        self.writes.fetch_add(users.len(), Ordering::Relaxed);
        let results = TargetWriter::create_users(self.scim, users, password, concurrency).await;
        users
            .iter()
            .zip(results)
            .map(|(desired, result)| self.note(&desired.external_id, result))
            .collect()
    }

    async fn update_user(
        &self,
        id: &str,
        desired: &DesiredUser,
        fields: &[&str],
    ) -> Result<(), WriteError> {
        self.count();
        let result = TargetWriter::update_user(self.scim, id, desired, fields).await;
        self.note(id, result)
    }

    async fn set_active(&self, id: &str, active: bool) -> Result<(), WriteError> {
        self.count();
        let result = TargetWriter::set_active(self.scim, id, active).await;
        self.note(id, result)
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.count();
        let result = TargetWriter::add_member(self.scim, group, user).await;
        self.note(user, result)
    }

    async fn add_members(&self, group: &str, users: &[String]) -> Result<(), WriteError> {
        self.count();
        let result = TargetWriter::add_members(self.scim, group, users).await;
        // A refusal of several users at once is not yet any one user's: `apply` asks again one
        // user at a time. A failure of the target as a whole is noted whatever the count.
        match (&result, users) {
            (_, [user]) => self.note(user, result),
            (Err(WriteError(_, Blame::Target)), _) => self.note(group, result),
            _ => result,
        }
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.count();
        let result = TargetWriter::remove_member(self.scim, group, user).await;
        self.note(user, result)
    }
}

/// The users quarantined and not yet due for a retry: left out of the plans until then.
pub(super) fn held_back(engine: &Engine) -> Result<BTreeSet<String>, StateError> {
    let now = now_ms();
    Ok(engine
        .store
        .failing_users()?
        .into_iter()
        .filter(|u| u.quarantined() && u.next_retry_ms > now)
        .map(|u| u.entra_id)
        .collect())
}

/// The users whose writes failed and who are due to be tried again: the next incremental cycle
/// plans them whether Entra changed them or not.
pub(super) fn due_again(engine: &Engine) -> Result<BTreeSet<String>, StateError> {
    let now = now_ms();
    Ok(engine
        .store
        .failing_users()?
        .into_iter()
        .filter(|u| u.next_retry_ms <= now)
        .map(|u| u.entra_id)
        .collect())
}

/// Takes the actions of `held` users out of `plan` (and its counts), except disables: a leaver
/// must not stay active because an earlier write of theirs was refused. Returns how many.
pub(super) fn hold_back(plan: &mut Plan, held: &BTreeSet<String>) -> usize {
    if held.is_empty() {
        return 0;
    }
    let before = plan.actions.len();
    let summary = &mut plan.summary;
    plan.actions.retain(|action| {
        let keep = action.kind == ActionKind::Disable || !held.contains(&action.entra_id);
        if !keep {
            let slot = match action.kind {
                ActionKind::Create => &mut summary.create,
                ActionKind::Link => &mut summary.link,
                ActionKind::Update => &mut summary.update,
                ActionKind::Move => &mut summary.move_,
                ActionKind::Disable => &mut summary.disable,
                ActionKind::Enable => &mut summary.enable,
                ActionKind::Skip => &mut summary.skip,
            };
            *slot = slot.saturating_sub(1);
        }
        keep
    });
    before - plan.actions.len()
}

/// After an applied plan whose failures (if any) were the users': records each user whose
/// write failed, and forgets the failures of the users `planned` this cycle whose writes went
/// through or who had nothing left to write. Returns the users this cycle quarantined.
pub(super) fn settle(
    engine: &Engine,
    plan: &Plan,
    writer: &Counting<'_>,
    planned: &dyn Fn(&str) -> bool,
) -> Result<Vec<FailingUser>, StateError> {
    let now = now_ms();
    let interval = engine.settings.service.interval;
    let mut failed = BTreeSet::new();
    let mut not_run = BTreeSet::new();
    let mut quarantined = Vec::new();
    for action in &plan.actions {
        let Some(result) = &action.result else {
            continue;
        };
        match result.status {
            ResultStatus::Failed => {
                let failure = UserFailure {
                    entra_id: &action.entra_id,
                    target_id: action.target_user_id.as_deref(),
                    user_principal_name: &action.user_principal_name,
                    error: result.error.as_deref().unwrap_or("failed"),
                    counted: writer.blame_of(action) == Blame::User,
                };
                let (record, newly) = engine.store.record_user_failure(&failure, interval, now)?;
                failed.insert(action.entra_id.as_str());
                if newly {
                    quarantined.push(record);
                }
            }
            ResultStatus::NotRun if action.kind != ActionKind::Skip => {
                not_run.insert(action.entra_id.as_str());
            }
            _ => {}
        }
    }
    let recovered: Vec<String> = engine
        .store
        .failing_users()?
        .into_iter()
        .map(|u| u.entra_id)
        .filter(|id| planned(id) && !failed.contains(id.as_str()) && !not_run.contains(id.as_str()))
        .collect();
    engine
        .store
        .clear_user_failures(recovered.iter().map(String::as_str))?;
    Ok(quarantined)
}

/// After a full plan applied by `adsync sync` (or the wizard): the failing users whose writes
/// went through, or who had nothing left to write, are forgotten, quarantined or not. Users
/// whose actions failed or did not run keep their records as they were: `sync` tries everyone
/// and reports, and only the service counts failures and quarantines. Returns how many.
pub(super) fn forget_recovered(engine: &Engine, plan: &Plan) -> Result<usize, StateError> {
    let unsettled: BTreeSet<&str> = plan
        .actions
        .iter()
        .filter(|a| {
            a.result
                .as_ref()
                .is_none_or(|r| r.status != ResultStatus::Ok)
        })
        .map(|a| a.entra_id.as_str())
        .collect();
    let recovered: Vec<String> = engine
        .store
        .failing_users()?
        .into_iter()
        .map(|u| u.entra_id)
        .filter(|id| !unsettled.contains(id.as_str()))
        .collect();
    engine
        .store
        .clear_user_failures(recovered.iter().map(String::as_str))
}
