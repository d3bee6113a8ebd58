//! Wizard tests with egui_kittest: the whole `--demo` flow driven through the accessibility tree
//! (clicks and typing), validation messages, the cancel confirmation, the keyboard, editing an
//! existing config, and certificate generation. No display or GPU is needed.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::*;
use crate::config;
use crate::secret::SecretRef;

const DEFAULT_PASSWORD: &str = "Welcome-2026-Tailspin!";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn harness(wizard: Wizard) -> Harness<'static, Wizard> {
    Harness::builder()
        .with_size(egui::vec2(1024.0, 768.0))
        .with_max_steps(1000)
        .build_ui_state(|ui, wizard: &mut Wizard| wizard.ui(ui), wizard)
}

/// Steps frames until every background job has reported back (spinners keep asking for frames,
/// so `run()` cannot be used while a job runs).
fn settle(h: &mut Harness<'_, Wizard>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        h.step();
        if h.state().jobs_running() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "background jobs did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

fn type_into(h: &mut Harness<'_, Wizard>, label: &str, text: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(2);
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

fn replace_in(h: &mut Harness<'_, Wizard>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// Is a text with this fragment on screen (beside its field, and perhaps also beside Next)?
fn shown(h: &Harness<'_, Wizard>, fragment: &str) -> bool {
    h.query_all_by_label_contains(fragment).next().is_some()
}

fn click(h: &mut Harness<'_, Wizard>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(2);
    h.get_by_label(label).click();
    h.run_steps(2);
}

fn demo_wizard(dir: &Path, runtime: &tokio::runtime::Runtime) -> Wizard {
    Wizard::new(
        WizardOptions {
            demo: true,
            demo_dir: Some(dir.join("demo")),
            ..Default::default()
        },
        runtime.handle().clone(),
    )
}

#[test]
fn wizard_demo_flow_from_credentials_to_first_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_wizard(tmp.path(), &rt));
    settle(&mut h);
    let scim_url = h
        .state()
        .demo
        .as_ref()
        .expect("the demo started")
        .scim
        .url();

    // Step 1: pre-filled with the simulated application; the token is stored by the demo.
    assert_eq!(h.state().step, Step::Credentials);
    assert_eq!(
        h.get_by_label("SCIM URL").value().as_deref(),
        Some(scim_url.as_str())
    );
    assert!(shown(&h, "stored (unchanged)"));
    type_into(&mut h, "Default password for new users", DEFAULT_PASSWORD);
    type_into(&mut h, "Default password again", "something else");
    assert!(shown(&h, "The two default passwords differ"));
    assert!(h.state().validate_current().is_err());
    replace_in(&mut h, "Default password again", DEFAULT_PASSWORD);
    assert!(!shown(&h, "The two default passwords differ"));
    // The password fields are masked for screen readers and snapshots too.
    let masked = h
        .get_by_label("Default password for new users")
        .value()
        .unwrap_or_default();
    assert!(!masked.contains(DEFAULT_PASSWORD), "{masked}");

    click(&mut h, "Test connection");
    settle(&mut h);
    let lines = h
        .state()
        .credentials
        .test
        .done()
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", h.state().credentials.test));
    assert!(lines.iter().all(|l| l.ok), "{lines:?}");
    assert!(h.query_by_label("target groups").is_some());
    click(&mut h, "Next");

    // Step 2: the simulated tenant's app registration.
    assert_eq!(h.state().step, Step::AzureApp);
    assert!(
        h.get_by_label("Tenant")
            .value()
            .unwrap_or_default()
            .contains('.')
    );
    click(&mut h, "Test connection");
    settle(&mut h);
    let lines = h.state().azure.test.done().cloned().expect("test finished");
    assert!(
        lines.iter().any(|l| l.name == "Entra sign-in" && l.ok),
        "{lines:?}"
    );
    assert!(h.query_by_label("permission User.Read.All").is_some());
    click(&mut h, "Next");

    // Step 3: groups of both sides are loaded off the UI thread.
    assert_eq!(h.state().step, Step::Pairing);
    settle(&mut h);
    assert!(h.state().pairing.entra_groups.len() >= 30);
    assert!(h.state().validate_current().is_err(), "no pair yet");
    // Select one group in each column (found through each column's search box) and press →.
    type_into(&mut h, "Search Entra groups", "Support Tier 1");
    click(&mut h, "Support Tier 1");
    type_into(&mut h, "Search target groups", "Tier 1");
    click(&mut h, "Tier 1");
    click(&mut h, "Pair the selected groups");
    let pairs: Vec<_> = h
        .state()
        .pairing
        .pairs
        .iter()
        .map(|p| (p.entra.name.clone(), p.target.name.clone()))
        .collect();
    assert_eq!(pairs, [("Support Tier 1".to_owned(), "Tier 1".to_owned())]);
    h.run_steps(2);
    click(&mut h, "Next");

    // Step 4: the members of the paired group are read; Next asks for confirmation.
    assert_eq!(h.state().step, Step::Search);
    settle(&mut h);
    assert!(
        h.state()
            .search
            .source
            .done()
            .is_some_and(|s| !s.users.is_empty())
    );
    click(&mut h, "Next");
    assert!(h.state().search.confirming, "Next opens the confirmation");
    assert_eq!(
        h.state().step,
        Step::Search,
        "and does not move on by itself"
    );
    assert!(shown(&h, "Synchronize"), "the dialog asks before going on");
    // Esc closes the dialog only: it does not also reach the wizard's Cancel.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().search.confirming, "Esc closes the dialog");
    assert!(
        !h.state().confirming_cancel,
        "and does not ask to cancel the wizard"
    );
    assert_eq!(h.state().step, Step::Search);
    click(&mut h, "Next");
    assert!(h.state().search.confirming);
    click(&mut h, "Confirm");

    // Step 5: the engine's real plan.
    assert_eq!(h.state().step, Step::Preview);
    settle(&mut h);
    let plan = h.state().preview.plan.done().cloned().expect("a plan");
    assert!(
        plan.summary.create + plan.summary.link > 0,
        "{:?}",
        plan.summary
    );
    assert!(plan.blocked.is_none());
    click(&mut h, "Next");

    // Step 6: write, store, first sync.
    assert_eq!(h.state().step, Step::Finish);
    assert!(shown(&h, "No OS keyring is used here"));
    click(&mut h, "Finish");
    settle(&mut h);
    let report = h.state().finish.report.done().cloned().expect("finished");
    assert!(report.saved, "{:?}", report.lines);
    let Some(super::steps::finish::FirstSync::Applied { summary, failed }) =
        report.first_sync.clone()
    else {
        panic!("first sync did not apply: {:?}", report.first_sync)
    };
    assert_eq!(failed, 0);
    assert_eq!(summary.create, plan.summary.create);
    assert!(shown(&h, "The configuration is saved"));
    assert!(shown(&h, "First sync:"));

    // The config as `adsync` reads it.
    let path = h.state().config_path.clone();
    assert!(path.starts_with(tmp.path()));
    let file = config::load(&path).expect("the written config loads");
    assert_eq!(file.target.url, scim_url);
    assert_eq!(file.pairs.len(), 1);
    assert_eq!(file.pairs[0].target_group_name.as_deref(), Some("Tier 1"));
    let Some(SecretRef::File(pw)) = &file.policy.default_password else {
        panic!(
            "default password not stored as a file: {:?}",
            file.policy.default_password
        )
    };
    assert_eq!(std::fs::read_to_string(pw).unwrap(), DEFAULT_PASSWORD);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(DEFAULT_PASSWORD), "no secret in the config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(pw).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // The first sync's result in the simulated application: the created users exist, in Tier 1,
    // with the default password.
    let demo = h.state().demo.as_ref().unwrap();
    let tier1 = demo.scim.member_ids("hd-g-tier1");
    let created: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.kind == crate::sync::ActionKind::Create)
        .collect();
    assert!(!created.is_empty());
    for action in &created {
        let user = demo
            .scim
            .user_by_name(&action.user_principal_name)
            .unwrap_or_else(|| panic!("{} was not created", action.user_principal_name));
        let id = user["id"].as_str().unwrap();
        assert!(tier1.iter().any(|m| m == id), "{id} not in Tier 1");
        assert_eq!(demo.scim.password_of(id).as_deref(), Some(DEFAULT_PASSWORD));
    }

    click(&mut h, "Close");
    assert_eq!(h.state().outcome, Some(Outcome::Finished));
}

