//! `adsync plan`, `sync`, `history` and `explain`: one sync cycle read, planned and (for `sync`)
//! applied, and what the state store remembers.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::Exit;
use super::common::{emit, fail, load_settings, runtime};
use crate::cycle::{Engine, Outcome, Planned, Policy, Trigger, run_cycle};
use crate::render;
use crate::state::StateStore;
use crate::sync::Plan;

/// What a user can do about a plan one of R11's guards withholds (the report says first what
/// to check for that guard).
pub(super) const BLOCKED_ADVICE: &str =
    "If the changes are intended, run `adsync sync --allow-mass-disable`.";

/// The output formats of `plan` and `sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Csv,
}

/// The output formats of `history` and `sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

fn render(plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => render::plan_text(plan, Some(BLOCKED_ADVICE)),
        PlanFormat::Json => plan.to_json() + "\n",
        PlanFormat::Csv => render::plan_csv(plan),
    }
}

/// `adsync plan`: read, plan (with `--rebuild-state`, the adoption), print; changes nothing in
/// the target or the links.
pub fn plan_cmd(
    config_path: &Path,
    format: PlanFormat,
    output: Option<&PathBuf>,
    rebuild_state: bool,
) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return Ok(fail(&error)),
    };
    let read = async {
        match rebuild_state {
            true => engine.read_and_plan_rebuild().await,
            false => engine.read_and_plan().await,
        }
    };
    let plan = match runtime()?.block_on(read) {
        Ok(Planned { plan, .. }) => plan,
        Err(error) => {
            eprintln!("error: {error}; nothing was changed");
            return Ok(error.exit());
        }
    };
    let text = render(&plan, format);
    match output {
        Some(path) => {
            // Owner-only: a plan names people and their attributes.
            crate::fsutil::write_atomic(path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: cannot write the plan: {e}", path.display()))?;
            eprintln!("wrote the plan to {}", path.display());
        }
        None => emit(&text),
    }
    Ok(if plan.blocked.is_some() {
        Exit::Blocked
    } else {
        Exit::Ok
    })
}

/// `adsync sync`: one full cycle, plan then apply, with every action's outcome.
pub fn sync_cmd(
    config_path: &Path,
    allow_mass_disable: bool,
    rebuild_state: bool,
    format: ReportFormat,
) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return Ok(fail(&error)),
    };
    // One writer per state store (R13); held until this command ends.
    let (trigger, command) = match rebuild_state {
        true => (Trigger::RebuildState, "adsync sync --rebuild-state"),
        false => (Trigger::Sync, "adsync sync"),
    };
    let _writer = match engine.store.lock_for_writing(command) {
        Ok(lock) => lock,
        Err(error) => return Ok(fail(&error.into())),
    };
    let policy = Policy {
        allow_mass_disable,
        keep_report: format == ReportFormat::Json,
        ..Policy::new(trigger)
    };
    let outcome = runtime()?.block_on(run_cycle(&engine, &policy, progress_bar()));
    let outcome: Outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            // SPEC §4: the JSON document is printed whatever the exit code.
            if let crate::cycle::CycleError::Unrecorded { plan, .. } = &error {
                let _ = plan.write_json(std::io::stdout().lock());
            }
            return Ok(fail(&error));
        }
    };
    let exit = outcome.exit();
    let plan = outcome.into_plan();
    match format {
        // Broken pipes are ignored, as `emit` does.
        ReportFormat::Json => {
            let _ = plan.write_json(std::io::stdout().lock());
        }
        ReportFormat::Text => emit(&render::plan_text(&plan, Some(BLOCKED_ADVICE))),
    }
    Ok(exit)
}

/// A progress bar on stderr while actions are applied, when stderr is a terminal.
fn progress_bar() -> impl Fn(usize, usize) {
    let terminal = std::io::stderr().is_terminal();
    move |done: usize, total: usize| {
        if terminal && total > 0 && done > 0 {
            let width = 30;
            let filled = done * width / total;
            eprint!(
                "\r[{}{}] {done}/{total} actions",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        }
    }
}

/// `adsync history`.
pub fn history_cmd(config_path: &Path, limit: usize, format: ReportFormat) -> anyhow::Result<Exit> {
    let settings = match load_settings(config_path) {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let path = &settings.service.state_path;
    if !path.exists() {
        eprintln!(
            "no runs yet: the state store {} does not exist (it is created by the first plan or sync)",
            path.display()
        );
        return Ok(Exit::Ok);
    }
    let store = match StateStore::open(path) {
        Ok(store) => store,
        Err(error) => return Ok(fail(&error.into())),
    };
    // Runs a dead process left `running` show as `interrupted`.
    let runs = store.history_now(limit)?;
    match format {
        ReportFormat::Json => emit(&(serde_json::to_string_pretty(&runs)? + "\n")),
        ReportFormat::Text => emit(&render::history_table(&runs)),
    }
    Ok(Exit::Ok)
}

/// `adsync explain USER`: in scope or not and why, its pair, and what the next sync would do.
pub fn explain_cmd(config_path: &Path, who: &str) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return Ok(fail(&error)),
    };
    let runtime = runtime()?;
    let Planned { plan, source, .. } = match runtime.block_on(engine.read_and_plan()) {
        Ok(planned) => planned,
        Err(error) => return Ok(fail(&error)),
    };
    let needle = who.to_lowercase();
    let found = source.users.values().find(|u| {
        u.id.to_lowercase() == needle
            || u.user_principal_name.to_lowercase() == needle
            || u.email().to_lowercase() == needle
    });
    let user = match found {
        Some(u) => u.clone(),
        None => match runtime.block_on(engine.graph.get_user(who)) {
            Ok(Some(u)) => u.into(),
            Ok(None) => {
                println!("{who}: no such user in Entra ID (by object id or userPrincipalName)");
                return Ok(Exit::Ok);
            }
            Err(error) => return Ok(fail(&error.into())),
        },
    };
    let links = engine.store.links()?;
    emit(&render::explanation(
        &user,
        &engine.settings,
        &source,
        &links,
        &plan,
    ));
    Ok(Exit::Ok)
}
