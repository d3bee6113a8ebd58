//! The second independent server of the interop tests: a minimal in-memory SCIM application built
//! on SCIMMY and scimmy-routers (npm), `tests/scimmy-server/server.cjs`. Its packages are pinned by
//! `tests/scimmy-server/package-lock.json` and installed with `npm ci` on first use into
//! `target/scimmy-server`, under a file lock so parallel test processes do not race; a changed
//! lock file installs again.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use super::harness::ServerProcess;

/// The server's sources in the repository.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scimmy-server")
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

/// `target/scimmy-server/node_modules` with the pinned packages, installed on first use.
pub fn node_modules() -> PathBuf {
    let dir = super::harness::target_dir().join("scimmy-server");
    let lock_text = std::fs::read(source_dir().join("package-lock.json"))
        .expect("tests/scimmy-server/package-lock.json");
    let digest: String = sha2::Sha256::digest(&lock_text)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let marker = dir.join(format!(".adsync-ready-{digest}"));
    let modules = dir.join("node_modules");
    if marker.exists() {
        return modules;
    }
    std::fs::create_dir_all(&dir).expect("target/scimmy-server");
    let lock = File::create(dir.with_extension("lock")).expect("npm lock file");
    // Blocks while another test process installs.
    lock.lock().expect("lock target/scimmy-server");
    if !marker.exists() {
        for tool in ["node", "npm"] {
            let found = Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "the SCIM interop tests need Node.js and npm to run the SCIMMY server: install \
                 them (Debian/Ubuntu: `apt-get install nodejs npm`)"
            );
        }
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source_dir().join(file), dir.join(file)).expect("copy the npm manifest");
        }
        for stale in std::fs::read_dir(&dir)
            .expect("read target/scimmy-server")
            .flatten()
        {
            if stale
                .file_name()
                .to_string_lossy()
                .starts_with(".adsync-ready-")
            {
                let _ = std::fs::remove_file(stale.path());
            }
        }
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                .current_dir(&dir),
            "npm ci in target/scimmy-server (needs access to the npm registry)",
        );
        File::create(&marker)
            .and_then(|mut f| f.write_all(b"ok\n"))
            .expect("npm marker");
    }
    drop(lock);
    modules
}

/// Starts the SCIMMY server on a free loopback port, accepting `token` (passed in the
/// environment, not on the command line others can see).
pub fn start(token: &str) -> ServerProcess {
    let modules = node_modules();
    ServerProcess::start(
        "the SCIMMY server (try: node tests/scimmy-server/server.cjs 8080)",
        |port| {
            let mut command = Command::new("node");
            command
                .arg(source_dir().join("server.cjs"))
                .arg(port.to_string())
                .env("NODE_PATH", &modules)
                .env("SCIMMY_TOKEN", token);
            command
        },
        |port| format!("http://127.0.0.1:{port}/scim/v2"),
    )
}
