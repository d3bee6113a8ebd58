//! The state store: one SQLite file holding what adsync remembers between runs: the links between
//! Entra users and target users (R2/R3), the Graph delta links and cached source snapshot, and the
//! history of runs with every action applied and its outcome. The schema is versioned
//! (`PRAGMA user_version`) and migrated forward on open.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::entra::DeltaLinks;
use crate::sync::{
    Action, Interner, Link, Links, ManualLink, Plan, ResultStatus, RunOutcome, SourceCache,
    SourceGroup, SourceUser, Summary, TargetInfo, Whereabouts,
};

/// The migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: links, delta links, cached snapshot, run history.
    r#"
    CREATE TABLE links (
        entra_id TEXT PRIMARY KEY,
        target_id TEXT NOT NULL UNIQUE,
        target_group TEXT,
        groups_added TEXT NOT NULL DEFAULT '[]',
        values_hash TEXT NOT NULL,
        disabled_by_adsync INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE delta_links (
        stream TEXT PRIMARY KEY,
        link TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE source_cache (
        key TEXT PRIMARY KEY,
        body BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        trigger TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        outcome TEXT NOT NULL DEFAULT 'running',
        summary TEXT,
        error TEXT
    );
    CREATE TABLE run_actions (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        entra_id TEXT NOT NULL,
        user_principal_name TEXT NOT NULL,
        target_user_id TEXT,
        reason TEXT NOT NULL,
        changes TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (run_id, seq)
    );
    "#,
    // 2: the cached source snapshot as rows, so an incremental cycle writes only what changed.
    r#"
    CREATE TABLE cache_users (
        id TEXT PRIMARY KEY,
        place TEXT NOT NULL,
        body TEXT
    );
    CREATE TABLE cache_groups (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE cache_members (
        group_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (group_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX cache_members_by_user ON cache_members (user_id);
    "#,
    // 3: the SCIM roles adsync gave each user (SPEC §3.1), so it removes only those.
    r#"
    ALTER TABLE links ADD COLUMN roles_given TEXT NOT NULL DEFAULT '[]';
    "#,
    // 4: links made by hand (`adsync link`): who made each and when; NULL for links adsync made.
    r#"
    ALTER TABLE links ADD COLUMN manual_by TEXT;
    ALTER TABLE links ADD COLUMN manual_at INTEGER;
    "#,
    // 5: writes announced before they are sent, settled by the next run (state/intents.rs).
    "CREATE TABLE intents (entra_id TEXT PRIMARY KEY, target_id TEXT, kind TEXT NOT NULL, \
     run_id INTEGER NOT NULL, created_at INTEGER NOT NULL);",
    quarantine::MIGRATION, // 6: failing users (quarantine), a plan a guard withholds
    // 7: the group changes an intent's write makes (JSON; NULL for none), so a lost move is found.
    "ALTER TABLE intents ADD COLUMN groups TEXT;",
];

/// Where a cached user is: `member` of a paired group, `outside` them (managed, still in Entra),
/// or `deleted`.
const MEMBER: &str = "member";
const OUTSIDE: &str = "outside";
const DELETED: &str = "deleted";
/// The `source_cache` key of the cache's small parts (nested groups, target info).
const CACHE_META: &str = "meta";

/// The parts of a [`SourceCache`] kept in one row.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheMeta {
    nested: std::collections::BTreeMap<String, BTreeSet<String>>,
    target: TargetInfo,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub use crate::time::format_time;

/// One past run, for `adsync history` and `service status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `sync`, `service`, `wizard`.
    pub trigger: String,
    pub dry_run: bool,
    /// How it ended (`running` while it runs, or when it was killed).
    pub outcome: RunOutcome,
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
    pub actions: Vec<ActionRecord>,
}

/// One applied action of a past run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    pub kind: String,
    pub entra_id: String,
    pub user_principal_name: String,
    pub target_user_id: Option<String>,
    pub reason: String,
    pub changes: serde_json::Value,
    pub status: String,
    pub error: Option<String>,
}

/// An open state store.
pub struct StateStore {
    conn: Connection,
    path: PathBuf,
}

impl StateStore {
    /// Opens (creating if needed, with an owner-only directory) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir(dir).map_err(|source| StateError::Directory {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open_err = |source| StateError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in use.
    pub fn schema_version(&self) -> Result<i64, StateError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StateError> {
        let current = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StateError::TooNew {
                path: self.path.clone(),
                found: current,
                known,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Every link, by Entra id.
    pub fn links(&self) -> Result<Links, StateError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{LINK_COLUMNS} ORDER BY entra_id"))?;
        let rows = stmt.query_map([], link_of_row)?;
        // Collected, then built in one go from sorted keys: inserting 100,000 links one by one
        // (a B-tree search each) was most of a quiet incremental cycle's CPU at that size.
        let rows: Vec<(String, Link)> = rows
            .map(|row| row.map(|link| (link.entra_id.clone(), link)))
            .collect::<Result<_, _>>()?;
        Ok(rows.into_iter().collect())
    }

    /// The links of these Entra users only (those that have one).
    pub fn links_of<'a>(
        &self,
        entra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Links, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{LINK_COLUMNS} WHERE entra_id = ?1"))?;
        let mut links = Links::new();
        for id in entra_ids {
            if let Some(link) = stmt.query_row([id], link_of_row).optional()? {
                links.insert(link.entra_id.clone(), link);
            }
        }
        Ok(links)
    }

    /// Inserts or replaces a link. A target user linked to another Entra id is re-pointed (the
    /// older link is dropped) so a target user is never linked twice.
    pub fn put_link(&self, link: &Link) -> Result<(), StateError> {
        let groups = serde_json::to_string(&link.groups_added).expect("strings serialize");
        let roles = serde_json::to_string(&link.roles_given).expect("strings serialize");
        self.conn.execute(
            "DELETE FROM links WHERE target_id = ?1 AND entra_id <> ?2",
            params![link.target_id, link.entra_id],
        )?;
        self.conn.execute(
            "INSERT INTO links (entra_id, target_id, target_group, groups_added, values_hash, disabled_by_adsync, updated_at, roles_given, manual_by, manual_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(entra_id) DO UPDATE SET target_id = excluded.target_id,
                target_group = excluded.target_group, groups_added = excluded.groups_added,
                values_hash = excluded.values_hash, disabled_by_adsync = excluded.disabled_by_adsync,
                updated_at = excluded.updated_at, roles_given = excluded.roles_given,
                manual_by = COALESCE(excluded.manual_by, links.manual_by),
                manual_at = COALESCE(excluded.manual_at, links.manual_at)",
            params![
                link.entra_id,
                link.target_id,
                link.group,
                groups,
                link.values_hash,
                link.disabled_by_adsync,
                now_ms(),
                roles,
                link.manual.as_ref().map(|m| &m.by),
                link.manual.as_ref().map(|m| m.at_ms),
            ],
        )?;
        Ok(())
    }

    /// Runs `f` in one transaction: everything it writes is committed together (one sync to disk
    /// instead of one per statement), or, when it fails, nothing is.
    pub fn transaction<R>(
        &self,
        f: impl FnOnce() -> Result<R, StateError>,
    ) -> Result<R, StateError> {
        let tx = self.conn.unchecked_transaction()?;
        let out = f()?;
        tx.commit()?;
        Ok(out)
    }

    /// Forgets a link.
    pub fn remove_link(&self, entra_id: &str) -> Result<(), StateError> {
        self.conn
            .execute("DELETE FROM links WHERE entra_id = ?1", params![entra_id])?;
        Ok(())
    }

    /// The delta link of a Graph delta stream, if one is stored.
    pub fn delta_link(&self, stream: DeltaStream) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT link FROM delta_links WHERE stream = ?1",
                params![stream],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores a delta link; `None` forgets it (a full resync follows).
    pub fn set_delta_link(
        &self,
        stream: DeltaStream,
        link: Option<&str>,
    ) -> Result<(), StateError> {
        match link {
            Some(link) => self.conn.execute(
                "INSERT INTO delta_links (stream, link, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(stream) DO UPDATE SET link = excluded.link, updated_at = excluded.updated_at",
                params![stream, link, now_ms()],
            )?,
            None => self
                .conn
                .execute("DELETE FROM delta_links WHERE stream = ?1", params![stream])?,
        };
        Ok(())
    }

    /// A cached blob (the source snapshot between incremental cycles).
    pub fn cached(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT body FROM source_cache WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores (or with `None`, drops) a cached blob.
    pub fn set_cached(&self, key: &str, body: Option<&[u8]>) -> Result<(), StateError> {
        match body {
            Some(body) => self.conn.execute(
                "INSERT INTO source_cache (key, body, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                params![key, body, now_ms()],
            )?,
            None => self
                .conn
                .execute("DELETE FROM source_cache WHERE key = ?1", params![key])?,
        };
        Ok(())
    }

    /// Replaces the cached source snapshot and stores the delta links it is current to, in one
    /// transaction (after a full cycle).
    pub fn save_source_cache(
        &self,
        cache: &SourceCache,
        links: &DeltaLinks,
    ) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch(
            "DELETE FROM cache_users; DELETE FROM cache_groups; DELETE FROM cache_members;",
        )?;
        for group in cache.snapshot.groups.values() {
            write_cached_group(&tx, group)?;
        }
        {
            let mut member = tx.prepare(
                "INSERT OR IGNORE INTO cache_members (group_id, user_id) VALUES (?1, ?2)",
            )?;
            for group in cache.snapshot.groups.values() {
                for user in &group.members {
                    member.execute(params![group.id, user])?;
                }
            }
        }
        let ids = cache
            .snapshot
            .users
            .keys()
            .chain(cache.snapshot.outside.keys());
        for id in ids {
            write_cached_user(&tx, cache, id)?;
        }
        write_cache_meta(&tx, cache)?;
        write_delta_links(&tx, links)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes what an incremental cycle changed in the cache (the touched users, their
    /// memberships, the groups) and advances the delta links, in one transaction.
    pub fn update_source_cache(
        &self,
        cache: &SourceCache,
        touched: &BTreeSet<String>,
        links: &DeltaLinks,
    ) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction()?;
        for group in cache.snapshot.groups.values() {
            write_cached_group(&tx, group)?;
        }
        for id in touched {
            tx.execute("DELETE FROM cache_members WHERE user_id = ?1", params![id])?;
            for group in cache.snapshot.groups.values() {
                if group.members.contains(id) {
                    tx.execute(
                        "INSERT INTO cache_members (group_id, user_id) VALUES (?1, ?2)",
                        params![group.id, id],
                    )?;
                }
            }
            write_cached_user(&tx, cache, id)?;
        }
        write_cache_meta(&tx, cache)?;
        write_delta_links(&tx, links)?;
        tx.commit()?;
        Ok(())
    }

    /// The cached source snapshot, if a full cycle stored one.
    pub fn load_source_cache(&self) -> Result<Option<SourceCache>, StateError> {
        let Some(meta) = self.cached(CACHE_META)? else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_slice::<CacheMeta>(&meta) else {
            return Ok(None); // unreadable: a full cycle rebuilds it
        };
        let mut cache = SourceCache {
            nested: meta.nested,
            target: meta.target,
            ..SourceCache::default()
        };
        let mut groups = self.conn.prepare("SELECT body FROM cache_groups")?;
        for body in groups.query_map([], |r| r.get::<_, String>(0))? {
            let Ok(group) = serde_json::from_str::<SourceGroup>(&body?) else {
                return Ok(None);
            };
            cache.snapshot.groups.insert(group.id.clone(), group);
        }
        let mut members = self
            .conn
            .prepare("SELECT group_id, user_id FROM cache_members")?;
        let rows = members.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        for row in rows {
            let (group, user) = row?;
            if let Some(g) = cache.snapshot.groups.get_mut(&group) {
                g.members.insert(user);
            }
        }
        let mut users = self
            .conn
            .prepare("SELECT id, place, body FROM cache_users")?;
        let rows = users.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        // Each user's repeating values shared with the others', as a read from Graph shares them.
        let mut interner = Interner::default();
        for row in rows {
            let (id, place, body) = row?;
            let mut user = body.and_then(|b| serde_json::from_str::<SourceUser>(&b).ok());
            if let Some(user) = &mut user {
                user.share(&mut interner);
            }
            match (place.as_str(), user) {
                (MEMBER, Some(user)) => {
                    cache.snapshot.users.insert(id, user);
                }
                (OUTSIDE, Some(user)) => {
                    cache
                        .snapshot
                        .outside
                        .insert(id, Whereabouts::Exists(Box::new(user)));
                }
                (DELETED, _) => {
                    cache.snapshot.outside.insert(id, Whereabouts::Deleted);
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(cache))
    }

    /// Forgets the cached snapshot and the delta links (a resync, or a config that changed).
    pub fn clear_source_cache(&self) -> Result<(), StateError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute_batch(
            "DELETE FROM cache_users; DELETE FROM cache_groups; DELETE FROM cache_members;
             DELETE FROM delta_links;",
        )?;
        tx.execute(
            "DELETE FROM source_cache WHERE key = ?1",
            params![CACHE_META],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Starts a run record; returns its id.
    pub fn begin_run(&self, trigger: &str, dry_run: bool) -> Result<i64, StateError> {
        self.conn.execute(
            "INSERT INTO runs (started_at, trigger, dry_run) VALUES (?1, ?2, ?3)",
            params![now_ms(), trigger, dry_run],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records one action's outcome in a run.
    pub fn record_action(&self, run: i64, seq: usize, action: &Action) -> Result<(), StateError> {
        let (status, error) = match &action.result {
            Some(r) => (
                match r.status {
                    ResultStatus::Ok => "ok",
                    ResultStatus::Failed => "failed",
                    ResultStatus::NotRun => "not-run",
                },
                r.error.as_deref().map(crate::secret::scrub::for_storage),
            ),
            None => ("not-run", None),
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO run_actions (run_id, seq, kind, entra_id, user_principal_name, target_user_id, reason, changes, status, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run,
                seq as i64,
                action.kind.as_str(),
                action.entra_id,
                action.user_principal_name,
                action.target_user_id,
                action.reason,
                serde_json::to_string(&action.changes).expect("changes serialize"),
                status,
                error
            ],
        )?;
        Ok(())
    }

    /// Closes a run with its outcome (any [`RunOutcome`] but `Running`).
    pub fn finish_run(
        &self,
        run: i64,
        outcome: RunOutcome,
        summary: Option<&Summary>,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let summary = summary.map(|s| serde_json::to_string(s).expect("summary serializes"));
        let error = error.map(crate::secret::scrub::for_storage);
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, outcome = ?3, summary = ?4, error = ?5 WHERE id = ?1",
            params![run, now_ms(), outcome, summary, error],
        )?;
        Ok(())
    }

    /// Records a whole plan's outcome as one run (convenience for callers that apply in one go).
    pub fn record_plan(&self, run: i64, plan: &Plan) -> Result<(), StateError> {
        for (seq, action) in plan.actions.iter().enumerate() {
            self.record_action(run, seq, action)?;
        }
        Ok(())
    }

    /// Takes the store's writer lock for `command` (R13: one writer per store; see
    /// [`WriterLock`]) and closes the runs a dead process left `running` as `interrupted`: with
    /// the lock held, no other process can be running one.
    pub fn lock_for_writing(&self, command: &str) -> Result<WriterLock, StateError> {
        let lock = WriterLock::acquire(&self.path, command)?;
        self.close_interrupted_runs()?;
        Ok(lock)
    }

    /// Marks every run still `running` as `interrupted`. Only for a holder of the writer lock.
    fn close_interrupted_runs(&self) -> Result<usize, StateError> {
        Ok(self.conn.execute(
            "UPDATE runs SET outcome = ?1 WHERE outcome = ?2",
            params![RunOutcome::Interrupted, RunOutcome::Running],
        )?)
    }

    /// [`StateStore::history`] as it stands now: a run left `running` is shown `interrupted`
    /// unless a live writer holds the store (then only the newest can still be running).
    pub fn history_now(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut runs = self.history(limit)?;
        let mut alive = lock::writer_active(&self.path).is_some();
        for run in &mut runs {
            if run.outcome == RunOutcome::Running {
                if alive {
                    alive = false; // newest first: older ones were left by dead processes
                } else {
                    run.outcome = RunOutcome::Interrupted;
                }
            }
        }
        Ok(runs)
    }

    /// The most recent runs, newest first, with their actions.
    pub fn history(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, finished_at, trigger, dry_run, outcome, summary, error
             FROM runs ORDER BY id DESC LIMIT ?1",
        )?;
        let runs = stmt
            .query_map(params![limit as i64], |r| {
                let summary: Option<String> = r.get(6)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    started_at: format_time(r.get(1)?),
                    finished_at: r.get::<_, Option<i64>>(2)?.map(format_time),
                    trigger: r.get(3)?,
                    dry_run: r.get(4)?,
                    outcome: r.get(5)?,
                    summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                    error: r.get(7)?,
                    actions: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(runs.len());
        let mut actions = self.conn.prepare(
            "SELECT kind, entra_id, user_principal_name, target_user_id, reason, changes, status, error
             FROM run_actions WHERE run_id = ?1 ORDER BY seq",
        )?;
        for mut run in runs {
            run.actions = actions
                .query_map(params![run.id], |r| {
                    let changes: String = r.get(5)?;
                    Ok(ActionRecord {
                        kind: r.get(0)?,
                        entra_id: r.get(1)?,
                        user_principal_name: r.get(2)?,
                        target_user_id: r.get(3)?,
                        reason: r.get(4)?,
                        changes: serde_json::from_str(&changes).unwrap_or_default(),
                        status: r.get(6)?,
                        error: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(run);
        }
        Ok(out)
    }
}

const LINK_COLUMNS: &str = "SELECT entra_id, target_id, target_group, groups_added, values_hash, \
                            disabled_by_adsync, roles_given, manual_by, manual_at FROM links";

fn link_of_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Link> {
    let groups: String = r.get(3)?;
    Ok(Link {
        entra_id: r.get(0)?,
        target_id: r.get(1)?,
        group: r.get(2)?,
        groups_added: if groups == "[]" {
            BTreeSet::new()
        } else {
            serde_json::from_str::<BTreeSet<String>>(&groups).unwrap_or_default()
        },
        values_hash: r.get(4)?,
        disabled_by_adsync: r.get(5)?,
        roles_given: {
            let roles: String = r.get(6)?;
            if roles == "[]" {
                BTreeSet::new()
            } else {
                serde_json::from_str::<BTreeSet<String>>(&roles).unwrap_or_default()
            }
        },
        manual: match (r.get::<_, Option<String>>(7)?, r.get::<_, Option<i64>>(8)?) {
            (Some(by), Some(at_ms)) => Some(ManualLink { by, at_ms }),
            _ => None,
        },
    })
}

fn write_cached_group(conn: &Connection, group: &SourceGroup) -> Result<(), StateError> {
    let body = SourceGroup {
        members: BTreeSet::new(),
        ..group.clone()
    };
    conn.execute(
        "INSERT INTO cache_groups (id, body) VALUES (?1, ?2)
         ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        params![
            group.id,
            serde_json::to_string(&body).expect("groups serialize")
        ],
    )?;
    Ok(())
}

/// Writes one user's row as the cache has it now (none when the cache no longer holds it).
fn write_cached_user(conn: &Connection, cache: &SourceCache, id: &str) -> Result<(), StateError> {
    let json = |u: &SourceUser| serde_json::to_string(u).expect("users serialize");
    let (place, body) = match (cache.snapshot.users.get(id), cache.snapshot.outside.get(id)) {
        (Some(user), _) => (MEMBER, Some(json(user))),
        (None, Some(Whereabouts::Exists(user))) => (OUTSIDE, Some(json(user))),
        (None, Some(Whereabouts::Deleted)) => (DELETED, None),
        (None, None) => {
            conn.execute("DELETE FROM cache_users WHERE id = ?1", params![id])?;
            return Ok(());
        }
    };
    conn.execute(
        "INSERT INTO cache_users (id, place, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET place = excluded.place, body = excluded.body",
        params![id, place, body],
    )?;
    Ok(())
}

fn write_cache_meta(conn: &Connection, cache: &SourceCache) -> Result<(), StateError> {
    let meta = serde_json::to_vec(&CacheMeta {
        nested: cache.nested.clone(),
        target: cache.target.clone(),
    })
    .expect("meta serializes");
    conn.execute(
        "INSERT INTO source_cache (key, body, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        params![CACHE_META, meta, now_ms()],
    )?;
    Ok(())
}

fn write_delta_links(conn: &Connection, links: &DeltaLinks) -> Result<(), StateError> {
    for (stream, link) in [
        (DeltaStream::Users, &links.users),
        (DeltaStream::Groups, &links.groups),
    ] {
        conn.execute(
            "INSERT INTO delta_links (stream, link, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(stream) DO UPDATE SET link = excluded.link, updated_at = excluded.updated_at",
            params![stream, link, now_ms()],
        )?;
    }
    Ok(())
}

mod error;
mod intents;
mod journal;
mod kinds;
pub mod lock;
mod manual;
pub mod quarantine;
mod runs;

pub use error::StateError;
pub use kinds::{DeltaStream, UnknownStream};
pub use lock::{LockError, WriterLock};
pub use manual::Decision;

#[cfg(test)]
mod tests;
