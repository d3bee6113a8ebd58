//! Step 3 driven through the accessibility tree with egui_kittest: clicks on the labels a person
//! sees, then assertions on the step's state and the commands it returned.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};

use super::*;

fn group(id: &str, name: &str) -> GroupItem {
    GroupItem {
        id: id.into(),
        name: name.into(),
        members: None,
    }
}

fn step() -> PairingStep {
    PairingStep {
        entra_groups: vec![
            group("e-support", "Support"),
            group("e-sales", "Sales"),
            group("e-eng", "Engineering"),
        ],
        target_groups: vec![group("t-1", "Tier 1"), group("t-2", "Tier 2")],
        ..PairingStep::default()
    }
}

fn pair(entra: &str, entra_name: &str, target: &str, target_name: &str) -> PairRow {
    PairRow {
        entra: group(entra, entra_name),
        target: group(target, target_name),
        nested: true,
        roles: Vec::new(),
    }
}

fn paired_step() -> PairingStep {
    let mut step = step();
    step.pairs = vec![
        pair("e-support", "Support", "t-1", "Tier 1"),
        pair("e-sales", "Sales", "t-2", "Tier 2"),
    ];
    step
}

#[derive(Default)]
struct State {
    step: PairingStep,
    commands: Vec<PairingCommand>,
}

fn harness(step: PairingStep) -> Harness<'static, State> {
    let state = State {
        step,
        commands: Vec::new(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1024.0, 600.0))
        .build_ui_state(
            |ui, state: &mut State| {
                let commands = state.step.ui(ui);
                state.commands.extend(commands);
            },
            state,
        );
    harness.run();
    harness
}

fn pair_names(step: &PairingStep) -> Vec<(&str, &str)> {
    step.pairs
        .iter()
        .map(|p| (p.entra.name.as_str(), p.target.name.as_str()))
        .collect()
}

#[test]
fn selecting_a_group_in_each_column_and_pressing_pair_adds_the_pair() {
    let mut harness = harness(step());
    assert!(
        harness
            .get_by_label("Pair the selected groups")
            .accesskit_node()
            .is_disabled(),
        "→ stays disabled until a group is selected in both columns"
    );
    harness.get_by_label("Support").click();
    harness.run();
    harness.get_by_label("Tier 1").click();
    harness.run();
    harness.get_by_label("Pair the selected groups").click();
    harness.run();

    let step = &harness.state().step;
    assert_eq!(pair_names(step), [("Support", "Tier 1")]);
    assert!(step.pairs[0].nested, "a new pair includes nested groups");
    assert_eq!(step.selected_pair(), Some(0));
    harness.get_by_label("1. Support → Tier 1");
}

#[test]
fn the_remove_button_removes_the_selected_pair() {
    let mut harness = harness(paired_step());
    assert!(
        harness
            .get_by_label("Remove the selected pair")
            .accesskit_node()
            .is_disabled()
    );
    harness.get_by_label("1. Support → Tier 1").click();
    harness.run();
    harness.get_by_label("Remove the selected pair").click();
    harness.run();

    let step = &harness.state().step;
    assert_eq!(pair_names(step), [("Sales", "Tier 2")]);
    // The removed pair's groups are selected again so the pair is quick to redo.
    assert_eq!(step.selected(Side::Entra), Some("e-support"));
    assert_eq!(step.selected(Side::Target), Some("t-1"));
    harness.get_by_label("1. Sales → Tier 2");
}

#[test]
fn up_and_down_change_the_order_of_the_pairs() {
    let mut harness = harness(paired_step());
    harness.get_by_label("2. Sales → Tier 2").click();
    harness.run();
    harness.get_by_label("Move the selected pair up").click();
    harness.run();
    assert_eq!(
        pair_names(&harness.state().step),
        [("Sales", "Tier 2"), ("Support", "Tier 1")]
    );
    assert!(
        harness
            .get_by_label("Move the selected pair up")
            .accesskit_node()
            .is_disabled(),
        "the first pair cannot go higher"
    );
    harness.get_by_label("1. Sales → Tier 2");

    harness.get_by_label("Move the selected pair down").click();
    harness.run();
    assert_eq!(
        pair_names(&harness.state().step),
        [("Support", "Tier 1"), ("Sales", "Tier 2")]
    );
}