fn new_wizard(dir: &Path, runtime: &tokio::runtime::Runtime) -> Wizard {
    Wizard::new(
        WizardOptions {
            config_path: Some(dir.join("config.toml")),
            ..Default::default()
        },
        runtime.handle().clone(),
    )
}

#[test]
fn wizard_credentials_validation_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(new_wizard(tmp.path(), &rt));
    assert!(h.state().validate_current().is_err());
    // An untouched empty form is not red: the first missing field is named beside Next only.
    assert_eq!(
        h.query_all_by_label_contains("Enter the application's SCIM base URL")
            .count(),
        1
    );
    assert!(
        h.query_by_label_contains("SCIM URL: Enter the application's SCIM base URL")
            .is_some()
    );

    type_into(&mut h, "SCIM URL", "ftp://app.example.com/scim");
    assert!(shown(&h, "uses the scheme `ftp`; use https"));
    // Beside the field, and (as the first problem) beside Next, named by field.
    assert_eq!(
        h.query_all_by_label_contains("uses the scheme `ftp`")
            .count(),
        2
    );
    assert!(h.query_by_label_contains("SCIM URL: `ftp://").is_some());
    replace_in(&mut h, "SCIM URL", "http://app.example.com/scim/v2");
    assert!(shown(
        &h,
        "uses plain http to a host other than this machine"
    ));
    replace_in(&mut h, "SCIM URL", "https://app.example.com/scim/v2");
    assert!(!shown(&h, "use https"));

    type_into(&mut h, "Administrator email", "not-an-email");
    assert!(shown(&h, "`not-an-email` is not an email address"));
    replace_in(&mut h, "Administrator email", "admin@example.com");

    type_into(&mut h, "Default password for new users", "one");
    type_into(&mut h, "Default password again", "two");
    assert!(shown(&h, "The two default passwords differ"));
    replace_in(&mut h, "Default password again", "one");

    // The token is still missing: Next says so, naming the field.
    let why = h.state().validate_current().unwrap_err();
    assert!(why.starts_with("Token:"), "{why}");
    assert!(
        h.query_by_label(&why).is_some(),
        "the reason is shown beside Next"
    );
    type_into(&mut h, "Token", "tok-123");
    assert!(h.state().validate_current().is_ok());

    // Basic authentication asks for a username and password instead.
    click(&mut h, "Username and password");
    let why = h.state().validate_current().unwrap_err();
    assert!(why.starts_with("Username:"), "{why}");
}

