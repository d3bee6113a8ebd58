//! Reading the tenant: paging, search, membership, delta rounds, retries, failed pages, missing
//! permissions, and secrets kept out of errors.

use super::*;

#[tokio::test]
async fn lists_follow_every_page() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    let graph = graph(&sim);
    let users = graph.list_users().await.unwrap();
    assert_eq!(users.len(), 1512);
    assert_eq!(sim.log().count("GET", "/v1.0/users"), 2, "999 per page");
    let ids: std::collections::HashSet<_> = users.iter().map(|u| &u.id).collect();
    assert_eq!(ids.len(), 1512, "no duplicates, none missing");
    let guest = users.iter().find(|u| u.id == uid(11)).unwrap();
    assert!(guest.is_guest());
    let dora = users.iter().find(|u| u.id == uid(12)).unwrap();
    assert_eq!(dora.account_enabled, Some(false));

    let members = graph.group_members(&gid(4), false).await.unwrap();
    assert_eq!(members.len(), 1500);
}

#[tokio::test]
async fn the_simulator_pages_with_top_and_absolute_next_links_on_the_called_host() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    let token = TokenSource::with_secret(
        &secret_settings(&sim),
        Secret::new(SECRET),
        RetryPolicy::fast(),
    )
    .token()
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let get = |url: String| http.get(url).bearer_auth(token.secret()).send();
    let page: Value = get(format!(
        "{}/v1.0/users?$select=id,displayName&$top=500",
        sim.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 500);
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v1.0/users?", sim.url())),
        "{next}"
    );
    assert!(
        next.contains("%24select=id%2CdisplayName") || next.contains("$select=id"),
        "{next}"
    );
    assert_eq!(
        page["value"][0].as_object().unwrap().len(),
        2,
        "only id and displayName"
    );
    for top in ["0", "1000"] {
        let response = get(format!("{}/v1.0/users?$top={top}", sim.url()))
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("'{top}'"))
        );
    }
    // Default page size 100; $count without ConsistencyLevel is ignored.
    let page: Value = get(format!("{}/v1.0/users?$count=true", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 100);
    assert!(page.get("@odata.count").is_none());
}

#[tokio::test]
async fn search_needs_consistency_level() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let graph = graph(&sim);
    let found = graph.search_groups("support").await.unwrap();
    let names: Vec<_> = found
        .iter()
        .filter_map(|g| g.display_name.as_deref())
        .collect();
    assert_eq!(names, vec!["Support Tier1", "Support Nested"]);
    assert_eq!(
        graph.search_groups("tier").await.unwrap().len(),
        1,
        "tokenized on words"
    );
    assert!(graph.search_groups("nomatch").await.unwrap().is_empty());
    assert_eq!(sim.log().count("GET", "/v1.0/groups"), 3);

    let token = graph.tokens().token().await.unwrap();
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/groups?$search=%22displayName:support%22",
            sim.url()
        ))
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ConsistencyLevel: eventual")
    );
}

