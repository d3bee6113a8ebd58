//! The sync engine. Snapshots of the source (Entra ID) and the target (the SCIM application) are
//! the only I/O before planning; [`plan()`] is a pure function from snapshots, state and settings
//! to a [`Plan`] value implementing the rules R1–R11 of SPEC §2. A dry run is printing the plan.
//! The service's incremental cycles fold Graph delta rounds into a cached source snapshot
//! ([`apply_delta`]), read the target for the touched users only ([`read_target_partial`]) and
//! plan for them alone ([`plan_partial`]).

mod apply;
mod delta;
mod guard;
mod journal;
mod mapping;
mod model;
mod order;
mod plan;
mod planner;
mod scope;
mod snapshot;
mod target;
mod target_index;

pub use apply::{Applied, ApplyOptions, Blame, NewAccount, TargetWriter, WriteError, apply};
pub use delta::{Incremental, NeedsFull, Pending, SourceCache, TargetInfo, apply_delta};
pub use journal::{Journal, RunOutcome, UnknownOutcome};
pub use mapping::{
    CreateRecord, DesiredUser, DesiredView, MappingSet, Origin, Shape, desired_user, values_hash,
};
pub use model::*;
pub use plan::*;
pub use planner::{PartialScope, PlanError, PlanInput, mass_disable_guard, plan, plan_partial};
pub use scope::{ScopeVerdict, attribute as scope_value, matches_scope, scope_verdict};
pub use snapshot::read_source;
pub use target::{read_target, read_target_partial, read_target_with_info};

#[cfg(test)]
pub(crate) mod tests;
