//! `adsync config validate | init | path`.

use std::path::Path;

use super::Exit;
use crate::config::{self, ConfigError, Settings};

pub fn validate(path: &Path) -> anyhow::Result<Exit> {
    match config::load(path) {
        Ok(file) => {
            let settings = Settings::from_file(&file);
            println!(
                "{}: valid ({} pair(s), {} scope rule(s))",
                path.display(),
                settings.pairs.len(),
                settings.scope.len()
            );
            if let Err(e) = settings.require_pairs() {
                println!("note: {e}");
            }
            Ok(Exit::Ok)
        }
        Err(ConfigError::Invalid { path, problems }) => {
            for problem in &problems {
                println!("{}: {problem}", path.display());
            }
            eprintln!(
                "{} problem(s) found; the config is not valid",
                problems.len()
            );
            Ok(Exit::Usage)
        }
        Err(other) => {
            eprintln!("error: {other}");
            Ok(Exit::Usage)
        }
    }
}

pub fn init(path: &Path, force: bool) -> anyhow::Result<Exit> {
    if path.exists() && !force {
        eprintln!(
            "error: {} already exists; it was left as it is. Use --force to replace it, or \
             --config to write somewhere else",
            path.display()
        );
        return Ok(Exit::Usage);
    }
    crate::fsutil::write_atomic(path, config::TEMPLATE.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: cannot write the config: {e}", path.display()))?;
    println!(
        "wrote {} (mode 0600). Fill in the REPLACE-ME values, then run `adsync config validate`.",
        path.display()
    );
    Ok(Exit::Ok)
}

pub fn path(path: &Path) -> anyhow::Result<Exit> {
    println!("config: {}", path.display());
    let (state, logs) = match config::load(path) {
        Ok(file) => {
            let s = Settings::from_file(&file);
            (s.service.state_path, s.service.log_dir)
        }
        Err(_) => (
            crate::paths::data_dir().join("state.sqlite3"),
            crate::paths::log_dir(),
        ),
    };
    println!("state:  {}", state.display());
    println!("logs:   {}", logs.display());
    Ok(Exit::Ok)
}
