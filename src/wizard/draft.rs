//! What the wizard has gathered so far, detached from the screen so a background job can own it:
//! the config file it stands for, the resolved [`Settings`], and clients built from secrets held
//! in memory (nothing is stored before Finish).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use super::steps::azure::{AzureStep, CredentialKind};
use super::steps::credentials::CredentialsStep;
use super::steps::pairing::PairRow;
use super::widgets::SecretInput;
use crate::config::{
    ConfigFile, EntraSection, Mapping, Pair, ScopeRule, ServiceSection, Settings, TargetAuthKind,
    TargetSection,
};
use crate::cycle::{CycleError, Planned};
use crate::entra::{GraphClient, TokenSource};
use crate::http::RetryPolicy;
use crate::scim::{ScimAuth, ScimClient};
use crate::secret::{Secret, SecretRef};
use crate::state::StateStore;
use crate::sync::{Links, SourceSnapshot, read_source};

/// Stands in for a secret that is typed but not stored yet; never resolved (the wizard's clients
/// get the typed value directly).
const UNSAVED: &str = "env:ADSYNC_WIZARD_UNSAVED_SECRET";

/// Where each secret of the config is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretRefs {
    pub target_token: Option<SecretRef>,
    pub target_password: Option<SecretRef>,
    pub entra_secret: Option<SecretRef>,
    pub default_password: Option<SecretRef>,
}

/// A snapshot of the wizard's fields.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub credentials: CredentialsStep,
    pub azure: AzureStep,
    pub pairs: Vec<PairRow>,
    pub scope: Vec<ScopeRule>,
    /// `policy.include_guests`, as step 4 shows it.
    pub include_guests: bool,
    /// `[[mappings]]`, as step 4's Attributes panel holds them.
    pub mappings: Vec<Mapping>,
    /// The config being edited (or the demo's): keys the wizard does not show are kept from it.
    pub base: Option<ConfigFile>,
}

fn placeholder(input: &SecretInput) -> Option<SecretRef> {
    if !input.typed.is_empty() {
        Some(UNSAVED.parse().expect("a valid env: reference"))
    } else {
        input.stored.clone()
    }
}

