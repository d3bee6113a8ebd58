//! Config parsing: one small fixture per rule, asserting the key, line and words a person sees.

use super::*;
use crate::secret::SecretRef;

const GOOD: &str = r#"version = 1

[entra]
cloud = "usgov-l4"
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "keyring:adsync/entra-client-secret"

[target]
url = "https://app.example.com/scim/v2/"
token = "env:ADSYNC_TARGET_TOKEN"
admin_email = "admin@example.com"

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000002"
target_group_id = "tier-2"
order = 2

[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
entra_group_name = "Support"
target_group_id = "tier-1"
target_group_name = "Tier 1"
order = 1
nested = false

[[scope]]
attribute = "department"
operator = "contains"
value = "support"

[policy]
group_mode = "all"
username = "upn-local-part"
default_password = "file:/etc/adsync/default-password"
include_guests = false
max_disables = 10
max_disable_percent = 5

[service]
interval_secs = 30
full_sync_hours = 12
dry_run = true
state_path = "/var/lib/adsync/state.sqlite3"
"#;

/// Replaces the first occurrence of `from` in the good file, and parses the result.
fn problems_after(from: &str, to: &str) -> Vec<ConfigProblem> {
    assert!(GOOD.contains(from), "fixture does not contain {from:?}");
    let text = GOOD.replacen(from, to, 1);
    parse_str(&text).expect_err("the edited file must be invalid")
}

fn one_problem(from: &str, to: &str) -> ConfigProblem {
    let mut problems = problems_after(from, to);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.remove(0)
}

#[test]
fn good_file_parses_with_every_value() {
    let file = parse_str(GOOD).unwrap();
    assert_eq!(file.entra.cloud, Cloud::UsGovL4);
    assert_eq!(
        file.entra.client_secret,
        Some("keyring:adsync/entra-client-secret".parse().unwrap())
    );
    assert_eq!(file.pairs.len(), 2);
    assert!(file.pairs[0].nested, "nested defaults to true");
    assert!(!file.pairs[1].nested);
    assert_eq!(file.policy.group_mode, GroupMode::All);
    assert_eq!(file.policy.username, UsernamePolicy::UpnLocalPart);
    assert!(!file.policy.include_guests);
    assert_eq!(file.service.interval_secs, 30);

    let settings = Settings::from_file(&file);
    assert_eq!(settings.pairs[0].order, 1, "pairs are sorted by precedence");
    assert_eq!(
        settings.target.url.as_str(),
        "https://app.example.com/scim/v2"
    );
    assert_eq!(
        settings.entra.graph_url.as_str(),
        "https://graph.microsoft.us/"
    );
    assert_eq!(
        settings.entra.graph_scope,
        "https://graph.microsoft.us/.default"
    );
    assert_eq!(
        settings.entra.authority_url.as_str(),
        "https://login.microsoftonline.us/"
    );
    assert_eq!(
        settings.service.interval,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(settings.secret_refs().len(), 3);
}

#[test]
fn minimal_file_gets_the_documented_defaults() {
    let text = r#"version = 1
[entra]
tenant = "11111111-2222-3333-4444-555555555555"
client_id = "11111111-2222-3333-4444-555555555555"
certificate = "/etc/adsync/entra.pem"
[target]
url = "http://127.0.0.1:8080/scim"
token = "keyring:adsync/t"
"#;
    let file = parse_str(text).unwrap();
    assert_eq!(file.entra.cloud, Cloud::Global);
    assert_eq!(file.target.auth, TargetAuthKind::Bearer);
    assert_eq!(file.policy, PolicySection::default());
    assert_eq!(file.policy.max_disables, 100);
    assert_eq!(file.policy.max_disable_percent, 20);
    assert!(file.policy.include_guests);
    assert_eq!(file.service.interval_secs, 60);
    assert_eq!(file.service.full_sync_hours, 24);
    let settings = Settings::from_file(&file);
    assert!(matches!(
        settings.entra.credential,
        EntraCredential::Certificate(_)
    ));
    assert!(settings.require_pairs().is_err());
}

#[test]
fn bad_toml_names_the_line() {
    let problems = problems_after("[target]", "[target");
    assert_eq!(problems[0].key, "(syntax)");
    assert_eq!(problems[0].line, 9);
    assert!(
        problems[0].message.contains("not valid TOML"),
        "{problems:?}"
    );
}

#[test]
fn unknown_keys_are_named_with_what_is_allowed() {
    let p = one_problem("dry_run = true", "dry_run = true\ndryrun = false");
    assert_eq!(p.key, "service.dryrun");
    assert_eq!(p.line, 44);
    assert!(p.message.contains("unknown key"));
    assert!(
        p.message.contains("dry_run"),
        "lists the known keys: {}",
        p.message
    );

    let p = one_problem("version = 1", "version = 1\ncolour = \"blue\"");
    assert_eq!((p.key.as_str(), p.line), ("colour", 2));

    let p = one_problem("order = 2", "order = 2\nprecedence = 3");
    assert_eq!(p.key, "pairs[1].precedence");
}

#[test]
fn wrong_types_say_what_was_expected() {
    let p = one_problem("interval_secs = 30", "interval_secs = \"30\"");
    assert_eq!((p.key.as_str(), p.line), ("service.interval_secs", 41));
    assert!(
        p.message.contains("expected an integer from 5"),
        "{}",
        p.message
    );
    assert!(p.message.contains("found a string"), "{}", p.message);

    let p = one_problem("nested = false", "nested = \"no\"");
    assert_eq!(p.key, "pairs[2].nested");
    assert!(p.message.contains("true or false"));

    let cut = GOOD.find("[service]").unwrap();
    let text = GOOD[..cut].replacen("version = 1", "version = 1\nservice = \"fast\"", 1);
    let problems = parse_str(&text).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!((problems[0].key.as_str(), problems[0].line), ("service", 2));
    assert!(problems[0].message.contains("expected a table `[service]`"));
}

#[test]
fn bad_guid_and_tenant() {
    let p = one_problem(
        "client_id = \"11111111-2222-3333-4444-555555555555\"",
        "client_id = \"1111-2222\"",
    );
    assert_eq!((p.key.as_str(), p.line), ("entra.client_id", 6));
    assert!(p.message.contains("not a GUID"), "{}", p.message);
    assert!(
        p.message.contains("Overview"),
        "says where to find it: {}",
        p.message
    );

    let p = one_problem("contoso.onmicrosoft.com", "contoso");
    assert_eq!(p.key, "entra.tenant");

    let p = one_problem("6f1d0000-0000-0000-0000-000000000002", "Support");
    assert_eq!(p.key, "pairs[1].entra_group_id");
    assert!(p.message.contains("adsync entra groups"), "{}", p.message);
}

#[test]
fn plain_http_only_to_loopback() {
    let p = one_problem(
        "https://app.example.com/scim/v2/",
        "http://app.example.com/scim/v2/",
    );
    assert_eq!((p.key.as_str(), p.line), ("target.url", 10));
    assert!(p.message.contains("use https"), "{}", p.message);
    assert!(
        parse_str(&GOOD.replace(
            "https://app.example.com/scim/v2/",
            "http://127.0.0.1:9000/scim"
        ))
        .is_ok()
    );
    let p = one_problem(
        "[target]",
        "graph_url = \"http://graph.example.com\"\n\n[target]",
    );
    assert_eq!(p.key, "entra.graph_url");
}

#[test]
fn literal_secrets_are_rejected_without_echoing_them() {
    let secret = "Qx8~realLookingSecretValue.123";
    let p = one_problem("keyring:adsync/entra-client-secret", secret);
    assert_eq!((p.key.as_str(), p.line), ("entra.client_secret", 7));
    assert!(p.message.contains("adsync secret set"), "{}", p.message);
    assert!(
        !p.to_string().contains(secret),
        "the secret was echoed: {p}"
    );

    let p = one_problem("env:ADSYNC_TARGET_TOKEN", "token-in-clear");
    assert_eq!(p.key, "target.token");
    assert!(!p.to_string().contains("token-in-clear"));

    let p = one_problem("file:/etc/adsync/default-password", "keyring:nope");
    assert_eq!(p.key, "policy.default_password");
    assert!(p.message.contains("keyring:SERVICE/ACCOUNT"));
}

#[test]
fn equal_pair_orders_are_accepted() {
    // R1: pairs may share an order; the older Entra group wins the tie at plan time.
    let text = GOOD.replacen("order = 2", "order = 1", 1);
    let file = parse_str(&text).expect("two pairs at order 1 must validate");
    assert_eq!(file.pairs[0].order, file.pairs[1].order);
}

#[test]
fn duplicate_entra_group_names_the_first_line() {
    let p = one_problem(
        "6f1d0000-0000-0000-0000-000000000002",
        "6F1D0000-0000-0000-0000-000000000001",
    );
    assert_eq!(p.key, "pairs[2].entra_group_id");
    assert!(
        p.message.contains("already paired on line 15"),
        "{}",
        p.message
    );
}

#[test]
fn semantic_rules() {
    let p = one_problem("max_disable_percent = 5", "max_disable_percent = 0");
    assert_eq!(p.key, "policy.max_disable_percent");
    let p = one_problem("max_disables = 10", "max_disables = -1");
    assert_eq!(p.key, "policy.max_disables");
    let p = one_problem("interval_secs = 30", "interval_secs = 4");
    assert!(p.message.contains("4 is out of range"));
    let p = one_problem("group_mode = \"all\"", "group_mode = \"every\"");
    assert!(p.message.contains("single, all"), "{}", p.message);
    let p = one_problem("operator = \"contains\"", "operator = \"like\"");
    assert_eq!(p.key, "scope[1].operator");
    let p = one_problem("attribute = \"department\"", "attribute = \"manager\"");
    assert_eq!(p.key, "scope[1].attribute");
    let p = one_problem("version = 1", "version = 2");
    assert!(p.message.contains("version = 1"));
}

#[test]
fn credentials_must_match_the_auth_kind() {
    let p = one_problem("client_secret = \"keyring:adsync/entra-client-secret\"", "");
    assert_eq!(p.key, "entra.client_secret");
    assert!(p.message.contains("certificate"));
    let p = one_problem(
        "client_secret = \"keyring:adsync/entra-client-secret\"",
        "client_secret = \"keyring:adsync/entra-client-secret\"\ncertificate = \"/x.pem\"",
    );
    assert!(p.message.contains("not both"));
    let problems = problems_after("token = \"env:ADSYNC_TARGET_TOKEN\"", "auth = \"basic\"");
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["target.username", "target.password"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("contoso.onmicrosoft.com", "contoso")
        .replace("interval_secs = 30", "interval_secs = 1")
        .replace(
            "6f1d0000-0000-0000-0000-000000000002",
            "6f1d0000-0000-0000-0000-000000000001",
        )
        .replace("dry_run = true", "dry_run = true\nextra = 1");
    let problems = parse_str(&text).unwrap_err();
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "entra.tenant",
            "pairs[2].entra_group_id",
            "service.interval_secs",
            "service.extra"
        ]
    );
    let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "sorted by line: {lines:?}"
    );
}

