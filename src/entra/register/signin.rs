//! The administrator's sign-in for app registration (graph-notes §9.2): authorization code with
//! PKCE through the system browser and a loopback redirect on 127.0.0.1, or the device-code flow
//! for a machine without a browser. Both go through the `oauth2` crate; the delegated token is
//! kept in memory only and never written anywhere.

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl,
    ExtraDeviceAuthorizationFields, PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::RegisterError;
use crate::secret::Secret;

/// How long the browser sign-in may take before adsync gives up.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Where to sign in and as which public client.
pub struct SignIn<'a> {
    /// `{authority}/{tenant}` without a trailing slash.
    pub authority_tenant: String,
    /// The public client's application id.
    pub client_id: &'a str,
    /// The delegated scopes, with the cloud's Graph host as prefix.
    pub scopes: Vec<String>,
    /// How the authorize URL reaches a browser.
    pub opener: &'a Opener,
}

/// How the browser flow shows the authorize URL: the system browser by default; the wizard's
/// demo passes one that plays the simulated administrator instead (no window to click in).
#[derive(Clone, Default)]
pub struct Opener(Option<Arc<OpenFn>>);

/// Opens a URL; false when nothing could be started.
type OpenFn = dyn Fn(&str) -> bool + Send + Sync;

impl Opener {
    /// An opener calling `open` with the URL; it returns false when nothing could be started.
    pub fn new(open: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(open)))
    }

    fn open(&self, url: &str) -> bool {
        match &self.0 {
            Some(open) => open(url),
            None => open_browser(url),
        }
    }
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Opener(custom)"
        } else {
            "Opener(system)"
        })
    }
}

/// Microsoft's device-code answer carries a ready-made `message` for the person.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct DeviceMessage {
    #[serde(default)]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for DeviceMessage {}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(crate::http::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("the TLS backend is compiled in")
}

fn url_error(what: &str, e: impl std::fmt::Display) -> RegisterError {
    RegisterError::SignIn(format!("the {what} URL is not valid: {e}"))
}

/// Turns the identity platform's answer into what the administrator should do.
fn sign_in_error<E: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    error: RequestTokenError<E, T>,
    device: bool,
) -> RegisterError {
    let text = match &error {
        RequestTokenError::ServerResponse(body) => serde_json::to_value(body).map_or_else(
            |_| error.to_string(),
            |v| {
                let code = v["error"].as_str().unwrap_or_default().to_owned();
                let description = v["error_description"].as_str().unwrap_or_default();
                format!("{code}: {}", description.lines().next().unwrap_or_default())
            },
        ),
        other => other.to_string(),
    };
    if text.contains("AADSTS53003") && device {
        return RegisterError::DeviceCodeBlocked(text);
    }
    if text.contains("AADSTS53003") {
        return RegisterError::SignIn(format!(
            "{text}. Conditional Access blocked this sign-in; sign in from a device your \
             organisation's policies allow, or ask an administrator."
        ));
    }
    if text.contains("AADSTS65001") || text.contains("AADSTS90094") || text.contains("AADSTS65002")
    {
        return RegisterError::SignIn(format!(
            "{text}. The sign-in client has no consent for Application.ReadWrite.All and \
             AppRoleAssignment.ReadWrite.All in this tenant: sign in as a Global Administrator \
             (who can consent), or pass --client-id with a public client your tenant allows."
        ));
    }
    if text.contains("AADSTS7000218") {
        return RegisterError::SignIn(format!(
            "{text}. The public client passed with --client-id does not allow public client \
             flows: turn on Authentication > Allow public client flows on that app registration."
        ));
    }
    RegisterError::SignIn(text)
}

/// Opens `url` in the browser: `$BROWSER URL` when set (how tests and terminals pick one), else
/// the system's default. False when nothing could be started.
pub fn open_browser(url: &str) -> bool {
    if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        return std::process::Command::new(browser)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .is_ok();
    }
    open::that_detached(url).is_ok()
}

