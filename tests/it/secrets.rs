//! Secret references through the binary: `secret set` and `secret check` for files, environment
//! variables and both Linux keyrings; values never printed.

use crate::common::{Env, have, run_command};

const VALUE: &str = "S3cret-value-that-must-not-print";

#[test]
fn file_reference_round_trip_is_private_and_silent() {
    let env = Env::new();
    let path = env.path("secrets/target-token");
    let reference = format!("file:{}", path.display());
    let run = env.run_with_stdin(&["secret", "set", &reference], &format!("{VALUE}\n"));
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains(VALUE));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), VALUE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let run = env.run(&["secret", "check", &reference]);
        assert_eq!(run.code, 0, "{}", run.all());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let run = env.run(&["secret", "check", &reference]);
        assert_eq!(run.code, 1);
        assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
        assert!(!run.all().contains(VALUE));
    }
}

#[test]
fn env_reference_resolves_and_cannot_be_set() {
    let env = Env::new();
    let run = run_command(
        {
            let mut c = env.command(&["secret", "check", "env:ADSYNC_IT_TOKEN"]);
            c.env("ADSYNC_IT_TOKEN", VALUE);
            c
        },
        "",
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains(VALUE));
    let run = env.run(&["secret", "check", "env:ADSYNC_IT_UNSET"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not set"));
    let run = env.run_with_stdin(&["secret", "set", "env:ADSYNC_IT_TOKEN"], VALUE);
    assert_eq!(run.code, 2);
    // The advice is a root-only file passed with LoadCredential=, not the unit's Environment=.
    assert!(run.stderr.contains("LoadCredential="), "{}", run.stderr);
    assert!(run.stderr.contains("secret set file:"), "{}", run.stderr);
}

#[test]
fn literal_and_empty_secrets_are_refused() {
    let env = Env::new();
    let run = env.run_with_stdin(&["secret", "set", VALUE], "x");
    assert_eq!(run.code, 2);
    assert!(
        !run.all().contains(VALUE),
        "the literal was echoed: {}",
        run.all()
    );
    let path = env.path("empty");
    let run = env.run_with_stdin(
        &["secret", "set", &format!("file:{}", path.display())],
        "\n",
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("empty"));
    assert!(!path.exists(), "nothing is written for an empty secret");
}

/// The kernel keyring: what a headless Linux service uses. A value stored by one process is read
/// by another, and a missing entry says how to store it.
#[cfg(target_os = "linux")]
#[test]
fn keyutils_keyring_round_trip_across_processes() {
    let env = Env::new();
    let account = format!("it-{}", std::process::id());
    let reference = format!("keyring:adsync-test/{account}");
    let with_backend = |args: &[&str], stdin: &str| {
        let mut c = env.command(args);
        c.env("ADSYNC_KEYRING", "keyutils");
        run_command(c, stdin)
    };
    let run = with_backend(&["secret", "set", &reference], VALUE);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("kernel keyutils"), "{}", run.stdout);
    let run = with_backend(&["secret", "check", &reference], "");
    assert_eq!(run.code, 0, "{}", run.all());
    let run = with_backend(&["secret", "check", "keyring:adsync-test/never-stored"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("adsync secret set keyring:adsync-test/never-stored"),
        "{}",
        run.stderr
    );
}

/// The desktop keyring (D-Bus Secret Service, here GNOME Keyring in a private session bus).
/// Needs `dbus-run-session` and `gnome-keyring-daemon`; CI installs them and this test is then
/// required (CI=true); elsewhere it says it was skipped.
#[cfg(target_os = "linux")]
#[test]
fn secret_service_keyring_round_trip() {
    if !(have("dbus-run-session") && have("gnome-keyring-daemon") && have("secret-tool")) {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install dbus, gnome-keyring and libsecret-tools for this test"
        );
        eprintln!("SKIPPED: install dbus gnome-keyring libsecret-tools to test the Secret Service");
        return;
    }
    let env = Env::new();
    let script = env.write(
        "session.sh",
        &format!(
            r#"set -e
export $(printf test-unlock | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)
printf '%s' '{VALUE}' | "{bin}" secret set keyring:adsync-test/ss
"{bin}" secret check keyring:adsync-test/ss
printf 'lookup='; secret-tool lookup service adsync-test username ss; echo
"#,
            bin = env!("CARGO_BIN_EXE_adsync")
        ),
    );
    let base = env.command(&[]);
    let cmd = {
        let mut c = std::process::Command::new("dbus-run-session");
        c.args(["--", "bash"]).arg(&script);
        for (k, v) in base.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.env_remove("ADSYNC_KEYRING");
        c
    };
    let run = run_command(cmd, "");
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("Secret Service"), "{}", run.stdout);
    assert!(
        run.stdout.contains("resolves to a stored secret"),
        "{}",
        run.stdout
    );
    // Read back with an independent client: the value really is in the keyring.
    let lookup = run
        .stdout
        .lines()
        .find(|l| l.starts_with("lookup="))
        .unwrap();
    assert_eq!(lookup, format!("lookup={VALUE}"));
}
