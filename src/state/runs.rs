//! What the run history says about the store itself: whether adsync ever applied anything with
//! it, which tells a store that lost its links from one whose first sync was cut off (R13).

use rusqlite::params;

use super::{StateError, StateStore};
use crate::sync::RunOutcome;

impl StateStore {
    /// Whether a run was cut off while writing with this store: an applying run that never
    /// finished (killed), or a write intent still unsettled. A store like that with no links is
    /// not a lost store: its first sync was cut off before it recorded them, and the next plan
    /// links those users back by their externalId (R2). Finished runs do not count, so a store
    /// whose links were emptied while its history stayed is still taken for a lost one.
    pub fn has_applied_runs(&self) -> Result<bool, StateError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM runs WHERE dry_run = 0 AND outcome IN (?1, ?2)) \
             OR EXISTS (SELECT 1 FROM intents)",
            params![RunOutcome::Running, RunOutcome::Interrupted],
            |r| r.get(0),
        )?)
    }
}
