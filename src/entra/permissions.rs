//! Which Graph application permissions adsync needs, reading the ones a token carries (its
//! `roles` claim), and the admin-consent and portal links an administrator follows to grant them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::EntraSettings;

/// The permission that reads users.
pub const USER_READ_ALL: &str = "User.Read.All";
/// The least permission that reads group memberships.
pub const GROUP_MEMBER_READ_ALL: &str = "GroupMember.Read.All";
/// Reads groups and memberships.
pub const GROUP_READ_ALL: &str = "Group.Read.All";
/// Reads everything adsync needs.
pub const DIRECTORY_READ_ALL: &str = "Directory.Read.All";

/// The `roles` claim of an access token; empty when the token is not a JWT or has none (which is
/// how Entra says no permission was consented).
pub fn roles_of(token: &str) -> Vec<String> {
    let Some(payload) = token.split('.').nth(1) else {
        return Vec::new();
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return Vec::new();
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    claims["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What adsync needs, and whether the token's roles cover it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionNeed {
    /// What the permission is for, e.g. `read users`.
    pub purpose: &'static str,
    /// The permission to ask for (the least one), by its Graph name.
    pub permission: &'static str,
    /// The granted role that covers it, if any.
    pub granted_by: Option<String>,
}

fn has(roles: &[String], names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|name| roles.iter().any(|r| r.eq_ignore_ascii_case(name)))
        .map(|name| (*name).to_owned())
}

/// Checks the roles against adsync's needs: User.Read.All, and Group.Read.All or
/// GroupMember.Read.All; Directory.Read.All (or a ReadWrite variant) covers both.
pub fn evaluate(roles: &[String]) -> Vec<PermissionNeed> {
    vec![
        PermissionNeed {
            purpose: "read users",
            permission: USER_READ_ALL,
            granted_by: has(
                roles,
                &[
                    USER_READ_ALL,
                    "User.ReadWrite.All",
                    DIRECTORY_READ_ALL,
                    "Directory.ReadWrite.All",
                ],
            ),
        },
        PermissionNeed {
            purpose: "read groups and their members",
            permission: GROUP_MEMBER_READ_ALL,
            granted_by: has(
                roles,
                &[
                    GROUP_MEMBER_READ_ALL,
                    GROUP_READ_ALL,
                    "GroupMember.ReadWrite.All",
                    "Group.ReadWrite.All",
                    DIRECTORY_READ_ALL,
                    "Directory.ReadWrite.All",
                ],
            ),
        },
    ]
}

/// The permissions still missing, by their Graph names.
pub fn missing(roles: &[String]) -> Vec<&'static str> {
    evaluate(roles)
        .into_iter()
        .filter(|need| need.granted_by.is_none())
        .map(|need| need.permission)
        .collect()
}

/// The admin-consent URL an administrator opens to grant the app's configured permissions:
/// `{authority}/{tenant}/adminconsent?client_id=…` (graph-notes §2, the form that needs no
/// registered redirect URI).
pub fn admin_consent_url(settings: &EntraSettings) -> String {
    let mut url = settings.authority_url.clone();
    url.set_path(&format!("{}/adminconsent", settings.tenant));
    url.query_pairs_mut()
        .clear()
        .append_pair("client_id", &settings.client_id);
    url.to_string()
}

/// The app registration's page in the portal of the settings' cloud.
pub fn app_registration_url(settings: &EntraSettings) -> String {
    format!(
        "{}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/Overview/appId/{}",
        settings.cloud.endpoints().portal,
        settings.client_id
    )
}

/// The app registration's *API permissions* page in the portal of the settings' cloud.
pub fn api_permissions_url(settings: &EntraSettings) -> String {
    format!(
        "{}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/{}",
        settings.cloud.endpoints().portal,
        settings.client_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cloud, EntraCredential};

    fn settings(cloud: Cloud) -> EntraSettings {
        let endpoints = cloud.endpoints();
        EntraSettings {
            cloud,
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            credential: EntraCredential::Certificate("/x.pem".into()),
            authority_url: endpoints.authority.parse().unwrap(),
            graph_url: endpoints.graph.parse().unwrap(),
            graph_scope: cloud.graph_scope(),
        }
    }

    #[test]
    fn consent_and_portal_urls_follow_the_cloud() {
        assert_eq!(
            admin_consent_url(&settings(Cloud::Global)),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111-2222-3333-4444-555555555555"
        );
        assert!(admin_consent_url(&settings(Cloud::China)).starts_with(
            "https://login.partner.microsoftonline.cn/contoso.onmicrosoft.com/adminconsent?"
        ));
        assert!(
            app_registration_url(&settings(Cloud::UsGovL4))
                .starts_with("https://portal.azure.us/#view/")
        );
        assert!(
            api_permissions_url(&settings(Cloud::Global)).contains("/CallAnAPI/appId/11111111-")
        );
    }

    #[test]
    fn needs_are_met_by_the_least_or_a_broader_permission() {
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            missing(&roles(&[])),
            vec![USER_READ_ALL, GROUP_MEMBER_READ_ALL]
        );
        assert_eq!(
            missing(&roles(&["User.Read.All"])),
            vec![GROUP_MEMBER_READ_ALL]
        );
        assert!(missing(&roles(&["User.Read.All", "Group.Read.All"])).is_empty());
        assert!(missing(&roles(&["Directory.Read.All"])).is_empty());
        let token = format!(
            "x.{}.y",
            URL_SAFE_NO_PAD.encode(r#"{"roles":["User.Read.All"]}"#)
        );
        assert_eq!(roles_of(&token), vec!["User.Read.All"]);
        assert!(roles_of("garbage").is_empty());
    }
}
