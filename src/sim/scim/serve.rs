//! How the simulated application takes connections. By default like most servers: every
//! connection accepted at once and kept alive. With a [`Behaviour`], like the small servers
//! applications really run on: one connection per request, a few workers, a short listen backlog
//! (`scim2-server` as shipped: one request per connection and a backlog of 5). Clients that keep
//! more connection attempts open than the server takes overflow the backlog, and the kernel then
//! drops the attempt and retries it a second later, as it would against such a server.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sim::Server;

/// How the simulated application handles connections (all off by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Answer every request with `Connection: close`, so each request needs a new connection.
    pub close_connections: bool,
    /// Serve at most this many connections at once; more wait in the listen backlog, unaccepted.
    /// Implies `close_connections` (a kept-alive idle connection would hold a worker forever).
    pub workers: Option<usize>,
    /// The listen backlog: connection attempts the kernel queues while no worker accepts.
    pub backlog: Option<u32>,
}

impl Behaviour {
    /// Like `scim2-server` started as shipped: one connection per request, served one at a time,
    /// with a listen backlog of 5.
    pub fn like_scim2_server() -> Self {
        Self {
            close_connections: true,
            workers: Some(1),
            backlog: Some(5),
        }
    }

    /// Does any switch differ from an ordinary server?
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every request gets `Connection: close`?
    pub fn closes_connections(&self) -> bool {
        self.close_connections || self.workers.is_some()
    }
}

/// A listener that accepts a connection only when a worker is free.
struct Workers {
    listener: TcpListener,
    slots: Option<Arc<Semaphore>>,
}

/// An accepted connection holding its worker until it closes.
struct Connection {
    stream: TcpStream,
    _slot: Option<OwnedSemaphorePermit>,
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl axum::serve::Listener for Workers {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        // Wait for a free worker before accepting: meanwhile the kernel queues connection
        // attempts in the backlog, and drops those beyond it.
        let slot = match &self.slots {
            Some(slots) => Some(
                slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            None => None,
        };
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    return (
                        Connection {
                            stream,
                            _slot: slot,
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves `router` on `127.0.0.1:port` (0 = any free port) the way `behaviour` says.
pub(super) async fn start(router: Router, port: u16, behaviour: Behaviour) -> io::Result<Server> {
    if behaviour.is_default() {
        return Server::start(router, port).await;
    }
    let router = if behaviour.closes_connections() {
        router.layer(axum::middleware::map_response(
            |mut response: axum::response::Response| async move {
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                response
            },
        ))
    } else {
        router
    };
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let listener = socket.listen(behaviour.backlog.unwrap_or(1024))?;
    let addr = listener.local_addr()?;
    let workers = Workers {
        listener,
        slots: behaviour
            .workers
            .map(|n| Arc::new(Semaphore::new(n.max(1)))),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(workers, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::http::RetryPolicy;
    use crate::scim::{NewUser, ScimAuth, ScimClient, UserAttributes, WriteOp};
    use crate::secret::Secret;
    use crate::sim::scim::{ScimSim, Seed};
    use crate::sim::{Fault, FaultRule};

    async fn slow_small_server(latency_ms: u64) -> ScimSim {
        let sim = ScimSim::start_with(Seed::empty(), 0, Behaviour::like_scim2_server())
            .await
            .expect("start");
        sim.faults().add(
            FaultRule::new(
                "*",
                "/",
                1,
                Fault::Latency(Duration::from_millis(latency_ms)),
            )
            .times(u64::MAX),
        );
        sim
    }

    #[tokio::test]
    async fn a_small_server_closes_each_connection_and_serves_one_at_a_time() {
        let sim = slow_small_server(50).await;
        let http = reqwest::Client::new();
        let url = format!("{}/ServiceProviderConfig", sim.url());
        let started = Instant::now();
        let answers = futures::future::join_all(
            (0..4).map(|_| http.get(&url).bearer_auth(&sim.token).send()),
        )
        .await;
        let elapsed = started.elapsed();
        for answer in answers {
            let answer = answer.expect("answered");
            assert!(answer.status().is_success());
            assert_eq!(answer.headers()[axum::http::header::CONNECTION], "close");
        }
        // Four requests of 50 ms each, one at a time: at least 200 ms (at once would be 50).
        assert!(elapsed >= Duration::from_millis(195), "{elapsed:?}");
    }

    #[tokio::test]
    async fn the_client_finds_the_rate_a_one_worker_server_sustains() {
        let sim = slow_small_server(20).await;
        let client = ScimClient::new(&sim.url(), ScimAuth::Bearer(Secret::new(&sim.token)))
            .with_retry(RetryPolicy::fast())
            .with_max_concurrency(16);
        let ops: Vec<WriteOp> = (0..60)
            .map(|n| {
                WriteOp::CreateUser(NewUser {
                    attributes: UserAttributes {
                        user_name: format!("user{n}@contoso.example"),
                        external_id: Some(format!("ext-{n}")),
                        active: true,
                        ..UserAttributes::default()
                    },
                    password: None,
                })
            })
            .collect();
        let outcomes = client
            .write_many(&ops, &Default::default(), client.max_concurrency())
            .await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(sim.user_count(), 60);
        // Requests queued at the one worker make latency climb: the limit stays near what the
        // server takes (one served, a few queued) instead of growing to the ceiling of 16.
        let stats = client.concurrency_stats();
        assert!(stats.peak <= 5, "{stats:?}");
        assert!(stats.decreases >= 1, "{stats:?}");
    }
}
