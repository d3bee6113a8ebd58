//! The sync engine. Snapshots of the source (Entra ID) and the target (the SCIM application) are
//! the only I/O before planning; [`plan()`] is a pure function from snapshots, state and settings
//! to a [`Plan`] value implementing the rules R1–R11 of SPEC §2. A dry run is printing the plan.
//! The service's incremental cycles fold Graph delta rounds into a cached source snapshot
//! ([`apply_delta`]), read the target for the touched users only ([`read_target_partial`]) and
//! plan for them alone ([`plan_partial`]). A store that lost its links is not planned as a first
//! sync ([`check_store`], R13); `--rebuild-state` adopts the users back ([`plan_rebuild`]).

mod absent;
mod apply;
mod delta;
mod guard;
mod journal;
mod mapping;
mod model;
mod order;
mod plan;
mod planner;
mod rebuild;
mod scope;
mod snapshot;
mod target;
mod target_index;

pub use apply::{
    Applied, ApplyOptions, Assessed, Blame, NewAccount, SettleError, Settled, TargetLookup,
    TargetWriter, WriteError, apply, apply_or_return, assess_intents, settle_intents,
};
pub use delta::{Incremental, NeedsFull, Pending, SourceCache, TargetInfo, apply_delta};
pub use guard::{unlink_guard, wipe_guard};
pub use journal::{GroupIntent, Intent, IntentKind, Journal, RunOutcome, UnknownOutcome};
pub use mapping::{
    CreateRecord, DesiredUser, DesiredView, MappingSet, Origin, Shape, desired_user, values_hash,
};
pub use model::*;
pub use plan::*;
pub use planner::{PartialScope, PlanError, PlanInput, mass_disable_guard, plan, plan_partial};
pub use rebuild::{
    LOST_STORE_MIN, LostStore, adoptable, candidates, check_store, entra_ids_held, plan_rebuild,
};
pub use scope::{ScopeVerdict, attribute as scope_value, matches_scope, scope_verdict};
pub use snapshot::read_source;
pub use target::{confirm_vanished, read_target, read_target_partial, read_target_with_info};

#[cfg(test)]
pub(crate) mod tests;
