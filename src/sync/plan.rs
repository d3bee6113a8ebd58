//! The plan: every change a sync would make, as a value. It serializes to the plan JSON of SPEC §4
//! (a contract) and renders as a text report grouped by target group, and as CSV.

use std::borrow::Cow;

use serde::Serialize;

use super::mapping::{CreateRecord, DesiredUser};
use super::model::Text;

/// What happens to one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Create,
    Link,
    Update,
    Move,
    Disable,
    Enable,
    Skip,
}

impl ActionKind {
    pub const ALL: [ActionKind; 7] = [
        Self::Create,
        Self::Link,
        Self::Update,
        Self::Move,
        Self::Disable,
        Self::Enable,
        Self::Skip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Link => "link",
            Self::Update => "update",
            Self::Move => "move",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Skip => "skip",
        }
    }
}

/// A target group as the plan names it. Its id and name are shared by every action of the
/// group (a first sync puts 100,000 users in three groups).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupRef {
    pub id: Text,
    pub name: Text,
}

/// One attribute change, with SCIM attribute paths (`title`, `name.givenName`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// How an applied action ended (`sync --format json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    pub status: ResultStatus,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultStatus {
    Ok,
    Failed,
    NotRun,
}

/// The mapped record an action writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Record {
    /// Nothing to write (disable, skip).
    #[default]
    None,
    /// The whole record (link, update, move, enable), with the roles to write.
    Full(Box<DesiredUser>),
    /// A create's record, compact until apply time: a plan may hold 100,000 of them.
    Create(CreateRecord),
}

/// What `apply` needs beyond what the JSON shows. Not serialized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    /// The mapped record (create, link, update, move, enable); see [`Execution::desired`].
    pub record: Record,
    /// The hash to record once the target confirms.
    pub values_hash: String,
    /// Group memberships to add, then to remove (ids shared with the plan's [`GroupRef`]s).
    pub add_to: Vec<Text>,
    pub remove_from: Vec<Text>,
    /// The single-mode group to record for the link (`None` keeps the current record).
    pub record_group: Option<Option<Text>>,
}

impl Execution {
    /// Does the action change group memberships?
    pub fn changes_groups(&self) -> bool {
        !self.add_to.is_empty() || !self.remove_from.is_empty()
    }

    /// The full mapped record, made from the compact one for a create.
    pub fn desired(&self) -> Option<Cow<'_, DesiredUser>> {
        match &self.record {
            Record::None => None,
            Record::Full(desired) => Some(Cow::Borrowed(desired)),
            Record::Create(record) => Some(Cow::Owned(record.to_desired())),
        }
    }

    /// The roles the record gives (what the state remembers adsync gave); `None` without one.
    pub fn roles(&self) -> Option<Vec<String>> {
        match &self.record {
            Record::None => None,
            Record::Full(desired) => Some(desired.roles.clone()),
            Record::Create(record) => Some(record.roles()),
        }
    }
}

/// One user's action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub kind: ActionKind,
    pub entra_id: String,
    pub user_principal_name: String,
    pub email: String,
    pub target_user_id: Option<String>,
    pub target_group: Option<GroupRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_groups: Option<Vec<GroupRef>>,
    pub changes: Vec<Change>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ActionResult>,
    #[serde(skip)]
    pub execution: Execution,
}

/// Counts by kind; `unchanged` counts in-scope managed users with no action.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub link: usize,
    pub update: usize,
    #[serde(rename = "move")]
    pub move_: usize,
    pub disable: usize,
    pub enable: usize,
    pub skip: usize,
    pub unchanged: usize,
}

impl Summary {
    /// The count for one kind.
    pub fn count(&self, kind: ActionKind) -> usize {
        match kind {
            ActionKind::Create => self.create,
            ActionKind::Link => self.link,
            ActionKind::Update => self.update,
            ActionKind::Move => self.move_,
            ActionKind::Disable => self.disable,
            ActionKind::Enable => self.enable,
            ActionKind::Skip => self.skip,
        }
    }

