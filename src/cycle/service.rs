//! The background service loop (`adsync run`, what systemd, launchd or the Windows service
//! manager start): full and incremental cycles, Graph delta links, backoff.
//!
//! A full cycle runs at start and every `full_sync_hours`: it reads both sides whole, plans,
//! applies, and keeps the source snapshot it read in the state store with the Graph delta links
//! taken just before the read. In between, every `interval_secs`, an incremental cycle asks Graph
//! what changed since (one delta request per stream, users and groups, when nothing did: that is
//! then the whole cycle, with no request to the target). Changes are applied to the cached
//! snapshot ([`crate::sync::apply_delta`], reading from Graph only what the delta cannot say), the
//! target is read for the touched users only, and the plan covers only them
//! ([`crate::sync::plan_partial`]): a cycle with k changed users costs O(k) requests on both
//! sides. The cache rows and the delta links advance together, in one transaction, only after the
//! cycle succeeded, so no change is lost to a failure: a failed delta read is retried from the
//! same links, and a cycle that failed after that, or a change the cache cannot answer (a paired
//! group deleted, a resync asked by Graph, a restored user), is followed by a full cycle. After a
//! failure the wait grows (doubling) up to 120 s. A blocked plan is never applied (R11). SIGTERM
//! or Ctrl-C stops between actions. Each cycle logs one line with its counts and requests.
//!
//! A user the application refuses does not hold the others back ([`super::failures`]): a cycle
//! whose only failures are such users succeeds (its cursor advances), the users are planned
//! again by the next cycles from their failure records, quarantined after three cycles in a row
//! and then retried with a growing wait. A withheld plan, a quarantined user and cycles failing
//! three times in a row are alerts ([`super::alert`]), each raised once per new event.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::alert::{Alerts, Event};
use super::failures::{self, Counting};
use super::phases::Phases;
use super::{CycleError, Engine, Outcome, Planned, Policy, Trigger, execute};
use crate::entra::{DeltaLinks, DeltaRound, EntraError};
use crate::state::{DeltaStream, StateError, now_ms};
use crate::sync::{
    Incremental, PartialScope, Plan, PlanInput, SourceCache, Summary, apply_delta, plan_partial,
    read_target_partial,
};

const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// What one tick of the loop did.
#[derive(Debug, PartialEq, Eq)]
enum Tick {
    /// Nothing changed in Entra ID since the last round.
    Unchanged,
    /// Changes were applied incrementally.
    Incremental,
    /// A full cycle ran.
    Full,
}

fn load_links(engine: &Engine) -> Option<DeltaLinks> {
    let users = engine.store.delta_link(DeltaStream::Users).ok()??;
    let groups = engine.store.delta_link(DeltaStream::Groups).ok()??;
    Some(DeltaLinks { users, groups })
}

fn save_links(engine: &Engine, links: &DeltaLinks) -> Result<(), StateError> {
    engine
        .store
        .set_delta_link(DeltaStream::Users, Some(links.users.as_str()))?;
    engine
        .store
        .set_delta_link(DeltaStream::Groups, Some(links.groups.as_str()))
}

fn counts(s: &Summary) -> String {
    format!(
        "{} create, {} link, {} update, {} move, {} disable, {} enable, {} skip",
        s.create, s.link, s.update, s.move_, s.disable, s.enable, s.skip
    )
}

/// Why one tick of the service loop did not complete; logged, then the loop backs off.
#[derive(Debug, thiserror::Error)]
enum TickError {
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("starting Entra change tracking failed: {0}")]
    DeltaStart(#[source] Box<EntraError>),
    #[error(
        "reading Entra changes failed: {0}; nothing was written, and the same changes are read \
         again next cycle"
    )]
    DeltaRead(#[source] Box<EntraError>),
    /// Which of R11's guards withheld the plan, why, and what to do.
    #[error("{0}")]
    Blocked(String),
    #[error(
        "some actions failed because the target could not take them; they are retried next \
         cycle"
    )]
    Failed,
    #[error(
        "some actions failed because the target could not take them; the next cycle reconciles \
         fully and retries them"
    )]
    FailedIncremental,
}

