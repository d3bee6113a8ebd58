//! Users the application keeps refusing, through `adsync run`: they are set aside with a growing
//! wait instead of turning every cycle into a full reconciliation, `adsync service status`
//! shows them, and the service's alerts reach a webhook listening on loopback.

use std::sync::{Arc, Mutex};

use super::*;

/// The part of the webhook's URL that stands for its token: it must never leave the process in
/// an alert's body or a log line.
const HOOK_TOKEN: &str = "T0KENc4f3b1d9e";

/// A webhook on loopback recording the JSON bodies POSTed to it, its URL in a 0600 file that
/// the config refers to (`file:`).
struct Webhook {
    _server: adsync::sim::Server,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    fn start(w: &World, url_file: &std::path::Path) -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let router = axum::Router::new().route(
            &format!("/hook/{HOOK_TOKEN}"),
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let server =
            w.rt.block_on(adsync::sim::Server::start(router, 0))
                .unwrap();
        std::fs::write(url_file, format!("{}/hook/{HOOK_TOKEN}", server.url())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(url_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Self {
            _server: server,
            bodies,
        }
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b["event"] == event)
            .cloned()
            .collect()
    }

    fn all(&self) -> String {
        serde_json::to_string(&*self.bodies.lock().unwrap()).unwrap()
    }
}

/// A world whose service alerts a loopback webhook; the webhook is started, the service not.
fn alerting_world(extra: &str) -> (World, Webhook, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("webhook-url");
    let w = World::new(&format!(
        "interval_secs = 5\nalert_webhook = \"file:{}\"\n{extra}",
        url_file.display()
    ));
    let hook = Webhook::start(&w, &url_file);
    (w, hook, dir)
}

fn target_id(w: &World, entra_id: &str) -> String {
    w.target_user(entra_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn upn(w: &World, entra_id: &str) -> String {
    w.tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == entra_id)
        .unwrap()["userPrincipalName"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn status(w: &World) -> String {
    let run = w.run(&["service", "status", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.stdout
}

/// One user the application refuses forever (400 on its PATCH), one refused once, one not at
/// all, all changed in one round: the others' changes arrive (the once-refused one from its
/// failure record, the cursor having moved on), no cycle turns into a full reconciliation, the
/// refused user is quarantined after three cycles in a row, alerted once, shown by `service
/// status`, and then tried only at its growing retry times.
#[test]
fn a_user_the_application_always_refuses_is_quarantined_without_holding_the_others() {
    let (w, hook, _dir) = alerting_world("");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    let tier1 = w.members(&w.tier1);
    let (refused, flaky, other) = (tier1[0].clone(), tier1[1].clone(), tier1[2].clone());
    let refused_id = target_id(&w, &refused);
    w.scim.faults().add(
        FaultRule::new(
            "PATCH",
            &format!("/Users/{refused_id}"),
            1,
            Fault::Status(400),
        )
        .times(u64::MAX),
    );
    w.scim.faults().add(FaultRule::new(
        "PATCH",
        &format!("/Users/{}", target_id(&w, &flaky)),
        1,
        Fault::Status(400),
    ));
    w.wait_for_a_quiet_cycle();
    for id in [&refused, &flaky, &other] {
        w.entra.update_user(id, json!({"jobTitle": "Night Shift"}));
    }
    let title = |id: &str| w.target_user(id).unwrap()["title"].clone();
    wait_for("the other users' changes", 30, &|| {
        title(&other) == "Night Shift" && title(&flaky) == "Night Shift"
    });
    service.wait_for_log("ALERT quarantined", 40);
    // From here, count the cycles and the tries of the refused user.
    w.entra.log().clear();
    w.scim.log().clear();

    assert_ne!(title(&refused), "Night Shift");
    let log = service.plain_log();
    assert_eq!(
        log.matches("full cycle:").count(),
        1,
        "only the start reconciled fully:\n{log}"
    );
    assert!(!log.contains("cycle failed"), "{log}");
    let refused_upn = upn(&w, &refused);
    assert!(
        log.lines().any(|l| l.contains("ALERT quarantined")
            && l.contains(&refused_upn)
            && l.contains("3 cycles in a row")),
        "{log}"
    );

    // `service status` names the user, its failures, the error and the next retry.
    let text = status(&w);
    assert!(
        text.contains("quarantine: 1 user(s) set aside, retried with a growing wait"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(&refused_upn))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("quarantined since ")
            && line.contains(", next retry ")
            && line.contains("3 failure(s) in a row")
            && line.contains("failed with 400"),
        "{text}"
    );
    assert!(!text.contains(&upn(&w, &flaky)), "{text}");
    assert!(text.contains("withheld:  none"), "{text}");
    assert!(
        text.contains("failures:  1 action(s) failed in run #"),
        "{text}"
    );

    // Four more cycles: tried at the first (one interval after) and the third (two more), not
    // every cycle; quarantined once, alerted once.
    wait_for("four more cycles", 40, &|| {
        w.entra.log().count("GET", "/users/delta") >= 4
    });
    let tries = w.scim.log().count("PATCH", &refused_id);
    assert!((1..=2).contains(&tries), "{tries} tries in 4 cycles");
    let log = service.plain_log();
    assert_eq!(log.matches("ALERT quarantined").count(), 1, "{log}");
    assert_eq!(log.matches("full cycle:").count(), 1, "{log}");

    // The webhook got the one alert, with the user, and no secret.
    let alerts = hook.events("quarantined");
    assert_eq!(alerts.len(), 1, "{}", hook.all());
    assert!(
        alerts[0]["text"].as_str().unwrap().contains(&refused_upn),
        "{}",
        hook.all()
    );
    assert_eq!(alerts[0]["config"], w.config.display().to_string());
    assert_eq!(alerts[0]["details"]["entra_id"], refused.as_str());
    let all = hook.all();
    for secret in [HOOK_TOKEN, TOKEN, &w.entra.client_secret().unwrap()] {
        assert!(!all.contains(secret), "a secret in an alert: {all}");
        assert!(!log.contains(secret), "a secret in the log");
    }
}

/// The other two alerts: a plan the mass-disable guard withholds is alerted once (not at every
/// cycle that plans it again), shown by `service status` until a plan goes through; cycles that
/// keep failing (Graph answering 500) are alerted at the third in a row. Each is logged as one
/// `ALERT` line, and no alert carries a secret.
#[test]
fn the_service_alerts_a_withheld_plan_and_failing_cycles_once_each() {
    let (w, hook, _dir) = alerting_world("[policy]\nmax_disables = 5\n");
    let service = Service::start(&w);
    wait_for("the first full cycle", 60, &|| {
        w.history().first().is_some_and(|r| r["outcome"] == "ok")
    });
    let tier2 = w.members(&w.tier2);
    let leavers: Vec<String> = w
        .members(&w.tier1)
        .into_iter()
        .filter(|id| !tier2.contains(id))
        .take(6)
        .collect();
    assert_eq!(leavers.len(), 6);
    w.wait_for_a_quiet_cycle();
    for id in &leavers {
        w.entra.remove_member(&w.tier1, id);
    }
    service.wait_for_log("ALERT plan withheld", 30);
    w.entra.log().clear();
    let text = status(&w);
    assert!(
        text.contains("withheld:  since ")
            && text.contains(
                "withheld by the mass-disable guard: the plan disables 6 users, more than \
                 max_disables = 5"
            )
            && text.contains("the plan: disable 6"),
        "{text}"
    );
    // Planned and withheld again by the next cycles, alerted once.
    wait_for("two more cycles", 30, &|| {
        w.entra.log().count("GET", "/users/delta") >= 2
    });
    assert_eq!(
        service.plain_log().matches("ALERT plan withheld").count(),
        1
    );
    let withheld = hook.events("plan-withheld");
    assert_eq!(withheld.len(), 1, "{}", hook.all());
    assert_eq!(withheld[0]["details"]["kind"], "disable");
    assert_eq!(withheld[0]["details"]["summary"]["disable"], 6);
    assert!(
        withheld[0]["text"]
            .as_str()
            .unwrap()
            .contains("withheld by the mass-disable guard"),
        "{}",
        hook.all()
    );
    assert!(
        leavers
            .iter()
            .all(|id| w.target_user(id).is_some_and(|u| u["active"] == true))
    );

    // Back in their group: the next plan goes through and the withheld plan is forgotten.
    for id in &leavers {
        w.entra.add_member(&w.tier1, id);
    }
    wait_for("the withheld plan forgotten", 30, &|| {
        status(&w).contains("withheld:  none")
    });

    // Graph fails every delta read: the third failed cycle in a row is alerted, once.
    w.entra
        .faults()
        .add(FaultRule::new("GET", "/users/delta", 1, Fault::Status(500)).times(u64::MAX));
    service.wait_for_log("ALERT cycles failing", 40);
    let failing = hook.events("cycles-failing");
    assert_eq!(failing.len(), 1, "{}", hook.all());
    assert_eq!(failing[0]["details"]["cycles"], 3);
    assert!(
        failing[0]["text"]
            .as_str()
            .unwrap()
            .contains("3 cycles in a row failed; the last: reading Entra changes failed"),
        "{}",
        hook.all()
    );
    assert_eq!(failing[0]["config"], w.config.display().to_string());
    let (all, log) = (hook.all(), service.plain_log());
    for secret in [HOOK_TOKEN, TOKEN, &w.entra.client_secret().unwrap()] {
        assert!(!all.contains(secret), "a secret in an alert: {all}");
        assert!(!log.contains(secret), "a secret in the log");
    }
}

/// `adsync sync` tries everyone, quarantined or not, and reports; a user it now writes (or
/// finds with nothing to write) is no longer quarantined, while one it still fails on keeps
/// its record as the service left it (only the service counts failures).
#[test]
fn sync_tries_quarantined_users_and_forgets_those_it_writes() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let tier1 = w.members(&w.tier1);
    let (fixed, refused) = (tier1[0].clone(), tier1[1].clone());
    let refused_id = target_id(&w, &refused);
    {
        let store = adsync::state::StateStore::open(&w.env.path("state.sqlite3")).unwrap();
        for id in [&fixed, &refused] {
            let failure = adsync::state::quarantine::UserFailure {
                entra_id: id,
                target_id: None,
                user_principal_name: "someone@contoso.com",
                error: "PATCH failed with 400",
                counted: true,
            };
            for at in [1_000, 2_000, 3_000] {
                store
                    .record_user_failure(&failure, Duration::from_secs(3600), at)
                    .unwrap();
            }
        }
    }
    w.scim.faults().add(
        FaultRule::new(
            "PATCH",
            &format!("/Users/{refused_id}"),
            1,
            Fault::Status(400),
        )
        .times(u64::MAX),
    );
    for id in [&fixed, &refused] {
        w.entra.update_user(id, json!({"jobTitle": "Night Shift"}));
    }
    w.scim.log().clear();
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(w.target_user(&fixed).unwrap()["title"], "Night Shift");
    assert_eq!(w.scim.log().count("PATCH", &refused_id), 1);

    let store = adsync::state::StateStore::open(&w.env.path("state.sqlite3")).unwrap();
    let left: Vec<(String, u32)> = store
        .failing_users()
        .unwrap()
        .into_iter()
        .map(|u| (u.entra_id, u.failures))
        .collect();
    assert_eq!(left, [(refused, 3)]);
}

/// `adsync check` fails on a webhook the service would ignore (plain http to another machine),
/// naming the key and never the URL, which is the secret; an https one passes.
#[test]
fn check_fails_on_a_webhook_the_service_would_ignore_without_showing_it() {
    let w = World::new("alert_webhook = \"env:ADSYNC_E2E_HOOK\"");
    let check = |url: &str| {
        let _enter = w.rt.enter();
        let mut cmd = w.command(&["check"]);
        cmd.env("ADSYNC_E2E_HOOK", url);
        run_command(cmd, "")
    };
    let plain = check("http://hooks.example.com/T000/B000/s3cr3tHookPath");
    assert_eq!(plain.code, 1, "{}", plain.all());
    assert!(
        plain.stdout.contains("service.alert_webhook")
            && plain.stdout.contains("plain http to another machine"),
        "{}",
        plain.all()
    );
    assert!(!plain.all().contains("s3cr3tHookPath"), "{}", plain.all());
    let https = check("https://hooks.example.com/T000/B000/s3cr3tHookPath");
    assert_eq!(https.code, 0, "{}", https.all());
    assert!(!https.all().contains("s3cr3tHookPath"), "{}", https.all());
}
