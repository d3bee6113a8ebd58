//! The sync engine. Snapshots of the source (Entra ID) and the target (the SCIM application) are
//! the only I/O before planning; [`plan()`] is a pure function from snapshots, state and settings
//! to a [`Plan`] value implementing the rules R1–R11 of SPEC §2. A dry run is printing the plan.

mod apply;
mod mapping;
mod model;
mod plan;
mod planner;
mod snapshot;
mod target;

pub use apply::{Applied, ApplyOptions, TargetWriter, WriteError, apply};
pub use mapping::{DesiredUser, desired_user, values_hash};
pub use model::*;
pub use plan::*;
pub use planner::{
    PlanError, PlanInput, attribute as scope_value, mass_disable_guard, matches_scope, plan,
};
pub use snapshot::read_source;
pub use target::read_target;

#[cfg(test)]
mod tests;
