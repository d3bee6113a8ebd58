//! Resolved settings: the config file with defaults applied, URLs parsed, cloud endpoints chosen,
//! pairs in precedence order and paths filled in. This is what the engine, the clients and the
//! service read; secrets stay as references until the moment they are used.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::file::*;
use super::mappings::Mapping;
use crate::secret::SecretRef;

/// Everything a sync needs to know, resolved from a valid [`ConfigFile`].
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub entra: EntraSettings,
    pub target: TargetSettings,
    /// Pairs sorted by `order` (highest precedence first).
    pub pairs: Vec<Pair>,
    pub scope: Vec<ScopeRule>,
    pub policy: PolicySection,
    pub service: ServiceSettings,
    /// `[[mappings]]` as written (SPEC §3.1); empty = the default mapping.
    pub mappings: Vec<Mapping>,
}

/// How to sign in to Entra ID and where Graph is.
#[derive(Clone, Debug, PartialEq)]
pub struct EntraSettings {
    pub cloud: Cloud,
    pub tenant: String,
    pub client_id: String,
    pub credential: EntraCredential,
    /// The login root; the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub authority_url: Url,
    /// Graph's root; requests go to `{graph_url}/v1.0/...`.
    pub graph_url: Url,
    /// The token scope: always the cloud's, even when `graph_url` is overridden.
    pub graph_scope: String,
}

/// The app registration's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntraCredential {
    Secret(SecretRef),
    /// A PEM file holding the certificate and its private key.
    Certificate(PathBuf),
}

/// The SCIM target.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSettings {
    /// The SCIM base URL, without a trailing slash.
    pub url: Url,
    pub auth: TargetAuth,
    pub admin_email: Option<String>,
    /// The most requests in flight to the target (`max_concurrency`, default 16).
    pub max_concurrency: usize,
    /// Extra CA certificates (PEM) trusted for the target (`ca_file`).
    pub ca_file: Option<PathBuf>,
}

/// How to authenticate to the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetAuth {
    Bearer(SecretRef),
    Basic {
        username: String,
        password: SecretRef,
    },
}

/// `[service]` with units and paths resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSettings {
    pub interval: Duration,
    pub full_sync_every: Duration,
    pub dry_run: bool,
    pub state_path: PathBuf,
    pub log_dir: PathBuf,
    /// Where alerts are POSTed (`[service] alert_webhook`), if anywhere.
    pub alert_webhook: Option<SecretRef>,
}

/// Why the settings cannot be used for a command.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "the config has no [[pairs]]; pair at least one Entra group with a target group \
         (run `adsync-setup`, or add a [[pairs]] section by hand)"
    )]
    NoPairs,
}

fn parse_url(text: &str) -> Url {
    let trimmed = text.trim_end_matches('/');
    Url::parse(trimmed).expect("URLs are checked when the config is parsed")
}

impl Settings {
    /// Resolves a validated config file.
    pub fn from_file(file: &ConfigFile) -> Self {
        let endpoints = file.entra.cloud.endpoints();
        let credential = match (&file.entra.client_secret, &file.entra.certificate) {
            (Some(secret), _) => EntraCredential::Secret(secret.clone()),
            (None, Some(path)) => EntraCredential::Certificate(path.clone()),
            (None, None) => unreachable!("a credential is required by the parser"),
        };
        let auth = match file.target.auth {
            TargetAuthKind::Bearer => {
                TargetAuth::Bearer(file.target.token.clone().expect("required by the parser"))
            }
            TargetAuthKind::Basic => TargetAuth::Basic {
                username: file
                    .target
                    .username
                    .clone()
                    .expect("required by the parser"),
                password: file
                    .target
                    .password
                    .clone()
                    .expect("required by the parser"),
            },
        };
        let mut pairs = file.pairs.clone();
        pairs.sort_by_key(|p| p.order);
        Self {
            entra: EntraSettings {
                cloud: file.entra.cloud,
                tenant: file.entra.tenant.clone(),
                client_id: file.entra.client_id.to_lowercase(),
                credential,
                authority_url: parse_url(
                    file.entra
                        .authority_url
                        .as_deref()
                        .unwrap_or(endpoints.authority),
                ),
                graph_url: parse_url(file.entra.graph_url.as_deref().unwrap_or(endpoints.graph)),
                graph_scope: file.entra.cloud.graph_scope(),
            },
            target: TargetSettings {
                url: parse_url(&file.target.url),
                auth,
                admin_email: file.target.admin_email.clone(),
                max_concurrency: file
                    .target
                    .max_concurrency
                    .map_or(crate::scim::DEFAULT_MAX_CONCURRENCY, |n| n as usize),
                ca_file: file.target.ca_file.clone(),
            },
            pairs,
            mappings: file.mappings.clone(),
            scope: file.scope.clone(),
            policy: file.policy.clone(),
            service: ServiceSettings {
                interval: Duration::from_secs(file.service.interval_secs),
                full_sync_every: Duration::from_secs(file.service.full_sync_hours * 3600),
                dry_run: file.service.dry_run,
                state_path: file
                    .service
                    .state_path
                    .clone()
                    .unwrap_or_else(|| crate::paths::data_dir().join("state.sqlite3")),
                log_dir: file
                    .service
                    .log_dir
                    .clone()
                    .unwrap_or_else(crate::paths::log_dir),
                alert_webhook: file.service.alert_webhook.clone(),
            },
        }
    }

    /// `plan`, `sync` and `run` need at least one pair.
    pub fn require_pairs(&self) -> Result<(), SettingsError> {
        if self.pairs.is_empty() {
            Err(SettingsError::NoPairs)
        } else {
            Ok(())
        }
    }

    /// Every secret reference in the settings, with the config key it came from.
    pub fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        let mut refs = Vec::new();
        if let EntraCredential::Secret(r) = &self.entra.credential {
            refs.push(("entra.client_secret", r));
        }
        match &self.target.auth {
            TargetAuth::Bearer(r) => refs.push(("target.token", r)),
            TargetAuth::Basic { password, .. } => refs.push(("target.password", password)),
        }
        if let Some(r) = &self.policy.default_password {
            refs.push(("policy.default_password", r));
        }
        if let Some(r) = &self.service.alert_webhook {
            refs.push(("service.alert_webhook", r));
        }
        refs
    }
}
