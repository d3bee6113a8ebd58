//! `adsync entra register` and the wizard's *Create it for me* (SPEC §4, graph-notes §9): the
//! administrator signs in once, and adsync makes the app registration with a certificate
//! generated on this machine, its service principal and the two Graph application permissions
//! with admin consent, then waits until the new app really gets a token carrying them.
//!
//! Every stage is reported through a progress callback; every failure is a [`RegisterError`]
//! that names what was made (so it can be found or removed) and what to do.

mod config;
mod graph;
mod signin;

pub use config::{ConfigEditError, ConfigTarget, read_target, write_entra};
pub use signin::{Opener, open_browser};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use self::graph::{AdminGraph, GraphFailure, with_replication_retry};
use super::{CertificateCredential, GROUP_MEMBER_READ_ALL, TokenSource, USER_READ_ALL};
use crate::config::{Cloud, EntraCredential, EntraSettings};
use crate::http::RetryPolicy;

/// The public client used to sign in by default: Microsoft Graph Command Line Tools
/// (graph-notes §9.2), the one Microsoft's own tutorial uses for this job.
pub const DEFAULT_PUBLIC_CLIENT: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
/// Microsoft Graph's application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The display name of the app registration unless `--name` says otherwise.
pub const DEFAULT_NAME: &str = "adsync";
/// The application permissions adsync needs (graph-notes §9.1).
pub const NEEDED_ROLES: [&str; 2] = [USER_READ_ALL, GROUP_MEMBER_READ_ALL];
/// The delegated scopes the administrator's sign-in asks for (graph-notes §9.3), exactly these.
pub const DELEGATED_SCOPES: [&str; 2] = [
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
];

/// How the administrator signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInFlow {
    /// Authorization code with PKCE in the system browser (the default).
    Browser,
    /// Device code, for a machine without a browser.
    DeviceCode,
}

/// Everything a registration needs to know.
#[derive(Clone, Debug)]
pub struct RegisterOptions {
    pub tenant: String,
    pub cloud: Cloud,
    /// The login root (the cloud's, or the config's `authority_url`).
    pub authority_url: url::Url,
    /// Graph's root (the cloud's, or the config's `graph_url`).
    pub graph_url: url::Url,
    /// The app registration's display name; a rerun with the same name adopts the app.
    pub display_name: String,
    pub flow: SignInFlow,
    /// The public client to sign in with.
    pub public_client: String,
    /// Where the PEM (certificate + private key, mode 0600) goes; an existing one is reused.
    pub certificate: PathBuf,
    /// How long to keep retrying each Graph step while Entra replicates (default 5 minutes).
    pub graph_bound: Duration,
    /// How long to wait for a token carrying both permissions (default 10 minutes).
    pub consent_bound: Duration,
    /// How the browser flow opens the sign-in page (the system browser by default).
    pub opener: Opener,
}

impl RegisterOptions {
    /// Options for `tenant` in `cloud` with the cloud's own endpoints and the defaults.
    pub fn new(tenant: &str, cloud: Cloud, certificate: PathBuf) -> Self {
        let endpoints = cloud.endpoints();
        Self {
            tenant: tenant.to_owned(),
            cloud,
            authority_url: endpoints.authority.parse().expect("a valid built-in URL"),
            graph_url: endpoints.graph.parse().expect("a valid built-in URL"),
            display_name: DEFAULT_NAME.to_owned(),
            flow: SignInFlow::Browser,
            public_client: DEFAULT_PUBLIC_CLIENT.to_owned(),
            certificate,
            graph_bound: Duration::from_secs(300),
            consent_bound: Duration::from_secs(600),
            opener: Opener::default(),
        }
    }

    /// The settings the new app signs in with.
    pub fn settings_for(&self, client_id: &str) -> EntraSettings {
        EntraSettings {
            cloud: self.cloud,
            tenant: self.tenant.clone(),
            client_id: client_id.to_owned(),
            credential: EntraCredential::Certificate(self.certificate.clone()),
            authority_url: self.authority_url.clone(),
            graph_url: self.graph_url.clone(),
            graph_scope: self.cloud.graph_scope(),
        }
    }
}