#[test]
fn wizard_azure_validation_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut wizard = new_wizard(tmp.path(), &rt);
    wizard.step = Step::AzureApp;
    let mut h = harness(wizard);

    type_into(&mut h, "Tenant", "not a tenant");
    assert!(shown(&h, "is neither a tenant GUID nor a domain"));
    replace_in(&mut h, "Tenant", "contoso.onmicrosoft.com");
    type_into(&mut h, "Client ID", "1234");
    assert!(shown(&h, "`1234` is not a GUID"));
    replace_in(&mut h, "Client ID", "11111111-2222-3333-4444-555555555555");
    assert!(
        h.state()
            .validate_current()
            .unwrap_err()
            .starts_with("Client secret:")
    );

    click(&mut h, "Certificate");
    type_into(&mut h, "Certificate PEM", "relative.pem");
    assert!(shown(&h, "is not an absolute path"));
    let missing = tmp.path().join("missing.pem");
    replace_in(&mut h, "Certificate PEM", &missing.display().to_string());
    assert!(shown(&h, "Cannot read"));

    // The file dialog cannot open on a headless machine: that counts as cancelled.
    click(&mut h, "Choose PEM…");
    settle(&mut h);
    assert!(shown(&h, "No file was chosen"));
}

#[test]
fn wizard_generated_certificate_is_private_and_signs_in_format() {
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("entra-certificate.pem");
    let generated = super::steps::azure::generate_certificate(&pem, "adsync test").unwrap();
    let credential = crate::entra::CertificateCredential::from_file(&pem).unwrap();
    assert_eq!(credential.thumbprint(), generated.thumbprint);
    let cer = std::fs::read(&generated.cer).unwrap();
    assert_eq!(crate::entra::thumbprint_hex(&cer), generated.thumbprint);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is owner-only");
    }
    let text = std::fs::read_to_string(&pem).unwrap();
    assert!(text.contains("-----BEGIN CERTIFICATE-----"));
    assert!(text.contains("-----BEGIN PRIVATE KEY-----"));
}

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

