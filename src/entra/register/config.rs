//! Reading what `adsync entra register` needs from a config that may not validate yet (no
//! `client_id`, no credential, or no file at all), and writing `[entra]` back atomically with
//! every other key and comment kept (`toml_edit` edits the document in place).

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, value};

use crate::config::Cloud;

/// Why the config could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigEditError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("cannot write {path}: {source}. Nothing in it was changed")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The `[entra]` keys a registration starts from (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigTarget {
    /// Whether the file exists.
    pub exists: bool,
    pub tenant: Option<String>,
    pub cloud: Option<Cloud>,
    pub authority_url: Option<String>,
    pub graph_url: Option<String>,
}

fn line_of(text: &str, item: &Item) -> usize {
    item.span()
        .map(|span| text[..span.start.min(text.len())].lines().count().max(1))
        .unwrap_or(0)
}

fn load(path: &Path) -> Result<Option<(String, DocumentMut)>, ConfigEditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigEditError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let doc = text
        .parse::<DocumentMut>()
        .map_err(|e| ConfigEditError::Invalid {
            path: path.to_owned(),
            detail: format!("not valid TOML: {e}Fix the file, or move it away to start a new one"),
        })?;
    Ok(Some((text, doc)))
}

/// Reads `[entra]`'s tenant, cloud, authority_url and graph_url, whatever else the file lacks.
pub fn read_target(path: &Path) -> Result<ConfigTarget, ConfigEditError> {
    let Some((text, doc)) = load(path)? else {
        return Ok(ConfigTarget::default());
    };
    let mut target = ConfigTarget {
        exists: true,
        ..Default::default()
    };
    let Some(entra) = doc.get("entra").and_then(Item::as_table_like) else {
        return Ok(target);
    };
    let text_key = |key: &str| -> Result<Option<String>, ConfigEditError> {
        match entra.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) if !s.trim().is_empty() && s != "REPLACE-ME" => {
                    Ok(Some(s.trim().to_owned()))
                }
                Some(_) => Ok(None),
                None => Err(ConfigEditError::Invalid {
                    path: path.to_owned(),
                    detail: format!(
                        "entra.{key} (line {}) must be a quoted string",
                        line_of(&text, item)
                    ),
                }),
            },
        }
    };
    target.tenant = text_key("tenant")?;
    target.authority_url = text_key("authority_url")?;
    target.graph_url = text_key("graph_url")?;
    if let Some(cloud) = text_key("cloud")? {
        target.cloud = Some(cloud.parse().map_err(|()| ConfigEditError::Invalid {
            path: path.to_owned(),
            detail: format!(
                "entra.cloud (line {}) is \"{cloud}\"; use one of {}",
                line_of(&text, entra.get("cloud").expect("read above")),
                Cloud::NAMES.join(", ")
            ),
        })?);
    }
    Ok(target)
}

/// Sets `[entra]` `tenant`, `client_id`, `certificate` and `cloud` (dropping a `client_secret`,
/// which the certificate replaces), keeping everything else; creates the file (mode 0600) when
/// there is none. The write is atomic.
pub fn write_entra(
    path: &Path,
    tenant: &str,
    client_id: &str,
    certificate: &Path,
    cloud: Cloud,
) -> Result<(), ConfigEditError> {
    let mut doc = match load(path)? {
        Some((_, doc)) => doc,
        None => "# adsync configuration: `adsync config init` writes a template with every key \
                 explained.\nversion = 1\n"
            .parse::<DocumentMut>()
            .expect("valid TOML"),
    };
    if !doc.contains_key("version") {
        doc["version"] = value(1);
    }
    if !doc.get("entra").is_some_and(Item::is_table_like) {
        doc["entra"] = toml_edit::table();
    }
    let entra = doc["entra"]
        .as_table_like_mut()
        .expect("made a table above");
    let set = |entra: &mut dyn toml_edit::TableLike, key: &str, text: &str| {
        match entra.get_mut(key).and_then(Item::as_value_mut) {
            // Keep the comment that follows the old value.
            Some(existing) => {
                let decor = existing.decor().clone();
                *existing = text.into();
                *existing.decor_mut() = decor;
            }
            None => {
                entra.insert(key, value(text));
            }
        }
    };
    set(entra, "cloud", cloud.as_str());
    set(entra, "tenant", tenant);
    set(entra, "client_id", client_id);
    set(entra, "certificate", &certificate.display().to_string());
    entra.remove("client_secret");
    crate::fsutil::write_atomic(path, doc.to_string().as_bytes()).map_err(|source| {
        ConfigEditError::Write {
            path: path.to_owned(),
            source,
        }
    })
}
