//! `plan`, `sync` and `explain` through the binary: convergence, the guard (R11), fail-closed
//! reads (R10), interrupted runs (R12), precedence ties (R1) and mappings.

use super::*;

#[test]
fn initial_sync_then_a_round_of_changes_converges() {
    let w = World::new("");
    let users_before = w.scim.user_count();
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0);
    assert_eq!(plan["dry_run"], true);
    let creates = summary(&plan, "create");
    let links = summary(&plan, "link");
    assert!(creates >= 20 && links == 5, "{:#}", plan["summary"]);
    assert_eq!(w.scim_writes(), 0, "plan writes nothing");

    let run = w.run(&["sync", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let synced: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(synced["dry_run"], false);
    assert!(
        synced["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["result"]["status"] == "ok")
    );
    assert_eq!(w.scim.user_count() as u64, users_before as u64 + creates);
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
    assert_eq!(summary(&again, "unchanged"), creates + links);

    // A round of changes in Entra ID.
    let tier1 = w.members(&w.tier1);
    let (retitled, removed, disabled, deleted) = (&tier1[0], &tier1[1], &tier1[2], &tier1[3]);
    let tier2_only = w.members(&w.tier2);
    w.entra
        .update_user(retitled, json!({"jobTitle": "Team Lead"}));
    w.entra.remove_member(&w.tier1, removed);
    w.entra
        .update_user(disabled, json!({"accountEnabled": false}));
    w.entra.delete_user(deleted);
    let mover = tier2_only.iter().find(|id| !tier1.contains(id)).unwrap();
    w.entra.add_member(&w.tier1, mover);

    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let a = action(&plan, retitled);
    assert_eq!(a["kind"], "update");
    assert!(
        a["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "title" && c["to"] == "Team Lead")
    );
    if !w.members(&w.tier2).contains(removed) {
        assert_eq!(action(&plan, removed)["reason"], "removed-from-groups");
    }
    assert_eq!(action(&plan, disabled)["reason"], "disabled");
    assert_eq!(action(&plan, deleted)["reason"], "deleted");
    let m = action(&plan, mover);
    assert_eq!(
        (m["kind"].as_str(), m["reason"].as_str()),
        (Some("move"), Some("moved from Tier 2 to Tier 1"))
    );

    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
    // Disabled, never deleted.
    let deleted_target = w
        .scim
        .users()
        .into_iter()
        .find(|u| u["externalId"] == deleted.as_str())
        .unwrap();
    assert_eq!(deleted_target["active"], false);
    let history = w.run(&["history", "--format", "json"]);
    let runs: Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["outcome"], "ok");
}

#[test]
fn a_blocked_plan_writes_nothing_until_allowed() {
    let w = World::new("");
    assert_eq!(w.run(&["sync"]).code, 0);
    let writes = w.scim_writes();
    for id in w.members(&w.tier1).iter().take(10) {
        w.entra.remove_member(&w.tier1, id);
        w.entra.remove_member(&w.tier2, id);
    }
    let (code, plan) = w.plan_json();
    assert_eq!(code, 3, "plan exits 3 when blocked");
    assert_eq!(plan["blocked"]["disables"], 10);
    assert!(plan["blocked"]["limit"].as_u64().unwrap() < 10);
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stdout.contains("BLOCKED"), "{}", run.stdout);
    assert_eq!(w.scim_writes(), writes, "a blocked sync writes nothing");

    let run = w.run(&["sync", "--allow-mass-disable"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(w.scim_writes(), writes + 10);
}

#[test]
fn a_failed_read_stops_before_the_first_write() {
    let w = World::new("");
    // Every page of the second pair's members fails, after retries.
    w.entra.faults().add(
        FaultRule::new(
            "GET",
            &format!("/groups/{}/", w.tier2),
            1,
            Fault::Status(500),
        )
        .times(u64::MAX),
    );
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("before its first write"),
        "{}",
        run.stderr
    );
    assert_eq!(w.scim_writes(), 0);
    w.entra.faults().clear();

    // Malformed JSON on a page: the same.
    w.entra.faults().add(
        FaultRule::new(
            "GET",
            &format!("/groups/{}/", w.tier1),
            1,
            Fault::MalformedJson,
        )
        .times(u64::MAX),
    );
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(w.scim_writes(), 0);
    w.entra.faults().clear();

    // Throttling is retried and the sync succeeds.
    w.entra.faults().add(
        FaultRule::new(
            "GET",
            "/groups/",
            1,
            Fault::Throttle {
                retry_after_secs: 0.2,
            },
        )
        .times(2),
    );
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let history = w.run(&["history", "--limit", "5"]);
    assert!(
        history.stdout.contains("failed: reading Entra ID failed"),
        "{}",
        history.stdout
    );
}

#[test]
fn a_sync_killed_mid_apply_converges_on_the_next_run_without_duplicates() {
    let w = World::new("");
    // Slow creates, so the process can be killed with some done and some not.
    w.scim.faults().add(
        FaultRule::new(
            "POST",
            "/Users",
            1,
            Fault::Latency(Duration::from_millis(150)),
        )
        .times(u64::MAX),
    );
    let users_before = w.scim.user_count();
    let mut child = {
        let _enter = w.rt.enter();
        w.command(&["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.scim.user_count() < users_before + 5 {
        assert!(Instant::now() < deadline, "the sync made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let created_before_kill = w.scim.user_count() - users_before;
    w.scim.faults().clear();

    let (_, plan) = w.plan_json();
    assert!(summary(&plan, "create") > 0, "the kill left work to do");
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
    let duplicates: Vec<_> = w
        .users_by_external_id()
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(duplicates.is_empty(), "duplicate users: {duplicates:?}");
    assert!(created_before_kill >= 5);
    let _ = &w.tenant;
}

/// R1's tie: two pairs at one `order` validate, and a user in both groups goes to the pair of the
/// older Entra group, wherever that pair stands in the file.
#[test]
fn pairs_at_the_same_order_validate_and_the_older_group_wins() {
    let w = World::new("");
    let group = |name: &str| -> String {
        w.tenant["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["displayName"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Two overlapping groups; Engineering Platform is the older one.
    let (older, newer) = (group("Engineering Platform"), group("Engineering Team"));
    let text = std::fs::read_to_string(&w.config).unwrap();
    let pairs = format!(
        "[[pairs]]\nentra_group_id = \"{newer}\"\ntarget_group_id = \"hd-g-tier2\"\norder = 1\n\
         [[pairs]]\nentra_group_id = \"{older}\"\ntarget_group_id = \"hd-g-tier1\"\norder = 1\n",
    );
    let start = text.find("[[pairs]]").unwrap();
    let end = text.find("[service]").unwrap();
    std::fs::write(
        &w.config,
        format!("{}{pairs}{}", &text[..start], &text[end..]),
    )
    .unwrap();

    let created = |id: &str| -> String {
        w.tenant["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id)
            .unwrap()["createdDateTime"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        created(&older) < created(&newer),
        "the fixture's Engineering Platform group must be the older one for this test"
    );

    let run = w.run(&["config", "validate"]);
    assert_eq!(run.code, 0, "{}", run.all());

    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let tier2 = w.members(&newer);
    let in_both: Vec<_> = w
        .members(&older)
        .into_iter()
        .filter(|id| tier2.contains(id))
        .collect();
    assert!(
        !in_both.is_empty(),
        "the fixture needs users in both groups"
    );
    for id in &in_both {
        let a = action(&plan, id);
        assert_eq!(a["target_group"]["id"], "hd-g-tier1", "{a:#}");
    }
    // Users only in the newer group still go to its pair.
    let only_tier2 = tier2.iter().find(|id| !in_both.contains(id)).unwrap();
    assert_eq!(
        action(&plan, only_tier2)["target_group"]["id"],
        "hd-g-tier2"
    );

    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// SPEC §3.1 through the binary: mapped values and pair roles land in the application, the plan
/// names changes by target path, a mapping change updates with `mapping changed`, and
/// `explain` says where each value comes from.
#[test]
fn mappings_and_roles_through_the_cli() {
    let w = World::new(
        "\n[[mappings]]\ntarget = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\nsource = \"mobilePhone\"\n\
         [[mappings]]\ntarget = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\"\n\
         source = \"employeeOrgData.costCenter\"\ndefault = \"CC-0000\"\n\
         [[mappings]]\ntarget = \"userType\"\nvalue = \"Employee\"\n",
    );
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(
        &w.config,
        text.replacen("order = 1\n", "order = 1\nroles = [\"agent\"]\n", 1),
    )
    .unwrap();
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let graph: Vec<String> = w
        .entra
        .log()
        .requests()
        .into_iter()
        .filter_map(|r| r.query)
        .collect();
    assert!(
        graph
            .iter()
            .any(|q| q.contains("mobilePhone") && q.contains("employeeOrgData")),
        "Graph was asked for the mapped properties: {graph:?}"
    );
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");

    // A Tier 1 member with a mobile number, as the application now holds it.
    let tenant_users = w.tenant["users"].as_array().unwrap();
    let tier1 = w.members(&w.tier1);
    let ann = tenant_users
        .iter()
        .find(|u| {
            tier1.contains(&u["id"].as_str().unwrap().to_owned()) && u["mobilePhone"].is_string()
        })
        .expect("a Tier 1 member with a mobile number");
    let id = ann["id"].as_str().unwrap();
    let held = w
        .scim
        .users()
        .into_iter()
        .find(|u| u["externalId"] == id)
        .unwrap();
    let phones = held["phoneNumbers"].as_array().unwrap();
    assert!(
        phones
            .iter()
            .any(|p| p["type"] == "mobile" && p["value"] == ann["mobilePhone"]),
        "{held:#}"
    );
    assert_eq!(
        held["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["costCenter"],
        ann["employeeOrgData"]["costCenter"]
    );
    assert_eq!(held["userType"], "Employee");
    assert_eq!(held["roles"][0]["value"], "agent");

    let run = w.run(&["explain", id]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("userType = Employee (constant)")
            && run.stdout.contains("(source mobilePhone)")
            && run.stdout.contains("roles = agent"),
        "{}",
        run.stdout
    );

    // The constant changes: every managed user is updated, by the target path, and why.
    let text = std::fs::read_to_string(&w.config).unwrap();
    std::fs::write(&w.config, text.replace("\"Employee\"", "\"Staff\"")).unwrap();
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let actions = plan["actions"].as_array().unwrap();
    assert!(!actions.is_empty());
    for a in actions {
        assert_eq!(a["kind"], "update", "{a:#}");
        assert_eq!(a["reason"], "mapping changed", "{a:#}");
        assert_eq!(a["changes"][0]["field"], "userType", "{a:#}");
        assert_eq!(a["changes"][0]["to"], "Staff", "{a:#}");
    }
}

/// `explain` and `plan` agree on every user of the demo tenant: the in-scope verdict (one function
/// in the planner) and the next action. A scope rule and the guest policy make some members of
/// the paired groups out of scope, so both verdicts are exercised.
#[test]
fn explain_and_plan_agree_on_every_user_of_the_demo_tenant() {
    let w = World::new(
        "\n[[scope]]\nattribute = \"surname\"\noperator = \"notContains\"\nvalue = \"a\"\n",
    );
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let actions = plan["actions"].as_array().unwrap();
    let (mut in_scope, mut out_of_scope) = (0, 0);
    for user in w.tenant["users"].as_array().unwrap() {
        let id = user["id"].as_str().unwrap();
        let run = w.run(&["explain", id]);
        assert_eq!(run.code, 0, "{}", run.all());
        let action = actions.iter().find(|a| a["entra_id"] == id);
        match action {
            Some(a) => {
                let kind = a["kind"].as_str().unwrap();
                assert!(
                    run.stdout.contains(&format!("  next sync: {kind} (")),
                    "plan says {kind} for {id}; explain says:\n{}",
                    run.stdout
                );
            }
            None => assert!(
                run.stdout.contains("  next sync: nothing to do"),
                "plan has nothing for {id}; explain says:\n{}",
                run.stdout
            ),
        }
        // Nothing is linked yet, so exactly the in-scope users have an action (create, link or
        // skip), and an out-of-scope user has none.
        let says_in_scope = run.stdout.contains("\n  in scope\n");
        assert_eq!(
            says_in_scope,
            action.is_some(),
            "explain and plan disagree on whether {id} is in scope:\n{}",
            run.stdout
        );
        if says_in_scope {
            in_scope += 1;
        } else if run.stdout.contains("  not in scope: ") {
            out_of_scope += 1;
        }
    }
    assert!(
        in_scope > 0 && out_of_scope > 0,
        "{in_scope} in scope, {out_of_scope} out"
    );
}

/// `plan --output FILE` writes the same document as standard output, owner-only: a plan names
/// people and their attributes.
#[test]
fn a_plan_written_to_a_file_is_the_json_document_and_owner_only() {
    let w = World::new("");
    let (_, printed) = w.plan_json();
    let file = w.env.path("exports/plan.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let run = w.run(&[
        "plan",
        "--format",
        "json",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["summary"], printed["summary"]);
    assert_eq!(written["actions"], printed["actions"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
