//! The planner against small fixtures: one test per rule and edge of SPEC §2, and property tests
//! that apply plans to an in-memory target and plan again.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::config::{GroupMode, Settings, UsernamePolicy, parse_str};

pub(crate) const SUPPORT: &str = "00000000-0000-0000-0000-00000000000a";
pub(crate) const SALES: &str = "00000000-0000-0000-0000-00000000000b";

/// Settings pairing Support → tier-1 (order 1) and Sales → tier-2 (order 2), plus `extra` TOML.
pub(crate) fn settings(extra: &str) -> Settings {
    let text = format!(
        r#"version = 1
[entra]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:X"
[target]
url = "http://127.0.0.1:1/scim"
token = "env:Y"
[[pairs]]
entra_group_id = "{SUPPORT}"
target_group_id = "tier-1"
order = 1
[[pairs]]
entra_group_id = "{SALES}"
target_group_id = "tier-2"
order = 2
{extra}"#
    );
    Settings::from_file(&parse_str(&text).unwrap())
}

/// A member user `name@contoso.example`, job title "Agent".
pub(crate) fn user(id: &str, name: &str) -> SourceUser {
    SourceUser {
        id: id.into(),
        user_principal_name: format!("{name}@contoso.example"),
        mail: Some(format!("{name}@contoso.example")),
        given_name: Some(name.to_uppercase()),
        surname: Some("Example".into()),
        display_name: Some(format!("{} Example", name.to_uppercase())),
        job_title: Some("Agent".into()),
        account_enabled: true,
        user_type: Some("Member".into()),
        ..SourceUser::default()
    }
}

/// A tenant, a target and links, plus an in-memory apply: the reference model of a sync.
#[derive(Clone, Debug)]
struct World {
    settings: Settings,
    source: SourceSnapshot,
    target: TargetSnapshot,
    links: Links,
    next_id: usize,
}

impl World {
    fn new(settings: Settings) -> Self {
        let mut source = SourceSnapshot::default();
        for (id, name, created) in [
            (SUPPORT, "Support", "2020-01-01T00:00:00Z"),
            (SALES, "Sales", "2019-01-01T00:00:00Z"),
        ] {
            source.groups.insert(
                id.into(),
                SourceGroup {
                    id: id.into(),
                    display_name: name.into(),
                    created: Some(created.into()),
                    members: BTreeSet::new(),
                },
            );
        }
        let mut target = TargetSnapshot::default();
        for (id, name) in [("tier-1", "Tier 1"), ("tier-2", "Tier 2")] {
            target.groups.insert(
                id.into(),
                TargetGroup {
                    id: id.into(),
                    display_name: name.into(),
                    members: BTreeSet::new(),
                },
            );
        }
        Self {
            settings,
            source,
            target,
            links: Links::new(),
            next_id: 0,
        }
    }

    fn add(&mut self, u: SourceUser, groups: &[&str]) {
        for g in groups {
            self.source
                .groups
                .get_mut(*g)
                .unwrap()
                .members
                .insert(u.id.clone());
        }
        self.source.users.insert(u.id.clone(), u);
    }

    /// Removes a user from every paired group; the snapshot then reports where it went.
    fn remove_from_groups(&mut self, id: &str, whereabouts: Whereabouts) {
        for g in self.source.groups.values_mut() {
            g.members.remove(id);
        }
        self.source.users.remove(id);
        self.source.outside.insert(id.into(), whereabouts);
    }

    fn target_user(&mut self, user_name: &str, external_id: Option<&str>) -> String {
        self.next_id += 1;
        let id = format!("t{}", self.next_id);
        self.target.users.insert(
            id.clone(),
            TargetUser {
                id: id.clone(),
                external_id: external_id.map(str::to_owned),
                user_name: user_name.into(),
                emails: vec![user_name.into()],
                active: true,
                ..TargetUser::default()
            },
        );
        id
    }

    fn plan(&self) -> Plan {
        plan(PlanInput {
            settings: &self.settings,
            source: &self.source,
            target: &self.target,
            links: &self.links,
        })
        .expect("plan")
    }