/// The ids of an app registration, for messages and for removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppIds {
    pub display_name: String,
    /// Application (client) ID.
    pub client_id: String,
    /// The application's object ID.
    pub object_id: String,
}

impl std::fmt::Display for AppIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "app registration \"{}\" (client ID {}, object ID {})",
            self.display_name, self.client_id, self.object_id
        )
    }
}

/// What a successful registration made or adopted.
#[derive(Clone, Debug)]
pub struct Registered {
    pub app: AppIds,
    /// The service principal's object ID.
    pub service_principal_id: String,
    /// True when an existing app of the same name was adopted instead of creating one.
    pub adopted: bool,
    /// The PEM the config names.
    pub certificate: PathBuf,
    /// Its SHA-1 thumbprint.
    pub thumbprint: String,
}

/// Why a registration stopped, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error(
        "sign-in failed: {0}. Conditional Access in this tenant blocks the device-code flow; \
         run the command again without --device-code to sign in in a browser"
    )]
    DeviceCodeBlocked(String),
    #[error(
        "the certificate {path} could not be made or read: {detail}. Remove or move that file \
         and run the command again"
    )]
    Certificate { path: PathBuf, detail: String },
    #[error(
        "the signed-in account may not create app registrations in this tenant ({failure}). \
         Sign in as an Application Administrator, Cloud Application Administrator or Global \
         Administrator (granting the permissions afterwards also needs Privileged Role \
         Administrator or Global Administrator)"
    )]
    CannotCreate { failure: String },
    #[error(
        "the signed-in account may not grant Microsoft Graph application permissions ({failure}): \
         that needs the Privileged Role Administrator or Global Administrator role. The {app} \
         was created and kept; ask such an administrator to grant admin consent at {consent_url} \
         (or run this command again as one: it adopts the app), or remove the app in the \
         portal's App registrations"
    )]
    CannotGrant {
        app: Box<AppIds>,
        failure: String,
        consent_url: String,
    },
    #[error(
        "{count} app registrations are named \"{name}\"; adsync will not guess which one to \
         adopt. Pass --name with a name of its own, or remove the extra ones in the portal's \
         App registrations"
    )]
    Ambiguous { name: String, count: usize },
    #[error(
        "Entra did not give the {app} a token with {roles} within {waited_secs} s ({last}). \
         The permissions were granted and may still be replicating: run `adsync check` in a few \
         minutes, or check and grant admin consent at {consent_url}"
    )]
    ConsentNotVisible {
        app: Box<AppIds>,
        roles: String,
        waited_secs: u64,
        last: String,
        consent_url: String,
    },
    #[error("{step} failed: {failure}{made}")]
    Graph {
        step: &'static str,
        failure: String,
        /// ". The app registration … was created" when something was.
        made: String,
    },
}

fn made(app: Option<&AppIds>) -> String {
    app.map(|a| {
        format!(
            ". The {a} was created; run the command again to adopt and finish it, or remove it \
             in the portal's App registrations"
        )
    })
    .unwrap_or_default()
}

