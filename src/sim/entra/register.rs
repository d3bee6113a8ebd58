//! The simulated tenant's app-registration side (graph-notes §9): the administrator's sign-in
//! (authorize endpoint with PKCE and a loopback redirect, device code with polling, delegated
//! tokens carrying `scp`), Graph's `/applications`, `/servicePrincipals`,
//! `servicePrincipals(appId='…')` and `appRoleAssignedTo` with their validation, authorization by
//! the signed-in user's directory roles, per-object replication lag, and the fault switches a
//! test needs (device code blocked by Conditional Access, consent that never shows up).
//!
//! Objects made here join the token endpoint's app list once they have "replicated", so the new
//! app signs in with its certificate and gets `roles` exactly as a real one would.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::graph::graph_error;
use super::token::{aad_error, now_secs};
use super::{App, AppFixture, EntraSim, State};

/// Microsoft Graph's application id, the same in every tenant.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The object id of the simulated tenant's Microsoft Graph service principal.
const GRAPH_SP_ID: &str = "5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// Graph's application roles the simulator knows (value, id), as in every real tenant.
const GRAPH_APP_ROLES: &[(&str, &str)] = &[
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
];
/// Roles that may create app registrations even when users may not.
const CREATE_ROLES: &[&str] = &[
    "Global Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Application Developer",
];
/// Roles that may grant Microsoft Graph application permissions.
const GRANT_ROLES: &[&str] = &["Global Administrator", "Privileged Role Administrator"];

/// The registration side's settings and objects (part of the simulator's state).
pub(super) struct Registration {
    /// The directory roles of whoever signs in (default: Global Administrator).
    admin_roles: Vec<String>,
    /// The tenant setting "Users can register applications" (default on).
    users_can_register: bool,
    /// How long a new object takes to become visible to Graph references and to sign-in.
    lag: Duration,
    /// Conditional Access blocks the device-code flow (AADSTS53003 when the code is redeemed).
    block_device_code: bool,
    /// Granted permissions never reach the app's tokens (consent that never becomes visible).
    withhold_consent: bool,
    codes: HashMap<String, AuthCode>,
    devices: HashMap<String, DeviceCode>,
    delegated: HashMap<String, Vec<String>>,
    apps: Vec<RegApp>,
    sps: Vec<RegSp>,
    assignments: Vec<Assignment>,
    /// Every request body received, so tests can prove what was (not) sent.
    bodies: Vec<String>,
}

impl Default for Registration {
    fn default() -> Self {
        Self {
            admin_roles: vec!["Global Administrator".into()],
            users_can_register: true,
            lag: Duration::ZERO,
            block_device_code: false,
            withhold_consent: false,
            codes: HashMap::new(),
            devices: HashMap::new(),
            delegated: HashMap::new(),
            apps: Vec::new(),
            sps: Vec::new(),
            assignments: Vec::new(),
            bodies: Vec::new(),
        }
    }
}

struct AuthCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
}

struct DeviceCode {
    scopes: Vec<String>,
    polls: u32,
}

#[derive(Clone)]
struct RegApp {
    id: String,
    app_id: String,
    display_name: String,
    sign_in_audience: String,
    required: Value,
    /// keyCredentials as stored (with `key`).
    keys: Vec<Value>,
    visible_at: u64,
}

struct RegSp {
    id: String,
    app_id: String,
    visible_at: u64,
}

struct Assignment {
    id: String,
    principal_id: String,
    app_role_id: String,
    visible_at: u64,
}

/// An object the simulator created through Graph, as tests see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedApp {
    pub display_name: String,
    /// The application's object id.
    pub id: String,
    /// The application (client) id.
    pub app_id: String,
    /// How many certificates it holds.
    pub certificates: usize,
    /// How many Graph app roles are assigned to its service principal.
    pub assignments: usize,
}

impl EntraSim {
    /// The directory roles of the administrator who signs in (default: Global Administrator).
    /// An empty list is a plain member.
    pub fn set_admin_roles(&self, roles: &[&str]) {
        self.state().reg.admin_roles = roles.iter().map(|r| (*r).to_owned()).collect();
    }