    /// Applies a plan to the in-memory target and links, as `apply()` does through SCIM.
    fn apply(&mut self, plan: &Plan) {
        for a in &plan.actions {
            let ex = &a.execution;
            let target_id = match a.kind {
                ActionKind::Skip => continue,
                ActionKind::Create => {
                    self.next_id += 1;
                    let id = format!("t{}", self.next_id);
                    self.target.users.insert(
                        id.clone(),
                        TargetUser {
                            id: id.clone(),
                            ..TargetUser::default()
                        },
                    );
                    id
                }
                _ => a.target_user_id.clone().unwrap(),
            };
            let tu = self.target.users.get_mut(&target_id).unwrap();
            if a.kind == ActionKind::Disable {
                tu.active = false;
                self.links.get_mut(&a.entra_id).unwrap().disabled_by_adsync = true;
                continue;
            }
            if let Some(d) = &ex.desired
                && (a.kind == ActionKind::Create || !a.changes.is_empty())
            {
                {
                    for c in &a.changes {
                        assert!(!c.field.is_empty());
                    }
                    let write_all = a.kind == ActionKind::Create;
                    let fields: BTreeSet<&str> =
                        a.changes.iter().map(|c| c.field.as_str()).collect();
                    let w = |f: &str| write_all || fields.contains(f);
                    if w("userName") {
                        tu.user_name = d.user_name.clone();
                    }
                    if w("externalId") {
                        tu.external_id = Some(d.external_id.clone());
                    }
                    if w("active") {
                        tu.active = d.active;
                    }
                    if w("name.givenName") {
                        tu.given_name = d.given_name.clone();
                    }
                    if w("name.familyName") {
                        tu.family_name = d.family_name.clone();
                    }
                    if w("displayName") {
                        tu.display_name = d.display_name.clone();
                    }
                    if w("emails") {
                        tu.emails = if d.emails.is_empty() {
                            Vec::new()
                        } else {
                            vec![d.emails.clone()]
                        };
                    }
                    if w("phoneNumbers") {
                        tu.phone = d.phone.clone();
                    }
                    if w("title") {
                        tu.title = d.title.clone();
                    }
                    if w("department") {
                        tu.department = d.department.clone();
                    }
                    if w("employeeNumber") {
                        tu.employee_number = d.employee_number.clone();
                    }
                    // SPEC §3.1: the other mapped paths, and the roles list.
                    if write_all {
                        tu.extra = d.extra.clone();
                    }
                    for key in fields
                        .iter()
                        .filter(|f| !crate::config::DEFAULT_TARGETS.contains(f))
                    {
                        match d.extra.get(*key) {
                            Some(v) => {
                                tu.extra.insert((*key).to_owned(), v.clone());
                            }
                            None => {
                                tu.extra.remove(*key);
                            }
                        }
                    }
                    if w("roles") {
                        tu.roles = d.roles_write.clone().unwrap_or_else(|| d.roles.clone());
                    }
                }
            }
            for g in &ex.add_to {
                self.target
                    .groups
                    .get_mut(g)
                    .unwrap()
                    .members
                    .insert(target_id.clone());
            }
            for g in &ex.remove_from {
                self.target
                    .groups
                    .get_mut(g)
                    .unwrap()
                    .members
                    .remove(&target_id);
            }
            let link = self
                .links
                .entry(a.entra_id.clone())
                .or_insert_with(|| Link {
                    entra_id: a.entra_id.clone(),
                    target_id: target_id.clone(),
                    ..Link::default()
                });
            link.target_id = target_id.clone();
            link.values_hash = ex.values_hash.clone();
            link.disabled_by_adsync = false;
            if let Some(d) = &ex.desired {
                link.roles_given = d.roles.iter().cloned().collect();
            }
            if let Some(g) = &ex.record_group {
                link.group = g.clone();
            }
            if self.settings.policy.group_mode == GroupMode::All {
                link.groups_added.extend(ex.add_to.iter().cloned());
                for g in &ex.remove_from {
                    link.groups_added.remove(g);
                }
            }
        }
        for fix in &plan.state_fixes {
            match fix {
                StateFix::Rehash {
                    entra_id,
                    values_hash,
                } => {
                    self.links.get_mut(entra_id).unwrap().values_hash = values_hash.clone();
                }
                StateFix::Unlink { entra_id } => {
                    self.links.remove(entra_id);
                }
            }
        }
    }

    fn sync(&mut self) -> Plan {
        let plan = self.plan();
        self.apply(&plan);
        plan
    }
}

