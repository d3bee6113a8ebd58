//! Links an administrator makes or forgets by hand (`adsync link`, `adsync unlink`, the wizard's
//! preview): each is written together with its own run in the history, in one transaction, so
//! a link is never recorded without the record of who made it.

use rusqlite::params;

use super::{StateError, StateStore, now_ms};
use crate::sync::Link;

/// One decision taken by hand, as the history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A link made by hand (`adsync link`).
    Link,
    /// A link forgotten (`adsync unlink`); the target user is left as it is.
    Unlink,
}

impl Decision {
    /// The run's trigger and the action's kind in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Link => "link",
            Decision::Unlink => "unlink",
        }
    }
}

impl StateStore {
    /// Stores a link made by hand (its [`Link::manual`] set) and records it in the history as a
    /// run of its own, in one transaction: both are written, or neither.
    pub fn record_manual_link(
        &self,
        link: &Link,
        user_principal_name: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        self.transaction(|| {
            self.put_link(link)?;
            self.record_decision(
                Decision::Link,
                &link.entra_id,
                user_principal_name,
                &link.target_id,
                reason,
            )
        })
    }

    /// Forgets `link` and records that in the history, in one transaction. Nothing is written
    /// to the target: the next sync treats the user as not linked (R2).
    pub fn record_unlink(
        &self,
        link: &Link,
        user_principal_name: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        self.transaction(|| {
            self.remove_link(&link.entra_id)?;
            self.record_decision(
                Decision::Unlink,
                &link.entra_id,
                user_principal_name,
                &link.target_id,
                reason,
            )
        })
    }

    /// When the newest link made by hand that no sync has written yet was made (ms since the
    /// epoch), if there is one: the service runs a full cycle for it.
    pub fn newest_pending_manual_link(&self) -> Result<Option<i64>, StateError> {
        Ok(self.conn.query_row(
            "SELECT MAX(manual_at) FROM links WHERE manual_at IS NOT NULL AND values_hash = ''",
            [],
            |r| r.get(0),
        )?)
    }

    fn record_decision(
        &self,
        decision: Decision,
        entra_id: &str,
        user_principal_name: &str,
        target_id: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO runs (started_at, finished_at, trigger, dry_run, outcome)
             VALUES (?1, ?1, ?2, 0, 'ok')",
            params![now, decision.as_str()],
        )?;
        let run = self.conn.last_insert_rowid();
        self.conn.execute(
            "INSERT INTO run_actions (run_id, seq, kind, entra_id, user_principal_name, target_user_id, reason, changes, status, error)
             VALUES (?1, 0, ?2, ?3, ?4, ?5, ?6, '[]', 'ok', NULL)",
            params![run, decision.as_str(), entra_id, user_principal_name, target_id, reason],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::state::MIGRATIONS;
    use crate::sync::ManualLink;

    /// A store file at schema 3 (what adsync wrote before links by hand), holding one link.
    fn schema_3_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO links (entra_id, target_id, target_group, values_hash, updated_at, roles_given)
             VALUES ('e1', 't1', 'tier-1', 'h1', 1, '[\"agent\"]')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_schema_3_store_is_upgraded_keeping_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        schema_3_file(&path);
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let links = store.links().unwrap();
        let old = &links["e1"];
        assert_eq!(
            (old.target_id.as_str(), old.values_hash.as_str()),
            ("t1", "h1")
        );
        assert_eq!(old.group.as_deref(), Some("tier-1"));
        assert!(old.roles_given.contains("agent"));
        assert_eq!(old.manual, None, "links adsync made are not manual");
    }

    #[test]
    fn a_manual_link_keeps_who_made_it_through_syncs_and_both_decisions_are_in_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
        let made = ManualLink {
            by: "alice".into(),
            at_ms: 1_795_000_000_000,
        };
        let link = Link {
            entra_id: "e1".into(),
            target_id: "t1".into(),
            manual: Some(made.clone()),
            ..Link::default()
        };
        store
            .record_manual_link(&link, "ann@contoso.example", "linked by hand by alice")
            .unwrap();
        assert!(store.links().unwrap()["e1"].is_pending_manual());
        assert_eq!(
            store.newest_pending_manual_link().unwrap(),
            Some(made.at_ms)
        );
        // The sync's own write (which does not carry `manual`) keeps who made it.
        let synced = Link {
            values_hash: "h".into(),
            manual: None,
            ..link.clone()
        };
        store.put_link(&synced).unwrap();
        let stored = &store.links().unwrap()["e1"];
        assert_eq!(stored.manual.as_ref(), Some(&made));
        assert!(!stored.is_pending_manual());
        assert_eq!(store.newest_pending_manual_link().unwrap(), None);

        store
            .record_unlink(stored, "ann@contoso.example", "unlinked by hand")
            .unwrap();
        assert!(store.links().unwrap().is_empty());
        let runs = store.history(10).unwrap();
        let seen: Vec<(&str, &str, Option<&str>)> = runs
            .iter()
            .map(|r| {
                (
                    r.trigger.as_str(),
                    r.actions[0].kind.as_str(),
                    r.actions[0].target_user_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("unlink", "unlink", Some("t1")),
                ("link", "link", Some("t1"))
            ]
        );
        assert!(
            runs.iter()
                .all(|r| r.outcome == crate::sync::RunOutcome::Ok && !r.dry_run)
        );
    }
}
