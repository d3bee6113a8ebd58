//! The target health check: can adsync reach the application, is the credential accepted, what
//! does the server support, how many groups are there. One line per check, in words a person can
//! act on.

use super::client::ScimClient;
use super::error::ScimError;
use crate::config::TargetSettings;

pub use crate::health::CheckLine;

/// Checks the `[target]` application. Stops at the first check the others depend on. Someone is
/// waiting on it: a failure reports at once, without the retries a sync makes.
pub async fn check(settings: &TargetSettings) -> Vec<CheckLine> {
    let client = match ScimClient::from_settings(settings) {
        Ok(client) => client.with_retry(crate::http::RetryPolicy::interactive()),
        Err(error) => {
            return vec![CheckLine::new(
                "target credential",
                false,
                error.to_string(),
            )];
        }
    };
    check_with(&client, settings.admin_email.as_deref()).await
}

/// [`check`] with a ready client (tests and the wizard build their own).
pub async fn check_with(client: &ScimClient, admin_email: Option<&str>) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    // Some servers answer discovery without authentication, so reachability and the credential
    // are judged separately: the credential by reading Users.
    let capabilities = client.discover().await;
    match &capabilities {
        Err(ScimError::Unreachable { .. }) | Err(ScimError::InvalidResponse { .. }) => {
            lines.push(CheckLine::new(
                "target reachable",
                false,
                capabilities.unwrap_err().to_string(),
            ));
            return lines;
        }
        Err(ScimError::Status { status: 404, .. }) => {
            lines.push(CheckLine::new(
                "target reachable",
                false,
                format!(
                    "{}/ServiceProviderConfig was not found (404): is [target] url the SCIM base, \
                     the part before /Users?",
                    client.base_url()
                ),
            ));
            return lines;
        }
        _ => lines.push(CheckLine::new(
            "target reachable",
            true,
            client.base_url().to_owned(),
        )),
    }
    match client.count_users().await {
        Ok(_) => lines.push(CheckLine::new(
            "target credential",
            true,
            match admin_email {
                Some(email) => format!("accepted (token of {email})"),
                None => "accepted".to_owned(),
            },
        )),
        Err(error) => {
            lines.push(CheckLine::new(
                "target credential",
                false,
                error.to_string(),
            ));
            return lines;
        }
    }
    match capabilities {
        Ok(caps) => {
            let ok = caps.patch && caps.filter;
            let mut detail = caps.summary();
            if !ok {
                detail.push_str(
                    "; adsync needs PATCH and filters to update and match users without \
                     rewriting them",
                );
            }
            lines.push(CheckLine::new("target capabilities", ok, detail));
        }
        Err(error) => lines.push(CheckLine::new(
            "target capabilities",
            false,
            error.to_string(),
        )),
    }
    match client.count_groups().await {
        Ok(n) => lines.push(CheckLine::new("target groups", true, format!("{n} groups"))),
        Err(error) => lines.push(CheckLine::new("target groups", false, error.to_string())),
    }
    lines
}