#[test]
fn the_nested_check_box_toggles_nested_membership_of_its_pair() {
    let mut harness = harness(paired_step());
    harness.get_by_label("Nested groups for pair 2").click();
    harness.run();
    let step = &harness.state().step;
    assert!(step.pairs[0].nested);
    assert!(!step.pairs[1].nested);

    harness.get_by_label("Nested groups for pair 2").click();
    harness.run();
    assert!(harness.state().step.pairs[1].nested);
}

#[test]
fn an_entra_group_that_is_already_paired_is_refused_with_a_reason() {
    let mut harness = harness(paired_step());
    harness.get_by_label("Support").click();
    harness.run();
    harness.get_by_label("Tier 2").click();
    harness.run();
    harness.get_by_label("Pair the selected groups").click();
    harness.run();

    assert_eq!(
        pair_names(&harness.state().step),
        [("Support", "Tier 1"), ("Sales", "Tier 2")]
    );
    let message = harness
        .state()
        .step
        .message()
        .expect("a message")
        .to_owned();
    assert!(
        message.contains("“Support” is already paired with “Tier 1” (pair 1)"),
        "{message}"
    );
    harness.get_by_label_contains("is already paired with");

    // The message goes once the administrator does something else.
    harness.get_by_label("Engineering").click();
    harness.run();
    assert!(
        harness
            .query_by_label_contains("is already paired")
            .is_none()
    );
}

#[test]
fn typing_in_a_search_box_filters_its_column_only() {
    let mut harness = harness(step());
    let search = harness.get_by_label("Search Entra groups");
    search.click();
    search.type_text("SAL");
    harness.run();

    assert!(harness.query_by_label("Sales").is_some());
    assert!(harness.query_by_label("Support").is_none());
    assert!(harness.query_by_label("Engineering").is_none());
    harness.get_by_label("1 of 3 match");
    // The target column is untouched.
    assert!(harness.query_by_label("Tier 1").is_some());
    assert!(harness.query_by_label("Tier 2").is_some());

    let search = harness.get_by_label("Search Entra groups");
    search.type_text("x");
    harness.run();
    harness.get_by_label("No group name contains “SALx”.");
}

#[test]
fn member_counts_are_asked_for_once_for_pairs_and_selected_groups_only() {
    let mut harness = harness(paired_step());
    let mut asked = std::mem::take(&mut harness.state_mut().commands);
    asked.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let count = |side, id: &str| PairingCommand::CountMembers {
        side,
        id: id.into(),
    };
    assert_eq!(
        asked,
        [
            count(Side::Entra, "e-sales"),
            count(Side::Entra, "e-support"),
            count(Side::Target, "t-1"),
            count(Side::Target, "t-2"),
        ]
    );

    harness.get_by_label("Engineering").click();
    harness.run();
    harness.get_by_label("Support").click();
    harness.run();
    assert_eq!(
        harness.state().commands,
        [count(Side::Entra, "e-eng")],
        "Support was asked for already; Engineering once, though the harness ran many frames"
    );

    harness
        .state_mut()
        .step
        .set_member_count(Side::Entra, "e-support", 1234);
    harness.run();
    harness.get_by_label_contains("1,234 members");
}

#[test]
fn validate_explains_what_keeps_next_disabled() {
    let mut step = step();
    assert_eq!(
        step.validate(),
        Err("Pair at least one Entra group with a target group.".into())
    );
    step.pairs = vec![pair("e-support", "Support", "t-1", "Tier 1")];
    assert_eq!(step.validate(), Ok(()));

    step.pairs
        .push(pair("e-support", "Support", "t-2", "Tier 2"));
    assert!(
        step.validate()
            .unwrap_err()
            .contains("paired more than once")
    );

    step.pairs = vec![pair("e-gone", "Old team", "t-1", "Tier 1")];
    assert_eq!(
        step.validate(),
        Err(
            "Pair 1: the Entra group “Old team” no longer exists in Entra ID; remove the pair."
                .into()
        )
    );
    step.pairs = vec![pair("e-support", "Support", "t-gone", "Old tier")];
    assert!(
        step.validate()
            .unwrap_err()
            .contains("“Old tier” no longer exists")
    );

    // While the lists load, the pairs of an existing config are taken as they are.
    step.entra_groups.clear();
    step.target_groups.clear();
    assert_eq!(step.validate(), Ok(()));
}

