//! The wizard's first sync and `adsync sync` are one cycle: on two identical demo worlds they
//! record the same run in the history.

use super::*;
use crate::cycle::{Engine, Policy, Trigger, run_cycle};
use crate::sim::demo::Demo;
use crate::state::{RunRecord, StateStore};
use crate::wizard::steps::finish::{FirstSync, first_sync};

/// What a run recorded, without what differs between two worlds by construction: ids,
/// timestamps, the trigger and the ids the application assigns.
fn comparable(run: &RunRecord) -> serde_json::Value {
    let actions: Vec<serde_json::Value> = run
        .actions
        .iter()
        .map(|a| {
            serde_json::json!({
                "kind": a.kind,
                "entra_id": a.entra_id,
                "user": a.user_principal_name,
                "reason": a.reason,
                "changes": a.changes,
                "status": a.status,
                "error": a.error,
            })
        })
        .collect();
    serde_json::json!({
        "dry_run": run.dry_run,
        "outcome": run.outcome,
        "summary": run.summary,
        "error": run.error,
        "actions": actions,
    })
}

fn only_run(state_path: &Path) -> RunRecord {
    let mut runs = StateStore::open(state_path).unwrap().history(10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

#[test]
fn wizard_first_sync_and_adsync_sync_record_the_same_run() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let wizard_world = rt
        .block_on(Demo::start(&tmp.path().join("wizard")))
        .unwrap();
    let cli_world = rt.block_on(Demo::start(&tmp.path().join("cli"))).unwrap();

    // The wizard's path: what Finish runs on the settings it saved.
    let settings = config::Settings::from_file(&wizard_world.config);
    let wizard_state = settings.service.state_path.clone();
    let outcome = rt.block_on(first_sync(settings, Default::default(), Default::default()));
    assert!(
        matches!(outcome, FirstSync::Applied { failed: 0, .. }),
        "{outcome:?}"
    );

    // `adsync sync`'s path: the engine opened from the config file and the cycle it runs.
    let engine = Engine::open(&cli_world.config_path).unwrap();
    let cli_state = engine.settings.service.state_path.clone();
    rt.block_on(run_cycle(&engine, &Policy::new(Trigger::Sync), |_, _| {}))
        .unwrap();
    drop(engine);

    let wizard_run = only_run(&wizard_state);
    let cli_run = only_run(&cli_state);
    assert_eq!(wizard_run.trigger, "wizard");
    assert_eq!(cli_run.trigger, "sync");
    assert_eq!(wizard_run.outcome, "ok");
    // The demo world has work of several kinds; an empty run would compare equal trivially.
    let kinds: std::collections::BTreeSet<&str> =
        wizard_run.actions.iter().map(|a| a.kind.as_str()).collect();
    assert!(kinds.len() >= 2, "{kinds:?}");
    assert_eq!(comparable(&wizard_run), comparable(&cli_run));
    // Both applications ended with the same users in them.
    let user_names = |demo: &Demo| {
        let mut names: Vec<String> = demo
            .scim
            .users()
            .iter()
            .map(|u| u["userName"].as_str().unwrap_or_default().to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(user_names(&wizard_world), user_names(&cli_world));
}

/// One writer per state store (R13): the wizard's first sync on a store a service is writing to
/// stops before its first write, naming the process that holds it.
#[test]
fn wizard_first_sync_beside_a_running_writer_names_it_and_writes_nothing() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let world = rt.block_on(Demo::start(&tmp.path().join("w"))).unwrap();
    let settings = config::Settings::from_file(&world.config);
    let held = crate::state::WriterLock::acquire(&settings.service.state_path, "adsync run")
        .expect("the service's lock");
    let users_before = world.scim.users();
    let outcome = rt.block_on(first_sync(settings, Default::default(), Default::default()));
    let FirstSync::Failed(message) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(
        message.contains(&format!(
            "another adsync (pid {}, `adsync run`",
            std::process::id()
        )) && message.contains("stop it or wait"),
        "{message}"
    );
    assert_eq!(world.scim.users(), users_before, "nothing written");
    drop(held);
}
