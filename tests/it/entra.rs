//! `adsync sim entra` and `adsync entra groups | members` as a person runs them: the simulated
//! tenant started from the binary, then browsed through a config file that points at it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The running `adsync sim entra`; killed when dropped.
struct SimProcess {
    child: Child,
    lines: Vec<String>,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimProcess {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_adsync"))
            .args(["sim", "entra", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("Press Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        Self { child, lines }
    }

    /// The `[entra]` snippet the simulator printed.
    fn entra_section(&self) -> String {
        let start = self
            .lines
            .iter()
            .position(|l| l == "[entra]")
            .expect("a config snippet");
        self.lines[start..]
            .iter()
            .take_while(|l| !l.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn adsync(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_adsync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn browse_the_simulated_demo_tenant_from_the_command_line() {
    let sim = SimProcess::start();
    assert!(sim.lines[0].contains("Tailspin Toys"), "{:?}", sim.lines);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 1\n{}\n\n[target]\nurl = \"http://127.0.0.1:9/scim/v2\"\ntoken = \"env:ADSYNC_UNUSED\"\n",
            sim.entra_section()
        ),
    )
    .unwrap();

    let (code, out, err) = adsync(&config, &["entra", "groups", "--search", "support"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID "), "{out}");
    for name in [
        "Support (all)",
        "Support Tier 1",
        "Support Tier 2",
        "Support Leads",
    ] {
        assert!(out.contains(name), "{name} in {out}");
    }
    let tier1 = out
        .lines()
        .find(|l| l.contains("Support Tier 1"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let all = out
        .lines()
        .find(|l| l.contains("Support (all)"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (code, out, _) = adsync(&config, &["entra", "members", &tier1]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1 + 24, "a header and 24 agents: {out}");

    let (_, direct, err) = adsync(&config, &["entra", "members", &all, "--direct"]);
    assert!(
        err.contains("1 user(s), direct members"),
        "only the guest is direct: {err}"
    );
    assert!(direct.contains("#EXT#"), "{direct}");
    let (_, nested, err) = adsync(&config, &["entra", "members", &all]);
    assert!(nested.lines().count() > 40, "{err}");

    let (code, _, err) = adsync(
        &config,
        &["entra", "members", "00000000-0000-4000-8000-000000000000"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_wrong_secret_is_explained_on_the_command_line() {
    let sim = SimProcess::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "8e2f0c4a-6b1d-4e3f-9a5c-7d2e1f0a3b4c").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let section = sim
        .entra_section()
        .lines()
        .map(|l| {
            if l.starts_with("client_secret") {
                format!("client_secret = \"file:{}\"", secret.display())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("version = 1\n{section}\n\n[target]\nurl = \"http://127.0.0.1:9/scim/v2\"\ntoken = \"env:ADSYNC_UNUSED\"\n"),
    )
    .unwrap();
    let (code, _, err) = adsync(&config, &["entra", "groups"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not its *Secret ID*") && err.contains("AADSTS7000215"),
        "{err}"
    );
    assert!(
        !err.contains("8e2f0c4a-6b1d"),
        "the secret is not echoed: {err}"
    );
}
