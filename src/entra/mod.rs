//! The Entra ID half of adsync: signing in to the Microsoft identity platform (client secret or
//! certificate), checking the app's Graph permissions, and reading users, groups, memberships and
//! delta rounds from Microsoft Graph. Everything a person may need to fix is an [`EntraError`]
//! that says what to do.
//!
//! ```no_run
//! # async fn demo(settings: &adsync::config::EntraSettings) -> Result<(), adsync::entra::EntraError> {
//! let graph = adsync::entra::GraphClient::new(settings)?;
//! let members = graph.group_members("6f1d…", true).await?;   // transitive, users only
//! let round = graph.delta(None).await?;                        // first round: everything
//! let next = graph.delta(Some(&round.links())).await?;         // later: what changed
//! # Ok(()) }
//! ```

mod assertion;
mod auth;
pub mod certificate;
mod client;
mod error;
mod model;
mod permissions;
pub mod register;
#[cfg(test)]
mod tests;

pub use assertion::{ASSERTION_LIFETIME_SECS, CertificateCredential, pem_blocks, thumbprint_hex};
pub use auth::{AccessToken, RENEW_BEFORE, TokenSource, token_endpoint};
pub use client::GraphClient;
pub use error::{AadDetails, EntraError, GraphIds};
pub use model::*;
pub use permissions::{
    DIRECTORY_READ_ALL, GROUP_MEMBER_READ_ALL, GROUP_READ_ALL, PermissionNeed, USER_READ_ALL,
    admin_consent_url, api_permissions_url, app_registration_url, evaluate as evaluate_permissions,
    missing as missing_permissions, roles_of,
};

use std::sync::Arc;

use crate::config::EntraSettings;
use crate::http::RetryPolicy;

pub use crate::health::CheckLine;

/// Checks the Entra side of a config: gets a token, reports each needed permission as granted or
/// missing (with the consent URL), and makes a one-item test read of users and of groups.
/// Someone is waiting on a check: a failure (a refused connection above all) reports at once,
/// without the retries a sync makes.
pub async fn check(settings: &EntraSettings) -> Vec<CheckLine> {
    check_with(settings, RetryPolicy::interactive()).await
}

/// [`check`] with a chosen retry policy (tests use [`RetryPolicy::fast`]).
pub async fn check_with(settings: &EntraSettings, policy: RetryPolicy) -> Vec<CheckLine> {
    let tokens = match TokenSource::new(settings, policy.clone()) {
        Ok(tokens) => Arc::new(tokens),
        Err(e) => return vec![CheckLine::new("Entra credential", false, e.to_string())],
    };
    check_tokens(settings, tokens, policy).await
}

/// [`check`] for a token source already built (the wizard holds the secret in memory).
pub async fn check_tokens(
    settings: &EntraSettings,
    tokens: Arc<TokenSource>,
    policy: RetryPolicy,
) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    let token = match tokens.token().await {
        Ok(token) => token,
        Err(e) => {
            lines.push(CheckLine::new("Entra sign-in", false, e.to_string()));
            return lines;
        }
    };
    lines.push(CheckLine::new(
        "Entra sign-in",
        true,
        format!(
            "token for app {} in tenant {}",
            settings.client_id, settings.tenant
        ),
    ));
    let consent = admin_consent_url(settings);
    for need in evaluate_permissions(&token.roles) {
        let line = match &need.granted_by {
            Some(role) => CheckLine::new(
                format!("permission {}", need.permission),
                true,
                format!("granted ({role}) to {}", need.purpose),
            ),
            None => CheckLine::new(
                format!("permission {}", need.permission),
                false,
                format!(
                    "missing: needed to {}. Add Microsoft Graph > Application permissions > {} \
                     to the app registration, then grant admin consent: {consent}",
                    need.purpose, need.permission
                ),
            ),
        };
        lines.push(line);
    }
    let graph = GraphClient::with_tokens(settings, tokens, policy);
    for collection in ["users", "groups"] {
        let line = match graph.probe(collection).await {
            Ok(()) => CheckLine::new(format!("read {collection}"), true, "ok"),
            Err(e) => CheckLine::new(format!("read {collection}"), false, e.to_string()),
        };
        lines.push(line);
    }
    lines
}
