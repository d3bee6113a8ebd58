//! What the service remembers about things going wrong between cycles: the users whose writes the
//! application keeps refusing (each with its failures, last error and next retry; quarantined
//! after [`QUARANTINE_AFTER`] cycles in a row, then retried with a doubling wait up to
//! [`MAX_RETRY_WAIT`]), and the plan a guard withholds. `adsync service status` reads them here.
//!
//! A failing user's record also keeps its change from being lost: the service plans the user
//! again from this record (its incremental cycles add it to the users they plan), so the cycle's
//! delta cursor can advance past the change that failed.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{StateError, StateStore, format_time};

/// Appended to the store's migrations.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE failing_users (
        entra_id TEXT PRIMARY KEY,
        target_id TEXT,
        user_principal_name TEXT NOT NULL,
        first_failure INTEGER NOT NULL,
        last_failure INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        last_error TEXT NOT NULL,
        next_retry INTEGER NOT NULL,
        quarantined_at INTEGER
    );
    CREATE TABLE withheld_plan (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        summary TEXT NOT NULL,
        since INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    "#;

/// Cycles in a row a user's write must fail before the user is quarantined.
pub const QUARANTINE_AFTER: u32 = 3;

/// The longest wait between two retries of a quarantined user.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(6 * 3600);

/// How long after its `failures`-th failure in a row a user is tried again: at the next cycle
/// until it is quarantined, then one `interval`, doubling with each failure up to
/// [`MAX_RETRY_WAIT`].
pub fn retry_wait(failures: u32, interval: Duration) -> Duration {
    if failures < QUARANTINE_AFTER {
        return Duration::ZERO;
    }
    let doublings = (failures - QUARANTINE_AFTER).min(20);
    interval
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_WAIT)
        .max(interval.min(MAX_RETRY_WAIT))
}

/// One failed write for one user, as a cycle saw it.
#[derive(Clone, Copy, Debug)]
pub struct UserFailure<'a> {
    pub entra_id: &'a str,
    pub target_id: Option<&'a str>,
    pub user_principal_name: &'a str,
    /// The error as the write reported it; scrubbed and capped before it is stored.
    pub error: &'a str,
    /// Does it count towards quarantine? A uniqueness conflict does not: it is retried every
    /// cycle, and settled by the next read of the target or by an administrator.
    pub counted: bool,
}

/// A user whose writes have been failing, as `service status` shows it. Times are written as
/// [`format_time`] does; `*_ms` are milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailingUser {
    pub entra_id: String,
    pub target_id: Option<String>,
    pub user_principal_name: String,
    pub first_failure: String,
    pub last_failure: String,
    /// Cycles in a row whose write for this user failed (uniqueness conflicts not counted).
    pub failures: u32,
    pub last_error: String,
    pub next_retry: String,
    pub next_retry_ms: i64,
    /// When it was quarantined, if it is.
    pub quarantined_since: Option<String>,
}

impl FailingUser {
    /// Is the user set aside (not planned until its retry time)?
    pub fn quarantined(&self) -> bool {
        self.quarantined_since.is_some()
    }
}

/// A plan a guard withholds (R11): which guard, why, the plan's counts, since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WithheldPlan {
    /// The guard's kind, as the plan's `blocked.kind` names it (`disable`, `clear`, `unlink`).
    pub kind: String,
    /// Which guard, why, what to do.
    pub reason: String,
    /// The withheld plan's summary (counts by kind).
    pub summary: serde_json::Value,
    pub since: String,
    pub last_seen: String,
}

/// The failed actions of the newest run that applied a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunFailures {
    pub run_id: i64,
    pub started_at: String,
    /// How many of its actions failed.
    pub count: usize,
    /// The first few: user principal name and error.
    pub first: Vec<(String, String)>,
}

const FAILING_COLUMNS: &str = "entra_id, target_id, user_principal_name, first_failure, \
     last_failure, failures, last_error, next_retry, quarantined_at";

fn failing_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<FailingUser> {
    let next_retry_ms: i64 = row.get(7)?;
    Ok(FailingUser {
        entra_id: row.get(0)?,
        target_id: row.get(1)?,
        user_principal_name: row.get(2)?,
        first_failure: format_time(row.get(3)?),
        last_failure: format_time(row.get(4)?),
        failures: row.get(5)?,
        last_error: row.get(6)?,
        next_retry: format_time(next_retry_ms),
        next_retry_ms,
        quarantined_since: row.get::<_, Option<i64>>(8)?.map(format_time),
    })
}

