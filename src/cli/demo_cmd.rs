//! `adsync demo`: the whole product on this machine, with nothing to set up. Starts the simulated
//! tenant and application, writes a config for them, checks it, plans, synchronizes and plans
//! again, then keeps the simulators running so the other commands can be tried on the config.

use std::path::PathBuf;

use super::Exit;
use super::common::{emit, fail, runtime};
use super::sync_cmd::BLOCKED_ADVICE;
use crate::cycle::{Engine, Planned, Policy, Trigger, run_cycle};
use crate::render;
use crate::sim::demo::Demo;

pub fn demo(dir: Option<PathBuf>, wait: bool, register: bool) -> anyhow::Result<Exit> {
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("adsync-demo-{}", std::process::id()))
    });
    let runtime = runtime()?;
    runtime.block_on(async move {
        let mut demo = match Demo::start(&dir).await {
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
        if register {
            match register_app(&demo).await {
                Ok(config) => demo.config = config,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(Exit::Failure);
                }
            }
        }
        let settings = crate::config::Settings::from_file(&demo.config);
        let (entra, target) = tokio::join!(
            crate::entra::check(&settings.entra),
            crate::scim::check(&settings.target)
        );
        for line in entra.iter().chain(&target) {
            emit(&render::check_line(line));
        }
        let engine = match Engine::open(&demo.config_path) {
            Ok(engine) => engine,
            Err(error) => return Ok(fail(&error)),
        };
        let plan = match engine.read_and_plan().await {
            Ok(Planned { plan, .. }) => plan,
            Err(error) => return Ok(fail(&error)),
        };
        emit(&format!("\n--- adsync plan ---\n{}", render::plan_text(&plan, Some(BLOCKED_ADVICE))));
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
            Ok(Planned { plan: again, .. }) => emit(&format!("\n--- adsync plan (again) ---\n{}", render::plan_text(&again, Some(BLOCKED_ADVICE)))),
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

/// `adsync demo --register`: makes the app registration on the simulated tenant the way
/// `adsync entra register --device-code` does, and points the demo config at it.
async fn register_app(demo: &Demo) -> anyhow::Result<crate::config::ConfigFile> {
    use crate::entra::register::{self, RegisterOptions, SignInFlow};
    let url: url::Url = demo.entra.url().parse()?;
    let mut options = RegisterOptions::new(
        &demo.config.entra.tenant,
        demo.config.entra.cloud,
        demo.dir.join("entra-adsync.pem"),
    );
    options.authority_url = url.clone();
    options.graph_url = url;
    options.flow = SignInFlow::DeviceCode;
    emit("--- adsync entra register ---\n");
    let progress = |line: &str| emit(&format!("{line}\n"));
    let done = register::register(&options, &progress).await?;
    register::write_entra(
        &demo.config_path,
        &options.tenant,
        &done.app.client_id,
        &done.certificate,
        options.cloud,
    )?;
    emit(&format!(
        "The demo config now signs in as {} with the certificate {}.\n\n",
        done.app,
        done.certificate.display()
    ));
    Ok(crate::config::load(&demo.config_path)?)
}
