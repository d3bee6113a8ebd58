//! Each fault switch of the simulated application: throttling and 503/504 are retried; other
//! failures (500, malformed JSON, a cut page) are clear errors; latency is waited out. No error
//! text carries the token.

use std::time::{Duration, Instant};

use serde_json::json;

use super::harness::Target;
use crate::scim::{ScimError, ScimUser};
use crate::sim::{Fault, FaultRule};

async fn seeded(users: usize) -> Target {
    let users: Vec<_> = (0..users)
        .map(|i| json!({"userName": format!("user{i:02}@contoso.example"), "active": true}))
        .collect();
    let seed = crate::sim::scim::Seed {
        users,
        ..Default::default()
    };
    Target::sim_with(seed).await
}

fn assert_no_secret(t: &Target, error: &ScimError) {
    assert!(!error.to_string().contains(&t.token), "{error}");
    assert!(!format!("{error:?}").contains(&t.token), "{error:?}");
}

#[tokio::test]
async fn throttling_is_retried_honouring_retry_after() {
    let t = seeded(3).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults().add(
        FaultRule::new(
            "GET",
            "/Users",
            1,
            Fault::Throttle {
                retry_after_secs: 0.05,
            },
        )
        .times(2),
    );
    let started = Instant::now();
    let users = t.client.list_users().await.expect("retried");
    assert_eq!(users.len(), 3);
    assert_eq!(sim.log().count("GET", "/Users"), 3, "two 429s then success");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited Retry-After twice"
    );
}

#[tokio::test]
async fn unavailable_and_gateway_timeout_are_retried() {
    let t = seeded(1).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("PATCH", "/Users", 1, Fault::Status(503)));
    sim.faults()
        .add(FaultRule::new("PATCH", "/Users", 2, Fault::Status(504)));
    let user = ScimUser::from_json(&sim.users()[0]).expect("user");
    t.client.set_active(&user.id, false).await.expect("retried");
    assert_eq!(sim.log().count("PATCH", "/Users"), 3);
    assert!(!t.client.get_user(&user.id).await.expect("get").active);
}

#[tokio::test]
async fn persistent_unavailability_fails_clearly_after_the_attempts() {
    let t = seeded(1).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("GET", "/Users", 1, Fault::Status(503)).times(u64::MAX));
    let error = t.client.list_users().await.expect_err("gives up");
    assert_eq!(error.status(), Some(503));
    assert!(
        error.to_string().contains("Simulated failure 503"),
        "{error}"
    );
    assert_eq!(
        sim.log().count("GET", "/Users"),
        4,
        "RetryPolicy::fast makes 4 attempts"
    );
    assert_no_secret(&t, &error);
}

#[tokio::test]
async fn server_errors_are_not_retried_and_keep_the_scim_detail() {
    let t = seeded(1).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("GET", "/Users", 1, Fault::Status(500)));
    let error = t.client.list_users().await.expect_err("500");
    assert_eq!(error.status(), Some(500));
    assert!(
        error
            .to_string()
            .contains("failed with 500: Simulated failure 500"),
        "{error}"
    );
    assert_eq!(sim.log().count("GET", "/Users"), 1);
    assert_no_secret(&t, &error);
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response() {
    let t = seeded(2).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("GET", "/Users", 1, Fault::MalformedJson));
    let error = t.client.list_users().await.expect_err("malformed");
    assert!(
        matches!(error, ScimError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("malformed JSON"), "{error}");
    assert_no_secret(&t, &error);
}

#[tokio::test]
async fn a_cut_page_makes_the_listing_fail_as_incomplete() {
    let t = seeded(25).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("GET", "/Users", 2, Fault::CutPage));
    let client = t.client.clone().with_page_size(10);
    let error = client.list_users().await.expect_err("incomplete");
    assert!(matches!(error, ScimError::Incomplete { .. }), "{error:?}");
    assert!(error.to_string().contains("incomplete"), "{error}");
    assert_no_secret(&t, &error);
}

