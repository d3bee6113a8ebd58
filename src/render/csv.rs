//! The plan as CSV: the one place CSV is written, so swapping in a CSV library touches only this
//! file. The output is byte-for-byte what SPEC §4 and the tests expect.

use super::group_label;
use crate::sync::Plan;

/// CSV: one row per action, changes joined as `field: from -> to`.
pub fn plan_csv(plan: &Plan) -> String {
    let mut out = String::from(
        "kind,entra_id,user_principal_name,email,target_user_id,target_group,changes,reason\n",
    );
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
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn csv_cell(text: &str) -> String {
    // A leading =, +, - or @ would be run as a formula by spreadsheets; quote it as text.
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) || guarded != text {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}
