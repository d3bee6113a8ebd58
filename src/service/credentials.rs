//! systemd credentials: how a `file:` secret reference is found when the system service runs.
//!
//! The secret files stay where the administrator put them (e.g. `/etc/adsync/secrets/target-token`,
//! root-only, mode 0600), and the config keeps pointing at them, so `adsync check` run as root works
//! as it is. The service's unit passes each one with `LoadCredential=target-token:/etc/adsync/...`:
//! systemd reads it as root and exposes a copy readable only by the service's user as
//! `$CREDENTIALS_DIRECTORY/target-token`. When that variable is set and holds a file of the
//! reference's file name, the copy is read instead of the original.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Where the secret file `path` is found under systemd, if the service was given it as a
/// credential; `None` outside systemd or when no credential has that name.
pub fn systemd_credential(path: &Path) -> Option<PathBuf> {
    credential_in(std::env::var_os("CREDENTIALS_DIRECTORY").as_deref(), path)
}

/// [`systemd_credential`] with the credentials directory given.
pub fn credential_in(directory: Option<&OsStr>, path: &Path) -> Option<PathBuf> {
    let directory = Path::new(directory.filter(|d| !d.is_empty())?);
    let candidate = directory.join(path.file_name()?);
    candidate.is_file().then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_credential_of_the_same_file_name_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target-token"), "x").unwrap();
        let found = credential_in(
            Some(dir.path().as_os_str()),
            Path::new("/etc/adsync/secrets/target-token"),
        );
        assert_eq!(found, Some(dir.path().join("target-token")));
        // No credential of that name: the original path is used.
        assert_eq!(
            credential_in(Some(dir.path().as_os_str()), Path::new("/etc/adsync/other")),
            None
        );
        // Not under systemd.
        assert_eq!(
            credential_in(None, Path::new("/etc/adsync/secrets/target-token")),
            None
        );
        assert_eq!(
            credential_in(
                Some(OsStr::new("")),
                Path::new("/etc/adsync/secrets/target-token")
            ),
            None
        );
    }
}
