//! Results of tests and operations: in the screen's words with the technical text behind
//! *Details*, brought into view when they appear, and marked when the fields change.

use egui_kittest::kittest::Queryable;

use super::*;
use crate::config::TargetAuthKind;
use crate::health::CheckLine;
use crate::scim::ScimError;
use crate::wizard::steps::credentials::{CredentialsField, target_test_view};
use crate::wizard::widgets::STALE_NOTE;

#[test]
fn wizard_stale_results_are_marked_and_details_stay_behind_a_toggle() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_wizard(tmp.path(), &rt));
    settle(&mut h);
    let url = h.get_by_label("SCIM URL").value().unwrap_or_default();

    click(&mut h, "Test connection");
    settle(&mut h);
    let view = h.state().credentials.test.done().unwrap().view.clone();
    assert!(view.ok, "{view:?}");
    assert!(!shown(&h, STALE_NOTE), "a fresh result is not stale");
    // The lines of the check (the words of `adsync check`) are behind Details, with a Copy button.
    assert!(h.query_by_label("Copy").is_none());
    assert!(!shown(&h, "target reachable: ok"));
    click(&mut h, "Details");
    assert!(shown(&h, "target reachable: ok"));
    assert!(h.query_by_label("Copy").is_some());

    // The URL changes: the result is for another URL now.
    replace_in(&mut h, "SCIM URL", "http://127.0.0.1:9/scim/v2");
    assert!(
        shown(&h, STALE_NOTE),
        "a result for other fields is not marked"
    );
    assert!(h.state().credentials.test.done().unwrap().view.stale);
    // Back to the URL tested: the result holds again.
    replace_in(&mut h, "SCIM URL", &url);
    assert!(!shown(&h, STALE_NOTE));

    // The token changes: stale again, until tested again.
    type_into(&mut h, "Token", "another-token");
    assert!(
        shown(&h, STALE_NOTE),
        "a result for another token is not marked"
    );
    click(&mut h, "Test connection");
    settle(&mut h);
    let test = h.state().credentials.test.done().unwrap().clone();
    assert!(!test.view.stale);
    assert!(!shown(&h, STALE_NOTE));
    // The simulated application refuses that token: the fix is named by its label, and the
    // result's one action goes to that field.
    assert!(!test.view.ok);
    assert!(
        test.view
            .message
            .starts_with("The application refused the token. Check Token"),
        "{test:?}"
    );
    assert_eq!(test.field, Some(CredentialsField::Token));
    click(&mut h, "Edit Token");
    h.run_steps(2);
    assert!(
        h.get_by_label("Token").is_focused(),
        "the action focuses Token"
    );
}

#[test]
fn wizard_a_result_below_the_fold_is_scrolled_into_view() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    // A short window, so that the result appears below the fold.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 560.0))
        .with_max_steps(1000)
        .build_ui_state(
            |ui, wizard: &mut Wizard| wizard.ui(ui),
            demo_wizard(tmp.path(), &rt),
        );
    settle(&mut h);
    click(&mut h, "Test connection");
    settle(&mut h);
    let message = h
        .state()
        .credentials
        .test
        .done()
        .unwrap()
        .view
        .message
        .clone();
    let rect = h.get_by_label_contains(&message).rect();
    let buttons = h.get_by_label("Next").rect();
    assert!(
        rect.bottom() < buttons.top() && rect.top() > 0.0,
        "the result at {rect:?} is not in view above the buttons at {buttons:?}"
    );
}

/// The lines `adsync check` prints for a target that fails with `error` at `check`.
fn failing(check: &str, error: ScimError) -> Vec<CheckLine> {
    vec![CheckLine::new(check, false, error.to_string())]
}

#[test]
fn target_test_failures_name_the_field_and_keep_transport_text_in_details() {
    let url = "https://app.example.com/scim/v2/ServiceProviderConfig".to_owned();
    let unreachable = |detail: &str| ScimError::Unreachable {
        url: url.clone(),
        detail: detail.to_owned(),
    };
    let cases = [
        (
            failing(
                "target reachable",
                unreachable(
                    "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)",
                ),
            ),
            TargetAuthKind::Bearer,
            "nothing accepts connections",
            Some(CredentialsField::Url),
        ),
        (
            failing(
                "target reachable",
                unreachable(
                    "client error (Connect): dns error: failed to lookup address information",
                ),
            ),
            TargetAuthKind::Bearer,
            "its host name cannot be found",
            Some(CredentialsField::Url),
        ),
        (
            // As `adsync check` words a 404 from discovery.
            vec![CheckLine::new(
                "target reachable",
                false,
                "https://app.example.com/scim/ServiceProviderConfig was not found (404): is \
                 [target] url the SCIM base, the part before /Users?",
            )],
            TargetAuthKind::Bearer,
            "Enter the part before /Users",
            Some(CredentialsField::Url),
        ),
        (
            failing(
                "target credential",
                ScimError::Unauthorized {
                    url: url.clone(),
                    status: 401,
                    detail: None,
                },
            ),
            TargetAuthKind::Basic,
            "refused the username and password. Check Username and Password",
            Some(CredentialsField::Username),
        ),
    ];
    for (lines, auth, expected, field) in cases {
        let (view, got_field) = target_test_view(&lines, auth);
        assert!(!view.ok);
        assert!(view.message.contains(expected), "{view:?}");
        assert_eq!(got_field, field);
        for config_words in [
            "[target]",
            "tcp connect",
            "dns error",
            "os error",
            "adsync secret",
        ] {
            assert!(!view.message.contains(config_words), "{view:?}");
        }
        assert!(
            view.details.contains(&lines[0].detail),
            "the technical text is kept behind Details: {view:?}"
        );
        assert_eq!(
            view.action.as_deref(),
            field.map(|f| format!("Edit {}", f.label())).as_deref()
        );
    }
}
