//! What every command shares: the tokio runtime, loading the config with its problems printed,
//! reporting an error once, and writing output that tolerates a closed pipe.

use std::path::Path;

use super::Exit;
use crate::config::{self, ConfigError, Settings};
use crate::cycle::CycleError;

/// A small multi-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Loads and resolves the config; on failure prints every problem and returns exit 2.
pub fn load_settings(config_path: &Path) -> Result<Settings, Exit> {
    config::load(config_path)
        .map(|file| Settings::from_file(&file))
        .map_err(|e| fail(&CycleError::Config(e)))
}

/// Prints a cycle's error (a config's problems one per line, as `config validate` does) and
/// returns its exit code.
pub fn fail(error: &CycleError) -> Exit {
    match error.cause() {
        CycleError::Config(ConfigError::Invalid { path, problems }) => {
            for problem in problems {
                eprintln!("{}: {problem}", path.display());
            }
        }
        _ => eprintln!("error: {error}"),
    }
    error.exit()
}

/// Writes a command's output; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