#[test]
fn the_filter_is_recomputed_only_when_the_search_or_the_list_changes() {
    let groups: Vec<GroupItem> = (0..20_000)
        .map(|i| group(&format!("g{i}"), &format!("Group {i:05}")))
        .collect();
    let mut cache = FilterCache::default();
    assert!(cache.update(&groups, ""));
    assert_eq!(cache.rows.len(), 20_000);
    assert!(!cache.update(&groups, ""), "same list, same search");

    assert!(cache.update(&groups, "group 1"));
    assert_eq!(cache.rows.len(), 10_000);
    assert!(
        !cache.update(&groups, "GROUP 1 "),
        "case and outer spaces do not count"
    );
    assert!(cache.update(&groups, "group 19"));
    assert_eq!(cache.rows.len(), 1_000);
    assert!(
        cache.update(&groups, "group 1"),
        "widening the search again"
    );
    assert_eq!(cache.rows.len(), 10_000);

    assert!(cache.contains_id(&groups, "g19999"));
    assert!(!cache.contains_id(&groups, "g20000"));
    let copy = groups.clone();
    assert!(
        cache.contains_id(&copy, "g7"),
        "another list: looked through"
    );

    let shorter = groups[..5].to_vec();
    assert!(cache.update(&shorter, "group 1"), "another list");
    assert!(cache.rows.is_empty());
}

#[test]
fn twenty_thousand_groups_per_column_show_only_the_visible_rows() {
    let groups = |side: &str| -> Vec<GroupItem> {
        (0..20_000)
            .map(|i| group(&format!("{side}{i}"), &format!("{side} group {i:05}")))
            .collect()
    };
    let step = PairingStep {
        entra_groups: groups("Entra"),
        target_groups: groups("Target"),
        ..PairingStep::default()
    };
    let mut harness = harness(step);
    harness.get_by_label("Entra group 00000");
    assert!(harness.query_by_label("Entra group 19999").is_none());
    let rows = harness
        .query_all_by(|node| node.label().is_some_and(|l| l.starts_with("Entra group ")))
        .count();
    assert!(rows < 100, "{rows} rows laid out");

    let search = harness.get_by_label("Search Entra groups");
    search.click();
    search.type_text("19999");
    harness.run();
    harness.get_by_label("Entra group 19999").click();
    harness.run();
    assert_eq!(
        harness.state().step.selected(Side::Entra),
        Some("Entra19999")
    );
}

#[test]
fn each_pair_takes_its_roles_as_a_comma_separated_list() {
    let mut harness = harness(paired_step());
    harness.get_by_label("Roles for pair 2").focus();
    harness.run();
    harness
        .get_by_label("Roles for pair 2")
        .type_text(" technician,reports , technician,");
    harness.run();
    let step = &harness.state().step;
    assert_eq!(step.pairs[1].roles, ["technician", "reports"]);
    assert!(step.pairs[0].roles.is_empty(), "only that pair's roles");
    // What was typed stays on screen while typing (the trailing comma too).
    assert_eq!(
        harness.get_by_label("Roles for pair 2").value().as_deref(),
        Some(" technician,reports , technician,")
    );
    // The member counts say which side is which.
    assert!(
        harness
            .query_all_by_label_contains("Entra: … members · target: … members")
            .next()
            .is_some()
    );
}

const WITH_ROLES: &str = r#"version = 1

