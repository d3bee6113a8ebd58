//! Links made by hand (`adsync link`): the planner treats a link with [`Link::manual`] and no
//! values hash as an R2 link, and the warning that skipped the user goes away.

use super::*;

fn manual(entra_id: &str, target_id: &str) -> Link {
    Link {
        entra_id: entra_id.into(),
        target_id: target_id.into(),
        manual: Some(ManualLink {
            by: "alice".into(),
            at_ms: 1_795_000_000_000,
        }),
        ..Link::default()
    }
}

#[test]
fn an_ambiguous_match_linked_by_hand_is_linked_like_r2_and_converges() {
    let mut w = world();
    w.add(user("e-ann", "ann"), &[SUPPORT]);
    w.target_user("ann@contoso.example", None);
    let chosen = w.target_user("ann@contoso.example", None);
    let before = w.plan();
    assert_eq!(only(&before).kind, ActionKind::Skip);
    assert_eq!(before.warnings[0].code, "ambiguous-match");

    w.links.insert("e-ann".into(), manual("e-ann", &chosen));
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str(), a.target_user_id.as_deref()),
        (
            ActionKind::Link,
            "linked by hand by alice",
            Some(chosen.as_str())
        )
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let fields: Vec<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
    assert!(fields.contains(&"externalId"), "{fields:?}");
    assert_eq!(a.execution.add_to, [Text::from("tier-1")]);

    w.apply(&plan);
    assert!(!w.links["e-ann"].is_pending_manual());
    assert_eq!(
        w.target.users[&chosen].external_id.as_deref(),
        Some("e-ann")
    );
    let again = w.plan();
    assert!(again.actions.is_empty(), "{:#?}", kinds(&again));
    assert!(again.warnings.is_empty());
}

#[test]
fn a_manual_link_whose_values_already_match_is_still_a_link_once() {
    let mut w = world();
    w.add(user("e-bob", "bob"), &[SUPPORT]);
    let id = w.target_user("bob@contoso.example", Some("e-bob"));
    let first = w.sync();
    assert_eq!(only(&first).kind, ActionKind::Link);
    // Forgotten, then linked again by hand: a link action, not "nothing to do".
    w.links.insert("e-bob".into(), manual("e-bob", &id));
    let plan = w.plan();
    assert_eq!(only(&plan).kind, ActionKind::Link);
    w.apply(&plan);
    assert!(w.plan().actions.is_empty());
}

#[test]
fn duplicate_emails_resolved_by_hand_sync_both_users() {
    let mut w = world();
    let mut twin = user("e-ann2", "ann2");
    twin.mail = Some("ann@contoso.example".into());
    w.add(user("e-ann", "ann"), &[SUPPORT]);
    w.add(twin, &[SALES]);
    let first = w.target_user("ann@contoso.example", None);
    let second = w.target_user("ann.two@contoso.example", None);
    let before = w.plan();
    assert_eq!(before.summary.skip, 2);
    assert_eq!(before.warnings[0].code, "duplicate-email");

    w.links.insert("e-ann".into(), manual("e-ann", &first));
    w.links.insert("e-ann2".into(), manual("e-ann2", &second));
    let plan = w.plan();
    assert_eq!(plan.summary.link, 2, "{:#?}", kinds(&plan));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    w.apply(&plan);
    assert!(w.plan().actions.is_empty());
    assert!(w.target.groups["tier-2"].members.contains(&second));
}

#[test]
fn a_user_whose_match_is_linked_to_someone_else_is_linked_by_hand_elsewhere() {
    let mut w = world();
    w.add(user("e-vic", "vic"), &[SUPPORT]);
    let shared = w.target_user("vic@contoso.example", None);
    w.sync();
    assert_eq!(w.links["e-vic"].target_id, shared);
    // Ann's email is the account Vic is linked to: R2 will not take it from him.
    let mut ann = user("e-ann", "ann");
    ann.mail = Some("vic@contoso.example".into());
    w.add(ann, &[SALES]);
    let before = w.plan();
    assert_eq!(only(&before).kind, ActionKind::Skip);
    assert_eq!(before.warnings[0].code, "already-linked");

    let own = w.target_user("ann.account", None);
    w.links.insert("e-ann".into(), manual("e-ann", &own));
    let plan = w.plan();
    assert_eq!(
        (only(&plan).kind, only(&plan).target_user_id.as_deref()),
        (ActionKind::Link, Some(own.as_str()))
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    w.apply(&plan);
    assert!(w.plan().actions.is_empty());
    assert!(w.target.groups["tier-2"].members.contains(&own));
}