const EXISTING: &str = r#"version = 1

[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "keyring:adsync/entra-client-secret"

[target]
url = "https://app.example.com/scim/v2"
token = "file:/etc/adsync/target-token"
admin_email = "admin@example.com"

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
entra_group_name = "Support"
target_group_id = "a81c"
target_group_name = "Tier 1"
order = 1
nested = false

[[scope]]
attribute = "department"
operator = "contains"
value = "support"

[policy]
max_disables = 7

[service]
interval_secs = 30
"#;

#[test]
fn wizard_edits_an_existing_config_and_keeps_stored_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, EXISTING).unwrap();
    // A stand-in for `adsync` records how the wizard asks it to install the service.
    let calls = tmp.path().join("calls");
    let fake = tmp.path().join("adsync");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\necho installed\n",
            calls.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let wizard = Wizard::new(
        WizardOptions {
            config_path: Some(path.clone()),
            adsync_exe: Some(fake),
            ..Default::default()
        },
        rt.handle().clone(),
    );
    let mut h = harness(wizard);
    assert_eq!(
        h.get_by_label("SCIM URL").value().as_deref(),
        Some("https://app.example.com/scim/v2")
    );
    assert!(shown(&h, "stored (unchanged)"));
    assert!(
        h.state().validate_current().is_ok(),
        "a stored token counts"
    );
    assert_eq!(h.state().pairing.pairs.len(), 1);
    assert_eq!(h.state().search.term, "support");
    assert!(!h.state().has_unsaved_changes());

    replace_in(&mut h, "Administrator email", "it@example.com");
    assert!(h.state().has_unsaved_changes());
    // Straight to Finish (steps 3-5 need the network; their data stays as loaded).
    h.state_mut().step = Step::Finish;
    h.run_steps(2);
    click(&mut h, "Run the first sync now");
    assert!(!h.state().finish.first_sync);
    assert!(
        h.state().finish.install_service,
        "offered and on by default outside the demo"
    );
    click(&mut h, "Finish");
    settle(&mut h);
    let report = h.state().finish.report.done().cloned().unwrap();
    assert!(report.saved, "{:?}", report.lines);
    assert!(
        report
            .lines
            .iter()
            .any(|l| l.name == "background service" && l.ok)
    );

    let file = config::load(&path).unwrap();
    assert_eq!(file.target.admin_email.as_deref(), Some("it@example.com"));
    assert_eq!(
        file.target
            .token
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("file:/etc/adsync/target-token"),
        "an untouched secret keeps its reference"
    );
    assert_eq!(
        file.entra
            .client_secret
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("keyring:adsync/entra-client-secret")
    );
    assert_eq!(
        file.pairs[0].entra_group_id,
        "6f1d0000-0000-0000-0000-000000000001"
    );
    assert!(!file.pairs[0].nested);
    assert_eq!(file.scope.len(), 1);
    assert_eq!(
        file.policy.max_disables, 7,
        "keys the wizard does not show are kept"
    );
    assert_eq!(file.service.interval_secs, 30);

    let calls = std::fs::read_to_string(calls).unwrap();
    assert!(calls.starts_with("service install --now --"), "{calls}");
    assert!(
        calls
            .trim_end()
            .ends_with(&format!("--config {}", path.display())),
        "{calls}"
    );
    assert!(!h.state().has_unsaved_changes());
    click(&mut h, "Close");
    assert_eq!(h.state().outcome, Some(Outcome::Finished));
}
