//! Binary-level tests of the SCIM commands: `adsync sim scim` serves the demo application and
//! `adsync target users|groups` browse it through a config file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `adsync sim scim` on the demo seed and returns it with its URL and token, as printed.
fn start_sim(token: &str) -> (Running, String, String) {
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo-app.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .args(["sim", "scim", "--seed", seed, "--token", token])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start adsync sim scim");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let second = lines.next().expect("a line").expect("utf-8");
    let url = first.rsplit(' ').next().expect("url").to_owned();
    let shown_token = second.trim_start_matches("bearer token: ").to_owned();
    // Keep reading what the simulator prints, so it never writes to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/scim/v2"),
        "{first}"
    );
    (running, url, shown_token)
}

fn write_config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            r#"version = 1

[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:ADSYNC_IT_ENTRA_SECRET"

[target]
url = "{url}"
auth = "bearer"
token = "env:ADSYNC_IT_TARGET_TOKEN"
admin_email = "admin@contoso.example"
"#
        ),
    )
    .expect("write config");
    path
}

#[test]
fn sim_scim_prints_url_and_token_and_target_commands_list_the_demo_app() {
    let token = "it-demo-token-123";
    let (_sim, url, shown) = start_sim(token);
    assert_eq!(shown, token);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &url);

    let users = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .arg("--config")
        .arg(&config)
        .args(["target", "users"])
        .env("ADSYNC_IT_TARGET_TOKEN", token)
        .output()
        .expect("target users");
    let stdout = String::from_utf8_lossy(&users.stdout);
    assert!(
        users.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&users.stderr)
    );
    assert!(stdout.starts_with("ID"), "{stdout}");
    assert!(stdout.contains("sara.umar@tailspintoys.com"), "{stdout}");
    assert!(stdout.contains("15 user(s)"), "{stdout}");

    let groups = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .arg("--config")
        .arg(&config)
        .args(["target", "groups"])
        .env("ADSYNC_IT_TARGET_TOKEN", token)
        .output()
        .expect("target groups");
    let stdout = String::from_utf8_lossy(&groups.stdout);
    assert!(groups.status.success(), "{stdout}");
    assert!(
        stdout.contains("hd-g-tier1") && stdout.contains("Tier 1"),
        "{stdout}"
    );
    assert!(stdout.contains("6 group(s)"), "{stdout}");

    let refused = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .arg("--config")
        .arg(&config)
        .args(["target", "users"])
        .env("ADSYNC_IT_TARGET_TOKEN", "not-the-token-987")
        .output()
        .expect("target users, wrong token");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("refused adsync's credentials (401"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-token-987"));
}

#[test]
fn sim_scim_rejects_a_bad_seed_with_usage_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, r#"{"users": [{"userName": "a"}], "groups": [{"displayName": "G", "members": ["nobody"]}]}"#)
        .expect("seed");
    let output = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .args(["sim", "scim", "--seed"])
        .arg(&seed)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"nobody\" is not a seeded user"),
        "{stderr}"
    );
}
