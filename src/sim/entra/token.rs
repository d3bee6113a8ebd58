//! The simulated token endpoint (graph-notes §1): client credentials with a secret (form or HTTP
//! Basic) or a certificate assertion checked in Entra's order, and the AADSTS error bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{Issued, State};

/// Allowed clock skew for assertions, in seconds.
const SKEW_SECS: u64 = 300;

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// An identity-platform error response.
pub(super) fn aad_error(
    status: u16,
    error: &str,
    code: u32,
    message: &str,
    headers: &HeaderMap,
) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let timestamp = httpdate_like();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response();
    response
        .headers_mut()
        .insert("cache-control", "no-store, no-cache".parse().unwrap());
    response
}

/// `YYYY-MM-DD HH:MM:SSZ`, as the STS writes timestamps.
fn httpdate_like() -> String {
    iso(now_secs()).replace('T', " ")
}

/// Epoch seconds as ISO-8601 UTC (`2024-07-15T11:14:02Z`).
pub(super) fn iso(secs: u64) -> String {
    crate::time::format_time(secs as i64 * 1000)
}

fn is_guid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok() && text.len() == 36
}

/// Handles `/{tenant}/oauth2/v2.0/token`.
pub(super) fn token(
    state: &mut State,
    tenant: &str,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
    origin: &str,
) -> Response {
    if method != "POST" {
        return aad_error(
            400,
            "invalid_request",
            900561,
            &format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request."
            ),
            headers,
        );
    }
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body).into_owned().collect();
    let lowered = tenant.to_ascii_lowercase();
    if ["common", "consumers", "organizations"].contains(&lowered.as_str()) {
        return aad_error(
            400,
            "invalid_request",
            9001023,
            "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            headers,
        );
    }
    if let Some(cloud) = state
        .tenant
        .other_cloud_tenants
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(tenant))
        .map(|(_, cloud)| cloud.clone())
    {
        return aad_error(
            400,
            "invalid_request",
            90038,
            &format!(
                "NationalCloudTenantRedirection - The specified tenant '{tenant}' belongs to the National Cloud '{cloud}'. Current cloud instance 'AzureCloud' does not federate with '{cloud}'. Please sign in to the National Cloud '{cloud}'."
            ),
            headers,
        );
    }
    let is_ours = tenant.eq_ignore_ascii_case(&state.tenant.id)
        || tenant.eq_ignore_ascii_case(&state.tenant.domain);
    if !is_ours {
        if !is_guid(tenant) && !tenant.contains('.') {
            return aad_error(
                400,
                "invalid_request",
                900023,
                &format!(
                    "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
                ),
                headers,
            );
        }
        return aad_error(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
            headers,
        );
    }
    match form.get("grant_type").map(String::as_str) {
        None => {
            return aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
                headers,
            );
        }
        Some("client_credentials") => {}
        Some(other) => {
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
                headers,
            );
        }
    }
    // Client id: from the form, or from HTTP Basic.
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| {
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                // RFC 6749 asks for form-encoding inside Basic; many clients skip it, so keep both.
                (decode(id), (secret.to_owned(), decode(secret)))
            })
        });
    let Some(client_id) = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
    else {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
            headers,
        );
    };
    let Some(scope) = form.get("scope") else {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
            headers,
        );
    };
    let resource = state
        .tenant
        .graph_resource
        .clone()
        .unwrap_or_else(|| "https://graph.microsoft.com".into());
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.iter().any(|s| !s.ends_with("/.default")) {
        return aad_error(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
            headers,
        );
    }
    if scopes.len() > 1 {
        return aad_error(
            400,
            "invalid_scope",
            700022,
            &format!(
                "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
            headers,
        );
    }
    if scopes[0]
        .trim_end_matches("/.default")
        .trim_end_matches('/')
        != resource
    {
        return aad_error(
            400,
            "invalid_scope",
            70011,
            &format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
            headers,
        );
    }
    let tenant_name = state.tenant.display_name.clone();
    let Some(app) = state
        .apps
        .iter()
        .find(|a| a.fixture.client_id.eq_ignore_ascii_case(&client_id))
        .cloned()
    else {
        return aad_error(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
            headers,
        );
    };
    if !app.fixture.enabled {
        return aad_error(
            400,
            "unauthorized_client",
            7000112,
            &format!(
                "Application '{client_id}'({}) is disabled.",
                app.fixture.display_name
            ),
            headers,
        );
    }
    let secret = form
        .get("client_secret")
        .cloned()
        .map(|s| (s.clone(), s))
        .or_else(|| basic.map(|(_, s)| s));
    let assertion = form.get("client_assertion");
    let appidacr = if let Some(secret) = secret {
        let found = app
            .fixture
            .secrets
            .iter()
            .find(|s| s.value == secret.0 || s.value == secret.1);
        match found {
            Some(s) if s.expired => {
                return aad_error(
                    401,
                    "invalid_client",
                    7000222,
                    &format!(
                        "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                    ),
                    headers,
                );
            }
            Some(_) => "1",
            None => {
                return aad_error(
                    401,
                    "invalid_client",
                    7000215,
                    &format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                    headers,
                );
            }
        }
    } else if let Some(assertion) = assertion {
        let audience = format!("{origin}/{tenant}/oauth2/v2.0/token");
        if let Err(response) = check_assertion(&app, assertion, &client_id, &audience, headers) {
            return response;
        }
        "2"
    } else {
        return aad_error(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            headers,
        );
    };
    let now = now_secs();
    let lifetime = state.token_lifetime_secs;
    let tid = state.tenant.id.clone();
    let mut claims = json!({
        "aud": resource,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "app_displayname": app.fixture.display_name,
        "appid": client_id,
        "appidacr": appidacr,
        "idp": format!("https://sts.windows.net/{tid}/"),
        "idtyp": "app",
        "oid": uuid::Uuid::new_v4().to_string(),
        "tid": tid,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    // Without consent Entra still issues a token, just without `roles`.
    if !app.fixture.roles.is_empty() {
        claims["roles"] = json!(app.fixture.roles);
    }
    let header = json!({"typ": "JWT", "alg": "RS256", "nonce": uuid::Uuid::new_v4().simple().to_string(), "x5t": "sim"});
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    );
    state.issued.insert(
        token.clone(),
        Issued {
            roles: app.fixture.roles.clone(),
            expires: now + lifetime,
        },
    );
    let mut response = axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
    .into_response();
    response
        .headers_mut()
        .insert("cache-control", "no-store, no-cache".parse().unwrap());
    response
}

fn b64_any(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
}

/// Validates a client assertion in the order of graph-notes §1.2.
#[allow(clippy::result_large_err)] // an early HTTP answer, built once per request
fn check_assertion(
    app: &super::App,
    assertion: &str,
    client_id: &str,
    audience: &str,
    headers: &HeaderMap,
) -> Result<(), Response> {
    use rsa::signature::Verifier;
    let invalid = || {
        aad_error(
            401,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed.",
            headers,
        )
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid());
    }
    let decode_json = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(header), Some(claims), Some(signature)) = (
        decode_json(parts[0]),
        decode_json(parts[1]),
        URL_SAFE_NO_PAD.decode(parts[2]).ok(),
    ) else {
        return Err(invalid());
    };
    if claims["iss"] != claims["sub"] {
        return Err(aad_error(
            401,
            "invalid_client",
            50048,
            "Subject mismatches Issuer claim in the client assertion.",
            headers,
        ));
    }
    let sha1 = header["x5t"].as_str().and_then(b64_any);
    let sha256 = header["x5t#S256"].as_str().and_then(b64_any);
    let cert = app.certs.iter().find(|c| {
        sha1.as_deref() == Some(c.sha1.as_slice()) || sha256.as_deref() == Some(c.sha256.as_slice())
    });
    let Some(cert) = cert else {
        let shown = sha1
            .map(|d| d.iter().map(|b| format!("{b:02X}")).collect::<String>())
            .unwrap_or_default();
        return Err(aad_error(
            401,
            "invalid_client",
            700027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{shown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']"
            ),
            headers,
        ));
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    let verified = match header["alg"].as_str() {
        Some("RS256") => rsa::pkcs1v15::Signature::try_from(signature.as_slice())
            .ok()
            .is_some_and(|sig| {
                rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(cert.key.clone())
                    .verify(signed.as_bytes(), &sig)
                    .is_ok()
            }),
        Some("PS256") => rsa::pss::Signature::try_from(signature.as_slice())
            .ok()
            .is_some_and(|sig| {
                rsa::pss::VerifyingKey::<sha2::Sha256>::new(cert.key.clone())
                    .verify(signed.as_bytes(), &sig)
                    .is_ok()
            }),
        _ => false,
    };
    if !verified {
        return Err(aad_error(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
            headers,
        ));
    }
    let now = now_secs();
    let nbf = claims["nbf"].as_u64().unwrap_or(0);
    let exp = claims["exp"].as_u64().unwrap_or(0);
    if now + SKEW_SECS < nbf || exp + SKEW_SECS < now {
        return Err(aad_error(
            401,
            "invalid_client",
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                iso(now),
                iso(nbf),
                iso(exp)
            ),
            headers,
        ));
    }
    if claims["aud"].as_str() != Some(audience) {
        return Err(aad_error(
            401,
            "invalid_client",
            700021,
            &format!(
                "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials . Expected audience '{audience}'."
            ),
            headers,
        ));
    }
    if claims["iss"].as_str() != Some(client_id) {
        return Err(aad_error(
            401,
            "invalid_client",
            700023,
            "Client assertion contains an invalid issuer: the issuer is not the client id.",
            headers,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_are_civil_utc() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso(1_721_042_042), "2024-07-15T11:14:02Z");
    }
}
