//! The writing half of a cycle: [`execute`] applies a plan under the policy (the mass-disable
//! guard, dry run, the default password, concurrency, progress, cancellation) and records the
//! run; [`run_cycle`] is read, plan and execute in one call.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{CycleError, Engine, Exit, Planned};
use crate::sync::{ActionKind, ApplyOptions, Plan, RunOutcome, TargetWriter, apply_or_return};

/// Who started a cycle; stored as the run's trigger in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `adsync sync` (and `adsync demo`).
    Sync,
    /// The background service (`adsync run`).
    Service,
    /// The setup wizard's first sync.
    Wizard,
    /// `adsync sync --rebuild-state`: the cycle adopts the users carrying Entra ids (R13).
    RebuildState,
}

impl Trigger {
    /// The name stored in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Service => "service",
            Self::Wizard => "wizard",
            Self::RebuildState => "rebuild-state",
        }
    }
}

/// How a plan may be applied, beyond what the settings say (dry run, group mode, default
/// password come from the config).
#[derive(Clone, Debug)]
pub struct Policy {
    pub trigger: Trigger,
    /// Apply a plan any of R11's guards withholds: `sync --allow-mass-disable`.
    pub allow_mass_disable: bool,
    /// Set to stop between actions; actions not yet started are reported `not-run`.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Keep the plan's report through a state store failing during apply
    /// ([`CycleError::Unrecorded`]): `sync --format json` prints its document whatever happens.
    pub keep_report: bool,
}

impl Policy {
    /// The policy of a plain cycle started by `trigger`: guard on, not cancellable.
    pub fn new(trigger: Trigger) -> Self {
        Self {
            trigger,
            allow_mass_disable: false,
            cancel: None,
            keep_report: false,
        }
    }
}

/// How an executed plan ended. Every variant was recorded in the history.
#[derive(Debug)]
pub enum Outcome {
    /// Applied; `plan` carries every action's result.
    Applied {
        plan: Plan,
        /// The run's id in the history.
        run_id: i64,
        /// Actions that failed or were not run.
        failed: usize,
    },
    /// Dry run mode: planned and recorded, nothing written.
    DryRun { plan: Plan },
    /// Withheld by one of R11's guards; nothing written. `withheld` is the line for a log:
    /// which guard, why, what to do ([`crate::sync::Blocked::withheld`]).
    Blocked {
        plan: Plan,
        reason: String,
        withheld: String,
    },
}

impl Outcome {
    /// The plan, with results when applied.
    pub fn plan(&self) -> &Plan {
        match self {
            Self::Applied { plan, .. } | Self::DryRun { plan } | Self::Blocked { plan, .. } => plan,
        }
    }

    /// The plan, owned.
    pub fn into_plan(self) -> Plan {
        match self {
            Self::Applied { plan, .. } | Self::DryRun { plan } | Self::Blocked { plan, .. } => plan,
        }
    }

    /// The exit code of SPEC §4: failed actions are 1, a blocked plan 3.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Applied { failed, .. } if *failed > 0 => Exit::Failure,
            Self::Blocked { .. } => Exit::Blocked,
            _ => Exit::Ok,
        }
    }
}

/// One cycle: settle what an earlier run left unconfirmed, read, plan (the adoption plan for
/// [`Trigger::RebuildState`]), and [`execute`] through the engine's SCIM client. A settle, read or
/// plan that
/// fails is recorded as a `failed` run and returned as [`CycleError::BeforeWrite`].
/// `progress(done, total)` is called as actions finish.
pub async fn run_cycle(
    engine: &Engine,
    policy: &Policy,
    progress: impl Fn(usize, usize),
) -> Result<Outcome, CycleError> {
    let read = async {
        engine.settle_intents().await?;
        if policy.trigger == Trigger::RebuildState {
            engine.read_and_plan_rebuild().await
        } else {
            engine.read_and_plan().await
        }
    };
    let planned = match read.await {
        Ok(planned) => planned,
        Err(error) => {
            let error = CycleError::BeforeWrite(Box::new(error));
            engine.record_failure(policy.trigger, &error.to_string());
            return Err(error);
        }
    };
    // Only the plan is needed from here on: the snapshots it was made from (the source one alone
    // is about a third of the peak at 100,000 users) are freed before the writes begin.
    let Planned { plan, .. } = planned;
    let outcome = execute(engine, &engine.scim, plan, policy, progress).await?;
    if let Outcome::Applied { plan, .. } = &outcome
        && let Err(e) = super::failures::forget_recovered(engine, plan)
    {
        // The run is recorded; the service forgets them at their next retry instead.
        tracing::warn!("cannot forget the failures of the users this run wrote: {e}");
    }
    Ok(outcome)
}

