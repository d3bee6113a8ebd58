//! The engine end to end: the real `adsync` binary against the simulated tenant and application,
//! both running in this test process over loopback, driven through `plan` and `sync`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use adsync::sim::entra::{EntraSim, Fixture};
use adsync::sim::scim::{ScimSim, Seed};
use adsync::sim::{Fault, FaultRule};
use serde_json::{Value, json};

use crate::common::{Env, Run, run_command};

const TOKEN: &str = "helpdesk-demo-token";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Both simulators started from the demo fixtures, and a config pairing Support Tier 1 → Tier 1
/// and Support Tier 2 → Tier 2.
struct World {
    rt: tokio::runtime::Runtime,
    entra: EntraSim,
    scim: ScimSim,
    env: Env,
    config: PathBuf,
    tier1: String,
    tier2: String,
    tenant: Value,
}

impl World {
    fn new(extra_config: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let tenant: Value = serde_json::from_str(
            &std::fs::read_to_string(repo("assets/demo-tenant.json")).unwrap(),
        )
        .unwrap();
        let fixture = Fixture::from_file(&repo("assets/demo-tenant.json")).unwrap();
        let seed = Seed::from_file(&repo("assets/demo-app.json")).unwrap();
        let (entra, scim) = rt.block_on(async {
            (
                EntraSim::start(fixture).await.unwrap(),
                ScimSim::start(seed).await.unwrap(),
            )
        });
        let group = |name: &str| {
            tenant["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["displayName"] == name)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (tier1, tier2) = (group("Support Tier 1"), group("Support Tier 2"));
        let env = Env::new();
        let secret = env.write("entra-secret", &entra.client_secret().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config = env.write(
            "config.toml",
            &format!(
                r#"version = 1
[entra]
tenant = "{tenant}"
client_id = "{client}"
client_secret = "file:{secret}"
authority_url = "{url}"
graph_url = "{url}"
[target]
url = "{scim}"
token = "env:ADSYNC_E2E_TOKEN"
[[pairs]]
entra_group_id = "{tier1}"
target_group_id = "hd-g-tier1"
order = 1
[[pairs]]
entra_group_id = "{tier2}"
target_group_id = "hd-g-tier2"
order = 2
[service]
state_path = "{state}"
{extra_config}
"#,
                tenant = entra.tenant_domain(),
                client = entra.client_id(),
                secret = secret.display(),
                url = entra.url(),
                scim = scim.url(),
                state = env.path("state.sqlite3").display(),
            ),
        );
        Self {
            rt,
            entra,
            scim,
            env,
            config,
            tier1,
            tier2,
            tenant,
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.env.command(&[]);
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env("ADSYNC_E2E_TOKEN", TOKEN);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        // The simulators run on this runtime's threads while the binary talks to them.
        let _enter = self.rt.enter();
        run_command(self.command(args), "")
    }

    fn plan_json(&self) -> (i32, Value) {
        let run = self.run(&["plan", "--format", "json"]);
        let json = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("plan JSON ({e}):\n{}", run.all()));
        (run.code, json)
    }

    /// Entra ids of the enabled members of a tenant group, from the fixture.
    fn members(&self, group_id: &str) -> Vec<String> {
        self.entra.member_ids(group_id)
    }

    fn scim_writes(&self) -> usize {
        let log = self.scim.log();
        log.count("POST", "/Users")
            + log.count("PATCH", "")
            + log.count("PUT", "")
            + log.count("DELETE", "")
    }

    fn users_by_external_id(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for u in self.scim.users() {
            if let Some(ext) = u["externalId"].as_str() {
                *counts.entry(ext.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }
}

fn summary(plan: &Value, kind: &str) -> u64 {
    plan["summary"][kind].as_u64().unwrap()
}

fn action<'a>(plan: &'a Value, entra_id: &str) -> &'a Value {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entra_id"] == entra_id)
        .unwrap_or_else(|| panic!("no action for {entra_id} in {plan:#}"))
}

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
}

/// `adsync demo --no-wait`: the README's try-it command, end to end on a fresh directory.
#[test]
fn the_demo_checks_plans_syncs_and_converges() {
    let env = Env::new();
    let dir = env.path("demo");
    let run = env.run(&["demo", "--no-wait", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Plan: 29 create, 5 link"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("applied 34 action(s), 0 failed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("34 unchanged"), "{}", run.stdout);
    // The config it wrote validates and holds references, with the secrets in 0600 files.
    let config = dir.join("config.toml");
    let check = env.run(&["config", "validate", "--config", config.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.all());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("client_secret = \"file:"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("target-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A running `adsync run`, its log in a file; killed when dropped.
struct Service {
    child: std::process::Child,
    log: PathBuf,
}

impl Service {
    fn start(w: &World) -> Self {
        let log = w.env.path(&format!("service-{}.log", uuid_like()));
        let file = std::fs::File::create(&log).unwrap();
        let _enter = w.rt.enter();
        let child = w
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log without its colour codes.
    fn plain_log(&self) -> String {
        let log = self.log();
        let mut out = String::with_capacity(log.len());
        let mut chars = log.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Waits for `needle` in the service's log; on a timeout the panic shows the log.
    fn wait_for_log(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.plain_log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for `{needle}` in the service log:\n{}",
                self.plain_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn wait_for(what: &str, secs: u64, cond: &dyn Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl World {
    /// An enabled tenant user in none of `members` whom no target user matches by userName or
    /// email: joining a paired group makes it a create, not a link.
    fn outsider(&self, members: &[String]) -> String {
        let in_target: Vec<String> = self
            .scim
            .users()
            .iter()
            .flat_map(|u| {
                let mut keys = vec![u["userName"].as_str().unwrap_or_default().to_lowercase()];
                for e in u["emails"].as_array().into_iter().flatten() {
                    keys.push(e["value"].as_str().unwrap_or_default().to_lowercase());
                }
                keys
            })
            .collect();
        let known = |u: &Value, key: &str| {
            in_target.contains(&u[key].as_str().unwrap_or_default().to_lowercase())
        };
        self.tenant["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| {
                u["accountEnabled"] == true
                    && !members.iter().any(|m| u["id"] == m.as_str())
                    && !known(u, "mail")
                    && !known(u, "userPrincipalName")
            })
            .expect("the demo tenant has enabled users outside the paired groups")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn history(&self) -> Vec<Value> {
        let run = self.run(&["history", "--format", "json"]);
        serde_json::from_str(&run.stdout).unwrap_or_default()
    }

    fn target_user(&self, entra_id: &str) -> Option<Value> {
        self.scim
            .users()
            .into_iter()
            .find(|u| u["externalId"] == entra_id)
    }

    fn target_groups_of(&self, entra_id: &str) -> Vec<&'static str> {
        let Some(user) = self.target_user(entra_id) else {
            return Vec::new();
        };
        let id = user["id"].as_str().unwrap().to_owned();
        ["hd-g-tier1", "hd-g-tier2"]
            .into_iter()
            .filter(|g| self.scim.member_ids(g).contains(&id))
            .collect()
    }

    /// The state store's delta links and cached snapshot, read beside the running service.
    fn stored_delta(
        &self,
    ) -> (
        Option<String>,
        Option<String>,
        Option<adsync::sync::SourceCache>,
    ) {
        let store = adsync::state::StateStore::open(&self.env.path("state.sqlite3")).unwrap();
        (
            store.delta_link("users").unwrap(),
            store.delta_link("groups").unwrap(),
            store.load_source_cache().unwrap(),
        )
    }

    /// Waits for the service to finish a quiet cycle, so the next one is a whole interval away.
    fn wait_for_a_quiet_cycle(&self) {
        self.entra.log().clear();
        wait_for("a quiet cycle", 30, &|| {
            self.entra.log().count("GET", "/groups/delta") >= 1
        });
        std::thread::sleep(Duration::from_millis(300));
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
