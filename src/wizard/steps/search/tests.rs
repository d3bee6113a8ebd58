//! Step 4 driven through egui_kittest: the live count while typing, several criteria, the guests
//! switch, and the confirmation dialog; and a config's scope opened and written again.

use std::collections::BTreeSet;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::*;
use crate::config::{Mapping, ScopeOperator, When};
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

const CONFIG: &str = r#"version = 1

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

// The Attributes panel.

/// The fixture with mapping sources read: ann has a mobile number and a cost centre, bob none.
fn with_mapping_sources() -> SearchStep {
    let mut source = source();
    let ann = source.users.get_mut("u1").unwrap();
    ann.extra
        .insert("mobilePhone".into(), "+49 170 0000001".into());
    ann.extra
        .insert("employeeOrgData.costCenter".into(), "CC-4711".into());
    let mut step = SearchStep::default();
    step.set_source(source);
    step.tab = SearchTab::Attributes;
    step.attributes.rows = [
        (r#"phoneNumbers[type eq "mobile"].value"#, "mobilePhone", ""),
        ("costCenter", "employeeOrgData.costCenter", "CC-0000"),
    ]
    .into_iter()
    .map(|(target, source, default)| MappingRow {
        target: target.into(),
        kind: MappingKind::Source,
        text: source.into(),
        default: default.into(),
        ..MappingRow::default()
    })
    .collect();
    step
}

#[test]
fn the_attributes_panel_shows_each_rows_value_for_the_picked_member_live() {
    let mut harness = harness(with_mapping_sources());
    // ann is the first match by name: her values.
    harness.get_by_label("+49 170 0000001");
    harness.get_by_label("CC-4711");
    // The default mapping's values for her, for context.
    harness
        .get_by_label("The default mapping for this member")
        .click();
    harness.run();
    // userName and the work email.
    assert_eq!(harness.get_all_by_label("ann@contoso.example").count(), 2);

    // Pick bob: no mobile number; his cost centre is the row's default.
    harness.get_by_label("Values for").click();
    harness.run();
    harness.get_by_label("Find a member").type_text("bob");
    harness.run();
    harness
        .get_by_role_and_label(Role::Button, "bob Example")
        .click();
    harness.run();
    assert_eq!(harness.state().step.attributes.user.as_deref(), Some("u2"));
    assert!(harness.query_by_label("+49 170 0000001").is_none());
    harness.get_by_label("CC-0000 (default)");
    assert!(harness.query_all_by_label("(empty)").count() >= 1);

    // Editing a row changes the value at once: a constant, lower-cased by a transform.
    harness.get_by_label("Kind 2").click();
    harness.run();
    harness.get_by_label("Constant").click();
    harness.run();
    let field = harness.get_by_label("Constant 2");
    field.focus();
    harness.run();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label("Constant 2").type_text("CC-HELPDESK");
    harness.run();
    harness.get_by_label("CC-HELPDESK");
    assert_eq!(
        harness.state().step.attributes.mappings()[1],
        Mapping {
            target: "costCenter".into(),
            source: None,
            value: Some("CC-HELPDESK".into()),
            template: None,
            omit: false,
            default: Some("CC-0000".into()),
            transform: None,
            when: When::Always,
        }
    );
}

#[test]
fn rows_are_added_changed_and_removed() {
    let mut harness = harness(with_mapping_sources());
    harness.get_by_label("+ Add a mapping").click();
    harness.run();
    // A new row says what it lacks, beside it.
    harness.get_by_label("Row 3: Target: empty; pick the attribute to write from the … list");
    harness.get_by_label("Row 3: Source: empty; pick a Graph property from the … list");
    harness.get_by_label("Attributes (3 mappings)");
    harness.get_by_label("2 problems");

    harness.get_by_label("Target 3").focus();
    harness.run();
    harness.get_by_label("Target 3").type_text("title");
    harness.run();
    harness.get_by_label("Kind 3").click();
    harness.run();
    harness.get_by_label("Template").click();
    harness.run();
    harness.get_by_label("Template 3").focus();
    harness.run();
    harness
        .get_by_label("Template 3")
        .type_text("{jobTitle} ({department})");
    harness.run();
    harness.get_by_label("On create only 3").click();
    harness.run();
    harness.get_by_label("Agent (Support)");
    assert!(harness.state().step.attributes.problems().is_empty());
    assert_eq!(harness.state().step.validate(), Ok(()));
    let written = harness.state().step.attributes.mappings();
    assert_eq!(
        written[2].template.as_deref(),
        Some("{jobTitle} ({department})")
    );
    assert_eq!(written[2].when, When::Create);

    harness.get_by_label("Remove mapping 1").click();
    harness.run();
    let targets: Vec<String> = harness
        .state()
        .step
        .attributes
        .mappings()
        .into_iter()
        .map(|m| m.target)
        .collect();
    assert_eq!(targets, ["costCenter", "title"]);
}

/// One row per kind of problem the config loader reports, and what the screen says beside it.
#[test]
fn each_rows_problem_is_the_config_loaders_in_the_screens_words() {
    let row = |target: &str, kind: MappingKind, text: &str| MappingRow {
        target: target.into(),
        kind,
        text: text.into(),
        ..MappingRow::default()
    };
    let mut step = with_mapping_sources();
    step.attributes.rows = vec![
        row("externalId", MappingKind::Source, "id"),
        row("phone", MappingKind::Source, "mobilePhone"),
        row("title", MappingKind::Source, "mobilephone"),
        row("nickName", MappingKind::Template, "{givenName}.{nope}"),
        row("title", MappingKind::Value, "Technician"),
        row("roles", MappingKind::Value, "agent"),
        row("userName", MappingKind::Omit, ""),
        row("displayName", MappingKind::Template, "no placeholder"),
    ];
    let expected = [
        (
            0,
            "Target: externalId cannot be mapped: it is always the Entra object id (the anchor \
             adsync finds the user by); remove this row",
        ),
        (
            1,
            "Target: `phone` is not a target path adsync can write; pick one from the … list, or write \
             another schema extension's attribute in full (urn:…:User:attribute)",
        ),
        (
            2,
            "Source: `mobilephone` is not a Graph user property adsync can read (did you mean \
             `mobilePhone`? names are case-sensitive); pick one from the … list",
        ),
        (
            3,
            "Template: the placeholder {nope}: `nope` is not a Graph user property adsync can \
             read; pick one from the … list",
        ),
        (
            4,
            "Target: `title` is already mapped in row 3; keep one row per target",
        ),
        (
            5,
            "Target: roles are not mapped attribute by attribute; give each pair its roles on \
             step 3, Group pairing",
        ),
        (
            6,
            "Omit: userName cannot be omitted: every SCIM user needs one; map it from another \
             source instead",
        ),
        (
            7,
            "Template: has no {property} placeholder; choose Constant, or name a \
             Graph user property in braces, e.g. \"{givenName}.{surname}@example.com\"",
        ),
    ];
    let problems = step.attributes.problems();
    let shown: Vec<(usize, &str)> = problems.iter().map(|(i, m)| (*i, m.as_str())).collect();
    assert_eq!(shown, expected);

    // The rows flagged are exactly the entries `adsync config validate` refuses.
    let mut file = crate::config::parse_str(CONFIG).expect("a valid config");
    file.mappings = step.attributes.mappings();
    let refused: BTreeSet<usize> = crate::config::parse_str(&file.to_toml())
        .unwrap_err()
        .iter()
        .filter_map(|p| p.key.strip_prefix("mappings["))
        .filter_map(|k| k.split(']').next()?.parse::<usize>().ok())
        .map(|n| n - 1)
        .collect();
    let flagged: BTreeSet<usize> = problems.iter().map(|(i, _)| *i).collect();
    assert_eq!(refused, flagged);

    // Next stays disabled, naming the first row; the panel shows each beside its row.
    assert_eq!(
        step.validate(),
        Err(format!(
            "Attributes, row 1: {}. Fix it on the Attributes tab.",
            expected[0].1
        ))
    );
    let harness = harness(step);
    for (i, message) in expected {
        harness.get_by_label(&format!("Row {}: {message}", i + 1));
    }
}

#[test]
fn the_demos_mappings_show_and_the_preview_plans_with_the_edited_ones() {
    use crate::wizard::step::Step;
    use crate::wizard::tests::{click, demo_at, harness as wizard_harness, runtime, settle};

    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = wizard_harness(demo_at(tmp.path(), &rt, Step::Search));
    settle(&mut h);
    click(&mut h, "Attributes (3 mappings)");
    // The demo config's mappings, with a member's values read for their sources.
    let targets: Vec<String> = h
        .state()
        .search
        .attributes
        .rows
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        targets,
        [
            r#"phoneNumbers[type eq "mobile"].value"#,
            "costCenter",
            "division"
        ]
    );
    assert_eq!(
        h.get_by_label("Source 2").value().as_deref(),
        Some("employeeOrgData.costCenter")
    );
    assert!(
        h.state()
            .search
            .read_for
            .as_ref()
            .is_some_and(|s| s.contains("mobilePhone"))
    );

    // A new row: every user's title becomes a constant, and it reads a property the members
    // were not read with (officeLocation is read anyway; faxNumber is not).
    click(&mut h, "+ Add a mapping");
    h.state_mut().search.attributes.rows[3] = MappingRow {
        target: "title".into(),
        kind: MappingKind::Value,
        text: "Technician".into(),
        ..MappingRow::default()
    };
    h.state_mut().search.attributes.rows.push(MappingRow {
        target: r#"phoneNumbers[type eq "fax"].value"#.into(),
        kind: MappingKind::Source,
        text: "faxNumber".into(),
        default: "none".into(),
        ..MappingRow::default()
    });
    h.run_steps(2);
    settle(&mut h);
    assert!(
        h.state()
            .search
            .read_for
            .as_ref()
            .is_some_and(|s| s.contains("faxNumber")),
        "a new source reads the members again"
    );
    assert!(h.query_all_by_label("Technician").count() >= 1);

    // Next plans with the mappings as edited: draft, config, engine.
    click(&mut h, "Next");
    settle(&mut h);
    let plan = h.state().preview.plan.done().cloned().expect("a plan");
    let created: Vec<_> = plan
        .actions
        .iter()
        .filter_map(|a| a.execution.desired())
        .collect();
    assert!(!created.is_empty());
    for desired in created {
        assert_eq!(desired.title.as_deref(), Some("Technician"));
        assert!(
            desired
                .extra
                .contains_key(r#"phoneNumbers[type eq "fax"].value"#)
        );
    }
    let refs = crate::wizard::draft::SecretRefs {
        target_token: Some("env:TARGET_TOKEN".parse().unwrap()),
        entra_secret: Some("env:ENTRA_SECRET".parse().unwrap()),
        ..Default::default()
    };
    let file = crate::config::parse_str(&h.state().draft().compose(&refs).to_toml());
    let file = file.expect("the config written is valid");
    assert_eq!(file.mappings.len(), 5);
    assert_eq!(file.mappings[3].value.as_deref(), Some("Technician"));
}