#[tokio::test]
async fn members_direct_and_transitive_are_users_only() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let graph = graph(&sim);
    let direct: Vec<String> = graph
        .group_members(&gid(1), false)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(direct, vec![uid(1), uid(2), uid(11)]);
    let transitive: Vec<String> = graph
        .group_members(&gid(1), true)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(
        transitive,
        vec![uid(1), uid(2), uid(11), uid(3), uid(12)],
        "nested members, each once"
    );

    // Without the cast Graph returns every type; the simulator follows the v1.0 quirk of
    // leaving service principals out of /members.
    let token = graph.tokens().token().await.unwrap();
    let body: Value = reqwest::Client::new()
        .get(format!("{}/v1.0/groups/{}/members", sim.url(), gid(1)))
        .bearer_auth(token.secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "#microsoft.graph.user",
            "#microsoft.graph.user",
            "#microsoft.graph.user",
            "#microsoft.graph.group",
            "#microsoft.graph.device",
            "#microsoft.graph.orgContact"
        ]
    );

    let e = graph
        .group_members("6f1d0000-0000-4000-8000-999999999999", true)
        .await
        .unwrap_err();
    assert!(matches!(e, EntraError::GroupNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("request-id "), "{e}");
    let group = graph.get_group(&gid(3)).await.unwrap();
    assert_eq!(
        group.created_date_time.as_deref(),
        Some("2020-05-05T00:00:00Z")
    );
    assert_eq!(
        graph
            .get_user("user1@contoso.com")
            .await
            .unwrap()
            .unwrap()
            .id,
        uid(1)
    );
    assert!(graph.get_user(&uid(999)).await.unwrap().is_none());
    let some = graph
        .users_by_ids(&[uid(3), uid(999), uid(1), uid(11)])
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        vec![uid(3), uid(1), uid(11)],
        "in the order asked, unknown ids left out"
    );
}

#[tokio::test]
async fn a_delta_round_reports_adds_changes_deletes_and_membership() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let graph = graph(&sim);
    let first = graph.delta(None).await.unwrap();
    assert_eq!(first.users.changed.len(), 12);
    assert_eq!(first.groups.changed.len(), 4);
    let support = first
        .groups
        .changed
        .iter()
        .find(|g| g.group.id == gid(1))
        .unwrap();
    assert_eq!(
        support.members_added.len(),
        7,
        "every member type is named in members@delta"
    );
    assert_eq!(support.group.display_name.as_deref(), Some("Support Tier1"));

    let quiet = graph.delta(Some(&first.links())).await.unwrap();
    assert!(quiet.users.changed.is_empty() && quiet.groups.changed.is_empty());
    assert_ne!(
        quiet.users.delta_link, first.users.delta_link,
        "a new token every round"
    );

    sim.add_user(user(50));
    sim.update_user(
        &uid(2),
        json!({"jobTitle": "Lead", "accountEnabled": false}),
    );
    sim.delete_user(&uid(3));
    sim.purge_user(&uid(4));
    sim.add_member(&gid(1), &uid(50));
    sim.remove_member(&gid(1), &uid(2));
    sim.delete_group(&gid(3));

    let round = graph.delta(Some(&quiet.links())).await.unwrap();
    let changed: Vec<_> = round.users.changed.iter().map(|u| u.id.clone()).collect();
    assert_eq!(changed, vec![uid(2), uid(50)]);
    assert_eq!(round.users.changed[0].job_title.as_deref(), Some("Lead"));
    assert_eq!(
        round.users.changed[0].account_enabled,
        Some(false),
        "later rounds keep the first round's $select"
    );
    assert_eq!(
        round.users.changed[0].department.as_deref(),
        Some("Support")
    );
    assert_eq!(
        round.users.removed,
        vec![
            Removed {
                id: uid(3),
                reason: RemovedReason::Changed
            },
            Removed {
                id: uid(4),
                reason: RemovedReason::Deleted
            }
        ]
    );
    let support = round
        .groups
        .changed
        .iter()
        .find(|g| g.group.id == gid(1))
        .unwrap();
    assert_eq!(
        support.members_added,
        vec![MemberRef {
            id: uid(50),
            kind: ObjectKind::User
        }]
    );
    assert_eq!(
        support.members_removed,
        vec![MemberRef {
            id: uid(2),
            kind: ObjectKind::User
        }]
    );
    let nested = round
        .groups
        .changed
        .iter()
        .find(|g| g.group.id == gid(2))
        .unwrap();
    assert_eq!(
        nested
            .members_removed
            .iter()
            .map(|m| m.id.clone())
            .collect::<Vec<_>>(),
        vec![uid(3)],
        "a deleted user leaves its groups"
    );
    assert_eq!(
        round.groups.removed,
        vec![Removed {
            id: gid(3),
            reason: RemovedReason::Changed
        }],
        "a Microsoft 365 group is soft-deleted"
    );
}

