//! A broken or hostile application, served over loopback by a few lines of axum: redirects are
//! not followed (the second host receives nothing), crafted ids never reach a URL, and oversized
//! or endless bodies end in a clear error after a bounded read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::harness::client_for;
use crate::http::body::MAX_PAGE_BYTES;
use crate::scim::payload::{NewUser, UserAttributes, UserPatch};
use crate::scim::{ScimError, WriteOp};
use crate::secret::Secret;

const TOKEN: &str = "hostile-test-token";
const PASSWORD: &str = "Default-Pa55word!";

/// Serves `app` on a loopback port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A server that counts every request it receives, whatever it is, and answers 201.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (StatusCode::CREATED, "{}")
        }
    });
    (serve(app).await, hits)
}

fn new_user() -> NewUser {
    NewUser {
        attributes: UserAttributes {
            user_name: "ann@contoso.example".into(),
            ..Default::default()
        },
        password: Some(Secret::new(PASSWORD)),
    }
}

#[tokio::test]
async fn a_create_redirected_elsewhere_is_not_followed_and_fails() {
    let (elsewhere, hits) = counting_server().await;
    for status in [301u16, 302, 303, 307, 308] {
        let location = format!("{elsewhere}/scim/v2/Users?token=x");
        let app = Router::new().fallback(move || {
            let location = location.clone();
            async move {
                Response::builder()
                    .status(status)
                    .header(header::LOCATION, location)
                    .body(Body::empty())
                    .unwrap()
            }
        });
        let url = serve(app).await;
        let client = client_for(&url, TOKEN);
        let error = client.create_user(&new_user()).await.unwrap_err();
        match &error {
            ScimError::Redirected {
                status: s,
                location,
                ..
            } => {
                assert_eq!(*s, status);
                assert_eq!(
                    location,
                    &format!("{elsewhere}/scim/v2/Users"),
                    "query dropped"
                );
            }
            other => panic!("{status}: {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains(&format!("{url}/Users")), "{message}");
        assert!(message.contains("does not follow redirects"), "{message}");
        assert!(!message.contains(PASSWORD) && !message.contains(TOKEN));
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the other host"
    );
}

#[tokio::test]
async fn a_redirected_group_patch_and_read_are_errors() {
    let (elsewhere, hits) = counting_server().await;
    let app = Router::new().fallback(move || {
        let elsewhere = elsewhere.clone();
        async move {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, elsewhere)],
            )
        }
    });
    let client = client_for(&serve(app).await, TOKEN);
    let patch = client.add_members("g1", &["u1".to_owned()]).await;
    assert!(
        matches!(patch, Err(ScimError::Redirected { .. })),
        "{patch:?}"
    );
    let read = client.list_users().await;
    assert!(
        matches!(read, Err(ScimError::Redirected { .. })),
        "{read:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn crafted_ids_never_reach_a_url() {
    let (url, hits) = counting_server().await;
    let client = client_for(&url, TOKEN);
    let crafted = "../Groups/6f1d0000-0000-4000-8000-000000000001";
    let error = client
        .patch_user(crafted, &UserPatch::active(false))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ScimError::UnsafeId { what: "user", .. }),
        "{error:?}"
    );
    assert!(
        message.contains("not a plain id") && message.contains(crafted),
        "{message}"
    );
    for id in ["..", "a/b", "x?y=1", "x#y", "%2e%2e", "a\u{1b}[2J"] {
        assert!(client.get_user(id).await.is_err());
        assert!(client.get_group(id).await.is_err());
        assert!(client.remove_member(id, "u").await.is_err());
        assert!(client.add_members(id, &["u".into()]).await.is_err());
    }
    // Through write_many with /Bulk advertised: the crafted op fails alone, the plain one is
    // written (one by one, since a crafted id must not go into a bulk path either).
    let capabilities = crate::scim::ServerCapabilities {
        bulk: Some((100, 1_000_000)),
        ..Default::default()
    };
    let ops = [
        WriteOp::PatchUser {
            id: crafted.into(),
            patch: UserPatch::active(false),
        },
        WriteOp::PatchUser {
            id: "plain-id".into(),
            patch: UserPatch::active(false),
        },
    ];
    let outcomes = client.write_many(&ops, &capabilities, 2).await;
    assert!(matches!(outcomes[0], Err(ScimError::UnsafeId { .. })));
    assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "only the plain id's request was sent"
    );
}

/// The process's peak resident memory in MiB (Linux), from `VmHWM` in `/proc/self/status`.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[tokio::test]
async fn an_endless_body_stops_at_the_ceiling_quickly() {
    // No Content-Length: the body streams 1 MiB chunks forever.
    let app = Router::new().fallback(|| async {
        let chunk = axum::body::Bytes::from(vec![b' '; 1024 * 1024]);
        let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "application/scim+json")
            .body(Body::from_stream(stream))
            .unwrap()
    });
    let client = client_for(&serve(app).await, TOKEN);
    let started = Instant::now();
    let error = client.list_users().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("larger than {MAX_PAGE_BYTES} bytes")),
        "{message}"
    );
}

#[tokio::test]
async fn a_300_mb_body_leaves_peak_memory_under_400_mb() {
    // 300 MiB without Content-Length, as a broken server would send a huge listing.
    let app = Router::new().fallback(|| async {
        let chunk = axum::body::Bytes::from(vec![b' '; 1024 * 1024]);
        let stream =
            futures::stream::iter((0..300).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
        Response::builder()
            .status(200)
            .body(Body::from_stream(stream))
            .unwrap()
    });
    let client = client_for(&serve(app).await, TOKEN);
    let error = client.list_users().await.unwrap_err();
    assert!(error.to_string().contains("larger than"), "{error}");
    if let Some(peak) = peak_rss_mib() {
        // Other tests may share this process (cargo test); nextest runs this one alone.
        assert!(peak < 400, "peak resident memory {peak} MiB");
    }
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_reading() {
    let app = Router::new().fallback(|| async {
        // Claims 1 GiB; only the header is ever sent.
        Response::builder()
            .status(200)
            .header(header::CONTENT_LENGTH, (1u64 << 30).to_string())
            .body(Body::from_stream(futures::stream::pending::<
                Result<axum::body::Bytes, std::io::Error>,
            >()))
            .unwrap()
    });
    let client = client_for(&serve(app).await, TOKEN);
    let started = Instant::now();
    let error = client.get_user("u1").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(error.to_string().contains("larger than"), "{error}");
}

#[tokio::test]
async fn a_huge_error_body_is_cut_and_still_reported() {
    let app = Router::new().fallback(|| async {
        let detail = "x".repeat(10 * 1024 * 1024);
        (
            StatusCode::BAD_REQUEST,
            json!({"schemas": [], "detail": detail}).to_string(),
        )
            .into_response()
    });
    let client = client_for(&serve(app).await, TOKEN);
    let error = client
        .patch_user("u1", &UserPatch::active(false))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert!(error.to_string().len() < 100 * 1024, "the detail is cut");
}
