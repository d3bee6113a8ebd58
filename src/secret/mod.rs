//! Secrets and secret references: what the config file holds instead of a secret, and how each kind
//! of reference is resolved (OS keyring, environment variable, owner-only file).
//!
//! A secret's value lives in [`Secret`], which never prints itself: `Debug` and `Display` show
//! `[redacted]`, so a secret cannot reach a log line, an error message or a snapshot by accident.

mod keyring;
pub mod perms;
pub mod scrub;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use keyring::{KeyringBackend, keyring_backend};

/// A secret value. Prints as `[redacted]`; read it with [`Secret::expose`] at the point of use.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that must never be printed.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's value, for the one place that sends it (an HTTP header, a token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

// The value is overwritten when dropped, so that a secret no longer in use does not linger in
// freed memory (a core dump or a swapped-out page would otherwise hold it).
impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret is kept. This is what a secret field of the config file holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `keyring:SERVICE/ACCOUNT`: an entry in the OS keyring.
    Keyring { service: String, account: String },
    /// `env:VAR`: an environment variable of the adsync process.
    Env(String),
    /// `file:PATH`: a file that only its owner can read; surrounding white space is trimmed.
    File(PathBuf),
}

/// Why a secret field's text is not a usable reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    /// The text is not a reference at all: most likely the secret itself. The value is not kept.
    #[error(
        "holds what looks like the secret itself; secrets are never stored in the config file. \
         Store it with `adsync secret set keyring:adsync/NAME` (or `file:/path`) and put that \
         reference here instead"
    )]
    Literal,
    /// A `keyring:` reference without both parts.
    #[error(
        "`keyring:` references take the form keyring:SERVICE/ACCOUNT, e.g. keyring:adsync/target-token"
    )]
    BadKeyring,
    /// An `env:` reference without a valid variable name.
    #[error("`env:` references take the form env:VARIABLE_NAME (letters, digits and _)")]
    BadEnv,
    /// A `file:` reference that is not an absolute path.
    #[error("`file:` references take an absolute path, e.g. file:/etc/adsync/target-token")]
    BadFile,
}

impl FromStr for SecretRef {
    type Err = SecretRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix("keyring:") {
            let (service, account) = rest.split_once('/').ok_or(SecretRefError::BadKeyring)?;
            if service.trim().is_empty() || account.trim().is_empty() {
                return Err(SecretRefError::BadKeyring);
            }
            return Ok(Self::Keyring {
                service: service.to_owned(),
                account: account.to_owned(),
            });
        }
        if let Some(var) = text.strip_prefix("env:") {
            let valid = !var.is_empty()
                && !var.starts_with(|c: char| c.is_ascii_digit())
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return if valid {
                Ok(Self::Env(var.to_owned()))
            } else {
                Err(SecretRefError::BadEnv)
            };
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = PathBuf::from(path);
            return if path.is_absolute() {
                Ok(Self::File(path))
            } else {
                Err(SecretRefError::BadFile)
            };
        }
        Err(SecretRefError::Literal)
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keyring { service, account } => write!(f, "keyring:{service}/{account}"),
            Self::Env(var) => write!(f, "env:{var}"),
            Self::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl serde::Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a reference could not be resolved to a secret, or a secret not stored.
/// Messages name the reference (never the value) and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{reference}: no OS keyring is available here ({detail}). On a server without a desktop \
         session, keep the secret in a file instead: `adsync secret set file:/etc/adsync/NAME`"
    )]
    NoKeyring { reference: String, detail: String },
    #[error(
        "{reference}: the keyring has no such entry. Store it with `adsync secret set {reference}`"
    )]
    KeyringMissing { reference: String },
    #[error("{reference}: the keyring refused access ({detail}); unlock the keyring and try again")]
    KeyringFailed { reference: String, detail: String },
    #[error(
        "{reference}: the environment variable is not set (or is empty) in adsync's environment"
    )]
    EnvMissing { reference: String },
    #[error("{reference}: cannot read the file: {source}")]
    FileUnreadable {
        reference: String,
        #[source]
        source: std::io::Error,
    },
    /// The file (or its folder) others could read or change: see [`perms`].
    #[error("{reference}: {problem}")]
    FileUnsafe {
        reference: String,
        problem: perms::Unsafe,
    },
    /// Under systemd: a `file:` reference the unit does not pass (added or moved after
    /// `adsync service install`), which the service cannot read itself.
    #[error(
        "{reference}: the service was not given this file as a credential (was it added or moved \
         after `adsync service install`?) and cannot read it itself ({source}); run `adsync \
         service install` again so the unit passes it"
    )]
    NotPassed {
        reference: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{reference}: the secret is empty")]
    Empty { reference: String },
    #[error(
        "{reference}: an environment variable cannot be written by adsync; set it where adsync runs"
    )]
    EnvNotWritable { reference: String },
    #[error("{reference}: cannot write the file: {source}")]
    FileWrite {
        reference: String,
        #[source]
        source: std::io::Error,
    },
}

