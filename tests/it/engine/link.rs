//! `adsync link` and `adsync unlink` through the binary: every refusal writes nothing, and the
//! cases R2 refuses to guess (an ambiguous match, two Entra users with one email) are settled by
//! hand and converge; an unlink undoes a link and the user is skipped again.

use super::*;

const ADMIN: &str = "alice-admin";

impl World {
    /// `adsync ARGS` as the OS user [`ADMIN`].
    fn run_as_admin(&self, args: &[&str]) -> Run {
        let _enter = self.rt.enter();
        let mut cmd = self.command(args);
        cmd.env("USER", ADMIN);
        run_command(cmd, "")
    }

    /// An outsider (see [`World::outsider`]) added to Support Tier 1: in scope, not synced yet.
    fn new_member(&self, taken: &mut Vec<String>) -> String {
        let id = self.outsider(taken);
        taken.push(id.clone());
        self.entra.add_member(&self.tier1, &id);
        id
    }

    fn tenant_user(&self, id: &str) -> Value {
        self.tenant["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .unwrap()
            .clone()
    }

    /// A user made in the application by someone else, with this email.
    fn app_account(&self, user_name: &str, email: &str) -> String {
        self.scim
            .add_user(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": true,
            }))
            .unwrap()
    }

    /// The stored links (by Entra id → target id) and the number of runs in the history.
    fn stored(&self) -> (Vec<(String, String)>, usize) {
        let store = adsync::state::StateStore::open(&self.env.path("state.sqlite3")).unwrap();
        let links = store
            .links()
            .unwrap()
            .into_values()
            .map(|l| (l.entra_id, l.target_id))
            .collect();
        (links, store.history(1000).unwrap().len())
    }

    fn email_of(&self, id: &str) -> String {
        let u = self.tenant_user(id);
        u["mail"]
            .as_str()
            .filter(|m| !m.is_empty())
            .or(u["userPrincipalName"].as_str())
            .unwrap()
            .to_owned()
    }
}

