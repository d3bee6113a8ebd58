//! One slow write fails alone: each SCIM write has its own deadline, so a user whose PATCH the
//! application sits on does not hold up the other users' writes, and the next run converges.

use super::*;

#[test]
fn a_write_the_application_sits_on_fails_alone_and_the_next_run_converges() {
    let w = World::new("");
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 0, "{}", first.all());
    let renamed: Vec<String> = w.members(&w.tier1).into_iter().take(4).collect();
    assert_eq!(renamed.len(), 4);
    for (n, id) in renamed.iter().enumerate() {
        w.entra
            .update_user(id, json!({ "displayName": format!("Renamed Person {n}") }));
    }
    // The application sits 30 s on the first renamed user's PATCH (every attempt).
    let slow_id = w.target_user(&renamed[0]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let latency = Duration::from_secs(30);
    w.scim.faults().add(
        FaultRule::new(
            "PATCH",
            &format!("/Users/{slow_id}"),
            1,
            Fault::Latency(latency),
        )
        .times(u64::MAX),
    );
    let slow_patches = || w.scim.log().count("PATCH", &format!("/Users/{slow_id}"));
    let patched_before = slow_patches();
    let started = Instant::now();
    let run = {
        let _enter = w.rt.enter();
        let mut cmd = w.command(&["sync"]);
        cmd.env("ADSYNC_WRITE_DEADLINE_MS", "1000");
        run_command(cmd, "")
    };
    let took = started.elapsed();
    // The run ended long before the slow answer would have come: it waited for nothing but the
    // deadline, and sent the slow write once (no second copy for a server that sits on it).
    assert!(took < latency / 2, "the run took {took:?}\n{}", run.all());
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.all().contains("deadline for one write"),
        "the slow user's failure is reported:\n{}",
        run.all()
    );
    assert_eq!(
        slow_patches() - patched_before,
        1,
        "a timed-out write is not re-sent in the same cycle"
    );
    // The other users' writes went through.
    for (n, id) in renamed.iter().enumerate().skip(1) {
        assert_eq!(
            w.target_user(id).unwrap()["displayName"],
            format!("Renamed Person {n}"),
            "user {n} was held up by the slow one"
        );
    }
    assert_ne!(
        w.target_user(&renamed[0]).unwrap()["displayName"],
        "Renamed Person 0"
    );

    // The application answers again: the next run converges.
    w.scim.faults().clear();
    let again = w.run(&["sync"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        w.target_user(&renamed[0]).unwrap()["displayName"],
        "Renamed Person 0"
    );
    let (_, plan) = w.plan_json();
    assert!(plan["actions"].as_array().unwrap().is_empty(), "{plan:#}");
}
