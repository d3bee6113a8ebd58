//! The SCIM half of adsync: a SCIM 2.0 client for the target application (RFC 7643/7644), its
//! typed resources, and the health check shared by `adsync check` and the wizard's *Test
//! connection*.
//!
//! Engine entry points: [`ScimClient::from_settings`], `list_users`, `find_users_by_*`,
//! `create_user` (409 resolved to the existing user), `patch_user` with a [`UserPatch`],
//! `set_active`, `list_groups`, `group_member_ids`, `add_members`, `remove_member`, and
//! [`ScimClient::write_many`] (bulk when advertised, else [`run_bounded`]) to apply many writes.

mod check;
mod client;
mod error;
mod model;
mod payload;
mod typed;
mod write;

pub use check::{CheckLine, check, check_with};
pub use client::{
    Created, DEFAULT_MAX_CONCURRENCY, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ScimAuth, ScimClient,
    ServerCapabilities, WRITE_DEADLINE, quote, run_bounded,
};
pub use error::ScimError;
pub use model::{
    ENTERPRISE_SCHEMA, GROUP_SCHEMA, MultiValue, PATCH_SCHEMA, ResourceRef, ScimGroup, ScimUser,
    USER_SCHEMA,
};
pub use payload::{NewUser, UserAttributes, UserField, UserPatch};
pub use typed::{Held, Slot};
pub use write::{WriteOp, WriteOutcome};

#[cfg(test)]
mod tests;
