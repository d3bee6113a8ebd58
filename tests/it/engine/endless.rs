//! An application that keeps answering listing pages: fresh users on every page and a
//! `totalResults` that grows as fast as they come. The listing stops after a bounded number of
//! pages with an incomplete-read error, and nothing is written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;

use super::hostile::proxy_target;
use super::*;

/// Results per page the endless listing serves.
const PER_PAGE: usize = 2;

#[test]
fn a_listing_that_never_ends_stops_after_bounded_pages_and_writes_nothing() {
    let w = World::new("");
    let pages = Arc::new(AtomicUsize::new(0));
    let served = pages.clone();
    proxy_target(
        &w,
        Arc::new(move |method, path, _body| {
            (method == Method::GET && path == "/Users").then(|| {
                let n = served.fetch_add(1, Ordering::SeqCst);
                let users: Vec<Value> = (0..PER_PAGE)
                    .map(|i| {
                        let id = format!("endless-{n}-{i}");
                        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                               "id": id, "userName": format!("{id}@example.com"),
                               "active": true})
                    })
                    .collect();
                // Always ten more than served so far: the end never comes.
                let total = (n + 1) * PER_PAGE + 10;
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/scim+json")],
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                           "totalResults": total, "itemsPerPage": PER_PAGE,
                           "startIndex": 1 + n * PER_PAGE, "Resources": users})
                    .to_string(),
                )
                    .into_response()
            })
        }),
    );
    let writes_before = w.scim_writes();
    let started = Instant::now();
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("kept answering pages"),
        "the error says what the server did:\n{}",
        run.all()
    );
    // The first page implied 6 pages (12 results, 2 a page): the budget is 2 x 6 + 10.
    let read = pages.load(Ordering::SeqCst);
    assert!(
        (22..=22 + 8).contains(&read),
        "{read} pages were read (the budget is 22, plus a few asked for at once)"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(w.scim_writes(), writes_before, "nothing is written");
}
