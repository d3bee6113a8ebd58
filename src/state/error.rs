//! Why the state store could not be used ([`StateError`]), and what to do about it: a store
//! another process holds and a file that is not (or no longer) a store each get their own words,
//! instead of the generic "check the path and its permissions" that fits neither.

use std::path::PathBuf;

use rusqlite::ErrorCode;

use super::LockError;

/// Why the state store could not be used. Names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: cannot open the state store: {}", path.display(), explain(source, "Check the path and its permissions ([service] state_path)"))]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "{}: the state store was written by a newer adsync (schema {found}, this one knows up to \
         {known}); upgrade adsync rather than risk its links",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{}: cannot create its directory: {source}", path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state store: {}", explain(.0, ""))]
    Sql(#[from] rusqlite::Error),
    /// Another process is writing to this store (R13), or its lock file is unusable.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// `source` followed by what to do about it; `otherwise` when it is neither locked nor damaged.
fn explain(source: &rusqlite::Error, otherwise: &str) -> String {
    let code = match source {
        rusqlite::Error::SqliteFailure(error, _) => Some(error.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
            "{source}: another process holds it (an adsync, or a tool such as sqlite3 with it \
             open); let it finish or stop it, then try again"
        ),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => format!(
            "{source}: it is not an adsync state store, or it is damaged. Move it aside (keep it \
             for inspection) and run `adsync sync --rebuild-state`, which rebuilds the links from \
             the application's externalIds"
        ),
        _ if otherwise.is_empty() => source.to_string(),
        _ => format!("{source}. {otherwise}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StateError, StateStore};

    #[test]
    fn a_file_that_is_not_a_store_says_so_and_how_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let message = match StateStore::open(&path) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("a file of x's opened as a state store"),
        };
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("is not an adsync state store, or it is damaged"),
            "{message}"
        );
        assert!(message.contains("adsync sync --rebuild-state"), "{message}");
        assert!(!message.contains("permissions"), "{message}");
    }

    #[test]
    fn a_store_another_process_holds_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        let store = StateStore::open(&path).unwrap();
        // Another connection (as another process would) holds the write lock.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        store
            .conn
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        let error = store.begin_run("sync", false).unwrap_err();
        assert!(matches!(error, StateError::Sql(_)), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("another process holds it"), "{message}");
        other.execute_batch("ROLLBACK").unwrap();
    }
}
