//! Properties: random steps applied to an in-memory target converge (R12), and a partial plan
//! (an incremental cycle) acts only on its users, as a full plan would. A run cut off part way:
//! `crash.rs`.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Step {
    Add { n: usize, group: usize },
    Move { n: usize, group: usize },
    Retitle { n: usize },
    Disable { n: usize },
    Enable { n: usize },
    Delete { n: usize },
    EditTarget { n: usize },
    AddUnmanaged { n: usize },
}

pub(super) fn step() -> impl Strategy<Value = Step> {
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

pub(super) fn run_step(w: &mut World, s: &Step) {
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
                u.job_title =
                    Some(format!("{}+", u.job_title.as_deref().unwrap_or_default()).into());
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

// ---- crashes (R12): a run cut off between any two writes, then run again ----
