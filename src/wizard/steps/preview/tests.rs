//! Step 5 with plans made by the real planner from small fixtures, driven through egui_kittest.

use std::collections::BTreeSet;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::*;
use crate::sync::tests::{SALES, SUPPORT, settings, user};
use crate::sync::{
    Link, Links, PlanInput, SourceGroup, SourceSnapshot, SourceUser, TargetGroup, TargetSnapshot,
    TargetUser, Whereabouts, plan,
};

fn source_user(id: &str, name: &str, title: &str) -> SourceUser {
    SourceUser {
        job_title: Some(title.into()),
        ..user(id, name)
    }
}

/// A plan with one create (ann, Tier 1), one update (bob's title, Tier 2) and `gone` disables of
/// managed users deleted from Entra ID; with `max_disables` below `gone` (and `gone` ≥ 5) the
/// plan is blocked.
fn fixture_plan(gone: usize, max_disables: u32) -> Plan {
    let mut source = SourceSnapshot::default();
    let mut target = TargetSnapshot::default();
    let mut links = Links::new();
    for (id, name, target_id, target_name) in [
        (SUPPORT, "Support", "tier-1", "Tier 1"),
        (SALES, "Sales", "tier-2", "Tier 2"),
    ] {
        source.groups.insert(
            id.into(),
            SourceGroup {
                id: id.into(),
                display_name: name.into(),
                created: Some("2020-01-01T00:00:00Z".into()),
                members: BTreeSet::new(),
            },
        );
        target.groups.insert(
            target_id.into(),
            TargetGroup {
                id: target_id.into(),
                display_name: target_name.into(),
                members: BTreeSet::new(),
            },
        );
    }
    let mut add = |user: SourceUser, group: &str| {
        source
            .groups
            .get_mut(group)
            .unwrap()
            .members
            .insert(user.id.clone());
        source.users.insert(user.id.clone(), user);
    };
    add(source_user("u-ann", "ann", "Agent"), SUPPORT);
    add(source_user("u-bob", "bob", "Lead"), SALES);

    let mut managed = |entra_id: &str, name: &str, group: &str, title: &str| {
        let target_id = format!("t-{name}");
        target.users.insert(
            target_id.clone(),
            TargetUser {
                id: target_id.clone(),
                external_id: Some(entra_id.into()),
                user_name: format!("{name}@contoso.example"),
                emails: vec![format!("{name}@contoso.example")],
                active: true,
                given_name: Some(name.to_uppercase()),
                family_name: Some("Example".into()),
                display_name: Some(format!("{} Example", name.to_uppercase())),
                title: Some(title.into()),
                ..TargetUser::default()
            },
        );
        target
            .groups
            .get_mut(group)
            .unwrap()
            .members
            .insert(target_id.clone());
        links.insert(
            entra_id.into(),
            Link {
                entra_id: entra_id.into(),
                target_id,
                group: Some(group.into()),
                values_hash: "the values of the last sync".into(),
                ..Link::default()
            },
        );
    };
    managed("u-bob", "bob", "tier-2", "Agent");
    for i in 0..gone {
        let entra_id = format!("u-gone{i}");
        managed(&entra_id, &format!("gone{i}"), "tier-1", "Agent");
        source.outside.insert(entra_id, Whereabouts::Deleted);
    }
    let settings = settings(&format!("[policy]\nmax_disables = {max_disables}\n"));
    plan(PlanInput {
        settings: &settings,
        source: &source,
        target: &target,
        links: &links,
    })
    .expect("the fixture is complete")
}

#[derive(Default)]
struct State {
    step: PreviewStep,
    commands: Vec<PreviewCommand>,
}

fn harness(step: PreviewStep) -> Harness<'static, State> {
    let mut harness = unsettled_harness(step);
    harness.run();
    harness
}

/// For a step showing a spinner, which repaints for ever: drive it with `run_steps`.
fn unsettled_harness(step: PreviewStep) -> Harness<'static, State> {
    Harness::builder()
        .with_size(egui::vec2(1024.0, 700.0))
        .build_ui_state(
            |ui, state: &mut State| {
                let commands = state.step.ui(ui);
                state.commands.extend(commands);
            },
            State {
                step,
                commands: Vec::new(),
            },
        )
}

fn step_with(plan: Plan) -> PreviewStep {
    let mut step = PreviewStep::default();
    step.set_plan(plan);
    step
}

