//! Step 4 driven through egui_kittest: the live count while typing, and the confirmation dialog.

use std::collections::BTreeSet;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::*;
use crate::sync::SourceGroup;

fn user(id: &str, name: &str, department: &str) -> SourceUser {
    SourceUser {
        id: id.into(),
        user_principal_name: format!("{name}@contoso.example"),
        display_name: Some(format!("{name} Example")),
        department: Some(department.into()),
        job_title: Some("Agent".into()),
        account_enabled: true,
        ..SourceUser::default()
    }
}

/// Two paired groups, four members: two in Support (one of them in Sales too), two in Sales.
fn source() -> SourceSnapshot {
    let mut source = SourceSnapshot::default();
    let users = [
        (user("u1", "ann", "Support"), vec!["g-support"]),
        (
            user("u2", "bob", "Support desk"),
            vec!["g-support", "g-sales"],
        ),
        (user("u3", "cy", "Sales"), vec!["g-sales"]),
        (user("u4", "di", "Field sales"), vec!["g-sales"]),
    ];
    for (id, name) in [("g-support", "Support"), ("g-sales", "Sales")] {
        let members: BTreeSet<String> = users
            .iter()
            .filter(|(_, groups)| groups.contains(&id))
            .map(|(u, _)| u.id.clone())
            .collect();
        source.groups.insert(
            id.into(),
            SourceGroup {
                id: id.into(),
                display_name: name.into(),
                created: None,
                members,
            },
        );
    }
    for (u, _) in users {
        source.users.insert(u.id.clone(), u);
    }
    source
}

#[derive(Default)]
struct State {
    step: SearchStep,
    commands: Vec<SearchCommand>,
}

fn harness(step: SearchStep) -> Harness<'static, State> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1024.0, 600.0))
        .build_ui_state(
            |ui, state: &mut State| {
                let commands = state.step.ui(ui);
                state.commands.extend(commands);
            },
            State {
                step,
                commands: Vec::new(),
            },
        );
    harness.run();
    harness
}

fn loaded() -> SearchStep {
    let mut step = SearchStep::default();
    step.set_source(source());
    step
}

#[test]
fn the_count_and_the_list_follow_the_term_as_it_is_typed() {
    let mut harness = harness(loaded());
    harness.get_by_label("4 of 4 members match");
    harness.get_by_label("cy Example");
    harness.get_by_label("Sales, Support"); // bob is in both paired groups

    let term = harness.get_by_label("Term");
    term.click();
    term.type_text("supp");
    harness.run();
    harness.get_by_label("2 of 4 members match");
    harness.get_by_label("ann Example");
    harness.get_by_label("Support desk");
    assert!(harness.query_by_label("cy Example").is_none());

    harness.get_by_label("Term").type_text("ort d");
    harness.run();
    harness.get_by_label("1 of 4 members match");
    assert_eq!(harness.state_mut().step.matching_ids(), ["u2"]);
    assert_eq!(
        harness.state().step.scope_rules(),
        [ScopeRule {
            attribute: ScopeAttribute::Department,
            operator: ScopeOperator::Contains,
            value: "support d".into(),
        }]
    );
}

#[test]
fn the_attribute_and_operator_pickers_change_the_criterion() {
    let mut harness = harness(loaded());
    harness.get_by_label("Attribute").click();
    harness.run();
    harness.get_by_label("userPrincipalName").click();
    harness.run();
    harness.get_by_label("Operator").click();
    harness.run();
    harness.get_by_label("starts with").click();
    harness.run();
    let term = harness.get_by_label("Term");
    term.click();
    term.type_text("B");
    harness.run();

    let step = &harness.state().step;
    assert_eq!(step.attribute, ScopeAttribute::UserPrincipalName);
    assert_eq!(step.operator, ScopeOperator::StartsWith);
    harness.get_by_label("1 of 4 members match");
    // In the UPN column and in the chosen attribute's.
    assert_eq!(harness.get_all_by_label("bob@contoso.example").count(), 2);
    harness.get_by_label("userPrincipalName");
}

