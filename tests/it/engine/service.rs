//! `adsync run` through the binary: the service loop's full and incremental cycles, their cost,
//! dry run, nested pairs, and a service killed mid-apply.

use super::*;

/// `adsync run`: a full cycle at start; then a cycle with no change in Entra costs one delta
/// request per stream and nothing on the target; a change is applied on the next cycle; SIGTERM
/// stops the service cleanly.
#[cfg(unix)]
#[test]
fn the_service_loop_runs_cheap_incremental_cycles_and_stops_on_sigterm() {
    let w = World::new("interval_secs = 5");
    let mut child = {
        let _enter = w.rt.enter();
        w.command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let history = || -> Vec<Value> {
        let run = w.run(&["history", "--format", "json"]);
        serde_json::from_str(&run.stdout).unwrap_or_default()
    };
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("the first full cycle", &|| {
        history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    assert_eq!(
        w.users_by_external_id().len(),
        34,
        "the start cycle synchronized everyone"
    );

    // A quiet interval: two Graph requests (users and groups delta), none to the target.
    w.entra.log().clear();
    w.scim.log().clear();
    wait_for("an incremental cycle", &|| {
        w.entra.log().count("GET", "/delta") >= 2
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.entra.log().count("GET", "/users/delta"), 1);
    assert_eq!(w.entra.log().count("GET", "/groups/delta"), 1);
    assert_eq!(
        w.entra.log().count("*", ""),
        2,
        "{:?}",
        w.entra.log().requests()
    );
    assert_eq!(w.scim.log().total(), 0, "{:?}", w.scim.log().requests());

    // A change is picked up by the next cycle.
    let someone = w.members(&w.tier1)[0].clone();
    w.entra
        .update_user(&someone, json!({"jobTitle": "Shift Lead"}));
    wait_for("the change to reach the target", &|| {
        w.scim
            .users()
            .iter()
            .any(|u| u["externalId"] == someone.as_str() && u["title"] == "Shift Lead")
    });

    // SIGTERM: a clean stop, exit 0.
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("incremental cycle: no changes"), "{log}");
    assert!(log.contains("full cycle:"), "{log}");
    assert!(log.contains("adsync service stopped"), "{log}");
    assert!(
        !log.contains(&w.entra.client_secret().unwrap()),
        "a secret reached the log"
    );
    // The log file names people: it is its owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let logs = w.env.path("xdg-state/adsync/logs");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "no log file in {}", logs.display());
    for file in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

/// The service's incremental cycles through the real binary: a quiet cycle is one Graph request
/// per delta stream and nothing on the target; a round of k = 4 changes (an attribute edit, a
/// move between paired groups, a user removed from its group, a new member) costs a few Graph
/// requests whatever the tenant's size and at most 3 SCIM requests per change, and leaves nothing
/// for a full plan to do; a delta round that fails mid-pages writes nothing, keeps the state as
/// it was, and the next cycle converges.
#[test]
fn incremental_cycles_cost_what_changed_and_a_failed_round_changes_nothing() {
    let w = World::new("interval_secs = 5");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    assert_eq!(w.users_by_external_id().len(), 34, "{}", service.log());

    // A quiet cycle: exactly one request per delta stream, none to the target.
    w.scim.log().clear();
    w.wait_for_a_quiet_cycle();
    assert_eq!(w.entra.log().count("GET", "/users/delta"), 1);
    assert_eq!(w.entra.log().count("GET", "/groups/delta"), 1);
    assert_eq!(
        w.entra.log().count("*", ""),
        2,
        "{:?}",
        w.entra.log().requests()
    );
    assert_eq!(w.scim.log().total(), 0, "{:?}", w.scim.log().requests());

    // A round of four changes, right after a quiet cycle.
    let tier1 = w.members(&w.tier1);
    let tier2 = w.members(&w.tier2);
    let retitled = tier1[0].clone();
    let leaver = tier1
        .iter()
        .find(|id| !tier2.contains(id) && **id != retitled)
        .unwrap()
        .clone();
    let mover = tier2.iter().find(|id| !tier1.contains(id)).unwrap().clone();
    let in_groups: Vec<String> = tier1.iter().chain(&tier2).cloned().collect();
    let newcomer = w.outsider(&in_groups);
    assert_eq!(w.target_groups_of(&mover), ["hd-g-tier2"]);
    assert!(w.target_user(&newcomer).is_none());
    w.wait_for_a_quiet_cycle();
    w.entra.log().clear();
    w.scim.log().clear();
    w.entra
        .update_user(&retitled, json!({"jobTitle": "Shift Lead"}));
    w.entra.remove_member(&w.tier2, &mover);
    w.entra.add_member(&w.tier1, &mover);
    w.entra.remove_member(&w.tier1, &leaver);
    w.entra.add_member(&w.tier1, &newcomer);
    let k = 4;

    wait_for("the changes to reach the target", 30, &|| {
        w.target_user(&retitled)
            .is_some_and(|u| u["title"] == "Shift Lead")
            && w.target_groups_of(&mover) == ["hd-g-tier1"]
            && w.target_user(&leaver).is_some_and(|u| u["active"] == false)
            && w.target_groups_of(&newcomer) == ["hd-g-tier1"]
    });
    std::thread::sleep(Duration::from_millis(500));
    // The cycle's Graph requests: those before the next cycle's first delta request.
    let requests = w.entra.log().requests();
    let next_cycle = requests
        .iter()
        .skip(1)
        .position(|r| r.path.ends_with("/users/delta"))
        .map_or(requests.len(), |p| p + 1);
    let cycle = &requests[..next_cycle];
    let paths: Vec<&str> = cycle.iter().map(|r| r.path.as_str()).collect();
    assert!(paths[0].ends_with("/users/delta"), "{paths:?}");
    // Two delta requests and one read of the newcomer's record: what the delta cannot say.
    assert_eq!(cycle.len(), 3, "{paths:?}");
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with(&format!("/users/{newcomer}")))
            .count(),
        1,
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.contains("embers")), "{paths:?}");
    // SCIM: each touched user read once (by id, or by filter for the newcomer), then written.
    let scim = w.scim.log().requests();
    let described: Vec<String> = scim
        .iter()
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.path,
                r.query.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        scim.len() <= 3 * k,
        "{} SCIM requests: {described:#?}",
        scim.len()
    );
    let reads: Vec<_> = scim.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(reads.len(), k, "{described:#?}");
    assert!(
        reads.iter().all(|r| r.path.contains("/Users/")
            || r.query.as_deref().is_some_and(|q| q.contains("filter"))),
        "no list of the whole directory: {described:#?}"
    );
    assert_eq!(
        w.scim_writes(),
        5,
        "update 1, disable 1, create 1, then the mover and the newcomer join their group in one \
         PATCH and the mover leaves the old one in another: {described:#?}"
    );
    let log = service.log();
    assert!(
        log.contains(
            "incremental cycle: 4 user(s) changed: 1 create, 0 link, 1 update, 1 move, 1 disable"
        ),
        "{log}"
    );
    assert!(
        log.contains("3 Graph request(s), 4 SCIM read(s), 5 SCIM write(s)"),
        "{log}"
    );

    // A full plan agrees: nothing left to do.
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    assert_eq!(action_count_of(&w.history(), "service"), 4);

    // A delta round that fails on its second page: nothing written, the state kept.
    w.wait_for_a_quiet_cycle();
    let before = w.stored_delta();
    assert!(before.0.is_some() && before.2.is_some());
    w.entra.set_delta_page_size(1);
    let other = tier1
        .iter()
        .find(|id| ![&retitled, &leaver, &mover].contains(id))
        .unwrap()
        .clone();
    w.entra
        .faults()
        .add(FaultRule::new("GET", "/users/delta", 2, Fault::Status(500)).times(u64::MAX));
    w.scim.log().clear();
    w.entra
        .update_user(&other, json!({"jobTitle": "Night Shift"}));
    w.entra
        .update_user(&retitled, json!({"department": "Escalations"}));
    wait_for("a failed cycle", 30, &|| {
        w.history().first().is_some_and(|r| {
            r["outcome"] == "failed"
                && r["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("reading Entra changes failed"))
        })
    });
    assert_eq!(w.scim.log().total(), 0, "{:?}", w.scim.log().requests());
    assert_eq!(
        w.stored_delta(),
        before,
        "the delta links and cache did not move"
    );

    // Fixed: the next cycle reads the same changes again and applies them.
    w.entra.faults().clear();
    wait_for("the changes after the failure", 40, &|| {
        w.target_user(&other)
            .is_some_and(|u| u["title"] == "Night Shift")
            && w.target_user(&retitled).is_some_and(|u| {
                u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"]
                    == "Escalations"
            })
    });
    std::thread::sleep(Duration::from_millis(500));
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    assert_ne!(
        w.stored_delta().0,
        before.0,
        "the links advanced after success"
    );

    // Graph forgets the delta tokens: a full resync, then cheap cycles again.
    w.entra.set_delta_page_size(100);
    w.entra.expire_delta_tokens();
    service.wait_for_log("why=\"resync\"", 30);
    w.scim.log().clear();
    w.wait_for_a_quiet_cycle();
    assert_eq!(
        w.entra.log().count("*", ""),
        2,
        "{:?}",
        w.entra.log().requests()
    );
    assert_eq!(w.scim.log().total(), 0);
    let log = service.log();
    assert!(
        !log.contains(&w.entra.client_secret().unwrap()),
        "a secret reached the log"
    );
}

/// Actions recorded by the most recent run of `trigger` that applied any.
fn action_count_of(history: &[Value], trigger: &str) -> usize {
    history
        .iter()
        .filter(|r| r["trigger"] == trigger)
        .map(|r| r["actions"].as_array().map_or(0, Vec::len))
        .find(|n| *n > 0)
        .unwrap_or(0)
}

/// `service.dry_run = true`: incremental cycles plan and log the changes, and write nothing.
#[test]
fn a_dry_run_service_plans_incremental_changes_and_writes_nothing() {
    let w = World::new("interval_secs = 5\ndry_run = true");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history()
            .first()
            .is_some_and(|r| r["outcome"] == "dry-run")
    });
    w.wait_for_a_quiet_cycle();
    let someone = w.members(&w.tier1)[0].clone();
    w.entra
        .update_user(&someone, json!({"jobTitle": "Shift Lead"}));
    service.wait_for_log("incremental cycle: 1 user(s) changed:", 30);
    let log = service.plain_log();
    let line = log
        .lines()
        .find(|l| l.contains("incremental cycle: 1 user(s) changed:"))
        .unwrap();
    // Linked by its email in the plan, with the new title to write; nothing written.
    assert!(line.contains("1 link"), "{line}");
    assert!(line.contains("0 SCIM write(s)"), "{line}");
    assert_eq!(w.scim_writes(), 0, "{:?}", w.scim.log().requests());
    assert!(w.target_user(&someone).is_none());
    assert_eq!(w.history()[0]["outcome"], "dry-run");
}

