//! One test per rule of SPEC §2 (named after it), plus the plan's JSON and CSV shapes.

use super::*;

#[test]
fn r3_creates_a_new_user_in_its_group_with_the_mapped_values() {
    let mut w = world();
    let mut ann = user("u-ann", "ann");
    ann.business_phones = vec!["+1 555 0100".into()];
    ann.department = Some("Support".into());
    ann.employee_id = Some("E-1".into());
    w.add(ann, &[SUPPORT]);
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(a.kind, ActionKind::Create);
    assert_eq!(a.reason, "new in Support");
    assert_eq!(a.target_group.as_ref().unwrap().name, "Tier 1".into());
    let d = a.execution.desired().unwrap();
    assert_eq!(d.user_name, "ann@contoso.example");
    assert_eq!(d.external_id, "u-ann");
    assert!(d.active);
    assert_eq!(d.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(d.employee_number.as_deref(), Some("E-1"));
    assert_eq!(a.execution.add_to, [Text::from("tier-1")]);
    assert_eq!(plan.summary.create, 1);
    w.apply(&plan);
    assert!(w.plan().is_empty(), "{:#?}", kinds(&w.plan()));
    assert_eq!(w.plan().summary.unchanged, 1);
}

#[test]
fn r1_precedence_by_order_then_by_oldest_group() {
    let mut w = world();
    w.add(user("u-bo", "bo"), &[SUPPORT, SALES]);
    assert_eq!(
        only(&w.plan()).target_group.as_ref().unwrap().id,
        "tier-1".into()
    );

    // Equal orders (only possible when built by hand): the older Entra group (Sales) wins.
    let mut tie = w.clone();
    for p in &mut tie.settings.pairs {
        p.order = 1;
    }
    assert_eq!(
        only(&tie.plan()).target_group.as_ref().unwrap().id,
        "tier-2".into()
    );
    // Same age too: the lower group id (Support, ...0a) wins.
    for g in tie.source.groups.values_mut() {
        g.created = Some("2020-01-01T00:00:00Z".into());
    }
    assert_eq!(
        only(&tie.plan()).target_group.as_ref().unwrap().id,
        "tier-1".into()
    );
}

#[test]
fn r2_links_by_email_case_insensitively_and_writes_what_differs() {
    let mut w = world();
    w.add(user("u-cy", "cy"), &[SUPPORT]);
    let t = w.target_user("CY@Contoso.Example", None);
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str()),
        (ActionKind::Link, "matched by email")
    );
    assert_eq!(a.target_user_id.as_deref(), Some(t.as_str()));
    let fields: Vec<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
    assert!(fields.contains(&"externalId"), "{fields:?}");
    assert!(
        !fields.contains(&"userName"),
        "userName compares without case: {fields:?}"
    );
    w.apply(&plan);
    assert!(w.plan().is_empty());
}

#[test]
fn r2_external_id_wins_over_email() {
    let mut w = world();
    w.add(user("u-di", "di"), &[SUPPORT]);
    let by_ext = w.target_user("someone-else@contoso.example", Some("u-di"));
    w.target_user("di@contoso.example", None);
    let a = w.plan().actions[0].clone();
    assert_eq!(a.reason, "matched by externalId");
    assert_eq!(a.target_user_id, Some(by_ext));
}

#[test]
fn r2_ambiguous_match_is_skipped_with_a_warning() {
    let mut w = world();
    w.add(user("u-ed", "ed"), &[SUPPORT]);
    w.target_user("ed@contoso.example", None);
    let second = w.target_user("ed2@contoso.example", None);
    w.target.users.get_mut(&second).unwrap().emails = vec!["ED@contoso.example".into()];
    let plan = w.plan();
    assert_eq!(
        (only(&plan).kind, only(&plan).reason.as_str()),
        (ActionKind::Skip, "ambiguous-match")
    );
    assert_eq!(plan.warnings[0].code, "ambiguous-match");
    assert_eq!(plan.summary.skip, 1);
}

#[test]
fn r2_a_hit_linked_to_another_entra_user_is_skipped() {
    let mut w = world();
    w.add(user("u-fa", "fa"), &[SUPPORT]);
    w.sync();
    // A second Entra user whose UPN is the first one's email.
    let mut other = user("u-fa2", "fa2");
    other.mail = Some("fa@contoso.example".into());
    w.add(other, &[SUPPORT]);
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str()),
        (ActionKind::Skip, "already-linked")
    );
    assert_eq!(plan.warnings[0].entra_ids, ["u-fa2", "u-fa"]);
}

