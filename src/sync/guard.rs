//! R11's guards: when a plan makes too many changes of a kind only a broken read or a broken
//! mapping produces to apply without the administrator's word. Three kinds are counted
//! separately under the same limits: disables, attribute wipes (a change that empties a value
//! the target holds) and links dropped because their target users seem to have vanished.

use super::plan::{Action, ActionKind, Blocked, Change, GuardKind};

/// Fewer changes of a kind than this are never withheld, whatever the percentage.
const MIN_BLOCKED: usize = 5;

/// R11: a plan disabling 5 or more users and more than either limit is withheld.
pub fn mass_disable_guard(
    disables: usize,
    active_managed: usize,
    max_disables: u32,
    max_percent: u32,
) -> Option<Blocked> {
    let over = over_limits(disables, active_managed, max_disables, max_percent)?;
    let reason = if over.by_count {
        format!(
            "the plan disables {disables} users, more than max_disables = {}",
            over.max
        )
    } else {
        format!(
            "the plan disables {disables} of {active_managed} active managed users, more than \
             max_disable_percent = {max_percent}%"
        )
    };
    Some(Blocked {
        disables,
        limit: over.limit,
        reason,
        kind: GuardKind::Disable,
        changes: None,
    })
}

/// Does this change empty a value the target holds? `active` is never a wipe (a disable is
/// the disable guard's business).
pub fn is_wipe(change: &Change) -> bool {
    let filled = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    change.field != "active" && filled(&change.from) && !filled(&change.to)
}

/// The users whose action (an update, a link, a move or an enable) would empty at least one
/// value the target holds, and the fields emptied, in order.
pub fn wipes(actions: &[Action]) -> (usize, Vec<&str>) {
    let mut users = 0;
    let mut fields: Vec<&str> = Vec::new();
    for action in actions {
        if matches!(
            action.kind,
            ActionKind::Create | ActionKind::Disable | ActionKind::Skip
        ) {
            continue;
        }
        let mut wiped = false;
        for change in action.changes.iter().filter(|c| is_wipe(c)) {
            wiped = true;
            if !fields.contains(&change.field.as_str()) {
                fields.push(&change.field);
            }
        }
        users += usize::from(wiped);
    }
    fields.sort_unstable();
    (users, fields)
}

/// R11's attribute-wipe guard: `wiping` users would lose a value the target holds (`fields`
/// names which), out of `active_managed` active managed users; `disables` is the plan's count.
pub fn wipe_guard(
    wiping: usize,
    fields: &[&str],
    disables: usize,
    active_managed: usize,
    max_disables: u32,
    max_percent: u32,
) -> Option<Blocked> {
    let over = over_limits(wiping, active_managed, max_disables, max_percent)?;
    let what = format!(
        "the plan empties values the target holds ({}) for {wiping} users",
        fields.join(", ")
    );
    let reason = over.reason(
        &what,
        &format!(" of {active_managed} active managed users"),
        max_percent,
    );
    Some(Blocked {
        disables,
        limit: over.limit,
        reason,
        kind: GuardKind::Clear,
        changes: Some(wiping),
    })
}

/// R11's dropped-link guard: `unlinks` links would be forgotten because their target users
/// are gone, out of `managed` managed users (the vanished ones included: they were managed).
pub fn unlink_guard(
    unlinks: usize,
    disables: usize,
    managed: usize,
    max_disables: u32,
    max_percent: u32,
) -> Option<Blocked> {
    let over = over_limits(unlinks, managed, max_disables, max_percent)?;
    let what = format!(
        "the plan forgets {unlinks} links because their users are gone from the application"
    );
    let reason = over.reason(
        &what,
        &format!(", out of {managed} managed users"),
        max_percent,
    );
    Some(Blocked {
        disables,
        limit: over.limit,
        reason,
        kind: GuardKind::Unlink,
        changes: Some(unlinks),
    })
}

/// Which limit a count passes.
struct Over {
    /// Over `max_disables` (else only over the percentage).
    by_count: bool,
    /// `max_disables`.
    max: usize,
    /// The lower of the two limits as a count.
    limit: usize,
}

