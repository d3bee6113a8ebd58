//! `adsync demo`: the whole product on this machine, with nothing to set up. Starts the simulated
//! tenant and application, writes a config for them, checks it, plans, synchronizes and plans
//! again, then keeps the simulators running so the other commands can be tried on the config.

use std::path::PathBuf;

use super::Exit;
use super::common::{emit, fail, runtime};
use crate::cycle::{Engine, Planned, Policy, Trigger, run_cycle};
use crate::sim::demo::Demo;

pub fn demo(dir: Option<PathBuf>, wait: bool) -> anyhow::Result<Exit> {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("adsync-demo-{}", std::process::id()))
    });
    let runtime = runtime()?;
    runtime.block_on(async move {
        let demo = match Demo::start(&dir).await {
            Ok(demo) => demo,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Failure);
            }
        };
        let config = demo.config_path.display().to_string();
        emit(&format!(
            "Simulated Entra ID tenant (Tailspin Toys): {}\nSimulated SCIM application (Helpdesk): {}\n\
             Config: {config}\n\n",
            demo.entra.url(),
            demo.scim.url()
        ));
        let settings = crate::config::Settings::from_file(&demo.config);
        let (entra, target) = tokio::join!(
            crate::entra::check(&settings.entra),
            crate::scim::check(&settings.target)
        );
        for line in entra.iter().chain(&target) {
            emit(&format!("{} {}: {}\n", if line.ok { "ok  " } else { "FAIL" }, line.name, line.detail));
        }
        let engine = match Engine::open(&demo.config_path) {
            Ok(engine) => engine,
            Err(error) => return Ok(fail(&error)),
        };
        let plan = match engine.read_and_plan().await {
            Ok(Planned { plan, .. }) => plan,
            Err(error) => return Ok(fail(&error)),
        };
        emit(&format!("\n--- adsync plan ---\n{}", plan.to_text()));
        let exit = match run_cycle(&engine, &Policy::new(Trigger::Sync), |_, _| {}).await {
            Ok(outcome) => {
                let exit = outcome.exit();
                let applied = outcome.into_plan();
                let failed = applied
                    .actions
                    .iter()
                    .filter(|a| a.result.as_ref().is_some_and(|r| r.error.is_some()))
                    .count();
                emit(&format!(
                    "\n--- adsync sync ---\napplied {} action(s), {failed} failed\n",
                    applied.actions.len()
                ));
                exit
            }
            Err(error) => fail(&error),
        };
        match engine.read_and_plan().await {
            Ok(Planned { plan: again, .. }) => emit(&format!("\n--- adsync plan (again) ---\n{}", again.to_text())),
            Err(e) => eprintln!("error: {e}"),
        }
        if wait {
            emit(&format!(
                "\nThe simulators keep running. In another terminal, try:\n  \
                 adsync --config {config} explain sara.umar@tailspintoys.com\n  \
                 adsync --config {config} history\n  \
                 adsync --config {config} target users\n\
                 Press Ctrl-C to stop.\n"
            ));
            let _ = tokio::signal::ctrl_c().await;
        }
        Ok(exit)
    })
}
