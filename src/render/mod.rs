//! Rendering for people and spreadsheets, apart from the engine and from argument parsing: the
//! plan as text ([`plan_text`]) and CSV ([`plan_csv`]), the history table ([`history_table`]) and
//! health-check lines ([`check_line`]) and `explain`'s report ([`explanation`]). Pure functions from values to strings;
//! what they return is safe for a terminal ([`terminal`]).

mod csv;
mod explain;
pub mod terminal;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use csv::plan_csv;
pub use explain::explanation;

use crate::health::CheckLine;
use crate::state::RunRecord;
use crate::sync::{Action, Plan, ResultStatus};

/// A report for people: the counts, then the actions grouped by target group. `blocked_advice`
/// follows the BLOCKED line of a withheld plan (the front end knows what the user can do).
pub fn plan_text(plan: &Plan, blocked_advice: Option<&str>) -> String {
    let mut out = String::new();
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "Plan: {} create, {} link, {} update, {} move, {} disable, {} enable, {} skip, {} unchanged",
        s.create, s.link, s.update, s.move_, s.disable, s.enable, s.skip, s.unchanged
    );
    if let Some(b) = &plan.blocked {
        let _ = write!(
            out,
            "\nBLOCKED by {}: {} (the limit is {}). Nothing will be written. {}.",
            b.kind.name(),
            b.reason,
            b.limit,
            b.kind.what_to_check()
        );
        match blocked_advice {
            Some(advice) => {
                let _ = writeln!(out, " {advice}");
            }
            None => out.push('\n'),
        }
    }
    let mut by_group: BTreeMap<String, Vec<&Action>> = BTreeMap::new();
    for a in &plan.actions {
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
    for w in &plan.warnings {
        let _ = writeln!(out, "\nwarning [{}]: {}", w.code, w.message);
    }
    if plan.actions.is_empty() {
        let _ = writeln!(out, "\nNothing to do: the target is in step with Entra ID.");
    }
    terminal::safe(out)
}

/// The target group(s) an action concerns, as one label.
pub(crate) fn group_label(a: &Action) -> String {
    match (&a.target_group, &a.target_groups) {
        (Some(g), _) => g.name.to_string(),
        (None, Some(gs)) => gs.iter().map(|g| &*g.name).collect::<Vec<_>>().join(" + "),
        (None, None) => String::new(),
    }
}

/// `adsync history` as text: one line per run, then its actions indented.
pub fn history_table(runs: &[RunRecord]) -> String {
    let mut out = String::new();
    for run in runs {
        let _ = writeln!(
            out,
            "#{} {} {} {}{}",
            run.id,
            run.started_at,
            run.trigger,
            run.outcome,
            match (run.error.as_deref(), run.outcome) {
                (Some(e), _) => format!(": {e}"),
                (None, crate::sync::RunOutcome::Interrupted) => {
                    ": its process ended before the run finished (killed or crashed); the next \
                     sync converges"
                        .to_owned()
                }
                (None, _) => String::new(),
            }
        );
        for a in &run.actions {
            let _ = writeln!(
                out,
                "    {:<8} {:<40} {}{}",
                a.kind,
                a.user_principal_name,
                a.status,
                match (&a.error, a.kind.as_str()) {
                    (Some(e), _) => format!(" ({e})"),
                    // A decision taken by hand says who took it.
                    (None, "link" | "unlink") if run.trigger == a.kind =>
                        format!(" ({})", a.reason),
                    _ => String::new(),
                }
            );
        }
    }
    if runs.is_empty() {
        out.push_str("no runs yet\n");
    }
    terminal::safe(out)
}

/// One health-check line: `ok  ` or `FAIL`, the check's name and what it found.
pub fn check_line(line: &CheckLine) -> String {
    terminal::safe(format!(
        "{} {}: {}\n",
        if line.ok { "ok  " } else { "FAIL" },
        line.name,
        line.detail
    ))
}

/// `adsync check`'s report: one aligned line per check.
pub fn check_table(lines: &[CheckLine]) -> String {
    let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for line in lines {
        let _ = writeln!(
            out,
            "{} {:<width$}  {}",
            if line.ok { "ok  " } else { "FAIL" },
            line.name,
            line.detail
        );
    }
    terminal::safe(out)
}
