//! The guarantees of R13 through the binary: one writer per state store (a second `sync` while
//! `adsync run` applies is refused at once, naming the service; readers keep working), a run
//! killed part way shows as `interrupted`, and a create the application committed but answered
//! with a 504 is not sent again.

use super::*;

/// `adsync sync` started while `adsync run` applies exits 1 within a second naming the service's
/// pid; `adsync plan` and `history` still work beside it. Killed mid-apply, the service leaves
/// its run `interrupted` (in `history` at once, in the store when the next writer starts), and
/// the kernel has released its lock: the next `sync` runs.
#[test]
fn a_second_writer_is_refused_naming_the_holder_and_a_killed_run_shows_as_interrupted() {
    let w = World::new("interval_secs = 5");
    // Slow creates: the service is still applying when the second writer starts.
    w.scim.faults().add(
        FaultRule::new(
            "POST",
            "/Users",
            1,
            Fault::Latency(Duration::from_millis(400)),
        )
        .times(u64::MAX),
    );
    let mut service = Service::start(&w);
    wait_for("the service applying its first cycle", 60, &|| {
        w.scim.log().count("POST", "/Users") >= 1
    });

    let started = Instant::now();
    let second = w.run(&["sync"]);
    let took = started.elapsed();
    assert_eq!(second.code, 1, "{}", second.all());
    assert!(took < Duration::from_secs(1), "refused after {took:?}");
    let pid = service.child.id();
    assert!(
        second
            .stderr
            .contains(&format!("another adsync (pid {pid}, `adsync run`, since "))
            && second.stderr.contains("state.sqlite3; stop it or wait"),
        "{}",
        second.all()
    );
    assert!(second.stdout.is_empty(), "{}", second.all());

    // Readers work beside the writer.
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let running = w.history();
    assert_eq!(running[0]["outcome"], "running", "{running:#?}");

    // Killed mid-apply: the run shows as interrupted, and the lock went with the process.
    service.child.kill().unwrap();
    service.child.wait().unwrap();
    let history = w.history();
    assert_eq!(history[0]["outcome"], "interrupted", "{history:#?}");
    let text = w.run(&["history"]);
    assert!(
        text.stdout
            .contains("service interrupted: its process ended before the run finished"),
        "{}",
        text.all()
    );
    w.scim.faults().clear();
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let store = adsync::state::StateStore::open(&w.env.path("state.sqlite3")).unwrap();
    let outcomes: Vec<String> = store
        .history(10)
        .unwrap()
        .iter()
        .map(|r| r.outcome.as_str().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        ["ok", "interrupted"],
        "the store itself closed the killed run"
    );
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// R13: a create the application committed and then answered with a 504 (a gateway that gave up
/// while the application finished) is not sent again: adsync looks the user up by its Entra id,
/// finds it, and records the create. Exactly one account exists, and the next plan is empty.
///
/// The application here is a loose one (it accepts a userName already in use), where a create
/// sent again makes a second account rather than a 409.
#[test]
fn a_create_committed_then_answered_504_is_not_sent_again() {
    let w = World::with_app("", |seed| seed["looseUserNames"] = json!(true));
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let mut members = w.members(&w.tier1);
    members.extend(w.members(&w.tier2));
    let newcomer = w.outsider(&members);
    w.entra.add_member(&w.tier1, &newcomer);
    w.scim.log().clear();
    w.scim
        .faults()
        .add(FaultRule::new("POST", "/Users", 1, Fault::StatusAfter(504)));

    let run = w.run(&["sync", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let applied: Value = serde_json::from_str(&run.stdout).unwrap();
    let create = action(&applied, &newcomer);
    assert_eq!(create["kind"], "create", "{applied:#}");
    assert_eq!(create["result"]["status"], "ok", "{applied:#}");
    assert_eq!(
        w.scim.log().count("POST", "/Users"),
        1,
        "the create was sent once: {:?}",
        w.scim.log().requests()
    );
    assert_eq!(w.users_by_external_id().get(&newcomer), Some(&1));
    let target_id = w.target_user(&newcomer).unwrap()["id"].clone();
    assert_eq!(create["target_user_id"], target_id);
    assert_eq!(w.target_groups_of(&newcomer), ["hd-g-tier1"]);

    let history = w.history();
    let recorded = history[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entra_id"] == newcomer.as_str())
        .unwrap();
    assert_eq!(
        (&recorded["kind"], &recorded["status"]),
        (&json!("create"), &json!("ok"))
    );
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// A create answered 409 whose holder carries this user's Entra id (here the application made
/// the account and still refused the create, as one does when two creates race) is taken over:
/// reported, counted and recorded in the history as a link, not a create.
#[test]
fn a_409_takeover_is_recorded_as_a_link() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let mut members = w.members(&w.tier1);
    members.extend(w.members(&w.tier2));
    let newcomer = w.outsider(&members);
    w.entra.add_member(&w.tier2, &newcomer);
    let (_, planned) = w.plan_json();
    assert_eq!(action(&planned, &newcomer)["kind"], "create");
    w.scim
        .faults()
        .add(FaultRule::new("POST", "/Users", 1, Fault::StatusAfter(409)));

    let run = w.run(&["sync", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let applied: Value = serde_json::from_str(&run.stdout).unwrap();
    let link = action(&applied, &newcomer);
    assert_eq!(link["kind"], "link", "{applied:#}");
    assert_eq!(link["result"]["status"], "ok", "{applied:#}");
    assert!(
        link["reason"].as_str().unwrap().contains("answered 409"),
        "{link:#}"
    );
    assert_eq!(
        (summary(&applied, "create"), summary(&applied, "link")),
        (0, 1)
    );
    assert_eq!(w.users_by_external_id().get(&newcomer), Some(&1));
    assert_eq!(w.target_groups_of(&newcomer), ["hd-g-tier2"]);

    let history = w.history();
    let recorded = history[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entra_id"] == newcomer.as_str())
        .unwrap();
    assert_eq!(
        (&recorded["kind"], &recorded["status"]),
        (&json!("link"), &json!("ok"))
    );
    let (_, again) = w.plan_json();
    assert!(again["actions"].as_array().unwrap().is_empty(), "{again:#}");
}

/// R13: when the application holds two accounts carrying one Entra user's id (what two writers
/// or a blind retry leave behind), the plan says so, naming both accounts, instead of coming out
/// empty; a user not linked yet is skipped rather than linked to a guess.
#[test]
fn two_accounts_with_one_entra_id_are_named_in_a_duplicate_external_id_warning() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let (_, quiet) = w.plan_json();
    assert!(quiet["actions"].as_array().unwrap().is_empty(), "{quiet:#}");

    // A managed user gains a twin carrying its Entra id.
    let managed = w.members(&w.tier1)[0].clone();
    let original = w.target_user(&managed).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let twin = w
        .scim
        .add_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "twin-of-a-managed-user",
            "externalId": managed,
            "active": true,
        }))
        .unwrap();
    // And an unlinked newcomer already has two.
    let mut members = w.members(&w.tier1);
    members.extend(w.members(&w.tier2));
    let newcomer = w.outsider(&members);
    let mut twins = Vec::new();
    for name in ["newcomer-a", "newcomer-b"] {
        twins.push(
            w.scim
                .add_user(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "externalId": newcomer,
                    "active": true,
                }))
                .unwrap(),
        );
    }
    w.entra.add_member(&w.tier1, &newcomer);

    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let warnings: Vec<&Value> = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "duplicate-externalId")
        .collect();
    assert_eq!(warnings.len(), 2, "{plan:#}");
    let about = |entra_id: &str| {
        warnings
            .iter()
            .find(|w| w["entra_ids"] == json!([entra_id]))
            .unwrap_or_else(|| panic!("no warning about {entra_id}: {plan:#}"))["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let on_managed = about(&managed);
    assert!(
        on_managed.contains(&original) && on_managed.contains(&twin),
        "{on_managed}"
    );
    let on_newcomer = about(&newcomer);
    assert!(
        twins.iter().all(|t| on_newcomer.contains(t.as_str())),
        "{on_newcomer}"
    );
    let skipped = action(&plan, &newcomer);
    assert_eq!(
        (&skipped["kind"], &skipped["reason"]),
        (&json!("skip"), &json!("duplicate-externalId"))
    );
    assert!(
        plan["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["entra_id"] != managed.as_str()),
        "the managed user stays managed through its link: {plan:#}"
    );
}
