//! The simulators: a simulated Entra ID tenant and a simulated SCIM application, served over real
//! HTTP on loopback. Tests, benchmarks and `adsync-setup --demo` run against them. This module
//! holds what both share: the server handle, the request counter and the fault switches.

pub mod demo;
pub mod entra;
mod faults;
pub mod scim;
pub mod synth;

pub use faults::{Fault, FaultRule, Faults, PendingFaults};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Counts the requests a simulator served, by method and path, so tests and benchmarks can
/// assert on how many calls a sync made.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    inner: Arc<std::sync::Mutex<Vec<RecordedRequest>>>,
    total: Arc<AtomicU64>,
}

/// One request as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
}

impl RequestLog {
    /// Records a request.
    pub fn record(&self, method: &str, path: &str, query: Option<&str>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.inner.lock().unwrap().push(RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
        });
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Requests whose method is `method` (or any, with `"*"`) and whose path contains `fragment`.
    pub fn count(&self, method: &str, fragment: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .iter()
            .filter(|r| (method == "*" || r.method == method) && r.path.contains(fragment))
            .count()
    }

    /// A copy of every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.lock().unwrap().clone()
    }

    /// Forgets everything recorded (the counters start again at zero).
    pub fn clear(&self) {
        self.inner.lock().unwrap().clear();
        self.total.store(0, Ordering::Relaxed);
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Serves `router` on `127.0.0.1:port` (0 = any free port) on the current tokio runtime.
    pub async fn start(router: Router, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Axum middleware: records each request in `log`, then applies the generic fault switches
/// (throttle, error status, latency, malformed JSON) before or after the handler.
pub async fn observe(
    axum::extract::State((log, faults)): axum::extract::State<(RequestLog, Faults)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    log.record(&method, &path, request.uri().query());
    faults.apply(&method, &path, request, next).await
}
