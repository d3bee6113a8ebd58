//! Where adsync keeps its files when the config does not say: the platform's per-user directories,
//! or the directories systemd hands a service (`$CONFIGURATION_DIRECTORY`, `$STATE_DIRECTORY`,
//! `$LOGS_DIRECTORY`).

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "adsync")
}

fn systemd_dir(var: &str) -> Option<PathBuf> {
    // systemd may list several directories separated by ':'; the first is ours.
    let value = std::env::var_os(var)?;
    let first = value.to_string_lossy().split(':').next()?.to_owned();
    (!first.is_empty()).then(|| PathBuf::from(first))
}

/// The config directory (`~/.config/adsync` on Linux).
pub fn config_dir() -> PathBuf {
    systemd_dir("CONFIGURATION_DIRECTORY")
        .or_else(|| project().map(|p| p.config_dir().to_owned()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The data directory holding the state store (`~/.local/share/adsync` on Linux).
pub fn data_dir() -> PathBuf {
    systemd_dir("STATE_DIRECTORY")
        .or_else(|| project().map(|p| p.data_dir().to_owned()))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The log directory (`~/.local/state/adsync/logs` on Linux, beside the data elsewhere).
pub fn log_dir() -> PathBuf {
    systemd_dir("LOGS_DIRECTORY")
        .or_else(|| {
            project().map(|p| {
                p.state_dir()
                    .map(|s| s.to_owned())
                    .unwrap_or_else(|| p.data_dir().to_owned())
                    .join("logs")
            })
        })
        .unwrap_or_else(|| PathBuf::from("logs"))
}
