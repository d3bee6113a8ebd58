//! systemd credentials: how a `file:` secret reference is found when the system service runs.
//!
//! The secret files stay where the administrator put them (e.g. `/etc/adsync/secrets/target-token`,
//! root-only, mode 0600), and the config keeps pointing at them, so `adsync check` run as root works
//! as it is. The service's unit passes each one with `LoadCredential=ID:PATH`: systemd reads it as
//! root and exposes a copy readable only by the service's user as `$CREDENTIALS_DIRECTORY/ID`.
//!
//! The ID is the file's name and a short hash of its whole path ([`credential_id`]), so two
//! secrets of the same file name in different folders, or a reference added or changed after
//! `adsync service install`, can never be handed each other's copy: a reference whose ID the
//! service was not given is read from its own path, and when the service cannot read that,
//! the error says to run `adsync service install` again.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use sha2::Digest;

/// Where the secret file `path` is found under systemd, if the service was given it as a
/// credential; `None` outside systemd or when it was not given this file.
pub fn systemd_credential(path: &Path) -> Option<PathBuf> {
    credential_in(std::env::var_os("CREDENTIALS_DIRECTORY").as_deref(), path)
}

/// Is this process a service that systemd gave credentials (`$CREDENTIALS_DIRECTORY` set)?
pub fn under_systemd_credentials() -> bool {
    std::env::var_os("CREDENTIALS_DIRECTORY").is_some_and(|d| !d.is_empty())
}

/// [`systemd_credential`] with the credentials directory given.
pub fn credential_in(directory: Option<&OsStr>, path: &Path) -> Option<PathBuf> {
    let directory = Path::new(directory.filter(|d| !d.is_empty())?);
    let candidate = directory.join(credential_id(path)?);
    candidate.is_file().then_some(candidate)
}

/// The credential ID a secret file is passed under: its file name, `-`, and the first 8 hex
/// digits of the SHA-256 of its whole path, e.g. `target-token-a517f530` for
/// `/etc/adsync/secrets/target-token`. `None` for a path without a usable file name.
pub fn credential_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{name}-{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_file_name_and_a_hash_of_the_path() {
        let id = credential_id(Path::new("/etc/adsync/secrets/target-token")).unwrap();
        assert_eq!(id, "target-token-a517f530");
        // The same file name elsewhere gets another id: neither can shadow the other.
        let other = credential_id(Path::new("/root/other/target-token")).unwrap();
        assert!(other.starts_with("target-token-"), "{other}");
        assert_ne!(id, other);
        assert_eq!(credential_id(Path::new("/")), None);
    }

    #[test]
    fn reads_the_credential_of_that_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let given = Path::new("/etc/adsync/secrets/target-token");
        let id = credential_id(given).unwrap();
        std::fs::write(dir.path().join(&id), "x").unwrap();
        let found = credential_in(Some(dir.path().as_os_str()), given);
        assert_eq!(found, Some(dir.path().join(&id)));
        // A reference of the same file name in another folder, added after install: not given.
        assert_eq!(
            credential_in(
                Some(dir.path().as_os_str()),
                Path::new("/srv/elsewhere/target-token")
            ),
            None
        );
        // Nor is a credential under the bare file name, as units written before used.
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert_eq!(
            credential_in(Some(dir.path().as_os_str()), Path::new("/etc/adsync/other")),
            None
        );
        // Not under systemd.
        assert_eq!(credential_in(None, given), None);
        assert_eq!(credential_in(Some(OsStr::new("")), given), None);
    }
}
