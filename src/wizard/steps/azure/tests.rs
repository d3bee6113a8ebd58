//! Step 2 driven through the accessibility tree with egui_kittest against the `--demo` tenant:
//! *Create it for me* from the button to filled fields and a passing test, its Cancel, and a
//! failure told in the screen's words.

use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;

use super::create::Stage;
use super::*;
use crate::wizard::step::Step;
use crate::wizard::tests::{Harness, click, demo_at, harness, runtime, settle, shown};

/// The demo opened at step 2, its simulators running.
fn at_step_two(dir: &Path, rt: &tokio::runtime::Runtime) -> Harness<'static, Wizard> {
    let mut h = harness(demo_at(dir, rt, Step::AzureApp));
    settle(&mut h);
    assert_eq!(h.state().step, Step::AzureApp);
    h
}

/// Steps frames until the registration is no longer running, noting every stage seen on screen.
fn run_create(h: &mut Harness<'_, Wizard>) -> Vec<Stage> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while h.state().azure.create.is_running() {
        h.step();
        if let Some(p) = h.state().azure.create.progress()
            && seen.last() != Some(&p.stage)
        {
            seen.push(p.stage);
        }
        assert!(Instant::now() < deadline, "the registration did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

#[test]
fn create_it_for_me_fills_the_step_and_the_test_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = at_step_two(tmp.path(), &rt);
    // Each Graph object takes a moment to replicate, as in a real tenant: the stages show.
    h.state()
        .demo
        .as_ref()
        .unwrap()
        .entra
        .set_replication_lag(Duration::from_secs(2));
    let old_client = h.state().azure.client_id.clone();

    click(&mut h, "Create it for me");
    assert!(h.state().azure.create.is_running());
    assert!(h.query_by_label("Cancel creating").is_some());
    let mut saw_clock = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while h.state().azure.create.is_running() {
        h.step();
        if let Some(p) = h.state().azure.create.progress()
            && seen.last() != Some(&p.stage)
        {
            seen.push(p.stage);
        }
        saw_clock |= shown(&h, "Waiting for Entra 0:");
        assert!(Instant::now() < deadline, "the registration did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Stages arrive in order, and the wait shows its clock.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(seen.contains(&Stage::Waiting), "{seen:?}");
    assert!(saw_clock, "the wait for Entra shows a clock");

    let created = match &h.state().azure.create {
        CreateState::Done(created) => created.clone(),
        other => panic!("{other:?}"),
    };
    let apps = h.state().demo.as_ref().unwrap().entra.created_apps();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!((apps[0].certificates, apps[0].assignments), (1, 2));
    // The fields are filled with the new app.
    let a = &h.state().azure;
    assert_eq!(a.client_id, apps[0].app_id);
    assert_ne!(a.client_id, old_client);
    assert_eq!(a.credential, CredentialKind::Certificate);
    assert_eq!(a.certificate, created.certificate.display().to_string());
    assert!(created.certificate.starts_with(tmp.path()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&created.certificate)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
    }
    assert!(shown(&h, "Created the app registration \"adsync\""));
    assert!(a.validate().is_ok(), "{:?}", a.validate());

    // Test connection ran by itself, with the new app's certificate, and passes.
    settle(&mut h);
    let lines = h.state().azure.test.done().cloned().expect("test ran");
    assert!(lines.iter().all(|l| l.ok), "{lines:?}");
    assert!(h.query_by_label("permission User.Read.All").is_some());
    assert!(h.state().validate_current().is_ok());
}

#[test]
fn cancel_stops_the_registration() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = at_step_two(tmp.path(), &rt);
    let entra = {
        let demo = h.state().demo.as_ref().unwrap();
        // Consent never shows: the job would poll Entra for ten minutes.
        demo.entra.withhold_consent(true);
        demo.entra.log().clone()
    };
    click(&mut h, "Create it for me");
    let deadline = Instant::now() + Duration::from_secs(120);
    while h
        .state()
        .azure
        .create
        .progress()
        .is_some_and(|p| p.stage < Stage::Waiting)
    {
        h.step();
        assert!(Instant::now() < deadline, "never reached the wait");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(h.state().azure.create.is_running());
    let client_before = h.state().azure.client_id.clone();

    click(&mut h, "Cancel creating");
    let seen = run_create(&mut h);
    assert!(seen.is_empty() || seen == [Stage::Waiting], "{seen:?}");
    settle(&mut h);
    assert!(matches!(h.state().azure.create, CreateState::Cancelled));
    assert!(shown(&h, "Cancelled."));
    // Really stopped: the tenant hears nothing more from it.
    let requests = entra.total();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(entra.total(), requests, "requests continued after Cancel");
    // And nothing was filled in.
    assert_eq!(h.state().azure.client_id, client_before);
    assert!(h.query_by_label("Create it for me").is_some());
}

#[test]
fn an_administrator_without_the_grant_role_is_told_which_role() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = at_step_two(tmp.path(), &rt);
    // A plain member: may register apps (the tenant allows it), may not grant Graph permissions.
    h.state().demo.as_ref().unwrap().entra.set_admin_roles(&[]);
    click(&mut h, "Create it for me");
    run_create(&mut h);
    settle(&mut h);
    let failure = match &h.state().azure.create {
        CreateState::Failed(f) => f.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        failure
            .message
            .contains("Privileged Role Administrator or Global Administrator"),
        "{failure:?}"
    );
    // The screen's words: buttons, not command-line flags.
    assert!(
        failure.message.contains("Open admin consent"),
        "{failure:?}"
    );
    assert!(!failure.message.contains("--"), "{failure:?}");
    assert!(shown(&h, "may not grant Microsoft Graph permissions"));
    // The library's text is behind Details.
    assert!(!shown(&h, "Copy details"));
    click(&mut h, "Details");
    assert!(shown(&h, "Copy details"));
    // The app that was made is in the fields, so Open admin consent is for it.
    let apps = h.state().demo.as_ref().unwrap().entra.created_apps();
    assert_eq!(h.state().azure.client_id, apps[0].app_id);
}

/// The shortest demo path from launch to the first sync when step 2 uses *Create it for me*,
/// counted: every click is one interaction (typing would be one per field; none is needed).
#[test]
fn demo_with_create_it_for_me_reaches_the_first_sync_in_eleven_interactions() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(crate::wizard::tests::demo_wizard(tmp.path(), &rt));
    settle(&mut h);
    let mut interactions = 0;
    let mut press = |h: &mut Harness<'static, Wizard>, label: &str| {
        click(h, label);
        settle(h);
        interactions += 1;
    };
    press(&mut h, "Next");
    assert_eq!(h.state().step, Step::AzureApp);
    press(&mut h, "Create it for me");
    assert!(matches!(h.state().azure.create, CreateState::Done(_)));
    let lines = h.state().azure.test.done().cloned().expect("the test ran");
    assert!(lines.iter().all(|l| l.ok), "{lines:?}");
    press(&mut h, "Next");
    assert_eq!(h.state().step, Step::Pairing);
    press(&mut h, "Support Tier 1");
    press(&mut h, "Tier 1");
    press(&mut h, "Pair the selected groups");
    press(&mut h, "Next");
    assert_eq!(h.state().step, Step::Search);
    press(&mut h, "Next");
    press(&mut h, "Confirm");
    assert_eq!(h.state().step, Step::Preview);
    press(&mut h, "Next");
    assert_eq!(h.state().step, Step::Finish);
    press(&mut h, "Finish");
    let report = h.state().finish.report.done().cloned().expect("finished");
    assert!(report.saved, "{:?}", report.lines);
    assert!(
        matches!(
            report.first_sync,
            Some(crate::wizard::steps::finish::FirstSync::Applied { failed: 0, .. })
        ),
        "{:?}",
        report.first_sync
    );
    // The written config signs in with the created app's certificate.
    let file = crate::config::load(&h.state().config_path).unwrap();
    let app = &h.state().demo.as_ref().unwrap().entra.created_apps()[0];
    assert_eq!(file.entra.client_id, app.app_id);
    assert_eq!(interactions, 11);
}
