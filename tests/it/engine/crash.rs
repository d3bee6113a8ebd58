//! A write the application took but adsync never recorded, through the binary: the process is
//! killed while the application holds the answer to a disable it already committed, or the
//! application commits the disable and answers with an error. When the user is back in scope,
//! the next `sync` enables it again (R7): the write was announced before it was sent, and the
//! next run settles it from the application's own record.

use std::time::Duration;

use super::*;

/// A linked, active tier-1 user after a first sync, with its target id.
fn synced_member(w: &World) -> (String, String) {
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let user = w.members(&w.tier1).into_iter().next().unwrap();
    let target = w
        .target_user(&user)
        .expect("the first sync linked or created it");
    assert_eq!(target["active"], true);
    (user, target["id"].as_str().unwrap().to_owned())
}

fn active(w: &World, entra_id: &str) -> bool {
    w.target_user(entra_id).unwrap()["active"] == true
}

/// The user back in scope is enabled by the next sync, which then leaves nothing to do.
fn back_in_scope_is_enabled(w: &World, user: &str) {
    w.scim.faults().clear();
    w.entra.update_user(user, json!({"accountEnabled": true}));
    let run = w.run(&["sync", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        active(w, user),
        "the user adsync disabled is enabled again when back in scope (R7):\n{}",
        run.all()
    );
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    assert!(
        plan["actions"].as_array().unwrap().is_empty(),
        "converged: {plan:#}"
    );
}

#[test]
fn a_disable_committed_while_adsync_was_killed_is_undone_when_the_user_returns() {
    let w = World::new("");
    let (user, target_id) = synced_member(&w);
    w.entra.update_user(&user, json!({"accountEnabled": false}));
    // The application commits the disable, then holds its answer while adsync is killed.
    w.scim.faults().add(FaultRule::new(
        "PATCH",
        &format!("/Users/{target_id}"),
        1,
        Fault::HoldAfter(Duration::from_secs(30)),
    ));
    let mut child = {
        let _enter = w.rt.enter();
        w.command(&["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    wait_for("the application to commit the disable", 30, &|| {
        !active(&w, &user)
    });
    child.kill().unwrap(); // SIGKILL: nothing after the commit is recorded
    child.wait().unwrap();
    back_in_scope_is_enabled(&w, &user);
}

#[test]
fn a_disable_committed_but_answered_with_an_error_is_undone_when_the_user_returns() {
    let w = World::new("");
    let (user, target_id) = synced_member(&w);
    w.entra.update_user(&user, json!({"accountEnabled": false}));
    // A gateway error after the application committed it: 502 is not retried.
    w.scim.faults().add(FaultRule::new(
        "PATCH",
        &format!("/Users/{target_id}"),
        1,
        Fault::StatusAfter(502),
    ));
    let run = w.run(&["sync"]);
    assert_eq!(
        run.code,
        1,
        "the failed disable is reported:\n{}",
        run.all()
    );
    assert!(!active(&w, &user), "the application took the disable");
    back_in_scope_is_enabled(&w, &user);
}
