//! What the run history says about the store itself: whether adsync ever applied anything with
//! it, which tells a store that lost its links from one whose first sync was cut off (R13).

use rusqlite::params;

use super::{StateError, StateStore};
use crate::sync::RunOutcome;

impl StateStore {
    /// Whether adsync ever started writing with this store: an applying run that recorded an
    /// action or never finished (killed), or a write intent still unsettled. A store with such a
    /// run but no links is not a lost store: its first sync was cut off before it recorded them,
    /// and the next plan links those users back by their externalId (R2). Runs that stopped
    /// before their first write (a refused lost store among them) do not count.
    pub fn has_applied_runs(&self) -> Result<bool, StateError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE dry_run = 0 AND (outcome IN (?1, ?2) \
                 OR id IN (SELECT run_id FROM run_actions))) \
             OR EXISTS (SELECT 1 FROM intents)",
            params![RunOutcome::Running, RunOutcome::Interrupted],
            |r| r.get(0),
        )?)
    }
}