/// The service's state between ticks.
struct Service<'a> {
    engine: &'a Engine,
    alerts: Alerts,
    stop: Arc<AtomicBool>,
    /// The source snapshot as of the stored delta links; `None`: load it from the state store.
    cache: Option<SourceCache>,
    /// A cycle failed after reading Entra's changes: the next one reconciles fully.
    full_next: bool,
    /// When the last full cycle began (ms since the epoch): a link made by hand since then
    /// (`adsync link`) is applied by a full cycle at the next tick, not at the next scheduled one.
    last_full_ms: i64,
}

impl Service<'_> {
    /// The service's policy: the guard always on (R11), stopping between actions on a signal.
    fn policy(&self) -> Policy {
        Policy {
            cancel: Some(self.stop.clone()),
            ..Policy::new(Trigger::Service)
        }
    }

    async fn full_cycle(&mut self, why: &str) -> Result<Tick, TickError> {
        let engine = self.engine;
        self.cache = None;
        self.last_full_ms = crate::state::now_ms();
        let graph_before = engine.graph.request_count();
        // Links taken before the read, so changes made during it show up in the next round.
        let links = engine
            .graph
            .delta_from_now()
            .await
            .map_err(|e| TickError::DeltaStart(Box::new(e)))?;
        let read = async {
            let Planned {
                plan,
                source,
                info: target,
                ..
            } = engine.settle_and_plan().await?;
            let mut nested = BTreeMap::new();
            for pair in engine.settings.pairs.iter().filter(|p| p.nested) {
                let ids = engine
                    .graph
                    .nested_group_ids(&pair.entra_group_id)
                    .await
                    .map_err(|e| CycleError::ReadSource(Box::new(e)))?;
                nested.insert(pair.entra_group_id.clone(), ids.into_iter().collect());
            }
            let cache = SourceCache {
                snapshot: source,
                nested,
                target,
            };
            Ok::<_, CycleError>((plan, cache))
        };
        let (mut plan, cache) = match read.await {
            Ok(read) => read,
            Err(error) => {
                let error = CycleError::BeforeWrite(Box::new(error));
                engine.record_failure(Trigger::Service, &error.to_string());
                return Err(error.into());
            }
        };
        let held = failures::held_back(engine)?;
        failures::hold_back(&mut plan, &held);
        let writer = Counting::new(&engine.scim);
        let outcome = execute(engine, &writer, plan, &self.policy(), |_, _| {}).await?;
        let plan = outcome.plan();
        let s = &plan.summary;
        tracing::info!(
            why,
            create = s.create,
            link = s.link,
            update = s.update,
            r#move = s.move_,
            disable = s.disable,
            enable = s.enable,
            skip = s.skip,
            unchanged = s.unchanged,
            graph_requests = engine.graph.request_count() - graph_before,
            scim_writes = writer.writes(),
            dry_run = engine.settings.service.dry_run,
            "full cycle: {}, {} unchanged; {} Graph request(s), {} SCIM write(s)",
            counts(s),
            s.unchanged,
            engine.graph.request_count() - graph_before,
            writer.writes(),
        );
        match outcome {
            Outcome::Blocked { plan, withheld, .. } => {
                self.withheld(&plan, &withheld).await?;
                Err(TickError::Blocked(withheld))
            }
            Outcome::Applied { failed, .. } if failed > 0 && writer.target_failed() => {
                Err(TickError::Failed)
            }
            outcome => {
                self.settle(&outcome, &writer, &|id| !held.contains(id))
                    .await?;
                let mut cache = cache;
                if !cache.target.user_groups && !engine.settings.service.dry_run {
                    cache.target.user_groups =
                        super::probe::lists_user_groups(&engine.scim, outcome.plan()).await;
                }
                engine.store.save_source_cache(&cache, &links)?;
                self.cache = Some(cache);
                self.full_next = false;
                Ok(Tick::Full)
            }
        }
    }

    /// Records a plan a guard withholds, alerting when it is news. `withheld` is the line that
    /// says which guard, why and what to do.
    async fn withheld(&self, plan: &Plan, withheld: &str) -> Result<(), StateError> {
        let Some(blocked) = &plan.blocked else {
            return Ok(());
        };
        let kind = serde_json::to_value(blocked.kind).unwrap_or_default();
        let kind = kind.as_str().unwrap_or_default();
        let summary = serde_json::to_value(&plan.summary).unwrap_or_default();
        let news = self
            .engine
            .store
            .record_withheld_plan(kind, withheld, &summary, now_ms())?;
        if news {
            let details = json!({
                "kind": kind,
                "reason": blocked.reason,
                "summary": summary,
                "blocked": blocked,
            });
            self.alerts
                .raise(Event::PlanWithheld, withheld, details)
                .await;
        }
        Ok(())
    }

    /// After a plan went through (or was only planned, in a dry run): no plan is withheld any
    /// more, and the users' failures are recorded or forgotten ([`failures::settle`]).
    async fn settle(
        &self,
        outcome: &Outcome,
        writer: &Counting<'_>,
        planned: &dyn Fn(&str) -> bool,
    ) -> Result<(), StateError> {
        let engine = self.engine;
        engine.store.clear_withheld_plan()?;
        let Outcome::Applied { plan, .. } = outcome else {
            return Ok(());
        };
        for user in failures::settle(engine, plan, writer, planned)? {
            let text = format!(
                "{} is quarantined: the application refused its writes {} cycles in a row; \
                 adsync retries it at {}. Last error: {}",
                user.user_principal_name, user.failures, user.next_retry, user.last_error
            );
            let details = serde_json::to_value(&user).unwrap_or_default();
            self.alerts.raise(Event::Quarantined, &text, details).await;
        }
        Ok(())
    }

    /// The users whose writes failed, due for another try, that the cache knows.
    fn due_for_retry(&self) -> Result<BTreeSet<String>, StateError> {
        let Some(cache) = &self.cache else {
            return Ok(BTreeSet::new());
        };
        Ok(failures::due_again(self.engine)?
            .into_iter()
            .filter(|id| {
                cache.snapshot.users.contains_key(id) || cache.snapshot.outside.contains_key(id)
            })
            .collect())
    }

    async fn tick(&mut self, full_due: Option<&str>) -> Result<Tick, TickError> {
        let engine = self.engine;
        if let Some(why) = full_due {
            return self.full_cycle(why).await;
        }
        if self.full_next {
            return self.full_cycle("retry after a failed cycle").await;
        }
        if engine.store.has_intents()? {
            return self
                .full_cycle("writes of an earlier cycle to confirm")
                .await;
        }
        // Incremental cycles plan only for users Entra changed; a link made by hand is not one.
        if engine
            .store
            .newest_pending_manual_link()?
            .is_some_and(|at| at >= self.last_full_ms)
        {
            return self.full_cycle("a link made by hand").await;
        }
        let Some(links) = load_links(engine) else {
            return self.full_cycle("no delta links").await;
        };
        if self.cache.is_none() {
            self.cache = engine
                .store
                .load_source_cache()?
                .filter(|c| c.fits(&engine.settings));
            if self.cache.is_none() {
                return self.full_cycle("no cached snapshot for these pairs").await;
            }
        }
        let graph_before = engine.graph.request_count();
        let round = match engine.graph.delta(Some(&links)).await {
            Ok(round) => round,
            Err(e) if e.is_resync_required() => {
                tracing::warn!("Entra asked for a full resync: {e}");
                engine.store.clear_source_cache()?;
                return self.full_cycle("resync").await;
            }
            Err(e) => {
                let error = TickError::DeltaRead(Box::new(e));
                engine.record_failure(Trigger::Service, &error.to_string());
                return Err(error);
            }
        };
        let changed = round.users.changed.len()
            + round.users.removed.len()
            + round.groups.changed.len()
            + round.groups.removed.len();
        let retry = self.due_for_retry()?;
        if changed == 0 && retry.is_empty() {
            save_links(engine, &round.links())?;
            tracing::info!(
                graph_requests = engine.graph.request_count() - graph_before,
                "incremental cycle: no changes in Entra ID; {} Graph request(s), 0 SCIM requests",
                engine.graph.request_count() - graph_before
            );
            return Ok(Tick::Unchanged);
        }
        let result = self.incremental(&round, graph_before, retry).await;
        if result.is_err() {
            // Possibly half-updated: the state store keeps the last good snapshot.
            self.cache = None;
        }
        result
    }

    /// An incremental cycle for the users `round` touched and the failing users due for a retry
    /// (`retry`); quarantined users not yet due are left out of the plan (but a disable of
    /// theirs goes through).
    async fn incremental(
        &mut self,
        round: &DeltaRound,
        graph_before: u64,
        retry: BTreeSet<String>,
    ) -> Result<Tick, TickError> {
        let engine = self.engine;
        let settings = &engine.settings;
        let phase = Phases::start();
        let links = engine.store.links()?;
        phase.done("links loaded");
        let policy = self.policy();
        let cache = self.cache.as_mut().expect("loaded by tick");
        let touched = match apply_delta(&engine.graph, cache, round, &links).await {
            Ok(Incremental::Touched(touched)) => touched,
            Ok(Incremental::NeedsFull(why)) => {
                tracing::info!("incremental cycle: {why}; reconciling fully");
                return self.full_cycle("changes the cache cannot answer").await;
            }
            Err(e) => {
                let error = CycleError::BeforeWrite(Box::new(CycleError::ReadSource(Box::new(e))));
                engine.record_failure(Trigger::Service, &error.to_string());
                return Err(error.into());
            }
        };
        phase.done("Entra changes applied to the cache");
        let held = failures::held_back(engine)?;
        let planned: BTreeSet<String> = touched.iter().cloned().chain(retry).collect();
        let stop_before_writes = |full_next: &mut bool, error: CycleError| {
            let error = CycleError::BeforeWrite(Box::new(error));
            engine.record_failure(Trigger::Service, &error.to_string());
            *full_next = true;
            TickError::from(error)
        };
        let (target, scim_reads) = match read_target_partial(
            &engine.scim,
            settings,
            &cache.target,
            &links,
            &cache.snapshot,
            &planned,
        )
        .await
        {
            Ok(read) => read,
            Err(e) => {
                return Err(stop_before_writes(
                    &mut self.full_next,
                    CycleError::ReadTarget(e),
                ));
            }
        };
        phase.done("target users read");
        let scope = PartialScope {
            active_managed_outside: links
                .values()
                .filter(|l| !planned.contains(&l.entra_id) && !l.disabled_by_adsync)
                .count(),
            users: planned,
        };
        let input = PlanInput {
            settings,
            source: &cache.snapshot,
            target: &target,
            links: &links,
        };
        let mut plan = match plan_partial(input, &scope) {
            Ok(plan) => plan,
            Err(e) => return Err(stop_before_writes(&mut self.full_next, e.into())),
        };
        failures::hold_back(&mut plan, &held);
        phase.done("planned");
        let writer = Counting::new(&engine.scim);
        // An empty plan is recorded nowhere: nothing happened worth a line in the history.
        let outcome = if plan.is_empty() {
            Outcome::DryRun { plan }
        } else {
            execute(engine, &writer, plan, &policy, |_, _| {}).await?
        };
        phase.done("applied");
        let plan = outcome.plan();
        let s = &plan.summary;
        let graph_requests = engine.graph.request_count() - graph_before;
        tracing::info!(
            users = scope.users.len(),
            create = s.create,
            link = s.link,
            update = s.update,
            r#move = s.move_,
            disable = s.disable,
            enable = s.enable,
            skip = s.skip,
            graph_requests,
            scim_reads,
            scim_writes = writer.writes(),
            dry_run = settings.service.dry_run,
            "incremental cycle: {} user(s) changed: {}; {graph_requests} Graph request(s), \
             {scim_reads} SCIM read(s), {} SCIM write(s)",
            scope.users.len(),
            counts(s),
            writer.writes(),
        );
        match outcome {
            Outcome::Blocked { plan, withheld, .. } => {
                self.withheld(&plan, &withheld).await?;
                Err(TickError::Blocked(withheld))
            }
            Outcome::Applied { failed, .. } if failed > 0 && writer.target_failed() => {
                self.full_next = true;
                Err(TickError::FailedIncremental)
            }
            outcome => {
                let planned = |id: &str| scope.users.contains(id) && !held.contains(id);
                self.settle(&outcome, &writer, &planned).await?;
                // The cache rows of every user the delta touched, those held back included:
                // they are planned from it when their retry is due.
                let cache = self.cache.as_ref().expect("loaded by tick");
                engine
                    .store
                    .update_source_cache(cache, &touched, &round.links())?;
                phase.done("cache stored");
                Ok(Tick::Incremental)
            }
        }
    }
}

