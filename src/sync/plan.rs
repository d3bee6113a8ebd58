//! The plan: every change a sync would make, as a value. It serializes to the plan JSON of SPEC §4
//! (a contract) and renders as a text report grouped by target group, and as CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::mapping::DesiredUser;

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

/// A target group as the plan names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
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

/// What `apply` needs beyond what the JSON shows. Not serialized.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Execution {
    /// The full mapped record (create, link, update, enable).
    pub desired: Option<DesiredUser>,
    /// The hash to record once the target confirms.
    pub values_hash: String,
    /// Group memberships to add, then to remove.
    pub add_to: Vec<String>,
    pub remove_from: Vec<String>,
    /// The single-mode group to record for the link (`None` keeps the current record).
    pub record_group: Option<Option<String>>,
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
    pub disables: usize,
    pub limit: usize,
    pub reason: String,
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

    /// CSV: one row per action, changes joined as `field: from -> to`. Written by the `csv`
    /// crate (quoting as RFC 4180 needs); cells a spreadsheet would run as a formula are defused.
    pub fn to_csv(&self) -> String {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let header = [
            "kind",
            "entra_id",
            "user_principal_name",
            "email",
            "target_user_id",
            "target_group",
            "changes",
            "reason",
        ];
        // Writing into memory cannot fail, and every cell is UTF-8.
        out.write_record(header).expect("CSV into memory");
        for a in &self.actions {
            let group = group_label(a);
            let changes = a
                .changes
                .iter()
                .map(|c| {
                    format!(
                        "{}: {} -> {}",
                        c.field,
                        c.from.as_deref().unwrap_or(""),
                        c.to.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let row = [
                a.kind.as_str(),
                &a.entra_id,
                &a.user_principal_name,
                &a.email,
                a.target_user_id.as_deref().unwrap_or(""),
                &group,
                &changes,
                &a.reason,
            ];
            out.write_record(row.iter().map(|c| defuse_formula(c)))
                .expect("CSV into memory");
        }
        let bytes = out.into_inner().expect("CSV into memory");
        String::from_utf8(bytes).expect("CSV of UTF-8 cells")
    }

    /// A report for people: the counts, then the actions grouped by target group.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let s = &self.summary;
        let _ = writeln!(
            out,
            "Plan: {} create, {} link, {} update, {} move, {} disable, {} enable, {} skip, {} unchanged",
            s.create, s.link, s.update, s.move_, s.disable, s.enable, s.skip, s.unchanged
        );
        if let Some(b) = &self.blocked {
            let _ = writeln!(
                out,
                "\nBLOCKED: {} (the limit is {}). Nothing will be written. Check the Entra \
                 groups and scope rules; if the disables are intended, run \
                 `adsync sync --allow-mass-disable`.",
                b.reason, b.limit
            );
        }
        let mut by_group: BTreeMap<String, Vec<&Action>> = BTreeMap::new();
        for a in &self.actions {
            by_group.entry(group_label(a)).or_default().push(a);
        }
        for (group, actions) in by_group {
            let title = if group.is_empty() {
                "(no target group)".to_owned()
            } else {
                group
            };
            let _ = writeln!(out, "\n{title}");
            for a in actions {
                let _ = writeln!(
                    out,
                    "  {:<8} {}  ({})",
                    a.kind.as_str(),
                    a.user_principal_name,
                    a.reason
                );
                for c in &a.changes {
                    let _ = writeln!(
                        out,
                        "           {}: {} -> {}",
                        c.field,
                        c.from.as_deref().unwrap_or("(none)"),
                        c.to.as_deref().unwrap_or("(none)")
                    );
                }
                if let Some(r) = &a.result
                    && r.status != ResultStatus::Ok
                {
                    let status = match r.status {
                        ResultStatus::Failed => "FAILED",
                        _ => "not run",
                    };
                    let _ = writeln!(
                        out,
                        "           {status}: {}",
                        r.error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning [{}]: {}", w.code, w.message);
        }
        if self.actions.is_empty() {
            let _ = writeln!(out, "\nNothing to do: the target is in step with Entra ID.");
        }
        out
    }
}

fn group_label(a: &Action) -> String {
    match (&a.target_group, &a.target_groups) {
        (Some(g), _) => g.name.clone(),
        (None, Some(gs)) => gs
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
        (None, None) => String::new(),
    }
}

/// A cell starting with `=`, `+`, `-` or `@` would be run as a formula by spreadsheets: a
/// leading `'` makes it text.
fn defuse_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
