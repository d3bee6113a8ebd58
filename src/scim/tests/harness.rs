//! Test harness: the two servers the client is tested against. The simulated application runs
//! in-process; `scim2-server` (PyPI, pinned) runs as a child process from a Python venv that the
//! tests create once under the target directory, guarded by a file lock so parallel test
//! processes (nextest) do not race.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::RetryPolicy;
use crate::secret::Secret;
use crate::sim::scim::{ScimSim, Seed};

use super::super::{ScimAuth, ScimClient};

/// The PyPI packages the interop tests install, pinned: the server, the CLI that runs the
/// compliance suite, and the scim2 libraries they share (so a new release cannot change results).
pub const PY_PACKAGES: [&str; 5] = [
    "scim2-server==0.8.3",
    "scim2-cli==0.6.0",
    "scim2-tester==0.5.2",
    "scim2-client==0.13.2",
    "scim2-models==0.12.3",
];

/// Where the venv lives: `$CARGO_TARGET_DIR/scim-venv`, else next to the test binary's target
/// directory.
fn venv_dir() -> PathBuf {
    target_dir().join("scim-venv")
}

/// `$CARGO_TARGET_DIR`, else the target directory the test binary runs from: where the
/// interop servers are installed.
pub(super) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // target/debug/deps/adsync-HASH → target
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The venv with the pinned packages, created on first use. Returns its `bin` directory.
pub fn python_bin() -> PathBuf {
    let dir = venv_dir();
    let marker = dir.join(format!(".adsync-ready-{}", PY_PACKAGES.join("+")));
    if marker.exists() {
        return dir.join("bin");
    }
    std::fs::create_dir_all(dir.parent().expect("has a parent")).expect("target dir");
    let lock_path = dir.with_extension("lock");
    let lock = File::create(&lock_path).expect("venv lock file");
    // Blocks while another test process builds the venv.
    lock.lock().expect("lock the venv");
    if !marker.exists() {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let probe = Command::new(&python)
            .args(["-c", "import venv, ensurepip"])
            .output();
        match probe {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "the SCIM interop tests need Python 3 with the venv module and pip to run \
                 scim2-server: install it (Debian/Ubuntu: `apt-get install python3 python3-venv`), \
                 or point PYTHON at a python3 that has them"
            ),
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove a half-made venv");
        }
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&dir),
            "python3 -m venv",
        );
        run(
            Command::new(dir.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(PY_PACKAGES),
            "pip install scim2-server scim2-cli (needs access to PyPI)",
        );
        File::create(&marker)
            .and_then(|mut f| f.write_all(b"ok\n"))
            .expect("venv marker");
    }
    drop(lock);
    dir.join("bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// An independent SCIM server running as a child process on a loopback port, killed on drop.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Starts `command(port)` on a free loopback port and waits until the port accepts
    /// connections; tries three ports (another process may take a free port first).
    pub fn start(
        what: &str,
        command: impl Fn(u16) -> Command,
        url: impl Fn(u16) -> String,
    ) -> Self {
        for _ in 0..3 {
            let port = free_port();
            let child = command(port)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {what}: {e}"));
            let mut server = ServerProcess {
                child,
                url: url(port),
            };
            if server.wait_ready(port, Duration::from_secs(30)) {
                return server;
            }
        }
        panic!("{what} did not start");
    }

    fn wait_ready(&mut self, port: u16, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// Starts `scim2-server` on a free loopback port, accepting `token`.
fn start_scim2_server(token: &str) -> ServerProcess {
    let bin = python_bin();
    ServerProcess::start(
        "scim2-server",
        |port| {
            let mut command = Command::new(bin.join("scim2-server"));
            command
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
                .args(["--bearer-token", token]);
            command
        },
        |port| format!("http://127.0.0.1:{port}/v2"),
    )
}

enum Backend {
    Sim(ScimSim),
    /// Kept so the server is killed when the target is dropped.
    Py {
        _server: ServerProcess,
    },
    /// The SCIMMY application (npm), kept so it is killed when the target is dropped.
    Node {
        _server: ServerProcess,
    },
}

/// A server under test and a client for it.
pub struct Target {
    backend: Backend,
    pub url: String,
    pub token: String,
    pub client: ScimClient,
}

impl Target {
    /// The simulated application, empty.
    pub async fn sim() -> Self {
        Self::sim_with(Seed::empty()).await
    }

    /// The simulated application from `seed`.
    pub async fn sim_with(seed: Seed) -> Self {
        let sim = ScimSim::start(seed).await.expect("start the simulator");
        let (url, token) = (sim.url(), sim.token.clone());
        Self {
            client: client_for(&url, &token),
            backend: Backend::Sim(sim),
            url,
            token,
        }
    }

    /// scim2-server from PyPI.
    pub async fn scim2_server() -> Self {
        let token = format!("interop-{}", uuid::Uuid::new_v4().simple());
        let server = tokio::task::spawn_blocking({
            let token = token.clone();
            move || start_scim2_server(&token)
        })
        .await
        .expect("start scim2-server");
        let url = server.url.clone();
        Self {
            client: client_for(&url, &token),
            backend: Backend::Py { _server: server },
            url,
            token,
        }
    }

    /// The SCIMMY application (npm).
    pub async fn scimmy() -> Self {
        let token = format!("interop-{}", uuid::Uuid::new_v4().simple());
        let server = tokio::task::spawn_blocking({
            let token = token.clone();
            move || super::scimmy::start(&token)
        })
        .await
        .expect("start the SCIMMY server");
        let url = server.url.clone();
        Self {
            client: client_for(&url, &token),
            backend: Backend::Node { _server: server },
            url,
            token,
        }
    }

    /// The simulator, when this target is one.
    pub fn sim_handle(&self) -> Option<&ScimSim> {
        match &self.backend {
            Backend::Sim(sim) => Some(sim),
            Backend::Py { .. } | Backend::Node { .. } => None,
        }
    }

    /// Whether the server claims ETag support: SCIMMY has none (docs/scim-interop.md).
    pub fn advertises_etag(&self) -> bool {
        !matches!(self.backend, Backend::Node { .. })
    }

    /// Whether the server's filter parser reads `\"` inside a quoted value (RFC 7644 §3.4.2.2):
    /// SCIMMY's does not, and answers 400 invalidFilter (docs/scim-interop.md).
    pub fn parses_escaped_quotes(&self) -> bool {
        !matches!(self.backend, Backend::Node { .. })
    }
}

/// A client with fast retries, as tests want.
pub fn client_for(url: &str, token: &str) -> ScimClient {
    ScimClient::new(url, ScimAuth::Bearer(Secret::new(token))).with_retry(RetryPolicy::fast())
}

/// Runs `scim2 test` (scim2-cli's compliance suite) against `url`; returns its output.
pub async fn run_compliance_suite(url: &str, token: &str) -> String {
    let bin = tokio::task::spawn_blocking(python_bin).await.expect("venv");
    let output = tokio::process::Command::new(Path::new(&bin).join("scim2"))
        .args(["--url", url, "test"])
        // The token goes in the environment, not on the command line others can see.
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {token}"))
        .output()
        .await
        .expect("run scim2 test");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