impl StateStore {
    /// Every user whose writes have been failing: quarantined ones first, then by last failure.
    pub fn failing_users(&self) -> Result<Vec<FailingUser>, StateError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {FAILING_COLUMNS} FROM failing_users
             ORDER BY quarantined_at IS NULL, quarantined_at, last_failure, entra_id"
        ))?;
        let rows = statement.query_map([], failing_user)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that `failure`'s user failed in this cycle (`now_ms`), after a success or at its
    /// retry time. Returns the record as it now is, and whether this failure quarantined it.
    pub fn record_user_failure(
        &self,
        failure: &UserFailure<'_>,
        interval: Duration,
        now_ms: i64,
    ) -> Result<(FailingUser, bool), StateError> {
        let error = crate::secret::scrub::for_storage(failure.error);
        self.transaction(|| {
            let before: Option<(u32, Option<i64>)> = self
                .conn
                .query_row(
                    "SELECT failures, quarantined_at FROM failing_users WHERE entra_id = ?1",
                    params![failure.entra_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (failures, quarantined) = before.unwrap_or((0, None));
            let failures = failures + u32::from(failure.counted);
            let newly = quarantined.is_none() && failures >= QUARANTINE_AFTER;
            let quarantined = quarantined.or(newly.then_some(now_ms));
            let wait = retry_wait(failures, interval);
            let next_retry = now_ms.saturating_add(wait.as_millis() as i64);
            self.conn.execute(
                "INSERT INTO failing_users (entra_id, target_id, user_principal_name,
                     first_failure, last_failure, failures, last_error, next_retry,
                     quarantined_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (entra_id) DO UPDATE SET
                     target_id = COALESCE(excluded.target_id, failing_users.target_id),
                     user_principal_name = excluded.user_principal_name,
                     last_failure = excluded.last_failure,
                     failures = excluded.failures,
                     last_error = excluded.last_error,
                     next_retry = excluded.next_retry,
                     quarantined_at = excluded.quarantined_at",
                params![
                    failure.entra_id,
                    failure.target_id,
                    failure.user_principal_name,
                    now_ms,
                    failures,
                    error,
                    next_retry,
                    quarantined,
                ],
            )?;
            let record = self.conn.query_row(
                &format!("SELECT {FAILING_COLUMNS} FROM failing_users WHERE entra_id = ?1"),
                params![failure.entra_id],
                failing_user,
            )?;
            Ok((record, newly))
        })
    }

    /// Forgets the failures of these users (their writes went through, or there was nothing
    /// left to write). Returns how many records there were.
    pub fn clear_user_failures<'a>(
        &self,
        entra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<usize, StateError> {
        self.transaction(|| {
            let mut statement = self
                .conn
                .prepare_cached("DELETE FROM failing_users WHERE entra_id = ?1")?;
            let mut cleared = 0;
            for id in entra_ids {
                cleared += statement.execute(params![id])?;
            }
            Ok(cleared)
        })
    }

    /// Records that a guard withholds a plan. Returns `true` when this is news: no plan was
    /// withheld before, or one by another guard.
    pub fn record_withheld_plan(
        &self,
        kind: &str,
        reason: &str,
        summary: &serde_json::Value,
        now_ms: i64,
    ) -> Result<bool, StateError> {
        let before: Option<String> = self
            .conn
            .query_row("SELECT kind FROM withheld_plan WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        let news = before.as_deref() != Some(kind);
        self.conn.execute(
            "INSERT INTO withheld_plan (id, kind, reason, summary, since, last_seen)
             VALUES (1, ?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (id) DO UPDATE SET
                 kind = excluded.kind, reason = excluded.reason, summary = excluded.summary,
                 last_seen = excluded.last_seen,
                 since = CASE WHEN withheld_plan.kind = excluded.kind
                              THEN withheld_plan.since ELSE excluded.since END",
            params![
                kind,
                crate::secret::scrub::for_storage(reason),
                summary.to_string(),
                now_ms
            ],
        )?;
        Ok(news)
    }

    /// Forgets the withheld plan: a later plan went through (or there was none to withhold).
    pub fn clear_withheld_plan(&self) -> Result<(), StateError> {
        self.conn.execute("DELETE FROM withheld_plan", [])?;
        Ok(())
    }

    /// The plan a guard withholds, if one is.
    pub fn withheld_plan(&self) -> Result<Option<WithheldPlan>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT kind, reason, summary, since, last_seen FROM withheld_plan WHERE id = 1",
                [],
                |r| {
                    let summary: String = r.get(2)?;
                    Ok(WithheldPlan {
                        kind: r.get(0)?,
                        reason: r.get(1)?,
                        summary: serde_json::from_str(&summary).unwrap_or_default(),
                        since: format_time(r.get(3)?),
                        last_seen: format_time(r.get(4)?),
                    })
                },
            )
            .optional()?)
    }

    /// The failed actions of the newest run that recorded actions, with the first `limit` of
    /// them; `None` when no run has.
    pub fn last_run_failures(&self, limit: usize) -> Result<Option<RunFailures>, StateError> {
        let run: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT id, started_at FROM runs
                 WHERE id = (SELECT MAX(run_id) FROM run_actions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((run_id, started_at)) = run else {
            return Ok(None);
        };
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM run_actions WHERE run_id = ?1 AND status = 'failed'",
            params![run_id],
            |r| r.get(0),
        )?;
        let mut statement = self.conn.prepare(
            "SELECT user_principal_name, COALESCE(error, '') FROM run_actions
             WHERE run_id = ?1 AND status = 'failed' ORDER BY seq LIMIT ?2",
        )?;
        let first = statement
            .query_map(params![run_id, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(RunFailures {
            run_id,
            started_at: format_time(started_at),
            count: count as usize,
            first,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_none_before_quarantine_then_doubles_up_to_six_hours() {
        let minute = Duration::from_secs(60);
        assert_eq!(retry_wait(1, minute), Duration::ZERO);
        assert_eq!(retry_wait(2, minute), Duration::ZERO);
        assert_eq!(retry_wait(3, minute), minute);
        assert_eq!(retry_wait(4, minute), 2 * minute);
        assert_eq!(retry_wait(6, minute), 8 * minute);
        assert_eq!(retry_wait(40, minute), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(u32::MAX, minute), MAX_RETRY_WAIT);
        // An interval longer than the cap waits the cap.
        assert_eq!(retry_wait(3, Duration::from_secs(86_400)), MAX_RETRY_WAIT);
    }

    #[test]
    fn three_counted_failures_quarantine_a_user_and_a_clear_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
        let interval = Duration::from_secs(60);
        let failure = |error: &'static str, counted| UserFailure {
            entra_id: "e1",
            target_id: Some("t1"),
            user_principal_name: "ann@contoso.com",
            error,
            counted,
        };
        let (first, newly) = store
            .record_user_failure(&failure("400 bad title", true), interval, 1_000)
            .unwrap();
        assert!(!newly && !first.quarantined());
        assert_eq!((first.failures, first.next_retry_ms), (1, 1_000));
        // A conflict keeps the record current but does not count.
        let (second, _) = store
            .record_user_failure(&failure("409 taken", false), interval, 2_000)
            .unwrap();
        assert_eq!(second.failures, 1);
        assert_eq!(second.last_error, "409 taken");
        store
            .record_user_failure(&failure("400 bad title", true), interval, 3_000)
            .unwrap();
        let (third, newly) = store
            .record_user_failure(&failure("400 bad title", true), interval, 4_000)
            .unwrap();
        assert!(newly && third.quarantined());
        assert_eq!(third.failures, 3);
        assert_eq!(third.next_retry_ms, 4_000 + 60_000);
        assert_eq!(third.first_failure, format_time(1_000));
        let (fourth, newly) = store
            .record_user_failure(&failure("400 bad title", true), interval, 70_000)
            .unwrap();
        assert!(!newly, "quarantined once, reported once");
        assert_eq!(fourth.quarantined_since, third.quarantined_since);
        assert_eq!(fourth.next_retry_ms, 70_000 + 120_000);
        assert_eq!(store.failing_users().unwrap(), vec![fourth]);

        assert_eq!(store.clear_user_failures(["e1", "e2"]).unwrap(), 1);
        assert!(store.failing_users().unwrap().is_empty());
    }

    #[test]
    fn a_withheld_plan_is_news_once_per_guard() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.sqlite3")).unwrap();
        let summary = serde_json::json!({"disable": 9});
        assert!(
            store
                .record_withheld_plan("disable", "9 disables", &summary, 1_000)
                .unwrap()
        );
        assert!(
            !store
                .record_withheld_plan("disable", "9 disables", &summary, 2_000)
                .unwrap()
        );
        let withheld = store.withheld_plan().unwrap().unwrap();
        assert_eq!(withheld.since, format_time(1_000));
        assert_eq!(withheld.last_seen, format_time(2_000));
        assert_eq!(withheld.summary["disable"], 9);
        assert!(
            store
                .record_withheld_plan("clear", "titles emptied", &summary, 3_000)
                .unwrap()
        );
        assert_eq!(
            store.withheld_plan().unwrap().unwrap().since,
            format_time(3_000)
        );
        store.clear_withheld_plan().unwrap();
        assert!(store.withheld_plan().unwrap().is_none());
    }
}