fn nonempty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl Draft {
    /// The references the config would hold if nothing new were stored (typed secrets get a
    /// placeholder): enough for [`Draft::settings`].
    fn placeholder_refs(&self) -> SecretRefs {
        SecretRefs {
            target_token: placeholder(&self.credentials.token),
            target_password: placeholder(&self.credentials.password),
            entra_secret: placeholder(&self.azure.client_secret),
            default_password: placeholder(&self.credentials.default_password),
        }
    }

    /// The config file these fields stand for, with the secrets kept where `refs` says.
    pub fn compose(&self, refs: &SecretRefs) -> ConfigFile {
        let base = self.base.clone();
        let c = &self.credentials;
        let a = &self.azure;
        let (client_secret, certificate) = match a.credential {
            CredentialKind::Secret => (refs.entra_secret.clone(), None),
            CredentialKind::Certificate => (None, Some(PathBuf::from(a.certificate.trim()))),
        };
        let (token, username, password) = match c.auth {
            TargetAuthKind::Bearer => (refs.target_token.clone(), None, None),
            TargetAuthKind::Basic => (None, nonempty(&c.username), refs.target_password.clone()),
        };
        let mut policy = base.as_ref().map(|b| b.policy.clone()).unwrap_or_default();
        policy.default_password = refs.default_password.clone();
        policy.include_guests = self.include_guests;
        let service = ServiceSection {
            dry_run: c.dry_run,
            ..base.as_ref().map(|b| b.service.clone()).unwrap_or_default()
        };
        ConfigFile {
            version: 1,
            entra: EntraSection {
                cloud: a.cloud,
                tenant: a.tenant.trim().to_owned(),
                client_id: a.client_id.trim().to_owned(),
                client_secret,
                certificate,
                authority_url: nonempty(&a.authority_url),
                graph_url: nonempty(&a.graph_url),
            },
            target: TargetSection {
                url: c.url.trim().to_owned(),
                auth: c.auth,
                token,
                username,
                password,
                admin_email: nonempty(&c.admin_email),
                max_concurrency: None,
                // Not edited by the wizard: kept from the file it opened.
                ca_file: base.as_ref().and_then(|b| b.target.ca_file.clone()),
            },
            pairs: self
                .pairs
                .iter()
                .enumerate()
                .map(|(i, p)| Pair {
                    entra_group_id: p.entra.id.clone(),
                    entra_group_name: Some(p.entra.name.clone()),
                    target_group_id: p.target.id.clone(),
                    target_group_name: Some(p.target.name.clone()),
                    order: i as u32 + 1,
                    nested: p.nested,
                    roles: p.roles.clone(),
                })
                .collect(),
            scope: self.scope.clone(),
            policy,
            service,
            mappings: self.mappings.clone(),
        }
    }

    /// The resolved settings (typed secrets as placeholders; the clients below use the values).
    pub fn settings(&self) -> Settings {
        Settings::from_file(&self.compose(&self.placeholder_refs()))
    }

    /// The state store's links when editing a config whose store exists; none for a new config
    /// (a plan against an empty store is what the first sync will do).
    pub fn links(&self, settings: &Settings) -> Result<Links, String> {
        Ok(self.stored(settings)?.0)
    }

    /// [`Draft::links`] and whether the store has applied a run before (a store whose first
    /// sync was cut off is not a lost one, R13).
    pub fn stored(&self, settings: &Settings) -> Result<(Links, bool), String> {
        let path = &settings.service.state_path;
        if self.base.is_none() || !path.exists() {
            return Ok((Links::default(), false));
        }
        StateStore::open(path)
            .and_then(|store| Ok((store.links()?, store.has_applied_runs()?)))
            .map_err(|e| format!("Reading the state store {} failed: {e}", path.display()))
    }
}

/// Reads a secret field on the blocking pool (a keyring or file read must not stall the runtime).
pub(crate) async fn secret(input: &SecretInput, field: &'static str) -> Result<Secret, String> {
    let input = input.clone();
    tokio::task::spawn_blocking(move || input.value(field))
        .await
        .map_err(|e| format!("{field}: {e}"))?
}

/// A SCIM client for step 1's fields, trusting `ca_file` (the opened config's `[target]
/// ca_file`, which the wizard keeps but does not show) as the service will.
pub(crate) async fn scim_client(
    credentials: &CredentialsStep,
    ca_file: Option<&std::path::Path>,
) -> Result<ScimClient, String> {
    let url = credentials.url.trim();
    let auth = match credentials.auth {
        TargetAuthKind::Bearer => {
            ScimAuth::Bearer(secret(&credentials.token, "Bearer token").await?)
        }
        TargetAuthKind::Basic => ScimAuth::Basic {
            username: credentials.username.trim().to_owned(),
            password: secret(&credentials.password, "Password").await?,
        },
    };
    let client = ScimClient::new(url, auth);
    match ca_file {
        Some(path) => crate::http::ca_certificates(path)
            .and_then(|roots| crate::http::client_trusting(&roots))
            .map(|http| client.with_http(http))
            .map_err(|e| format!("[target] ca_file: {e}")),
        None => Ok(client),
    }
}

/// A token source for step 2's fields.
pub(crate) async fn token_source(
    draft: &Draft,
    settings: &Settings,
) -> Result<TokenSource, String> {
    let policy = RetryPolicy::default();
    match draft.azure.credential {
        CredentialKind::Secret => {
            let value = secret(&draft.azure.client_secret, "Client secret").await?;
            Ok(TokenSource::with_secret(&settings.entra, value, policy))
        }
        CredentialKind::Certificate => {
            TokenSource::new(&settings.entra, policy).map_err(|e| format!("Certificate PEM: {e}"))
        }
    }
}

