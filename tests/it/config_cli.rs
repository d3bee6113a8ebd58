//! `adsync config validate | init` through the binary: exit codes and what a person reads.

use crate::common::{Env, config_text};

/// Each broken file with the key, the line and a word of the fix the output must show.
#[test]
fn validate_names_key_line_and_fix_for_each_broken_file() {
    let good = config_text("keyring:adsync/target-token");
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "bad TOML",
            good.replace("[target]", "[target"),
            ":6: (syntax)",
            "not valid TOML",
        ),
        (
            "unknown key",
            good.replace("order = 1", "order = 1\nprecedence = 2"),
            ":13: pairs[1].precedence",
            "unknown key",
        ),
        (
            "wrong type",
            good.replace("order = 1", "order = \"first\""),
            ":12: pairs[1].order",
            "expected an integer",
        ),
        (
            "bad GUID",
            good.replace("11111111-2222-3333-4444-555555555555", "my-app"),
            ":4: entra.client_id",
            "not a GUID",
        ),
        (
            "http to a remote host",
            good.replace("http://127.0.0.1:9", "http://scim.example.com"),
            ":7: target.url",
            "use https",
        ),
        (
            "literal secret",
            good.replace("keyring:adsync/target-token", "P@ssw0rd-literal"),
            ":8: target.token",
            "adsync secret set",
        ),
        (
            "an Entra group paired twice",
            format!(
                "{good}[[pairs]]\nentra_group_id = \"6f1d0000-0000-0000-0000-000000000001\"\n\
                 target_group_id = \"tier-2\"\norder = 2\n"
            ),
            ":14: pairs[2].entra_group_id",
            "already paired on line",
        ),
    ];
    let env = Env::new();
    for (name, text, where_, fix) in cases {
        let path = env.write("broken.toml", text);
        let run = env.run(&["config", "validate", "--config", path.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{name}: exit code\n{}", run.all());
        let (line, key) = where_[1..].split_once(": ").unwrap();
        let wanted = format!("line {line}: {key}:");
        assert!(
            run.stdout.contains(&wanted),
            "{name}: wanted {wanted:?} in\n{}",
            run.all()
        );
        assert!(
            run.stdout.contains(fix),
            "{name}: wanted {fix:?} in\n{}",
            run.all()
        );
        assert!(run.stdout.contains("broken.toml"), "{name}: names the file");
        assert!(
            !run.all().contains("P@ssw0rd-literal"),
            "{name}: echoed a secret"
        );
    }

    let path = env.write("good.toml", &good);
    let run = env.run(&["--config", path.to_str().unwrap(), "config", "validate"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("valid (1 pair(s), 0 scope rule(s))"),
        "{}",
        run.stdout
    );
}

#[test]
fn validate_reads_adsync_config_and_explains_a_missing_file() {
    let env = Env::new();
    let path = env.write("from-env.toml", &config_text("env:X"));
    let run = env
        .command(&["config", "validate"])
        .env("ADSYNC_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));

    let run = env.run(&["config", "validate", "--config", "missing.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("missing.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("adsync config init"), "{}", run.stderr);
}

#[test]
fn init_writes_a_private_template_and_never_overwrites_by_accident() {
    let env = Env::new();
    let run = env.run(&["config", "init"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let path = env.path("xdg-config/adsync/config.toml");
    let text = std::fs::read_to_string(&path).expect("written to the default location");
    assert!(text.contains("REPLACE-ME"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The unfilled template names its placeholders.
    let run = env.run(&["config", "validate"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("entra.tenant"), "{}", run.stdout);

    std::fs::write(&path, "edited by hand").unwrap();
    let run = env.run(&["config", "init"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by hand");
    assert_eq!(env.run(&["config", "init", "--force"]).code, 0);
}

#[test]
fn version_and_usage_errors() {
    let env = Env::new();
    let run = env.run(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("adsync "), "{}", run.stdout);
    assert_eq!(env.run(&["no-such-command"]).code, 2);
}
