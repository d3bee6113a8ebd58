//! The state store against real SQLite files: links, runs, delta links, the source cache, and
//! schema migrations.

use super::*;
use crate::sync::{ActionKind, ActionResult, Execution, RunOutcome};

fn link(entra: &str, target: &str) -> Link {
    Link {
        entra_id: entra.into(),
        target_id: target.into(),
        group: Some("tier-1".into()),
        groups_added: BTreeSet::from(["tier-1".to_owned(), "tier-2".to_owned()]),
        values_hash: "abc".into(),
        disabled_by_adsync: false,
        roles_given: BTreeSet::from(["technician".to_owned()]),
        manual: None,
    }
}

#[test]
fn links_of_reads_only_the_named_users_links() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
    let mut plain = link("e3", "t3");
    plain.groups_added.clear();
    for l in [link("e1", "t1"), link("e2", "t2"), plain.clone()] {
        store.put_link(&l).unwrap();
    }
    let some = store.links_of(["e3", "e1", "nobody"]).unwrap();
    assert_eq!(some.keys().collect::<Vec<_>>(), ["e1", "e3"]);
    assert_eq!(some["e1"], link("e1", "t1"));
    assert_eq!(some["e3"], plain);
    let all = store.links().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all["e2"], link("e2", "t2"));
    assert_eq!(all["e3"], plain);
}

#[test]
fn links_survive_reopening_and_a_target_user_is_never_linked_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/adsync.sqlite3");
    {
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        store.put_link(&link("e1", "t1")).unwrap();
        store.put_link(&link("e2", "t2")).unwrap();
        let mut changed = link("e1", "t1");
        changed.disabled_by_adsync = true;
        changed.values_hash = "def".into();
        store.put_link(&changed).unwrap();
    }
    let store = StateStore::open(&path).unwrap();
    let links = store.links().unwrap();
    assert_eq!(links.len(), 2);
    assert!(links["e1"].disabled_by_adsync);
    assert_eq!(links["e1"].values_hash, "def");
    assert_eq!(links["e2"], link("e2", "t2"));
    // Re-pointing t2 at another Entra user drops the old link.
    store.put_link(&link("e3", "t2")).unwrap();
    let links = store.links().unwrap();
    assert!(!links.contains_key("e2"));
    assert_eq!(links["e3"].target_id, "t2");
    store.remove_link("e3").unwrap();
    assert_eq!(store.links().unwrap().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn refuses_a_store_from_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = StateStore::open(&path).err().unwrap();
    assert!(matches!(err, StateError::TooNew { found: 99, .. }));
    assert!(err.to_string().contains("upgrade adsync"));
}

#[test]
fn delta_links_and_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("s.sqlite3")).unwrap();
    assert_eq!(store.delta_link(DeltaStream::Users).unwrap(), None);
    store
        .set_delta_link(DeltaStream::Users, Some("https://x/delta?token=1"))
        .unwrap();
    store
        .set_delta_link(DeltaStream::Users, Some("https://x/delta?token=2"))
        .unwrap();
    assert_eq!(
        store.delta_link(DeltaStream::Users).unwrap().as_deref(),
        Some("https://x/delta?token=2")
    );
    store.set_delta_link(DeltaStream::Users, None).unwrap();
    assert_eq!(store.delta_link(DeltaStream::Users).unwrap(), None);
    store.set_cached("source", Some(b"{}")).unwrap();
    assert_eq!(store.cached("source").unwrap().as_deref(), Some(&b"{}"[..]));
}

#[test]
fn the_source_cache_round_trips_and_updates_only_touched_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.load_source_cache().unwrap(), None);
    let user = |id: &str| SourceUser {
        id: id.into(),
        user_principal_name: format!("{id}@contoso.example"),
        account_enabled: true,
        ..SourceUser::default()
    };
    let mut cache = SourceCache::default();
    cache.snapshot.groups.insert(
        "g1".into(),
        SourceGroup {
            id: "g1".into(),
            display_name: "G1".into(),
            created: Some("2020-01-01T00:00:00Z".into()),
            members: BTreeSet::from(["a".to_owned(), "b".to_owned()]),
        },
    );
    cache.snapshot.users.insert("a".into(), user("a"));
    cache.snapshot.users.insert("b".into(), user("b"));
    cache
        .snapshot
        .outside
        .insert("z".into(), Whereabouts::Exists(Box::new(user("z"))));
    cache
        .snapshot
        .outside
        .insert("y".into(), Whereabouts::Deleted);
    cache
        .nested
        .insert("g1".into(), BTreeSet::from(["g9".to_owned()]));
    cache.target.user_groups = true;
    cache
        .target
        .group_names
        .insert("t1".into(), "Tier 1".into());
    let links = |n: u32| DeltaLinks {
        users: format!("https://graph/users/delta?t={n}"),
        groups: format!("https://graph/groups/delta?t={n}"),
    };
    store.save_source_cache(&cache, &links(1)).unwrap();
    assert_eq!(store.load_source_cache().unwrap().as_ref(), Some(&cache));
    assert_eq!(
        store.delta_link(DeltaStream::Users).unwrap(),
        Some(links(1).users)
    );

    // `a` leaves for outside, `b` is edited, `c` joins; the rest is left as it was.
    let mut next = cache.clone();
    next.snapshot.groups.get_mut("g1").unwrap().members =
        BTreeSet::from(["b".to_owned(), "c".to_owned()]);
    let a = next.snapshot.users.remove("a").unwrap();
    next.snapshot
        .outside
        .insert("a".into(), Whereabouts::Exists(Box::new(a)));
    next.snapshot.users.get_mut("b").unwrap().job_title = Some("Lead".into());
    next.snapshot.users.insert("c".into(), user("c"));
    let touched = BTreeSet::from(["a".to_owned(), "b".to_owned(), "c".to_owned()]);
    store
        .update_source_cache(&next, &touched, &links(2))
        .unwrap();
    drop(store);
    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.load_source_cache().unwrap().as_ref(), Some(&next));
    assert_eq!(
        store.delta_link(DeltaStream::Groups).unwrap(),
        Some(links(2).groups)
    );

    store.clear_source_cache().unwrap();
    assert_eq!(store.load_source_cache().unwrap(), None);
    assert_eq!(store.delta_link(DeltaStream::Users).unwrap(), None);
}

