//! The state store as the sync engine's [`Journal`]: `apply()` records links and runs through
//! this, so `sync` never imports `state`.

use super::{StateError, StateStore};
use crate::sync::{Action, Intent, Journal, Link, Links, RunOutcome, Summary};

impl Journal for StateStore {
    type Error = StateError;

    fn begin_run(&self, trigger: &str) -> Result<i64, StateError> {
        StateStore::begin_run(self, trigger, false)
    }

    fn links(&self) -> Result<Links, StateError> {
        StateStore::links(self)
    }

    fn links_of<'a>(
        &self,
        entra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Links, StateError> {
        StateStore::links_of(self, entra_ids)
    }

    fn put_link(&self, link: &Link) -> Result<(), StateError> {
        StateStore::put_link(self, link)
    }

    fn remove_link(&self, entra_id: &str) -> Result<(), StateError> {
        StateStore::remove_link(self, entra_id)
    }

    fn record_action(&self, run: i64, seq: usize, action: &Action) -> Result<(), StateError> {
        StateStore::record_action(self, run, seq, action)
    }

    fn finish_run(
        &self,
        run: i64,
        outcome: RunOutcome,
        summary: &Summary,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        StateStore::finish_run(self, run, outcome, Some(summary), error)
    }

    fn batch<R>(&self, f: impl FnOnce() -> Result<R, StateError>) -> Result<R, StateError> {
        self.transaction(f)
    }

    fn put_intents(&self, intents: &[Intent]) -> Result<(), StateError> {
        StateStore::put_intents(self, intents)
    }

    fn remove_intent(&self, entra_id: &str) -> Result<(), StateError> {
        StateStore::remove_intent(self, entra_id)
    }

    fn intents(&self) -> Result<Vec<Intent>, StateError> {
        StateStore::intents(self)
    }
}
