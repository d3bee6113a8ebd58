//! A hostile or broken Graph, served over loopback by a few lines of axum (sign-in still goes
//! to the simulated tenant): a redirected read is an error and the other host receives nothing,
//! a missing `@odata.count` fails the read, a next link pointing at itself is caught, an endless
//! body stops at the ceiling, and an id that is not plain never reaches a URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::OriginalUri;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::*;

/// Serves `app` on a loopback port; returns its root URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A Graph client signing in at the simulated tenant and reading from `graph_url`.
fn graph_at(sim: &EntraSim, graph_url: &str) -> GraphClient {
    let mut settings = secret_settings(sim);
    settings.graph_url = graph_url.parse().unwrap();
    graph_with(&settings, SECRET)
}

/// A Graph answering every GET with `body(its own URL)`, counting requests.
async fn graph_answering(
    body: impl Fn(&str) -> serde_json::Value + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let base = root.clone();
    let app = Router::new().fallback(move |OriginalUri(uri): OriginalUri| {
        let (counter, body, base) = (counter.clone(), body.clone(), base.clone());
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let own = format!("{base}{uri}");
            (
                [(header::CONTENT_TYPE, "application/json")],
                body(&own).to_string(),
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (root, hits)
}

#[tokio::test]
async fn a_redirected_read_is_an_error_and_nothing_reaches_the_other_host() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (elsewhere, hits) = graph_answering(|_| json!({"value": [], "@odata.count": 0})).await;
    let app = Router::new().fallback(move || {
        let elsewhere = elsewhere.clone();
        async move {
            Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, format!("{elsewhere}/v1.0/groups?x=1"))
                .body(Body::empty())
                .unwrap()
        }
    });
    let graph = graph_at(&sim, &serve(app).await);
    let error = graph.list_groups().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, EntraError::Incomplete { .. }), "{error:?}");
    assert!(message.contains("302") && message.contains("does not follow redirects"));
    assert!(message.contains("/v1.0/groups"), "{message}");
    assert!(
        !message.contains("x=1"),
        "the Location's query is left out: {message}"
    );
    assert!(!message.contains(SECRET));
    assert!(graph.get_group(&gid(1)).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_count_that_was_asked_for_must_be_there() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (root, _) = graph_answering(|_| json!({"value": []})).await;
    let graph = graph_at(&sim, &root);
    let error = graph.list_users().await.unwrap_err().to_string();
    assert!(error.contains("no `@odata.count`"), "{error}");
    let error = graph
        .group_members(&gid(1), true)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no `@odata.count`"), "{error}");
}

#[tokio::test]
async fn a_next_link_pointing_at_itself_is_caught() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (root, hits) =
        graph_answering(|own| json!({"@odata.count": 1, "@odata.nextLink": own, "value": []}))
            .await;
    let graph = graph_at(&sim, &root);
    let error = graph.list_users().await.unwrap_err().to_string();
    assert!(error.contains("already followed"), "{error}");
    assert!(hits.load(Ordering::SeqCst) <= 3, "{hits:?}");

    // The same in a delta round.
    hits.store(0, Ordering::SeqCst);
    let error = graph.users_delta(None).await.unwrap_err().to_string();
    assert!(error.contains("already followed"), "{error}");
    assert!(hits.load(Ordering::SeqCst) <= 3, "{hits:?}");
}

#[tokio::test]
async fn next_links_that_never_end_stop_at_the_page_cap() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let n = counter.clone();
    let (root, hits) = graph_answering(move |own| {
        // A fresh link each time: only the page cap stops it.
        let i = n.fetch_add(1, Ordering::SeqCst);
        let base = own.split("/v1.0").next().unwrap();
        json!({"@odata.count": 1, "@odata.nextLink": format!("{base}/v1.0/users?page={i}"), "value": []})
    })
    .await;
    let graph = graph_at(&sim, &root).with_max_pages(200);
    let error = graph.list_users().await.unwrap_err().to_string();
    assert!(error.contains("more than 200 pages"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 200);
}

#[tokio::test]
async fn an_endless_body_stops_at_the_ceiling() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let app = Router::new().fallback(|| async {
        let chunk = Bytes::from(vec![b' '; 1024 * 1024]);
        let stream = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        Response::builder()
            .status(200)
            .body(Body::from_stream(stream))
            .unwrap()
    });
    let graph = graph_at(&sim, &serve(app).await);
    let started = Instant::now();
    let error = graph.list_groups().await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(error.contains("larger than"), "{error}");
}

#[tokio::test]
async fn ids_that_are_not_plain_never_reach_a_url() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (root, hits) = graph_answering(|_| json!({"value": [], "@odata.count": 0})).await;
    let graph = graph_at(&sim, &root);
    for id in ["..", "../users", "a/b", "a\u{0}b"] {
        let error = graph.get_group(id).await.unwrap_err().to_string();
        assert!(error.contains("not a plain id"), "{error}");
        assert!(graph.get_user(id).await.is_err());
        assert!(graph.group_members(id, false).await.is_err());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // A guest's UPN holds `#`: encoded, not refused.
    graph
        .get_user("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com")
        .await
        .unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

proptest::proptest! {
    /// Graph's error parser takes any body, JSON or not, and keeps at most 200 characters of a
    /// body that is not JSON.
    #[test]
    fn the_graph_error_parser_never_panics(
        value in crate::http::fuzz::json_value(),
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
    ) {
        let _ = crate::entra::error::GraphErrorBody::parse(value.to_string().as_bytes());
        let error = crate::entra::error::GraphErrorBody::parse(&bytes);
        if serde_json::from_slice::<Value>(&bytes).is_err() {
            proptest::prop_assert!(error.message.chars().count() <= 200);
        }
    }
}