/// Hands the memory a cycle freed back to the system. glibc keeps freed heap for reuse, so
/// without this the service would hold the start-up full cycle's plan (a hundred MiB and more
/// at 100,000 users) for its whole life, while it only needs the cached snapshot between cycles.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Cycles failing in a row before the alert: one failure is often a blip, three are not.
const FAILING_CYCLES_ALERT: u32 = 3;

/// The service loop: a full cycle at start and every `full_sync_every`, incremental cycles every
/// `interval` in between, a doubling wait after failures (up to 120 s), until `stop` is set.
/// `config` is the config file, named in alerts.
pub async fn service_loop(engine: &Engine, config: &Path, stop: Arc<AtomicBool>) {
    let interval = engine.settings.service.interval;
    let full_every = engine.settings.service.full_sync_every;
    tracing::info!(
        interval_secs = interval.as_secs(),
        full_sync_hours = full_every.as_secs() / 3600,
        dry_run = engine.settings.service.dry_run,
        "adsync service started"
    );
    let alerts = {
        let (settings, config) = (engine.settings.service.clone(), config.to_owned());
        tokio::task::spawn_blocking(move || Alerts::from_settings(&settings, &config))
            .await
            .expect("reading the alert webhook's reference does not panic")
    };
    let mut service = Service {
        engine,
        alerts,
        stop: stop.clone(),
        cache: None,
        full_next: false,
        last_full_ms: 0,
    };
    let mut last_full: Option<Instant> = None;
    let mut backoff = interval;
    let mut failing = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let full_due = match last_full {
            None => Some("start"),
            Some(t) if t.elapsed() >= full_every => Some("schedule"),
            Some(_) => None,
        };
        let result = service.tick(full_due).await;
        release_freed_memory();
        let wait = match result {
            Ok(tick) => {
                if tick == Tick::Full {
                    last_full = Some(Instant::now());
                }
                backoff = interval;
                failing = 0;
                interval
            }
            Err(error) => {
                tracing::error!("cycle failed: {error}; retrying in {} s", backoff.as_secs());
                // A withheld plan has its own alert; the others count towards this one, raised
                // once until a cycle succeeds.
                if !matches!(error, TickError::Blocked(_)) {
                    failing += 1;
                    if failing == FAILING_CYCLES_ALERT {
                        let text = format!("{failing} cycles in a row failed; the last: {error}");
                        let details = json!({"cycles": failing, "error": error.to_string()});
                        service
                            .alerts
                            .raise(Event::CyclesFailing, &text, details)
                            .await;
                    }
                }
                let wait = backoff;
                backoff = (backoff * 2)
                    .min(MAX_BACKOFF)
                    .max(interval.min(MAX_BACKOFF));
                wait
            }
        };
        let deadline = tokio::time::Instant::now() + wait;
        while !stop.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200).min(wait)).await;
        }
    }
}
