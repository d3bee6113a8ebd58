//! The reading half of a cycle: the [`Engine`] (settings, both clients, the state store) and
//! [`read_and_plan`], which reads both sides and plans without writing anything. Both refuse a
//! store that lost its links while the application holds users with Entra ids (R13,
//! [`crate::sync::check_store`]); [`Engine::read_and_plan_rebuild`] plans their adoption instead
//! (`--rebuild-state`).

use std::path::Path;

use super::{CycleError, Trigger};
use crate::config::{self, Settings};
use crate::entra::GraphClient;
use crate::scim::ScimClient;
use crate::state::StateStore;
use crate::sync::{
    Links, Plan, PlanInput, RunOutcome, SourceSnapshot, TargetInfo, TargetSnapshot, adoptable,
    candidates, check_store, confirm_vanished, plan, plan_rebuild, read_source,
    read_target_with_info,
};

/// Everything one cycle needs, built from the config.
pub struct Engine {
    pub settings: Settings,
    pub graph: GraphClient,
    pub scim: ScimClient,
    pub store: StateStore,
}

/// What a read-and-plan produced: the plan and the snapshots it was made from.
pub struct Planned {
    pub plan: Plan,
    pub source: SourceSnapshot,
    pub target: TargetSnapshot,
    /// What the service keeps of the target for incremental cycles.
    pub info: TargetInfo,
}

impl Engine {
    /// Loads the config file and opens the engine for it; a config without pairs is refused
    /// (`plan`, `sync`, `run` and `explain` need at least one).
    pub fn open(config_path: &Path) -> Result<Self, CycleError> {
        let settings = Settings::from_file(&config::load(config_path)?);
        settings.require_pairs()?;
        Self::from_settings(settings)
    }

    /// Makes both clients and opens the state store for settings already resolved (the wizard's
    /// saved config). Blocking: it may read certificate files and opens SQLite.
    pub fn from_settings(settings: Settings) -> Result<Self, CycleError> {
        // Graph is asked for the attributes the mappings read (SPEC §3.1).
        let graph = GraphClient::new(&settings.entra)?.with_mappings(&settings.mappings);
        let scim = ScimClient::from_settings(&settings.target)?;
        let store = StateStore::open(&settings.service.state_path)?;
        Ok(Self {
            settings,
            graph,
            scim,
            store,
        })
    }

    /// Reads both sides and plans against the stored links, as settling the intents an earlier
    /// run left would make them ([`Engine::links_as_settled`]). Any failed or incomplete read stops
    /// here, before any write (R10), with the reason as the error.
    pub async fn read_and_plan(&self) -> Result<Planned, CycleError> {
        let links = self.links_as_settled().await?;
        let applied_before = self.store.has_applied_runs()?;
        read_and_plan(
            &self.graph,
            &self.scim,
            &self.settings,
            &links,
            applied_before,
        )
        .await
    }

    /// The plan of `--rebuild-state` (R13): the target read first, its users carrying Entra ids
    /// as externalId taken for links (and looked up in Entra ID when outside the paired groups,
    /// to learn whether they left), then planned as managed: each adopted user linked, the
    /// out-of-scope ones disabled (R6, under R11's guard). Writes nothing.
    pub async fn read_and_plan_rebuild(&self) -> Result<Planned, CycleError> {
        let settings = &self.settings;
        let links = self.store.links()?;
        let (target, info) = read_target_with_info(&self.scim, settings)
            .await
            .map_err(CycleError::ReadTarget)?;
        let found = candidates(settings, &target, &links);
        let mut with_found = links.clone();
        with_found.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
        let source = read_source(&self.graph, settings, &with_found)
            .await
            .map_err(|e| CycleError::ReadSource(Box::new(e)))?;
        // As in every cycle, a stored link is dropped only for a user the application
        // confirms gone (R13); the adopted ones were read from the listing.
        confirm_vanished(&self.scim, &target, &links)
            .await
            .map_err(CycleError::ReadTarget)?;
        let (adopted, unknown) = adoptable(found, &source);
        let input = PlanInput {
            settings,
            source: &source,
            target: &target,
            links: &links,
        };
        let plan = plan_rebuild(input, &adopted, &unknown)?;
        Ok(Planned {
            plan,
            source,
            target,
            info,
        })
    }

    /// Records in the history a cycle that stopped before its first write. Best effort: the
    /// error being reported matters more than a failure to record it.
    pub fn record_failure(&self, trigger: Trigger, message: &str) {
        if let Ok(run) = self
            .store
            .begin_run(trigger.as_str(), self.settings.service.dry_run)
        {
            let _ = self
                .store
                .finish_run(run, RunOutcome::Failed, None, Some(message));
        }
    }
}

/// Reads both sides with the given clients and plans against `links`; writes nothing. The
/// engine's read, and the wizard's preview (whose clients hold secrets not yet stored).
/// `applied_before`: the store has recorded an applying run (see [`check_store`]).
pub async fn read_and_plan(
    graph: &GraphClient,
    scim: &ScimClient,
    settings: &Settings,
    links: &Links,
    applied_before: bool,
) -> Result<Planned, CycleError> {
    let (source, target) = tokio::join!(
        read_source(graph, settings, links),
        read_target_with_info(scim, settings)
    );
    let source = source.map_err(|e| CycleError::ReadSource(Box::new(e)))?;
    let (target, info) = target.map_err(CycleError::ReadTarget)?;
    // A lost store is not a first sync (R13): every cycle, the service's too, and the wizard's
    // preview stop here.
    check_store(
        links,
        applied_before,
        &source,
        &target,
        &settings.service.state_path,
    )?;
    // A link is dropped only for a user the application confirms gone (R13).
    confirm_vanished(scim, &target, links)
        .await
        .map_err(CycleError::ReadTarget)?;
    let plan = plan(PlanInput {
        settings,
        source: &source,
        target: &target,
        links,
    })?;
    Ok(Planned {
        plan,
        source,
        target,
        info,
    })
}
