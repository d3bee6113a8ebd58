//! The checks of a link by hand against small snapshots: each refusal, and the link returned.

use std::collections::BTreeSet;

use super::*;
use crate::sync::tests::{SALES, SUPPORT, settings, user};
use crate::sync::{SourceGroup, TargetGroup};

/// ann (in scope, Support), gus (a guest, Support), out (in no paired group); target users
/// t-ann and t-old (both ann's email), and t-bob linked to e-bob.
fn fixture() -> (Settings, SourceSnapshot, TargetSnapshot, Links) {
    let settings = settings("[policy]\ninclude_guests = false\n");
    let mut source = SourceSnapshot::default();
    for id in [SUPPORT, SALES] {
        source.groups.insert(
            id.into(),
            SourceGroup {
                id: id.into(),
                display_name: id.into(),
                ..SourceGroup::default()
            },
        );
    }
    let mut guest = user("e-gus", "gus");
    guest.user_type = Some("Guest".into());
    for u in [user("e-ann", "ann"), guest, user("e-bob", "bob")] {
        source
            .groups
            .get_mut(SUPPORT)
            .unwrap()
            .members
            .insert(u.id.clone());
        source.users.insert(u.id.clone(), u);
    }
    let mut target = TargetSnapshot::default();
    target.groups.insert(
        "tier-1".into(),
        TargetGroup {
            id: "tier-1".into(),
            display_name: "Tier 1".into(),
            members: BTreeSet::new(),
        },
    );
    for (id, name) in [
        ("t-ann", "ann@contoso.example"),
        ("t-old", "ANN.old@contoso.example"),
        ("t-bob", "bob@contoso.example"),
        ("t-zed", "zed@contoso.example"),
    ] {
        target.users.insert(
            id.into(),
            TargetUser {
                id: id.into(),
                user_name: name.into(),
                emails: vec![if id == "t-old" {
                    "Ann@Contoso.example".into()
                } else {
                    name.into()
                }],
                ..TargetUser::default()
            },
        );
    }
    let links = Links::from([(
        "e-bob".to_owned(),
        Link {
            entra_id: "e-bob".into(),
            target_id: "t-bob".into(),
            values_hash: "synced".into(),
            ..Link::default()
        },
    )]);
    (settings, source, target, links)
}

fn check(who: &str, target_id: &str) -> Result<Link, LinkError> {
    let (settings, source, target, links) = fixture();
    let user = match find_user(&source, who)? {
        Some(u) => u.clone(),
        None => user("e-out", "out"),
    };
    check_link(
        &settings, &source, &target, &links, &user, target_id, "alice",
    )
}

#[test]
fn a_link_by_hand_is_pending_and_names_who_made_it() {
    let link = check("ANN@contoso.example", " t-old ").unwrap();
    assert_eq!(
        (link.entra_id.as_str(), link.target_id.as_str()),
        ("e-ann", "t-old")
    );
    assert!(link.is_pending_manual());
    assert_eq!(link.manual.unwrap().by, "alice");
}

#[test]
fn each_wrong_input_is_refused_with_what_to_do() {
    let message = |r: Result<Link, LinkError>| r.unwrap_err().to_string();
    let no_pairs = message(check("out@contoso.example", "t-old"));
    assert!(
        no_pairs.contains("member of no paired Entra group"),
        "{no_pairs}"
    );
    let guest = message(check("e-gus", "t-zed"));
    assert!(guest.contains("not in scope: a guest"), "{guest}");
    let unknown = message(check("e-ann", "t-nobody"));
    assert!(
        unknown.contains("t-nobody: no such user") && unknown.contains("adsync target users"),
        "{unknown}"
    );
    let taken = message(check("e-ann", "t-bob"));
    assert!(
        taken.contains("already linked to Entra user bob@contoso.example")
            && taken.contains("adsync unlink bob@contoso.example"),
        "{taken}"
    );
    let twice = message(check("bob@contoso.example", "t-zed"));
    assert!(
        twice.contains("already linked to target user t-bob"),
        "{twice}"
    );
    for r in [
        check("e-ann", "t-nobody"),
        check("e-gus", "t-zed"),
        check("out@contoso.example", "t-old"),
    ] {
        assert_eq!(r.unwrap_err().exit(), crate::cycle::Exit::Usage);
    }
}

#[test]
fn an_email_two_users_share_must_be_named_another_way() {
    let (_, mut source, _, _) = fixture();
    for id in ["e-ann", "e-ann2"] {
        let mut twin = user(id, id);
        twin.mail = Some("shared@contoso.example".into());
        source.users.insert(twin.id.clone(), twin);
    }
    let err = find_user(&source, "Shared@CONTOSO.example").unwrap_err();
    assert!(
        err.to_string().contains("2 Entra users have this email"),
        "{err}"
    );
    // The UPN and the object id still name one user.
    assert_eq!(
        find_user(&source, "E-ANN2@contoso.example")
            .unwrap()
            .unwrap()
            .id,
        "e-ann2"
    );
}

#[test]
fn candidates_are_the_accounts_r2_would_consider() {
    let (settings, source, target, _) = fixture();
    let ids: Vec<&str> = candidates(&settings, &target, &source.users["e-ann"])
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, ["t-ann", "t-old"]);
}