#[test]
fn the_fixture_plan_has_a_create_an_update_and_the_disables() {
    let plan = fixture_plan(2, 100);
    let kinds: Vec<_> = plan
        .actions
        .iter()
        .map(|a| (a.kind, a.user_principal_name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ActionKind::Create, "ann@contoso.example"),
            (ActionKind::Update, "bob@contoso.example"),
            (ActionKind::Disable, "gone0@contoso.example"),
            (ActionKind::Disable, "gone1@contoso.example"),
        ]
    );
    assert!(plan.blocked.is_none());
}

#[test]
fn a_plan_shows_its_counts_its_groups_and_each_users_action_and_changes() {
    let mut harness = harness(step_with(fixture_plan(2, 100)));
    harness.get_by_label("create (1)");
    harness.get_by_label("update (1)");
    harness.get_by_label("disable (2)");
    harness.get_by_label("Tier 1 (1 user)");
    harness.get_by_label("Tier 2 (1 user)");
    // A disabled user keeps its groups (R6): the plan names none.
    harness.get_by_label("No group (2 users)");
    harness.get_by_label("ann@contoso.example");
    harness.get_by_label("new in Support");
    assert!(harness.query_by_label_contains("blocked").is_none());

    // Bob's field-level changes open on request.
    assert!(harness.query_by_label("Agent").is_none());
    harness.get_by_label("1 field changes").click();
    harness.run();
    harness.get_by_label("title");
    harness.get_by_label("Agent");
    harness.get_by_label("Lead");
}

#[test]
fn a_blocked_plan_says_so_at_the_top_with_what_would_let_it_proceed() {
    let plan = fixture_plan(6, 2);
    let blocked = plan
        .blocked
        .clone()
        .expect("6 disables over max_disables = 2");
    let harness = harness(step_with(plan));

    harness.get_by_label("This plan is blocked: the service will not apply it");
    let explanation = harness
        .get_by_label_contains("The mass-disable guard stopped it")
        .value()
        .unwrap();
    assert!(explanation.contains(&blocked.reason), "{explanation}");
    assert!(
        explanation.contains(&format!(
            "It would disable 6 users; the limit is {}.",
            blocked.limit
        )),
        "{explanation}"
    );
    harness.get_by_label_contains("raise max_disables to at least 6");
    harness.get_by_label_contains("check the paired groups (step 3)");
    // The counts are still there, and the wizard may go on (the service will not apply it).
    harness.get_by_label("disable (6)");
    harness.get_by_label("create (1)");
    assert_eq!(harness.state().step.validate(), Ok(()));
}

/// A plan withheld by the attribute-wipe guard says which guard and what to check, not a
/// count of disables.
#[test]
fn a_plan_withheld_by_another_guard_names_it() {
    let mut plan = fixture_plan(0, 100);
    plan.blocked = crate::sync::wipe_guard(12, &["title"], 0, 40, 100, 20);
    let reason = plan.blocked.clone().expect("12 of 40 is over 20 %").reason;
    let harness = harness(step_with(plan));

    let explanation = harness
        .get_by_label_contains("The attribute-wipe guard stopped it")
        .value()
        .unwrap();
    assert!(explanation.contains(&reason), "{explanation}");
    harness.get_by_label_contains("Check the [[mappings]]");
    assert!(
        harness
            .query_by_label_contains("The mass-disable guard")
            .is_none()
    );
}

#[test]
fn unticking_a_kind_hides_its_actions() {
    let mut harness = harness(step_with(fixture_plan(2, 100)));
    harness.get_by_label("gone0@contoso.example");
    harness.get_by_label("disable (2)").click();
    harness.run();

    assert!(!harness.state().step.is_shown(ActionKind::Disable));
    assert!(harness.query_by_label("gone0@contoso.example").is_none());
    assert!(harness.query_by_label("gone1@contoso.example").is_none());
    harness.get_by_label("ann@contoso.example");
    harness.get_by_label("No group (0 of 2 users)");

    harness.get_by_label("create (1)").click();
    harness.run();
    harness.get_by_label("Tier 1 (0 of 1 user)");
    assert_eq!(
        harness
            .get_all_by_label("No actions of the kinds ticked above.")
            .count(),
        2,
        "Tier 1 and No group"
    );
    harness.get_by_label("bob@contoso.example");

    harness.get_by_label("disable (2)").click();
    harness.run();
    harness.get_by_label("gone1@contoso.example");
}

