//! `adsync plan`, `sync`, `history` and `explain`: one sync cycle read, planned and (for `sync`)
//! applied, and what the state store remembers.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::Exit;
use super::common::{emit, load_settings, runtime};
use crate::config::Settings;
use crate::entra::GraphClient;
use crate::scim::ScimClient;
use crate::state::StateStore;
use crate::sync::{
    ActionKind, ApplyOptions, Plan, PlanInput, SourceSnapshot, TargetInfo, TargetSnapshot,
    TargetWriter, apply, plan, read_source, read_target_with_info,
};

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

/// Everything one cycle needs, built from the config.
pub struct Engine {
    pub settings: Settings,
    pub graph: GraphClient,
    pub scim: ScimClient,
    pub store: StateStore,
}

impl Engine {
    /// Loads the config (exit 2 on problems or no pairs), makes both clients and opens the state.
    pub fn open(config_path: &Path) -> Result<Self, Exit> {
        let settings = load_settings(config_path)?;
        if let Err(e) = settings.require_pairs() {
            eprintln!("error: {e}");
            return Err(Exit::Usage);
        }
        let failure = |e: &dyn std::fmt::Display| {
            eprintln!("error: {e}");
            Exit::Failure
        };
        let graph = GraphClient::new(&settings.entra)
            .map_err(|e| failure(&e))?
            .with_mappings(&settings.mappings);
        let scim = ScimClient::from_settings(&settings.target).map_err(|e| failure(&e))?;
        let store = StateStore::open(&settings.service.state_path).map_err(|e| failure(&e))?;
        Ok(Self {
            settings,
            graph,
            scim,
            store,
        })
    }

    /// Reads both sides and plans. Any failed or incomplete read stops here, before any write
    /// (R10), with the reason as the error.
    pub async fn read_and_plan(&self) -> Result<(Plan, SourceSnapshot, TargetSnapshot), String> {
        let (plan, source, target, _) = self.read_and_plan_with_info().await?;
        Ok((plan, source, target))
    }

    /// [`Engine::read_and_plan`], and what the service keeps of the target for incremental cycles.
    pub async fn read_and_plan_with_info(
        &self,
    ) -> Result<(Plan, SourceSnapshot, TargetSnapshot, TargetInfo), String> {
        let links = self.store.links().map_err(|e| e.to_string())?;
        let (source, target) = tokio::join!(
            read_source(&self.graph, &self.settings, &links),
            read_target_with_info(&self.scim, &self.settings)
        );
        let source = source.map_err(|e| format!("reading Entra ID failed: {e}"))?;
        let (target, info) = target.map_err(|e| format!("reading the target failed: {e}"))?;
        let plan = plan(PlanInput {
            settings: &self.settings,
            source: &source,
            target: &target,
            links: &links,
        })
        .map_err(|e| e.to_string())?;
        Ok((plan, source, target, info))
    }

    /// Records in the history a cycle that stopped before its first write.
    pub fn record_failure(&self, trigger: &str, message: &str) {
        if let Ok(run) = self.store.begin_run(trigger, self.settings.service.dry_run) {
            let _ = self.store.finish_run(run, "failed", None, Some(message));
        }
    }
}

fn render(plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => plan.to_text(),
        PlanFormat::Json => plan.to_json() + "\n",
        PlanFormat::Csv => plan.to_csv(),
    }
}

/// `adsync plan`: read, plan, print; changes nothing in the target or the links.
pub fn plan_cmd(
    config_path: &Path,
    format: PlanFormat,
    output: Option<&PathBuf>,
) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(exit) => return Ok(exit),
    };
    let plan = match runtime()?.block_on(engine.read_and_plan()) {
        Ok((plan, ..)) => plan,
        Err(error) => {
            eprintln!("error: {error}; nothing was changed");
            return Ok(Exit::Failure);
        }
    };
    let text = render(&plan, format);
    match output {
        Some(path) => {
            std::fs::write(path, &text)
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
    format: ReportFormat,
) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(exit) => return Ok(exit),
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(run_cycle(&engine, allow_mass_disable, "sync", true, None));
    let (plan, exit) = match outcome {
        Ok(result) => result,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(Exit::Failure);
        }
    };
    match format {
        // Broken pipes are ignored, as `emit` does.
        ReportFormat::Json => {
            let _ = plan.write_json(std::io::stdout().lock());
        }
        ReportFormat::Text => emit(&plan.to_text()),
    }
    Ok(exit)
}