    /// The tenant setting "Users can register applications" (default on).
    pub fn set_users_can_register(&self, allowed: bool) {
        self.state().reg.users_can_register = allowed;
    }

    /// How long new applications, service principals and role assignments take to replicate
    /// (default 0): until then Graph answers graph-notes §9.8's errors and sign-in fails.
    pub fn set_replication_lag(&self, lag: Duration) {
        self.state().reg.lag = lag;
    }

    /// Conditional Access blocks the device-code flow.
    pub fn block_device_code(&self, blocked: bool) {
        self.state().reg.block_device_code = blocked;
    }

    /// Granted Graph permissions never show up in the new app's tokens.
    pub fn withhold_consent(&self, withheld: bool) {
        self.state().reg.withhold_consent = withheld;
    }

    /// The applications created through Graph, oldest first.
    pub fn created_apps(&self) -> Vec<CreatedApp> {
        let state = self.state();
        let reg = &state.reg;
        reg.apps
            .iter()
            .map(|app| {
                let sp = reg.sps.iter().find(|s| s.app_id == app.app_id);
                CreatedApp {
                    display_name: app.display_name.clone(),
                    id: app.id.clone(),
                    app_id: app.app_id.clone(),
                    certificates: app.keys.len(),
                    assignments: sp.map_or(0, |sp| {
                        reg.assignments
                            .iter()
                            .filter(|a| a.principal_id == sp.id)
                            .count()
                    }),
                }
            })
            .collect()
    }

    /// Every request body the simulated tenant received, in order.
    pub fn received_bodies(&self) -> Vec<String> {
        self.state().reg.bodies.clone()
    }
}

/// Records a request body (any route).
pub(super) fn record(state: &mut State, body: &[u8]) {
    if !body.is_empty() {
        state
            .reg
            .bodies
            .push(String::from_utf8_lossy(body).into_owned());
    }
}

/// Makes replicated objects visible to sign-in: an app with its service principal joins the
/// token endpoint's apps, with its certificates and the Graph roles assigned to it.
pub(super) fn tick(state: &mut State) {
    if state.reg.apps.is_empty() {
        return;
    }
    let now = now_secs_f();
    let reg = &state.reg;
    let mut visible = Vec::new();
    for app in &reg.apps {
        let Some(sp) = reg
            .sps
            .iter()
            .find(|s| s.app_id == app.app_id && visible_now(s.visible_at, now))
        else {
            continue;
        };
        if !visible_now(app.visible_at, now) {
            continue;
        }
        let roles: Vec<String> = if reg.withhold_consent {
            Vec::new()
        } else {
            reg.assignments
                .iter()
                .filter(|a| a.principal_id == sp.id && visible_now(a.visible_at, now))
                .filter_map(|a| {
                    GRAPH_APP_ROLES
                        .iter()
                        .find(|(_, id)| *id == a.app_role_id)
                        .map(|(value, _)| (*value).to_owned())
                })
                .collect()
        };
        let certs = app
            .keys
            .iter()
            .filter_map(|k| k["key"].as_str())
            .filter_map(|key| {
                super::parse_cert(&format!(
                    "-----BEGIN CERTIFICATE-----\n{key}\n-----END CERTIFICATE-----\n"
                ))
                .ok()
            })
            .collect::<Vec<_>>();
        visible.push((app.app_id.clone(), app.display_name.clone(), roles, certs));
    }
    for (app_id, display_name, roles, certs) in visible {
        match state.app_mut(&app_id) {
            Some(existing) => {
                existing.fixture.roles = roles;
                existing.certs = certs;
            }
            None => state.apps.push(App {
                fixture: AppFixture {
                    client_id: app_id,
                    display_name,
                    roles,
                    enabled: true,
                    ..Default::default()
                },
                certs,
            }),
        }
    }
}

/// Time in milliseconds, so lags below a second work.
fn now_secs_f() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn visible_now(visible_at: u64, now: u64) -> bool {
    now >= visible_at
}

