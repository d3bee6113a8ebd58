//! R11's guards beyond disables, through the binary: a plan that would empty values the
//! application holds for many users (`kind: "clear"`) and one that would forget many links
//! (`kind: "unlink"`) are withheld whole, `plan` and `sync` exit 3, the service never applies
//! them; and a link is dropped only after the application confirms, user by user, that its
//! user is gone.

use super::*;

/// The Entra ids of the first `n` members of Support Tier 1.
fn first_members(w: &World, n: usize) -> Vec<String> {
    let members = w.members(&w.tier1);
    assert!(
        members.len() >= n,
        "the demo tenant's Tier 1 has {n} members"
    );
    members.into_iter().take(n).collect()
}

/// Emptying a mapped property (jobTitle) in Entra for ten managed users is an attribute wipe:
/// `plan` exits 3 with `blocked.kind = "clear"` and the count, `sync` writes nothing and exits
/// 3 naming the guard, the service logs the guard and writes nothing, and
/// `sync --allow-mass-disable` applies it.
#[test]
fn emptying_an_attribute_for_many_users_is_withheld_until_allowed() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let wiped = first_members(&w, 10);
    for id in &wiped {
        assert!(
            w.target_user(id).unwrap()["title"].is_string(),
            "the application holds a title for {id}"
        );
        w.entra.update_user(id, json!({"jobTitle": null}));
    }
    let writes = w.scim_writes();

    let (code, plan) = w.plan_json();
    assert_eq!(code, 3, "{plan:#}");
    let blocked = &plan["blocked"];
    assert_eq!(blocked["kind"], "clear", "{plan:#}");
    assert_eq!(blocked["changes"], 10, "{plan:#}");
    assert_eq!(blocked["disables"], 0, "{plan:#}");
    assert!(blocked["limit"].as_u64().unwrap() < 10, "{plan:#}");
    assert!(
        blocked["reason"].as_str().unwrap().contains("title"),
        "{plan:#}"
    );
    assert_eq!(summary(&plan, "update"), 10, "{plan:#}");

    let run = w.run(&["sync"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("BLOCKED by the attribute-wipe guard")
            && run.stdout.contains("--allow-mass-disable"),
        "{}",
        run.stdout
    );
    assert_eq!(w.scim_writes(), writes, "a withheld sync writes nothing");

    // The service never applies it, and says which guard withheld it.
    {
        let service = Service::start(&w);
        service.wait_for_log("the plan is withheld by the attribute-wipe guard", 30);
    }
    assert_eq!(w.scim_writes(), writes, "the service wrote nothing");
    for id in &wiped {
        assert!(w.target_user(id).unwrap()["title"].is_string());
    }

    let run = w.run(&["sync", "--allow-mass-disable"]);
    assert_eq!(run.code, 0, "{}", run.all());
    for id in &wiped {
        assert!(
            w.target_user(id).unwrap()["title"].is_null(),
            "{:#}",
            w.target_user(id).unwrap()
        );
    }
    let (code, again) = w.plan_json();
    assert_eq!(code, 0, "{again:#}");
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// The disable guard names its kind too (`blocked.kind = "disable"`, no `changes`).
#[test]
fn the_disable_guard_says_its_kind() {
    let w = World::new("");
    assert_eq!(w.run(&["sync"]).code, 0);
    for id in first_members(&w, 10) {
        w.entra.remove_member(&w.tier1, &id);
    }
    let (code, plan) = w.plan_json();
    assert_eq!(code, 3, "{plan:#}");
    assert_eq!(plan["blocked"]["kind"], "disable", "{plan:#}");
    assert_eq!(plan["blocked"]["disables"], 10, "{plan:#}");
    assert!(plan["blocked"].get("changes").is_none(), "{plan:#}");
    let text = w.run(&["plan"]);
    assert_eq!(text.code, 3, "{}", text.all());
    assert!(
        text.stdout.contains("BLOCKED by the mass-disable guard"),
        "{}",
        text.stdout
    );
}

/// The application ids of the first `n` managed members of Support Tier 1, with their Entra ids.
fn managed_targets(w: &World, n: usize) -> Vec<(String, String)> {
    first_members(w, n)
        .into_iter()
        .map(|entra_id| {
            let user = w
                .target_user(&entra_id)
                .unwrap_or_else(|| panic!("{entra_id} is managed after the first sync"));
            (entra_id, user["id"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn stored_links(w: &World) -> adsync::sync::Links {
    adsync::state::StateStore::open(&w.env.path("state.sqlite3"))
        .unwrap()
        .links()
        .unwrap()
}

/// A listing that leaves managed users out while its `totalResults` agrees with what it
/// returns looks complete; adsync reads each missing user by id before dropping its link,
/// finds it, and stops before its first write: exit 1 naming the target and the user, nothing
/// written, every link kept, one read per missing user.
#[test]
fn a_listing_that_leaves_managed_users_out_stops_the_cycle_and_keeps_the_links() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let links_before = stored_links(&w);
    let hidden = managed_targets(&w, 3);
    let ids: Vec<String> = hidden.iter().map(|(_, id)| id.clone()).collect();
    w.scim.hide_from_listings(&ids);
    w.scim.log().clear();
    let writes = w.scim_writes();

    for args in [&["sync"][..], &["plan"][..]] {
        let run = w.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains(&format!("{}/Users", w.scim.url()))
                && ids
                    .iter()
                    .any(|id| run.stderr.contains(&format!("user {id} ")))
                && run.stderr.contains("missing from the listing"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(w.scim_writes(), writes, "nothing was written");
    assert_eq!(stored_links(&w), links_before, "every link was kept");
    let by_id = w.scim.log().count("GET", "/Users/");
    assert!(
        (1..=2 * ids.len()).contains(&by_id),
        "one read by id per missing user and run, not {by_id}"
    );
}

/// Ten managed users really deleted in the application: each is read by id (404), and the
/// plan that would forget their links is withheld by the dropped-link guard (`kind:
/// "unlink"`, exit 3, nothing written, links kept; the service logs it and writes nothing)
/// until `--allow-mass-disable`.
#[test]
fn many_managed_users_deleted_in_the_application_are_withheld_as_dropped_links() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let links_before = stored_links(&w);
    let deleted = managed_targets(&w, 10);
    for (_, id) in &deleted {
        w.scim.delete_user(id).unwrap();
    }
    w.scim.log().clear();
    let writes = w.scim_writes();

    let (code, plan) = w.plan_json();
    assert_eq!(code, 3, "{plan:#}");
    let blocked = &plan["blocked"];
    assert_eq!(blocked["kind"], "unlink", "{plan:#}");
    assert_eq!(blocked["changes"], 10, "{plan:#}");
    for (_, id) in &deleted {
        assert_eq!(w.scim.log().count("GET", &format!("/Users/{id}")), 1);
    }

    let run = w.run(&["sync"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("BLOCKED by the dropped-link guard"),
        "{}",
        run.stdout
    );
    assert_eq!(w.scim_writes(), writes, "a withheld sync writes nothing");
    {
        let service = Service::start(&w);
        service.wait_for_log("the plan is withheld by the dropped-link guard", 30);
    }
    assert_eq!(w.scim_writes(), writes, "the service wrote nothing");
    assert_eq!(stored_links(&w), links_before, "every link was kept");

    let run = w.run(&["sync", "--allow-mass-disable"]);
    assert_eq!(run.code, 0, "{}", run.all());
    for (entra_id, old) in &deleted {
        let now = w.target_user(entra_id).expect("created again");
        assert_ne!(now["id"].as_str().unwrap(), old);
    }
}

/// R10: a full read whose user records lack `accountEnabled` (which Graph always sends, `null`
/// at worst, when selected) is incomplete: exit 1 naming the property, nothing written.
#[test]
fn a_full_read_missing_account_enabled_stops_before_the_first_write() {
    let w = World::new("");
    w.entra.faults().add(
        FaultRule::new(
            "GET",
            "/microsoft.graph.user",
            1,
            Fault::DropProperty("accountEnabled".into()),
        )
        .times(u64::MAX),
    );
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("accountEnabled") && run.stderr.contains("before its first write"),
        "{}",
        run.stderr
    );
    assert_eq!(w.scim_writes(), 0);
}

/// A delta round leaves out `accountEnabled` (graph-notes §5.2: an entry omits what it does not
/// carry). For a managed user the cache holds, it is unchanged: the new title is written and
/// the user stays active, never disabled. For a user new to the cache (joining a paired group
/// in the same round), it is not read as false: the user's full record is read, and the user
/// is created, active.
#[test]
fn a_delta_round_missing_account_enabled_neither_disables_nor_drops_anyone() {
    let w = World::new("interval_secs = 5");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    w.entra.faults().add(
        FaultRule::new(
            "GET",
            "/users/delta",
            1,
            Fault::DropProperty("accountEnabled".into()),
        )
        .times(u64::MAX),
    );
    let managed = first_members(&w, 1).remove(0);
    let mut members = w.members(&w.tier1);
    members.extend(w.members(&w.tier2));
    let newcomer = w.outsider(&members);
    w.entra.add_member(&w.tier1, &newcomer);
    w.entra
        .update_user(&newcomer, json!({"jobTitle": "Trainee"}));
    w.entra
        .update_user(&managed, json!({"jobTitle": "Shift Lead"}));

    wait_for("the managed user's change in the application", 40, &|| {
        w.target_user(&managed)
            .is_some_and(|u| u["title"] == "Shift Lead" || u["active"] == false)
    });
    let log = service.plain_log();
    let now = w.target_user(&managed).unwrap();
    assert_eq!(
        (&now["active"], &now["title"]),
        (&json!(true), &json!("Shift Lead")),
        "{log}"
    );
    wait_for("the newcomer's account", 20, &|| {
        w.target_user(&newcomer).is_some()
    });
    let log = service.plain_log();
    assert!(log.contains("incremental cycle"), "{log}");
    let created = w.target_user(&newcomer).unwrap();
    assert_eq!(
        (&created["active"], &created["title"]),
        (&json!(true), &json!("Trainee")),
        "{log}"
    );
}
