//! The engine end to end: the real `adsync` binary against the simulated tenant and application,
//! both running in this test process over loopback. This module holds the world they run in;
//! the tests are split by topic: `sync` (plan, sync, explain), `service` (`adsync run`), `demo`,
//! `crash` (writes the application took but adsync never recorded), and more.

mod ca_file;
mod crash;
mod deadline;
mod demo;
mod endless;
mod guard;
mod guards;
mod hostile;
mod incomplete;
mod link;
mod multivalued;
mod quarantine;
mod rebuild;
mod service;
mod state_errors;
mod sync;

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
        Self::with_app(extra_config, |_| {})
    }

    /// [`World::new`] with the application's seed edited by `edit` first.
    fn with_app(extra_config: &str, edit: impl FnOnce(&mut Value)) -> Self {
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
        let mut seed: Value =
            serde_json::from_str(&std::fs::read_to_string(repo("assets/demo-app.json")).unwrap())
                .unwrap();
        edit(&mut seed);
        let seed = Seed::from_json(&seed.to_string()).unwrap();
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
    /// Every userName and email the application's users hold, lower-cased: what R2 matches on.
    fn target_match_keys(&self) -> Vec<String> {
        self.scim
            .users()
            .iter()
            .flat_map(|u| {
                let mut keys = vec![u["userName"].as_str().unwrap_or_default().to_lowercase()];
                for e in u["emails"].as_array().into_iter().flatten() {
                    keys.push(e["value"].as_str().unwrap_or_default().to_lowercase());
                }
                keys
            })
            .collect()
    }

    /// An enabled tenant user in none of `members` whom no target user matches by userName or
    /// email: joining a paired group makes it a create, not a link.
    fn outsider(&self, members: &[String]) -> String {
        let in_target = self.target_match_keys();
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
            store.delta_link(adsync::state::DeltaStream::Users).unwrap(),
            store
                .delta_link(adsync::state::DeltaStream::Groups)
                .unwrap(),
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
