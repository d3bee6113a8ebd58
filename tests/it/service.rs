//! `adsync service ...` through the binary: status with and without a state store, and install,
//! start, stop and uninstall against a fake `systemctl` that records how it was called.

use std::path::{Path, PathBuf};

use crate::common::{Env, Run, config_text, run_command};

/// A fake `systemctl`: appends its arguments to `systemctl.log`, says `inactive` / `enabled`.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
echo "$*" >> "$(dirname "$0")/systemctl.log"
case "$*" in
  *is-active*) echo inactive; exit 3 ;;
  *is-enabled*) echo enabled ;;
esac
exit 0
"#;

struct Service {
    env: Env,
    config: PathBuf,
    fake: Option<PathBuf>,
}

impl Service {
    /// A temp dir with a valid config; `fake` installs the fake systemctl.
    fn new(extra_config: &str, fake: bool) -> Self {
        let env = Env::new();
        let config = env.write(
            "etc/config.toml",
            &format!(
                "{}[service]\ninterval_secs = 60\n{extra_config}",
                config_text("keyring:adsync/target-token")
            ),
        );
        let fake = fake.then(|| {
            let path = env.write("bin/systemctl", FAKE_SYSTEMCTL);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            path
        });
        Self { env, config, fake }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// [`Service::run`] with extra environment variables.
    fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut all = vec!["service"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", self.config.to_str().unwrap()]);
        let mut cmd = self.env.command(&all);
        cmd.env_remove("ADSYNC_SYSTEMCTL")
            .env_remove("ADSYNC_SYSTEMD_DIR")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("XDG_RUNTIME_DIR");
        if let Some(fake) = &self.fake {
            cmd.env("ADSYNC_SYSTEMCTL", fake);
        }
        cmd.envs(vars.iter().copied());
        run_command(cmd, "")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.env.path("bin/systemctl.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn user_unit(&self) -> PathBuf {
        self.env.path("xdg-config/systemd/user/adsync.service")
    }
}

fn systemd_running_here() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn line<'a>(run: &'a Run, name: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no `{name}:` line in\n{}", run.all()))
}

#[test]
fn status_without_a_state_store_reports_and_exits_0() {
    let service = Service::new("", true);
    let run = service.run(&["status", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        line(&run, "installed").contains("no (no unit at"),
        "{}",
        run.stdout
    );
    assert!(line(&run, "installed").contains("adsync service install --user"));
    assert!(
        line(&run, "running").ends_with("inactive"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "config").contains(&format!("{} (valid, 1 pair(s))", service.config.display())),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "state").ends_with("xdg-data/adsync/state.sqlite3"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "last run").contains("none (no state store yet"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "next run").contains("no cycle recorded yet"),
        "{}",
        run.stdout
    );
    assert_eq!(
        service.calls(),
        [
            "--user is-enabled adsync.service",
            "--user is-active adsync.service"
        ]
    );
    // Asking does not create a state store.
    assert!(!service.env.path("xdg-data/adsync/state.sqlite3").exists());
}

#[test]
fn status_reports_the_last_cycle_and_the_next_from_the_state_store() {
    let state = Env::new();
    let state_path = state.path("state.sqlite3");
    let service = Service::new(
        &format!("state_path = \"{}\"\n", state_path.display()),
        false,
    );
    let store = adsync::state::StateStore::open(&state_path).unwrap();
    let run_id = store.begin_run("service", false).unwrap();
    store
        .finish_run(run_id, adsync::sync::RunOutcome::Ok, None, None)
        .unwrap();
    let started = store.history(1).unwrap().remove(0).started_at;
    drop(store);

    let run = service.run(&["status", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let last = line(&run, "last run");
    assert!(
        last.contains(&format!("{started} ok (run #1, service)")),
        "{}",
        run.stdout
    );
    let next =
        adsync::service::next_run_after(&started, std::time::Duration::from_secs(60)).unwrap();
    assert!(line(&run, "next run").contains(&next), "{}", run.stdout);
    assert!(line(&run, "state").contains(&state_path.display().to_string()));
    if !systemd_running_here() {
        assert!(
            line(&run, "running").contains("unknown (systemd is not running"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn status_with_a_missing_config_still_reports() {
    let service = Service::new("", true);
    std::fs::remove_file(&service.config).unwrap();
    let run = service.run(&["status", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        line(&run, "config").contains("cannot be read"),
        "{}",
        run.stdout
    );
}

#[test]
fn install_start_stop_uninstall_call_systemctl_and_keep_config_and_state() {
    let service = Service::new("", true);
    let run = service.run(&["install", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let unit = std::fs::read_to_string(service.user_unit()).unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_adsync"))
        .canonicalize()
        .unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} run --config {}\n",
            exe.display(),
            service.config.display()
        )),
        "{unit}"
    );
    assert!(unit.contains("WantedBy=default.target"), "{unit}");
    assert!(run.stdout.contains("enabled adsync.service (user service)"));

    assert_eq!(service.run(&["start", "--user"]).code, 0);
    assert_eq!(service.run(&["stop", "--user"]).code, 0);

    let status = service.run(&["status", "--user"]);
    assert!(
        line(&status, "installed").contains(&format!("yes ({})", service.user_unit().display())),
        "{}",
        status.stdout
    );

    // Something for uninstall to leave alone.
    let state = service.env.write("xdg-data/adsync/state.sqlite3", "state");
    let log = service.env.write("xdg-state/adsync/logs/adsync.log", "log");
    let run = service.run(&["uninstall", "--user"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!service.user_unit().exists());
    assert!(service.config.is_file() && state.is_file() && log.is_file());
    assert!(run.stdout.contains("kept: config"), "{}", run.stdout);

    assert_eq!(
        service.calls(),
        [
            "--user daemon-reload",
            "--user enable adsync.service",
            "--user start adsync.service",
            "--user stop adsync.service",
            "--user is-enabled adsync.service",
            "--user is-active adsync.service",
            "--user is-enabled adsync.service",
            "--user is-active adsync.service",
            "--user disable --now adsync.service",
            "--user daemon-reload",
        ]
    );

    // Uninstalling again is not an error.
    let again = service.run(&["uninstall", "--user"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert!(again.stdout.contains("not installed"), "{}", again.stdout);
}

#[test]
fn install_now_starts_it_too() {
    let service = Service::new("", true);
    let run = service.run(&["install", "--user", "--now"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        service.calls(),
        ["--user daemon-reload", "--user enable --now adsync.service"]
    );
}

#[test]
fn install_refuses_an_invalid_or_missing_config() {
    let service = Service::new("", true);
    std::fs::write(&service.config, "version = 1\n").unwrap();
    let run = service.run(&["install", "--user"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("fix the"), "{}", run.stderr);
    std::fs::remove_file(&service.config).unwrap();
    let run = service.run(&["install", "--user"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("adsync config init"), "{}", run.stderr);
    assert!(service.calls().is_empty());
    assert!(!service.user_unit().exists());
}

#[test]
fn without_systemd_install_writes_the_unit_and_says_what_to_run() {
    if systemd_running_here() {
        eprintln!("skipped: systemd is running on this machine");
        return;
    }
    let service = Service::new("", false);
    let run = service.run(&["install", "--user"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(service.user_unit().is_file());
    assert!(
        run.stdout
            .contains(&format!("wrote {}", service.user_unit().display()))
    );
    assert!(
        run.stderr
            .contains("systemctl --user daemon-reload\n  systemctl --user enable adsync.service"),
        "{}",
        run.stderr
    );
    let start = service.run(&["start", "--user"]);
    assert_eq!(start.code, 1);
    assert!(
        start
            .stderr
            .contains("systemctl --user start adsync.service"),
        "{}",
        start.stderr
    );
}

/// The system variant, into a temp dir instead of /etc/systemd/system. It needs the `adsync`
/// system user (the .deb creates it); without it, install says how to create it.
#[test]
fn system_install_passes_file_secrets_as_credentials_or_names_the_missing_user() {
    let service = Service::new("", true);
    let text = std::fs::read_to_string(&service.config).unwrap().replace(
        "keyring:adsync/target-token",
        "file:/etc/adsync/secrets/target-token",
    );
    std::fs::write(&service.config, text).unwrap();
    let units = service.env.path("units");
    let mut all = vec!["service", "install", "--system", "--config"];
    all.push(service.config.to_str().unwrap());
    let mut cmd = service.env.command(&all);
    cmd.env("ADSYNC_SYSTEMD_DIR", &units)
        .env("ADSYNC_SYSTEMCTL", service.fake.as_ref().unwrap());
    let run = run_command(cmd, "");
    let user_exists = std::process::Command::new("getent")
        .args(["passwd", "adsync"])
        .output()
        .is_ok_and(|o| o.status.success());
    if user_exists {
        assert_eq!(run.code, 0, "{}", run.all());
        let unit = std::fs::read_to_string(units.join("adsync.service")).unwrap();
        assert!(
            unit.contains("LoadCredential=target-token-a517f530:/etc/adsync/secrets/target-token"),
            "{unit}"
        );
        assert!(unit.contains("User=adsync"), "{unit}");
        assert_eq!(service.calls(), ["daemon-reload", "enable adsync.service"]);
    } else {
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains("useradd --system"), "{}", run.stderr);
        assert!(!units.join("adsync.service").exists());
    }
}

#[test]
fn print_shows_the_units_and_the_plist() {
    let service = Service::new("", false);
    let packaged = service.run(&["print", "--packaged"]);
    assert_eq!(packaged.code, 0);
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("installer/linux/adsync.service"),
    )
    .unwrap();
    assert_eq!(packaged.stdout, shipped);
    let plist = service.run(&["print", "--user", "--launchd"]);
    assert!(plist.stdout.contains("<key>ProgramArguments</key>"));
    assert!(plist.stdout.contains(&service.config.display().to_string()));
}

/// Under systemd a `file:` secret is read from the credential of its path (file name and a hash
/// of the path), so the config can keep naming the root-only original; one the unit does not
/// pass says to install the service again.
#[cfg(unix)]
#[test]
fn file_secret_is_read_from_the_systemd_credential_of_its_path() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let credentials = env.path("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    let id = adsync::service::credentials::credential_id(std::path::Path::new(
        "/nonexistent/adsync/secrets/target-token",
    ))
    .unwrap();
    let copy = credentials.join(id);
    std::fs::write(&copy, "from-credential\n").unwrap();
    // systemd makes credentials read-only for the service's user.
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o400)).unwrap();
    let reference = "file:/nonexistent/adsync/secrets/target-token";

    let mut cmd = env.command(&["secret", "check", reference]);
    cmd.env("CREDENTIALS_DIRECTORY", &credentials);
    let run = run_command(cmd, "");
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains("from-credential"));

    // Without the credential the original path is used (and here it does not exist).
    let mut cmd = env.command(&["secret", "check", reference]);
    cmd.env_remove("CREDENTIALS_DIRECTORY");
    let run = run_command(cmd, "");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains(reference), "{}", run.stderr);

    // A reference of the same file name in another folder (added after install) is not handed
    // that copy: the service says to install again.
    let added = "file:/nonexistent/adsync/other/target-token";
    let mut cmd = env.command(&["secret", "check", added]);
    cmd.env("CREDENTIALS_DIRECTORY", &credentials);
    let run = run_command(cmd, "");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains(added), "{}", run.stderr);
    assert!(
        run.stderr.contains("run `adsync service install` again"),
        "{}",
        run.stderr
    );
}

/// The per-user unit runs in a user namespace of its own, except when the config's `keyring:`
/// secrets are in the kernel keyutils store, whose keyrings that namespace would hide.
#[test]
fn the_user_unit_leaves_out_its_user_namespace_only_for_keyutils_secrets() {
    for (backend, namespaced) in [("secret-service", true), ("keyutils", false)] {
        let service = Service::new("", true);
        let run = service.run_with(&["install", "--user"], &[("ADSYNC_KEYRING", backend)]);
        assert_eq!(run.code, 0, "{}", run.all());
        let unit = std::fs::read_to_string(service.user_unit()).unwrap();
        assert!(unit.contains("\nLimitCORE=0\n"), "{backend}: {unit}");
        assert!(
            unit.contains("\nSystemCallFilter=@system-service\n"),
            "{backend}: {unit}"
        );
        assert_eq!(
            unit.contains("\nPrivateUsers=yes\n"),
            namespaced,
            "{backend}: {unit}"
        );
        assert_eq!(
            unit.contains("\nProtectSystem=strict\n"),
            namespaced,
            "{backend}: {unit}"
        );
    }
}