#[tokio::test]
async fn a_large_groups_members_are_merged_across_delta_pages() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    sim.set_delta_page_size(2);
    sim.set_delta_members_per_entry(100);
    let graph = graph(&sim);
    let round = graph.groups_delta(None).await.unwrap();
    assert!(sim.log().count("GET", "/groups/delta") > 5, "many pages");
    assert_eq!(round.changed.len(), 4, "one entry per group");
    let all = round.changed.iter().find(|g| g.group.id == gid(4)).unwrap();
    assert_eq!(all.members_added.len(), 1500);
    assert_eq!(all.group.display_name.as_deref(), Some("All Staff"));
}

#[tokio::test]
async fn an_expired_delta_token_asks_for_a_full_resync() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let graph = graph(&sim);
    let first = graph.delta(None).await.unwrap();

    sim.faults()
        .add(FaultRule::new("GET", "/users/delta", 1, Fault::ExpireDelta));
    let e = graph
        .users_delta(Some(&first.users.delta_link))
        .await
        .unwrap_err();
    assert!(e.is_resync_required(), "{e:?}");
    assert!(e.to_string().contains("full resync"), "{e}");

    let foreign = first.users.delta_link.replace("127.0.0.1", "localhost");
    let e = graph.users_delta(Some(&foreign)).await.unwrap_err();
    assert!(
        e.to_string().contains("points away from the Graph host"),
        "{e}"
    );

    sim.expire_delta_tokens();
    let e = graph
        .groups_delta(Some(&first.groups.delta_link))
        .await
        .unwrap_err();
    assert!(e.is_resync_required(), "400 resyncRequired: {e:?}");
    // Starting over works.
    assert_eq!(graph.delta(None).await.unwrap().users.changed.len(), 12);
}

#[tokio::test]
async fn throttling_and_gateway_errors_are_retried() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    let graph = graph(&sim);
    sim.faults().add(FaultRule::new(
        "GET",
        "/v1.0/users",
        2,
        Fault::Throttle {
            retry_after_secs: 0.05,
        },
    ));
    sim.faults()
        .add(FaultRule::new("GET", "/v1.0/groups", 1, Fault::Status(503)).times(2));
    sim.faults()
        .add(FaultRule::new("POST", "/token", 1, Fault::Status(504)));
    assert_eq!(graph.list_users().await.unwrap().len(), 1512);
    assert_eq!(
        sim.log().count("GET", "/v1.0/users"),
        3,
        "the throttled page was asked again"
    );
    assert_eq!(graph.list_groups().await.unwrap().len(), 4);
    sim.faults().add(FaultRule::new(
        "GET",
        "/v1.0/users",
        1,
        Fault::Latency(Duration::from_millis(100)),
    ));
    assert_eq!(graph.list_users().await.unwrap().len(), 1512);
}

#[tokio::test]
async fn a_failed_page_fails_the_whole_read() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    let graph = graph(&sim);

    // Throttled past every retry.
    sim.faults().add(
        FaultRule::new(
            "GET",
            "/v1.0/users",
            2,
            Fault::Throttle {
                retry_after_secs: 0.01,
            },
        )
        .times(u64::MAX),
    );
    let e = graph.list_users().await.unwrap_err();
    assert!(matches!(e, EntraError::Graph { status: 429, .. }), "{e:?}");
    assert!(e.to_string().contains("request-id"), "{e}");
    sim.faults().clear();

    sim.faults()
        .add(FaultRule::new("GET", "/v1.0/users", 2, Fault::Status(500)));
    assert!(matches!(
        graph.list_users().await.unwrap_err(),
        EntraError::Graph { status: 500, .. }
    ));

    sim.faults()
        .add(FaultRule::new("GET", "/members", 1, Fault::MalformedJson));
    let e = graph.group_members(&gid(4), false).await.unwrap_err();
    assert!(
        matches!(e, EntraError::Incomplete { .. }) && e.to_string().contains("not valid JSON"),
        "{e}"
    );

    sim.faults()
        .add(FaultRule::new("GET", "/v1.0/users", 2, Fault::CutPage));
    let e = graph.list_users().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Graph counted 1512 item(s) but the pages held"),
        "{e}"
    );

    sim.faults()
        .add(FaultRule::new("GET", "/users/delta", 1, Fault::CutPage));
    let e = graph.users_delta(None).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("neither a next link nor a delta link"),
        "{e}"
    );

    sim.faults().add(FaultRule::new(
        "GET",
        "/groups/delta",
        2,
        Fault::MalformedJson,
    ));
    sim.set_delta_page_size(2);
    assert!(matches!(
        graph.groups_delta(None).await.unwrap_err(),
        EntraError::Incomplete { .. }
    ));
}

