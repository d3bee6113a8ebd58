//! `adsync run`: the background service loop ([`crate::cycle::service_loop`]) in the
//! foreground, stopped by SIGTERM or Ctrl-C between actions.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Exit;
use super::common::{fail, runtime};
use crate::cycle::{Engine, service_loop};

pub fn run(config_path: &Path) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return Ok(fail(&error)),
    };
    // One writer per state store (R13): held for the service's whole life.
    let _writer = match engine.store.lock_for_writing("adsync run") {
        Ok(lock) => lock,
        Err(error) => return Ok(fail(&error.into())),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = runtime()?;
    runtime.block_on(async {
        let watcher = tokio::spawn(stop_on_signal(stop.clone()));
        service_loop(&engine, config_path, stop.clone()).await;
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
