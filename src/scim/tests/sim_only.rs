//! Behaviour only the simulated application promises (scim2-server differs; see
//! docs/scim-interop.md): referential integrity, the demo seed, basic auth, ETags, accessors,
//! server variations the client must accept, and the compliance suite.

use serde_json::json;

use super::harness::{Target, run_compliance_suite};
use crate::http::RetryPolicy;
use crate::scim::{ScimAuth, ScimClient, ScimUser};
use crate::secret::Secret;
use crate::sim::scim::{ScimSim, Seed};

#[tokio::test]
async fn demo_seed_loads_with_groups_and_members() {
    let t = Target::sim_with(Seed::demo()).await;
    let sim = t.sim_handle().expect("sim");
    assert_eq!(sim.user_count(), 15);
    let groups = t.client.list_groups().await.expect("groups");
    let names: Vec<_> = groups.iter().map(|g| g.display_name.as_str()).collect();
    for expected in [
        "Tier 1",
        "Tier 2",
        "Managers",
        "Field Engineers",
        "Contractors",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let sara = t
        .client
        .find_users_by_email("sara.umar@tailspintoys.com")
        .await
        .expect("find");
    assert_eq!(sara.len(), 1);
    assert_eq!(sara[0].groups.len(), 1);
    assert_eq!(sara[0].groups[0].display.as_deref(), Some("Tier 1"));
}

#[tokio::test]
async fn user_groups_follow_membership_and_deleted_users_leave_groups() {
    let t = Target::sim().await;
    let sim = t.sim_handle().expect("sim");
    let uid = sim
        .add_user(json!({"userName": "a@contoso.example"}))
        .expect("user");
    let gid = sim.add_group("Tier 1").expect("group");
    t.client
        .add_members(&gid, std::slice::from_ref(&uid))
        .await
        .expect("add");
    let user = t.client.get_user(&uid).await.expect("get");
    assert_eq!(user.groups[0].value, gid);
    let error = t
        .client
        .add_members(&gid, &["no-such-user".to_owned()])
        .await
        .expect_err("unknown member refused");
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.scim_type(), Some("invalidValue"));
    let http = reqwest::Client::new();
    let response = http
        .delete(format!("{}/Users/{uid}", t.url))
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 204);
    assert!(sim.member_ids(&gid).is_empty());
}

#[tokio::test]
async fn edits_made_in_the_app_are_seen_and_bump_the_version() {
    let t = Target::sim().await;
    let sim = t.sim_handle().expect("sim");
    let uid = sim
        .add_user(json!({"userName": "a@contoso.example", "title": "Agent", "active": true}))
        .expect("user");
    let before = t.client.get_user(&uid).await.expect("get");
    sim.edit_user(
        &uid,
        json!([{"op": "replace", "path": "title", "value": "Lead"}]),
    )
    .expect("edit");
    sim.disable_user(&uid).expect("disable");
    let after = t.client.get_user(&uid).await.expect("get");
    assert_eq!(after.title.as_deref(), Some("Lead"));
    assert!(!after.active);
    assert_ne!(before.version, after.version);
    assert!(
        after
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("W/\""))
    );

    // A stale If-Match is refused with 412.
    let response = reqwest::Client::new()
        .patch(format!("{}/Users/{uid}", t.url))
        .bearer_auth(&t.token)
        .header("If-Match", before.version.clone().expect("version"))
        .json(&json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), 412);
}

#[tokio::test]
async fn basic_auth_is_accepted_when_seeded() {
    let seed = Seed::from_json(
        r#"{"basic": {"username": "svc-adsync", "password": "pa55"}, "users": [{"userName": "a@x.example"}]}"#,
    )
    .expect("seed");
    let sim = ScimSim::start(seed).await.expect("sim");
    let basic = |password: &str| {
        ScimClient::new(
            &sim.url(),
            ScimAuth::Basic {
                username: "svc-adsync".into(),
                password: Secret::new(password),
            },
        )
        .with_retry(RetryPolicy::fast())
    };
    assert_eq!(basic("pa55").list_users().await.expect("basic").len(), 1);
    let error = basic("wrong").list_users().await.expect_err("refused");
    assert_eq!(error.status(), Some(401));
    assert!(!error.to_string().contains("wrong"));
}

