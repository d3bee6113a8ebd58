//! An application whose user listing leaves out `totalResults` (R13): without it the end of the
//! listing cannot be told, so a page that looks like the last may not be. Issue 17 reproduced
//! adsync reading 100 of 2,927 users that way and planning 2,827 creates and unlinks. The
//! cycle must stop before its first write.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;

use super::hostile::proxy_target;
use super::*;

#[test]
fn a_user_listing_without_total_results_stops_the_cycle_before_any_write() {
    let w = World::new("");
    // A first sync links the members, so a partial listing would plan unlinks and creates.
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let users = w.scim.user_count();
    proxy_target(
        &w,
        Arc::new(move |method, path, _body| {
            (method == Method::GET && path == "/Users").then(|| {
                let page: Vec<Value> = (0..2)
                    .map(|i| {
                        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                               "id": format!("partial-{i}"),
                               "userName": format!("partial-{i}@example.com"), "active": true})
                    })
                    .collect();
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/scim+json")],
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                           "itemsPerPage": 2, "startIndex": 1, "Resources": page})
                    .to_string(),
                )
                    .into_response()
            })
        }),
    );
    let writes_before = w.scim_writes();
    for args in [&["plan"][..], &["sync"], &["sync", "--format", "json"]] {
        let run = w.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(
            run.all().contains("has no totalResults"),
            "{args:?}: the error names what was missing:\n{}",
            run.all()
        );
    }
    assert_eq!(w.scim_writes(), writes_before, "nothing is written");
    assert_eq!(w.scim.user_count(), users, "no account was created");
}