fn warned_about(plan: &Value, id: &str) -> Vec<String> {
    plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["entra_ids"].as_array().unwrap().iter().any(|e| e == id))
        .map(|w| w["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_wrong_link_is_refused_with_exit_2_and_writes_nothing() {
    let w = World::new("");
    assert_eq!(w.run(&["sync"]).code, 0);
    let mut taken = w.members(&w.tier1);
    taken.extend(w.members(&w.tier2));
    let linked = w.members(&w.tier1)[0].clone();
    let linked_account = w.target_user(&linked).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = w.new_member(&mut taken);
    let no_pairs = w.outsider(&taken);
    taken.push(no_pairs.clone());
    let disabled = w.new_member(&mut taken);
    w.entra
        .update_user(&disabled, json!({"accountEnabled": false}));
    let spare = w.app_account("spare.account", "spare@elsewhere.example");
    let upn = |id: &str| {
        w.tenant_user(id)["userPrincipalName"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let before = w.stored();
    let writes = w.scim_writes();
    for (args, expected) in [
        (
            vec!["link", "nobody@nowhere.example", spare.as_str()],
            "nobody@nowhere.example: no such user in Entra ID",
        ),
        (
            vec!["link", fresh.as_str(), "no-such-account"],
            "no-such-account: no such user in the target application",
        ),
        (
            vec!["link", fresh.as_str(), linked_account.as_str()],
            "is already linked to Entra user",
        ),
        (
            vec!["link", disabled.as_str(), spare.as_str()],
            "is not in scope: the account is disabled in Entra ID",
        ),
        (
            vec!["link", &upn(&no_pairs), spare.as_str()],
            "is a member of no paired Entra group",
        ),
        (
            vec!["unlink", fresh.as_str()],
            "is not linked to a target user",
        ),
    ] {
        let run = w.run_as_admin(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
        assert_eq!(w.stored(), before, "{args:?} wrote to the state");
        assert_eq!(w.scim_writes(), writes, "{args:?} wrote to the target");
    }
}

#[test]
fn an_ambiguous_match_is_linked_by_hand_undone_and_linked_again_until_it_converges() {
    let w = World::new("");
    let mut taken = w.members(&w.tier1);
    taken.extend(w.members(&w.tier2));
    let ann = w.new_member(&mut taken);
    let email = w.email_of(&ann);
    w.app_account("ann.first", &email);
    let chosen = w.app_account("ann.second", &email);
    let (_, plan) = w.plan_json();
    assert_eq!(action(&plan, &ann)["kind"], "skip");
    assert_eq!(warned_about(&plan, &ann), ["ambiguous-match"]);

    let writes = w.scim_writes();
    let run = w.run_as_admin(&["link", &email, &chosen]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("to target user {chosen} (ann.second)"))
            && run.stdout.contains("link ")
            && run.stdout.contains("externalId: (none) -> "),
        "{}",
        run.stdout
    );
    assert_eq!(w.scim_writes(), writes, "link writes nothing to the target");
    let (_, plan) = w.plan_json();
    let a = action(&plan, &ann);
    assert_eq!(
        (
            a["kind"].as_str(),
            a["reason"].as_str(),
            a["target_user_id"].as_str()
        ),
        (
            Some("link"),
            Some("linked by hand by alice-admin"),
            Some(chosen.as_str())
        )
    );
    assert!(warned_about(&plan, &ann).is_empty(), "{plan:#}");
    let explained = w.run(&["explain", &ann]);
    assert!(
        explained
            .stdout
            .contains("linked by hand by alice-admin at 20"),
        "{}",
        explained.stdout
    );

    // Undone: the target is not touched and the next plan skips the user again.
    let run = w.run_as_admin(&["unlink", &ann]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("the target user was not changed"),
        "{}",
        run.stdout
    );
    assert_eq!(w.scim_writes(), writes);
    let (_, plan) = w.plan_json();
    assert_eq!(action(&plan, &ann)["kind"], "skip");
    assert_eq!(warned_about(&plan, &ann), ["ambiguous-match"]);

    assert_eq!(w.run_as_admin(&["link", &ann, &chosen]).code, 0);
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    assert!(plan["warnings"].as_array().unwrap().is_empty(), "{plan:#}");
    let account = w.scim.user(&chosen).unwrap();
    assert_eq!(account["externalId"], ann.as_str());
    assert!(w.target_groups_of(&ann).contains(&"hd-g-tier1"));

    let kinds: Vec<(String, String)> = w
        .history()
        .iter()
        .map(|r| {
            (
                r["trigger"].as_str().unwrap().to_owned(),
                r["actions"][0]["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let kinds: Vec<(&str, &str)> = kinds
        .iter()
        .map(|(t, k)| (t.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        &kinds[1..],
        [("link", "link"), ("unlink", "unlink"), ("link", "link")],
        "newest first"
    );
    assert_eq!(kinds[0].0, "sync");
    let text = w.run(&["history"]).stdout;
    assert!(
        text.contains("linked by hand by alice-admin to ann.second")
            && text.contains(&format!("unlinked by hand by alice-admin from {chosen}")),
        "{text}"
    );
}

#[test]
fn two_entra_users_sharing_an_email_are_linked_by_hand_and_converge() {
    let w = World::new("");
    let mut taken = w.members(&w.tier1);
    taken.extend(w.members(&w.tier2));
    let first = w.new_member(&mut taken);
    let second = w.new_member(&mut taken);
    // An email that is neither user's userPrincipalName (a UPN names one user).
    let email = "front.desk@tailspintoys.com";
    for id in [&first, &second] {
        w.entra.update_user(id, json!({"mail": email}));
    }
    let one = w.app_account("shared.one", email);
    let two = w.app_account("shared.two", "shared.two@elsewhere.example");
    let (_, plan) = w.plan_json();
    assert_eq!(action(&plan, &second)["kind"], "skip");
    assert_eq!(warned_about(&plan, &second), ["duplicate-email"]);

    // The email names two users: refused, naming both.
    let run = w.run_as_admin(&["link", email, &one]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("2 Entra users have this email"),
        "{}",
        run.stderr
    );

    assert_eq!(w.run_as_admin(&["link", &first, &one]).code, 0);
    assert_eq!(w.run_as_admin(&["link", &second, &two]).code, 0);
    let (_, plan) = w.plan_json();
    for id in [&first, &second] {
        assert_eq!(action(&plan, id)["kind"], "link");
        assert!(warned_about(&plan, id).is_empty(), "{plan:#}");
    }
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    assert_eq!(w.scim.user(&two).unwrap()["externalId"], second.as_str());

    // Deleted from Entra ID, the user can still be unlinked by its object id; its account is
    // then no longer adsync's to disable.
    w.entra.delete_user(&second);
    let (_, plan) = w.plan_json();
    assert_eq!(action(&plan, &second)["kind"], "disable");
    let run = w.run_as_admin(&["unlink", &second]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!w.stored().0.iter().any(|(entra, _)| *entra == second));
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    assert_eq!(w.scim.user(&two).unwrap()["active"], true);
}

/// The service's incremental cycles plan only for users Entra changed; a link made by hand while
/// it runs is applied by a full cycle at its next tick, once.
#[test]
fn the_running_service_applies_a_link_made_by_hand_at_its_next_cycle() {
    let w = World::new("interval_secs = 5");
    let mut taken = w.members(&w.tier1);
    taken.extend(w.members(&w.tier2));
    let ann = w.new_member(&mut taken);
    let email = w.email_of(&ann);
    w.app_account("ann.first", &email);
    let chosen = w.app_account("ann.second", &email);
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    assert!(w.scim.user(&chosen).unwrap()["externalId"].is_null());

    let run = w.run_as_admin(&["link", &ann, &chosen]);
    assert_eq!(run.code, 0, "{}", run.all());
    wait_for("the service to write the link", 30, &|| {
        w.scim.user(&chosen).unwrap()["externalId"] == ann.as_str()
    });
    service.wait_for_log("a link made by hand", 10);
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
    // Once written, the quiet cycles are incremental again.
    w.wait_for_a_quiet_cycle();
    assert_eq!(
        service.plain_log().matches("a link made by hand").count(),
        1,
        "{}",
        service.plain_log()
    );
}

/// Without `USER` and its kin (`sudo -i`, cron, a service), the link names the account the
/// process runs as, from the account database, not "an unknown user".
#[test]
fn a_link_without_user_in_the_environment_names_the_account_it_ran_as() {
    let w = World::new("");
    let mut taken = w.members(&w.tier1);
    taken.extend(w.members(&w.tier2));
    let ann = w.new_member(&mut taken);
    let email = w.email_of(&ann);
    w.app_account("ann.first", &email);
    let chosen = w.app_account("ann.second", &email);
    let expected = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let expected = String::from_utf8(expected.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(!expected.is_empty());
    let run = {
        let _enter = w.rt.enter();
        let mut cmd = w.command(&["link", &email, &chosen]);
        cmd.env_remove("USER")
            .env_remove("USERNAME")
            .env_remove("LOGNAME");
        run_command(cmd, "")
    };
    assert_eq!(run.code, 0, "{}", run.all());
    let history = w.run(&["history"]);
    assert!(
        history
            .stdout
            .contains(&format!("linked by hand by {expected} to ann.second")),
        "{}",
        history.stdout
    );
    assert!(!history.stdout.contains("an unknown user"));
}
