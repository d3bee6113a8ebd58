//! Whether the application lists a user's groups, told after a full cycle that could not tell it
//! from its read: one read of a user that cycle added to a group.
//!
//! A full read compares every listed user's `groups` with the paired groups' members; when the
//! groups are still empty (the first sync) there is nothing to compare, so the cache says "no",
//! and every incremental cycle until the next full one reads the paired groups whole to learn
//! the memberships of its few users (about 97,000 members at 100,000 users, most of such a
//! cycle's time). Once the first sync has filled the groups, one user read by id answers.

use crate::scim::ScimClient;
use crate::sync::{Plan, ResultStatus};

/// Reads one user `plan` added to a group (an action applied without error) and tells whether
/// the application lists that group in the user's `groups`. `false` when no such user exists or
/// the read fails: the incremental cycles then read the groups, which is always right.
pub(super) async fn lists_user_groups(scim: &ScimClient, plan: &Plan) -> bool {
    let added = plan.actions.iter().find_map(|action| {
        let ok = action
            .result
            .as_ref()
            .is_some_and(|r| r.status == ResultStatus::Ok);
        let user = action.target_user_id.as_deref()?;
        let group = action.execution.add_to.first()?;
        ok.then_some((user, group))
    });
    let Some((user, group)) = added else {
        return false;
    };
    match scim.get_user(user).await {
        Ok(read) => read.groups.iter().any(|g| *g.value == **group),
        Err(e) => {
            tracing::debug!("reading user {user} to see whether it lists its groups failed: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;
    use crate::scim::ScimAuth;
    use crate::secret::Secret;
    use crate::sim::scim::{ScimSim, Seed};
    use crate::sync::{Action, ActionKind, ActionResult};

    fn applied(user: &str, group: &str, status: ResultStatus) -> Plan {
        let mut action = Action {
            kind: ActionKind::Update,
            entra_id: "e-1".into(),
            user_principal_name: "one@contoso.example".into(),
            email: "one@contoso.example".into(),
            target_user_id: Some(user.into()),
            target_group: None,
            target_groups: None,
            changes: Vec::new(),
            reason: String::new(),
            result: Some(ActionResult {
                status,
                error: None,
            }),
            execution: Default::default(),
        };
        action.execution.add_to = vec![group.into()];
        Plan::new(vec![action], Vec::new(), 0, Vec::new())
    }

    /// The simulator lists a member's groups: a user in the group says yes; a user the plan
    /// claims to have added but that is not in it, a failed action, or no action say no.
    #[tokio::test]
    async fn one_user_read_tells_whether_the_application_lists_its_groups() {
        let sim = ScimSim::start(Seed::demo()).await.unwrap();
        let scim = ScimClient::new(
            &sim.url(),
            ScimAuth::Bearer(Secret::new("helpdesk-demo-token".to_owned())),
        )
        .with_retry(RetryPolicy::fast());
        let group = "hd-g-tier1";
        let members = sim.member_ids(group);
        let member = members.first().expect("the demo group has members");
        let outsider = sim
            .users()
            .iter()
            .filter_map(|u| u["id"].as_str().map(str::to_owned))
            .find(|id| !members.contains(id))
            .expect("a user outside the group");

        assert!(lists_user_groups(&scim, &applied(member, group, ResultStatus::Ok)).await);
        assert!(!lists_user_groups(&scim, &applied(&outsider, group, ResultStatus::Ok)).await);
        assert!(!lists_user_groups(&scim, &applied(member, group, ResultStatus::Failed)).await);
        assert!(!lists_user_groups(&scim, &Plan::new(Vec::new(), Vec::new(), 0, Vec::new())).await);
    }
}