/// One cycle: read, plan, and apply unless blocked or in dry-run mode. Records the run in the
/// history either way. Returns the plan (with results when applied) and the exit code; `Err` for
/// a cycle that stopped before its first write.
pub async fn run_cycle(
    engine: &Engine,
    allow_mass_disable: bool,
    trigger: &str,
    show_progress: bool,
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<(Plan, Exit), String> {
    let (plan, ..) = match engine.read_and_plan().await {
        Ok(result) => result,
        Err(error) => {
            let message = format!("{error}; the cycle stopped before its first write");
            engine.record_failure(trigger, &message);
            return Err(message);
        }
    };
    execute_plan(
        engine,
        &engine.scim,
        plan,
        allow_mass_disable,
        trigger,
        show_progress,
        cancel,
    )
    .await
}

/// The second half of a cycle: withholds a blocked plan (R11) unless allowed, records a dry run,
/// or applies the plan through `writer`. Returns the plan (with results when applied) and the
/// exit code.
pub async fn execute_plan<W: TargetWriter>(
    engine: &Engine,
    writer: &W,
    plan: Plan,
    allow_mass_disable: bool,
    trigger: &str,
    show_progress: bool,
    cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> Result<(Plan, Exit), String> {
    let dry_run = engine.settings.service.dry_run;
    if let Some(blocked) = &plan.blocked
        && !allow_mass_disable
    {
        let run = engine
            .store
            .begin_run(trigger, true)
            .map_err(|e| e.to_string())?;
        let _ = engine
            .store
            .finish_run(run, "blocked", Some(&plan.summary), Some(&blocked.reason));
        return Ok((plan, Exit::Blocked));
    }
    if dry_run {
        let run = engine
            .store
            .begin_run(trigger, true)
            .map_err(|e| e.to_string())?;
        let _ = engine
            .store
            .finish_run(run, "dry-run", Some(&plan.summary), None);
        return Ok((plan, Exit::Ok));
    }
    let default_password = match &engine.settings.policy.default_password {
        Some(reference) => Some(reference.resolve().map_err(|e| {
            format!("policy.default_password: {e}; the cycle stopped before its first write")
        })?),
        None => None,
    };
    let options = ApplyOptions {
        concurrency: 8,
        group_mode: engine.settings.policy.group_mode,
        default_password,
        trigger: trigger.to_owned(),
        cancel: cancel.clone(),
    };
    let total = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::Skip)
        .count();
    let progress = show_progress && std::io::stderr().is_terminal() && total > 0;
    let report = move |done: usize| {
        if progress {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r[{}{}] {done}/{total} actions",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        }
    };
    let applied = apply(plan, writer, &engine.store, &options, report)
        .await
        .map_err(|e| e.to_string())?;
    let exit = if applied.failed > 0 {
        Exit::Failure
    } else {
        Exit::Ok
    };
    Ok((applied.plan, exit))
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
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Failure);
        }
    };
    let runs = store.history(limit)?;
    match format {
        ReportFormat::Json => emit(&(serde_json::to_string_pretty(&runs)? + "\n")),
        ReportFormat::Text => {
            let mut out = String::new();
            for run in &runs {
                out.push_str(&format!(
                    "#{} {} {} {}{}\n",
                    run.id,
                    run.started_at,
                    run.trigger,
                    run.outcome,
                    run.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ));
                for a in &run.actions {
                    out.push_str(&format!(
                        "    {:<8} {:<40} {}{}\n",
                        a.kind,
                        a.user_principal_name,
                        a.status,
                        a.error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    ));
                }
            }
            if runs.is_empty() {
                out.push_str("no runs yet\n");
            }
            emit(&out);
        }
    }
    Ok(Exit::Ok)
}

