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

/// SPEC §3.1: every kind of broken `[[mappings]]` entry (and a pair's `roles`) is a config error
/// naming `mappings[N].key`, its line and what is allowed; a file using every mapping kind is valid.
#[test]
fn validate_reports_each_broken_mapping_by_key_and_line() {
    let good = config_text("keyring:adsync/target-token");
    // `good` has 12 lines: an appended entry's `[[mappings]]` is line 13, its first key line 14.
    let entry = |body: &str| format!("{good}[[mappings]]\n{body}\n");
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "externalId as a target",
            entry("target = \"externalId\"\nsource = \"mail\""),
            ":14: mappings[1].target",
            "always the Entra object id",
        ),
        (
            "active as a target",
            entry("target = \"active\"\nvalue = \"true\""),
            ":14: mappings[1].target",
            "rules' verdict",
        ),
        (
            "an unknown target path",
            entry(
                "target = \"phoneNumbers[type eq \\\"pager\\\"].value\"\nsource = \"mobilePhone\"",
            ),
            ":14: mappings[1].target",
            "not a target path adsync can write",
        ),
        (
            "an unknown source",
            entry("target = \"nickName\"\nsource = \"nickname\""),
            ":15: mappings[1].source",
            "not a Graph user property",
        ),
        (
            "two kinds in one entry",
            entry("target = \"title\"\nsource = \"jobTitle\"\nvalue = \"Technician\""),
            ":16: mappings[1].value",
            "exactly one of",
        ),
        (
            "no kind at all",
            entry("target = \"title\"\ndefault = \"x\""),
            ":13: mappings[1].source",
            "needs exactly one of",
        ),
        (
            "a template naming an unknown property",
            entry("target = \"userName\"\ntemplate = \"{givenName}.{lastName}@example.com\""),
            ":15: mappings[1].template",
            "{lastName}",
        ),
        (
            "a bad transform",
            entry("target = \"userName\"\nsource = \"mail\"\ntransform = \"camel\""),
            ":16: mappings[1].transform",
            "lower, upper, trim, local-part",
        ),
        (
            "a bad when",
            entry("target = \"userName\"\nsource = \"mail\"\nwhen = \"never\""),
            ":16: mappings[1].when",
            "always, create",
        ),
        (
            "an unknown key",
            entry("target = \"title\"\nsource = \"jobTitle\"\nfallback = \"x\""),
            ":16: mappings[1].fallback",
            "unknown key",
        ),
        (
            "one target mapped twice",
            format!(
                "{}[[mappings]]\ntarget = \"emails[type eq \\\"work\\\"].value\"\nsource = \"mail\"\n",
                entry("target = \"emails\"\nsource = \"userPrincipalName\"")
            ),
            ":17: mappings[2].target",
            "already mapped on line 14",
        ),
        (
            "userName omitted",
            entry("target = \"userName\"\nomit = true"),
            ":15: mappings[1].omit",
            "cannot be omitted",
        ),
        (
            "roles that are not strings",
            good.replace("order = 1", "order = 1\nroles = [\"technician\", 3]"),
            ":13: pairs[1].roles",
            "expected strings",
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
    }

    let every_kind = format!(
        "{}[[mappings]]\ntarget = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\n\
         source = \"mobilePhone\"\ndefault = \"n/a\"\n\
         [[mappings]]\ntarget = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\"\n\
         source = \"employeeOrgData.costCenter\"\n\
         [[mappings]]\ntarget = \"userType\"\nvalue = \"Technician\"\n\
         [[mappings]]\ntarget = \"userName\"\ntemplate = \"{{givenName}}.{{surname}}@example.com\"\n\
         transform = \"lower\"\nwhen = \"create\"\n\
         [[mappings]]\ntarget = \"title\"\nomit = true\n\
         [[mappings]]\ntarget = \"urn:example:scim:schemas:extension:acme:2.0:User:badge\"\n\
         source = \"onPremisesExtensionAttributes.extensionAttribute3\"\n",
        good.replace(
            "order = 1",
            "order = 1\nroles = [\"technician\", \"reports\"]"
        )
    );
    let path = env.write("mapped.toml", &every_kind);
    let run = env.run(&["config", "validate", "--config", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "every mapping kind validates\n{}", run.all());
}

/// `adsync check` against endpoints where nothing listens: a person is waiting, so the refused
/// connections are reported at once (they took 17.6 s of retries before), each naming what to
/// fix, with exit 1.
#[test]
fn check_against_refused_ports_reports_within_two_seconds() {
    let env = Env::new();
    // A loopback port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = config_text("env:ADSYNC_TEST_TARGET_TOKEN")
        .replace("127.0.0.1:9", &format!("127.0.0.1:{port}"))
        .replace(
            "client_secret = \"env:ADSYNC_TEST_ENTRA_SECRET\"",
            &format!(
                "client_secret = \"env:ADSYNC_TEST_ENTRA_SECRET\"\n\
                 authority_url = \"http://127.0.0.1:{port}\"\n\
                 graph_url = \"http://127.0.0.1:{port}\""
            ),
        );
    let config = env.write("config.toml", &text);
    let mut cmd = env.command(&["--config", config.to_str().unwrap(), "check"]);
    cmd.env("ADSYNC_TEST_ENTRA_SECRET", "not-a-real-secret")
        .env("ADSYNC_TEST_TARGET_TOKEN", "not-a-real-token");
    let started = std::time::Instant::now();
    let run = crate::common::run_command(cmd, "");
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(2),
        "took {elapsed:?}"
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stdout.contains("FAIL Entra sign-in"), "{}", run.all());
    assert!(
        run.stdout.contains("FAIL target reachable"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("2 of 5 checks failed"), "{}", run.all());
    assert!(!run.all().contains("not-a-real"), "no secret in the output");
}
