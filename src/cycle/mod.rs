//! The sync cycle, the one way adsync reads, plans, applies and records: `adsync sync`, `plan`,
//! `explain`, `run`, `demo` and the setup wizard all call it, and nothing else calls
//! [`crate::sync::apply()`].
//!
//! # API
//!
//! - [`Engine::open`] (a config file) or [`Engine::from_settings`] (settings in hand) makes the
//!   Graph and SCIM clients and opens the state store.
//! - [`Engine::read_and_plan`] reads both sides and plans, writing nothing; [`read_and_plan`]
//!   does the same with clients the caller made (the wizard's preview, before anything is saved).
//! - [`execute`] applies a plan under a [`Policy`] (trigger, `--allow-mass-disable`,
//!   cancellation) and the settings (dry run, default password, group mode), reports
//!   `progress(done, total)`, records the run, and returns an [`Outcome`]: `Applied { failed, .. }`,
//!   `DryRun` or `Blocked`.
//! - [`run_cycle`] is read + plan + [`execute`]; a read or plan that fails is recorded as a
//!   `failed` run.
//! - [`service_loop`] is the background service: full and incremental cycles (Graph delta links,
//!   the cached source snapshot), backoff after failures, stopping between actions.
//! - Errors are one type, [`CycleError`]. [`CycleError::exit`] and [`Outcome::exit`] are the only
//!   places an exit code ([`Exit`], SPEC §4) is chosen.

pub mod alert;
mod engine;
mod error;
mod execute;
mod failures;
mod intents;
mod phases;
mod probe;
mod service;

pub use engine::{Engine, Planned, read_and_plan};
pub use error::{CycleError, Exit};
pub use execute::{Outcome, Policy, Trigger, execute, run_cycle};
pub use service::service_loop;
