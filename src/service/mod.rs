//! Running `adsync run` as a background service: the service definitions for each OS (a systemd
//! system or per-user unit, a launchd plist, a Windows service), the `systemctl` calls that register
//! them, and the status report of `adsync service status`.
//!
//! Installing and removing it is [`install()`] and [`uninstall()`], which return a [`Report`]
//! of what they did; `adsync service` prints it and the setup wizard shows it.
//!
//! The definitions are plain text generated from a [`ServiceSpec`] so they can be tested here,
//! written by `adsync service install`, and shipped by the installers (the .deb carries the system
//! unit generated from [`ServiceSpec::packaged`], checked against it by a test).

pub mod credentials;
mod install;
pub mod launchd;
mod status;
mod systemctl;
pub mod systemd;
#[cfg(windows)]
pub mod windows;

use std::path::PathBuf;

pub use install::{
    InstallRequest, NotEnabled, Overrides, Report, Step, control, current_exe, default_scope,
    install, launchd_log_dir, launchd_target, running_as_root, service_config, uninstall,
};
pub use status::{Activity, ServiceStatus, Troubles, next_run_after, parse_time};
pub use systemctl::Systemctl;

use crate::config::{ConfigError, Settings};
use crate::secret::SecretRef;

/// The service's name: the systemd unit is `adsync.service`.
pub const SERVICE_NAME: &str = "adsync";
/// The systemd unit's file name.
pub const UNIT_NAME: &str = "adsync.service";
/// The system user the packaged service runs as (created by the .deb's `postinst`).
pub const SERVICE_USER: &str = "adsync";
/// Where the system service reads its config.
pub const SYSTEM_CONFIG: &str = "/etc/adsync/config.toml";
/// Where the system service keeps its state (`StateDirectory=adsync`).
pub const SYSTEM_STATE_DIR: &str = "/var/lib/adsync";
/// Where the system service writes its logs (`LogsDirectory=adsync`).
pub const SYSTEM_LOG_DIR: &str = "/var/log/adsync";
/// Where the .deb installs the binary.
pub const PACKAGED_EXE: &str = "/usr/bin/adsync";
/// Where the .deb installs its (not enabled) copy of the system unit.
pub const PACKAGED_UNIT: &str = "/lib/systemd/system/adsync.service";

/// Who the service runs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A system service started at boot, running as the `adsync` system user (needs root).
    System,
    /// A per-user service started at login, running as the user (a desktop install without root).
    User,
}

impl Scope {
    /// `system` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
        }
    }
}

/// A file systemd hands the service with `LoadCredential=ID:PATH`: it reads `path` as root before
/// the service starts and exposes it, owner-only, as `$CREDENTIALS_DIRECTORY/ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub id: String,
    pub path: PathBuf,
}

/// What a service definition runs: `EXE run --config CONFIG`, with the secret files it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The absolute path of the `adsync` binary.
    pub exe: PathBuf,
    /// The absolute path of the config file.
    pub config: PathBuf,
    /// Secret files passed with `LoadCredential=` (system units only).
    pub credentials: Vec<Credential>,
}

impl ServiceSpec {
    /// The definition the .deb ships: `/usr/bin/adsync run --config /etc/adsync/config.toml`.
    pub fn packaged() -> Self {
        Self {
            exe: PathBuf::from(PACKAGED_EXE),
            config: PathBuf::from(SYSTEM_CONFIG),
            credentials: Vec::new(),
        }
    }

    /// The command line the service runs, as separate arguments.
    pub fn arguments(&self) -> Vec<String> {
        vec![
            self.exe.display().to_string(),
            "run".into(),
            "--config".into(),
            self.config.display().to_string(),
        ]
    }
}

/// Why a service could not be defined, registered or controlled. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "the {what} {} is in a home directory, which the system service cannot see \
         (ProtectHome=yes). Put it under /etc/adsync (config) or /usr/local/bin (binary), or \
         install a per-user service with --user",
        path.display()
    )]
    HiddenByProtectHome { what: &'static str, path: PathBuf },
    #[error("{}", config_problem(.0))]
    Config(#[source] ConfigError),
    #[error(
        "the system user `{SERVICE_USER}` does not exist. The adsync package creates it; \
         without the package, create it with\n  useradd --system --user-group --home-dir \
         /var/lib/adsync --no-create-home --shell /usr/sbin/nologin {SERVICE_USER}\nand run \
         this again"
    )]
    NoSystemUser,
    #[error(
        "{why}. On a machine running systemd, run `{command}`; to run adsync here in the \
         foreground instead, use `adsync run`"
    )]
    NoSystemd { why: &'static str, command: String },
    #[error("the {scope} service is not installed; run `adsync service install{flag}` first")]
    NotInstalled {
        scope: &'static str,
        flag: &'static str,
    },
    #[error("{}: cannot give it to `{SERVICE_USER}`: {source}", path.display())]
    Chown {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write the unit file: {source}", path.display())]
    WriteUnit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot remove the unit: {source}", path.display())]
    RemoveUnit {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "two secret files get the credential ID `{id}` ({first} and {second}); rename one of \
         them (and its reference in the config)"
    )]
    DuplicateCredential {
        id: String,
        first: String,
        second: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
}

impl ServiceError {
    /// Is it the request that is wrong (the config, a path), rather than the machine?
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ServiceError::HiddenByProtectHome { .. } | ServiceError::Config(_)
        )
    }
}

/// A config the service could not run with, and what to do about it.
fn config_problem(error: &ConfigError) -> String {
    match error {
        ConfigError::Invalid { path, problems } => format!(
            "the service would not start with this config; fix the {} problem(s) in {} first:\n{}",
            problems.len(),
            path.display(),
            problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        ConfigError::Read { path, source } => format!(
            "{}: cannot read the config the service would use ({source}). Write it with the \
             setup wizard (`adsync-setup`) or `adsync config init --config {}`, or name another \
             with --config",
            path.display(),
            path.display()
        ),
        other => other.to_string(),
    }
}

/// The `LoadCredential=` entries for a config's `file:` secret references: each file is passed
/// under [`credentials::credential_id`], which is where [`credentials::systemd_credential`]
/// looks for it.
pub fn credentials_for(settings: &Settings) -> Result<Vec<Credential>, ServiceError> {
    let mut out: Vec<Credential> = Vec::new();
    for (_, reference) in settings.secret_refs() {
        let SecretRef::File(path) = reference else {
            continue;
        };
        let Some(id) = credentials::credential_id(path) else {
            continue;
        };
        match out.iter().find(|c| c.id == id) {
            Some(existing) if existing.path == *path => {}
            Some(existing) => {
                return Err(ServiceError::DuplicateCredential {
                    id,
                    first: existing.path.display().to_string(),
                    second: path.display().to_string(),
                });
            }
            None => out.push(Credential {
                id,
                path: path.clone(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
