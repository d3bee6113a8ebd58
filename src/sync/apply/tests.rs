use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::*;
use crate::config::Settings;
use crate::state::StateStore;
use crate::sync::tests::{SALES, SUPPORT, settings, user};
use crate::sync::{
    Link, PlanInput, SourceGroup, SourceSnapshot, TargetGroup, TargetSnapshot, TargetUser,
    Whereabouts, plan as make_plan,
};

/// A target in memory that logs each request and refuses to put `refused` in any group; with
/// `hang_groups`, group writes never answer (a run cut off during them).
#[derive(Default)]
struct Target {
    refused: Option<String>,
    hang_groups: bool,
    /// Creates several users in one request, as over SCIM `/Bulk`, refusing this user name.
    bulk_refusing: Option<String>,
    members: Mutex<BTreeMap<String, BTreeSet<String>>>,
    requests: Mutex<Vec<String>>,
}

impl Target {
    fn log(&self, request: String) {
        self.requests.lock().unwrap().push(request);
    }

    fn requests(&self, prefix: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| r.starts_with(prefix)).count()
    }
}

impl TargetWriter for Target {
    async fn create_user(
        &self,
        desired: &DesiredUser,
        _: Option<&Secret>,
    ) -> Result<NewAccount, WriteError> {
        self.log(format!("create {}", desired.user_name));
        Ok(format!("t-{}", desired.external_id).into())
    }

    async fn create_users(
        &self,
        users: &[&DesiredUser],
        password: Option<&Secret>,
        _: usize,
    ) -> Vec<Result<NewAccount, WriteError>> {
        let Some(refused) = &self.bulk_refusing else {
            let mut out = Vec::new();
            for desired in users {
                out.push(self.create_user(desired, password).await);
            }
            return out;
        };
        self.log(format!("bulk {}", users.len()));
        users
            .iter()
            .map(|desired| {
                if &desired.user_name == refused {
                    Err(WriteError(
                        format!("{refused} is not a valid name here"),
                        Blame::User,
                    ))
                } else {
                    Ok(format!("t-{}", desired.external_id).into())
                }
            })
            .collect()
    }

    async fn update_user(&self, id: &str, _: &DesiredUser, _: &[&str]) -> Result<(), WriteError> {
        self.log(format!("update {id}"));
        Ok(())
    }

    async fn set_active(&self, id: &str, _: bool) -> Result<(), WriteError> {
        self.log(format!("active {id}"));
        Ok(())
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.add_members(group, &[user.to_owned()]).await
    }

    async fn add_members(&self, group: &str, users: &[String]) -> Result<(), WriteError> {
        self.log(format!("add {group} {}", users.len()));
        if self.hang_groups {
            std::future::pending::<()>().await;
        }
        if let Some(refused) = &self.refused
            && users.contains(refused)
        {
            return Err(WriteError(
                format!("{refused} may not join {group}"),
                Blame::User,
            ));
        }
        let mut members = self.members.lock().unwrap();
        members
            .entry(group.to_owned())
            .or_default()
            .extend(users.iter().cloned());
        Ok(())
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.log(format!("remove {group} {user}"));
        Ok(())
    }
}

/// `support` members of Support (→ tier-1) and `sales` of Sales (→ tier-2), none in the target.
fn first_plan(support: usize, sales: usize) -> Plan {
    let (settings, source, target) = snapshots(support, sales);
    make_plan(PlanInput {
        settings: &settings,
        source: &source,
        target: &target,
        links: &Links::new(),
    })
    .unwrap()
}

fn snapshots(support: usize, sales: usize) -> (Settings, SourceSnapshot, TargetSnapshot) {
    let settings = settings("");
    let mut source = SourceSnapshot::default();
    for (group, count, prefix) in [(SUPPORT, support, "s"), (SALES, sales, "x")] {
        let mut members = BTreeSet::new();
        for n in 0..count {
            let id = format!("{prefix}{n:05}");
            members.insert(id.clone());
            source.users.insert(id.clone(), user(&id, &id));
        }
        source.groups.insert(
            group.into(),
            SourceGroup {
                id: group.into(),
                display_name: group.into(),
                created: None,
                members,
            },
        );
    }
    let mut target = TargetSnapshot::default();
    for id in ["tier-1", "tier-2"] {
        target.groups.insert(
            id.into(),
            TargetGroup {
                id: id.into(),
                display_name: id.into(),
                members: BTreeSet::new(),
            },
        );
    }
    (settings, source, target)
}

