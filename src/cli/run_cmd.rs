//! `adsync run`: the background service loop in the foreground (what systemd, launchd or the
//! Windows service manager start).
//!
//! A full cycle runs at start and every `full_sync_hours`. In between, every `interval_secs`, one
//! Graph delta request per stream (users, groups) asks what changed since the last round: when
//! nothing did, that is the whole cycle (two Graph requests, none to the target); when anything
//! did, a full cycle follows. Delta links are kept in the state store and advance only after a
//! cycle succeeded, so no change is lost to a failure. After a failure the wait grows (doubling)
//! up to 120 s. A blocked plan is never applied (R11). SIGTERM or Ctrl-C stops between actions.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::Exit;
use super::common::runtime;
use super::sync_cmd::{Engine, run_cycle};
use crate::entra::DeltaLinks;

const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// What one tick of the loop did.
enum Tick {
    /// Nothing changed in Entra ID since the last round.
    Unchanged,
    /// A full cycle ran.
    Full,
}

pub fn run(config_path: &Path) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(exit) => return Ok(exit),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = runtime()?;
    runtime.block_on(async {
        let watcher = tokio::spawn(stop_on_signal(stop.clone()));
        service_loop(&engine, stop.clone()).await;
        watcher.abort();
    });
    tracing::info!("adsync service stopped");
    Ok(Exit::Ok)
}

async fn stop_on_signal(stop: Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stop requested; finishing the actions under way");
    stop.store(true, Ordering::SeqCst);
}

fn load_links(engine: &Engine) -> Option<DeltaLinks> {
    let users = engine.store.delta_link("users").ok()??;
    let groups = engine.store.delta_link("groups").ok()??;
    Some(DeltaLinks { users, groups })
}

fn save_links(engine: &Engine, links: Option<&DeltaLinks>) -> Result<(), String> {
    let result = engine
        .store
        .set_delta_link("users", links.map(|l| l.users.as_str()))
        .and_then(|_| {
            engine
                .store
                .set_delta_link("groups", links.map(|l| l.groups.as_str()))
        });
    result.map_err(|e| e.to_string())
}

async fn full_cycle(
    engine: &Engine,
    stop: &Arc<AtomicBool>,
    why: &'static str,
) -> Result<Tick, String> {
    // Links taken before the read, so changes made during it show up in the next round.
    let links = engine
        .graph
        .delta_from_now()
        .await
        .map_err(|e| format!("starting Entra change tracking failed: {e}"))?;
    let (plan, exit) = run_cycle(engine, false, "service", false, Some(stop.clone())).await?;
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
        dry_run = engine.settings.service.dry_run,
        "full cycle: {} create, {} link, {} update, {} move, {} disable, {} enable, {} skip, {} unchanged",
        s.create,
        s.link,
        s.update,
        s.move_,
        s.disable,
        s.enable,
        s.skip,
        s.unchanged
    );
    match exit {
        Exit::Ok => {
            save_links(engine, Some(&links))?;
            Ok(Tick::Full)
        }
        Exit::Blocked => Err(format!(
            "the plan is withheld by the mass-disable guard: {}; nothing was written. Check the \
             groups and scope, then run `adsync sync --allow-mass-disable` if it is intended",
            plan.blocked.map(|b| b.reason).unwrap_or_default()
        )),
        _ => Err("some actions failed or were not run; they are retried next cycle".into()),
    }
}

async fn tick(engine: &Engine, stop: &Arc<AtomicBool>, full_due: bool) -> Result<Tick, String> {
    if full_due {
        return full_cycle(engine, stop, "schedule").await;
    }
    let Some(links) = load_links(engine) else {
        return full_cycle(engine, stop, "start").await;
    };
    match engine.graph.delta(Some(&links)).await {
        Ok(round) => {
            let changed = round.users.changed.len()
                + round.users.removed.len()
                + round.groups.changed.len()
                + round.groups.removed.len();
            if changed == 0 {
                save_links(engine, Some(&round.links()))?;
                tracing::info!("incremental cycle: no changes in Entra ID");
                return Ok(Tick::Unchanged);
            }
            tracing::info!(changed, "incremental cycle: Entra ID changed; reconciling");
            full_cycle(engine, stop, "changes").await
        }
        Err(e) if e.is_resync_required() => {
            tracing::warn!("Entra asked for a full resync: {e}");
            save_links(engine, None)?;
            full_cycle(engine, stop, "resync").await
        }
        Err(e) => Err(format!("reading Entra changes failed: {e}")),
    }
}

async fn service_loop(engine: &Engine, stop: Arc<AtomicBool>) {
    let interval = engine.settings.service.interval;
    let full_every = engine.settings.service.full_sync_every;
    tracing::info!(
        interval_secs = interval.as_secs(),
        full_sync_hours = full_every.as_secs() / 3600,
        dry_run = engine.settings.service.dry_run,
        "adsync service started"
    );
    let mut last_full: Option<Instant> = None;
    let mut backoff = interval;
    while !stop.load(Ordering::SeqCst) {
        let full_due = last_full.is_none_or(|t| t.elapsed() >= full_every);
        let wait = match tick(engine, &stop, full_due).await {
            Ok(Tick::Full) => {
                last_full = Some(Instant::now());
                backoff = interval;
                interval
            }
            Ok(Tick::Unchanged) => {
                backoff = interval;
                interval
            }
            Err(error) => {
                tracing::error!("cycle failed: {error}; retrying in {} s", backoff.as_secs());
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