/// `adsync explain USER`: in scope or not and why, its pair, and what the next sync would do.
pub fn explain_cmd(config_path: &Path, who: &str) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(exit) => return Ok(exit),
    };
    let runtime = runtime()?;
    let (plan, source, _target) = match runtime.block_on(engine.read_and_plan()) {
        Ok(result) => result,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(Exit::Failure);
        }
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
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(Exit::Failure);
            }
        },
    };
    let links = engine.store.links()?;
    let mut out = format!(
        "{} ({})\n  object id: {}\n  enabled: {}, type: {}\n",
        user.user_principal_name,
        user.display_name.as_deref().unwrap_or("-"),
        user.id,
        if user.account_enabled { "yes" } else { "no" },
        user.user_type.as_deref().unwrap_or("Member"),
    );
    let pairs: Vec<_> = engine
        .settings
        .pairs
        .iter()
        .filter(|p| {
            source
                .groups
                .get(&p.entra_group_id)
                .is_some_and(|g| g.members.contains(&user.id))
        })
        .collect();
    if pairs.is_empty() {
        out.push_str("  not in scope: a member of no paired Entra group\n");
    } else {
        for p in &pairs {
            let name = source.groups[&p.entra_group_id].display_name.clone();
            out.push_str(&format!(
                "  member of paired group {name} (order {}, {}) -> target group {}\n",
                p.order,
                if p.nested { "nested" } else { "direct" },
                p.target_group_name.as_deref().unwrap_or(&p.target_group_id)
            ));
        }
        if !user.account_enabled {
            out.push_str("  not in scope: the account is disabled in Entra ID\n");
        } else if user.is_guest() && !engine.settings.policy.include_guests {
            out.push_str("  not in scope: a guest, and policy.include_guests = false\n");
        } else if let Some(rule) = engine
            .settings
            .scope
            .iter()
            .find(|r| !crate::sync::matches_scope(&user, std::slice::from_ref(*r)))
        {
            out.push_str(&format!(
                "  not in scope: fails the scope rule {} {} \"{}\"\n",
                rule.attribute, rule.operator, rule.value
            ));
        } else {
            out.push_str("  in scope\n");
        }
    }
    // SPEC §3.1: each mapped value and where it came from.
    let mappings = crate::sync::MappingSet::new(&engine.settings.mappings);
    let manager = |id: &str| links.get(id).map(|l| l.target_id.clone());
    out.push_str("  mapped values:\n");
    for (field, value, origin, create_only) in
        mappings.explain(&user, engine.settings.policy.username, &manager)
    {
        out.push_str(&format!(
            "    {field} = {} ({origin}{})\n",
            value.as_deref().unwrap_or("(none)"),
            if create_only { ", on create only" } else { "" }
        ));
    }
    let mut roles: Vec<&str> = pairs
        .iter()
        .take(match engine.settings.policy.group_mode {
            crate::config::GroupMode::Single => 1,
            crate::config::GroupMode::All => pairs.len(),
        })
        .flat_map(|p| p.roles.iter().map(String::as_str))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    if !roles.is_empty() {
        out.push_str(&format!("    roles = {} (its pair)\n", roles.join(", ")));
    }
    match links.get(&user.id) {
        Some(link) => out.push_str(&format!(
            "  managed: linked to target user {}{}\n",
            link.target_id,
            if link.disabled_by_adsync {
                " (disabled by adsync)"
            } else {
                ""
            }
        )),
        None => out.push_str("  not managed by adsync yet\n"),
    }
    match plan.actions.iter().find(|a| a.entra_id == user.id) {
        Some(a) => {
            out.push_str(&format!(
                "  next sync: {} ({})\n",
                a.kind.as_str(),
                a.reason
            ));
            for c in &a.changes {
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    c.field,
                    c.from.as_deref().unwrap_or("(none)"),
                    c.to.as_deref().unwrap_or("(none)")
                ));
            }
        }
        None => out.push_str("  next sync: nothing to do\n"),
    }
    emit(&out);
    Ok(Exit::Ok)
}