#[test]
fn refresh_and_export_buttons_return_their_commands() {
    let mut harness = harness(step_with(fixture_plan(0, 100)));
    harness.get_by_label("Refresh").click();
    harness.run();
    harness.get_by_label("Export CSV…").click();
    harness.run();
    harness.get_by_label("Export JSON…").click();
    harness.run();
    assert_eq!(
        harness.state().commands,
        [
            PreviewCommand::Refresh,
            PreviewCommand::Export(ExportFormat::Csv),
            PreviewCommand::Export(ExportFormat::Json),
        ]
    );
}

#[test]
fn without_a_plan_a_spinner_shows_or_the_error_and_export_is_disabled() {
    let mut harness = unsettled_harness(PreviewStep::default());
    harness.run_steps(2);
    harness.get_by_label("Reading Entra ID and the target to compute the plan…");
    harness.get_by_label("Export CSV…").click();
    harness.run_steps(2);
    assert!(harness.state().commands.is_empty());
    assert_eq!(
        harness.state().step.validate(),
        Err("The preview has not been computed yet.".into())
    );

    harness
        .state_mut()
        .step
        .plan
        .fail("the paired Entra group x (Old) no longer exists");
    harness.run_steps(2);
    harness.get_by_label("the paired Entra group x (Old) no longer exists");
    harness.get_by_label("Fix the cause, then press Refresh.");

    harness.state_mut().step.set_plan(fixture_plan(0, 100));
    harness.run();
    assert!(harness.state().step.plan.failure().is_none());
    harness.get_by_label("ann@contoso.example");
}

#[test]
fn large_groups_show_a_page_of_rows_and_then_more_on_request() {
    let base = fixture_plan(0, 100);
    let template = base.actions[0].clone();
    let actions: Vec<Action> = (0..10_000)
        .map(|i| {
            let mut a = template.clone();
            a.entra_id = format!("u{i}");
            a.user_principal_name = format!("user{i:05}@contoso.example");
            a.email = a.user_principal_name.clone();
            a
        })
        .collect();
    let plan = Plan::new(actions, Vec::new(), 0, Vec::new());
    let mut harness = harness(step_with(plan));
    harness.get_by_label("Tier 1 (10,000 users)");
    harness.get_by_label_contains("user00000@contoso.example");
    // Rows beyond the page are not laid out; the button says how many wait.
    harness
        .get_by_label("Show 100 more (9,900 not shown)")
        .click_accesskit();
    harness.run();
    harness.get_by_label("Show 100 more (9,800 not shown)");
}

#[test]
fn export_writes_the_plan_as_csv_or_json() {
    let plan = fixture_plan(6, 2);
    let csv = export(&plan, ExportFormat::Csv);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("kind,entra_id,user_principal_name,email,target_user_id,target_group,changes,reason")
    );
    assert_eq!(
        lines.next(),
        Some("create,u-ann,ann@contoso.example,ann@contoso.example,,Tier 1,,new in Support")
    );
    let bob = lines.next().unwrap();
    assert!(
        bob.starts_with("update,u-bob,bob@contoso.example,"),
        "{bob}"
    );
    assert!(bob.contains("title: Agent -> Lead"), "{bob}");
    assert_eq!(csv.lines().count(), 1 + plan.actions.len());

    let json: serde_json::Value = serde_json::from_str(&export(&plan, ExportFormat::Json)).unwrap();
    assert_eq!(json["summary"]["create"], 1);
    assert_eq!(json["summary"]["disable"], 6);
    assert_eq!(json["blocked"]["disables"], 6);
    // The lower of max_disables (2) and max_disable_percent (20%) of the 7 active managed users.
    assert_eq!(json["blocked"]["limit"], 1);
    let fields: Vec<&str> = json["actions"][1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"title"), "{fields:?}");
    assert_eq!(ExportFormat::Csv.extension(), "csv");
    assert_eq!(ExportFormat::Json.extension(), "json");
}