fn visible_at(reg: &Registration) -> u64 {
    now_secs_f() + reg.lag.as_millis() as u64
}

fn tenant_ok(state: &State, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&state.tenant.id)
        || tenant.eq_ignore_ascii_case(&state.tenant.domain)
        || tenant.eq_ignore_ascii_case("organizations")
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn form_map(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The delegated scopes of a request, without the OpenID ones.
fn resource_scopes(scope: &str) -> Vec<String> {
    scope
        .split_whitespace()
        .filter(|s| !["openid", "profile", "offline_access", "email"].contains(s))
        .map(|s| {
            s.rsplit_once('/')
                .map_or(s, |(_, name)| name)
                .trim()
                .to_owned()
        })
        .collect()
}

/// Is this token request one of the administrator's (not the app's client credentials)?
pub(super) fn is_delegated(body: &[u8]) -> bool {
    form_map(body).get("grant_type").is_some_and(|g| {
        g == "authorization_code"
            || g == "refresh_token"
            || g == "urn:ietf:params:oauth:grant-type:device_code"
    })
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: checks the request and plays the administrator who
/// signs in and consents, redirecting straight back to the loopback address with a code.
pub(super) fn authorize(
    state: &mut State,
    tenant: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let q = query_map(uri);
    let page = |code: u32, message: &str| {
        (
            StatusCode::BAD_REQUEST,
            format!("Sign in\n\nAADSTS{code}: {message}\n"),
        )
            .into_response()
    };
    if !tenant_ok(state, tenant) {
        return page(90002, &format!("Tenant '{tenant}' not found."));
    }
    let Some(client_id) = q.get("client_id") else {
        return page(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let loopback = url::Url::parse(&redirect).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost"))
    });
    if !loopback {
        return page(
            50011,
            &format!(
                "The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        );
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return page(
            900144,
            "The request body must contain the following parameter: 'response_type'.",
        );
    }
    let (Some(challenge), Some("S256")) = (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) else {
        return page(
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    };
    let code = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    state.reg.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.clone(),
            redirect_uri: redirect.clone(),
            challenge: challenge.clone(),
            scopes: resource_scopes(q.get("scope").map(String::as_str).unwrap_or_default()),
        },
    );
    let mut target = url::Url::parse(&redirect).expect("checked above");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(st) = q.get("state") {
        target.query_pairs_mut().append_pair("state", st);
    }
    let _ = headers;
    (StatusCode::FOUND, [("location", target.to_string())]).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(super) fn devicecode(
    state: &mut State,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if !tenant_ok(state, tenant) {
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            headers,
        );
    }
    let form = form_map(body);
    if !form.contains_key("client_id") {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
            headers,
        );
    }
    let device_code = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    let user_code: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_uppercase()
        .chars()
        .take(9)
        .collect();
    state.reg.devices.insert(
        device_code.clone(),
        DeviceCode {
            scopes: resource_scopes(form.get("scope").map(String::as_str).unwrap_or_default()),
            polls: 0,
        },
    );
    axum::Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
        "interval": 1,
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// The token endpoint for the administrator: authorization code (PKCE checked) and device code.
pub(super) fn token(state: &mut State, tenant: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    if !tenant_ok(state, tenant) {
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
            headers,
        );
    }
    let form = form_map(body);
    let scopes = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code").and_then(|c| state.reg.codes.remove(c)) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    70000,
                    "The provided authorization code is invalid or has expired.",
                    headers,
                );
            };
            if form.get("client_id") != Some(&code.client_id)
                || form.get("redirect_uri") != Some(&code.redirect_uri)
            {
                return aad_error(
                    400,
                    "invalid_grant",
                    50011,
                    "The redirect URI or client id does not match the one of the authorization request.",
                    headers,
                );
            }
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            use sha2::Digest;
            let computed = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != code.challenge {
                return aad_error(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    headers,
                );
            }
            code.scopes
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let key = form.get("device_code").cloned().unwrap_or_default();
            let blocked = state.reg.block_device_code;
            let Some(device) = state.reg.devices.get_mut(&key) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    70018,
                    "The provided value for the input parameter 'device_code' is not valid.",
                    headers,
                );
            };
            device.polls += 1;
            // The first poll finds the administrator still signing in.
            if device.polls == 1 {
                return aad_error(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    headers,
                );
            }
            let device = state.reg.devices.remove(&key).expect("present above");
            if blocked {
                return aad_error(
                    400,
                    "invalid_grant",
                    53003,
                    "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
                    headers,
                );
            }
            device.scopes
        }
        _ => {
            return aad_error(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
                headers,
            );
        }
    };
    let now = now_secs();
    let claims = json!({
        "aud": "https://graph.microsoft.com",
        "tid": state.tenant.id,
        "scp": scopes.join(" "),
        "upn": format!("admin@{}", state.tenant.domain),
        "wids": state.reg.admin_roles,
        "iat": now, "nbf": now, "exp": now + 3599,
    });
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "RS256"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    );
    state.reg.delegated.insert(token.clone(), scopes.clone());
    axum::Json(json!({
        "token_type": "Bearer",
        "scope": scopes.iter().map(|s| format!("https://graph.microsoft.com/{s}")).collect::<Vec<_>>().join(" "),
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": token,
    }))
    .into_response()
}

