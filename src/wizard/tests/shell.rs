//! The shell: Cancel and closing ask before losing changes, the keyboard, the summary before
//! Finish.

use egui_kittest::kittest::Queryable;

use super::*;
use crate::wizard::jobs::Task;

#[test]
fn wizard_cancel_asks_before_losing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();

    // Nothing entered: Cancel closes at once.
    let mut h = harness(new_wizard(tmp.path(), &rt));
    click(&mut h, "Cancel");
    assert_eq!(h.state().outcome, Some(Outcome::Cancelled));

    let mut h = harness(new_wizard(tmp.path(), &rt));
    type_into(&mut h, "SCIM URL", "https://app.example.com/scim/v2");
    click(&mut h, "Cancel");
    assert!(h.query_by_label("Discard your changes?").is_some());
    assert_eq!(h.state().outcome, None);
    // The safe button first, the destructive one second.
    assert!(
        h.get_by_label("Keep editing").rect().left()
            < h.get_by_label("Discard and close").rect().left()
    );
    click(&mut h, "Keep editing");
    assert!(h.query_by_label("Discard your changes?").is_none());
    assert_eq!(
        h.get_by_label("SCIM URL").value().as_deref(),
        Some("https://app.example.com/scim/v2")
    );

    // Esc is Cancel.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.query_by_label("Discard your changes?").is_some());
    click(&mut h, "Discard and close");
    assert_eq!(h.state().outcome, Some(Outcome::Cancelled));
    assert!(
        !tmp.path().join("config.toml").exists(),
        "nothing was written"
    );
}

#[test]
fn wizard_enter_is_next_only_when_the_step_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(new_wizard(tmp.path(), &rt));
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().step, Step::Credentials);
    type_into(&mut h, "SCIM URL", "https://app.example.com/scim/v2");
    type_into(&mut h, "Token", "tok-123");
    type_into(&mut h, "Administrator email", "admin@example.com");
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(h.state().step, Step::AzureApp);
    click(&mut h, "Back");
    assert_eq!(h.state().step, Step::Credentials);
}

#[test]
fn wizard_enter_never_finishes_and_the_summary_links_back() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_at(tmp.path(), &rt, Step::Finish));
    settle(&mut h);
    assert_eq!(h.state().step, Step::Finish);

    // The summary names what will be written, guests above all.
    for fragment in [
        "SCIM URL: http://127.0.0.1:",
        "Tenant: ",
        "1. Entra group “",
        "Every member of the paired groups",
        "Guest users: included",
        "User name in the application: the Entra user principal name",
        "Mass-change guards: a sync that would disable, empty a value of, or unlink more than 100 \
         users or 20 %",
    ] {
        assert!(shown(&h, fragment), "the summary lacks {fragment:?}");
    }

    // Enter on step 6 does nothing: no config, no sync.
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    assert_eq!(
        h.state().finish.report,
        Task::Idle,
        "Enter started writing the config"
    );
    assert_eq!(h.state().step, Step::Finish);

    // Each section links back to its step.
    click(&mut h, "Change (step 3)");
    assert_eq!(h.state().step, Step::Pairing);
    settle(&mut h);
    h.state_mut().go_to(Step::Finish);
    h.run_steps(2);
    click(&mut h, "Change (step 1)");
    assert_eq!(h.state().step, Step::Credentials);
}

/// Asks the window to close, as the title bar's ✕ or Alt+F4 do; returns whether the wizard
/// refused (sent `CancelClose`) in that frame.
fn request_close(h: &mut Harness<'_, Wizard>) -> bool {
    h.input_mut()
        .viewports
        .entry(egui::ViewportId::ROOT)
        .or_default()
        .events
        .push(egui::ViewportEvent::Close);
    h.step();
    h.output().viewport_output[&egui::ViewportId::ROOT]
        .commands
        .contains(&egui::ViewportCommand::CancelClose)
}

#[test]
fn wizard_closing_the_window_with_changes_asks_first() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();

    // Nothing entered: the window closes.
    let mut h = harness(new_wizard(tmp.path(), &rt));
    assert!(!request_close(&mut h));
    assert_eq!(h.state().outcome, Some(Outcome::Cancelled));

    // Changes: the close is refused and the same question as Cancel's is asked.
    let mut h = harness(new_wizard(tmp.path(), &rt));
    type_into(&mut h, "SCIM URL", "https://app.example.com/scim/v2");
    assert!(
        request_close(&mut h),
        "the window closed with unsaved changes"
    );
    h.run_steps(2);
    assert!(h.query_by_label("Discard your changes?").is_some());
    assert_eq!(h.state().outcome, None);
    click(&mut h, "Keep editing");
    assert_eq!(
        h.get_by_label("SCIM URL").value().as_deref(),
        Some("https://app.example.com/scim/v2")
    );

    // Asked again and discarded: the wizard closes.
    assert!(request_close(&mut h));
    h.run_steps(2);
    click(&mut h, "Discard and close");
    assert_eq!(h.state().outcome, Some(Outcome::Cancelled));
    assert!(!request_close(&mut h), "a decided close is not refused");
}
