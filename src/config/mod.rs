//! The config file v1 (SPEC §3): the file as written ([`ConfigFile`]), loading with every problem
//! reported by key and line ([`load`]), atomic saving ([`save`]), and the resolved [`Settings`]
//! the rest of adsync works from.

mod file;
mod load;
mod mappings;
mod parse;
mod settings;
mod template;

use std::path::{Path, PathBuf};

pub use file::*;
pub use load::load;
pub use mappings::*;
pub use parse::{ConfigProblem, mapping_problems, parse_str};
// The wizard checks its fields with the same rules (and words) as the config file.
pub(crate) use parse::{check_email, check_guid, check_tenant, check_url, is_loopback_host};
pub use settings::*;
pub use template::TEMPLATE;

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{}: cannot read the config file: {source}. Create one with `adsync config init` or run \
         the setup wizard, or name another with --config",
        path.display()
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {} problem(s):\n{}", path.display(), problems.len(), render(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
    /// Others could change the file (or swap it): whoever can edit the config decides where
    /// adsync sends its tokens.
    #[error(
        "the config file {problem}. Whoever can change it decides where adsync sends its tokens"
    )]
    Unsafe {
        path: PathBuf,
        problem: crate::secret::perms::Unsafe,
    },
    #[error("{}: cannot write the config file: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn render(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the config lives when `--config` is not given: `$ADSYNC_CONFIG`, else the platform
/// config directory (`~/.config/adsync/config.toml` on Linux).
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ADSYNC_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    crate::paths::config_dir().join("config.toml")
}

/// Writes a config file atomically with mode 0600 (Unix).
pub fn save(path: &Path, config: &ConfigFile) -> Result<(), ConfigError> {
    let text = config.to_toml();
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
