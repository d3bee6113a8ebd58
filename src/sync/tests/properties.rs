//! Properties: random steps applied to an in-memory target converge (R12), a partial plan (an
//! incremental cycle) acts only on its users, as a full plan would, and `apply()` cut off at any
//! write (or by a full disk) converges when run again like a run that was not.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::state::{StateError, StateStore};

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

/// How an apply is cut off: where, as a share of the run's writes, so that small plans (one
/// disable) are cut as often as large ones.
#[derive(Clone, Copy, Debug)]
enum Crash {
    /// The process dies at one of the application's writes of the run, after the application
    /// committed it (`commit`) or before.
    Writer {
        at: proptest::sample::Index,
        commit: bool,
    },
    /// The disk fills after some of the run's writes to the state store: every later one fails.
    Disk { after: proptest::sample::Index },
}

fn crash() -> impl Strategy<Value = Crash> {
    prop_oneof![
        (any::<proptest::sample::Index>(), any::<bool>())
            .prop_map(|(at, commit)| Crash::Writer { at, commit }),
        any::<proptest::sample::Index>().prop_map(|after| Crash::Disk { after }),
    ]
}

/// [`step`] on four users, so that one user leaves and comes back within a few steps.
fn crash_step() -> impl Strategy<Value = Step> {
    step().prop_map(|s| match s {
        Step::Add { n, group } => Step::Add { n: n % 4, group },
        Step::Move { n, group } => Step::Move { n: n % 4, group },
        Step::Retitle { n } => Step::Retitle { n: n % 4 },
        Step::Disable { n } => Step::Disable { n: n % 4 },
        Step::Enable { n } => Step::Enable { n: n % 4 },
        Step::Delete { n } => Step::Delete { n: n % 4 },
        Step::EditTarget { n } => Step::EditTarget { n: n % 4 },
        Step::AddUnmanaged { n } => Step::AddUnmanaged { n: n % 4 },
    })
}

/// An application in memory that `apply()` writes to and `settle_intents` reads, and that can
/// die at a chosen write: that write (and every one after) never answers.
#[derive(Default)]
struct App {
    target: Mutex<TargetSnapshot>,
    next_id: AtomicUsize,
    writes: AtomicUsize,
    crash_at: Mutex<Option<(usize, bool)>>,
    died: tokio::sync::Notify,
}

impl App {
    fn new(groups: &BTreeMap<String, TargetGroup>) -> Self {
        let app = Self::default();
        app.target.lock().unwrap().groups = groups.clone();
        app
    }

    fn snapshot(&self) -> TargetSnapshot {
        self.target.lock().unwrap().clone()
    }

    /// One request: made, unless the process died at or before it.
    async fn write<R>(&self, f: impl FnOnce(&mut TargetSnapshot) -> R) -> R {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let crash_at = *self.crash_at.lock().unwrap();
        let made = match crash_at {
            Some((at, _)) if n > at => None,
            Some((at, commit)) if n == at => {
                if commit {
                    f(&mut self.target.lock().unwrap());
                }
                self.died.notify_one();
                None
            }
            _ => Some(f(&mut self.target.lock().unwrap())),
        };
        match made {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }

    fn user<'a>(
        target: &'a mut TargetSnapshot,
        id: &str,
    ) -> Result<&'a mut TargetUser, WriteError> {
        target
            .users
            .get_mut(id)
            .ok_or_else(|| WriteError(format!("no user {id}"), Blame::User))
    }
}

impl TargetWriter for App {
    async fn create_user(
        &self,
        desired: &DesiredUser,
        _: Option<&crate::secret::Secret>,
    ) -> Result<NewAccount, WriteError> {
        self.write(|t| {
            let id = format!("t{}", self.next_id.fetch_add(1, Ordering::SeqCst));
            let mut user = TargetUser {
                id: id.clone(),
                ..TargetUser::default()
            };
            write_fields(&mut user, desired, true, &BTreeSet::new());
            t.users.insert(id.clone(), user);
            Ok(id.into())
        })
        .await
    }