/// Both clients, for reading groups, members and the plan before anything is saved.
pub(crate) struct Connections {
    pub settings: Settings,
    pub graph: GraphClient,
    pub scim: ScimClient,
}

impl Connections {
    pub(crate) async fn open(draft: &Draft) -> Result<Self, String> {
        let settings = draft.settings();
        let tokens = token_source(draft, &settings).await?;
        let graph =
            GraphClient::with_tokens(&settings.entra, Arc::new(tokens), RetryPolicy::default())
                .with_mappings(&settings.mappings);
        let ca_file = draft
            .base
            .as_ref()
            .and_then(|b| b.target.ca_file.as_deref());
        let scim = scim_client(&draft.credentials, ca_file).await?;
        Ok(Self {
            settings,
            graph,
            scim,
        })
    }

    /// The members of the paired groups (what step 4 searches).
    pub(crate) async fn source(&self, links: &Links) -> Result<SourceSnapshot, String> {
        read_source(&self.graph, &self.settings, links)
            .await
            .map_err(|e| format!("Reading the paired groups from Entra ID failed: {e}"))
    }

    /// The plan the engine would apply: both sides read, nothing written (the cycle's own read).
    /// With the snapshots it was made from (the preview links skipped users by hand from them).
    pub(crate) async fn plan(
        &self,
        links: &Links,
        applied_before: bool,
    ) -> Result<Planned, String> {
        crate::cycle::read_and_plan(
            &self.graph,
            &self.scim,
            &self.settings,
            links,
            applied_before,
        )
        .await
        .map_err(|e| match e {
            CycleError::ReadSource(e) => {
                format!("Reading the paired groups from Entra ID failed: {e}")
            }
            CycleError::ReadTarget(e) => format!("Reading the application failed: {e}"),
            other => other.to_string(),
        })
    }
}

/// A hash of everything that changes what the wizard would write or read (typed secrets
/// included; the hash stays in memory). Used to know when loaded data is stale, and whether
/// Cancel would lose changes.
pub(crate) fn fingerprint(parts: &[&dyn FingerprintPart]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.feed(&mut hasher);
    }
    hasher.finish()
}

/// Something that contributes to a [`fingerprint`].
pub(crate) trait FingerprintPart {
    fn feed(&self, hasher: &mut dyn Hasher);
}

impl FingerprintPart for CredentialsStep {
    fn feed(&self, mut h: &mut dyn Hasher) {
        (
            &self.url,
            self.auth,
            &self.token,
            &self.username,
            &self.password,
            &self.admin_email,
            &self.default_password,
            &self.default_password_again,
            self.dry_run,
        )
            .hash(&mut h);
    }
}

impl FingerprintPart for AzureStep {
    fn feed(&self, mut h: &mut dyn Hasher) {
        (
            self.cloud,
            &self.tenant,
            &self.client_id,
            self.credential,
            &self.client_secret,
            &self.certificate,
            &self.authority_url,
            &self.graph_url,
        )
            .hash(&mut h);
    }
}

impl FingerprintPart for Vec<PairRow> {
    fn feed(&self, mut h: &mut dyn Hasher) {
        for p in self {
            (&p.entra.id, &p.target.id, p.nested, &p.roles).hash(&mut h);
        }
    }
}

impl FingerprintPart for Vec<Mapping> {
    fn feed(&self, mut h: &mut dyn Hasher) {
        for m in self {
            serde_json::to_string(m)
                .expect("plain data serializes")
                .hash(&mut h);
        }
    }
}

impl FingerprintPart for Vec<String> {
    fn feed(&self, mut h: &mut dyn Hasher) {
        self.hash(&mut h);
    }
}

impl FingerprintPart for bool {
    fn feed(&self, mut h: &mut dyn Hasher) {
        self.hash(&mut h);
    }
}

impl FingerprintPart for Vec<ScopeRule> {
    fn feed(&self, mut h: &mut dyn Hasher) {
        for r in self {
            (r.attribute, r.operator, &r.value).hash(&mut h);
        }
    }
}
