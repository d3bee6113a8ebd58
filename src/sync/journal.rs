//! [`Journal`]: what `apply()` needs from a place that remembers, so the engine does not depend on
//! the state store; [`RunOutcome`], how a recorded run ended; and [`Intent`], a write announced
//! before it is sent. The SQLite store implements the journal (`state::journal`); apply's tests
//! use the same store on a temporary file.

use std::fmt;
use std::str::FromStr;

use super::model::{Link, Links};
use super::plan::{Action, ActionKind, Execution, Summary};

/// The links and run history `apply()` reads and writes. Each call is one small write; a
/// [`Journal::batch`] groups them into one commit.
pub trait Journal {
    /// Why the journal could not be read or written.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts the record of an applying (not dry) run started by `trigger`; returns its id.
    fn begin_run(&self, trigger: &str) -> Result<i64, Self::Error>;

    /// Every link, by Entra id.
    fn links(&self) -> Result<Links, Self::Error>;

    /// The links of these Entra users only (those that have one).
    fn links_of<'a>(
        &self,
        entra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Links, Self::Error>;

    /// Inserts or replaces a link.
    fn put_link(&self, link: &Link) -> Result<(), Self::Error>;

    /// Forgets a link.
    fn remove_link(&self, entra_id: &str) -> Result<(), Self::Error>;

    /// Records one action (with its result) as the `seq`th of run `run`.
    fn record_action(&self, run: i64, seq: usize, action: &Action) -> Result<(), Self::Error>;

    /// Closes run `run` with its outcome, the plan's summary and the error in words, if any.
    fn finish_run(
        &self,
        run: i64,
        outcome: RunOutcome,
        summary: &Summary,
        error: Option<&str>,
    ) -> Result<(), Self::Error>;

    /// Runs `f` so that everything it writes is committed together, or, when it fails, nothing.
    fn batch<R>(&self, f: impl FnOnce() -> Result<R, Self::Error>) -> Result<R, Self::Error>;

    /// Records writes about to be sent (replacing any earlier intent of the same users).
    fn put_intents(&self, intents: &[Intent]) -> Result<(), Self::Error>;

    /// Forgets a user's intent: its outcome is recorded.
    fn remove_intent(&self, entra_id: &str) -> Result<(), Self::Error>;

    /// Every intent left, oldest first: writes whose outcome was never recorded.
    fn intents(&self) -> Result<Vec<Intent>, Self::Error>;
}

/// A write whose lost record would break R5 or R7, recorded before it is sent and forgotten in
/// the transaction that records its outcome. One left over means the run was cut off (killed,
/// crashed, the disk full) or the answer was an error the application may not have meant: the
/// next run reads the user in the target and records what really happened
/// (`sync::apply::settle_intents`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The Entra user written for (one intent per user: one action per user per plan).
    pub entra_id: String,
    /// The target user written to; `None` for a create (its id is known only once it is made).
    pub target_id: Option<String>,
    pub kind: IntentKind,
    /// The run that sent it.
    pub run_id: i64,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The group changes sent after the user's own write, if any.
    pub groups: GroupIntent,
}

/// The group memberships a write changes after its user's own write (a move; a create, link or
/// enable that also joins a group). Lost, the link still names the group the user left: when
/// Entra then moves the user back, the plan sees nothing to do and the user stays where the
/// lost move put them (R1, R5); in `all` mode a membership adsync added is taken for someone
/// else's and never removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupIntent {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_from: Vec<String>,
    /// `single` mode: the group the link records once every addition went through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

impl GroupIntent {
    /// The group changes of a planned action.
    pub fn of(execution: &Execution) -> Self {
        Self {
            add_to: execution.add_to.iter().map(|g| g.to_string()).collect(),
            remove_from: execution
                .remove_from
                .iter()
                .map(|g| g.to_string())
                .collect(),
            record: execution
                .record_group
                .clone()
                .flatten()
                .map(|g| g.to_string()),
        }
    }

    /// No membership changes.
    pub fn is_empty(&self) -> bool {
        self.add_to.is_empty() && self.remove_from.is_empty()
    }

    /// Every group the changes touch.
    pub fn groups(&self) -> impl Iterator<Item = &String> {
        self.add_to.iter().chain(&self.remove_from)
    }
}

