//! A state store that fails under a run, through the binary: `sync --format json` still prints
//! its document (SPEC §4) when apply cannot record the run.

use super::*;

#[test]
fn sync_json_prints_its_document_when_the_state_store_fails_during_apply() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let someone = w.members(&w.tier1)[0].clone();
    w.entra
        .update_user(&someone, json!({"jobTitle": "Shift Lead"}));

    // The store reads and plans as usual, then fails at apply's first write (as a full disk or
    // an I/O error would): a trigger refuses recording a new run.
    let store = rusqlite::Connection::open(w.env.path("state.sqlite3")).unwrap();
    store
        .execute_batch(
            "CREATE TRIGGER refuse_runs BEFORE INSERT ON runs \
             BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
        )
        .unwrap();
    drop(store);
    let run = w.run(&["sync", "--format", "json"]);

    assert_eq!(run.code, 1, "{}", run.all());
    let document: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("no JSON document ({e}):\n{}", run.all()));
    assert_eq!(document["dry_run"], false, "{document:#}");
    let update = action(&document, &someone);
    assert_eq!(update["kind"], "update", "{update:#}");
    assert_eq!(update["result"]["status"], "failed", "{update:#}");
    let why = update["result"]["error"].as_str().unwrap();
    assert!(why.contains("the state store failed"), "{why}");
    assert!(why.contains("simulated write failure"), "{why}");
    assert!(
        run.stderr.contains("what it applied is not recorded"),
        "{}",
        run.stderr
    );
    // Nothing was written: the run could not be recorded, so apply never began.
    assert!(
        !w.scim.users().iter().any(|u| u["title"] == "Shift Lead"),
        "the update was sent"
    );
}
