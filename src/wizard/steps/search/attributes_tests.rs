//! The Attributes panel of step 4 driven through egui_kittest: each row's live value for the
//! picked member, rows added, changed and removed, the config loader's problems in the screen's
//! words, and the demo's mappings reaching the preview.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;

use super::tests::{CONFIG, harness, source};
use super::*;
use crate::config::{Mapping, When};

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
