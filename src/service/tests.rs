//! Service definitions as text: the hardening lines, the paths and `ExecStart=`, system vs per-user,
//! the launchd plist parsed as a plist, and the packaged unit kept equal to the generated one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::sync::RunOutcome;

fn spec() -> ServiceSpec {
    ServiceSpec {
        exe: PathBuf::from("/usr/bin/adsync"),
        config: PathBuf::from("/etc/adsync/config.toml"),
        credentials: vec![Credential {
            id: "target-token-a517f530".into(),
            path: PathBuf::from("/etc/adsync/secrets/target-token"),
        }],
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}

#[test]
fn system_unit_runs_adsync_as_its_own_user_with_the_hardening() {
    let unit = systemd::system_unit(&spec());
    let lines = lines(&unit);
    for expected in [
        "[Unit]",
        "[Service]",
        "[Install]",
        "ExecStart=/usr/bin/adsync run --config /etc/adsync/config.toml",
        "User=adsync",
        "Group=adsync",
        "StateDirectory=adsync",
        "LogsDirectory=adsync",
        "ConfigurationDirectory=adsync",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateMounts=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallArchitectures=native",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "LoadCredential=target-token-a517f530:/etc/adsync/secrets/target-token",
        "WantedBy=multi-user.target",
        "After=network-online.target",
    ] {
        assert!(lines.contains(&expected), "missing `{expected}` in\n{unit}");
    }
    assert!(!unit.contains("DynamicUser"), "{unit}");
    // Sections in order, ExecStart once.
    let unit_at = unit.find("\n[Unit]").unwrap();
    let service_at = unit.find("\n[Service]").unwrap();
    let install_at = unit.find("\n[Install]").unwrap();
    assert!(unit_at < service_at && service_at < install_at);
    assert_eq!(unit.matches("ExecStart=").count(), 1);
}

#[test]
fn user_unit_runs_as_the_user_from_login_without_system_only_settings() {
    let spec = ServiceSpec {
        exe: PathBuf::from("/home/ann/.cargo/bin/adsync"),
        config: PathBuf::from("/home/ann/.config/adsync/config.toml"),
        credentials: Vec::new(),
    };
    let unit = systemd::user_unit(&spec);
    let lines = lines(&unit);
    for expected in [
        "ExecStart=/home/ann/.cargo/bin/adsync run --config /home/ann/.config/adsync/config.toml",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "NoNewPrivileges=yes",
        "WantedBy=default.target",
    ] {
        assert!(lines.contains(&expected), "missing `{expected}` in\n{unit}");
    }
    // A user manager cannot switch users, and hiding homes (ProtectHome=yes or tmpfs) would hide
    // the user's own config: homes are read-only, the user's own writable.
    for absent in [
        "User=",
        "ProtectHome=yes",
        "ProtectHome=tmpfs",
        "StateDirectory",
        "multi-user.target",
    ] {
        assert!(!unit.contains(absent), "`{absent}` in\n{unit}");
    }
    for expected in ["ProtectHome=read-only", "ReadWritePaths=%h"] {
        assert!(lines.contains(&expected), "missing `{expected}` in\n{unit}");
    }
    assert_eq!(systemd::unit(&spec, Scope::User), unit);
}

/// Lines every unit carries: no core dumps of a process holding secrets, and the system-call and
/// process hardening that even a user manager without a user namespace applies.
const HARDENED_EVERYWHERE: &[&str] = &[
    "LimitCORE=0",
    "NoNewPrivileges=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "UMask=0077",
];

fn user_spec() -> ServiceSpec {
    ServiceSpec {
        exe: PathBuf::from("/home/ann/.cargo/bin/adsync"),
        config: PathBuf::from("/home/ann/.config/adsync/config.toml"),
        credentials: Vec::new(),
    }
}

#[test]
fn every_unit_forbids_core_dumps_and_carries_the_hardening() {
    let units = [
        ("system", systemd::system_unit(&spec())),
        ("user", systemd::user_unit(&user_spec())),
        (
            "user, keyutils",
            systemd::user_unit_with(&user_spec(), false),
        ),
    ];
    for (name, unit) in &units {
        let lines = lines(unit);
        for expected in HARDENED_EVERYWHERE {
            assert!(
                lines.contains(expected),
                "{name}: missing `{expected}` in\n{unit}"
            );
        }
    }
    // The user unit sandboxes the file system inside its own user namespace...
    let user = lines(&units[1].1);
    for expected in [
        "PrivateUsers=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(
            user.contains(&expected),
            "missing `{expected}` in\n{}",
            units[1].1
        );
    }
    // ...except when its secrets are in the kernel keyutils store, which that namespace would hide.
    for absent in [
        "PrivateUsers",
        "ProtectSystem",
        "ProtectHome",
        "CapabilityBoundingSet",
    ] {
        assert!(
            !lines(&units[2].1).iter().any(|l| l.starts_with(absent)),
            "`{absent}` in\n{}",
            units[2].1
        );
    }
}

