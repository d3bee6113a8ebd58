//! `adsync explain`'s report: a user's pairs, the in-scope verdict (the planner's own,
//! [`scope_verdict`]), mapped values, its link and what the next sync would do.

use crate::config::{GroupMode, Settings};
use crate::sync::{
    Links, MappingSet, Plan, ScopeVerdict, SourceSnapshot, SourceUser, scope_verdict,
};

/// The explanation of one user, from the snapshot and plan of one read.
pub fn explanation(
    user: &SourceUser,
    settings: &Settings,
    source: &SourceSnapshot,
    links: &Links,
    plan: &Plan,
) -> String {
    let mut out = format!(
        "{} ({})\n  object id: {}\n  enabled: {}, type: {}\n",
        user.user_principal_name,
        user.display_name.as_deref().unwrap_or("-"),
        user.id,
        if user.account_enabled { "yes" } else { "no" },
        user.user_type.as_deref().unwrap_or("Member"),
    );
    let pairs: Vec<_> = settings
        .pairs
        .iter()
        .filter(|p| {
            source
                .groups
                .get(&p.entra_group_id)
                .is_some_and(|g| g.members.contains(&user.id))
        })
        .collect();
    if pairs.is_empty() {
        out.push_str("  not in scope: a member of no paired Entra group\n");
    } else {
        for p in &pairs {
            let name = source.groups[&p.entra_group_id].display_name.clone();
            out.push_str(&format!(
                "  member of paired group {name} (order {}, {}) -> target group {}\n",
                p.order,
                if p.nested { "nested" } else { "direct" },
                p.target_group_name.as_deref().unwrap_or(&p.target_group_id)
            ));
        }
        out.push_str(&match scope_verdict(user, settings) {
            ScopeVerdict::InScope => "  in scope\n".to_owned(),
            ScopeVerdict::Disabled => {
                "  not in scope: the account is disabled in Entra ID\n".into()
            }
            ScopeVerdict::Guest => {
                "  not in scope: a guest, and policy.include_guests = false\n".into()
            }
            ScopeVerdict::FailsRule(rule) => format!(
                "  not in scope: fails the scope rule {} {} \"{}\"\n",
                rule.attribute, rule.operator, rule.value
            ),
        });
    }
    // SPEC §3.1: each mapped value and where it came from.
    let mappings = MappingSet::new(&settings.mappings);
    let manager = |id: &str| links.get(id).map(|l| l.target_id.clone());
    out.push_str("  mapped values:\n");
    for (field, value, origin, create_only) in
        mappings.explain(user, settings.policy.username, &manager)
    {
        out.push_str(&format!(
            "    {field} = {} ({origin}{})\n",
            value.as_deref().unwrap_or("(none)"),
            if create_only { ", on create only" } else { "" }
        ));
    }
    let mut roles: Vec<&str> = pairs
        .iter()
        .take(match settings.policy.group_mode {
            GroupMode::Single => 1,
            GroupMode::All => pairs.len(),
        })
        .flat_map(|p| p.roles.iter().map(String::as_str))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    if !roles.is_empty() {
        out.push_str(&format!("    roles = {} (its pair)\n", roles.join(", ")));
    }
    match links.get(&user.id) {
        Some(link) => {
            out.push_str(&format!(
                "  managed: linked to target user {}{}\n",
                link.target_id,
                if link.disabled_by_adsync {
                    " (disabled by adsync)"
                } else {
                    ""
                }
            ));
            if let Some(manual) = &link.manual {
                out.push_str(&format!(
                    "  linked by hand by {} at {}{}\n",
                    manual.by,
                    crate::time::format_time(manual.at_ms),
                    if link.is_pending_manual() {
                        " (not synced yet)"
                    } else {
                        ""
                    }
                ));
            }
        }
        None => out.push_str("  not managed by adsync yet\n"),
    }
    match plan.actions.iter().find(|a| a.entra_id == user.id) {
        Some(a) => {
            out.push_str(&format!(
                "  next sync: {} ({})\n",
                a.kind.as_str(),
                a.reason
            ));
            for c in &a.changes {
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    c.field,
                    c.from.as_deref().unwrap_or("(none)"),
                    c.to.as_deref().unwrap_or("(none)")
                ));
            }
        }
        None => out.push_str("  next sync: nothing to do\n"),
    }
    super::terminal::safe(out)
}
