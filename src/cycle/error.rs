//! The cycle's one error type, and the process exit codes of SPEC §4 it and [`Outcome`] map to.
//!
//! [`Outcome`]: super::Outcome

use crate::config::{ConfigError, SettingsError};
use crate::entra::EntraError;
use crate::scim::ScimError;
use crate::secret::SecretError;
use crate::state::StateError;
use crate::sync::{LostStore, PlanError};

/// The process exit codes of SPEC §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: a run-time failure (network, auth, a failed or incomplete read, failed actions).
    Failure = 1,
    /// 2: bad usage or invalid config.
    Usage = 2,
    /// 3: the plan is blocked by one of R11's guards (disables, attribute wipes, dropped links).
    Blocked = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// Why a cycle could not start, read, plan or record. Each message names what failed and, where
/// the user can act, what to do.
#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    /// The config file cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config is valid but cannot drive a cycle (no pairs).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The Graph client could not be made (e.g. an unreadable certificate).
    #[error(transparent)]
    Entra(Box<EntraError>),
    /// The SCIM client could not be made (e.g. an unresolvable token).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The state store could not be opened, read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading Entra ID failed or was incomplete (R10).
    #[error("reading Entra ID failed: {0}")]
    ReadSource(#[source] Box<EntraError>),
    /// Reading the target failed or was incomplete (R10).
    #[error("reading the target failed: {0}")]
    ReadTarget(#[source] ScimError),
    /// What an earlier, cut-off run wrote could not be checked in the target.
    #[error(transparent)]
    Settle(Box<crate::sync::SettleError<ScimError, StateError>>),
    /// The data is not complete enough to plan (R10).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The state store has no links but the application holds users with Entra ids (R13).
    #[error(transparent)]
    LostStore(#[from] LostStore),
    /// `policy.default_password` does not resolve.
    #[error("policy.default_password: {0}; the cycle stopped before its first write")]
    DefaultPassword(#[source] SecretError),
    /// A cycle stopped before its first write; recorded in the history as `failed`.
    #[error("{0}; the cycle stopped before its first write")]
    BeforeWrite(#[source] Box<CycleError>),
    /// The state store failed while a plan was applied; `plan` is its report, each action to be
    /// written marked failed (its outcome is not recorded). Kept when the caller asked for it.
    #[error(
        "{source}; the run stopped, and what it applied is not recorded: run `adsync plan` to see \
         what is left"
    )]
    Unrecorded {
        plan: Box<crate::sync::Plan>,
        source: StateError,
    },
    /// A blocking task of the cycle panicked or was cancelled.
    #[error("an internal task failed: {0}")]
    Task(String),
}

impl CycleError {
    /// The exit code of SPEC §4 for this error: the one place errors become exit codes.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Config(_) | Self::Settings(_) => Exit::Usage,
            Self::BeforeWrite(inner) => inner.exit(),
            _ => Exit::Failure,
        }
    }

    /// The error underneath [`CycleError::BeforeWrite`].
    pub fn cause(&self) -> &CycleError {
        match self {
            Self::BeforeWrite(inner) => inner.cause(),
            other => other,
        }
    }
}

// Boxed: Graph errors carry Azure AD's details and would make every result large.
impl From<EntraError> for CycleError {
    fn from(e: EntraError) -> Self {
        Self::Entra(Box::new(e))
    }
}

impl From<tokio::task::JoinError> for CycleError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Task(e.to_string())
    }
}
