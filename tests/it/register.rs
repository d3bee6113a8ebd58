//! `adsync entra register` as an administrator runs it, against the simulated tenant: from a
//! config with no app in it to a passing `adsync check` and a first sync, with the browser flow
//! (a test "browser" that follows the redirect with curl) and with device code, and each failure
//! with the message a person sees. Throughout, the private key stays 0600 and is never sent.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{Env, Run, run_command};
use adsync::sim::entra::{EntraSim, Fixture};
use adsync::sim::scim::{ScimSim, Seed};

const TOKEN: &str = "helpdesk-demo-token";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Both simulators and a config whose `[entra]` has a tenant but no app and no credential.
struct World {
    rt: tokio::runtime::Runtime,
    entra: EntraSim,
    _scim: ScimSim,
    env: Env,
    config: PathBuf,
    browser: PathBuf,
}

impl World {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fixture = Fixture::from_file(&repo("assets/demo-tenant.json")).unwrap();
        let seed = Seed::from_file(&repo("assets/demo-app.json")).unwrap();
        let (entra, scim) = rt.block_on(async {
            (
                EntraSim::start(fixture).await.unwrap(),
                ScimSim::start(seed).await.unwrap(),
            )
        });
        let tenant: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(repo("assets/demo-tenant.json")).unwrap(),
        )
        .unwrap();
        let tier1 = tenant["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["displayName"] == "Support Tier 1")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let env = Env::new();
        let config = env.write(
            "conf/config.toml",
            &format!(
                r#"# Our helpdesk sync (kept by register)
version = 1
[entra]
tenant = "{tenant}"   # the tenant's domain
authority_url = "{url}"
graph_url = "{url}"
[target]
url = "{scim}"
token = "env:ADSYNC_E2E_TOKEN"
[[pairs]]
entra_group_id = "{tier1}"
target_group_id = "hd-g-tier1"
order = 1
[service]
state_path = "{state}"
"#,
                tenant = entra.tenant_domain(),
                url = entra.url(),
                scim = scim.url(),
                state = env.path("state.sqlite3").display(),
            ),
        );
        // A browser that follows the authorize redirect to adsync's loopback address.
        let browser = env.write(
            "browser.sh",
            "#!/bin/sh\nexec curl -s -L -o /dev/null \"$1\"\n",
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self {
            rt,
            entra,
            _scim: scim,
            env,
            config,
            browser,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let _enter = self.rt.enter();
        let mut cmd = self.env.command(&[]);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("ADSYNC_E2E_TOKEN", TOKEN)
            .env("BROWSER", &self.browser);
        run_command(cmd, "")
    }

    fn pem(&self) -> PathBuf {
        self.config.parent().unwrap().join("entra-adsync.pem")
    }

    /// The private key stays owner-only and no request to the tenant carried any of it.
    fn assert_key_private(&self) {
        let pem = self.pem();
        assert!(
            pem.exists(),
            "the certificate was made at {}",
            pem.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the private key is owner-only");
        }
        let text = std::fs::read_to_string(&pem).unwrap();
        let key_body: String = text
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .unwrap()
            .split("-----END")
            .next()
            .unwrap()
            .lines()
            .collect::<String>();
        assert!(key_body.len() > 100);
        let bodies = self.entra.received_bodies();
        assert!(!bodies.is_empty());
        for body in bodies {
            assert!(!body.contains("PRIVATE KEY"), "{body}");
            // Any 40-character run of the key's base64 would be a leak.
            for chunk in key_body.as_bytes().chunks(40).take(20) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(
                    !body.contains(chunk),
                    "a piece of the private key was sent: {body}"
                );
            }
        }
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config).unwrap()
    }
}

fn end_to_end(flow: &[&str], says: &str) {
    let w = World::new();
    let run = w.run(&[&["entra", "register"], flow].concat());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains(says), "{}", run.stderr);
    assert!(run.stderr.contains("Signed in."), "{}", run.stderr);
    let apps = w.entra.created_apps();
    assert_eq!(apps.len(), 1, "{apps:?}");
    let app = &apps[0];
    assert_eq!(app.display_name, "adsync");
    assert_eq!((app.certificates, app.assignments), (1, 2));
    assert!(run.stdout.contains(&app.app_id), "{}", run.stdout);
    assert!(
        run.stdout.contains(&app.id),
        "the object ID is named: {}",
        run.stdout
    );
    let text = w.config_text();
    assert!(
        text.contains(&format!("client_id = \"{}\"", app.app_id)),
        "{text}"
    );
    assert!(
        text.contains(&format!("certificate = \"{}\"", w.pem().display())),
        "{text}"
    );
    assert!(text.contains("cloud = \"global\""), "{text}");
    // Every other key and comment is kept.
    assert!(
        text.starts_with("# Our helpdesk sync (kept by register)"),
        "{text}"
    );
    assert!(text.contains("# the tenant's domain"), "{text}");
    assert!(text.contains("target_group_id = \"hd-g-tier1\""), "{text}");

    let check = w.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    assert!(check.all().contains("User.Read.All"), "{}", check.all());
    let sync = w.run(&["sync"]);
    assert_eq!(sync.code, 0, "{}", sync.all());
    assert!(w.entra.log().count("POST", "/token") >= 3);
    w.assert_key_private();
}

