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

fn load_text(path: &Path) -> Result<Option<String>, ConfigEditError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigEditError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn not_toml(path: &Path, e: toml_edit::TomlError) -> ConfigEditError {
    ConfigEditError::Invalid {
        path: path.to_owned(),
        detail: format!("not valid TOML: {e}Fix the file, or move it away to start a new one"),
    }
}

/// Reads `[entra]`'s tenant, cloud, authority_url and graph_url, whatever else the file lacks.
pub fn read_target(path: &Path) -> Result<ConfigTarget, ConfigEditError> {
    let Some(text) = load_text(path)? else {
        return Ok(ConfigTarget::default());
    };
    // The read-only document keeps each value's position, for the line in messages.
    let doc = toml_edit::Document::parse(text.clone()).map_err(|e| not_toml(path, e))?;
    let mut target = ConfigTarget {
        exists: true,
        ..Default::default()
    };
    let Some(entra) = doc.as_table().get("entra").and_then(Item::as_table_like) else {
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
    let mut doc = match load_text(path)? {
        Some(text) => text.parse::<DocumentMut>().map_err(|e| not_toml(path, e))?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_writes_entra_keeping_other_keys_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "# top comment\nversion = 1\n[entra]\ncloud = \"global\"  # which cloud\ntenant = \"contoso.onmicrosoft.com\"\nclient_secret = \"keyring:adsync/x\"\n[target]\nurl = \"https://app.example.com/scim/v2\"  # the app\n[[pairs]]\nentra_group_id = \"g\"\ntarget_group_id = \"t\"\norder = 1\n",
        )
        .unwrap();
        let read = read_target(&path).unwrap();
        assert_eq!(read.tenant.as_deref(), Some("contoso.onmicrosoft.com"));
        assert_eq!(read.cloud, Some(Cloud::Global));
        write_entra(
            &path,
            "contoso.onmicrosoft.com",
            "11111111-2222-3333-4444-555555555555",
            Path::new("/etc/adsync/entra-adsync.pem"),
            Cloud::UsGovL4,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# top comment\nversion = 1\n"), "{text}");
        assert!(
            text.contains("cloud = \"usgov-l4\"  # which cloud"),
            "{text}"
        );
        assert!(text.contains("client_id = \"11111111-2222-3333-4444-555555555555\""));
        assert!(text.contains("certificate = \"/etc/adsync/entra-adsync.pem\""));
        assert!(
            !text.contains("client_secret"),
            "the certificate replaces it: {text}"
        );
        assert!(text.contains("url = \"https://app.example.com/scim/v2\"  # the app"));
        assert!(text.contains("[[pairs]]\nentra_group_id = \"g\""), "{text}");
    }

    #[test]
    fn register_creates_a_private_config_when_there_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join("config.toml");
        assert_eq!(read_target(&path).unwrap(), ConfigTarget::default());
        write_entra(&path, "t.example", "c", Path::new("/x.pem"), Cloud::Global).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("version = 1"), "{text}");
        assert!(
            text.contains("[entra]") && text.contains("tenant = \"t.example\""),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn register_names_the_key_and_line_of_a_bad_cloud() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "version = 1\n[entra]\n\ncloud = \"mars\"\n").unwrap();
        let err = read_target(&path).unwrap_err().to_string();
        assert!(err.contains("entra.cloud (line 4)"), "{err}");
        assert!(err.contains("global, usgov-l4, usgov-l5, china"), "{err}");
    }
}
