//! The mass-disable guard's arithmetic (R11): when a count of disables is too many to apply
//! without the administrator's word.

use super::plan::Blocked;

/// R11: a plan disabling 5 or more users and more than either limit is withheld.
pub fn mass_disable_guard(
    disables: usize,
    active_managed: usize,
    max_disables: u32,
    max_percent: u32,
) -> Option<Blocked> {
    let max_disables = max_disables as usize;
    let over_count = disables > max_disables;
    let over_percent = disables * 100 > max_percent as usize * active_managed;
    if disables < 5 || !(over_count || over_percent) {
        return None;
    }
    let percent_limit = max_percent as usize * active_managed / 100;
    let limit = max_disables.min(percent_limit);
    let reason = if over_count {
        format!("the plan disables {disables} users, more than max_disables = {max_disables}")
    } else {
        format!(
            "the plan disables {disables} of {active_managed} active managed users, more than \
             max_disable_percent = {max_percent}%"
        )
    };
    Some(Blocked {
        disables,
        limit,
        reason,
    })
}
