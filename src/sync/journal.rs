//! [`Journal`]: what `apply()` needs from a place that remembers, so the engine does not depend on
//! the state store. The SQLite store implements it (`state::journal`); apply's tests use the
//! same store on a temporary file.

use super::model::{Link, Links};
use super::plan::{Action, Summary};

/// The links and run history `apply()` reads and writes. Each call is one small write; a
/// [`Journal::batch`] groups them into one commit.
pub trait Journal {
    /// Why the journal could not be read or written.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts the record of an applying (not dry) run started by `trigger`; returns its id.
    fn begin_run(&self, trigger: &str) -> Result<i64, Self::Error>;

    /// Every link, by Entra id.
    fn links(&self) -> Result<Links, Self::Error>;

    /// The links of these Entra users only (those that have one).
    fn links_of<'a>(
        &self,
        entra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Links, Self::Error>;

    /// Inserts or replaces a link.
    fn put_link(&self, link: &Link) -> Result<(), Self::Error>;

    /// Forgets a link.
    fn remove_link(&self, entra_id: &str) -> Result<(), Self::Error>;

    /// Records one action (with its result) as the `seq`th of run `run`.
    fn record_action(&self, run: i64, seq: usize, action: &Action) -> Result<(), Self::Error>;

    /// Closes run `run` with its outcome, the plan's summary and the error in words, if any.
    fn finish_run(
        &self,
        run: i64,
        outcome: &str,
        summary: &Summary,
        error: Option<&str>,
    ) -> Result<(), Self::Error>;

    /// Runs `f` so that everything it writes is committed together, or, when it fails, nothing.
    fn batch<R>(&self, f: impl FnOnce() -> Result<R, Self::Error>) -> Result<R, Self::Error>;
}