/// ann (Support) matches two accounts by email, so R2 skips her; a third account matches
/// nobody. The step shows the plan made from this basis.
fn ambiguous_step() -> PreviewStep {
    let settings = settings("");
    let mut source = SourceSnapshot::default();
    let mut target = TargetSnapshot::default();
    for (id, name, target_id, target_name) in [
        (SUPPORT, "Support", "tier-1", "Tier 1"),
        (SALES, "Sales", "tier-2", "Tier 2"),
    ] {
        source.groups.insert(
            id.into(),
            SourceGroup {
                id: id.into(),
                display_name: name.into(),
                created: Some("2020-01-01T00:00:00Z".into()),
                members: BTreeSet::new(),
            },
        );
        target.groups.insert(
            target_id.into(),
            TargetGroup {
                id: target_id.into(),
                display_name: target_name.into(),
                members: BTreeSet::new(),
            },
        );
    }
    let ann = source_user("u-ann", "ann", "Agent");
    source
        .groups
        .get_mut(SUPPORT)
        .unwrap()
        .members
        .insert(ann.id.clone());
    source.users.insert(ann.id.clone(), ann);
    for (id, user_name, email) in [
        ("t-1", "ann.first", "ann@contoso.example"),
        ("t-2", "ann.second", "ann@contoso.example"),
        ("t-3", "zoe.other", "zoe@contoso.example"),
    ] {
        target.users.insert(
            id.into(),
            TargetUser {
                id: id.into(),
                user_name: user_name.into(),
                emails: vec![email.into()],
                active: true,
                ..TargetUser::default()
            },
        );
    }
    let mut step = PreviewStep {
        basis: Some(std::sync::Arc::new(resolve::Basis::new(
            settings,
            source,
            target,
            Links::new(),
        ))),
        ..PreviewStep::default()
    };
    step.replan();
    step
}

/// A harness that applies the link commands to the step, as the wizard's effects do.
fn linking_harness(step: PreviewStep) -> Harness<'static, State> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1024.0, 700.0))
        .build_ui_state(
            |ui, state: &mut State| {
                for command in state.step.ui(ui) {
                    match &command {
                        PreviewCommand::Link {
                            entra_id,
                            target_id,
                        } => state.step.link_by_hand(entra_id, target_id, "alice"),
                        PreviewCommand::Undo { entra_id } => state.step.undo_link(entra_id),
                        _ => {}
                    }
                    state.commands.push(command);
                }
            },
            State {
                step,
                commands: Vec::new(),
            },
        );
    harness.run();
    harness
}

fn ann_action(step: &PreviewStep) -> Action {
    let plan = step.plan.done().expect("a plan");
    plan.actions
        .iter()
        .find(|a| a.entra_id == "u-ann")
        .cloned()
        .expect("an action for ann")
}

#[test]
fn a_skipped_user_is_linked_by_hand_from_its_candidates_and_the_plan_is_refreshed() {
    let mut harness = linking_harness(ambiguous_step());
    assert_eq!(ann_action(&harness.state().step).kind, ActionKind::Skip);
    let ambiguous =
        |h: &Harness<'_, State>| h.query_all_by_label_contains("ambiguous-match").count();
    assert!(ambiguous(&harness) > 0);

    harness
        .get_by_label("Choose the account for ann@contoso.example (2 matching)")
        .click();
    harness.run();
    // The two accounts R2 would not choose between, each with its button; not the third.
    assert!(harness.query_by_label("ann.first").is_some());
    assert!(harness.query_by_label("zoe.other").is_none());
    let buttons: Vec<_> = harness.query_all_by_label("Link to this account").collect();
    assert_eq!(buttons.len(), 2);
    buttons[1].click();
    harness.run();

    let step = &harness.state().step;
    let linked = ann_action(step);
    assert_eq!(
        (
            linked.kind,
            linked.target_user_id.as_deref(),
            linked.reason.as_str()
        ),
        (ActionKind::Link, Some("t-2"), "linked by hand by alice")
    );
    assert!(step.plan.done().unwrap().warnings.is_empty());
    assert_eq!(step.decisions.len(), 1);
    assert!(step.decisions[0].link.is_pending_manual());
    assert_eq!(ambiguous(&harness), 0);
    assert!(
        harness
            .query_by_label_contains("Linked by hand here to ann.second")
            .is_some()
    );

    // Taken back: skipped again.
    harness.get_by_label("Undo this link").click();
    harness.run();
    assert_eq!(ann_action(&harness.state().step).kind, ActionKind::Skip);
    assert!(harness.state().step.decisions.is_empty());
}