    async fn update_user(
        &self,
        id: &str,
        desired: &DesiredUser,
        fields: &[&str],
    ) -> Result<(), WriteError> {
        let fields: BTreeSet<&str> = fields.iter().copied().collect();
        self.write(|t| {
            write_fields(App::user(t, id)?, desired, false, &fields);
            Ok(())
        })
        .await
    }

    async fn set_active(&self, id: &str, active: bool) -> Result<(), WriteError> {
        self.write(|t| {
            App::user(t, id)?.active = active;
            Ok(())
        })
        .await
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.add_members(group, &[user.to_owned()]).await
    }

    async fn add_members(&self, group: &str, users: &[String]) -> Result<(), WriteError> {
        self.write(|t| {
            let group = t.groups.get_mut(group).expect("a paired group");
            group.members.extend(users.iter().cloned());
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<(), WriteError> {
        self.write(|t| {
            t.groups
                .get_mut(group)
                .expect("a paired group")
                .members
                .remove(user);
            Ok(())
        })
        .await
    }
}

impl TargetLookup for App {
    type Error = std::convert::Infallible;

    async fn user_active(&self, id: &str) -> Result<Option<bool>, Self::Error> {
        Ok(self.target.lock().unwrap().users.get(id).map(|u| u.active))
    }

    async fn users_with_external_id(&self, entra_id: &str) -> Result<Vec<String>, Self::Error> {
        let target = self.target.lock().unwrap();
        let users = target.users.values();
        Ok(users
            .filter(|u| u.external_id.as_deref() == Some(entra_id))
            .map(|u| u.id.clone())
            .collect())
    }
}

/// The state store with a disk that fills after a number of writes.
struct FullDisk<'a> {
    store: &'a StateStore,
    left: AtomicUsize,
    /// Commits made: each batch, and the run's opening and closing records.
    commits: &'a AtomicUsize,
}

impl FullDisk<'_> {
    fn spend(&self) -> Result<(), StateError> {
        let left = self.left.load(Ordering::SeqCst);
        if left == 0 {
            let full = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL);
            return Err(rusqlite::Error::SqliteFailure(full, None).into());
        }
        self.left.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

impl Journal for FullDisk<'_> {
    type Error = StateError;

    fn begin_run(&self, trigger: &str) -> Result<i64, StateError> {
        self.spend()?;
        self.commits.fetch_add(1, Ordering::SeqCst);
        Journal::begin_run(self.store, trigger)
    }
    fn links(&self) -> Result<Links, StateError> {
        self.store.links()
    }
    fn links_of<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<Links, StateError> {
        self.store.links_of(ids)
    }
    fn put_link(&self, link: &Link) -> Result<(), StateError> {
        self.spend()?;
        self.store.put_link(link)
    }
    fn remove_link(&self, entra_id: &str) -> Result<(), StateError> {
        self.spend()?;
        self.store.remove_link(entra_id)
    }
    fn record_action(&self, run: i64, seq: usize, action: &Action) -> Result<(), StateError> {
        self.spend()?;
        self.store.record_action(run, seq, action)
    }
    fn finish_run(
        &self,
        run: i64,
        outcome: RunOutcome,
        summary: &Summary,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        self.spend()?;
        self.commits.fetch_add(1, Ordering::SeqCst);
        Journal::finish_run(self.store, run, outcome, summary, error)
    }
    fn batch<R>(&self, f: impl FnOnce() -> Result<R, StateError>) -> Result<R, StateError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.store.transaction(f)
    }
    fn put_intents(&self, intents: &[Intent]) -> Result<(), StateError> {
        self.spend()?;
        self.store.put_intents(intents)
    }
    fn remove_intent(&self, entra_id: &str) -> Result<(), StateError> {
        self.spend()?;
        self.store.remove_intent(entra_id)
    }
    fn intents(&self) -> Result<Vec<Intent>, StateError> {
        self.store.intents()
    }
}

/// The application's users by Entra id (userName for the unmanaged), each with its groups.
type Accounts = BTreeMap<String, (TargetUser, Vec<String>)>;