#[test]
fn guests_follow_include_guests() {
    let mut guest = user("u-gu", "gu");
    guest.user_type = Some("Guest".into());
    let mut w = world();
    w.add(guest.clone(), &[SUPPORT]);
    assert_eq!(only(&w.plan()).kind, ActionKind::Create);
    w.sync();
    w.settings.policy.include_guests = false;
    let plan = w.plan();
    assert_eq!(
        (only(&plan).kind, only(&plan).reason.as_str()),
        (ActionKind::Disable, "out-of-scope")
    );

    // Never managed: a guest out of scope does not appear at all.
    let mut w = World::new(settings("[policy]\ninclude_guests = false"));
    w.add(guest, &[SUPPORT]);
    assert!(w.plan().actions.is_empty());
}

#[test]
fn members_that_are_not_users_are_ignored() {
    let mut w = world();
    w.source
        .groups
        .get_mut(SUPPORT)
        .unwrap()
        .members
        .insert("device-1".into());
    w.add(user("u-ha", "ha"), &[SUPPORT]);
    assert_eq!(only(&w.plan()).user_principal_name, "ha@contoso.example");
}

#[test]
fn r5_moved_in_entra_moves_in_the_target() {
    let mut w = world();
    w.add(user("u-io", "io"), &[SUPPORT]);
    w.sync();
    w.source
        .groups
        .get_mut(SUPPORT)
        .unwrap()
        .members
        .remove("u-io");
    w.source
        .groups
        .get_mut(SALES)
        .unwrap()
        .members
        .insert("u-io".into());
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str()),
        (ActionKind::Move, "moved from Tier 1 to Tier 2")
    );
    assert_eq!(a.execution.add_to, [Text::from("tier-2")]);
    assert_eq!(a.execution.remove_from, [Text::from("tier-1")]);
    w.apply(&plan);
    let t = &w.links["u-io"].target_id;
    assert!(w.target.groups["tier-2"].members.contains(t));
    assert!(!w.target.groups["tier-1"].members.contains(t));
    assert!(w.plan().is_empty());
}

