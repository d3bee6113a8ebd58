//! The whole wizard end to end: the `--demo` flow from credentials to the first sync, and
//! editing an existing config.

use egui_kittest::kittest::Queryable;

use super::*;

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
    let test = h
        .state()
        .credentials
        .test
        .done()
        .cloned()
        .unwrap_or_else(|| panic!("{:?}", h.state().credentials.test));
    // Every check passed, and the application's groups were counted and shown.
    assert!(test.view.ok, "{test:?}");
    assert!(!test.view.details.contains("FAILED"), "{test:?}");
    assert!(test.view.details.contains("target groups: ok"), "{test:?}");
    assert!(test.view.message.contains(" groups."), "{test:?}");
    assert!(h.query_by_label_contains(&test.view.message).is_some());
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
    let lines = h
        .state()
        .azure
        .test
        .done()
        .cloned()
        .expect("test finished")
        .lines;
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
    // N is counted from the plan, computed now.
    settle(&mut h);
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
    settle(&mut h);
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
    // The logs folder does not exist yet, and step 6 says so rather than naming it as if it did.
    assert!(shown(&h, "(not there yet; folder created by Finish)"));
    click(&mut h, "Finish");
    settle(&mut h);
    let report = h.state().finish.report.done().cloned().expect("finished");
    assert!(report.saved, "{:?}", report.lines);
    let Some(crate::wizard::steps::finish::FirstSync::Applied { summary, failed }) =
        report.first_sync.clone()
    else {
        panic!("first sync did not apply: {:?}", report.first_sync)
    };
    assert_eq!(failed, 0);
    assert_eq!(summary.create, plan.summary.create);
    assert!(shown(&h, "The configuration is saved"));
    assert!(shown(&h, "First sync:"));
    // A clear success line, the logs folder made, and what to do next with the CLI's words.
    assert!(shown(
        &h,
        "The configuration is saved and the first sync is done: adsync is set up."
    ));
    assert!(report.log_dir.is_dir(), "{:?}", report.log_dir);
    assert!(!shown(&h, "(not there yet; folder created by Finish)"));
    let config_arg = format!(" --config {}", h.state().config_path.display());
    for command in ["adsync plan", "adsync sync", "adsync history"] {
        assert!(
            shown(&h, &format!("{command}{config_arg}")),
            "next steps lack {command}"
        );
    }

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

pub(super) const EXISTING: &str = r#"version = 1

[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "keyring:adsync/entra-client-secret"

[target]
url = "https://app.example.com/scim/v2"
token = "file:/etc/adsync/target-token"
admin_email = "admin@example.com"
max_concurrency = 4

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
    // Finish creates the logs folder: one under the test's directory, not the home's default.
    let logs = tmp.path().join("logs");
    let existing = EXISTING.replace(
        "interval_secs = 30",
        &format!("interval_secs = 30\nlog_dir = \"{}\"", logs.display()),
    );
    std::fs::write(&path, existing).unwrap();
    // A stand-in for `systemctl` records how the wizard's in-process install calls it; the
    // unit goes to a directory of the test's own.
    let calls = tmp.path().join("calls");
    let fake = tmp.path().join("systemctl");
    let units = tmp.path().join("units");
    let adsync = tmp.path().join("bin/adsync");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
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
            adsync_exe: Some(adsync.clone()),
            service: crate::service::Overrides {
                scope: Some(crate::service::Scope::User),
                unit_dir: Some(units.clone()),
                systemctl: Some(fake),
            },
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
    assert_eq!(h.state().search.criteria[0].value, "support");
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
    assert!(logs.is_dir(), "the logs folder was created");
    // The service is installed: the next step is to see how it is doing.
    assert!(shown(&h, "adsync service status --config"));
    assert!(!shown(&h, "adsync service install --now --config"));

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
    assert_eq!(
        file.target.max_concurrency,
        Some(4),
        "an administrator's ceiling on the target's requests is kept"
    );

    let calls = std::fs::read_to_string(calls).unwrap();
    assert_eq!(
        calls, "--user daemon-reload\n--user enable --now adsync.service\n",
        "installed and started now"
    );
    let unit = std::fs::read_to_string(units.join("adsync.service")).unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} run --config {}\n",
            adsync.display(),
            path.display()
        )),
        "the service runs adsync with this config: {unit}"
    );
    assert!(!h.state().has_unsaved_changes());
    click(&mut h, "Close");
    assert_eq!(h.state().outcome, Some(Outcome::Finished));
}

#[test]
fn wizard_confirmation_counts_the_users_the_plan_acts_on() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_at(tmp.path(), &rt, Step::Search));
    settle(&mut h);
    let (matches, groups) = h.state_mut().search.counts().expect("members read");
    let disabled_matches = {
        let wizard = h.state_mut();
        let ids = wizard.search.matching_ids().to_vec();
        let source = wizard.search.source.done().unwrap();
        ids.iter()
            .filter(|id| !source.users[*id].account_enabled)
            .count()
    };
    assert!(
        disabled_matches > 0,
        "the demo's paired groups hold disabled users, which the count must leave out"
    );

    click(&mut h, "Next");
    settle(&mut h);
    let plan = h.state().preview.plan.done().cloned().expect("a plan");
    let n = crate::wizard::steps::preview::effects::acted_on(&plan);
    assert!(n > 0 && n < matches, "{n} acted on of {matches} matching");
    let question = format!("Synchronize {n} users from {groups} groups?");
    assert!(shown(&h, &question), "the dialog does not ask {question:?}");
    assert!(!shown(&h, &format!("Synchronize {matches} users")));

    // Confirming opens the preview of that very plan, without planning again.
    click(&mut h, "Confirm");
    assert_eq!(h.state().step, Step::Preview);
    assert_eq!(h.state().preview.plan.done(), Some(&plan));
}

/// The shortest path through the demo, from the first window to the first sync, counted in
/// clicks: SPEC §5 allows at most 13 interactions.
#[test]
fn wizard_shortest_demo_path_to_the_first_sync_takes_at_most_13_interactions() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let mut h = harness(demo_wizard(tmp.path(), &rt));
    settle(&mut h);
    let mut clicks = Vec::new();
    let mut press = |h: &mut Harness<'_, Wizard>, label: &str| {
        click(h, label);
        settle(h);
        clicks.push(label.to_owned());
    };
    press(&mut h, "Next"); // step 1, pre-filled by the demo
    press(&mut h, "Next"); // step 2, pre-filled by the demo
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
    assert!(
        matches!(
            report.first_sync,
            Some(crate::wizard::steps::finish::FirstSync::Applied { failed: 0, .. })
        ),
        "{:?}",
        report.first_sync
    );
    // Starting the program is one more interaction.
    let interactions = 1 + clicks.len();
    assert!(
        interactions <= 13,
        "{interactions} interactions: {clicks:?}"
    );
    println!("launch + {} clicks: {clicks:?}", clicks.len());
}