#[test]
fn register_with_the_browser_from_an_empty_config_to_a_first_sync() {
    end_to_end(&[], "Sign in in the browser window");
}

#[test]
fn register_with_a_device_code_from_an_empty_config_to_a_first_sync() {
    end_to_end(&["--device-code"], "enter the code");
}

#[test]
fn register_without_the_role_to_grant_names_the_role_and_the_app_made() {
    let w = World::new();
    w.entra.set_admin_roles(&["Application Administrator"]);
    let run = w.run(&["entra", "register"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let apps = w.entra.created_apps();
    assert_eq!(apps.len(), 1);
    let err = &run.stderr;
    assert!(
        err.contains("Privileged Role Administrator or Global Administrator"),
        "{err}"
    );
    assert!(
        err.contains(&apps[0].app_id) && err.contains(&apps[0].id),
        "{err}"
    );
    assert!(err.contains("adminconsent?client_id="), "{err}");
    assert!(
        !w.config_text().contains("client_id"),
        "nothing half-made is written"
    );
    w.assert_key_private();

    // A plain member where users may not register apps cannot even create it.
    let w = World::new();
    w.entra.set_admin_roles(&[]);
    w.entra.set_users_can_register(false);
    let run = w.run(&["entra", "register"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("may not create app registrations")
            && run.stderr.contains("Application Administrator"),
        "{}",
        run.stderr
    );
    assert!(w.entra.created_apps().is_empty());
    w.assert_key_private();
}

#[test]
fn register_with_device_code_blocked_suggests_the_browser() {
    let w = World::new();
    w.entra.block_device_code(true);
    let run = w.run(&["entra", "register", "--device-code"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("AADSTS53003"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Conditional Access")
            && run
                .stderr
                .contains("without --device-code to sign in in a browser"),
        "{}",
        run.stderr
    );
    assert!(w.entra.created_apps().is_empty());
}

#[test]
fn register_when_consent_never_shows_prints_the_ids_and_the_consent_url() {
    let w = World::new();
    w.entra.withhold_consent(true);
    let run = w.run(&["entra", "register", "--wait-secs", "3"]);
    assert_eq!(run.code, 1, "{}", run.all());
    let app = &w.entra.created_apps()[0];
    let err = &run.stderr;
    assert!(
        err.contains("waiting for Entra: 0:0"),
        "progress is shown: {err}"
    );
    assert!(
        err.contains("did not give the app registration \"adsync\""),
        "{err}"
    );
    assert!(err.contains(&app.app_id) && err.contains(&app.id), "{err}");
    assert!(
        err.contains(&format!("adminconsent?client_id={}", app.app_id)),
        "{err}"
    );
    w.assert_key_private();
}

#[test]
fn register_rides_out_replication_lag_on_every_object() {
    let w = World::new();
    w.entra.set_replication_lag(Duration::from_secs(3));
    let run = w.run(&["entra", "register"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let err = &run.stderr;
    assert!(
        err.contains("creating the service principal: Entra has not caught up yet"),
        "{err}"
    );
    assert!(
        err.contains("granting User.Read.All: Entra has not caught up yet"),
        "{err}"
    );
    assert!(err.contains("waiting for Entra: "), "{err}");
    assert_eq!(w.entra.created_apps()[0].assignments, 2);
    let check = w.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.all());
    w.assert_key_private();
}

#[test]
fn register_again_with_the_same_name_adopts_the_app() {
    let w = World::new();
    let first = w.run(&["entra", "register"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let second = w.run(&["entra", "register"]);
    assert_eq!(second.code, 0, "{}", second.all());
    assert!(
        second
            .stdout
            .starts_with("Adopted the app registration \"adsync\""),
        "{}",
        second.stdout
    );
    let apps = w.entra.created_apps();
    assert_eq!(apps.len(), 1, "no second app: {apps:?}");
    assert_eq!(apps[0].certificates, 1, "the same certificate is reused");
    assert_eq!(apps[0].assignments, 2, "no duplicate grants");
    w.assert_key_private();
}

#[test]
fn register_in_the_demo_then_check_and_sync_with_the_new_app() {
    let env = Env::new();
    let dir = env.path("demo");
    let run = env.run(&[
        "demo",
        "--register",
        "--no-wait",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let out = &run.stdout;
    assert!(out.contains("--- adsync entra register ---"), "{out}");
    assert!(
        out.contains("Created the app registration \"adsync\""),
        "{out}"
    );
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let client_id = config
        .lines()
        .find_map(|l| l.strip_prefix("client_id = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    assert!(
        out.contains(&format!("ok   Entra sign-in: token for app {client_id}")),
        "{out}"
    );
    assert!(out.contains("ok   permission User.Read.All"), "{out}");
    assert!(
        out.contains("ok   permission GroupMember.Read.All"),
        "{out}"
    );
    assert!(out.contains("--- adsync sync ---\napplied "), "{out}");
    assert!(out.contains(", 0 failed"), "{out}");
    assert!(!config.contains("client_secret"), "{config}");
    assert!(config.contains("certificate = "), "{config}");
}