#[tokio::test]
async fn a_missing_permission_is_named_with_the_consent_url() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let mut settings = secret_settings(&sim);
    settings.client_id = NO_ROLES_CLIENT.into();
    let graph = graph_with(&settings, SECRET);
    let e = graph.list_users().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, EntraError::MissingPermission { .. }), "{e:?}");
    assert!(
        text.contains("lacks the application permission User.Read.All"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}/contoso.onmicrosoft.com/adminconsent?client_id={NO_ROLES_CLIENT}",
            sim.url()
        )),
        "{text}"
    );
    let e = graph.list_groups().await.unwrap_err();
    assert!(e.to_string().contains("GroupMember.Read.All"), "{e}");

    sim.set_roles(NO_ROLES_CLIENT, &["User.Read.All"]);
    let lines = check_tokens(
        &settings,
        Arc::new(TokenSource::with_secret(
            &settings,
            Secret::new(SECRET),
            RetryPolicy::fast(),
        )),
        RetryPolicy::fast(),
    )
    .await;
    let summary: Vec<(String, bool)> = lines.iter().map(|l| (l.name.clone(), l.ok)).collect();
    assert_eq!(
        summary,
        vec![
            ("Entra sign-in".to_owned(), true),
            ("permission User.Read.All".to_owned(), true),
            ("permission GroupMember.Read.All".to_owned(), false),
            ("read users".to_owned(), true),
            ("read groups".to_owned(), false),
        ]
    );
    assert!(
        lines[2].detail.contains("adminconsent?client_id="),
        "{}",
        lines[2].detail
    );
}

#[tokio::test]
async fn check_passes_for_a_good_config_and_reports_a_bad_secret() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, SECRET).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let settings = sim.settings(EntraCredential::Secret(SecretRef::File(path.clone())));
    let lines = check_with(&settings, RetryPolicy::fast()).await;
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    assert_eq!(lines.len(), 5);

    std::fs::write(&path, "wrong-value").unwrap();
    let lines = check_with(&settings, RetryPolicy::fast()).await;
    assert_eq!(lines.len(), 1);
    assert!(
        !lines[0].ok && lines[0].detail.contains("AADSTS7000215"),
        "{lines:?}"
    );
    assert!(!lines[0].detail.contains("wrong-value"));
}

#[tokio::test]
async fn no_secret_reaches_an_error_message() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let settings = secret_settings(&sim);
    let tokens = TokenSource::with_secret(
        &settings,
        Secret::new("hunter2-super-secret"),
        RetryPolicy::fast(),
    );
    let e = tokens.token().await.unwrap_err();
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    let good = TokenSource::with_secret(&settings, Secret::new(SECRET), RetryPolicy::fast());
    let token = good.token().await.unwrap();
    sim.faults()
        .add(FaultRule::new("GET", "/v1.0/users", 1, Fault::Status(500)));
    let graph = GraphClient::with_tokens(&settings, Arc::new(good), RetryPolicy::fast());
    let e = graph.list_users().await.unwrap_err();
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(
            !text.contains(SECRET) && !text.contains(token.secret()),
            "{text}"
        );
    }
    let cert = CertificateCredential::from_pem(APP_PEM).unwrap();
    assert!(!format!("{cert:?}").contains("MII"));
}