#[tokio::test]
async fn filters_combine_with_and_or_and_the_server_caps_pages() {
    let users: Vec<_> = (0..130)
        .map(|i| {
            json!({"userName": format!("u{i:03}@contoso.example"), "active": i % 2 == 0,
                   "emails": [{"value": format!("u{i:03}@contoso.example"), "type": "work"}]})
        })
        .collect();
    let t = Target::sim_with(Seed {
        users,
        ..Default::default()
    })
    .await;
    let found = t
        .client
        .find_users(r#"userName sw "u00" and active eq true"#)
        .await
        .expect("and");
    assert_eq!(found.len(), 5, "u000 u002 u004 u006 u008");
    let found = t
        .client
        .find_users(r#"emails.value eq "u001@contoso.example" or userName co "129""#)
        .await
        .expect("or");
    assert_eq!(found.len(), 2);
    // Asking for 500 a page gets the server's 100: the client pages on by what it received,
    // asking for the server's own page size after the first.
    let all = t
        .client
        .clone()
        .with_page_size(500)
        .list_users()
        .await
        .expect("all");
    assert_eq!(all.len(), 130);
    let sim = t.sim_handle().expect("sim");
    let pages = sim
        .log()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.query.as_deref().is_some_and(|q| q.contains("count=")))
        .filter(|r| !r.query.as_deref().unwrap_or("").contains("filter="))
        .filter_map(|r| r.query.clone())
        .collect::<Vec<_>>();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[0].contains("count=500"), "{pages:?}");
    assert!(
        pages[1].contains("startIndex=101") && pages[1].contains("count=100"),
        "{pages:?}"
    );
    let error = t
        .client
        .find_users("userName zz 1")
        .await
        .expect_err("bad filter");
    assert_eq!(error.scim_type(), Some("invalidFilter"));
}

#[test]
fn lenient_parsing_accepts_string_booleans_and_any_case() {
    let user = ScimUser::from_json(&json!({
        "id": "1", "username": "a@x.example", "ACTIVE": "false"
    }))
    .expect("parse");
    assert!(!user.active);
    assert_eq!(user.user_name, "a@x.example");
}

/// Runs `scim2 test` and returns (successes, the lines of failed checks).
async fn compliance(t: &Target) -> (usize, Vec<String>) {
    let output = run_compliance_suite(&t.url, &t.token).await;
    let successes = output.lines().filter(|l| l.starts_with("SUCCESS ")).count();
    let failures: Vec<String> = output
        .lines()
        .filter(|l| {
            l.starts_with("ERROR ") || l.starts_with("CRITICAL ") || l.starts_with("FAILURE ")
        })
        .map(str::to_owned)
        .collect();
    assert!(successes >= 100, "the suite ran: {output}");
    (successes, failures)
}

#[tokio::test]
async fn compliance_suite_passes_against_the_simulator() {
    let t = Target::sim_with(Seed::demo()).await;
    let (successes, failures) = compliance(&t).await;
    assert!(
        failures.is_empty(),
        "checks failed (record any accepted ones in docs/scim-interop.md): {failures:#?}"
    );
    assert_eq!(successes, 135);
}

/// The reference point: the independent server passes the same suite.
#[tokio::test]
async fn compliance_suite_passes_against_scim2_server() {
    let t = Target::scim2_server().await;
    let (successes, failures) = compliance(&t).await;
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(successes, 135);
}

/// Measurement behind using `/Bulk` when advertised (run with `--ignored`; numbers in
/// docs/scim-interop.md): 200 creates against scim2-server, one by one (4 in flight) vs in bulk.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn measure_bulk_against_individual_writes() {
    use crate::scim::{NewUser, ServerCapabilities, UserAttributes, WriteOp};
    let ops = |tag: &str| -> Vec<WriteOp> {
        (0..200)
            .map(|i| {
                WriteOp::CreateUser(NewUser {
                    attributes: UserAttributes {
                        user_name: format!("{tag}{i}@contoso.example"),
                        email: Some(format!("{tag}{i}@contoso.example")),
                        given_name: Some("Bulk".into()),
                        family_name: Some(format!("User {i}")),
                        active: true,
                        ..Default::default()
                    },
                    password: None,
                })
            })
            .collect()
    };
    // Each run on a fresh server: scim2-server checks uniqueness by scanning, so later writes
    // are slower and a shared server would favour whichever mode ran first.
    for round in 0..3 {
        for bulk in [false, true] {
            let target = Target::scim2_server().await;
            let mut caps = target.client.discover().await.expect("caps");
            if !bulk {
                caps = ServerCapabilities { bulk: None, ..caps };
            }
            let started = std::time::Instant::now();
            for outcome in target.client.write_many(&ops("u"), &caps, 4).await {
                outcome.expect("create");
            }
            eprintln!(
                "round {round}: scim2-server, 200 creates {}: {:?}",
                if bulk {
                    "in bulk"
                } else {
                    "one by one, 4 in flight"
                },
                started.elapsed()
            );
        }
    }
}