#[tokio::test]
async fn latency_is_waited_out() {
    let t = seeded(1).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults().add(FaultRule::new(
        "GET",
        "/Users",
        1,
        Fault::Latency(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    assert_eq!(t.client.list_users().await.expect("slow but fine").len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn unreachable_server_says_so_without_the_token() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    // Nothing listens on the port once the listener is dropped.
    let url = format!("http://127.0.0.1:{port}/scim/v2");
    let client = super::harness::client_for(&url, "secret-token-xyz");
    let error = client.discover().await.expect_err("unreachable");
    assert!(matches!(error, ScimError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot reach"), "{error}");
    assert!(!error.to_string().contains("secret-token-xyz"));
    assert!(
        !format!("{client:?}").contains("secret-token-xyz"),
        "the client's Debug hides it"
    );
}

fn newcomer(external_id: &str) -> crate::scim::NewUser {
    crate::scim::NewUser {
        attributes: crate::scim::UserAttributes {
            user_name: "new.comer@contoso.example".into(),
            external_id: Some(external_id.into()),
            active: true,
            email: Some("new.comer@contoso.example".into()),
            ..Default::default()
        },
        password: None,
    }
}

/// `user` with another userName and email.
fn named(mut user: crate::scim::NewUser, name: &str) -> crate::scim::NewUser {
    user.attributes.user_name = name.into();
    user.attributes.email = Some(name.into());
    user
}

/// R13: a create the application committed but answered with a 504 is looked up by externalId
/// and returned as the create it was, not sent again.
#[tokio::test]
async fn a_create_committed_then_answered_504_is_found_not_sent_again() {
    let t = seeded(1).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("POST", "/Users", 1, Fault::StatusAfter(504)));
    let created = t
        .client
        .create_user(&newcomer("e-504"))
        .await
        .expect("found after the 504");
    assert!(!created.already_existed, "it is the create it was");
    assert_eq!(created.user.external_id.as_deref(), Some("e-504"));
    assert_eq!(sim.log().count("POST", "/Users"), 1, "not sent again");
    assert_eq!(sim.user_count(), 2);
}

/// A create refused with a 503 before anything was committed is looked up, found absent, and
/// only then sent again; a 500 that committed nothing likewise; a 400 is not retried at all.
#[tokio::test]
async fn a_create_that_failed_uncommitted_is_sent_again_only_after_a_lookup() {
    let t = seeded(0).await;
    let sim = t.sim_handle().expect("sim");
    sim.faults()
        .add(FaultRule::new("POST", "/Users", 1, Fault::Status(503)));
    sim.faults()
        .add(FaultRule::new("POST", "/Users", 2, Fault::Status(500)));
    let created = t
        .client
        .create_user(&newcomer("e-503"))
        .await
        .expect("created on the third attempt");
    assert!(!created.already_existed);
    assert_eq!(sim.log().count("POST", "/Users"), 3);
    assert!(
        sim.log().count("GET", "/Users") >= 2,
        "looked up before each re-send"
    );
    assert_eq!(sim.user_count(), 1);

    sim.faults()
        .add(FaultRule::new("POST", "/Users", 1, Fault::Status(400)));
    sim.log().clear();
    let error = t
        .client
        .create_user(&newcomer("e-400"))
        .await
        .expect_err("400");
    assert_eq!(error.status(), Some(400));
    assert_eq!(sim.log().count("POST", "/Users"), 1);
    assert_eq!(sim.log().count("GET", "/Users"), 0, "nothing to look up");
}

/// A `/Bulk` request answered 504 after the application committed some of its creates: each
/// create is looked up first, so the committed one is found (not sent again) and only the other
/// is created. A bulk refused outright (501 here) had no effect: its creates are simply sent.
#[tokio::test]
async fn a_bulk_answered_504_looks_each_create_up_before_sending_it_alone() {
    use crate::scim::{ServerCapabilities, WriteOp, WriteOutcome};
    let t = seeded(0).await;
    let sim = t.sim_handle().expect("sim");
    let committed = newcomer("e-bulk-a");
    let committed_id = sim
        .add_user(json!({
            "userName": committed.attributes.user_name,
            "externalId": "e-bulk-a",
            "active": true,
        }))
        .expect("seeded as if the bulk had committed it");
    let other = named(newcomer("e-bulk-b"), "other.one@contoso.example");
    let ops = [WriteOp::CreateUser(committed), WriteOp::CreateUser(other)];
    let bulk = ServerCapabilities {
        bulk: Some((100, 1_000_000)),
        ..ServerCapabilities::default()
    };
    sim.faults()
        .add(FaultRule::new("POST", "/Bulk", 1, Fault::Status(504)));
    let outcomes = t.client.write_many(&ops, &bulk, 2).await;
    let ids: Vec<(String, bool)> = outcomes
        .into_iter()
        .map(|o| match o.expect("each create succeeds") {
            WriteOutcome::Created(c) => (c.user.id, c.already_existed),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids[0], (committed_id, false), "found, as the create it was");
    assert!(!ids[1].1);
    assert_eq!(
        sim.log().count("POST", "/Bulk"),
        1,
        "the bulk is not re-sent"
    );
    assert_eq!(sim.log().count("POST", "/Users"), 1, "only the absent user");
    assert_eq!(sim.user_count(), 2);

    // Refused outright (the simulator does not implement /Bulk): no lookups, one create each.
    sim.log().clear();
    let third = WriteOp::CreateUser(named(newcomer("e-bulk-c"), "third@contoso.example"));
    let outcomes = t.client.write_many(&[third], &bulk, 2).await;
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert_eq!(sim.log().count("GET", "/Users"), 0, "nothing to look up");
    assert_eq!(sim.log().count("POST", "/Users"), 1);
}