#[test]
fn a_search_finds_any_account_and_a_second_link_for_the_user_is_refused() {
    let mut harness = linking_harness(ambiguous_step());
    harness
        .get_by_label("Choose the account for ann@contoso.example (2 matching)")
        .click();
    harness.run();
    harness
        .get_by_label("Search the application's users:")
        .focus();
    harness.run();
    harness
        .get_by_label("Search the application's users:")
        .type_text("ZOE");
    harness.run();
    assert!(harness.query_by_label("zoe.other").is_some());
    assert_eq!(
        harness.query_all_by_label("Link to this account").count(),
        3
    );
    // Linking to an account R2 never matched is the administrator's call.
    harness
        .query_all_by_label("Link to this account")
        .last()
        .unwrap()
        .click();
    harness.run();
    assert_eq!(
        ann_action(&harness.state().step).target_user_id.as_deref(),
        Some("t-3")
    );
    // A second decision for the same user is refused, in words.
    harness
        .state_mut()
        .step
        .link_by_hand("u-ann", "t-1", "alice");
    harness.run();
    let notice = harness.state().step.link_notice.clone().unwrap();
    assert!(
        notice.contains("already linked to target user t-3"),
        "{notice}"
    );
}

#[test]
fn a_link_made_in_the_preview_is_recorded_at_finish_and_the_first_sync_honours_it() {
    use crate::wizard::step::Step;
    use crate::wizard::tests::{click, demo_at, harness as wizard_harness, runtime, settle};

    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = wizard_harness(demo_at(tmp.path(), &rt, Step::Preview));
    settle(&mut h);
    let plan = h.state().preview.plan.done().cloned().expect("a plan");
    let ann = plan
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Create)
        .expect("the demo creates users")
        .clone();
    // Two accounts made in the application by someone else, both with her email: R2 skips her.
    let demo = h.state().demo.as_ref().unwrap();
    let mut accounts: Vec<String> = ["first", "second"]
        .iter()
        .map(|n| {
            demo.scim
                .add_user(serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("account.{n}"),
                    "emails": [{"value": ann.email, "type": "work", "primary": true}],
                    "active": true,
                }))
                .unwrap()
        })
        .collect();
    accounts.sort();
    click(&mut h, "Refresh");
    settle(&mut h);
    let action_for = |h: &Harness<'_, crate::wizard::shell::Wizard>| {
        h.state()
            .preview
            .plan
            .done()
            .and_then(|p| p.actions.iter().find(|a| a.entra_id == ann.entra_id))
            .cloned()
            .expect("an action for the user")
    };
    assert_eq!(action_for(&h).kind, ActionKind::Skip);

    click(
        &mut h,
        &format!(
            "Choose the account for {} (2 matching)",
            ann.user_principal_name
        ),
    );
    // Candidates are listed by account id: the second button links the second id.
    h.query_all_by_label("Link to this account")
        .nth(1)
        .unwrap()
        .scroll_to_me();
    h.run_steps(6);
    h.query_all_by_label("Link to this account")
        .nth(1)
        .unwrap()
        .click();
    h.run_steps(3);
    let linked = action_for(&h);
    assert_eq!(
        (linked.kind, linked.target_user_id.as_deref()),
        (ActionKind::Link, Some(accounts[1].as_str()))
    );

    click(&mut h, "Next");
    assert_eq!(h.state().step, Step::Finish);
    click(&mut h, "Finish");
    settle(&mut h);
    let report = h.state().finish.report.done().cloned().expect("finished");
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.name == "link by hand" && l.ok && l.detail.contains(&accounts[1])),
        "{:?}",
        report.lines
    );
    assert!(
        matches!(
            report.first_sync,
            Some(crate::wizard::steps::finish::FirstSync::Applied { failed: 0, .. })
        ),
        "{:?}",
        report.first_sync
    );
    // The first sync wrote the link: externalId on the chosen account, and the state keeps
    // who made it.
    let demo = h.state().demo.as_ref().unwrap();
    assert_eq!(
        demo.scim.user(&accounts[1]).unwrap()["externalId"],
        ann.entra_id.as_str()
    );
    assert!(demo.scim.user(&accounts[0]).unwrap()["externalId"].is_null());
    let store = crate::state::StateStore::open(&report.state_path).unwrap();
    let link = store.links().unwrap()[&ann.entra_id].clone();
    assert_eq!(link.target_id, accounts[1]);
    assert!(link.manual.is_some() && !link.is_pending_manual());
    let triggers: Vec<String> = store
        .history(10)
        .unwrap()
        .into_iter()
        .map(|r| r.trigger)
        .collect();
    assert_eq!(triggers, ["wizard", "link"], "newest first");
}
