//! How listings are read: pages after the first asked for a few at once, short pages and a
//! server's own page size handled, and every way a listing can be incomplete refused. Each
//! test serves its own pages from a small server over loopback, shaped as the case needs.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use crate::scim::{ScimAuth, ScimClient, ScimError};
use crate::secret::Secret;

/// How the test server answers a page.
#[derive(Clone, Copy, Default)]
struct Shape {
    users: usize,
    /// The most results a page holds, whatever `count` asks.
    max_page: usize,
    /// Leave `totalResults` out of every page.
    no_total: bool,
    /// The page asked for at this `startIndex` holds only 3 results (and says so).
    short_at: Option<usize>,
    /// Each page takes this long, to see pages overlap.
    delay_ms: u64,
}

#[derive(Default)]
struct Seen {
    /// (startIndex, count) of each page asked for.
    asked: Mutex<Vec<(usize, usize)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

async fn page(
    State((shape, seen)): State<(Shape, Arc<Seen>)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let start: usize = query["startIndex"].parse().unwrap();
    let count: usize = query["count"].parse().unwrap();
    seen.asked.lock().unwrap().push((start, count));
    let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(shape.delay_ms)).await;
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut take = count.min(shape.max_page);
    if shape.short_at == Some(start) {
        take = take.min(3);
    }
    let resources: Vec<Value> = (start..start + take)
        .filter(|i| *i <= shape.users)
        .map(|i| json!({"id": format!("u{i:04}"), "userName": format!("user{i:04}@contoso.example")}))
        .collect();
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    if !shape.no_total {
        body["totalResults"] = json!(shape.users);
    }
    axum::Json(body)
}

async fn serve(shape: Shape) -> (ScimClient, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let router = axum::Router::new()
        .route("/Users", get(page))
        .with_state((shape, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = ScimClient::new(&url, ScimAuth::Bearer(Secret::new("t")));
    (client, seen)
}

fn ids(users: &[crate::scim::ScimUser]) -> Vec<String> {
    users.iter().map(|u| u.id.clone()).collect()
}

fn expected(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("u{i:04}")).collect()
}

#[tokio::test]
async fn pages_after_the_first_are_read_at_once_at_the_servers_page_size() {
    let shape = Shape {
        users: 95,
        max_page: 10,
        delay_ms: 40,
        ..Shape::default()
    };
    let (client, seen) = serve(shape).await;
    let users = client.list_users().await.expect("complete");
    assert_eq!(ids(&users), expected(95), "every user once, in order");
    let asked = seen.asked.lock().unwrap().clone();
    // The first page asks for the default size; the others for what the server gave.
    assert_eq!(asked[0], (1, crate::scim::DEFAULT_PAGE_SIZE));
    let rest: HashSet<(usize, usize)> = asked[1..].iter().copied().collect();
    let wanted: HashSet<(usize, usize)> = (1..10).map(|p| (1 + p * 10, 10)).collect();
    assert_eq!(rest, wanted);
    assert_eq!(asked.len(), 10, "no page read twice");
    let most = seen.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most > 1 && most <= crate::scim::client::LIST_CONCURRENCY,
        "pages overlapped, within the bound: {most}"
    );
}

#[tokio::test]
async fn a_short_page_in_the_middle_is_filled_in_before_the_next() {
    let shape = Shape {
        users: 50,
        max_page: 10,
        short_at: Some(21),
        ..Shape::default()
    };
    let (client, seen) = serve(shape).await;
    let users = client.list_users().await.expect("complete");
    assert_eq!(ids(&users), expected(50), "every user once, in order");
    let asked = seen.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&(24, 7)),
        "the 7 results the short page left out were asked for: {asked:?}"
    );
}

#[tokio::test]
async fn a_listing_without_total_results_is_incomplete() {
    for users in [0, 5, 25] {
        let shape = Shape {
            users,
            max_page: 10,
            no_total: true,
            ..Shape::default()
        };
        let (client, seen) = serve(shape).await;
        let error = client.list_users().await.expect_err("no totalResults");
        assert!(
            matches!(error, ScimError::Incomplete { .. }),
            "{users} users: {error:?}"
        );
        assert!(error.to_string().contains("totalResults"), "{error}");
        assert_eq!(
            seen.asked.lock().unwrap().len(),
            1,
            "nothing is read past a page that cannot tell the end"
        );
    }
}