/// `systemd-analyze security` scores each unit at or below what was measured when the hardening was
/// written (its threshold is the score times ten), so dropping a hardening line fails here.
#[test]
fn systemd_analyze_security_scores_stay_at_their_measured_level() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, unit, threshold) in [
        (
            "system",
            systemd::system_unit(&ServiceSpec::packaged()),
            SYSTEM_SCORE,
        ),
        ("user", systemd::user_unit(&user_spec()), USER_SCORE),
        (
            "user, keyutils",
            systemd::user_unit_with(&user_spec(), false),
            USER_KEYUTILS_SCORE,
        ),
    ] {
        let path = dir.path().join(UNIT_NAME);
        std::fs::write(&path, &unit).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .args([
                "security",
                "--offline=yes",
                &format!("--threshold={threshold}"),
            ])
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let score = stdout
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or("");
        println!("{name}: {score}");
        assert!(
            out.status.success(),
            "{name} unit scores above {threshold}/100:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The scores measured with `systemd-analyze security --offline=yes UNIT` (systemd 252), times ten.
const SYSTEM_SCORE: u32 = 12;
const USER_SCORE: u32 = 19;
const USER_KEYUTILS_SCORE: u32 = 62;

#[test]
fn exec_start_quotes_spaces_and_escapes_specifiers_and_reads_back() {
    let spec = ServiceSpec {
        exe: PathBuf::from("/opt/ad sync/adsync"),
        config: PathBuf::from("/srv/100%/$HOME/config.toml"),
        credentials: Vec::new(),
    };
    let unit = systemd::system_unit(&spec);
    assert!(
        unit.contains(
            "ExecStart=\"/opt/ad sync/adsync\" run --config /srv/100%%/$$HOME/config.toml"
        ),
        "{unit}"
    );
    assert_eq!(systemd::config_in_unit(&unit), Some(spec.config.clone()));
    let quoted = ServiceSpec {
        config: PathBuf::from("/srv/my \"configs\"/config.toml"),
        ..spec
    };
    assert_eq!(
        systemd::config_in_unit(&systemd::user_unit(&quoted)),
        Some(quoted.config.clone())
    );
}

/// The unit the .deb installs is the generated one, byte for byte.
#[test]
fn packaged_unit_file_is_the_generated_system_unit() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("installer/linux/adsync.service");
    let shipped = std::fs::read_to_string(&path).unwrap();
    let generated = systemd::system_unit(&ServiceSpec::packaged());
    assert_eq!(
        shipped, generated,
        "installer/linux/adsync.service is out of date; regenerate it with \
         `cargo run -- service print --packaged > installer/linux/adsync.service`"
    );
}

#[test]
fn system_unit_path_and_protect_home() {
    assert!(systemd::hidden_by_protect_home(Path::new(
        "/root/.config/adsync/config.toml"
    )));
    assert!(systemd::hidden_by_protect_home(Path::new("/home/ann/x")));
    assert!(!systemd::hidden_by_protect_home(Path::new(
        "/etc/adsync/config.toml"
    )));
}

fn settings(text: &str) -> crate::config::Settings {
    crate::config::Settings::from_file(&crate::config::parse_str(text).unwrap())
}

const CONFIG: &str = r#"version = 1
[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "file:/etc/adsync/secrets/entra-secret"
[target]
url = "https://app.example.com/scim/v2"
token = "TOKEN"
[policy]
default_password = "keyring:adsync/default-password"
"#;

#[test]
fn credentials_are_the_configs_file_secrets_by_name_and_path() {
    let text = CONFIG.replace("TOKEN", "file:/etc/adsync/secrets/target-token");
    let credentials = credentials_for(&settings(&text)).unwrap();
    assert_eq!(
        credentials,
        vec![
            Credential {
                id: "entra-secret-1d14196c".into(),
                path: "/etc/adsync/secrets/entra-secret".into()
            },
            Credential {
                id: "target-token-a517f530".into(),
                path: "/etc/adsync/secrets/target-token".into()
            },
        ]
    );
    // Two files with one name in different folders are two credentials, neither shadowing
    // the other.
    let same_name = CONFIG.replace("TOKEN", "file:/etc/adsync/other/entra-secret");
    let credentials = credentials_for(&settings(&same_name)).unwrap();
    assert_eq!(credentials.len(), 2, "{credentials:?}");
    assert_ne!(credentials[0].id, credentials[1].id);
    assert!(
        credentials
            .iter()
            .all(|c| c.id.starts_with("entra-secret-"))
    );
}

#[test]
fn launchd_plist_parses_and_runs_adsync_with_the_config() {
    let logs = Path::new("/Library/Logs/adsync");
    let text = launchd::plist(&spec(), Scope::System, logs);
    let value: plist::Value = plist::from_bytes(text.as_bytes()).expect("a valid plist");
    let dict = value.as_dictionary().unwrap();
    assert_eq!(
        dict["Label"].as_string(),
        Some(launchd::LABEL),
        "label\n{text}"
    );
    let args: Vec<&str> = dict["ProgramArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "/usr/bin/adsync",
            "run",
            "--config",
            "/etc/adsync/config.toml"
        ]
    );
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    let keep_alive = dict["KeepAlive"].as_dictionary().unwrap();
    assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
    assert_eq!(dict["UserName"].as_string(), Some(launchd::DAEMON_USER));
    assert_eq!(
        dict["StandardErrorPath"].as_string(),
        Some("/Library/Logs/adsync/adsync.err.log")
    );
    assert_eq!(dict["Umask"].as_signed_integer(), Some(0o077));

    // A LaunchAgent runs as the user who loads it.
    let agent = launchd::plist(&spec(), Scope::User, logs);
    let value: plist::Value = plist::from_bytes(agent.as_bytes()).unwrap();
    assert!(value.as_dictionary().unwrap().get("UserName").is_none());
    assert!(launchd::plist_path(Scope::System).starts_with("/Library/LaunchDaemons"));
    assert!(
        launchd::plist_path(Scope::User)
            .to_string_lossy()
            .ends_with("Library/LaunchAgents/org.adsync.service.plist")
    );
}

#[test]
fn launchd_plist_escapes_xml() {
    let spec = ServiceSpec {
        exe: PathBuf::from("/Applications/A&B <x>/adsync"),
        config: PathBuf::from("/tmp/c.toml"),
        credentials: Vec::new(),
    };
    let text = launchd::plist(&spec, Scope::User, Path::new("/tmp"));
    assert!(text.contains("A&amp;B &lt;x&gt;"), "{text}");
    let value: plist::Value = plist::from_bytes(text.as_bytes()).unwrap();
    let first = value.as_dictionary().unwrap()["ProgramArguments"]
        .as_array()
        .unwrap()[0]
        .as_string()
        .unwrap()
        .to_owned();
    assert_eq!(first, "/Applications/A&B <x>/adsync");
}

#[test]
fn times_round_trip_and_next_run_adds_the_interval() {
    for ms in [0_i64, 951_782_400_000, 1_795_000_000_000, 4_102_444_799_000] {
        let text = crate::state::format_time(ms);
        assert_eq!(parse_time(&text), Some(ms / 1000), "{text}");
    }
    assert_eq!(
        next_run_after("2026-11-22T23:59:30Z", Duration::from_secs(60)).as_deref(),
        Some("2026-11-23T00:00:30Z")
    );
    assert_eq!(parse_time("yesterday"), None);
    assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
}

#[test]
fn status_summarizes_a_run_in_plan_order() {
    let status = ServiceStatus {
        scope: Scope::User,
        unit: None,
        unit_path: PathBuf::from("/u/adsync.service"),
        enabled: Activity::Known("enabled".into()),
        active: Activity::Known("active".into()),
        config: PathBuf::from("/c/config.toml"),
        config_state: "valid, 1 pair(s)".into(),
        interval: Some(Duration::from_secs(300)),
        state_path: PathBuf::from("/s/state.sqlite3"),
        log_dir: PathBuf::from("/l"),
        last_run: Some(crate::state::RunRecord {
            id: 7,
            started_at: "2026-11-22T08:00:00Z".into(),
            finished_at: Some("2026-11-22T08:00:02Z".into()),
            trigger: "service".into(),
            dry_run: true,
            outcome: RunOutcome::Ok,
            summary: Some(serde_json::json!(
                {"unchanged": 40, "update": 3, "create": 2, "disable": 1, "skip": 0}
            )),
            error: None,
            actions: Vec::new(),
        }),
        state_note: None,
        troubles: Default::default(),
    };
    let text = status.render();
    assert!(
        text.contains(
            "last run:  2026-11-22T08:00:00Z ok (run #7, service, dry run): create 2, update 3, \
             disable 1, unchanged 40\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("next run:  2026-11-22T08:05:00Z (last start + 300s)\n"),
        "{text}"
    );
    let stopped = ServiceStatus {
        active: Activity::Known("inactive".into()),
        ..status
    };
    assert!(
        stopped
            .render()
            .contains("2026-11-22T08:05:00Z if the service were running (it is inactive)"),
        "{}",
        stopped.render()
    );
}

/// The install procedure in-process, as the wizard calls it: a per-user unit written where the
/// overrides say, a stand-in systemctl called, the report's lines as `adsync service` prints
/// them; then uninstall removes it and keeps the config.
#[cfg(unix)]
#[test]
fn install_and_uninstall_in_process_report_what_they_did() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, CONFIG.replace("TOKEN", "keyring:adsync/token")).unwrap();
    let calls = dir.path().join("calls");
    let systemctl = dir.path().join("systemctl");
    std::fs::write(
        &systemctl,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();
    let overrides = Overrides {
        scope: None,
        unit_dir: Some(dir.path().join("units")),
        systemctl: Some(systemctl),
    };
    let request = InstallRequest {
        scope: Scope::User,
        exe: PathBuf::from("/opt/adsync/bin/adsync"),
        config: config.clone(),
        now: false,
        overrides: overrides.clone(),
    };

    let report = install(&request).unwrap();
    let unit = dir.path().join("units/adsync.service");
    assert!(report.complete());
    assert_eq!(
        report.steps,
        [
            Step::Wrote(unit.clone()),
            Step::Enabled {
                scope: Scope::User,
                now: false
            },
            Step::LingerNote,
        ]
    );
    assert_eq!(
        report.lines()[1],
        "enabled adsync.service (user service); it starts at login. Start it now with `adsync \
         service start --user`"
    );
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains(&format!(
            "ExecStart=/opt/adsync/bin/adsync run --config {}\n",
            config.display()
        )),
        "{text}"
    );

    let report = uninstall(Scope::User, &config, &overrides).unwrap();
    assert!(!unit.exists());
    assert_eq!(report.steps[0], Step::Removed(unit.clone()));
    assert_eq!(report.steps[1], Step::Disabled);
    assert!(matches!(&report.steps[2], Step::Kept { config: c, .. } if *c == config));
    assert!(config.is_file());
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user daemon-reload\n--user enable adsync.service\n--user is-enabled adsync.service\n\
         --user is-active adsync.service\n--user disable --now adsync.service\n--user \
         daemon-reload\n"
    );
}

