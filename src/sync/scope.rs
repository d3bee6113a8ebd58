//! Who is in scope (SPEC §2): the one in-scope verdict that the planner and `adsync explain`
//! share, and the `[[scope]]` rule tests behind it.

use super::model::SourceUser;
use crate::config::{ScopeAttribute, ScopeRule, Settings};

/// The value a `[[scope]]` rule on `attribute` tests (empty when the user has none); exported as
/// `scope_value` for the wizard, which shows it beside each matching user.
pub fn attribute(user: &SourceUser, attribute: ScopeAttribute) -> &str {
    let value = match attribute {
        ScopeAttribute::DisplayName => &user.display_name,
        ScopeAttribute::UserPrincipalName => return &user.user_principal_name,
        ScopeAttribute::Mail => &user.mail,
        ScopeAttribute::GivenName => &user.given_name,
        ScopeAttribute::Surname => &user.surname,
        ScopeAttribute::JobTitle => &user.job_title,
        ScopeAttribute::Department => &user.department,
        ScopeAttribute::OfficeLocation => &user.office_location,
        ScopeAttribute::CompanyName => &user.company_name,
        ScopeAttribute::EmployeeId => &user.employee_id,
        ScopeAttribute::City => &user.city,
        ScopeAttribute::Country => &user.country,
        ScopeAttribute::UserType => &user.user_type,
    };
    value.as_deref().unwrap_or("")
}

/// Whether a member of a paired Entra group is in scope (SPEC §2) and, if not, the first reason
/// why. The one place the verdict is made: the planner and `adsync explain` both ask it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeVerdict<'a> {
    InScope,
    /// The account is disabled in Entra ID.
    Disabled,
    /// A guest, and `policy.include_guests = false`.
    Guest,
    /// Fails this `[[scope]]` rule (the first failing one).
    FailsRule(&'a ScopeRule),
}

/// The [`ScopeVerdict`] for a user already known to be a member of a paired group.
pub fn scope_verdict<'a>(user: &SourceUser, settings: &'a Settings) -> ScopeVerdict<'a> {
    if !user.account_enabled {
        ScopeVerdict::Disabled
    } else if user.is_guest() && !settings.policy.include_guests {
        ScopeVerdict::Guest
    } else if let Some(rule) = settings
        .scope
        .iter()
        .find(|r| !r.operator.matches(attribute(user, r.attribute), &r.value))
    {
        ScopeVerdict::FailsRule(rule)
    } else {
        ScopeVerdict::InScope
    }
}

/// Does the user match every `[[scope]]` rule?
pub fn matches_scope(user: &SourceUser, rules: &[ScopeRule]) -> bool {
    rules
        .iter()
        .all(|r| r.operator.matches(attribute(user, r.attribute), &r.value))
}