/// Does the app-registration side serve this Graph path?
pub(super) fn owns(path: &[&str]) -> bool {
    matches!(
        path.first(),
        Some(first) if *first == "applications" || first.starts_with("servicePrincipals")
    )
}

fn created(body: Value, location: &str) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = location.parse() {
        response.headers_mut().insert("location", v);
    }
    response
}

fn denied(headers: &HeaderMap) -> Response {
    graph_error(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
        headers,
    )
}

fn not_found(id: &str, headers: &HeaderMap) -> Response {
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
        headers,
    )
}

fn bad_request(message: &str, headers: &HeaderMap) -> Response {
    graph_error(400, "Request_BadRequest", message, headers)
}

/// Graph's `/applications` and `/servicePrincipals…`, for a delegated token.
pub(super) fn graph(
    state: &mut State,
    method: &Method,
    path: &[&str],
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    origin: &str,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(scopes) = state.reg.delegated.get(bearer).cloned() else {
        if state.issued.contains_key(bearer) {
            // An app-only token without Application.ReadWrite.All.
            return denied(headers);
        }
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
            headers,
        );
    };
    let has = |scope: &str| scopes.iter().any(|s| s.eq_ignore_ascii_case(scope));
    let reg = &state.reg;
    let role = |set: &[&str]| reg.admin_roles.iter().any(|r| set.contains(&r.as_str()));
    let may_create =
        has("Application.ReadWrite.All") && (reg.users_can_register || role(CREATE_ROLES));
    let may_read = has("Application.ReadWrite.All") || has("Application.Read.All");
    let may_grant = has("AppRoleAssignment.ReadWrite.All") && role(GRANT_ROLES);
    let q = query_map(uri);
    let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let now = now_secs_f();
    match (method.as_str(), path) {
        ("POST", ["applications"]) => {
            if !may_create {
                return denied(headers);
            }
            create_application(state, &json_body, headers, origin)
        }
        ("GET", ["applications"]) => {
            if !may_read {
                return denied(headers);
            }
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let wanted = filter_value(&filter);
            let items: Vec<Value> = state
                .reg
                .apps
                .iter()
                .filter(|a| visible_now(a.visible_at, now))
                .filter(|a| match &wanted {
                    Some(("displayName", v)) => &a.display_name == v,
                    Some(("appId", v)) => a.app_id.eq_ignore_ascii_case(v),
                    _ => true,
                })
                .map(|a| app_json(a, false, origin))
                .collect();
            axum::Json(json!({"@odata.context": format!("{origin}/v1.0/$metadata#applications"), "value": items}))
                .into_response()
        }
        ("GET", ["applications", id]) => {
            if !may_read {
                return denied(headers);
            }
            let with_keys = q
                .get("$select")
                .is_some_and(|s| s.split(',').any(|f| f == "keyCredentials"));
            match state
                .reg
                .apps
                .iter()
                .find(|a| a.id == *id && visible_now(a.visible_at, now))
            {
                Some(app) => axum::Json(app_json(app, with_keys, origin)).into_response(),
                None => not_found(id, headers),
            }
        }
        ("PATCH", ["applications", id]) => {
            if !has("Application.ReadWrite.All") {
                return denied(headers);
            }
            let Some(pos) = state
                .reg
                .apps
                .iter()
                .position(|a| a.id == *id && visible_now(a.visible_at, now))
            else {
                return not_found(id, headers);
            };
            if let Some(keys) = json_body.get("keyCredentials") {
                match check_keys(keys) {
                    Ok(keys) => state.reg.apps[pos].keys = keys,
                    Err(message) => return bad_request(&message, headers),
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("DELETE", ["applications", id]) => {
            if !has("Application.ReadWrite.All") {
                return denied(headers);
            }
            let Some(pos) = state.reg.apps.iter().position(|a| a.id == *id) else {
                return not_found(id, headers);
            };
            let app = state.reg.apps.remove(pos);
            let sp_ids: Vec<String> = state
                .reg
                .sps
                .iter()
                .filter(|s| s.app_id == app.app_id)
                .map(|s| s.id.clone())
                .collect();
            state.reg.sps.retain(|s| s.app_id != app.app_id);
            state
                .reg
                .assignments
                .retain(|a| !sp_ids.contains(&a.principal_id));
            state
                .apps
                .retain(|a| !a.fixture.client_id.eq_ignore_ascii_case(&app.app_id));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["servicePrincipals"]) => {
            if !may_create {
                return denied(headers);
            }
            let app_id = json_body["appId"].as_str().unwrap_or_default().to_owned();
            let app_visible =
                state.reg.apps.iter().any(|a| {
                    a.app_id.eq_ignore_ascii_case(&app_id) && visible_now(a.visible_at, now)
                });
            if !app_visible {
                return bad_request(
                    &format!(
                        "The appId '{app_id}' of the service principal does not reference a valid application object."
                    ),
                    headers,
                );
            }
            if state
                .reg
                .sps
                .iter()
                .any(|s| s.app_id.eq_ignore_ascii_case(&app_id))
            {
                return graph_error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "Another object with the same value for property servicePrincipalNames already exists.",
                    headers,
                );
            }
            let id = uuid::Uuid::new_v4().to_string();
            let visible_at = visible_at(&state.reg);
            state.reg.sps.push(RegSp {
                id: id.clone(),
                app_id: app_id.clone(),
                visible_at,
            });
            created(
                sp_json(&id, &app_id, &state.tenant.id, origin),
                &format!(
                    "{origin}/v2/{}/directoryObjects/{id}/Microsoft.DirectoryServices.ServicePrincipal",
                    state.tenant.id
                ),
            )
        }
        ("GET", ["servicePrincipals"]) => {
            if !may_read {
                return denied(headers);
            }
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let items: Vec<Value> = match filter_value(&filter) {
                Some(("appId", app_id)) => {
                    lookup_sp(state, app_id, now, origin).into_iter().collect()
                }
                _ => return bad_request("Only $filter=appId eq '…' is simulated.", headers),
            };
            axum::Json(json!({"value": items})).into_response()
        }
        ("GET", [one]) if one.starts_with("servicePrincipals(appId=") => {
            if !may_read {
                return denied(headers);
            }
            let app_id = one
                .trim_start_matches("servicePrincipals(appId=")
                .trim_end_matches(')')
                .trim_matches('\'');
            match lookup_sp(state, app_id, now, origin) {
                Some(sp) => axum::Json(sp).into_response(),
                None => not_found(app_id, headers),
            }
        }
        ("POST", ["servicePrincipals", resource, "appRoleAssignedTo"]) => {
            if !may_grant {
                return denied(headers);
            }
            assign(state, resource, &json_body, headers, origin, now)
        }
        ("GET", ["servicePrincipals", resource, "appRoleAssignedTo"]) => {
            if !may_read {
                return denied(headers);
            }
            let items: Vec<Value> = state
                .reg
                .assignments
                .iter()
                .filter(|_| *resource == GRAPH_SP_ID)
                .map(|a| json!({"id": a.id, "appRoleId": a.app_role_id, "principalId": a.principal_id, "resourceId": GRAPH_SP_ID}))
                .collect();
            axum::Json(json!({"value": items})).into_response()
        }
        _ => graph_error(
            400,
            "Request_BadRequest",
            &format!("{method} {} is not simulated.", uri.path()),
            headers,
        ),
    }
}

/// `displayName eq 'x'` / `appId eq 'x'` → (property, value).
fn filter_value(filter: &str) -> Option<(&str, &str)> {
    let (property, rest) = filter.split_once(" eq ")?;
    let value = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((property.trim(), value))
}

fn lookup_sp(state: &State, app_id: &str, now: u64, origin: &str) -> Option<Value> {
    if app_id.eq_ignore_ascii_case(GRAPH_APP_ID) {
        let roles: Vec<Value> = GRAPH_APP_ROLES
            .iter()
            .map(|(value, id)| {
                json!({"id": id, "value": value, "allowedMemberTypes": ["Application"], "isEnabled": true,
                       "displayName": format!("Read {value}"), "origin": "Application"})
            })
            .collect();
        return Some(
            json!({"id": GRAPH_SP_ID, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph", "appRoles": roles}),
        );
    }
    state
        .reg
        .sps
        .iter()
        .find(|s| s.app_id.eq_ignore_ascii_case(app_id) && visible_now(s.visible_at, now))
        .map(|s| sp_json(&s.id, &s.app_id, &state.tenant.id, origin))
}

fn sp_json(id: &str, app_id: &str, tenant: &str, origin: &str) -> Value {
    json!({"@odata.context": format!("{origin}/v1.0/$metadata#servicePrincipals/$entity"),
           "id": id, "appId": app_id, "accountEnabled": true, "appOwnerOrganizationId": tenant,
           "servicePrincipalNames": [app_id], "servicePrincipalType": "Application", "appRoles": []})
}

fn app_json(app: &RegApp, with_keys: bool, origin: &str) -> Value {
    let keys: Vec<Value> = app
        .keys
        .iter()
        .map(|k| {
            let mut k = k.clone();
            if !with_keys {
                k["key"] = Value::Null;
            }
            k
        })
        .collect();
    json!({"@odata.context": format!("{origin}/v1.0/$metadata#applications/$entity"),
           "id": app.id, "appId": app.app_id, "displayName": app.display_name,
           "signInAudience": app.sign_in_audience, "identifierUris": [],
           "keyCredentials": keys, "passwordCredentials": [], "requiredResourceAccess": app.required})
}

/// Validates `keyCredentials` as Graph does; returns them as stored (thumbprint filled in).
fn check_keys(keys: &Value) -> Result<Vec<Value>, String> {
    let Some(list) = keys.as_array() else {
        return Err("keyCredentials must be an array.".into());
    };
    let mut out = Vec::new();
    for key in list {
        if key["type"] != "AsymmetricX509Cert" {
            return Err(
                "The value for the property \"type\" in one of your credentials is invalid.".into(),
            );
        }
        if !matches!(key["usage"].as_str(), Some("Verify" | "Sign")) {
            return Err("The value for the property \"usage\" in one of your credentials is invalid. Acceptable values are Sign, Verify.".into());
        }
        let der = key["key"]
            .as_str()
            .and_then(|k| STANDARD.decode(k).ok())
            .ok_or("Key credential key is not valid base64.")?;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(&der)
        );
        super::parse_cert(&pem)
            .map_err(|e| format!("Key credential is not a valid certificate: {e}"))?;
        if key.to_string().contains("PRIVATE KEY") {
            return Err("Key credential must not contain a private key.".into());
        }
        let mut stored = key.clone();
        stored["customKeyIdentifier"] = Value::from(crate::entra::thumbprint_hex(&der));
        stored["key"] = Value::from(STANDARD.encode(&der));
        if stored["keyId"].is_null() {
            stored["keyId"] = Value::from(uuid::Uuid::new_v4().to_string());
        }
        if stored["displayName"].is_null() {
            stored["displayName"] = Value::from("CN=adsync");
        }
        out.push(stored);
    }
    Ok(out)
}

fn create_application(
    state: &mut State,
    body: &Value,
    headers: &HeaderMap,
    origin: &str,
) -> Response {
    let Some(name) = body["displayName"]
        .as_str()
        .filter(|n| !n.trim().is_empty())
    else {
        return bad_request("Property displayName is required.", headers);
    };
    if body
        .get("passwordCredentials")
        .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()))
    {
        return bad_request(
            "Property passwordCredentials is read-only on create.",
            headers,
        );
    }
    let keys = match body.get("keyCredentials") {
        Some(keys) => match check_keys(keys) {
            Ok(keys) => keys,
            Err(message) => return bad_request(&message, headers),
        },
        None => Vec::new(),
    };
    let app = RegApp {
        id: uuid::Uuid::new_v4().to_string(),
        app_id: uuid::Uuid::new_v4().to_string(),
        display_name: name.to_owned(),
        sign_in_audience: body["signInAudience"]
            .as_str()
            .unwrap_or("AzureADandPersonalMicrosoftAccount")
            .to_owned(),
        required: body
            .get("requiredResourceAccess")
            .cloned()
            .unwrap_or(json!([])),
        keys,
        visible_at: visible_at(&state.reg),
    };
    let location = format!(
        "{origin}/v2/{}/directoryObjects/{}/Microsoft.DirectoryServices.Application",
        state.tenant.id, app.id
    );
    let response = app_json(&app, false, origin);
    state.reg.apps.push(app);
    created(response, &location)
}