#[test]
fn save_then_load_gives_back_the_same_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adsync/config.toml");
    let file = parse_str(GOOD).unwrap();
    save(&path, &file).unwrap();
    let loaded = load(&path).unwrap();
    assert_eq!(loaded, file);
    assert_eq!(Settings::from_file(&loaded), Settings::from_file(&file));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // What was written holds references, never values.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("keyring:adsync/entra-client-secret"));
}

#[test]
fn template_validates_once_filled_in() {
    let problems = parse_str(TEMPLATE).unwrap_err();
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["entra.tenant", "entra.client_id", "target.url"]);
    assert!(
        problems.iter().all(|p| p.message.contains("REPLACE-ME")),
        "{problems:#?}"
    );
    let filled = TEMPLATE
        .replace(
            "tenant = \"REPLACE-ME\"",
            "tenant = \"contoso.onmicrosoft.com\"",
        )
        .replace(
            "client_id = \"REPLACE-ME\"",
            "client_id = \"11111111-2222-3333-4444-555555555555\"",
        )
        .replace(
            "url = \"REPLACE-ME\"",
            "url = \"https://app.example.com/scim/v2\"",
        );
    let file = parse_str(&filled).unwrap();
    assert_eq!(file.policy, PolicySection::default());
    assert_eq!(file.service, ServiceSection::default());
    let _: SecretRef = "keyring:adsync/target-token".parse().unwrap();
}

#[test]
fn alert_webhook_is_a_secret_reference_never_echoed() {
    let text = GOOD.replacen(
        "dry_run = true",
        "dry_run = true\nalert_webhook = \"keyring:adsync/alert-webhook\"",
        1,
    );
    let settings = Settings::from_file(&parse_str(&text).unwrap());
    assert_eq!(
        settings.service.alert_webhook,
        Some("keyring:adsync/alert-webhook".parse::<SecretRef>().unwrap())
    );
    assert!(
        settings
            .secret_refs()
            .iter()
            .any(|(key, _)| *key == "service.alert_webhook"),
        "resolved by `adsync check` and handed to the system service like the others"
    );

    // The URL itself, pasted in: refused at its key and line, and not repeated.
    let hook = "https://example.webhook.office.com/webhookb2/T0KEN9f8e7d";
    let p = one_problem(
        "dry_run = true",
        &format!("dry_run = true\nalert_webhook = \"{hook}\""),
    );
    assert_eq!((p.key.as_str(), p.line), ("service.alert_webhook", 44));
    assert!(p.message.contains("keyring:"), "{}", p.message);
    assert!(!p.message.contains("T0KEN9f8e7d"), "{}", p.message);
}
