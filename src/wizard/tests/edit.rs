//! Edit mode: every step reachable from the step indicator, a demo config reopened with its
//! pairs and live simulators, and a config that `--demo` must not replace.

use egui_kittest::kittest::Queryable;

use super::flow::EXISTING;
use super::*;
use crate::sim::demo::Demo;
use crate::wizard::jobs::Task;

/// The step indicator's label of `step`.
fn indicator(step: Step) -> String {
    format!("{}  {}", step.number(), step.title())
}

#[test]
fn wizard_steps_are_reachable_from_the_indicator_in_edit_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();

    // A new config: later steps wait for the earlier ones.
    let mut h = harness(new_wizard(tmp.path(), &rt));
    click(&mut h, &indicator(Step::Pairing));
    assert_eq!(h.state().step, Step::Credentials);
    assert!(!h.state().reachable(Step::Finish));

    // Editing: every step, in any order, straight from the indicator.
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, EXISTING).unwrap();
    let mut h = harness(Wizard::new(
        WizardOptions {
            config_path: Some(path),
            ..Default::default()
        },
        rt.handle().clone(),
    ));
    assert!(h.state().is_editing());
    for step in [
        Step::Finish,
        Step::Search,
        Step::Credentials,
        Step::Preview,
        Step::AzureApp,
        Step::Pairing,
        Step::Finish,
    ] {
        click(&mut h, &indicator(step));
        assert_eq!(h.state().step, step, "the indicator did not open {step:?}");
    }
    // Reached directly, Finish still checks the earlier steps, naming the one to fix.
    click(&mut h, &indicator(Step::Credentials));
    replace_in(&mut h, "SCIM URL", "ftp://nowhere");
    click(&mut h, &indicator(Step::Finish));
    let why = h.state().validate_current().unwrap_err();
    assert!(
        why.starts_with("Step 1 (Credentials and token): SCIM URL"),
        "{why}"
    );
}

/// A demo config with only the demo's second pair, whose simulators have stopped.
fn stale_demo_config(dir: &Path, rt: &tokio::runtime::Runtime) -> (std::path::PathBuf, String) {
    let old = rt.block_on(Demo::start(&dir.join("old"))).unwrap();
    let text = std::fs::read_to_string(&old.config_path).unwrap();
    let first = text.find("[[pairs]]").unwrap();
    let second = first + 1 + text[first + 1..].find("[[pairs]]").unwrap();
    let text = format!("{}{}", &text[..first], &text[second..]);
    let path = dir.join("kept.toml");
    std::fs::write(&path, &text).unwrap();
    let url = old.scim.url();
    drop(old);
    (path, url)
}

#[test]
fn wizard_demo_reopens_a_demo_config_with_its_pairs_and_live_simulators() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (path, old_url) = stale_demo_config(tmp.path(), &rt);
    let before = std::fs::read_to_string(&path).unwrap();
    let mut h = harness(Wizard::new(
        WizardOptions {
            config_path: Some(path.clone()),
            demo: true,
            demo_dir: Some(tmp.path().join("new")),
            ..Default::default()
        },
        rt.handle().clone(),
    ));
    settle(&mut h);
    assert!(h.state().demo.is_some(), "{:?}", h.state().demo_status);
    // The file's pairs, not the demo's two.
    let pairs: Vec<_> = h
        .state()
        .pairing
        .pairs
        .iter()
        .map(|p| (p.entra.name.clone(), p.target.name.clone()))
        .collect();
    assert_eq!(pairs, [("Support Tier 2".to_owned(), "Tier 2".to_owned())]);
    // The simulators were started again: the URL is theirs, and the wizard says so.
    let url = h.get_by_label("SCIM URL").value().unwrap_or_default();
    assert_eq!(url, h.state().demo.as_ref().unwrap().scim.url());
    assert_ne!(url, old_url);
    assert!(shown(
        &h,
        "simulated tenant and application were started again"
    ));
    assert!(!h.state().has_unsaved_changes(), "nothing changed yet");

    // Edit mode: the preview is one click away and computed against the live simulators.
    click(&mut h, &indicator(Step::Preview));
    settle(&mut h);
    assert_eq!(h.state().step, Step::Preview);
    assert!(
        h.state().preview.plan.done().is_some(),
        "{:?}",
        h.state().preview.plan
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "nothing is written before Finish"
    );
}

#[test]
fn wizard_demo_does_not_replace_a_real_config() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, EXISTING).unwrap();
    let mut h = harness(Wizard::new(
        WizardOptions {
            config_path: Some(path.clone()),
            demo: true,
            demo_dir: Some(tmp.path().join("demo")),
            ..Default::default()
        },
        rt.handle().clone(),
    ));
    settle(&mut h);
    assert!(h.state().demo.is_none());
    let Task::Failed(why) = &h.state().demo_status else {
        panic!("{:?}", h.state().demo_status)
    };
    assert!(why.contains("is not a demo config"), "{why}");
    assert!(shown(&h, "Open it without --demo to edit it"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), EXISTING);
}

#[test]
fn wizard_editing_a_demo_config_says_plainly_its_simulators_are_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (path, _) = stale_demo_config(tmp.path(), &rt);
    let h = harness(Wizard::new(
        WizardOptions {
            config_path: Some(path.clone()),
            ..Default::default()
        },
        rt.handle().clone(),
    ));
    let banner = h
        .state()
        .banner
        .clone()
        .expect("a note about the simulators");
    assert!(banner.contains("written by the demo"), "{banner}");
    assert!(
        banner.contains(&format!("adsync-setup --demo --config {}", path.display())),
        "{banner}"
    );
}

/// The wizard refuses, like every command, a config others could have edited: it says which
/// file and how to fix it, and starts empty rather than show what someone else wrote.
#[cfg(unix)]
#[test]
fn wizard_refuses_a_config_others_can_write_and_says_how_to_fix_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.toml");
    std::fs::write(&path, EXISTING).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let rt = runtime();
    let h = harness(Wizard::new(
        WizardOptions {
            config_path: Some(path.clone()),
            ..Default::default()
        },
        rt.handle().clone(),
    ));
    let banner = h
        .state()
        .banner
        .clone()
        .expect("a banner naming the problem");
    assert!(
        banner.contains("is writable by everyone (mode 666)"),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("chmod 600 {}", path.display())),
        "{banner}"
    );
}
