//! Reading a config file for use: refusing one that others could change, validating its text, and
//! checking the files it names (`file:` secrets, the certificate's private key, `ca_file`) for the
//! same kind of exposure. Every command that reads the config, and the setup wizard, comes
//! through [`load`], so none of them trusts a file someone else could have edited.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::{ConfigError, ConfigFile, ConfigProblem, parse_str};
use crate::secret::perms::{self, Sensitivity};

/// Reads and validates a config file, reporting every problem at once.
pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    perms::check(path, Sensitivity::Config).map_err(|problem| ConfigError::Unsafe {
        path: path.to_owned(),
        problem,
    })?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |problems| ConfigError::Invalid {
        path: path.to_owned(),
        problems,
    };
    let file = parse_str(&text).map_err(invalid)?;
    let problems = named_files(&text);
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    Ok(file)
}

/// The problems of the files the (valid) config text names, each at its key and line.
fn named_files(text: &str) -> Vec<ConfigProblem> {
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    // Secret fields live in these tables; any `file:` value there is a secret reference.
    for section in ["entra", "target", "policy", "service"] {
        let Some(DeValue::Table(table)) = root.get_ref().get(section).map(|v| v.get_ref()) else {
            continue;
        };
        for (key, value) in table.iter() {
            let DeValue::String(text_value) = value.get_ref() else {
                continue;
            };
            let key = key.get_ref().as_ref();
            let (path, sensitivity) = match (section, key) {
                ("entra", "certificate") => {
                    (PathBuf::from(text_value.as_ref()), Sensitivity::Private)
                }
                ("target", "ca_file") => (PathBuf::from(text_value.as_ref()), Sensitivity::Public),
                _ => match text_value.strip_prefix("file:") {
                    Some(file) => (secret_file(Path::new(file)), Sensitivity::Private),
                    None => continue,
                },
            };
            let mut problem = perms::check(&path, sensitivity)
                .err()
                .map(|p| p.to_string());
            if problem.is_none() && key == "ca_file" {
                // A CA file that cannot be used is a config error now, not a TLS failure later.
                problem = crate::http::ca_certificates(&path)
                    .err()
                    .map(|e| e.to_string());
            }
            if let Some(message) = problem {
                problems.push(ConfigProblem {
                    key: format!("{section}.{key}"),
                    line: line_of(text, value.span()),
                    message,
                });
            }
        }
    }
    problems
}

/// The file a `file:` secret is read from: the service's credential copy under systemd.
fn secret_file(path: &Path) -> PathBuf {
    crate::service::credentials::systemd_credential(path).unwrap_or_else(|| path.to_owned())
}

/// The 1-based line `span` starts on.
fn line_of(text: &str, span: Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text[..end].bytes().filter(|b| *b == b'\n').count() + 1
}