/// Signs the administrator in, creates (or adopts) the app registration and waits until it gets
/// a token with both permissions. `progress` gets one line per stage.
pub async fn register(
    options: &RegisterOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Registered, RegisterError> {
    let graph_host = options.cloud.endpoints().graph;
    let signin = signin::SignIn {
        authority_tenant: format!(
            "{}/{}",
            options.authority_url.as_str().trim_end_matches('/'),
            options.tenant
        ),
        client_id: &options.public_client,
        scopes: ["openid", "profile", "offline_access"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(DELEGATED_SCOPES.iter().map(|s| format!("{graph_host}/{s}")))
            .collect(),
        opener: &options.opener,
    };
    let token = match options.flow {
        SignInFlow::Browser => signin::browser(&signin, progress).await?,
        SignInFlow::DeviceCode => signin::device_code(&signin, progress).await?,
    };
    progress("Signed in.");
    let graph = AdminGraph::new(&options.graph_url, token);
    let certificate = load_or_generate(options)?;
    let (app, adopted) = create_or_adopt(&graph, options, &certificate, progress).await?;
    let consent_url = super::admin_consent_url(&options.settings_for(&app.client_id));
    let sp_id = service_principal(&graph, options, &app, progress).await?;
    progress(&format!("Service principal ready (object ID {sp_id})."));
    grant(&graph, options, &app, &sp_id, &consent_url, progress).await?;
    progress(&format!(
        "Granted {} with admin consent.",
        NEEDED_ROLES.join(" and ")
    ));
    wait_for_roles(options, &app, &consent_url, progress).await?;
    Ok(Registered {
        app,
        service_principal_id: sp_id,
        adopted,
        certificate: options.certificate.clone(),
        thumbprint: certificate.thumbprint,
    })
}

/// The certificate the app will hold: the existing PEM at the path, or a new one made here.
struct LocalCert {
    der: Vec<u8>,
    thumbprint: String,
    /// Validity in Unix seconds.
    not_before: i64,
    not_after: i64,
}

fn load_or_generate(options: &RegisterOptions) -> Result<LocalCert, RegisterError> {
    let path = &options.certificate;
    let failed = |detail: String| RegisterError::Certificate {
        path: path.clone(),
        detail,
    };
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        CertificateCredential::from_pem(&text).map_err(failed)?;
        let der = super::pem_blocks(&text)
            .into_iter()
            .find(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .ok_or_else(|| failed("no CERTIFICATE block".into()))?;
        let (not_before, not_after) = validity(&der).map_err(failed)?;
        return Ok(LocalCert {
            thumbprint: super::thumbprint_hex(&der),
            der,
            not_before,
            not_after,
        });
    }
    let subject = format!("adsync {}", options.tenant);
    let made = super::certificate::generate_certificate(path, &subject).map_err(failed)?;
    let (not_before, not_after) = validity(&made.der).map_err(failed)?;
    Ok(LocalCert {
        der: made.der,
        thumbprint: made.thumbprint,
        not_before,
        not_after,
    })
}

/// The certificate's validity in Unix seconds.
fn validity(der: &[u8]) -> Result<(i64, i64), String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    let v = &cert.tbs_certificate.validity;
    let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
    Ok((secs(v.not_before), secs(v.not_after)))
}

/// ISO-8601 UTC of Unix seconds.
fn iso(secs: i64) -> String {
    crate::time::format_time(secs * 1000)
}

fn key_credential(cert: &LocalCert) -> Value {
    json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64::engine::general_purpose::STANDARD.encode(&cert.der),
        "displayName": "CN=adsync",
        // One second inside the certificate's validity: Graph rejects dates outside it.
        "startDateTime": iso(cert.not_before + 1),
        "endDateTime": iso(cert.not_after - 1),
    })
}