fn kinds(plan: &Plan) -> Vec<(ActionKind, String, String)> {
    plan.actions
        .iter()
        .map(|a| (a.kind, a.user_principal_name.clone(), a.reason.clone()))
        .collect()
}

fn only(plan: &Plan) -> &Action {
    assert_eq!(plan.actions.len(), 1, "{:#?}", kinds(plan));
    &plan.actions[0]
}

fn world() -> World {
    World::new(settings(""))
}

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
    assert_eq!(a.target_group.as_ref().unwrap().name, "Tier 1");
    let d = a.execution.desired.as_ref().unwrap();
    assert_eq!(d.user_name, "ann@contoso.example");
    assert_eq!(d.external_id, "u-ann");
    assert!(d.active);
    assert_eq!(d.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(d.employee_number.as_deref(), Some("E-1"));
    assert_eq!(a.execution.add_to, ["tier-1"]);
    assert_eq!(plan.summary.create, 1);
    w.apply(&plan);
    assert!(w.plan().is_empty(), "{:#?}", kinds(&w.plan()));
    assert_eq!(w.plan().summary.unchanged, 1);
}

#[test]
fn r1_precedence_by_order_then_by_oldest_group() {
    let mut w = world();
    w.add(user("u-bo", "bo"), &[SUPPORT, SALES]);
    assert_eq!(only(&w.plan()).target_group.as_ref().unwrap().id, "tier-1");

    // Equal orders (only possible when built by hand): the older Entra group (Sales) wins.
    let mut tie = w.clone();
    for p in &mut tie.settings.pairs {
        p.order = 1;
    }
    assert_eq!(
        only(&tie.plan()).target_group.as_ref().unwrap().id,
        "tier-2"
    );
    // Same age too: the lower group id (Support, ...0a) wins.
    for g in tie.source.groups.values_mut() {
        g.created = Some("2020-01-01T00:00:00Z".into());
    }
    assert_eq!(
        only(&tie.plan()).target_group.as_ref().unwrap().id,
        "tier-1"
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
    assert_eq!(a.execution.add_to, ["tier-2"]);
    assert_eq!(a.execution.remove_from, ["tier-1"]);
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
    assert!(plan.to_text().contains("BLOCKED"));
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
        .map(|g| g.id.as_str())
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
    assert_eq!(a.execution.remove_from, ["tier-2"]);
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
    let csv = w.plan().to_csv();
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
    let csv = w.plan().to_csv();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[3], "'=1+2@contoso.example", "{csv}");
}

// ---- properties ----

#[derive(Clone, Debug)]
enum Step {
    Add { n: usize, group: usize },
    Move { n: usize, group: usize },
    Retitle { n: usize },
    Disable { n: usize },
    Enable { n: usize },
    Delete { n: usize },
    EditTarget { n: usize },
    AddUnmanaged { n: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..12usize, 0..2usize).prop_map(|(n, group)| Step::Add { n, group }),
        (0..12usize, 0..2usize).prop_map(|(n, group)| Step::Move { n, group }),
        (0..12usize).prop_map(|n| Step::Retitle { n }),
        (0..12usize).prop_map(|n| Step::Disable { n }),
        (0..12usize).prop_map(|n| Step::Enable { n }),
        (0..12usize).prop_map(|n| Step::Delete { n }),
        (0..12usize).prop_map(|n| Step::EditTarget { n }),
        (0..12usize).prop_map(|n| Step::AddUnmanaged { n }),
    ]
}