fn assign(
    state: &mut State,
    resource: &str,
    body: &Value,
    headers: &HeaderMap,
    origin: &str,
    now: u64,
) -> Response {
    if resource != GRAPH_SP_ID {
        return not_found(resource, headers);
    }
    if body["resourceId"].as_str() != Some(resource) {
        return bad_request(
            "resourceId must be the service principal in the request path.",
            headers,
        );
    }
    let role_id = body["appRoleId"].as_str().unwrap_or_default().to_owned();
    if !GRAPH_APP_ROLES.iter().any(|(_, id)| *id == role_id) {
        return bad_request(
            &format!("Permission being assigned was not found on application '{GRAPH_APP_ID}'."),
            headers,
        );
    }
    let principal = body["principalId"].as_str().unwrap_or_default().to_owned();
    if !state
        .reg
        .sps
        .iter()
        .any(|s| s.id == principal && visible_now(s.visible_at, now))
    {
        return bad_request("Not a valid reference update.", headers);
    }
    if state
        .reg
        .assignments
        .iter()
        .any(|a| a.principal_id == principal && a.app_role_id == role_id)
    {
        return bad_request(
            "Permission being assigned already exists on the object.",
            headers,
        );
    }
    let id = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    let visible_at = visible_at(&state.reg);
    state.reg.assignments.push(Assignment {
        id: id.clone(),
        principal_id: principal.clone(),
        app_role_id: role_id.clone(),
        visible_at,
    });
    created(
        json!({"@odata.context": format!("{origin}/v1.0/$metadata#servicePrincipals('{resource}')/appRoleAssignedTo/$entity"),
               "id": id, "appRoleId": role_id, "principalId": principal, "principalType": "ServicePrincipal",
               "resourceDisplayName": "Microsoft Graph", "resourceId": resource, "deletedDateTime": null}),
        &format!("{origin}/v1.0/servicePrincipals/{resource}/appRoleAssignedTo/{id}"),
    )
}