fn options() -> ApplyOptions {
    ApplyOptions {
        concurrency: 4,
        group_mode: GroupMode::Single,
        default_password: None,
        trigger: "test".into(),
        cancel: None,
    }
}

#[tokio::test]
async fn users_join_their_group_in_one_request_per_batch_and_each_batch_is_recorded() {
    let plan = first_plan(600, 10);
    assert_eq!(plan.summary.create, 610);
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    let target = Target::default();
    let mut reported = Vec::new();
    let applied = apply(plan, &target, &store, &options(), |n| reported.push(n))
        .await
        .unwrap();

    assert_eq!(applied.failed, 0);
    assert_eq!(target.requests("create "), 610);
    // 610 actions are 3 batches; each batch adds its users with at most one request per group.
    let adds = target.requests("add ");
    assert!((3..=6).contains(&adds), "{adds} group requests");
    assert_eq!(target.requests("add tier-1"), 3);
    let members = target.members.lock().unwrap();
    assert_eq!(members["tier-1"].len(), 600);
    assert_eq!(members["tier-2"].len(), 10);
    assert!(members["tier-2"].iter().all(|m| m.starts_with("t-x")));
    // Progress after each batch, ending at the total.
    assert_eq!(reported, vec![BATCH, 2 * BATCH, 610]);
    let links = store.links().unwrap();
    assert_eq!(links.len(), 610);
    assert_eq!(links["s00042"].group.as_deref(), Some("tier-1"));
    assert_eq!(links["x00003"].group.as_deref(), Some("tier-2"));
    assert_eq!(links["x00003"].target_id, "t-x00003");
}

#[tokio::test]
async fn a_batch_creates_its_users_together_and_each_result_goes_to_its_own_action() {
    let plan = first_plan(300, 0);
    let refused = plan
        .actions
        .iter()
        .find(|a| a.entra_id == "s00123")
        .and_then(|a| a.execution.desired())
        .map(|d| d.user_name.clone())
        .expect("s00123 is created");
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    let target = Target {
        bulk_refusing: Some(refused.clone()),
        ..Target::default()
    };
    let applied = apply(plan, &target, &store, &options(), |_| {})
        .await
        .unwrap();

    // 300 creates are two batches (250 + 50): two requests, none one by one.
    assert_eq!(target.requests("bulk "), 2);
    assert_eq!(target.requests("bulk 250"), 1);
    assert_eq!(target.requests("create "), 0);
    assert_eq!(applied.failed, 1);
    let failed: Vec<_> = applied
        .plan
        .actions
        .iter()
        .filter(|a| a.result.as_ref().unwrap().status == ResultStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entra_id, "s00123");
    assert!(
        failed[0]
            .result
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains(&refused),
        "{:?}",
        failed[0].result
    );
    // Everyone else is created, linked under their own id, and in the group; not the refused.
    let links = store.links().unwrap();
    assert_eq!(links.len(), 299);
    assert!(!links.contains_key("s00123"));
    assert_eq!(links["s00124"].target_id, "t-s00124");
    let members = target.members.lock().unwrap();
    assert_eq!(members["tier-1"].len(), 299);
    assert!(!members["tier-1"].contains("t-s00123"));
}

#[tokio::test]
async fn a_few_creates_go_one_by_one() {
    let plan = first_plan(BULK_CREATES - 1, 0);
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    let target = Target {
        bulk_refusing: Some("nobody".into()),
        ..Target::default()
    };
    let applied = apply(plan, &target, &store, &options(), |_| {})
        .await
        .unwrap();
    assert_eq!(applied.failed, 0);
    assert_eq!(target.requests("bulk "), 0);
    assert_eq!(target.requests("create "), BULK_CREATES - 1);
}

