//! Signing in: the client-credentials grant (graph-notes §1) with a client secret or a certificate
//! assertion, through the `oauth2` crate, with throttling retried and the token cached until
//! shortly before it expires.

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use super::assertion::CertificateCredential;
use super::error::{AadErrorBody, EntraError, SignInContext};
use super::permissions;
use crate::config::{EntraCredential, EntraSettings};
use crate::http::RetryPolicy;
use crate::secret::Secret;

/// How long before its expiry a cached token is replaced.
pub const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// An app-only Graph access token.
#[derive(Clone)]
pub struct AccessToken {
    value: Secret,
    /// When it stops being valid (from `expires_in`).
    pub expires_at: Instant,
    /// The application permissions it carries (its `roles` claim).
    pub roles: Vec<String>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field("roles", &self.roles)
            .finish()
    }
}

impl AccessToken {
    /// The bearer value, for the `Authorization` header.
    pub fn secret(&self) -> &str {
        self.value.expose()
    }
}

enum Credential {
    Secret(Secret),
    Certificate(Box<CertificateCredential>),
}

/// Gets and caches tokens for one app registration.
pub struct TokenSource {
    tenant: String,
    client_id: String,
    scope: String,
    token_url: String,
    credential: Credential,
    http: reqwest::Client,
    policy: RetryPolicy,
    renew_before: Duration,
    cache: tokio::sync::Mutex<Option<AccessToken>>,
    requests: std::sync::atomic::AtomicU64,
}

/// The transport error of the token request: either the network, or an identity-platform error
/// body, which is handed back through `oauth2` untouched so its codes and ids survive.
#[derive(Debug, thiserror::Error)]
enum TokenHttpError {
    #[error("{0}")]
    Transport(String),
    #[error("identity platform error {0}")]
    Aad(u16, Box<AadErrorBody>),
    #[error("unexpected answer {0}: {1}")]
    Status(u16, String),
}

impl TokenSource {
    /// Loads the credential named in `settings` (resolving the secret reference or reading the
    /// certificate file). Nothing is sent yet.
    pub fn new(settings: &EntraSettings, policy: RetryPolicy) -> Result<Self, EntraError> {
        let credential = match &settings.credential {
            EntraCredential::Secret(reference) => Credential::Secret(
                reference
                    .resolve()
                    .map_err(|e| EntraError::Credential(e.to_string()))?,
            ),
            EntraCredential::Certificate(path) => Credential::Certificate(Box::new(
                CertificateCredential::from_file(path).map_err(EntraError::Credential)?,
            )),
        };
        Ok(Self::with_credential(settings, credential, policy))
    }

    /// A token source for a secret already in hand (the wizard's *Test connection*).
    pub fn with_secret(settings: &EntraSettings, secret: Secret, policy: RetryPolicy) -> Self {
        Self::with_credential(settings, Credential::Secret(secret), policy)
    }

    /// A token source for a certificate already loaded.
    pub fn with_certificate(
        settings: &EntraSettings,
        certificate: CertificateCredential,
        policy: RetryPolicy,
    ) -> Self {
        Self::with_credential(
            settings,
            Credential::Certificate(Box::new(certificate)),
            policy,
        )
    }

