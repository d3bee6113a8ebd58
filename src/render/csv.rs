//! The plan as CSV, written by the `csv` crate, with cells that would run as spreadsheet formulas
//! defused.

use super::group_label;
use crate::sync::Plan;

/// CSV: one row per action, changes joined as `field: from -> to`. Written by the `csv` crate
/// (a cell is quoted when it holds a comma, a quote, CR or LF); a cell a spreadsheet would run as
/// a formula is defused.
pub fn plan_csv(plan: &Plan) -> String {
    let mut out = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing into memory cannot fail.
    out.write_record([
        "kind",
        "entra_id",
        "user_principal_name",
        "email",
        "target_user_id",
        "target_group",
        "changes",
        "reason",
    ])
    .expect("CSV into memory");
    for a in &plan.actions {
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
    String::from_utf8(bytes).expect("every cell is UTF-8")
}

/// A cell starting with `=`, `+`, `-` or `@` would be run as a formula by spreadsheets: a leading
/// `'` makes it text.
fn defuse_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
