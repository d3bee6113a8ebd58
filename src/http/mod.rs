//! HTTP plumbing shared by the Graph and SCIM clients: one `reqwest` client setup and the retry
//! policy for throttling and transient errors (R10), and the adaptive limit on requests in flight
//! to the application. Neither client follows redirects, and bodies are read with a ceiling
//! ([`body`]).

pub mod body;
#[cfg(test)]
pub(crate) mod fuzz;
mod limit;
mod path;
mod retry;

pub use limit::{AdaptiveLimit, INITIAL_LIMIT, LimitStats, Outcome, Permit};
pub use path::{path_segment, unplain_reason};
pub use retry::{
    Replay, RetryPolicy, is_retryable_status, parse_retry_after, send_limited, send_with_retry,
};

/// The `User-Agent` adsync sends, so server logs show who called.
pub const USER_AGENT: &str = concat!("adsync/", env!("CARGO_PKG_VERSION"));

/// A `reqwest` client with adsync's defaults: rustls, a user agent, connect and request timeouts,
/// and no redirects followed: a write redirected to another host would carry its body (a default
/// password) and credentials there, and a read redirected would be taken for the real answer.
/// Callers treat a 3xx as an error naming the URL and the `Location`.
pub fn client() -> reqwest::Client {
    builder().build().expect("the TLS backend is compiled in")
}

/// [`client`] that also trusts the CA certificates `roots` (`[target] ca_file`), beside the
/// built-in ones. Certificates are always verified: nothing in adsync turns verification off.
pub fn client_trusting(roots: &[reqwest::Certificate]) -> Result<reqwest::Client, CaFileError> {
    roots
        .iter()
        .fold(builder(), |b, root| b.add_root_certificate(root.clone()))
        .build()
        .map_err(|e| CaFileError::Rejected(e.to_string()))
}

fn builder() -> reqwest::ClientBuilder {
    with_proxies(reqwest::Client::builder())
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(120))
}

/// `detail` (a transport error's description) with, when the application's certificate was not
/// trusted, where a private CA goes: the generic "check the URL" advice does not fit that.
pub fn with_ca_hint(detail: String) -> String {
    if detail.contains("UnknownIssuer") || detail.contains("invalid peer certificate") {
        format!(
            "{detail} (the application's certificate is not trusted; if it comes from a private \
             CA, name that CA's PEM in `[target] ca_file`)"
        )
    } else {
        detail
    }
}

/// Why a CA file (`[target] ca_file`) cannot be used. The messages say what the file must hold.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not well-formed PEM ({detail}); it must hold one or more CA certificates, each \
         between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----"
    )]
    NotPem { path: String, detail: String },
    #[error(
        "{path} holds no certificate; it must hold one or more CA certificates in PEM, each \
         between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----"
    )]
    NoCertificate { path: String },
    #[error("{path}: certificate {index} is not a valid X.509 certificate ({detail})")]
    BadCertificate {
        path: String,
        index: usize,
        detail: String,
    },
    #[error("the TLS library refused the CA certificates: {0}")]
    Rejected(String),
}

/// The CA certificates in the PEM file `path`, each checked to be a well-formed X.509
/// certificate (other PEM blocks are ignored).
pub fn ca_certificates(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, CaFileError> {
    use x509_cert::der::Decode;
    let shown = path.display().to_string();
    let text = std::fs::read(path).map_err(|source| CaFileError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    let blocks = pem::parse_many(&text).map_err(|e| CaFileError::NotPem {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let mut roots = Vec::new();
    for block in blocks.iter().filter(|b| b.tag() == "CERTIFICATE") {
        let bad = |detail: String| CaFileError::BadCertificate {
            path: shown.clone(),
            index: roots.len() + 1,
            detail,
        };
        x509_cert::Certificate::from_der(block.contents()).map_err(|e| bad(e.to_string()))?;
        roots.push(
            reqwest::Certificate::from_der(block.contents()).map_err(|e| bad(e.to_string()))?,
        );
    }
    if roots.is_empty() {
        return Err(CaFileError::NoCertificate { path: shown });
    }
    Ok(roots)
}

/// Hosts never reached through a proxy, whatever `NO_PROXY` says: the simulators, a local
/// application or a test server on this machine. Through a proxy, a loopback URL would reach
/// the proxy's own machine, and the requests (a bearer token, a default password) the proxy.
const NEVER_PROXIED: &str = "localhost,127.0.0.0/8,::1";

/// `builder` with the proxies of the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, in
/// either case, and `NO_PROXY`), as `reqwest` would take them itself, except that loopback
/// addresses never go through one.
pub fn with_proxies(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok())
            .filter(|value| !value.trim().is_empty())
    };
    let no_proxy = match var(&["NO_PROXY", "no_proxy"]) {
        Some(list) => format!("{list},{NEVER_PROXIED}"),
        None => NEVER_PROXIED.to_owned(),
    };
    let all = var(&["ALL_PROXY", "all_proxy"]);
    let https = var(&["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone());
    let http = var(&["HTTP_PROXY", "http_proxy"]).or(all);
    let mut builder = builder.no_proxy();
    let proxies = [
        (
            "HTTPS_PROXY",
            https.map(|url| reqwest::Proxy::https(url.as_str())),
        ),
        (
            "HTTP_PROXY",
            http.map(|url| reqwest::Proxy::http(url.as_str())),
        ),
    ];
    for (name, proxy) in proxies {
        match proxy {
            Some(Ok(proxy)) => {
                builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
            }
            // The value is not printed: a proxy URL may hold a password.
            Some(Err(_)) => tracing::warn!("{name} is not a valid proxy URL; not using it"),
            None => {}
        }
    }
    builder
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server on loopback counting the requests it receives.
    async fn counting() -> (String, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, hits)
    }

    #[tokio::test]
    async fn loopback_never_goes_through_the_environment_proxy() {
        let (proxy, proxied) = counting().await;
        let (target, direct) = counting().await;
        // SAFETY: only this test makes requests to hosts that are not loopback, so no other
        // test depends on these variables; they are removed again at once.
        unsafe {
            std::env::set_var("HTTP_PROXY", &proxy);
            std::env::set_var("NO_PROXY", "example.org");
        }
        let client = super::client();
        unsafe {
            std::env::remove_var("HTTP_PROXY");
            std::env::remove_var("NO_PROXY");
        }
        for url in [target.clone(), target.replace("127.0.0.1", "localhost")] {
            client.get(&url).send().await.unwrap();
        }
        assert_eq!(direct.load(Ordering::SeqCst), 2);
        assert_eq!(
            proxied.load(Ordering::SeqCst),
            0,
            "loopback went to the proxy"
        );
        // Other hosts still go through it (the proxy answers for them here).
        client
            .get("http://adsync-proxy-test.invalid/")
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.load(Ordering::SeqCst), 1);
    }
}