fn run_step(w: &mut World, s: &Step) {
    let gid = |g: usize| if g == 0 { SUPPORT } else { SALES };
    let id = |n: usize| format!("u-p{n}");
    match *s {
        Step::Add { n, group } => {
            if !w.source.users.contains_key(&id(n)) && !w.source.outside.contains_key(&id(n)) {
                w.add(user(&id(n), &format!("p{n}")), &[gid(group)]);
            }
        }
        Step::Move { n, group } => {
            if w.source.users.contains_key(&id(n)) {
                for g in w.source.groups.values_mut() {
                    g.members.remove(&id(n));
                }
                w.source
                    .groups
                    .get_mut(gid(group))
                    .unwrap()
                    .members
                    .insert(id(n));
            }
        }
        Step::Retitle { n } => {
            if let Some(u) = w.source.users.get_mut(&id(n)) {
                u.job_title = Some(format!("{}+", u.job_title.clone().unwrap_or_default()));
            }
        }
        Step::Disable { n } => {
            if let Some(u) = w.source.users.get_mut(&id(n)) {
                u.account_enabled = false;
            }
        }
        Step::Enable { n } => {
            if let Some(u) = w.source.users.get_mut(&id(n)) {
                u.account_enabled = true;
            }
        }
        Step::Delete { n } => {
            if w.source.users.contains_key(&id(n)) {
                w.remove_from_groups(&id(n), Whereabouts::Deleted);
            }
        }
        Step::EditTarget { n } => {
            if let Some(link) = w.links.get(&id(n)) {
                let t = link.target_id.clone();
                w.target.users.get_mut(&t).unwrap().title = Some("edited".into());
            }
        }
        Step::AddUnmanaged { n } => {
            w.target_user(&format!("stranger{n}@other.example"), None);
        }
    }
    // The snapshot accounts for every managed user outside the groups.
    let managed: Vec<String> = w.links.keys().cloned().collect();
    for m in managed {
        if !w.source.users.contains_key(&m) && !w.source.outside.contains_key(&m) {
            w.source.outside.insert(m, Whereabouts::Deleted);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// R12 and R6/R8: after applying any plan, planning again gives nothing to do; no target user
    /// ever disappears; users adsync did not create or link are never in a plan.
    #[test]
    fn apply_then_plan_is_empty_and_nothing_is_deleted(steps in proptest::collection::vec(step(), 1..40)) {
        let mut w = World::new(settings("[policy]\nmax_disables = 1000\nmax_disable_percent = 100"));
        for s in &steps {
            run_step(&mut w, s);
            let before: BTreeSet<String> = w.target.users.keys().cloned().collect();
            let linked: BTreeSet<String> = w.links.values().map(|l| l.target_id.clone()).collect();
            let plan = w.plan();
            for a in &plan.actions {
                if let Some(t) = &a.target_user_id {
                    prop_assert!(
                        a.kind == ActionKind::Link || linked.contains(t),
                        "{:?} touches unmanaged {t}", a.kind
                    );
                }
            }
            w.apply(&plan);
            let after: BTreeSet<String> = w.target.users.keys().cloned().collect();
            prop_assert!(before.is_subset(&after), "a target user disappeared");
            let again = w.plan();
            prop_assert!(again.is_empty(), "not idempotent after {:?}: {:#?}", s, kinds(&again));
        }
    }
}

// ---- partial plans (incremental cycles) ----

/// The Entra users a step changed: the ones an incremental cycle plans for.
fn touched_by(s: &Step) -> BTreeSet<String> {
    let id = |n: usize| BTreeSet::from([format!("u-p{n}")]);
    match *s {
        Step::Add { n, .. }
        | Step::Move { n, .. }
        | Step::Retitle { n }
        | Step::Disable { n }
        | Step::Enable { n }
        | Step::Delete { n } => id(n),
        // Target-side changes: a full cycle would not act on them either (R4, R8).
        Step::EditTarget { .. } | Step::AddUnmanaged { .. } => BTreeSet::new(),
    }
}

/// What `read_target_partial` reads for `ids`: each one's linked target user, else every target
/// user matching it by externalId, userName or email; and only their group memberships.
fn partial_target(w: &World, ids: &BTreeSet<String>) -> TargetSnapshot {
    let mut keep = BTreeSet::new();
    for id in ids {
        if let Some(link) = w.links.get(id)
            && w.target.users.contains_key(&link.target_id)
        {
            keep.insert(link.target_id.clone());
            continue;
        }
        let Some(user) = w.source.users.get(id) else {
            continue;
        };
        let name = desired_user(user, w.settings.policy.username).user_name;
        let keys = [user.email().to_lowercase(), name.to_lowercase()];
        for t in w.target.users.values() {
            let hit = t.external_id.as_deref() == Some(id.as_str())
                || keys.contains(&t.user_name.to_lowercase())
                || t.emails.iter().any(|e| keys.contains(&e.to_lowercase()));
            if hit {
                keep.insert(t.id.clone());
            }
        }
    }
    let mut target = w.target.clone();
    target.users.retain(|id, _| keep.contains(id));
    for group in target.groups.values_mut() {
        group.members.retain(|m| keep.contains(m));
    }
    target
}

fn partial_plan(w: &World, ids: &BTreeSet<String>) -> Plan {
    let target = partial_target(w, ids);
    let scope = PartialScope {
        users: ids.clone(),
        active_managed_outside: w
            .links
            .values()
            .filter(|l| !ids.contains(&l.entra_id) && !l.disabled_by_adsync)
            .count(),
    };
    plan_partial(
        PlanInput {
            settings: &w.settings,
            source: &w.source,
            target: &target,
            links: &w.links,
        },
        &scope,
    )
    .expect("partial plan")
}

#[test]
fn a_partial_plan_acts_only_on_its_users_and_as_a_full_plan_would() {
    let mut w = world();
    let (a, b) = ("u-a", "u-b");
    w.add(user(a, "ann"), &[SUPPORT]);
    w.add(user(b, "bob"), &[SALES]);
    w.sync();
    // Both change; only `a` is in the partial scope.
    w.source.users.get_mut(a).unwrap().job_title = Some("Lead".into());
    w.source.groups.get_mut(SALES).unwrap().members.remove(b);
    w.source.users.remove(b);
    w.source
        .outside
        .insert(b.into(), Whereabouts::Exists(Box::new(user(b, "bob"))));
    let ids = BTreeSet::from([a.to_owned()]);
    let partial = partial_plan(&w, &ids);
    let full = w.plan();
    assert_eq!(kinds(&full).len(), 2, "{:#?}", kinds(&full));
    let full_for_a: Vec<&Action> = full.actions.iter().filter(|x| x.entra_id == a).collect();
    assert_eq!(partial.actions.iter().collect::<Vec<_>>(), full_for_a);
    assert_eq!(only(&partial).kind, ActionKind::Update);
}

#[test]
fn a_partial_plan_counts_the_whole_managed_population_for_the_guard() {
    let mut w = world();
    let ids: Vec<String> = (0..30).map(|n| format!("u-{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        w.add(user(id, &format!("p{n}")), &[SUPPORT]);
    }
    w.sync();
    // Six of thirty leave: 20 % of the active managed users, not more; not blocked.
    let gone: BTreeSet<String> = ids.iter().take(6).cloned().collect();
    for id in &gone {
        w.remove_from_groups(id, Whereabouts::Deleted);
    }
    let plan = partial_plan(&w, &gone);
    assert_eq!(plan.summary.disable, 6);
    assert!(plan.blocked.is_none(), "{:?}", plan.blocked);
    // Seven are more than 20 %: blocked, although the partial target holds only those seven.
    let more: BTreeSet<String> = ids.iter().take(7).cloned().collect();
    w.remove_from_groups(&ids[6], Whereabouts::Deleted);
    let plan = partial_plan(&w, &more);
    assert_eq!(plan.blocked.as_ref().map(|b| b.disables), Some(7));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// An incremental cycle: after any step, the plan for just the users it touched, from a
    /// target read for them alone, holds exactly the full plan's actions for those users; applied,
    /// it leaves nothing for a full plan to do.
    #[test]
    fn a_partial_plan_for_the_touched_users_converges_like_a_full_one(
        steps in proptest::collection::vec(step(), 1..40)
    ) {
        let mut w = World::new(settings("[policy]\nmax_disables = 1000\nmax_disable_percent = 100"));
        for s in &steps {
            run_step(&mut w, s);
            let ids = touched_by(s);
            let partial = partial_plan(&w, &ids);
            let full = w.plan();
            let expected: Vec<&Action> =
                full.actions.iter().filter(|a| ids.contains(&a.entra_id)).collect();
            prop_assert_eq!(partial.actions.iter().collect::<Vec<_>>(), expected, "after {:?}", s);
            w.apply(&partial);
            let again = w.plan();
            prop_assert!(again.is_empty(), "after {:?}: {:#?}", s, kinds(&again));
        }
    }
}

// ---- attribute mappings and roles (SPEC §3.1) ----

/// [`settings`] with `roles` on the two pairs and `extra` TOML (mappings) after them.
fn settings_with_roles(support: &[&str], sales: &[&str], extra: &str) -> Settings {
    let list = |roles: &[&str]| {
        roles
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        r#"version = 1
[entra]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:X"
[target]
url = "http://127.0.0.1:1/scim"
token = "env:Y"
[[pairs]]
entra_group_id = "{SUPPORT}"
target_group_id = "tier-1"
order = 1
roles = [{}]
[[pairs]]
entra_group_id = "{SALES}"
target_group_id = "tier-2"
order = 2
roles = [{}]
{extra}"#,
        list(support),
        list(sales)
    );
    Settings::from_file(&parse_str(&text).unwrap_or_else(|e| panic!("{e:?}")))
}

fn with_extra(mut u: SourceUser, pairs: &[(&str, &str)]) -> SourceUser {
    for (k, v) in pairs {
        u.extra.insert((*k).to_owned(), (*v).to_owned());
    }
    u
}

fn desired_of(plan: &Plan) -> &DesiredUser {
    only(plan).execution.desired.as_ref().unwrap()
}

#[test]
fn each_mapping_kind_gives_its_value() {
    let mappings = r#"
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
[[mappings]]
target = "costCenter"
source = "employeeOrgData.costCenter"
default = "CC-000"
[[mappings]]
target = "userType"
value = "Technician"
[[mappings]]
target = "userName"
template = "{givenName}.{surname}@example.com"
transform = "lower"
[[mappings]]
target = "title"
omit = true
[[mappings]]
target = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization"
source = "companyName"
transform = "upper"
[[mappings]]
target = "emails"
source = "userPrincipalName"
transform = "local-part"
[[mappings]]
target = "urn:example:scim:acme:2.0:User:badge"
source = "onPremisesExtensionAttributes.extensionAttribute3"
"#;
    let mut w = World::new(settings_with_roles(&["technician"], &[], mappings));
    let mut ann = with_extra(
        user("u-ann", "ann"),
        &[
            ("mobilePhone", " +1 555 0101 "),
            ("onPremisesExtensionAttributes.extensionAttribute3", "B-7"),
        ],
    );
    ann.company_name = Some("Contoso".into());
    w.add(ann, &[SUPPORT]);
    let plan = w.plan();
    let d = desired_of(&plan);
    assert_eq!(
        d.extra[r#"phoneNumbers[type eq "mobile"].value"#], "+1 555 0101",
        "a source, trimmed"
    );
    assert_eq!(
        d.extra["costCenter"], "CC-000",
        "the default of an empty source"
    );
    assert_eq!(d.extra["userType"], "Technician", "a constant");
    assert_eq!(
        d.user_name, "ann.example@example.com",
        "a template, lower-cased"
    );
    assert_eq!(d.title, None, "omitted");
    assert_eq!(d.extra["organization"], "CONTOSO");
    assert_eq!(d.emails, "ann", "local-part");
    assert_eq!(d.extra["urn:example:scim:acme:2.0:User:badge"], "B-7");
    assert_eq!(d.roles, vec!["technician"]);
    assert_eq!(
        d.display_name.as_deref(),
        Some("ANN Example"),
        "defaults stay"
    );
    w.apply(&plan);
    assert!(w.plan().is_empty(), "{:#?}", kinds(&w.plan()));
}

#[test]
fn r2_matches_on_the_mapped_user_name_and_email() {
    let mappings = "[[mappings]]\ntarget = \"userName\"\ntemplate = \"{givenName}@app.example\"\n\
                    transform = \"lower\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    let existing = w.target_user("ann@app.example", None);
    let action = only(&w.plan()).clone();
    assert_eq!(action.kind, ActionKind::Link, "{action:#?}");
    assert_eq!(action.target_user_id.as_deref(), Some(existing.as_str()));

    let mappings = "[[mappings]]\ntarget = \"emails\"\nvalue = \"desk@app.example\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-bob", "bob"), &[SUPPORT]);
    let existing = w.target_user("desk@app.example", None);
    let action = only(&w.plan()).clone();
    assert_eq!(action.kind, ActionKind::Link);
    assert_eq!(action.target_user_id.as_deref(), Some(existing.as_str()));
}

/// Upgrading: links whose hashes were stored before mappings existed plan nothing when the
/// config has no mappings and no roles; adding a mapping then updates with `mapping changed`.
#[test]
fn a_config_without_mappings_keeps_stored_hashes_and_a_mapping_change_says_so() {
    let mut w = world();
    for n in 0..5 {
        let mut u = user(&format!("u-{n}"), &format!("user{n}"));
        u.extra
            .insert("mobilePhone".into(), format!("+1 555 010{n}"));
        w.add(u, &[SUPPORT]);
    }
    w.sync();
    // The hashes as an earlier version stored them: the default mapping's plain SHA-256.
    for link in w.links.values_mut() {
        let u = &w.source.users[&link.entra_id];
        link.values_hash = crate::sync::values_hash(&crate::sync::desired_user(
            u,
            crate::config::UsernamePolicy::Upn,
        ));
    }
    assert!(w.plan().is_empty(), "no spurious updates after an upgrade");

    w.settings = settings_with_roles(
        &[],
        &[],
        "[[mappings]]\ntarget = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\nsource = \"mobilePhone\"\n",
    );
    let plan = w.plan();
    assert_eq!(plan.summary.update, 5, "{:#?}", kinds(&plan));
    for a in &plan.actions {
        assert_eq!(a.reason, "mapping changed");
        assert_eq!(a.changes.len(), 1);
        assert_eq!(
            a.changes[0].field,
            r#"phoneNumbers[type eq "mobile"].value"#
        );
        assert_eq!(a.changes[0].from, None);
    }
    w.apply(&plan);
    assert!(w.plan().is_empty());
    // An Entra change under the same mappings names the changed attribute, as before.
    w.source.users.get_mut("u-1").unwrap().job_title = Some("Lead".into());
    assert_eq!(only(&w.plan()).reason, "jobTitle changed");
}

#[test]
fn create_only_values_are_written_once_and_never_compared() {
    let mappings = "[[mappings]]\ntarget = \"displayName\"\ntemplate = \"{givenName} ({jobTitle})\"\n\
                    when = \"create\"\n[[mappings]]\ntarget = \"nickName\"\nsource = \"jobTitle\"\n\
                    when = \"create\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    let plan = w.sync();
    let d = desired_of(&plan);
    assert_eq!(d.display_name.as_deref(), Some("ANN (Agent)"));
    assert_eq!(d.extra["nickName"], "Agent");
    let t = w.links["u-ann"].target_id.clone();
    assert_eq!(
        w.target.users[&t].extra["nickName"], "Agent",
        "written on create"
    );
    // The source changes, and someone edits the values in the target: only the default
    // `title` (always written) is compared; the create-only values never are.
    w.source.users.get_mut("u-ann").unwrap().job_title = Some("Lead".into());
    w.target.users.get_mut(&t).unwrap().display_name = Some("Edited".into());
    let plan = w.plan();
    let fields: Vec<&str> = only(&plan)
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(fields, vec!["title"]);
}

#[test]
fn roles_follow_the_pair_and_administrator_roles_stay() {
    let mut w = World::new(settings_with_roles(
        &["technician"],
        &["lead", "reports"],
        "",
    ));
    w.add(user("u-ann", "ann"), &[SUPPORT]);
    w.sync();
    let t = w.links["u-ann"].target_id.clone();
    assert_eq!(w.target.users[&t].roles, vec!["technician"]);
    assert!(w.plan().is_empty());
    w.target
        .users
        .get_mut(&t)
        .unwrap()
        .roles
        .push("billing".into());
    assert!(w.plan().is_empty(), "an administrator's role is left alone");
    for g in w.source.groups.values_mut() {
        g.members.clear();
    }
    w.source
        .groups
        .get_mut(SALES)
        .unwrap()
        .members
        .insert("u-ann".into());
    let plan = w.sync();
    let action = only(&plan);
    assert_eq!(action.kind, ActionKind::Move);
    let change = action.changes.iter().find(|c| c.field == "roles").unwrap();
    assert_eq!(change.from.as_deref(), Some("billing, technician"));
    assert_eq!(change.to.as_deref(), Some("billing, lead, reports"));
    let mut roles = w.target.users[&t].roles.clone();
    roles.sort();
    assert_eq!(roles, vec!["billing", "lead", "reports"]);
    assert!(w.plan().is_empty());

    // `all` mode: the union over the user's pairs.
    let mut w = World::new(settings_with_roles(
        &["technician"],
        &["lead"],
        "[policy]\ngroup_mode = \"all\"\n",
    ));
    w.add(user("u-bob", "bob"), &[SUPPORT, SALES]);
    assert_eq!(desired_of(&w.plan()).roles, vec!["lead", "technician"]);
}

#[test]
fn the_manager_is_the_managed_managers_target_id() {
    let mappings = "[[mappings]]\ntarget = \"manager\"\nsource = \"manager\"\n";
    let mut w = World::new(settings_with_roles(&[], &[], mappings));
    w.add(user("u-boss", "boss"), &[SUPPORT]);
    w.add(
        with_extra(user("u-ann", "ann"), &[("manager", "u-boss")]),
        &[SUPPORT],
    );
    w.add(
        with_extra(user("u-bob", "bob"), &[("manager", "u-nobody")]),
        &[SUPPORT],
    );
    w.sync();
    // The manager got its target id in the first sync; the second writes it.
    let plan = w.sync();
    let action = only(&plan);
    assert_eq!(action.entra_id, "u-ann");
    let boss = w.links["u-boss"].target_id.clone();
    assert_eq!(action.changes[0].field, "manager");
    assert_eq!(action.changes[0].to.as_deref(), Some(boss.as_str()));
    assert!(w.plan().is_empty());
}

/// One `[[mappings]]` entry of the pool the property test draws from.
const MAPPING_POOL: &[&str] = &[
    "target = \"phoneNumbers[type eq \\\"mobile\\\"].value\"\nsource = \"mobilePhone\"",
    "target = \"costCenter\"\nsource = \"employeeOrgData.costCenter\"\ndefault = \"CC-0\"",
    "target = \"userType\"\nvalue = \"Technician\"",
    "target = \"nickName\"\ntemplate = \"{givenName}.{surname}\"\ntransform = \"lower\"",
    "target = \"title\"\nomit = true",
    "target = \"displayName\"\ntemplate = \"{givenName} {jobTitle}\"\nwhen = \"create\"",
    "target = \"department\"\nsource = \"jobTitle\"\ntransform = \"upper\"",
    "target = \"emails[type eq \\\"home\\\"].value\"\nsource = \"mail\"\ntransform = \"upper\"",
    "target = \"addresses[type eq \\\"work\\\"].locality\"\nsource = \"city\"\ndefault = \"nowhere\"",
    "target = \"urn:example:scim:acme:2.0:User:badge\"\nsource = \"onPremisesExtensionAttributes.extensionAttribute1\"",
    "target = \"phoneNumbers\"\nomit = true",
    "target = \"name.middleName\"\nsource = \"jobTitle\"\nwhen = \"create\"",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// R12 with SPEC §3.1: under any mappings and pair roles, applying a plan and planning again
    /// gives nothing to do, whatever happens in the tenant and the target between syncs.
    #[test]
    fn apply_then_plan_is_empty_with_random_mappings(
        chosen in proptest::collection::btree_set(0..MAPPING_POOL.len(), 0..8),
        support in proptest::sample::subsequence(vec!["technician", "reports"], 0..=2),
        sales in proptest::sample::subsequence(vec!["lead", "reports"], 0..=2),
        steps in proptest::collection::vec(step(), 1..30),
    ) {
        let mappings: String = chosen
            .iter()
            .map(|&i| format!("[[mappings]]\n{}\n", MAPPING_POOL[i]))
            .collect();
        let extra = format!("[policy]\nmax_disables = 1000\nmax_disable_percent = 100\n{mappings}");
        let mut w = World::new(settings_with_roles(&support, &sales, &extra));
        for s in &steps {
            run_step(&mut w, s);
            for u in w.source.users.values_mut() {
                let n = u.id.len() + u.job_title.as_deref().map_or(0, str::len);
                u.extra.entry("mobilePhone".into()).or_insert_with(|| format!("+1 555 {n:04}"));
                if n % 2 == 0 {
                    u.extra
                        .entry("employeeOrgData.costCenter".into())
                        .or_insert_with(|| format!("CC-{n}"));
                    u.city = Some("Berlin".into());
                }
            }
            let plan = w.plan();
            w.apply(&plan);
            let again = w.plan();
            prop_assert!(again.is_empty(), "not idempotent after {:?}: {:#?}", s, again.actions);
        }
    }
}