/// What an [`Intent`] announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntentKind {
    /// A create: lost, the account is made but never linked, so never disabled when its user
    /// leaves (R6).
    Create,
    /// `active = false`: lost, the user is never enabled again when back in scope (R7).
    Disable,
    /// `active = true`: lost, a later disable by the application's administrator would be undone
    /// as if adsync had made it (R7).
    Enable,
    /// Group memberships only (a move, or a link or update that changes groups): see
    /// [`GroupIntent`].
    Move,
}

impl IntentKind {
    /// Every kind, in the order above.
    pub const ALL: [IntentKind; 4] = [
        IntentKind::Create,
        IntentKind::Disable,
        IntentKind::Enable,
        IntentKind::Move,
    ];

    /// The string stored in the state store.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::Create => "create",
            IntentKind::Disable => "disable",
            IntentKind::Enable => "enable",
            IntentKind::Move => "move",
        }
    }

    /// The intent an action announces, if it needs one: its user write's, else its group
    /// changes'.
    pub fn of(action: &Action) -> Option<Self> {
        match action.kind {
            ActionKind::Create => Some(IntentKind::Create),
            ActionKind::Disable => Some(IntentKind::Disable),
            ActionKind::Enable => Some(IntentKind::Enable),
            ActionKind::Skip => None,
            ActionKind::Link | ActionKind::Update | ActionKind::Move => action
                .execution
                .changes_groups()
                .then_some(IntentKind::Move),
        }
    }
}

impl FromStr for IntentKind {
    type Err = String;

    /// The stored string back; an unknown one is named in the error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown intent kind \"{s}\""))
    }
}

/// How a recorded run ended, stored in the history (`runs.outcome`) as [`RunOutcome::as_str`]:
/// the same strings adsync has always stored, so no schema change was needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Begun and not (yet) finished: the schema's default, left by a run that was killed.
    Running,
    /// Every action applied.
    Ok,
    /// Applied, with some actions failed.
    Partial,
    /// Cancelled part way: some actions not run.
    Stopped,
    /// Stopped before its first write (a read failed or was incomplete, R10).
    Failed,
    /// Refused by the mass-disable guard (R11); nothing written.
    Blocked,
    /// Planned in dry-run mode; nothing written.
    DryRun,
    /// Left `running` by a process that died part way (killed, crashed, power lost): set when the
    /// next writer takes the store, and shown so by `history` as soon as no process holds it.
    Interrupted,
}

impl RunOutcome {
    /// Every outcome, in the order above.
    pub const ALL: [RunOutcome; 8] = [
        RunOutcome::Running,
        RunOutcome::Ok,
        RunOutcome::Partial,
        RunOutcome::Stopped,
        RunOutcome::Failed,
        RunOutcome::Blocked,
        RunOutcome::DryRun,
        RunOutcome::Interrupted,
    ];

    /// The string stored in the history and shown by `adsync history`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Partial => "partial",
            RunOutcome::Stopped => "stopped",
            RunOutcome::Failed => "failed",
            RunOutcome::Blocked => "blocked",
            RunOutcome::DryRun => "dry-run",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: the history table aligns it with a width.
        f.pad(self.as_str())
    }
}

/// A stored outcome this adsync does not know (written by a newer one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown run outcome \"{0}\" in the history (expected one of running, ok, partial, stopped, \
     failed, blocked, dry-run, interrupted); it was probably written by a newer adsync: upgrade adsync"
)]
pub struct UnknownOutcome(pub String);

impl FromStr for RunOutcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

/// Compares with the stored string, so `run.outcome == "ok"` reads as it did when outcomes were
/// strings.
impl PartialEq<&str> for RunOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_stored_strings() {
        for outcome in RunOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<RunOutcome>(), Ok(outcome));
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                serde_json::json!(outcome.as_str()),
                "JSON output shows the stored string"
            );
        }
        assert_eq!(format!("{:<8}|", RunOutcome::Ok), "ok      |");
        let unknown = "linked".parse::<RunOutcome>().unwrap_err();
        assert!(unknown.to_string().contains("\"linked\""), "{unknown}");
    }
}
