//! The `intents` table: writes announced before they are sent (see [`Intent`]). apply() writes a
//! batch's intents in the transaction before the batch's first request, and forgets each one in
//! the transaction that records its outcome; the next run settles whatever is left.

use rusqlite::params;

use super::{StateError, StateStore};
use crate::sync::{GroupIntent, Intent, IntentKind};

impl StateStore {
    /// Records writes about to be sent; a user's earlier intent is replaced.
    pub fn put_intents(&self, intents: &[Intent]) -> Result<(), StateError> {
        let mut insert = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO intents (entra_id, target_id, kind, run_id, created_at, groups)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for intent in intents {
            let groups = (!intent.groups.is_empty())
                .then(|| serde_json::to_string(&intent.groups).expect("strings serialize"));
            insert.execute(params![
                intent.entra_id,
                intent.target_id,
                intent.kind.as_str(),
                intent.run_id,
                intent.at_ms,
                groups
            ])?;
        }
        Ok(())
    }

    /// Forgets a user's intent.
    pub fn remove_intent(&self, entra_id: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM intents WHERE entra_id = ?1")?
            .execute(params![entra_id])?;
        Ok(())
    }

    /// Every intent left, oldest first.
    pub fn intents(&self) -> Result<Vec<Intent>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT entra_id, target_id, kind, run_id, created_at, groups FROM intents
             ORDER BY created_at, entra_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(2)?;
            let kind = kind.parse::<IntentKind>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
            })?;
            let groups: Option<String> = r.get(5)?;
            let groups = match groups {
                Some(json) => serde_json::from_str(&json).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        5,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
                None => GroupIntent::default(),
            };
            Ok(Intent {
                entra_id: r.get(0)?,
                target_id: r.get(1)?,
                kind,
                run_id: r.get(3)?,
                at_ms: r.get(4)?,
                groups,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Are writes of an earlier run waiting to be settled? One cheap query, for every service
    /// tick.
    pub fn has_intents(&self) -> Result<bool, StateError> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM intents)", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(entra_id: &str, kind: IntentKind, at_ms: i64) -> Intent {
        Intent {
            entra_id: entra_id.into(),
            target_id: (kind != IntentKind::Create).then(|| format!("t-{entra_id}")),
            kind,
            run_id: 7,
            at_ms,
            groups: GroupIntent::default(),
        }
    }

    #[test]
    fn intents_are_stored_replaced_per_user_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
        assert!(!store.has_intents().unwrap());
        let (a, b) = (
            intent("a", IntentKind::Disable, 2),
            intent("b", IntentKind::Create, 1),
        );
        store.put_intents(&[a.clone(), b.clone()]).unwrap();
        assert!(store.has_intents().unwrap());
        assert_eq!(store.intents().unwrap(), vec![b.clone(), a]);
        // A later run's intent for the same user replaces the earlier one.
        let a2 = intent("a", IntentKind::Enable, 3);
        store.put_intents(std::slice::from_ref(&a2)).unwrap();
        assert_eq!(store.intents().unwrap(), vec![b, a2]);
        store.remove_intent("b").unwrap();
        store.remove_intent("a").unwrap();
        assert!(!store.has_intents().unwrap());
        // A move keeps its group changes.
        let mut moved = intent("c", IntentKind::Move, 4);
        moved.groups = GroupIntent {
            add_to: vec!["tier-2".into()],
            remove_from: vec!["tier-1".into()],
            record: Some("tier-2".into()),
        };
        store.put_intents(std::slice::from_ref(&moved)).unwrap();
        assert_eq!(store.intents().unwrap(), vec![moved]);
    }
}