/// A nested pair: a member added to a group nested under it (Support Leads under Support (all))
/// makes the incremental cycle read that pair's transitive members again (the delta names the
/// nested group, not the pair), and nothing more; the new member is created in the pair's group.
#[test]
fn a_change_under_a_nested_pair_rereads_only_that_pair() {
    let w0 = World::new("");
    let group = |name: &str| {
        w0.tenant["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["displayName"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (all, leads) = (group("Support (all)"), group("Support Leads"));
    drop(w0);
    let w = World::new(&format!(
        "interval_secs = 5\n[[pairs]]\nentra_group_id = \"{all}\"\n\
         target_group_id = \"hd-g-managers\"\norder = 3\nnested = true\n"
    ));
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    let in_groups: Vec<String> = [&w.tier1, &w.tier2, &leads, &all]
        .iter()
        .flat_map(|g| w.members(g))
        .collect();
    let newcomer = w.outsider(&in_groups);
    w.wait_for_a_quiet_cycle();
    w.entra.log().clear();
    w.scim.log().clear();
    w.entra.add_member(&leads, &newcomer);
    wait_for("the newcomer in the target", 30, &|| {
        w.target_user(&newcomer).is_some_and(|u| {
            let id = u["id"].as_str().unwrap().to_owned();
            w.scim.member_ids("hd-g-managers").contains(&id)
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    let requests = w.entra.log().requests();
    let next_cycle = requests
        .iter()
        .skip(1)
        .position(|r| r.path.ends_with("/users/delta"))
        .map_or(requests.len(), |p| p + 1);
    let paths: Vec<&str> = requests[..next_cycle]
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    // Two delta requests, the pair's transitive users (the newcomer's record comes with them)
    // and the groups under it; the other pairs are not read.
    assert_eq!(
        paths,
        [
            "/v1.0/users/delta".to_owned(),
            "/v1.0/groups/delta".to_owned(),
            format!("/v1.0/groups/{all}/transitiveMembers/microsoft.graph.user"),
            format!("/v1.0/groups/{all}/transitiveMembers/microsoft.graph.group"),
        ],
        "{}",
        service.plain_log()
    );
    // One filter read, the create and the group add.
    assert_eq!(w.scim.log().total(), 3, "{:?}", w.scim.log().requests());
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
}

/// R12 for the service: killed in the middle of an incremental apply, it has not advanced its
/// delta links; started again, it converges with no duplicate users.
#[test]
fn a_service_killed_mid_incremental_apply_converges_when_started_again() {
    let w = World::new("interval_secs = 5");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    w.wait_for_a_quiet_cycle();
    let before = w.stored_delta();
    let tier1 = w.members(&w.tier1);
    let newcomers: Vec<String> = w
        .members(&w.tier2)
        .into_iter()
        .filter(|id| !tier1.contains(id))
        .take(3)
        .collect();
    w.scim.faults().add(
        FaultRule::new(
            "PATCH",
            "/Groups/",
            1,
            Fault::Latency(Duration::from_secs(3)),
        )
        .times(u64::MAX),
    );
    for id in &newcomers {
        w.entra.remove_member(&w.tier2, id);
        w.entra.add_member(&w.tier1, id);
    }
    wait_for("the incremental apply under way", 30, &|| {
        w.scim.log().count("PATCH", "/Groups/") >= 1
    });
    drop(service);
    assert_eq!(w.stored_delta().0, before.0, "links kept after the kill");
    assert_eq!(w.stored_delta().1, before.1);
    w.scim.faults().clear();

    let _service = Service::start(&w);
    wait_for("the moves in the target", 60, &|| {
        newcomers
            .iter()
            .all(|id| w.target_groups_of(id) == ["hd-g-tier1"])
    });
    std::thread::sleep(Duration::from_millis(500));
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    let duplicates: Vec<_> = w
        .users_by_external_id()
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(duplicates.is_empty(), "duplicate users: {duplicates:?}");
}