/// The second half of a cycle: withholds a plan one of R11's guards blocked unless the policy
/// allows it (`--allow-mass-disable` lets every kind through, as SPEC §4 has one override),
/// records a dry run, or applies the plan through `writer` and records every action.
/// `progress(done, total)` is called with 0 before the first action and after each batch.
pub async fn execute<W: TargetWriter>(
    engine: &Engine,
    writer: &W,
    plan: Plan,
    policy: &Policy,
    progress: impl Fn(usize, usize),
) -> Result<Outcome, CycleError> {
    let settings = &engine.settings;
    let trigger = policy.trigger.as_str();
    if let Some(blocked) = &plan.blocked
        && !policy.allow_mass_disable
    {
        let reason = blocked.reason.clone();
        let withheld = blocked.withheld();
        let run = engine.store.begin_run(trigger, true)?;
        let _ =
            engine
                .store
                .finish_run(run, RunOutcome::Blocked, Some(&plan.summary), Some(&reason));
        return Ok(Outcome::Blocked {
            plan,
            reason,
            withheld,
        });
    }
    if settings.service.dry_run {
        let run = engine.store.begin_run(trigger, true)?;
        let _ = engine
            .store
            .finish_run(run, RunOutcome::DryRun, Some(&plan.summary), None);
        return Ok(Outcome::DryRun { plan });
    }
    // A keyring or file read; kept off the runtime's worker threads.
    let default_password = match settings.policy.default_password.clone() {
        Some(reference) => Some(
            tokio::task::spawn_blocking(move || reference.resolve())
                .await?
                .map_err(CycleError::DefaultPassword)?,
        ),
        None => None,
    };
    let options = ApplyOptions {
        // As many actions under way as the target may ever take; the SCIM client's adaptive
        // limit decides how many requests are actually in flight.
        concurrency: settings.target.max_concurrency,
        group_mode: settings.policy.group_mode,
        default_password,
        trigger: trigger.to_owned(),
        cancel: policy.cancel.clone(),
    };
    let total = plan
        .actions
        .iter()
        .filter(|a| a.kind != ActionKind::Skip)
        .count();
    progress(0, total);
    // The plan comes back with a store failing mid-apply, when the caller must print its
    // report anyway (without the mapped records, which the report does not show).
    let applied = match apply_or_return(plan, writer, &engine.store, &options, |done| {
        progress(done, total)
    })
    .await
    {
        Ok(applied) => applied,
        Err((error, plan)) => {
            return Err(match policy.keep_report {
                true => CycleError::Unrecorded {
                    plan: Box::new(outcomes_unknown(report_only(plan), &error)),
                    source: error,
                },
                false => error.into(),
            });
        }
    };
    Ok(Outcome::Applied {
        plan: applied.plan,
        run_id: applied.run_id,
        failed: applied.failed,
    })
}

/// The plan as reported: everything but the mapped records.
fn report_only(mut plan: Plan) -> Plan {
    for action in &mut plan.actions {
        action.execution.record = crate::sync::Record::None;
    }
    plan
}

/// The report of a run the state store stopped: no action's outcome is known for certain, so
/// each one to be written is reported failed, saying why.
fn outcomes_unknown(mut plan: Plan, error: &crate::state::StateError) -> Plan {
    plan.dry_run = false;
    let why = format!(
        "the state store failed during this run ({error}); whether this action was applied is \
         not recorded: run `adsync plan` to see what is left"
    );
    for action in plan
        .actions
        .iter_mut()
        .filter(|a| a.kind != ActionKind::Skip)
    {
        action.result = Some(crate::sync::ActionResult {
            status: crate::sync::ResultStatus::Failed,
            error: Some(why.clone()),
        });
    }
    plan
}
