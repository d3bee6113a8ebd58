//! The Graph calls of app registration with the administrator's delegated token, and the retry
//! of graph-notes §9.8's replication errors with backoff.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::secret::Secret;

/// A Graph answer that was not a success.
#[derive(Clone, Debug)]
pub struct GraphFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for GraphFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            write!(f, "HTTP {}: {}", self.status, self.message)
        } else {
            write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
        }
    }
}

impl GraphFailure {
    /// The object named is still replicating (graph-notes §9.8): try again shortly.
    pub fn is_replication(&self) -> bool {
        let m = self.message.as_str();
        (self.status == 400 && m.contains("does not reference a valid application object"))
            || (self.status == 403 && m.contains("backing application of the service principal"))
            || (self.status == 404 && self.code == "Request_ResourceNotFound")
            || (self.status == 400 && m.contains("Not a valid reference update"))
    }

    /// Throttling or a server-side hiccup: also worth another try.
    pub fn is_transient(&self) -> bool {
        self.status == 429 || self.status >= 500 || self.status == 0
    }

    pub fn is_denied(&self) -> bool {
        self.status == 403 && self.code == "Authorization_RequestDenied"
    }

    pub fn already_exists(&self) -> bool {
        self.status == 409 || self.message.contains("already exists on the object")
    }
}

/// Graph with the administrator's token.
pub struct AdminGraph {
    http: reqwest::Client,
    root: String,
    token: Secret,
}

impl AdminGraph {
    pub fn new(graph_url: &url::Url, token: Secret) -> Self {
        Self {
            http: crate::http::client(),
            root: format!("{}/v1.0", graph_url.as_str().trim_end_matches('/')),
            token,
        }
    }

    /// Sends one request; `Ok` with the JSON body (Null for 204), or the failure.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, GraphFailure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.root))
            .bearer_auth(self.token.expose())
            .header("client-request-id", uuid::Uuid::new_v4().to_string());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| GraphFailure {
            status: 0,
            code: String::new(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        // Read with a ceiling, as every Graph answer (crate::http::body).
        let limit = crate::http::body::MAX_PAGE_BYTES;
        let bytes = crate::http::body::read_capped(response, limit)
            .await
            .map_err(|e| GraphFailure {
                status,
                code: String::new(),
                message: e.to_string(),
            })?;
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status < 300 {
            return Ok(json);
        }
        Err(GraphFailure {
            status,
            code: json["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            message: json["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
        })
    }
}

/// Runs `op` until it succeeds or fails for a reason other than replication or throttling, or
/// until `bound` has passed; waits 1 s, 2 s, 4 s … (at most 16 s) between tries.
pub async fn with_replication_retry<T, F, Fut>(
    what: &str,
    bound: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
    mut op: F,
) -> Result<T, GraphFailure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GraphFailure>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(e) if (e.is_replication() || e.is_transient()) && start.elapsed() < bound => {
                progress(&format!(
                    "  {what}: Entra has not caught up yet ({}); trying again in {} s",
                    e.message,
                    delay.as_secs()
                ));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(16));
            }
            Err(e) => return Err(e),
        }
    }
}
