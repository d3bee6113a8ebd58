//! The small judgements the planner makes per user: why a managed user is disabled (R6), the
//! changes as the plan lists them, and the roles a user's pairs give.

use super::*;

/// Why a managed user is disabled (R6), in the order the rule gives.
pub(super) fn disable_reason(
    entra_id: &str,
    source: &SourceSnapshot,
    out_of_scope: &HashSet<&str>,
) -> Result<&'static str, PlanError> {
    if let Some(user) = source.users.get(entra_id) {
        // In a paired group but not in scope.
        return Ok(if !user.account_enabled {
            "disabled"
        } else {
            debug_assert!(out_of_scope.contains(entra_id));
            "out-of-scope"
        });
    }
    match source.outside.get(entra_id) {
        Some(Whereabouts::Deleted) => Ok("deleted"),
        Some(Whereabouts::Exists(u)) if !u.account_enabled => Ok("disabled"),
        Some(Whereabouts::Exists(_)) => Ok("removed-from-groups"),
        None => Err(PlanError::Incomplete {
            entra_id: entra_id.to_owned(),
        }),
    }
}

/// The SCIM field names the plan uses, as the Entra attributes they come from (for reasons).
pub(super) fn entra_name(field: &str) -> &str {
    match field {
        "userName" => "userPrincipalName",
        "name.givenName" => "givenName",
        "name.familyName" => "surname",
        "emails" => "mail",
        "phoneNumbers" => "businessPhones",
        "title" => "jobTitle",
        "employeeNumber" => "employeeId",
        other => other,
    }
}

pub(super) fn to_changes(diffs: Vec<crate::sync::mapping::Difference>) -> Vec<Change> {
    diffs
        .into_iter()
        .map(|d| Change {
            field: d.field.to_owned(),
            from: d.from,
            to: d.to,
        })
        .collect()
}

/// The roles a user's pairs give it (SPEC §3.1): its pair's in `single`, the union in `all`.
pub(super) fn roles_for(qualifying: &[&Pair], mode: GroupMode) -> Vec<String> {
    let pairs = match mode {
        GroupMode::Single => &qualifying[..qualifying.len().min(1)],
        GroupMode::All => qualifying,
    };
    let mut roles: Vec<String> = pairs.iter().flat_map(|p| p.roles.iter().cloned()).collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The `roles` change for a user, when there is one: the roles it should get are added, the
/// ones adsync gave and no longer gives are removed, and roles an administrator added stay.
/// Records the whole list to write in `desired`.
pub(super) fn roles_change(
    desired: &mut DesiredUser,
    current: &TargetUser,
    given: &BTreeSet<String>,
) -> Option<Change> {
    let want: BTreeSet<&String> = desired.roles.iter().collect();
    let mut write: Vec<String> = current
        .roles
        .iter()
        .filter(|r| want.contains(r) || !given.contains(*r))
        .cloned()
        .collect();
    for role in &desired.roles {
        if !write.contains(role) {
            write.push(role.clone());
        }
    }
    let sorted = |roles: &[String]| {
        let mut v = roles.to_vec();
        v.sort();
        v.dedup();
        v
    };
    let (from, to) = (sorted(&current.roles), sorted(&write));
    if from == to {
        return None;
    }
    desired.roles_write = Some(write);
    let text = |v: Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    Some(Change {
        field: "roles".into(),
        from: text(from),
        to: text(to),
    })
}