#[tokio::test]
async fn check_resolves_the_token_from_its_reference_and_reports_a_missing_one() {
    use std::os::unix::fs::PermissionsExt;

    use crate::config::{TargetAuth, TargetSettings};
    use crate::secret::SecretRef;

    let t = Target::sim_with(Seed::demo()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", t.token)).expect("write");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let settings = TargetSettings {
        url: url::Url::parse(&t.url).expect("url"),
        auth: TargetAuth::Bearer(SecretRef::File(token_file)),
        admin_email: Some("admin@contoso.example".into()),
        max_concurrency: 16,
        ca_file: None,
    };
    let lines = crate::scim::check(&settings).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    assert_eq!(lines[1].detail, "accepted (token of admin@contoso.example)");
    assert_eq!(lines[3].detail, "6 groups");
    assert!(
        lines[2]
            .detail
            .starts_with("PATCH yes, filter yes (up to 100 per page)")
    );

    let missing = TargetSettings {
        auth: TargetAuth::Bearer(SecretRef::File(dir.path().join("absent"))),
        ..settings
    };
    let lines = crate::scim::check(&missing).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].name, "target credential");
    assert!(!lines[0].ok);
    assert!(!lines[0].detail.contains(&t.token));
}

#[tokio::test]
async fn a_large_directory_lists_in_reasonable_time() {
    let users: Vec<_> = (0..5_000)
        .map(|i| json!({"userName": format!("u{i:05}@contoso.example"), "externalId": format!("e{i}")}))
        .collect();
    let groups: Vec<_> = (0..20_000)
        .map(|i| crate::sim::scim::SeedGroup {
            id: None,
            display_name: format!("Group {i:05}"),
            external_id: None,
            members: if i < 50 {
                vec![format!("u{i:05}@contoso.example")]
            } else {
                Vec::new()
            },
        })
        .collect();
    let started = std::time::Instant::now();
    let t = Target::sim_with(Seed {
        users,
        groups,
        ..Default::default()
    })
    .await;
    let seeded = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(t.client.list_groups().await.expect("groups").len(), 20_000);
    let groups = started.elapsed();
    let started = std::time::Instant::now();
    assert_eq!(t.client.list_users().await.expect("users").len(), 5_000);
    let users = started.elapsed();
    let started = std::time::Instant::now();
    for i in (0..5_000).step_by(500) {
        let found = t
            .client
            .find_users_by_external_id(&format!("e{i}"))
            .await
            .expect("find");
        assert_eq!(found.len(), 1);
    }
    let finds = started.elapsed();
    eprintln!(
        "seed {seeded:?}, 20k groups {groups:?}, 5k users {users:?}, 10 externalId finds {finds:?}"
    );
    assert!(
        groups + users < std::time::Duration::from_secs(30),
        "{groups:?} {users:?}"
    );
}

#[test]
fn capabilities_parse_leniently() {
    let caps = crate::scim::ServerCapabilities::from_json(&json!({
        "Patch": {"supported": "true"},
        "bulk": {"supported": true, "maxOperations": "50", "maxPayloadSize": 1048576},
        "filter": {"supported": true, "maxResults": 200},
        "etag": {"supported": false},
        "authenticationSchemes": [{"type": "httpbasic"}]
    }));
    assert!(caps.patch && caps.filter && !caps.etag);
    assert_eq!(caps.bulk, Some((50, 1_048_576)));
    assert_eq!(caps.max_results, Some(200));
    assert_eq!(caps.authentication_schemes, ["httpbasic"]);
    assert_eq!(
        caps.summary(),
        "PATCH yes, filter yes (up to 200 per page), ETag no, bulk advertised (50 operations)"
    );
}

#[tokio::test]
async fn the_initial_password_is_written_but_never_returned() {
    use crate::scim::{NewUser, UserAttributes};
    let t = Target::sim().await;
    let created = t
        .client
        .create_user(&NewUser {
            attributes: UserAttributes {
                user_name: "pw@contoso.example".into(),
                active: true,
                ..Default::default()
            },
            password: Some(Secret::new("Initial-Passw0rd!")),
        })
        .await
        .expect("create");
    let raw = t
        .sim_handle()
        .expect("sim")
        .user(&created.user.id)
        .expect("user");
    assert!(raw.get("password").is_none(), "{raw}");
    assert!(!raw.to_string().contains("Initial-Passw0rd!"));
}