async fn create_or_adopt(
    graph: &AdminGraph,
    options: &RegisterOptions,
    cert: &LocalCert,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(AppIds, bool), RegisterError> {
    let name = &options.display_name;
    let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
    let path = format!(
        "/applications?$filter={}&$select=id,appId,displayName",
        urlencode(&filter)
    );
    let lookup = |e: GraphFailure| {
        if e.is_denied() {
            RegisterError::CannotCreate {
                failure: e.to_string(),
            }
        } else {
            RegisterError::Graph {
                step: "looking for an existing app registration",
                failure: e.to_string(),
                made: String::new(),
            }
        }
    };
    let found = with_replication_retry("looking up apps", options.graph_bound, progress, || {
        graph.call(Method::GET, &path, None)
    })
    .await
    .map_err(lookup)?;
    let existing: Vec<&Value> = found["value"]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if existing.len() > 1 {
        return Err(RegisterError::Ambiguous {
            name: name.clone(),
            count: existing.len(),
        });
    }
    if let Some(app) = existing.first() {
        let ids = ids_of(app, name);
        progress(&format!("Adopting the existing {ids}."));
        // Keep its other certificates; add ours unless it is there already.
        let keys_path = format!("/applications/{}?$select=keyCredentials", ids.object_id);
        let failed = |e: GraphFailure| RegisterError::Graph {
            step: "adding the certificate to the existing app",
            failure: e.to_string(),
            made: String::new(),
        };
        let current = with_replication_retry(
            "reading its certificates",
            options.graph_bound,
            progress,
            || graph.call(Method::GET, &keys_path, None),
        )
        .await
        .map_err(failed)?;
        let keys: Vec<Value> = current["keyCredentials"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has_ours = keys.iter().any(|k| {
            k["customKeyIdentifier"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&cert.thumbprint))
        });
        if !has_ours {
            let mut all = keys;
            all.push(key_credential(cert));
            let patch = format!("/applications/{}", ids.object_id);
            graph
                .call(Method::PATCH, &patch, Some(&json!({"keyCredentials": all})))
                .await
                .map_err(failed)?;
            progress(&format!(
                "Added the certificate (thumbprint {}) to it.",
                cert.thumbprint
            ));
        }
        return Ok((ids, true));
    }
    let body = json!({
        "displayName": name,
        "signInAudience": "AzureADMyOrg",
        "requiredResourceAccess": [{
            "resourceAppId": GRAPH_APP_ID,
            "resourceAccess": [
                {"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"},
                {"id": "98830695-27a2-44f7-8c18-0c3ebc9698f6", "type": "Role"}
            ]
        }],
        "keyCredentials": [key_credential(cert)],
    });
    let created = with_replication_retry("creating the app", options.graph_bound, progress, || {
        graph.call(Method::POST, "/applications", Some(&body))
    })
    .await
    .map_err(|e| {
        if e.is_denied() {
            RegisterError::CannotCreate {
                failure: e.to_string(),
            }
        } else {
            RegisterError::Graph {
                step: "creating the app registration",
                failure: e.to_string(),
                made: String::new(),
            }
        }
    })?;
    let ids = ids_of(&created, name);
    progress(&format!(
        "Created the {ids} with the certificate (thumbprint {}).",
        cert.thumbprint
    ));
    Ok((ids, false))
}

fn ids_of(app: &Value, name: &str) -> AppIds {
    AppIds {
        display_name: app["displayName"].as_str().unwrap_or(name).to_owned(),
        client_id: app["appId"].as_str().unwrap_or_default().to_owned(),
        object_id: app["id"].as_str().unwrap_or_default().to_owned(),
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn service_principal(
    graph: &AdminGraph,
    options: &RegisterOptions,
    app: &AppIds,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<String, RegisterError> {
    let failed = |e: GraphFailure| {
        if e.is_denied() {
            RegisterError::CannotCreate {
                failure: format!("{e}{}", made(Some(app))),
            }
        } else {
            RegisterError::Graph {
                step: "creating the service principal",
                failure: e.to_string(),
                made: made(Some(app)),
            }
        }
    };
    let body = json!({"appId": app.client_id, "accountEnabled": true});
    let by_app_id = format!(
        "/servicePrincipals(appId='{}')?$select=id,appId",
        app.client_id
    );
    let answer = with_replication_retry(
        "creating the service principal",
        options.graph_bound,
        progress,
        || async {
            match graph
                .call(Method::POST, "/servicePrincipals", Some(&body))
                .await
            {
                // It exists already (an adopted app): read it instead.
                Err(e) if e.already_exists() => graph.call(Method::GET, &by_app_id, None).await,
                other => other,
            }
        },
    )
    .await
    .map_err(failed)?;
    Ok(answer["id"].as_str().unwrap_or_default().to_owned())
}

async fn grant(
    graph: &AdminGraph,
    options: &RegisterOptions,
    app: &AppIds,
    sp_id: &str,
    consent_url: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RegisterError> {
    let failed = |e: GraphFailure| {
        if e.is_denied() {
            RegisterError::CannotGrant {
                app: Box::new(app.clone()),
                failure: e.to_string(),
                consent_url: consent_url.to_owned(),
            }
        } else {
            RegisterError::Graph {
                step: "granting the Graph permissions",
                failure: e.to_string(),
                made: made(Some(app)),
            }
        }
    };
    let lookup = format!("/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,appId,appRoles");
    let graph_sp = with_replication_retry(
        "finding Microsoft Graph",
        options.graph_bound,
        progress,
        || graph.call(Method::GET, &lookup, None),
    )
    .await
    .map_err(failed)?;
    let graph_sp_id = graph_sp["id"].as_str().unwrap_or_default().to_owned();
    for role in NEEDED_ROLES {
        // By value, as Microsoft's own script does: hard-coded ids go wrong quietly.
        let role_id = graph_sp["appRoles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["value"] == role))
            .and_then(|r| r["id"].as_str())
            .ok_or_else(|| RegisterError::Graph {
                step: "granting the Graph permissions",
                failure: format!("Microsoft Graph in this tenant has no application role {role}"),
                made: made(Some(app)),
            })?
            .to_owned();
        let body = json!({"principalId": sp_id, "resourceId": graph_sp_id, "appRoleId": role_id});
        let path = format!("/servicePrincipals/{graph_sp_id}/appRoleAssignedTo");
        with_replication_retry(
            &format!("granting {role}"),
            options.graph_bound,
            progress,
            || async {
                match graph.call(Method::POST, &path, Some(&body)).await {
                    Err(e) if e.already_exists() => Ok(Value::Null),
                    other => other,
                }
            },
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}

/// Polls a client-credentials token for the new app (certificate assertion, never cached) until
/// its `roles` hold both permissions, or the bound passes.
async fn wait_for_roles(
    options: &RegisterOptions,
    app: &AppIds,
    consent_url: &str,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), RegisterError> {
    let settings = options.settings_for(&app.client_id);
    let credential = CertificateCredential::from_file(&options.certificate).map_err(|detail| {
        RegisterError::Certificate {
            path: options.certificate.clone(),
            detail,
        }
    })?;
    let tokens = Arc::new(TokenSource::with_certificate(
        &settings,
        credential,
        RetryPolicy::default(),
    ));
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    progress("Waiting for Entra to issue the app a token with the permissions…");
    loop {
        tokens.invalidate().await;
        let last = match tokens.token().await {
            Ok(token)
                if NEEDED_ROLES
                    .iter()
                    .all(|r| token.roles.iter().any(|t| t == r)) =>
            {
                progress(&format!(
                    "The app's token carries {} ({} s).",
                    NEEDED_ROLES.join(" and "),
                    start.elapsed().as_secs()
                ));
                return Ok(());
            }
            Ok(token) if token.roles.is_empty() => "its token has no roles yet".to_owned(),
            Ok(token) => format!("its token has only {}", token.roles.join(", ")),
            Err(e) => e.to_string().lines().next().unwrap_or_default().to_owned(),
        };
        let waited = start.elapsed();
        if waited >= options.consent_bound {
            return Err(RegisterError::ConsentNotVisible {
                app: Box::new(app.clone()),
                roles: NEEDED_ROLES.join(" and "),
                waited_secs: waited.as_secs(),
                last,
                consent_url: consent_url.to_owned(),
            });
        }
        let secs = waited.as_secs();
        progress(&format!(
            "  waiting for Entra: {}:{:02} ({last})",
            secs / 60,
            secs % 60
        ));
        tokio::time::sleep(delay.min(options.consent_bound.saturating_sub(waited))).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
