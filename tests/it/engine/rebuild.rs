//! R13's lost store through the binary: a state store that lost its links facing an application
//! whose users carry Entra ids is not planned as a first sync (`plan`, `sync` and `adsync run`
//! stop before their first write and say what to do), and `sync --rebuild-state` adopts the
//! users back under the rules: a user disabled in the application stays disabled, the ones who
//! left are disabled (under R11's guard), no account is duplicated, and the next plan is empty.

use super::*;

impl World {
    /// Loses the state store as a wiped disk or a reinstall would: the SQLite file and its
    /// journal files are gone.
    fn lose_state(&self) {
        let dir = self.env.path("");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("state.sqlite3") {
                std::fs::remove_file(&path).unwrap();
            }
        }
        assert!(!self.env.path("state.sqlite3").exists());
    }

    /// The target user carrying `entra_id`; panics when there is none.
    fn account(&self, entra_id: &str) -> Value {
        self.target_user(entra_id)
            .unwrap_or_else(|| panic!("no account carries {entra_id}"))
    }

    /// Every externalId is carried by one account at most.
    fn assert_no_duplicates(&self) {
        let dups: Vec<_> = self
            .users_by_external_id()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert!(dups.is_empty(), "duplicate accounts: {dups:?}");
    }
}

/// Members of Support Tier 1 that are not in Tier 2: removed from Tier 1, they leave every pair.
fn tier1_only(w: &World) -> Vec<String> {
    let tier2 = w.members(&w.tier2);
    w.members(&w.tier1)
        .into_iter()
        .filter(|id| !tier2.contains(id))
        .collect()
}

/// (a) First sync, then the state file is lost: `plan`, `sync` and the service each stop with
/// exit 1 (the service: one log line naming the problem), saying what happened and what to do,
/// and the application is not written to.
#[test]
fn a_lost_store_stops_plan_sync_and_the_service_before_any_write() {
    let w = World::new("interval_secs = 5");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let carried = w.users_by_external_id().len();
    assert!(carried >= 5, "{carried}");
    let users = w.scim.user_count();
    w.lose_state();
    w.scim.log().clear();

    let expected = format!(
        "state.sqlite3 has no links, but the application already holds {carried} users whose \
         externalId is the Entra object id of a member of the paired groups"
    );
    for args in [&["plan"][..], &["sync"], &["sync", "--format", "json"]] {
        let run = w.run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains(&expected)
                && run.stderr.contains("`adsync plan --rebuild-state`")
                && run
                    .stderr
                    .contains("`adsync sync --rebuild-state` to adopt them"),
            "{args:?}: {}",
            run.all()
        );
    }

    let service = Service::start(&w);
    service.wait_for_log(&expected, 60);
    service.wait_for_log("retrying in", 10);
    drop(service);

    assert_eq!(w.scim_writes(), 0, "nothing may be written on a lost store");
    assert_eq!(w.scim.user_count(), users);
    w.assert_no_duplicates();
}

