//! The OS keyring behind `keyring:` references, and the choice of backend.
//!
//! Linux has two: the D-Bus Secret Service (GNOME Keyring, KWallet), which a desktop session has and
//! which keeps secrets across reboots; and the kernel's keyutils store, which needs no daemon and
//! suits a headless service, but lives in RAM and is lost at reboot. adsync uses the Secret Service
//! when a D-Bus session bus is present and keyutils otherwise; `ADSYNC_KEYRING=secret-service` or
//! `ADSYNC_KEYRING=keyutils` forces one. macOS and Windows use their native stores (the login
//! keychain, the Credential Manager; compiled on no machine here). Where none works, callers get [`SecretError::NoKeyring`] telling them to use a `file:` reference.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error};

use super::SecretError;

/// Which OS keyring adsync talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyringBackend {
    /// The D-Bus Secret Service of a desktop session.
    SecretService,
    /// The Linux kernel key retention service (RAM only, lost at reboot).
    KeyUtils,
    /// The macOS login keychain, or the Windows Credential Manager.
    Native,
    /// No keyring backend exists on this platform build.
    Unsupported,
}

impl KeyringBackend {
    /// A short name for messages and `adsync check`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::SecretService => "Secret Service (desktop keyring)",
            Self::KeyUtils => "kernel keyutils (kept in memory until reboot)",
            Self::Native if cfg!(target_os = "macos") => "macOS keychain",
            Self::Native => "Windows Credential Manager",
            Self::Unsupported => "none",
        }
    }
}

/// The backend adsync will use in this process, from `ADSYNC_KEYRING` or the environment.
pub fn keyring_backend() -> KeyringBackend {
    if cfg!(any(target_os = "macos", windows)) {
        return KeyringBackend::Native;
    }
    if !cfg!(target_os = "linux") {
        return KeyringBackend::Unsupported;
    }
    match std::env::var("ADSYNC_KEYRING").as_deref() {
        Ok("secret-service") => KeyringBackend::SecretService,
        Ok("keyutils") => KeyringBackend::KeyUtils,
        _ if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() => {
            KeyringBackend::SecretService
        }
        _ => KeyringBackend::KeyUtils,
    }
}

#[cfg(target_os = "linux")]
fn store(backend: KeyringBackend) -> Result<Arc<CredentialStore>, Error> {
    match backend {
        KeyringBackend::SecretService => {
            let store: Arc<CredentialStore> = zbus_secret_service_keyring_store::Store::new()?;
            Ok(store)
        }
        KeyringBackend::KeyUtils => {
            let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()?;
            Ok(store)
        }
        KeyringBackend::Native | KeyringBackend::Unsupported => Err(Error::NoDefaultStore),
    }
}

/// macOS and Windows: the OS's own store, through keyring-core's native stores. NOT BUILT OR
/// TESTED: no macOS or Windows toolchain is available where this project is developed.
#[cfg(any(target_os = "macos", windows))]
fn store(_backend: KeyringBackend) -> Result<Arc<CredentialStore>, Error> {
    native_store()
}

/// The macOS login keychain (`apple-native-keyring-store`, its `keychain` store).
#[cfg(target_os = "macos")]
fn native_store() -> Result<Arc<CredentialStore>, Error> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

/// The Windows Credential Manager (`windows-native-keyring-store`).
#[cfg(windows)]
fn native_store() -> Result<Arc<CredentialStore>, Error> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn store(_backend: KeyringBackend) -> Result<Arc<CredentialStore>, Error> {
    Err(Error::NoDefaultStore)
}

fn entry(service: &str, account: &str, reference: &str) -> Result<Entry, SecretError> {
    let backend = keyring_backend();
    let no_keyring = |detail: String| SecretError::NoKeyring {
        reference: reference.to_owned(),
        detail,
    };
    let store = store(backend).map_err(|e| no_keyring(format!("{}: {e}", backend.describe())))?;
    store
        .build(service, account, None)
        .map_err(|e| no_keyring(format!("{}: {e}", backend.describe())))
}

fn map_error(error: Error, reference: &str) -> SecretError {
    let backend = keyring_backend().describe();
    match error {
        Error::NoEntry => SecretError::KeyringMissing {
            reference: reference.to_owned(),
        },
        Error::NoStorageAccess(e) => SecretError::KeyringFailed {
            reference: reference.to_owned(),
            detail: format!("{backend}: {e}"),
        },
        Error::NoDefaultStore => SecretError::NoKeyring {
            reference: reference.to_owned(),
            detail: backend.to_owned(),
        },
        Error::PlatformFailure(e) => SecretError::NoKeyring {
            reference: reference.to_owned(),
            detail: format!("{backend}: {e}"),
        },
        other => SecretError::KeyringFailed {
            reference: reference.to_owned(),
            detail: format!("{backend}: {other}"),
        },
    }
}

/// A process started from a plain shell (or a container) often has no session keyring it may use,
/// and keyutils then answers "access denied". Joining a session keyring of our own fixes that; the
/// store links its keys into the user's persistent keyring, so other adsync processes of the same
/// user find them. Called once, only after a denial.
#[cfg(target_os = "linux")]
fn join_session_keyring() -> bool {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = c"adsync";
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string and changes only
    // this process's session keyring.
    let id = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    id >= 0
}

#[cfg(not(target_os = "linux"))]
fn join_session_keyring() -> bool {
    false
}

/// Runs `op` on the entry; with keyutils, a denial is retried once from a session keyring of our own.
fn with_entry<T>(
    service: &str,
    account: &str,
    reference: &str,
    op: impl Fn(&Entry) -> Result<T, Error>,
) -> Result<T, SecretError> {
    let first = op(&entry(service, account, reference)?);
    match first {
        Err(Error::NoStorageAccess(_))
            if keyring_backend() == KeyringBackend::KeyUtils && join_session_keyring() =>
        {
            op(&entry(service, account, reference)?).map_err(|e| map_error(e, reference))
        }
        other => other.map_err(|e| map_error(e, reference)),
    }
}

pub(super) fn get(service: &str, account: &str, reference: &str) -> Result<String, SecretError> {
    with_entry(service, account, reference, |e| e.get_password())
}

pub(super) fn set(
    service: &str,
    account: &str,
    value: &str,
    reference: &str,
) -> Result<(), SecretError> {
    with_entry(service, account, reference, |e| e.set_password(value))
}
