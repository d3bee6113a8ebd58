//! Step 4 driven through egui_kittest: the live count while typing, several criteria, the guests
//! switch, and the confirmation dialog; and a config's scope opened and written again.

use std::collections::BTreeSet;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::*;
use crate::config::ScopeOperator;
use crate::sync::SourceGroup;

pub(super) fn user(id: &str, name: &str, department: &str) -> SourceUser {
    SourceUser {
        id: id.into(),
        user_principal_name: format!("{name}@contoso.example"),
        display_name: Some(format!("{name} Example").into()),
        department: Some(department.into()),
        job_title: Some("Agent".into()),
        account_enabled: true,
        ..SourceUser::default()
    }
}

/// Two paired groups, four members: two in Support (one of them in Sales too), two in Sales.
pub(super) fn source() -> SourceSnapshot {
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
pub(super) struct State {
    pub(super) step: SearchStep,
    pub(super) commands: Vec<SearchCommand>,
}

pub(super) fn harness(step: SearchStep) -> Harness<'static, State> {
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

pub(super) fn loaded() -> SearchStep {
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
    // The names an administrator knows; the Graph name is the hint.
    harness.get_by_label("Job title");
    harness.get_by_label("Account type (Member or Guest)");
    // The menu item, not the table's header of the same words.
    harness
        .get_by_role_and_label(Role::Button, "User principal name")
        .click();
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
    assert_eq!(
        step.criteria[0].attribute,
        ScopeAttribute::UserPrincipalName
    );
    assert_eq!(step.criteria[0].operator, ScopeOperator::StartsWith);
    harness.get_by_label("1 of 4 members match");
    // In the UPN column and in the chosen attribute's.
    assert_eq!(harness.get_all_by_label("bob@contoso.example").count(), 2);
    // Both columns are headed with the administrator's name for it ...
    assert_eq!(harness.get_all_by_label("User principal name").count(), 2);
    // ... and the Graph property name stays as a hint beside the criterion.
    harness.get_by_label("userPrincipalName");
}

#[test]
fn the_dialog_asks_about_the_matching_users_and_the_paired_groups() {
    let mut step = loaded();
    step.criteria[0].value = "sales".into();
    step.ask_confirmation();
    let mut harness = harness(step);

    // cy (Sales) and di (Field sales) match, from two paired groups.
    harness.get_by_label("Synchronize 2 users from 2 groups?");
    harness.get_by_label("Members of the paired groups whose department contains “sales”.");
    harness.get_by_label("Guests are included.");
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
    step.criteria[0].value = "marketing".into();
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
    step.criteria[0].value.clear();
    assert_eq!(step.counts(), Some((4, 2)));
    assert_eq!(step.validate(), Ok(()));
}

#[test]
fn matches_are_recomputed_only_when_the_criterion_or_the_source_changes() {
    let mut step = loaded();
    let source = step.source.done().cloned().unwrap();
    let key = step.key(&source);
    assert!(step.view.update(&source, key.clone()));
    assert!(!step.view.update(&source, key));

    step.criteria[0].value = "  support ".into();
    let key = step.key(&source);
    assert!(step.view.update(&source, key.clone()));
    step.criteria[0].value = "support".into();
    assert_eq!(step.key(&source), key, "only the trimmed term counts");
    step.criteria.push(Criterion::default());
    assert_eq!(step.key(&source), key, "an empty criterion is no rule");
    step.include_guests = false;
    assert_ne!(step.key(&source), key, "the guests switch counts");

    let mut other = source.clone();
    other.users.remove("u4");
    assert_ne!(step.key(&other), key, "a new snapshot is noticed");
}

#[test]
fn several_criteria_must_all_match_and_rows_can_be_added_and_removed() {
    let mut harness = harness(loaded());
    let term = harness.get_by_label("Term");
    term.click();
    term.type_text("s");
    harness.run();
    harness.get_by_label("4 of 4 members match");

    harness.get_by_label("+ Add a criterion").click();
    harness.run();
    harness.get_by_label("Attribute 2").click();
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "Display name")
        .click();
    harness.run();
    harness.get_by_label("Operator 2").click();
    harness.run();
    harness.get_by_label("starts with").click();
    harness.run();
    let term = harness.get_by_label("Term 2");
    term.click();
    term.type_text("b");
    harness.run();
    // department contains "s" (everyone) and display name starts with "b": bob only.
    harness.get_by_label("1 of 4 members match");
    harness.get_by_label("A user must match every criterion.");
    assert_eq!(
        harness.state().step.scope_rules(),
        [
            ScopeRule {
                attribute: ScopeAttribute::Department,
                operator: ScopeOperator::Contains,
                value: "s".into(),
            },
            ScopeRule {
                attribute: ScopeAttribute::DisplayName,
                operator: ScopeOperator::StartsWith,
                value: "b".into(),
            },
        ]
    );

    // A third, empty row is no rule; removing the first leaves the second.
    harness.get_by_label("+ Add a criterion").click();
    harness.run();
    assert_eq!(harness.state().step.criteria.len(), 3);
    assert_eq!(harness.state().step.scope_rules().len(), 2);
    harness.get_by_label("Remove criterion 1").click();
    harness.run();
    assert_eq!(
        harness.state().step.scope_rules(),
        [ScopeRule {
            attribute: ScopeAttribute::DisplayName,
            operator: ScopeOperator::StartsWith,
            value: "b".into(),
        }]
    );
    harness.get_by_label("1 of 4 members match");
}

