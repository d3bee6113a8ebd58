//! One writer per state store (R13): an exclusive advisory lock on a file beside the SQLite file
//! (`STATE.lock`), taken by every command that writes to the target or the links (`sync`, `run`,
//! `link`, `unlink`, the wizard's first sync) and held until the process ends. The file holds who
//! holds it (pid, command, since when) so that a second writer can say which process is in its
//! way. The lock is the kernel's (`flock` on Unix, `LockFileEx` on Windows): it goes away with
//! the process however that ends, so a crash never leaves it stuck. Readers (`plan`, `explain`,
//! `history`, the wizard's preview) never take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a writer keeps trying before it reports the holder: long enough to ride out a reader
/// probing the lock (`history`), short enough that a second writer exits at once.
const PATIENCE: Duration = Duration::from_millis(300);

/// Who holds the lock, as written in the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holding process's id.
    pub pid: u32,
    /// The command it runs, e.g. `adsync run`.
    pub command: String,
    /// When it took the lock (milliseconds since the Unix epoch).
    pub since_ms: i64,
}

impl Holder {
    /// `pid 1234, `adsync run`, since 2026-12-01 02:41 UTC`.
    fn describe(&self) -> String {
        // `2026-12-01T02:41:07Z` → `2026-12-01 02:41 UTC`.
        let when = crate::time::format_time(self.since_ms);
        let minutes = when.get(..16).unwrap_or(&when).replacen('T', " ", 1);
        format!("pid {}, `{}`, since {minutes} UTC", self.pid, self.command)
    }
}

/// Why the writer lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another adsync ({}) is writing to {}; stop it or wait",
        holder.as_ref().map(Holder::describe).unwrap_or_else(|| "whose details could not be read".into()),
        state.display()
    )]
    Busy {
        state: PathBuf,
        holder: Option<Holder>,
    },
    /// The lock file cannot be opened or locked.
    #[error("{}: cannot lock the state store for writing: {source}. Check the directory's permissions ([service] state_path)", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The lock file of the state store at `state`: `STATE.lock` beside it.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The held writer lock; released when dropped or when the process ends.
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
}

impl WriterLock {
    /// Takes the writer lock of the state store at `state` for `command` (e.g. `adsync sync`),
    /// or says who holds it. Never waits more than a fraction of a second.
    pub fn acquire(state: &Path, command: &str) -> Result<Self, LockError> {
        let path = lock_path(state);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = open(&path).map_err(io)?;
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Busy {
                        state: state.to_owned(),
                        holder: read_holder(&path),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
        }
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_owned(),
            since_ms: super::now_ms(),
        };
        let text = serde_json::to_string(&holder).expect("holder serializes");
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // The holder details go with the lock; the kernel releases the lock itself on close.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Is a writer holding the lock of the state store at `state` right now? A reader's probe: it
/// takes a shared lock for an instant (a writer starting in that instant waits it out).
pub fn writer_active(state: &Path) -> Option<Holder> {
    let path = lock_path(state);
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => Some(read_holder(&path).unwrap_or(Holder {
            pid: 0,
            command: "adsync".into(),
            since_ms: 0,
        })),
        Err(TryLockError::Error(_)) => None,
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The holder written in the lock file. The holder writes it just after locking, so an empty file
/// is read again a few times before giving up.
fn read_holder(path: &Path) -> Option<Holder> {
    for _ in 0..10 {
        let mut text = String::new();
        // On Windows the locked range cannot be read by others: no details there.
        if File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
            && let Ok(holder) = serde_json::from_str::<Holder>(&text)
        {
            return Some(holder);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_holder_and_the_lock_goes_with_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.sqlite3");
        let first = WriterLock::acquire(&state, "adsync run").unwrap();
        assert_eq!(first.path(), dir.path().join("state.sqlite3.lock"));
        let held = writer_active(&state).expect("a writer is active");
        assert_eq!(held.pid, std::process::id());

        let started = std::time::Instant::now();
        let error = WriterLock::acquire(&state, "adsync sync").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        let text = error.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id()))
                && text.contains("`adsync run`")
                && text.contains(" UTC")
                && text.contains("state.sqlite3")
                && text.contains("stop it or wait"),
            "{text}"
        );

        drop(first);
        assert_eq!(writer_active(&state), None);
        let second = WriterLock::acquire(&state, "adsync sync").unwrap();
        drop(second);
    }

    #[test]
    fn the_holder_is_described_with_a_readable_utc_time() {
        let holder = Holder {
            pid: 1234,
            command: "adsync run".into(),
            // 2026-12-01T02:41:07Z
            since_ms: 1_796_092_867_000,
        };
        assert_eq!(
            holder.describe(),
            "pid 1234, `adsync run`, since 2026-12-01 02:41 UTC"
        );
    }
}
