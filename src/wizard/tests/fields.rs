//! Steps 1 and 2: validation messages beside each field, and certificate generation.

use egui_kittest::kittest::Queryable;

use super::*;
use crate::wizard::steps::credentials::CredentialsField;

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

    // The file dialog cannot open on a headless machine: the wizard says so (not "cancelled")
    // and points to the field.
    click(&mut h, "Choose PEM…");
    settle(&mut h);
    assert!(shown(&h, "The file dialog could not open"));
    assert!(shown(
        &h,
        "Type the PEM's full path in Certificate PEM instead"
    ));
    assert!(!shown(&h, "No file was chosen"));
}

#[test]
fn wizard_generated_certificate_is_private_and_signs_in_format() {
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("entra-certificate.pem");
    let generated = crate::wizard::steps::azure::generate_certificate(&pem, "adsync test").unwrap();
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
fn test_connection_to_a_refused_port_reports_within_two_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(new_wizard(tmp.path(), &rt));
    h.run_steps(2);
    // A loopback port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    h.state_mut().credentials.url = format!("http://127.0.0.1:{port}/scim/v2");
    h.state_mut().credentials.token.typed = "not-a-real-token".into();
    let started = Instant::now();
    h.state_mut()
        .run_credentials(crate::wizard::steps::credentials::CredentialsCommand::TestConnection);
    while h.state().credentials.test.is_pending() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "Test connection still running after {:?}",
            started.elapsed()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let test = match &h.state().credentials.test {
        crate::wizard::jobs::Task::Done(test) => test.clone(),
        other => panic!("{other:?}"),
    };
    assert!(!test.view.ok, "{test:?}");
    // In the screen's words, naming the field; the transport's own text only behind Details.
    assert!(
        test.view
            .message
            .starts_with("The application cannot be reached at the SCIM URL: nothing accepts"),
        "{test:?}"
    );
    assert!(!test.view.message.contains("[target]"), "{test:?}");
    assert!(!test.view.message.contains("tcp connect"), "{test:?}");
    assert!(test.view.details.contains("cannot reach"), "{test:?}");
    assert_eq!(test.field, Some(CredentialsField::Url));
}

#[test]
fn a_test_connection_that_hangs_can_be_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(new_wizard(tmp.path(), &rt));
    h.run_steps(2);
    // A server that accepts the connection and never answers: the test would wait for the
    // request timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        open
    });
    h.state_mut().credentials.url = format!("http://127.0.0.1:{port}/scim/v2");
    h.state_mut().credentials.token.typed = "not-a-real-token".into();
    click(&mut h, "Test connection");
    h.run_steps(4);
    assert!(
        h.state().credentials.test.is_pending(),
        "the server holds it"
    );
    assert!(shown(&h, "Asking the application"));
    let started = Instant::now();
    click(&mut h, "Stop");
    while h.state().credentials.test.is_pending() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still waiting after Stop"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
    let test = match &h.state().credentials.test {
        crate::wizard::jobs::Task::Done(test) => test.clone(),
        other => panic!("{other:?}"),
    };
    assert!(!test.view.ok);
    assert!(
        test.view
            .message
            .starts_with("Stopped before the application answered"),
        "{test:?}"
    );
    assert_eq!(test.field, Some(CredentialsField::Url));
    assert!(!shown(&h, "Asking the application"));
    // The job is gone, not just hidden: nothing is left running.
    while h.state().jobs_running() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the stopped job still runs"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(held);
}

/// The wizard's SCIM client (Test connection, the preview, the first sync) trusts the opened
/// config's `[target] ca_file` as the service does, and says so when it cannot be used.
#[test]
fn wizard_scim_client_uses_the_configs_ca_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut credentials = crate::wizard::steps::credentials::CredentialsStep::default();
    credentials.url = "https://127.0.0.1:9/scim/v2".into();
    credentials.token.typed = "a-token".into();
    let rt = runtime();
    let build =
        |ca: Option<&Path>| rt.block_on(crate::wizard::draft::scim_client(&credentials, ca));
    assert!(build(None).is_ok());
    let missing = tmp.path().join("missing.pem");
    let Err(error) = build(Some(&missing)) else {
        panic!("a missing CA file was accepted")
    };
    assert!(
        error.starts_with("[target] ca_file: cannot read"),
        "{error}"
    );
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let good = tmp.path().join("ca.pem");
    std::fs::write(&good, ca.pem()).unwrap();
    assert!(build(Some(&good)).is_ok());
}