/// A config the service could not run with is refused before anything is written or called,
/// as a usage error naming the file and the problem count.
#[test]
fn install_refuses_an_invalid_config_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "version = 1\n").unwrap();
    let units = dir.path().join("units");
    let request = InstallRequest {
        scope: Scope::User,
        exe: PathBuf::from("/usr/bin/adsync"),
        config: config.clone(),
        now: true,
        overrides: Overrides {
            scope: None,
            unit_dir: Some(units.clone()),
            systemctl: Some(dir.path().join("no-such-systemctl")),
        },
    };
    let err = install(&request).unwrap_err();
    assert!(err.is_usage());
    let text = err.to_string();
    assert!(
        text.contains("fix the") && text.contains(&config.display().to_string()),
        "{text}"
    );
    assert!(!units.exists());
}

/// A LaunchDaemon runs the root-owned copy the package installs, never the app bundle's binary
/// (writable by any admin); a LaunchAgent runs the user's own.
#[test]
fn a_launch_daemon_runs_the_root_owned_copy() {
    let bundle = ServiceSpec {
        exe: PathBuf::from("/Applications/adsync Setup.app/Contents/MacOS/adsync"),
        ..spec()
    };
    let daemon = launchd::daemon_spec(bundle.clone(), Scope::System);
    assert_eq!(daemon.exe, PathBuf::from(launchd::DAEMON_EXE));
    assert_eq!(daemon.config, bundle.config);
    let text = launchd::plist(&daemon, Scope::System, Path::new("/Library/Logs/adsync"));
    assert!(
        text.contains("<string>/usr/local/libexec/adsync</string>"),
        "{text}"
    );
    assert!(!text.contains("/Applications/"), "{text}");
    assert_eq!(launchd::daemon_spec(bundle.clone(), Scope::User), bundle);
    // The package's postinstall puts the copy there, root-owned, and creates the daemon's user.
    let postinstall = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("installer/macos/scripts/postinstall"),
    )
    .unwrap();
    for expected in [
        launchd::DAEMON_EXE,
        "chown root:wheel",
        "0755",
        "dscl . -create /Users/_adsync",
        "dscl . -create /Groups/_adsync",
    ] {
        assert!(
            postinstall.contains(expected),
            "missing `{expected}` in postinstall"
        );
    }
}