#[test]
fn the_dialog_asks_about_the_matching_users_and_the_paired_groups() {
    let mut step = loaded();
    step.term = "sales".into();
    step.ask_confirmation();
    let mut harness = harness(step);

    // cy (Sales) and di (Field sales) match, from two paired groups.
    harness.get_by_label("Synchronize 2 users from 2 groups?");
    harness.get_by_label("Members of the paired groups whose department contains “sales”.");
    harness.get_by_label("Confirm").click();
    harness.run();

    assert_eq!(harness.state().commands, [SearchCommand::Confirmed]);
    assert!(!harness.state().step.confirming);
    assert!(
        harness
            .query_by_label("Synchronize 2 users from 2 groups?")
            .is_none()
    );
}

#[test]
fn cancel_and_escape_close_the_dialog_without_confirming() {
    let mut step = loaded();
    step.ask_confirmation();
    let mut harness = harness(step);
    harness.get_by_label("Synchronize 4 users from 2 groups?");
    harness.get_by_label("Cancel").click();
    harness.run();
    assert!(harness.state().commands.is_empty());
    assert!(!harness.state().step.confirming);
    assert!(harness.query_by_label_contains("Synchronize").is_none());

    harness.state_mut().step.ask_confirmation();
    harness.run();
    harness.get_by_label("Synchronize 4 users from 2 groups?");
    harness.key_press(egui::Key::Escape);
    harness.run();
    assert!(harness.state().commands.is_empty());
    assert!(!harness.state().step.confirming);
}

#[test]
fn enter_confirms_because_the_dialog_focuses_confirm() {
    let mut step = loaded();
    step.ask_confirmation();
    let mut harness = harness(step);
    assert!(harness.get_by_label("Confirm").is_focused());
    harness.key_press(egui::Key::Enter);
    harness.run();
    assert_eq!(harness.state().commands, [SearchCommand::Confirmed]);
}

#[test]
fn a_spinner_shows_while_the_members_are_read() {
    let mut harness = Harness::builder().build_ui_state(
        |ui, step: &mut SearchStep| {
            let _ = step.ui(ui);
        },
        SearchStep::default(),
    );
    harness.run_steps(2);
    harness.get_by_label("Reading the members of the paired groups…");
    assert_eq!(
        harness.state().validate(),
        Err("The members of the paired groups are still being read.".into())
    );

    harness
        .state_mut()
        .source
        .fail("Graph answered 403 for group g-sales");
    harness.run_steps(2);
    harness.get_by_label("Graph answered 403 for group g-sales");
}

#[test]
fn validate_refuses_a_term_that_matches_nobody() {
    let mut step = loaded();
    assert_eq!(step.validate(), Ok(()));
    step.term = "marketing".into();
    assert_eq!(
        step.validate(),
        Err(
            "No member of the paired groups has a department that contains “marketing”: change \
             the term, or clear it to synchronize every member."
                .into()
        )
    );
    // The same answer from the cache the ui keeps.
    assert_eq!(step.counts(), Some((0, 2)));
    assert!(step.validate().is_err());
    step.term.clear();
    assert_eq!(step.counts(), Some((4, 2)));
    assert_eq!(step.validate(), Ok(()));
}

#[test]
fn matches_are_recomputed_only_when_the_criterion_or_the_source_changes() {
    let mut step = loaded();
    let source = step.source.done().cloned().unwrap();
    let rules = step.scope_rules();
    let key = step.key(&source);
    assert!(step.view.update(&source, &rules, key.clone()));
    assert!(!step.view.update(&source, &rules, key));

    step.term = "  support ".into();
    let key = step.key(&source);
    assert!(step.view.update(&source, &step.scope_rules(), key.clone()));
    step.term = "support".into();
    assert_eq!(step.key(&source), key, "only the trimmed term counts");

    let mut other = source.clone();
    other.users.remove("u4");
    assert_ne!(step.key(&other), key, "a new snapshot is noticed");
}
