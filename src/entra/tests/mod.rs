//! The Entra client against the simulated tenant over loopback: sign-in, every AADSTS case a
//! person can hit and token renewal (`sign_in`); paging, search, membership, delta rounds and
//! fault switches (`reads`). This module holds the tenant fixture and clients they share.

mod delta_memory;
mod hostile;
mod reads;
mod sign_in;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::config::{EntraCredential, EntraSettings};
use crate::http::RetryPolicy;
use crate::secret::{Secret, SecretRef};
use crate::sim::entra::{EntraSim, Fixture};
use crate::sim::{Fault, FaultRule};

const APP_PEM: &str = include_str!("../../../tests/fixtures/entra/app.pem");
const OTHER_PEM: &str = include_str!("../../../tests/fixtures/entra/other.pem");
const CLIENT_ID: &str = "5d8a1c4e-1f0b-4c59-9a43-2f0b6c1d7e01";
const NO_ROLES_CLIENT: &str = "5d8a1c4e-1f0b-4c59-9a43-2f0b6c1d7e02";
const SECRET: &str = "sim~Q8.demo-only-secret-value";
const EXPIRED_SECRET: &str = "sim~old.expired-secret-value";
const TENANT_ID: &str = "a1b2c3d4-0000-4000-8000-00000000c0de";

fn gid(n: u32) -> String {
    format!("6f1d0000-0000-4000-8000-{n:012}")
}
fn uid(n: u32) -> String {
    format!("0a000000-0000-4000-8000-{n:012}")
}

fn user(n: u32) -> Value {
    json!({
        "id": uid(n), "userPrincipalName": format!("user{n}@contoso.com"), "mail": format!("user{n}@contoso.com"),
        "givenName": format!("Given{n}"), "surname": format!("Sur{n}"), "displayName": format!("User {n}"),
        "businessPhones": ["+1 425 555 0100"], "jobTitle": "Agent", "department": "Support",
        "employeeId": format!("{n}"), "accountEnabled": true, "userType": "Member"
    })
}

/// A small tenant: 12 users (one guest, one disabled), a support group with a nested group, a
/// device, a service principal and a contact; 1500 users when `many`.
fn fixture(many: bool) -> Fixture {
    let cert_only = APP_PEM.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
    let mut users: Vec<Value> = (1..=10).map(user).collect();
    users.push(json!({"id": uid(11), "userPrincipalName": "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        "mail": "bob@fabrikam.com", "displayName": "Bob (guest)", "userType": "Guest", "accountEnabled": true}));
    users.push(json!({"id": uid(12), "userPrincipalName": "gone@contoso.com", "displayName": "Disabled Dora",
        "accountEnabled": false, "userType": "Member"}));
    if many {
        users.extend((100..1600).map(user));
    }
    let json = json!({
        "tenant": {"id": TENANT_ID, "domain": "contoso.onmicrosoft.com", "displayName": "Contoso",
                   "otherCloudTenants": {"fabrikam.us": "usgovcloudapi.net"}},
        "apps": [
            {"clientId": CLIENT_ID, "displayName": "adsync test",
             "secrets": [{"id": "4f1e6a2b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "value": SECRET},
                         {"id": "old", "value": EXPIRED_SECRET, "expired": true}],
             "certificates": [cert_only], "roles": ["User.Read.All", "GroupMember.Read.All"]},
            {"clientId": NO_ROLES_CLIENT, "displayName": "not consented",
             "secrets": [{"id": "x", "value": SECRET}]}
        ],
        "users": users,
        "groups": [
            {"id": gid(1), "displayName": "Support Tier1", "createdDateTime": "2021-03-12T10:36:14Z",
             "securityEnabled": true, "mailEnabled": false, "groupTypes": [],
             "members": [uid(1), uid(2), uid(11), gid(2), "d0000000-0000-4000-8000-000000000001",
                         "50000000-0000-4000-8000-000000000001", "c0000000-0000-4000-8000-000000000001"]},
            {"id": gid(2), "displayName": "Support Nested", "createdDateTime": "2022-01-01T00:00:00Z",
             "securityEnabled": true, "mailEnabled": false, "groupTypes": [],
             "members": [uid(3), uid(1), uid(12)]},
            {"id": gid(3), "displayName": "Sales EMEA", "createdDateTime": "2020-05-05T00:00:00Z",
             "securityEnabled": false, "mailEnabled": true, "groupTypes": ["Unified"], "members": [uid(4)]},
            {"id": gid(4), "displayName": "All Staff", "createdDateTime": "2019-01-01T00:00:00Z",
             "securityEnabled": true, "mailEnabled": false, "groupTypes": [],
             "members": if many { (100..1600).map(uid).collect::<Vec<_>>() } else { vec![uid(5)] }}
        ],
        "devices": [{"id": "d0000000-0000-4000-8000-000000000001", "displayName": "KIOSK-01", "accountEnabled": true}],
        "servicePrincipals": [{"id": "50000000-0000-4000-8000-000000000001", "displayName": "Build Bot", "appId": "x"}],
        "contacts": [{"id": "c0000000-0000-4000-8000-000000000001", "displayName": "External Vendor", "mail": "v@vendor.com"}]
    });
    Fixture::from_json(&json.to_string()).unwrap()
}

/// A private (0600) copy of the fixture PEM: a key file others can read is refused, and git
/// checks the fixture out 0644. Keep the folder alive while the path is used.
fn cert_path() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    crate::fsutil::write_atomic(&path, APP_PEM.as_bytes()).unwrap();
    (dir, path)
}

fn secret_settings(sim: &EntraSim) -> EntraSettings {
    // The secret reference is not resolved in these tests; the secret is handed in directly.
    sim.settings(EntraCredential::Secret(SecretRef::Env("UNUSED".into())))
}

fn graph_with(settings: &EntraSettings, secret: &str) -> GraphClient {
    let tokens = TokenSource::with_secret(settings, Secret::new(secret), RetryPolicy::fast());
    GraphClient::with_tokens(settings, Arc::new(tokens), RetryPolicy::fast())
}

fn graph(sim: &EntraSim) -> GraphClient {
    graph_with(&secret_settings(sim), SECRET)
}

async fn sign_in_error(settings: &EntraSettings, secret: &str) -> EntraError {
    TokenSource::with_secret(settings, Secret::new(secret), RetryPolicy::fast())
        .token()
        .await
        .unwrap_err()
}
