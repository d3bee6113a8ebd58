//! A write the application took but adsync never recorded, through the binary: the process is
//! killed while the application holds the answer to a disable it already committed, or the
//! application commits the disable and answers with an error. When the user is back in scope,
//! the next `sync` enables it again (R7): the write was announced before it was sent, and the
//! next run settles it from the application's own record. The same for a move the application
//! took: the next run records it, so Entra moving the user back moves them back in the application.

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
    nothing_left_to_do(w);
}

/// The next plan is empty: the runs converged.
fn nothing_left_to_do(w: &World) {
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    assert!(
        plan["actions"].as_array().unwrap().is_empty(),
        "converged: {plan:#}"
    );
}

/// Runs `sync` with the application holding its answer to the first PATCH of `path` after
/// committing it, and kills adsync (SIGKILL: nothing after the commit is recorded) once
/// `committed` holds.
fn killed_once_committed(w: &World, path: &str, what: &str, committed: &dyn Fn() -> bool) {
    w.scim.faults().add(FaultRule::new(
        "PATCH",
        path,
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
    wait_for(&format!("the application to commit {what}"), 30, committed);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_disable_committed_while_adsync_was_killed_is_undone_when_the_user_returns() {
    let w = World::new("");
    let (user, target_id) = synced_member(&w);
    w.entra.update_user(&user, json!({"accountEnabled": false}));
    // The application commits the disable, then holds its answer while adsync is killed.
    killed_once_committed(&w, &format!("/Users/{target_id}"), "the disable", &|| {
        !active(&w, &user)
    });
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

/// A move the application took while adsync was killed, before adsync recorded it, then Entra
/// moving the user back before the next run: the next `sync` must move the user back too. With
/// no record of the move, the link still named the old group, the user's wanted group, so the
/// plan saw nothing to do and left the user in the group Entra had just taken them out of (R1).
#[test]
fn a_move_committed_while_adsync_was_killed_is_undone_when_entra_moves_the_user_back() {
    let w = World::new("");
    synced_member(&w);
    let tier2 = w.members(&w.tier2);
    let user = w
        .members(&w.tier1)
        .into_iter()
        .find(|u| !tier2.contains(u))
        .expect("a Tier 1 member outside Tier 2");
    let target_id = w.target_user(&user).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(w.target_groups_of(&user), ["hd-g-tier1"]);
    w.entra.remove_member(&w.tier1, &user);
    w.entra.add_member(&w.tier2, &user);
    // The move joins Tier 2, then leaves Tier 1: the application commits the leave and holds
    // its answer while adsync is killed.
    killed_once_committed(&w, "/Groups/hd-g-tier1", "the move", &|| {
        !w.scim.member_ids("hd-g-tier1").contains(&target_id)
    });
    assert_eq!(
        w.target_groups_of(&user),
        ["hd-g-tier2"],
        "the move was made"
    );
    w.scim.faults().clear();

    // Entra moves the user back before adsync runs again.
    w.entra.remove_member(&w.tier2, &user);
    w.entra.add_member(&w.tier1, &user);
    let run = w.run(&["sync"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        w.target_groups_of(&user),
        ["hd-g-tier1"],
        "moved back with Entra:\n{}",
        run.all()
    );
    nothing_left_to_do(&w);
}