/// One side of the comparison: an application and a state store (SQLite, in memory).
struct Side {
    app: App,
    store: StateStore,
    /// State commits made by `apply()` so far.
    commits: AtomicUsize,
}

impl Side {
    fn new(w: &World) -> Self {
        Self {
            app: App::new(&w.target.groups),
            store: StateStore::open(std::path::Path::new(":memory:")).unwrap(),
            commits: AtomicUsize::new(0),
        }
    }

    /// One cycle as `sync` runs it: settle, plan, apply, cut off as `crash` says. Returns the
    /// plan's length.
    fn cycle(&self, rt: &tokio::runtime::Runtime, w: &World, crash: Option<Crash>) -> usize {
        rt.block_on(settle_intents(&self.app, &self.store)).unwrap();
        let target = self.app.snapshot();
        let links = self.store.links().unwrap();
        let plan = plan(PlanInput {
            settings: &w.settings,
            source: &w.source,
            target: &target,
            links: &links,
        })
        .expect("plan");
        let len = plan.actions.len() + plan.state_fixes.len();
        if len == 0 {
            return 0;
        }
        let options = ApplyOptions {
            concurrency: 3,
            group_mode: w.settings.policy.group_mode,
            default_password: None,
            trigger: "test".into(),
            cancel: None,
        };
        // The run's writes: a request per user write, per group joined and per group left
        // (fewer when joins share a request); four state writes per action and a few per run.
        let requests = plan
            .actions
            .iter()
            .filter(|a| a.kind != ActionKind::Skip)
            .map(|a| 1 + a.execution.add_to.len() + a.execution.remove_from.len())
            .sum::<usize>();
        let records = 4 + 4 * plan.actions.len() + plan.state_fixes.len();
        self.app.writes.store(0, Ordering::SeqCst);
        *self.app.crash_at.lock().unwrap() = match crash {
            Some(Crash::Writer { at, commit }) if requests > 0 => {
                Some((1 + at.index(requests), commit))
            }
            _ => None,
        };
        let disk = FullDisk {
            store: &self.store,
            left: AtomicUsize::new(match crash {
                Some(Crash::Disk { after }) => after.index(records),
                _ => usize::MAX,
            }),
            commits: &self.commits,
        };
        rt.block_on(async {
            let applying = std::pin::pin!(apply(plan, &self.app, &disk, &options, |_| {}));
            let died = std::pin::pin!(self.app.died.notified());
            // The process died: nothing after that moment is recorded.
            if let futures::future::Either::Left((applied, _)) =
                futures::future::select(applying, died).await
                && crash.is_none()
            {
                applied.expect("apply");
            }
        });
        *self.app.crash_at.lock().unwrap() = None;
        len
    }

    /// Cycles until the plan is empty; at most three.
    fn converge(&self, rt: &tokio::runtime::Runtime, w: &World) -> Result<(), TestCaseError> {
        for _ in 0..3 {
            if self.cycle(rt, w, None) == 0 {
                return Ok(());
            }
        }
        let left = self.cycle(rt, w, None);
        prop_assert_eq!(left, 0, "no convergence in three runs");
        Ok(())
    }

    /// The end state, by Entra id: each target user (its id left out) with the groups it is
    /// in, and each link (its target id left out).
    fn state(&self) -> (Accounts, Vec<Link>) {
        let target = self.app.snapshot();
        let users = target
            .users
            .values()
            .map(|u| {
                let groups = target
                    .groups
                    .values()
                    .filter(|g| g.members.contains(&u.id))
                    .map(|g| g.id.clone())
                    .collect();
                let key = u.external_id.clone().unwrap_or_else(|| u.user_name.clone());
                (
                    key,
                    (
                        TargetUser {
                            id: String::new(),
                            ..u.clone()
                        },
                        groups,
                    ),
                )
            })
            .collect();
        let links = self
            .store
            .links()
            .unwrap()
            .into_values()
            .map(|l| Link {
                target_id: String::new(),
                ..l
            })
            .collect();
        (users, links)
    }

