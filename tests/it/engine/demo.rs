//! `adsync demo`, the README's try-it command.

use super::*;

/// `adsync demo --no-wait`: the README's try-it command, end to end on a fresh directory.
#[test]
fn the_demo_checks_plans_syncs_and_converges() {
    let env = Env::new();
    let dir = env.path("demo");
    let run = env.run(&["demo", "--no-wait", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Plan: 29 create, 5 link"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("applied 34 action(s), 0 failed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("34 unchanged"), "{}", run.stdout);
    // The config it wrote validates and holds references, with the secrets in 0600 files.
    let config = dir.join("config.toml");
    let check = env.run(&["config", "validate", "--config", config.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.all());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("client_secret = \"file:"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("target-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