/// Authorization code with PKCE: listens on 127.0.0.1, opens the browser at the authorize URL and
/// waits for the redirect carrying the code, then redeems it.
pub async fn browser(
    signin: &SignIn<'_>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Secret, RegisterError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            RegisterError::SignIn(format!(
                "cannot listen on 127.0.0.1 for the browser's answer ({e}); use --device-code"
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| RegisterError::SignIn(e.to_string()))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let client = BasicClient::new(ClientId::new(signin.client_id.to_owned()))
        .set_auth_uri(
            AuthUrl::new(format!("{}/oauth2/v2.0/authorize", signin.authority_tenant))
                .map_err(|e| url_error("authorize", e))?,
        )
        .set_token_uri(
            TokenUrl::new(format!("{}/oauth2/v2.0/token", signin.authority_tenant))
                .map_err(|e| url_error("token", e))?,
        )
        .set_redirect_uri(RedirectUrl::new(redirect).map_err(|e| url_error("redirect", e))?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(CsrfToken::new_random);
    for scope in &signin.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf) = request
        .set_pkce_challenge(challenge)
        .add_extra_param("prompt", "select_account")
        .url();
    let opened = signin.opener.open(url.as_str());
    progress(&if opened {
        format!("Sign in in the browser window that opened. If none did, open:\n  {url}")
    } else {
        format!("No browser could be opened. Open this address to sign in:\n  {url}")
    });
    let code = tokio::time::timeout(BROWSER_TIMEOUT, wait_for_code(&listener, csrf.secret()))
        .await
        .map_err(|_| {
            RegisterError::SignIn(format!(
                "no answer from the browser sign-in within {} minutes; run the command again, \
                 or use --device-code",
                BROWSER_TIMEOUT.as_secs() / 60
            ))
        })??;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .map_err(|e| sign_in_error(e, false))?;
    Ok(Secret::new(token.access_token().secret().clone()))
}

/// Serves the loopback redirect until a request carries `code` (or `error`) with our `state`.
async fn wait_for_code(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<String, RegisterError> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        while len < buf.len() {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..len]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let query: std::collections::HashMap<String, String> =
            url::Url::parse(&format!("http://127.0.0.1{target}"))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
        let (status, page, result) = match (query.get("code"), query.get("error")) {
            (Some(code), _) if query.get("state").map(String::as_str) == Some(state) => (
                "200 OK",
                "Signed in. You can close this tab and return to adsync.",
                Some(Ok(code.clone())),
            ),
            (_, Some(error)) => (
                "200 OK",
                "The sign-in did not succeed. Return to adsync to see why.",
                Some(Err(RegisterError::SignIn(format!(
                    "{error}: {}",
                    query.get("error_description").cloned().unwrap_or_default()
                )))),
            ),
            // Favicons and stray requests: answer and keep waiting.
            _ => ("404 Not Found", "Not found.", None),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(result) = result {
            return result;
        }
    }
}

/// The device-code flow: prints the server's message and polls until the administrator has
/// signed in on another device.
pub async fn device_code(
    signin: &SignIn<'_>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Secret, RegisterError> {
    let client = BasicClient::new(ClientId::new(signin.client_id.to_owned()))
        .set_token_uri(
            TokenUrl::new(format!("{}/oauth2/v2.0/token", signin.authority_tenant))
                .map_err(|e| url_error("token", e))?,
        )
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(format!(
                "{}/oauth2/v2.0/devicecode",
                signin.authority_tenant
            ))
            .map_err(|e| url_error("device code", e))?,
        );
    let mut request = client.exchange_device_code();
    for scope in &signin.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let http = http();
    let details: oauth2::DeviceAuthorizationResponse<DeviceMessage> = request
        .request_async(&http)
        .await
        .map_err(|e| sign_in_error(e, true))?;
    progress(&details.extra_fields().message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, open {} and enter the code {}.",
            details.verification_uri().as_str(),
            details.user_code().secret()
        )
    }));
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(|e| sign_in_error(e, true))?;
    Ok(Secret::new(token.access_token().secret().clone()))
}