#[test]
fn validate_names_every_criterion_when_together_they_match_nobody() {
    let mut step = loaded();
    step.criteria = vec![
        Criterion {
            attribute: ScopeAttribute::Department,
            operator: ScopeOperator::Equals,
            value: "Sales".into(),
        },
        Criterion {
            attribute: ScopeAttribute::JobTitle,
            operator: ScopeOperator::NotEquals,
            value: "agent".into(),
        },
    ];
    assert_eq!(
        step.validate(),
        Err(
            "No member of the paired groups matches every criterion (department equals “Sales” \
             and job title does not equal “agent”): change or remove a criterion."
                .into()
        )
    );
}

/// The fixture's four members and a guest in Support.
fn with_guest() -> SearchStep {
    let mut source = source();
    let mut guest = user("u5", "eve", "Support");
    guest.user_type = Some("Guest".into());
    source
        .groups
        .get_mut("g-support")
        .unwrap()
        .members
        .insert("u5".into());
    source.users.insert("u5".into(), guest);
    let mut step = SearchStep::default();
    step.set_source(source);
    step
}

#[test]
fn the_step_says_whether_guests_are_included_and_the_switch_changes_the_count() {
    let mut harness = harness(with_guest());
    harness.get_by_label("5 of 5 members match");
    harness.get_by_label("Guests are included: 1 matching member is a guest.");
    harness.get_by_label("eve Example (guest)");

    harness.get_by_label("Include guests").click();
    harness.run();
    assert!(!harness.state().step.include_guests);
    harness.get_by_label("4 of 5 members match");
    harness.get_by_label("Guests are left out: 1 matching guest is not synchronized.");
    assert!(harness.query_by_label("eve Example (guest)").is_none());

    harness.state_mut().step.ask_confirmation();
    harness.run();
    harness.get_by_label("Synchronize 4 users from 2 groups?");
    harness.get_by_label("Guests are left out.");
}

#[test]
fn validate_says_so_when_every_match_is_a_left_out_guest() {
    let mut step = with_guest();
    step.criteria[0].value = "eve".into();
    step.criteria[0].attribute = ScopeAttribute::DisplayName;
    assert_eq!(step.validate(), Ok(()));
    step.include_guests = false;
    assert_eq!(
        step.validate(),
        Err(
            "Every member that matches is a guest, and guests are left out: tick Include \
             guests, or change the criteria."
                .into()
        )
    );
}

pub(super) const CONFIG: &str = r#"version = 1

[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "keyring:adsync/entra-client-secret"

[target]
url = "https://app.example.com/scim/v2"
token = "file:/etc/adsync/target-token"

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
target_group_id = "a81c"
order = 1

[[scope]]
attribute = "department"
operator = "contains"
value = "support"

[[scope]]
attribute = "userType"
operator = "equals"
value = "Member"

[policy]
include_guests = false

[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"

[[mappings]]
target = "title"
template = "{jobTitle} ({department})"
default = "Staff"
transform = "upper"
when = "create"

[[mappings]]
target = "nickName"
omit = true
"#;

#[test]
fn a_config_with_several_rules_opens_with_them_and_is_written_back_as_the_cli_reads_it() {
    use crate::wizard::draft::SecretRefs;
    use crate::wizard::tests::{harness as wizard_harness, runtime};

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let rt = runtime();
    let mut wizard = crate::wizard::Wizard::new(
        crate::wizard::WizardOptions {
            config_path: Some(path.clone()),
            ..Default::default()
        },
        rt.handle().clone(),
    );
    wizard.step = crate::wizard::step::Step::Search;
    let mut h = wizard_harness(wizard);
    h.run_steps(3);
    // Both rules show as rows, in the administrator's words, and so does the guests switch.
    assert_eq!(h.get_by_label("Term").value().as_deref(), Some("support"));
    assert_eq!(h.get_by_label("Term 2").value().as_deref(), Some("Member"));
    assert_eq!(
        h.get_by_label("Attribute 2").value().as_deref(),
        Some("Account type (Member or Guest)")
    );
    assert!(
        h.query_all_by_label_contains("Guests are left out")
            .next()
            .is_some()
    );
    assert!(!h.state().has_unsaved_changes());
    // The mappings show as rows of the Attributes panel.
    let rows = h.state().search.attributes.rows.clone();
    assert_eq!(
        rows[1],
        MappingRow {
            target: "title".into(),
            kind: MappingKind::Template,
            text: "{jobTitle} ({department})".into(),
            default: "Staff".into(),
            transform: Some(crate::config::Transform::Upper),
            create_only: true,
        }
    );
    assert_eq!(rows[2].kind, MappingKind::Omit);
    let opened = crate::config::load(&path).unwrap().mappings;
    assert_eq!(
        h.state().search.attributes.mappings(),
        opened,
        "unchanged, as read"
    );

    // Change them, then write the config as Finish would and read it as the CLI does.
    h.state_mut().search.criteria[1].value = "Guest".into();
    h.state_mut().search.include_guests = true;
    assert!(h.state().has_unsaved_changes());
    let draft = h.state().draft();
    let refs = SecretRefs {
        target_token: Some("file:/etc/adsync/target-token".parse().unwrap()),
        entra_secret: Some("keyring:adsync/entra-client-secret".parse().unwrap()),
        ..SecretRefs::default()
    };
    crate::config::save(&path, &draft.compose(&refs)).unwrap();
    let file = crate::config::load(&path).unwrap();
    assert_eq!(
        file.scope,
        [
            ScopeRule {
                attribute: ScopeAttribute::Department,
                operator: ScopeOperator::Contains,
                value: "support".into(),
            },
            ScopeRule {
                attribute: ScopeAttribute::UserType,
                operator: ScopeOperator::Equals,
                value: "Guest".into(),
            },
        ]
    );
    assert!(file.policy.include_guests);
    assert_eq!(
        file.mappings, opened,
        "the mappings are written back as they were read"
    );
}