#[test]
fn r5_moved_in_the_target_by_someone_else_is_left_there() {
    let mut w = world();
    w.add(user("u-jo", "jo"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-jo"].target_id.clone();
    w.target
        .groups
        .get_mut("tier-1")
        .unwrap()
        .members
        .remove(&t);
    w.target.groups.get_mut("tier-2").unwrap().members.insert(t);
    assert!(w.plan().is_empty(), "{:#?}", kinds(&w.plan()));
}

#[test]
fn r4_target_edits_persist_until_the_entra_record_changes() {
    let mut w = world();
    w.add(user("u-ka", "ka"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-ka"].target_id.clone();
    w.target.users.get_mut(&t).unwrap().title = Some("Edited in app".into());
    w.target.users.get_mut(&t).unwrap().display_name = Some("Nickname".into());
    assert!(w.plan().is_empty(), "edits in the target persist");

    w.source.users.get_mut("u-ka").unwrap().department = Some("Support".into());
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(a.kind, ActionKind::Update);
    let fields: Vec<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["displayName", "title", "department"],
        "every mapped attribute is rewritten"
    );
    assert_eq!(a.reason, "department, displayName, jobTitle changed");
    w.apply(&plan);
    assert_eq!(w.target.users[&t].title.as_deref(), Some("Agent"));
    assert!(w.plan().is_empty());
}

#[test]
fn r4_entra_change_already_in_the_target_only_refreshes_the_state() {
    let mut w = world();
    w.add(user("u-la", "la"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-la"].target_id.clone();
    w.target.users.get_mut(&t).unwrap().title = Some("Lead".into());
    w.source.users.get_mut("u-la").unwrap().job_title = Some("Lead".into());
    let plan = w.plan();
    assert!(plan.actions.is_empty());
    assert_eq!(plan.state_fixes.len(), 1);
    w.apply(&plan);
    assert!(w.plan().is_empty());
}

#[test]
fn r7_disabled_in_the_target_by_someone_else_stays_until_entra_changes() {
    let mut w = world();
    w.add(user("u-ma", "ma"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-ma"].target_id.clone();
    w.target.users.get_mut(&t).unwrap().active = false;
    assert!(w.plan().is_empty());
    w.source.users.get_mut("u-ma").unwrap().job_title = Some("Lead".into());
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(a.kind, ActionKind::Update);
    assert!(
        a.changes
            .iter()
            .any(|c| c.field == "active" && c.to.as_deref() == Some("true"))
    );
}

#[test]
fn r6_each_disable_reason_and_r7_enable() {
    type Change = fn(&mut World, &str);
    let cases: [(&str, Change); 4] = [
        ("deleted", |w, id| {
            w.remove_from_groups(id, Whereabouts::Deleted)
        }),
        ("disabled", |w, id| {
            w.source.users.get_mut(id).unwrap().account_enabled = false
        }),
        ("removed-from-groups", |w, id| {
            let u = w.source.users[id].clone();
            w.remove_from_groups(id, Whereabouts::Exists(Box::new(u)))
        }),
        ("out-of-scope", |w, id| {
            w.settings.scope = vec![crate::config::ScopeRule {
                attribute: crate::config::ScopeAttribute::Department,
                operator: crate::config::ScopeOperator::Equals,
                value: "Finance".into(),
            }];
            let _ = id;
        }),
    ];
    for (reason, change) in cases {
        let mut w = world();
        w.add(user("u-na", "na"), &[SUPPORT]);
        w.sync();
        change(&mut w, "u-na");
        let plan = w.plan();
        let a = only(&plan);
        assert_eq!((a.kind, a.reason.as_str()), (ActionKind::Disable, reason));
        assert_eq!(a.target_group, None);
        w.apply(&plan);
        let t = w.links["u-na"].target_id.clone();
        assert!(!w.target.users[&t].active);
        assert!(
            w.target.groups["tier-1"].members.contains(&t),
            "memberships are kept"
        );
        assert!(w.plan().is_empty(), "{reason}: {:#?}", kinds(&w.plan()));
    }
    // A removed user whose account is also disabled: `disabled` comes before `removed-from-groups`.
    let mut w = world();
    w.add(user("u-oz", "oz"), &[SUPPORT]);
    w.sync();
    let mut u = w.source.users["u-oz"].clone();
    u.account_enabled = false;
    w.remove_from_groups("u-oz", Whereabouts::Exists(Box::new(u)));
    assert_eq!(only(&w.plan()).reason, "disabled");

    // R7: back in scope, adsync enables the user it disabled.
    let mut w = world();
    w.add(user("u-pa", "pa"), &[SUPPORT]);
    w.sync();
    w.source.users.get_mut("u-pa").unwrap().account_enabled = false;
    w.sync();
    w.source.users.get_mut("u-pa").unwrap().account_enabled = true;
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str()),
        (ActionKind::Enable, "back in scope")
    );
    w.apply(&plan);
    assert!(w.plan().is_empty());
}

#[test]
fn r6_a_managed_user_with_no_word_on_its_fate_fails_closed() {
    let mut w = world();
    w.add(user("u-qa", "qa"), &[SUPPORT]);
    w.sync();
    w.source
        .groups
        .get_mut(SUPPORT)
        .unwrap()
        .members
        .remove("u-qa");
    w.source.users.remove("u-qa");
    let err = plan(PlanInput {
        settings: &w.settings,
        source: &w.source,
        target: &w.target,
        links: &w.links,
    })
    .unwrap_err();
    assert!(matches!(err, PlanError::Incomplete { .. }));
}

#[test]
fn r8_unmanaged_users_are_never_touched() {
    let mut w = world();
    let outsider = w.target_user("outsider@contoso.example", None);
    w.target
        .groups
        .get_mut("tier-1")
        .unwrap()
        .members
        .insert(outsider.clone());
    w.add(user("u-ra", "ra"), &[SUPPORT]);
    w.sync();
    let plan = w.plan();
    assert!(
        plan.actions
            .iter()
            .all(|a| a.target_user_id.as_deref() != Some(&outsider))
    );
    assert!(w.target.users[&outsider].active);
}

#[test]
fn r9_duplicate_emails_skip_both_with_one_warning() {
    let mut w = world();
    let mut a = user("u-sa", "sa");
    a.mail = Some("shared@contoso.example".into());
    let mut b = user("u-sb", "sb");
    b.mail = Some("SHARED@contoso.example".into());
    w.add(a, &[SUPPORT]);
    w.add(b, &[SALES]);
    let plan = w.plan();
    assert_eq!(
        kinds(&plan)
            .iter()
            .map(|k| (k.0, k.2.as_str()))
            .collect::<Vec<_>>(),
        [
            (ActionKind::Skip, "duplicate-email"),
            (ActionKind::Skip, "duplicate-email")
        ]
    );
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.warnings[0].entra_ids, ["u-sa", "u-sb"]);
}

#[test]
fn r10_a_missing_paired_group_fails_before_any_plan() {
    let mut w = world();
    w.source.groups.remove(SALES);
    let err = plan(PlanInput {
        settings: &w.settings,
        source: &w.source,
        target: &w.target,
        links: &w.links,
    })
    .unwrap_err();
    assert!(matches!(err, PlanError::EntraGroupMissing { .. }));
    assert!(err.to_string().contains("nothing was changed"));
}

#[test]
fn r11_mass_disable_guard() {
    let mut w = world();
    for i in 0..20 {
        w.add(
            user(&format!("u-{i:02}"), &format!("user{i:02}")),
            &[SUPPORT],
        );
    }
    w.sync();
    // 4 disables (20 %): never blocked below 5.
    for i in 0..4 {
        w.source
            .users
            .get_mut(&format!("u-{i:02}"))
            .unwrap()
            .account_enabled = false;
    }
    assert_eq!(w.plan().blocked, None);
    // 5 of 20 = 25 % > 20 %: blocked; the limit is 20 % of 20 = 4.
    w.source.users.get_mut("u-04").unwrap().account_enabled = false;
    let plan = w.plan();
    let blocked = plan.blocked.clone().expect("blocked");
    assert_eq!((blocked.disables, blocked.limit), (5, 4));
    assert!(blocked.reason.contains("max_disable_percent"));
    assert!(crate::render::plan_text(&plan, None).contains("BLOCKED"));
    assert_eq!(mass_guard(5, 1000, 4, 20).map(|b| b.limit), Some(4));
    assert_eq!(mass_guard(5, 1000, 100, 20), None);
}

fn mass_guard(d: usize, active: usize, max: u32, pct: u32) -> Option<Blocked> {
    super::planner::mass_disable_guard(d, active, max, pct)
}

#[test]
fn group_mode_all_adds_every_group_and_removes_only_its_own() {
    let mut w = World::new(settings("[policy]\ngroup_mode = \"all\""));
    w.add(user("u-ta", "ta"), &[SUPPORT, SALES]);
    let plan = w.sync();
    let a = only(&plan);
    assert_eq!(a.target_group, None);
    let groups: Vec<&str> = a
        .target_groups
        .as_ref()
        .unwrap()
        .iter()
        .map(|g| &*g.id)
        .collect();
    assert_eq!(groups, ["tier-1", "tier-2"]);
    assert!(w.plan().is_empty());

    // Someone else also put the user in no other group; leaving Sales removes only tier-2.
    w.source
        .groups
        .get_mut(SALES)
        .unwrap()
        .members
        .remove("u-ta");
    let plan = w.plan();
    let a = only(&plan);
    assert_eq!(
        (a.kind, a.reason.as_str()),
        (ActionKind::Move, "removed from Tier 2")
    );
    assert_eq!(a.execution.remove_from, [Text::from("tier-2")]);
    w.apply(&plan);
    assert!(w.plan().is_empty());
}

#[test]
fn username_policies() {
    for (policy, expected) in [
        (UsernamePolicy::Upn, "ua@contoso.example"),
        (UsernamePolicy::UpnLocalPart, "ua"),
        (UsernamePolicy::Mail, "first.last@mail.example"),
    ] {
        let mut u = user("u-ua", "ua");
        u.mail = Some("first.last@mail.example".into());
        assert_eq!(desired_user(&u, policy).user_name, expected);
    }
    let mut u = user("u-ub", "ub");
    u.mail = None;
    assert_eq!(
        desired_user(&u, UsernamePolicy::Mail).user_name,
        "ub@contoso.example"
    );
    assert_eq!(
        desired_user(&u, UsernamePolicy::Upn).emails,
        "ub@contoso.example"
    );
}

#[test]
fn plan_json_has_the_contract_shape() {
    let mut w = world();
    w.add(user("u-va", "va"), &[SUPPORT]);
    let plan = w.plan();
    // The streamed report `sync --format json` prints is the same text, newline-terminated.
    let mut streamed = Vec::new();
    plan.write_json(&mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), plan.to_json() + "\n");
    let json: serde_json::Value = serde_json::from_str(&plan.to_json()).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["blocked"], serde_json::Value::Null);
    let keys: BTreeSet<&str> = json["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "create",
            "link",
            "update",
            "move",
            "disable",
            "enable",
            "skip",
            "unchanged"
        ])
    );
    let action = &json["actions"][0];
    let keys: BTreeSet<&str> = action
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "kind",
            "entra_id",
            "user_principal_name",
            "email",
            "target_user_id",
            "target_group",
            "changes",
            "reason"
        ])
    );
    assert_eq!(action["kind"], "create");
    assert_eq!(action["target_group"]["name"], "Tier 1");
    assert!(json["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn csv_quotes_and_defuses_formulas() {
    let mut w = world();
    let mut u = user("u-wa", "wa");
    u.job_title = Some("=HYPERLINK(\"x\")".into());
    w.add(u, &[SUPPORT]);
    w.sync();
    w.source.users.get_mut("u-wa").unwrap().job_title = Some("+Lead, \"Ops\"".into());
    let csv = crate::render::plan_csv(&w.plan());
    let line = csv.lines().nth(1).unwrap();
    assert!(line.starts_with("update,u-wa,wa@contoso.example"), "{line}");
    assert!(
        line.contains("\"title: =HYPERLINK(\"\"x\"\") -> +Lead, \"\"Ops\"\"\""),
        "{line}"
    );
    // Read back by a CSV reader, every cell is what was written.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], "update");
    assert_eq!(&row[6], r#"title: =HYPERLINK("x") -> +Lead, "Ops""#);
}

#[test]
fn csv_cells_that_start_a_formula_are_text() {
    let mut w = world();
    let mut u = user("u-f", "f");
    u.mail = Some("=1+2@contoso.example".into());
    w.add(u, &[SUPPORT]);
    let csv = crate::render::plan_csv(&w.plan());
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[3], "'=1+2@contoso.example", "{csv}");
}

/// R13: two target users carrying one Entra id. Unlinked, the user is skipped with a
/// `duplicate-externalId` warning naming both; linked, it stays managed through its link and the
/// warning names both all the same (the duplicate is never silently kept).
#[test]
fn r13_two_target_users_with_one_entra_id_are_named_in_a_warning() {
    let mut w = world();
    w.add(user("u-fay", "fay"), &[SUPPORT]);
    let first = w.target_user("fay@contoso.example", Some("u-fay"));
    let second = w.target_user("fay.2@contoso.example", Some("u-fay"));
    let plan = w.plan();
    assert_eq!(
        (only(&plan).kind, only(&plan).reason.as_str()),
        (ActionKind::Skip, "duplicate-externalId")
    );
    assert_eq!(plan.warnings.len(), 1, "{:#?}", plan.warnings);
    let warning = &plan.warnings[0];
    assert_eq!(warning.code, "duplicate-externalId");
    assert_eq!(warning.entra_ids, ["u-fay"]);
    assert!(
        warning.message.contains(&format!("({first}, {second})"))
            && warning.message.contains("fay@contoso.example")
            && warning.message.contains("adsync link"),
        "{}",
        warning.message
    );

    w.links.insert(
        "u-fay".into(),
        Link {
            entra_id: "u-fay".into(),
            target_id: first.clone(),
            ..Link::default()
        },
    );
    let linked = w.plan();
    assert!(
        linked.actions.iter().all(|a| a.kind != ActionKind::Skip),
        "{:#?}",
        kinds(&linked)
    );
    assert_eq!(linked.warnings.len(), 1, "{:#?}", linked.warnings);
    assert_eq!(linked.warnings[0].code, "duplicate-externalId");
    assert!(
        linked.warnings[0]
            .message
            .contains(&format!("keeps managing {first}")),
        "{}",
        linked.warnings[0].message
    );

    // One account again: no warning.
    w.target.users.remove(&second);
    assert!(w.plan().warnings.is_empty());
}