#[tokio::test]
async fn the_demo_tenant_signs_in_and_reads_like_a_company() {
    let sim = EntraSim::start(Fixture::demo()).await.unwrap();
    let settings = secret_settings(&sim);
    let graph = graph_with(&settings, &sim.client_secret().unwrap());
    let groups = graph.list_groups().await.unwrap();
    assert!(groups.len() >= 30, "{}", groups.len());
    let users = graph.list_users().await.unwrap();
    assert!(users.len() >= 180);
    assert!(users.iter().any(EntraUser::is_guest));
    assert!(users.iter().any(|u| !u.is_enabled()));
    let all_staff = groups
        .iter()
        .find(|g| g.display_name.as_deref() == Some("All Staff"))
        .unwrap();
    assert!(
        graph
            .group_members(&all_staff.id, false)
            .await
            .unwrap()
            .is_empty(),
        "departments, not people"
    );
    assert!(
        graph
            .group_members(&all_staff.id, true)
            .await
            .unwrap()
            .len()
            > 150
    );
}

/// The engine runs reads on tokio tasks and keeps errors in `anyhow`: both must cross threads.
#[test]
fn clients_futures_and_errors_can_cross_threads() {
    fn is_send<T: Send>(_: &T) {}
    fn is_shared<T: Send + Sync + 'static>() {}
    is_shared::<GraphClient>();
    is_shared::<TokenSource>();
    is_shared::<EntraError>();
    #[allow(dead_code)]
    fn futures(graph: &GraphClient, settings: &EntraSettings) {
        is_send(&graph.list_users());
        is_send(&graph.group_members("g", true));
        is_send(&graph.delta(None));
        is_send(&check(settings));
    }
}

/// R10 with SPEC §3.1: Graph is asked for the properties the mappings read (`$select`, and the
/// manager through `$expand`), and a full read's user record that lacks a selected property is
/// an incomplete read, not a user without that value.
#[tokio::test]
async fn mapped_properties_are_selected_and_a_record_lacking_one_is_incomplete() {
    let sim = EntraSim::start(fixture(true)).await.unwrap();
    let mappings: Vec<crate::config::Mapping> = toml::from_str::<toml::Table>(
        "[[m]]\ntarget = \"costCenter\"\nsource = \"employeeOrgData.costCenter\"\n\
         [[m]]\ntarget = \"manager\"\nsource = \"manager\"\n\
         [[m]]\ntarget = \"nickName\"\ntemplate = \"{mobilePhone}\"\n",
    )
    .unwrap()["m"]
        .clone()
        .try_into()
        .unwrap();
    let graph = graph(&sim).with_mappings(&mappings);
    let users = graph.list_users().await.unwrap();
    assert_eq!(users.len(), 1512);
    let query = sim
        .log()
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/users"))
        .and_then(|r| r.query)
        .unwrap();
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect::<std::collections::BTreeMap<_, _>>();
    let select = &query["$select"];
    assert!(
        select.contains("employeeOrgData") && select.contains("mobilePhone"),
        "{select}"
    );
    assert!(!select.contains("manager"), "{select}");
    assert_eq!(query["$expand"], "manager($select=id)");

    sim.faults().add(FaultRule::new(
        "GET",
        "/v1.0/users",
        1,
        Fault::DropProperty("employeeOrgData".into()),
    ));
    let e = graph.list_users().await.unwrap_err();
    assert!(
        matches!(e, EntraError::Incomplete { .. })
            && e.to_string()
                .contains("no `employeeOrgData` although it was selected"),
        "{e}"
    );
}