[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "keyring:adsync/entra-client-secret"

[target]
url = "https://app.example.com/scim/v2"
token = "file:/etc/adsync/target-token"

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
entra_group_name = "Support"
target_group_id = "a81c"
target_group_name = "Tier 1"
order = 1
roles = ["technician", "reports"]

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000002"
entra_group_name = "Sales"
target_group_id = "a81d"
target_group_name = "Tier 2"
order = 2
"#;

#[test]
fn roles_are_written_to_the_config_and_shown_when_it_is_reopened() {
    use crate::wizard::tests::{harness as wizard_harness, replace_in, runtime};
    use crate::wizard::{Step, Wizard, WizardOptions};

    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, WITH_ROLES).unwrap();
    let open = |path: &std::path::Path| {
        let mut h = wizard_harness(Wizard::new(
            WizardOptions {
                config_path: Some(path.to_owned()),
                ..Default::default()
            },
            rt.handle().clone(),
        ));
        // Jobs the wizard starts on opening report first (they may reset what counts as saved).
        crate::wizard::tests::settle(&mut h);
        // Straight to the pairs, without reading the (unreachable) groups.
        h.state_mut().step = Step::Pairing;
        h.run_steps(3);
        h
    };
    let mut h = open(&path);
    assert_eq!(
        h.get_by_label("Roles for pair 1").value().as_deref(),
        Some("technician, reports")
    );
    assert_eq!(
        h.get_by_label("Roles for pair 2").value().as_deref(),
        Some("")
    );
    replace_in(&mut h, "Roles for pair 2", "sales-agent");
    assert_eq!(h.state().pairing.pairs[1].roles, ["sales-agent"]);
    assert!(h.state().has_unsaved_changes(), "a role change is a change");

    // The config Finish would write holds each pair's roles.
    let draft = h.state().draft();
    let refs = crate::wizard::draft::SecretRefs {
        target_token: Some("file:/etc/adsync/target-token".parse().unwrap()),
        entra_secret: Some("keyring:adsync/entra-client-secret".parse().unwrap()),
        ..Default::default()
    };
    let file = draft.compose(&refs);
    let text = file.to_toml();
    assert!(text.contains(r#""technician""#), "{text}");
    assert!(text.contains(r#"roles = ["sales-agent"]"#), "{text}");
    let written = tmp.path().join("written.toml");
    crate::config::save(&written, &file).unwrap();
    let reread = crate::config::load(&written).unwrap();
    assert_eq!(reread.pairs[0].roles, ["technician", "reports"]);
    assert_eq!(reread.pairs[1].roles, ["sales-agent"]);

    // Reopened, the step shows them.
    let h = open(&written);
    assert_eq!(
        h.get_by_label("Roles for pair 2").value().as_deref(),
        Some("sales-agent")
    );
}

fn focused(harness: &Harness<'_, State>) -> Option<egui::Id> {
    harness.ctx.memory(|m| m.focused())
}

#[test]
fn arrow_keys_move_within_a_list_tab_moves_between_lists_and_enter_pairs() {
    let mut harness = harness(step());
    harness.get_by_label("Search Entra groups").focus();
    harness.run();
    assert_eq!(focused(&harness), Some(search_id(Side::Entra)));
    for (key, expected) in [
        (egui::Key::ArrowDown, "e-support"),
        (egui::Key::ArrowDown, "e-sales"),
        (egui::Key::ArrowDown, "e-eng"),
        // The last row stays the last.
        (egui::Key::ArrowDown, "e-eng"),
        (egui::Key::ArrowUp, "e-sales"),
    ] {
        harness.key_press(key);
        harness.run();
        assert_eq!(harness.state().step.selected(Side::Entra), Some(expected));
    }
    assert_eq!(
        harness.state().step.selected(Side::Target),
        None,
        "the other list does not move"
    );
    // One Tab leaves the Entra list for the target list: its rows are not Tab stops.
    harness.key_press(egui::Key::Tab);
    harness.run();
    assert_eq!(focused(&harness), Some(search_id(Side::Target)));
    // Two presses within one frame move two rows.
    harness.key_press(egui::Key::ArrowDown);
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    assert_eq!(harness.state().step.selected(Side::Target), Some("t-2"));
    assert_eq!(harness.state().step.selected(Side::Entra), Some("e-sales"));
    // Enter pairs the selected two.
    harness.key_press(egui::Key::Enter);
    harness.run();
    assert_eq!(pair_names(&harness.state().step), [("Sales", "Tier 2")]);
    // The arrows move through the pairs once a pair is clicked.
    let mut step = paired_step();
    step.pairs
        .push(pair("e-eng", "Engineering", "t-1", "Tier 1"));
    let mut harness = super::tests::harness(step);
    harness.get_by_label("1. Support → Tier 1").click();
    harness.run();
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    harness.key_press(egui::Key::ArrowDown);
    harness.run();
    assert_eq!(harness.state().step.selected_pair(), Some(2));
}

#[test]
fn a_row_reached_by_arrow_keys_is_scrolled_into_view() {
    let groups: Vec<GroupItem> = (0..500)
        .map(|i| group(&format!("e-{i:03}"), &format!("Team {i:03}")))
        .collect();
    let mut harness = harness(PairingStep {
        entra_groups: groups,
        target_groups: vec![group("t-1", "Tier 1")],
        ..PairingStep::default()
    });
    assert!(
        harness.query_by_label("Team 120").is_none(),
        "not drawn yet"
    );
    harness.get_by_label("Search Entra groups").focus();
    harness.run();
    for _ in 0..=120 {
        harness.key_press(egui::Key::ArrowDown);
        harness.step();
    }
    harness.run();
    assert_eq!(harness.state().step.selected(Side::Entra), Some("e-120"));
    assert!(
        harness.query_by_label("Team 120").is_some(),
        "the selected row is on screen"
    );
}

#[test]
fn at_1024_pixels_the_pairs_stay_inside_the_window_and_widen_with_it() {
    let long = "Support engineers of the northern region, second line, weekend rota";
    let mut step = paired_step();
    step.pairs[0].entra.name = long.into();
    step.entra_groups[0].name = long.into();
    let mut widths = Vec::new();
    for width in [1024.0, 1600.0] {
        let mut harness = harness(step.clone());
        harness.set_size(egui::vec2(width, 768.0));
        harness.run();
        let roles = harness.get_by_label("Roles for pair 1").rect();
        let row = harness.get_by_label(&format!("1. {long} → Tier 1")).rect();
        assert!(roles.right() <= width, "{roles:?} at {width}");
        assert!(row.right() <= width, "{row:?} at {width}");
        widths.push(row.width());
    }
    assert!(
        widths[1] > widths[0] + 100.0,
        "the columns grow with the window: {widths:?}"
    );
}

#[test]
fn a_failed_read_of_the_entra_groups_links_back_to_step_two() {
    let mut step = step();
    step.groups
        .fail("Reading the Entra groups failed: Entra ID refused the sign-in");
    let mut harness = harness(step);
    // The screen's words first; the technical text behind Details.
    assert!(
        harness
            .query_all_by_label_contains("cannot be read with the app of step 2")
            .next()
            .is_some()
    );
    assert!(
        harness
            .query_all_by_label_contains("Entra ID refused the sign-in")
            .next()
            .is_none()
    );
    harness.get_by_label("Back to step 2: Azure app").click();
    harness.run();
    assert_eq!(
        harness.state().commands,
        [PairingCommand::Fix(crate::wizard::Step::AzureApp)]
    );
}

#[test]
fn dragging_the_gap_before_the_pairs_widens_them() {
    let mut harness = harness(paired_step());
    let before = harness.get_by_label("1. Support → Tier 1").rect().width();
    let handle = harness
        .get_by_label("Resize the columns (target-pairs)")
        .rect()
        .center();
    let press = |pressed| egui::Event::PointerButton {
        pos: handle - egui::vec2(if pressed { 0.0 } else { 150.0 }, 0.0),
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness.event(egui::Event::PointerMoved(handle));
    harness.run();
    harness.event(press(true));
    harness.run();
    for step in 1..=6 {
        harness.event(egui::Event::PointerMoved(
            handle - egui::vec2(25.0 * step as f32, 0.0),
        ));
        harness.run();
    }
    harness.event(press(false));
    harness.run();
    let after = harness.get_by_label("1. Support → Tier 1").rect().width();
    assert!(after > before + 100.0, "{before} -> {after}");
}