    fn with_credential(
        settings: &EntraSettings,
        credential: Credential,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            tenant: settings.tenant.clone(),
            client_id: settings.client_id.clone(),
            scope: settings.graph_scope.clone(),
            token_url: token_endpoint(settings),
            credential,
            http: no_redirect_client(),
            policy,
            renew_before: RENEW_BEFORE,
            cache: tokio::sync::Mutex::new(None),
            requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Changes how long before expiry tokens are renewed (tests use short-lived tokens).
    pub fn renew_before(mut self, margin: Duration) -> Self {
        self.renew_before = margin;
        self
    }

    /// How many token requests were sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one while it has more than the renewal margin left, else a new one.
    pub async fn token(&self) -> Result<AccessToken, EntraError> {
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.as_ref()
            && token.expires_at > Instant::now() + self.renew_before
        {
            return Ok(token.clone());
        }
        let token = self.request().await?;
        *cache = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token (after Graph said it is no longer valid).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    async fn request(&self) -> Result<AccessToken, EntraError> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token_url =
            TokenUrl::new(self.token_url.clone()).map_err(|e| EntraError::Transport {
                url: self.token_url.clone(),
                detail: e.to_string(),
            })?;
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(token_url)
            .set_auth_type(AuthType::RequestBody);
        let mut thumbprint = None;
        let assertion = match &self.credential {
            Credential::Secret(secret) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
                None
            }
            Credential::Certificate(cert) => {
                thumbprint = Some(cert.thumbprint());
                Some(
                    cert.assertion(&self.client_id, &self.token_url)
                        .map_err(EntraError::Credential)?,
                )
            }
        };
        let mut request = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.scope.clone()));
        if let Some(assertion) = &assertion {
            request = request
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion.clone());
        }
        let http = self.http.clone();
        let policy = self.policy.clone();
        let send = move |req: oauth2::HttpRequest| {
            let http = http.clone();
            let policy = policy.clone();
            async move { send_token_request(&http, &policy, req).await }
        };
        let ctx = SignInContext {
            tenant: &self.tenant,
            client_id: &self.client_id,
            scope: &self.scope,
            thumbprint: thumbprint.as_deref(),
        };
        let response = request.request_async(&send).await.map_err(|e| match e {
            oauth2::RequestTokenError::Request(TokenHttpError::Aad(status, body)) => {
                body.into_error(status, &ctx)
            }
            oauth2::RequestTokenError::Request(TokenHttpError::Transport(detail)) => {
                EntraError::Transport {
                    url: self.token_url.clone(),
                    detail,
                }
            }
            oauth2::RequestTokenError::Request(TokenHttpError::Status(status, detail)) => {
                EntraError::Transport {
                    url: self.token_url.clone(),
                    detail: format!("HTTP {status}: {detail}"),
                }
            }
            oauth2::RequestTokenError::Parse(e, _) => EntraError::Transport {
                url: self.token_url.clone(),
                detail: format!("the token response is not valid: {e}"),
            },
            other => EntraError::Transport {
                url: self.token_url.clone(),
                detail: other.to_string(),
            },
        })?;
        let value = response.access_token().secret().clone();
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3599));
        let roles = permissions::roles_of(&value);
        Ok(AccessToken {
            value: Secret::new(value),
            expires_at: Instant::now() + lifetime,
            roles,
        })
    }
}

async fn send_token_request(
    http: &reqwest::Client,
    policy: &RetryPolicy,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let (parts, body) = req.into_parts();
    let url = parts.uri.to_string();
    let client_request_id = uuid::Uuid::new_v4().to_string();
    let response = crate::http::send_with_retry(policy, || {
        let mut builder = http
            .request(parts.method.clone(), &url)
            .header("client-request-id", &client_request_id)
            .body(body.clone());
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        builder
    })
    .await
    .map_err(|e| TokenHttpError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = crate::http::body::read_capped(response, crate::http::body::MAX_TOKEN_BYTES)
        .await
        .map_err(|e| TokenHttpError::Transport(e.to_string()))?;
    if status >= 400 {
        return match serde_json::from_slice::<AadErrorBody>(&bytes) {
            Ok(body) if !body.error.is_empty() => Err(TokenHttpError::Aad(status, Box::new(body))),
            _ => Err(TokenHttpError::Status(
                status,
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            )),
        };
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    builder
        .body(bytes.to_vec())
        .map_err(|e| TokenHttpError::Transport(e.to_string()))
}

/// The v2.0 token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_endpoint(settings: &EntraSettings) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        settings.authority_url.as_str().trim_end_matches('/'),
        settings.tenant
    )
}

/// A client that does not follow redirects (the oauth2 crate's advice against SSRF).
fn no_redirect_client() -> reqwest::Client {
    crate::http::with_proxies(reqwest::Client::builder())
        .user_agent(crate::http::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("the TLS backend is compiled in")
}