impl SecretRef {
    /// Reads the secret this reference points at.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        let reference = self.to_string();
        let value = match self {
            Self::Keyring { service, account } => keyring::get(service, account, &reference)?,
            Self::Env(var) => std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or(
                SecretError::EnvMissing {
                    reference: reference.clone(),
                },
            )?,
            // Under systemd the service reads its copy passed with `LoadCredential=`.
            Self::File(path) => match crate::service::credentials::systemd_credential(path) {
                Some(credential) => read_owner_only(&credential, &reference)?,
                None => read_owner_only(path, &reference).map_err(|error| match error {
                    // The service was given credentials, but not this one, and cannot read it.
                    SecretError::FileUnreadable { reference, source }
                        if crate::service::credentials::under_systemd_credentials() =>
                    {
                        SecretError::NotPassed { reference, source }
                    }
                    other => other,
                })?,
            },
        };
        if value.is_empty() {
            return Err(SecretError::Empty { reference });
        }
        // From now on, any text that echoes it (a server's error) is scrubbed.
        scrub::register(&value);
        Ok(Secret(value))
    }

    /// Stores `secret` where this reference points (keyring entry or a new 0600 file).
    pub fn store(&self, secret: &Secret) -> Result<(), SecretError> {
        let reference = self.to_string();
        match self {
            Self::Keyring { service, account } => {
                keyring::set(service, account, secret.expose(), &reference)
            }
            Self::Env(_) => Err(SecretError::EnvNotWritable { reference }),
            Self::File(path) => crate::fsutil::write_atomic(path, secret.expose().as_bytes())
                .map_err(|source| SecretError::FileWrite { reference, source }),
        }
    }
}

fn read_owner_only(path: &Path, reference: &str) -> Result<String, SecretError> {
    let unreadable = |source| SecretError::FileUnreadable {
        reference: reference.to_owned(),
        source,
    };
    perms::check(path, perms::Sensitivity::Private).map_err(|problem| SecretError::FileUnsafe {
        reference: reference.to_owned(),
        problem,
    })?;
    let mut text = std::fs::read_to_string(path).map_err(unreadable)?;
    let secret = text.trim().to_owned();
    zeroize::Zeroize::zeroize(&mut text);
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        let nested = Some(vec![secret.clone()]);
        assert!(!format!("{nested:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn parses_each_reference_kind_and_prints_it_back() {
        for text in [
            "keyring:adsync/target-token",
            "env:ADSYNC_TOKEN",
            "file:/etc/adsync/token",
        ] {
            let parsed: SecretRef = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn rejects_literals_and_malformed_references() {
        assert_eq!(
            "s3cr3t~value".parse::<SecretRef>(),
            Err(SecretRefError::Literal)
        );
        assert_eq!(
            "keyring:adsync".parse::<SecretRef>(),
            Err(SecretRefError::BadKeyring)
        );
        assert_eq!(
            "keyring:/acct".parse::<SecretRef>(),
            Err(SecretRefError::BadKeyring)
        );
        assert_eq!("env:1X".parse::<SecretRef>(), Err(SecretRefError::BadEnv));
        assert_eq!("env:".parse::<SecretRef>(), Err(SecretRefError::BadEnv));
        assert_eq!(
            "file:relative/path".parse::<SecretRef>(),
            Err(SecretRefError::BadFile)
        );
        // The literal's message must not contain the literal.
        let message = SecretRefError::Literal.to_string();
        assert!(message.contains("adsync secret set"));
    }

    #[test]
    fn env_reference_resolves_and_reports_absence() {
        // SAFETY: the variable name is unique to this test; no other thread reads it.
        unsafe { std::env::set_var("ADSYNC_TEST_SECRET_ENV_1", "from-env") };
        let r: SecretRef = "env:ADSYNC_TEST_SECRET_ENV_1".parse().unwrap();
        assert_eq!(r.resolve().unwrap().expose(), "from-env");
        let missing: SecretRef = "env:ADSYNC_TEST_SECRET_ENV_MISSING".parse().unwrap();
        let err = missing.resolve().unwrap_err().to_string();
        assert!(err.contains("env:ADSYNC_TEST_SECRET_ENV_MISSING"), "{err}");
        assert!(err.contains("not set"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn file_reference_requires_owner_only_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let r = SecretRef::File(path.clone());
        r.store(&Secret::new("file-secret\n")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(r.resolve().unwrap().expose(), "file-secret");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = r.resolve().unwrap_err();
        assert!(matches!(err, SecretError::FileUnsafe { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(!message.contains("file-secret"), "{message}");
    }

    #[test]
    fn missing_file_names_the_reference() {
        let r: SecretRef = "file:/nonexistent/adsync/secret".parse().unwrap();
        let message = r.resolve().unwrap_err().to_string();
        assert!(
            message.starts_with("file:/nonexistent/adsync/secret"),
            "{message}"
        );
    }
}