/// (b) Before the loss an application admin disabled X; meanwhile Y was disabled in Entra ID and
/// Z left the paired groups. `plan --rebuild-state` shows the adoption and writes nothing;
/// `sync --rebuild-state` adopts every account (recorded as links under the trigger
/// `rebuild-state`), keeps X disabled, disables Y and Z, creates nothing; the next plan is
/// empty, and Y, disabled by adsync, is enabled again when it is back (R7).
#[test]
fn rebuild_state_adopts_the_accounts_keeps_admin_disables_and_disables_leavers() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let carried = w.users_by_external_id().len() as u64;
    let only1 = tier1_only(&w);
    let z = only1[0].clone();
    let others: Vec<String> = w
        .members(&w.tier1)
        .into_iter()
        .filter(|id| *id != z)
        .collect();
    let (x, y) = (others[0].clone(), others[1].clone());
    w.lose_state();
    let x_account = w.account(&x)["id"].as_str().unwrap().to_owned();
    w.scim.disable_user(&x_account).unwrap();
    w.entra.update_user(&y, json!({"accountEnabled": false}));
    w.entra.remove_member(&w.tier1, &z);
    let users = w.scim.user_count();
    w.scim.log().clear();

    let run = w.run(&["plan", "--rebuild-state", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(w.scim_writes(), 0, "a plan writes nothing");
    assert_eq!(summary(&plan, "create"), 0, "{plan:#}");
    assert_eq!(summary(&plan, "disable"), 2, "{plan:#}");
    assert_eq!(summary(&plan, "link"), carried - 2, "{plan:#}");
    assert_eq!(action(&plan, &y)["reason"], "disabled");
    assert_eq!(action(&plan, &z)["reason"], "removed-from-groups");
    let adopted_x = action(&plan, &x);
    assert_eq!(adopted_x["kind"], "link");
    assert!(
        adopted_x["reason"]
            .as_str()
            .unwrap()
            .contains("disabled in the application, so it stays disabled"),
        "{adopted_x:#}"
    );
    assert!(
        !adopted_x["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "active"),
        "{adopted_x:#}"
    );

    let run = w.run(&["sync", "--rebuild-state", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let synced: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        synced["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["result"]["status"] == "ok"),
        "{synced:#}"
    );
    assert_eq!(w.account(&x)["active"], false, "X stays disabled");
    assert_eq!(w.account(&y)["active"], false, "Y is disabled");
    assert_eq!(w.account(&z)["active"], false, "Z is disabled");
    assert_eq!(w.scim.log().count("POST", "/Users"), 0, "nothing created");
    assert_eq!(w.scim.user_count(), users);
    w.assert_no_duplicates();

    let history = w.history();
    assert_eq!(history[0]["trigger"], "rebuild-state", "{:#}", history[0]);
    let links = history[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "link" && a["status"] == "ok")
        .count() as u64;
    assert_eq!(links, carried - 2);

    // R12: nothing left to do; X is not re-enabled.
    let (code, again) = w.plan_json();
    assert_eq!(code, 0, "{again:#}");
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");

    // Y was disabled by adsync (recorded), so it comes back when enabled in Entra ID (R7).
    w.entra.update_user(&y, json!({"accountEnabled": true}));
    let (_, back) = w.plan_json();
    assert_eq!(action(&back, &y)["kind"], "enable", "{back:#}");
    assert_eq!(back["actions"].as_array().unwrap().len(), 1, "{back:#}");
}

/// The adoption's disables are under R11's guard: too many leavers withhold the whole rebuild
/// (exit 3, nothing written, the store still without links) until `--allow-mass-disable`.
#[test]
fn rebuild_state_disabling_too_many_is_withheld_until_allowed() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let leavers: Vec<String> = tier1_only(&w).into_iter().take(7).collect();
    assert_eq!(leavers.len(), 7);
    w.lose_state();
    for id in &leavers {
        w.entra.remove_member(&w.tier1, id);
    }
    w.scim.log().clear();

    let run = w.run(&["sync", "--rebuild-state"]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert_eq!(w.scim_writes(), 0);
    let plain = w.run(&["plan"]);
    assert_eq!(plain.code, 1, "still a lost store: {}", plain.all());

    let run = w.run(&["sync", "--rebuild-state", "--allow-mass-disable"]);
    assert_eq!(run.code, 0, "{}", run.all());
    for id in &leavers {
        assert_eq!(w.account(id)["active"], false, "{id}");
    }
    let (code, again) = w.plan_json();
    assert_eq!(code, 0, "{again:#}");
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// (c) Fewer than five accounts carrying Entra ids are what a first sync links by externalId
/// (R2) as usual; the fifth makes the empty store a lost one.
#[test]
fn fewer_than_five_accounts_with_entra_ids_are_a_normal_first_sync() {
    let w = World::new("");
    let known = w.target_match_keys();
    // Tier 1 members no account matches by email or userName: only the externalId links them.
    let fresh: Vec<String> = w
        .members(&w.tier1)
        .into_iter()
        .filter(|id| {
            let user = w.tenant["users"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["id"] == id.as_str())
                .unwrap();
            ["mail", "userPrincipalName"]
                .iter()
                .all(|k| !known.contains(&user[*k].as_str().unwrap_or_default().to_lowercase()))
        })
        .take(5)
        .collect();
    assert_eq!(fresh.len(), 5);
    let add = |i: usize| {
        w.scim
            .add_user(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("provisioned-{i}@elsewhere.example"),
                "externalId": fresh[i],
                "active": true,
            }))
            .unwrap()
    };
    for i in 0..4 {
        add(i);
    }
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    for id in &fresh[..4] {
        let a = action(&plan, id);
        assert_eq!(
            (&a["kind"], &a["reason"]),
            (&json!("link"), &json!("matched by externalId"))
        );
    }

    add(4);
    let run = w.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("the application already holds 5 users whose externalId"),
        "{}",
        run.all()
    );
    assert_eq!(w.scim_writes(), 0);
}