#[test]
fn history_keeps_runs_and_their_actions_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("s.sqlite3")).unwrap();
    let first = store.begin_run("sync", false).unwrap();
    store
        .finish_run(first, RunOutcome::Ok, Some(&Summary::default()), None)
        .unwrap();
    let second = store.begin_run("service", false).unwrap();
    let action = Action {
        kind: ActionKind::Create,
        entra_id: "e1".into(),
        user_principal_name: "ann@contoso.example".into(),
        email: "ann@contoso.example".into(),
        target_user_id: Some("t1".into()),
        target_group: None,
        target_groups: None,
        changes: vec![],
        reason: "new in Support".into(),
        result: Some(ActionResult {
            status: ResultStatus::Failed,
            error: Some("409 uniqueness".into()),
        }),
        execution: Execution::default(),
    };
    store.record_action(second, 0, &action).unwrap();
    store
        .finish_run(second, RunOutcome::Partial, None, Some("1 action failed"))
        .unwrap();
    let history = store.history(10).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, second);
    assert_eq!(history[0].outcome, "partial");
    assert_eq!(history[0].actions[0].status, "failed");
    assert_eq!(
        history[0].actions[0].error.as_deref(),
        Some("409 uniqueness")
    );
    assert_eq!(history[1].summary.as_ref().unwrap()["create"], 0);
    assert_eq!(store.history(1).unwrap().len(), 1);
}

/// A store as a schema-2 adsync left it (before roles_given): its runs, written as strings by
/// that version, read back as [`RunOutcome`]s after migrating, and its delta links by stream.
#[test]
fn a_schema_2_file_reads_its_outcomes_and_delta_streams_as_enums() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite3");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(MIGRATIONS[0]).unwrap();
    conn.execute_batch(MIGRATIONS[1]).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    let stored = ["ok", "partial", "stopped", "failed", "blocked", "dry-run"];
    for outcome in stored {
        conn.execute(
            "INSERT INTO runs (started_at, finished_at, trigger, dry_run, outcome) \
             VALUES (1, 2, 'service', ?1, ?2)",
            params![outcome == "dry-run", outcome],
        )
        .unwrap();
    }
    // Killed mid-run: the column keeps its default.
    conn.execute(
        "INSERT INTO runs (started_at, trigger, dry_run) VALUES (3, 'sync', 0)",
        [],
    )
    .unwrap();
    for (stream, link) in [
        ("users", "https://g/users?t=1"),
        ("groups", "https://g/groups?t=1"),
    ] {
        conn.execute(
            "INSERT INTO delta_links (stream, link, updated_at) VALUES (?1, ?2, 1)",
            params![stream, link],
        )
        .unwrap();
    }
    drop(conn);

    let store = StateStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let outcomes: Vec<RunOutcome> = store
        .history(10)
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            RunOutcome::Ok,
            RunOutcome::Partial,
            RunOutcome::Stopped,
            RunOutcome::Failed,
            RunOutcome::Blocked,
            RunOutcome::DryRun,
            RunOutcome::Running,
        ]
    );
    assert_eq!(
        store.delta_link(DeltaStream::Users).unwrap().as_deref(),
        Some("https://g/users?t=1")
    );
    assert_eq!(
        store.delta_link(DeltaStream::Groups).unwrap().as_deref(),
        Some("https://g/groups?t=1")
    );
}

/// Every outcome is written as exactly the string older versions wrote and read back.
#[test]
fn outcomes_are_stored_as_their_strings_and_unknown_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(&dir.path().join("s.sqlite3")).unwrap();
    for outcome in RunOutcome::ALL {
        let run = store.begin_run("sync", false).unwrap();
        store.finish_run(run, outcome, None, None).unwrap();
        let raw: String = store
            .conn
            .query_row("SELECT outcome FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(raw, outcome.as_str());
        assert_eq!(store.history(1).unwrap()[0].outcome, outcome);
    }
    store
        .conn
        .execute("UPDATE runs SET outcome = 'linked' WHERE id = 1", [])
        .unwrap();
    let err = store.history(100).unwrap_err().to_string();
    assert!(
        err.contains("\"linked\"") && err.contains("upgrade adsync"),
        "{err}"
    );
}