    fn slot(&mut self, kind: ActionKind) -> &mut usize {
        match kind {
            ActionKind::Create => &mut self.create,
            ActionKind::Link => &mut self.link,
            ActionKind::Update => &mut self.update,
            ActionKind::Move => &mut self.move_,
            ActionKind::Disable => &mut self.disable,
            ActionKind::Enable => &mut self.enable,
            ActionKind::Skip => &mut self.skip,
        }
    }
}

/// Why a plan is withheld (R11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocked {
    /// The plan's disables (for a `clear` or `unlink` guard possibly below the limit).
    pub disables: usize,
    /// The lower of the two limits as a count.
    pub limit: usize,
    pub reason: String,
    /// Which guard withheld the plan.
    pub kind: GuardKind,
    /// For `clear` and `unlink`: the count the guard judged (users losing a value, links
    /// dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<usize>,
}

/// R11's guards: what kind of mass change withheld a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardKind {
    /// Too many disables.
    Disable,
    /// Too many users would lose a value the target holds (an attribute wipe).
    Clear,
    /// Too many links dropped because their target users seem to have vanished.
    Unlink,
}

impl GuardKind {
    /// The guard's name for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Disable => "the mass-disable guard",
            Self::Clear => "the attribute-wipe guard",
            Self::Unlink => "the dropped-link guard",
        }
    }

    /// What to look at before letting such a plan through, for people.
    pub fn what_to_check(self) -> &'static str {
        match self {
            Self::Disable => "Check the Entra groups and scope rules",
            Self::Clear => {
                "Check the [[mappings]] and that Entra ID still holds these attributes (a \
                 property Graph stopped sending, a renamed extension attribute)"
            }
            Self::Unlink => {
                "Check that the application still holds these users (were they deleted there, \
                 or does its listing leave them out?)"
            }
        }
    }
}

impl Blocked {
    /// One line for a log or an error: which guard, why, what to do.
    pub fn withheld(&self) -> String {
        format!(
            "the plan is withheld by {}: {}; nothing was written. {}, then run `adsync sync \
             --allow-mass-disable` if it is intended",
            self.kind.name(),
            self.reason,
            self.kind.what_to_check()
        )
    }
}

/// A warning the administrator should read (`duplicate-email`, `ambiguous-match`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub entra_ids: Vec<String>,
}

/// A state change with no target write: the Entra values changed but the target already holds
/// them, or a link whose target user vanished is forgotten. Applied with the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateFix {
    /// Record this hash for the link.
    Rehash {
        entra_id: String,
        values_hash: String,
    },
    /// Forget the link (its target user no longer exists).
    Unlink { entra_id: String },
}

/// Everything one sync would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub version: u32,
    pub dry_run: bool,
    pub summary: Summary,
    pub blocked: Option<Blocked>,
    pub actions: Vec<Action>,
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    pub state_fixes: Vec<StateFix>,
}

impl Plan {
    /// Builds a plan, computing the summary from the actions.
    pub fn new(
        actions: Vec<Action>,
        warnings: Vec<Warning>,
        unchanged: usize,
        state_fixes: Vec<StateFix>,
    ) -> Self {
        let mut summary = Summary {
            unchanged,
            ..Summary::default()
        };
        for action in &actions {
            *summary.slot(action.kind) += 1;
        }
        Self {
            version: 1,
            dry_run: true,
            summary,
            blocked: None,
            actions,
            warnings,
            state_fixes,
        }
    }

    /// True when applying it would change nothing (no actions but skips, no state fixes).
    pub fn is_empty(&self) -> bool {
        self.actions.iter().all(|a| a.kind == ActionKind::Skip) && self.state_fixes.is_empty()
    }

    /// The plan JSON of SPEC §4.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a plan always serializes")
    }

    /// [`Self::to_json`] and a newline, written as it is produced: a 100,000-user report is
    /// about 60 MiB as one string.
    pub fn write_json(&self, out: impl std::io::Write) -> std::io::Result<()> {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}