#[tokio::test]
async fn a_member_the_target_refuses_fails_only_its_own_action() {
    let plan = first_plan(5, 0);
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    let target = Target {
        refused: Some("t-s00002".into()),
        ..Target::default()
    };
    let applied = apply(plan, &target, &store, &options(), |_| {})
        .await
        .unwrap();

    assert_eq!(applied.failed, 1);
    // The whole batch first, then one request per user to find the one refused.
    assert_eq!(target.requests("add tier-1 5"), 1);
    assert_eq!(target.requests("add tier-1 1"), 5);
    let failed: Vec<&Action> = applied
        .plan
        .actions
        .iter()
        .filter(|a| a.result.as_ref().unwrap().status == ResultStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].entra_id, "s00002");
    assert_eq!(
        failed[0].result.as_ref().unwrap().error.as_deref(),
        Some("t-s00002 may not join tier-1")
    );
    assert_eq!(target.members.lock().unwrap()["tier-1"].len(), 4);
    // The refused user exists and is linked, but not recorded in the group, so the next plan
    // adds it again.
    let links = store.links().unwrap();
    assert_eq!(links["s00002"].target_id, "t-s00002");
    assert_eq!(links["s00002"].group, None);
    assert_eq!(links["s00001"].group.as_deref(), Some("tier-1"));
}

#[tokio::test]
async fn a_run_cut_off_during_group_writes_keeps_the_user_writes_and_disables() {
    let (settings, mut source, mut target) = snapshots(5, 0);
    // A managed user deleted in Entra: disabled by this run.
    target.users.insert(
        "t-gone".into(),
        TargetUser {
            id: "t-gone".into(),
            user_name: "gone@contoso.example".into(),
            active: true,
            ..TargetUser::default()
        },
    );
    source.outside.insert("gone".into(), Whereabouts::Deleted);
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    let gone = Link {
        entra_id: "gone".into(),
        target_id: "t-gone".into(),
        values_hash: "old".into(),
        ..Link::default()
    };
    store.put_link(&gone).unwrap();
    let plan = make_plan(PlanInput {
        settings: &settings,
        source: &source,
        target: &target,
        links: &store.links().unwrap(),
    })
    .unwrap();
    assert_eq!((plan.summary.create, plan.summary.disable), (5, 1));
    let writer = Target {
        hang_groups: true,
        ..Target::default()
    };
    let cut = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        apply(plan, &writer, &store, &options(), |_| {}),
    )
    .await;
    assert!(cut.is_err(), "the group writes never answer");
    assert_eq!(writer.requests("create "), 5);
    let links = store.links().unwrap();
    assert!(links["gone"].disabled_by_adsync);
    // Created and linked, but not yet in the group: the next plan adds them.
    assert_eq!(links.len(), 6);
    assert_eq!(links["s00003"].target_id, "t-s00003");
    assert_eq!(links["s00003"].group, None);
}

#[tokio::test]
async fn a_user_whose_target_user_vanished_is_linked_to_the_new_one() {
    let (settings, source, target) = snapshots(2, 0);
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.db")).unwrap();
    store
        .put_link(&Link {
            entra_id: "s00001".into(),
            target_id: "t-vanished".into(),
            ..Link::default()
        })
        .unwrap();
    let plan = make_plan(PlanInput {
        settings: &settings,
        source: &source,
        target: &target,
        links: &store.links().unwrap(),
    })
    .unwrap();
    // The old link is dropped (a state fix) and the user created again.
    assert_eq!(plan.state_fixes.len(), 1);
    assert_eq!(plan.summary.create, 2);
    apply(plan, &Target::default(), &store, &options(), |_| {})
        .await
        .unwrap();
    let links = store.links().unwrap();
    assert_eq!(links["s00001"].target_id, "t-s00001");
    assert_eq!(links["s00001"].group.as_deref(), Some("tier-1"));
}