impl Over {
    /// Why the plan is withheld: `what` it does, then the limit it passes; `share` says of how
    /// many users, when the percentage is the limit passed.
    fn reason(&self, what: &str, share: &str, max_percent: u32) -> String {
        if self.by_count {
            format!("{what}, more than max_disables = {}", self.max)
        } else {
            format!("{what}{share}, more than max_disable_percent = {max_percent}%")
        }
    }
}

/// R11's arithmetic, the same for every kind: 5 or more, and over either limit.
fn over_limits(count: usize, base: usize, max_count: u32, max_percent: u32) -> Option<Over> {
    let max = max_count as usize;
    let by_count = count > max;
    let by_percent = count * 100 > max_percent as usize * base;
    if count < MIN_BLOCKED || !(by_count || by_percent) {
        return None;
    }
    let percent_limit = max_percent as usize * base / 100;
    Some(Over {
        by_count,
        max,
        limit: max.min(percent_limit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Action;

    fn change(field: &str, from: Option<&str>, to: Option<&str>) -> Change {
        Change {
            field: field.into(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    fn action(kind: ActionKind, changes: Vec<Change>) -> Action {
        Action {
            kind,
            entra_id: String::new(),
            user_principal_name: String::new(),
            email: String::new(),
            target_user_id: None,
            target_group: None,
            target_groups: None,
            changes,
            reason: String::new(),
            result: None,
            execution: Default::default(),
        }
    }

    /// A wipe empties a held value; filling, changing, or a disable's `active` are not wipes;
    /// a user losing two values counts once.
    #[test]
    fn wipes_count_users_losing_a_held_value() {
        assert!(is_wipe(&change("title", Some("Agent"), None)));
        assert!(is_wipe(&change("department", Some("Support"), Some(" "))));
        assert!(!is_wipe(&change("title", None, Some("Agent"))));
        assert!(!is_wipe(&change("title", Some(" "), None)));
        assert!(!is_wipe(&change("title", Some("Agent"), Some("Lead"))));
        assert!(!is_wipe(&change("active", Some("true"), None)));
        let actions = [
            action(
                ActionKind::Update,
                vec![
                    change("title", Some("Agent"), None),
                    change("phoneNumbers", Some("+1 555"), None),
                ],
            ),
            action(
                ActionKind::Link,
                vec![change("department", Some("S"), None)],
            ),
            action(ActionKind::Update, vec![change("title", None, Some("x"))]),
        ];
        assert_eq!(
            wipes(&actions),
            (2, vec!["department", "phoneNumbers", "title"])
        );
    }

    /// The same limits as disables, each kind on its own: below 5 never; over the count or the
    /// percentage; the limit is the lower of the two as a count.
    #[test]
    fn every_kind_has_the_disable_limits() {
        assert_eq!(wipe_guard(4, &["title"], 0, 10, 100, 20), None);
        assert_eq!(wipe_guard(5, &["title"], 0, 100, 100, 20), None);
        let b = wipe_guard(6, &["title"], 2, 20, 100, 20).unwrap();
        assert_eq!(
            (b.kind, b.changes, b.disables, b.limit),
            (GuardKind::Clear, Some(6), 2, 4)
        );
        assert!(b.reason.contains("(title)") && b.reason.contains("max_disable_percent"));
        let b = unlink_guard(6, 0, 1000, 5, 20).unwrap();
        assert_eq!(
            (b.kind, b.changes, b.limit),
            (GuardKind::Unlink, Some(6), 5)
        );
        assert!(b.reason.contains("max_disables = 5"), "{}", b.reason);
        assert!(b.withheld().contains("the dropped-link guard"));
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(
            (&json["kind"], &json["changes"]),
            (&serde_json::json!("unlink"), &serde_json::json!(6))
        );
        let d = mass_disable_guard(6, 10, 100, 20).unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["kind"], "disable");
        assert!(json.get("changes").is_none());
    }
}