    /// The application side of a step that happens there: an edit or a new unmanaged user.
    fn target_step(&self, s: &Step) {
        let mut target = self.app.target.lock().unwrap();
        match *s {
            Step::EditTarget { n } => {
                let ext = format!("u-p{n}");
                let user = target.users.values_mut();
                for u in user.filter(|u| u.external_id.as_deref() == Some(&ext)) {
                    u.title = Some("edited".into());
                }
            }
            Step::AddUnmanaged { n } => {
                let id = format!("stranger{n}");
                target
                    .users
                    .entry(id.clone())
                    .or_insert_with(|| TargetUser {
                        id,
                        user_name: format!("stranger{n}@other.example"),
                        emails: vec![format!("stranger{n}@other.example")],
                        active: true,
                        ..TargetUser::default()
                    });
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// R12, R5, R7 through `apply()` and the state store: steps applied once without a crash and
    /// once cut off at any write (the application's answer lost, with or without its commit) or
    /// with a disk that fills at any state write, then run again until the plan is empty, end in
    /// the same target and the same links, with no user twice and no lost disable: every linked
    /// user out of scope is disabled and every one in scope (some re-entering after adsync
    /// disabled them) is active.
    #[test]
    fn a_run_cut_off_at_any_write_converges_like_an_uncut_one(
        steps in proptest::collection::vec((crash_step(), crash()), 1..12)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut w = World::new(settings("[policy]\nmax_disables = 1000\nmax_disable_percent = 100"));
        let (clean, cut) = (Side::new(&w), Side::new(&w));
        for (s, crash) in &steps {
            match s {
                Step::EditTarget { .. } | Step::AddUnmanaged { .. } => {
                    clean.target_step(s);
                    cut.target_step(s);
                }
                _ => {
                    w.links = clean.store.links().unwrap();
                    run_step(&mut w, s);
                }
            }
            clean.converge(&rt, &w)?;
            cut.cycle(&rt, &w, Some(*crash));
            cut.converge(&rt, &w)?;
            let (users, links) = cut.state();
            prop_assert_eq!(&users, &clean.state().0, "after {:?} cut off by {:?}", s, crash);
            prop_assert_eq!(&links, &clean.state().1, "after {:?} cut off by {:?}", s, crash);
            let accounts = cut.app.snapshot().users.len();
            prop_assert_eq!(users.len(), accounts, "a user is in the application twice");
            for link in &links {
                let should = w.source.users.get(&link.entra_id).is_some_and(|u| u.account_enabled);
                let (user, _) = &users[&link.entra_id];
                prop_assert_eq!(user.active, should, "{} after {:?} cut off by {:?}", link.entra_id, s, crash);
            }
        }
    }
}

/// Intents cost no commit of their own: a batch's go into the commit before it, and a disable is
/// recorded with its batch (it used to be committed on its own, one commit per disable).
#[test]
fn intents_add_no_commit_and_a_disable_costs_none_of_its_own() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut w = World::new(settings(
        "[policy]\nmax_disables = 1000\nmax_disable_percent = 100",
    ));
    let ids: Vec<String> = (0..300).map(|n| format!("u-{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        w.add(user(id, &format!("p{n}")), &[SUPPORT]);
    }
    let side = Side::new(&w);
    // Two batches (250 + 50): the run's opening record, the state fixes with the first
    // batch's intents, two commits per batch (the second with the next batch's intents), the
    // closing record.
    let per_run = 1 + 1 + 2 * 2 + 1;
    assert_eq!(side.cycle(&rt, &w, None), 300);
    assert_eq!(side.commits.swap(0, Ordering::SeqCst), per_run);
    for id in &ids {
        w.remove_from_groups(id, Whereabouts::Deleted);
    }
    assert_eq!(side.cycle(&rt, &w, None), 300, "300 disables");
    assert_eq!(side.commits.load(Ordering::SeqCst), per_run);
    assert!(
        side.store.intents().unwrap().is_empty(),
        "every outcome recorded"
    );
    let links = side.store.links().unwrap();
    assert!(links.values().all(|l| l.disabled_by_adsync), "{links:#?}");
}
