//! The errors of the Entra ID boundary: what went wrong signing in or reading Graph, said so that
//! an administrator knows what to change. Each keeps the identifiers Microsoft support asks for
//! (AADSTS code, trace and correlation ids, Graph request ids) and never a secret.

use std::fmt;

/// The identifiers of one identity-platform error response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AadDetails {
    /// The first `AADSTS` code of `error_codes` (e.g. 7000215).
    pub code: u32,
    /// The OAuth `error` field (e.g. `invalid_client`).
    pub error: String,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    /// The HTTP status of the response.
    pub status: u16,
}

impl fmt::Display for AadDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AADSTS{}", self.code)?;
        if let Some(trace) = &self.trace_id {
            write!(f, ", trace ID {trace}")?;
        }
        if let Some(correlation) = &self.correlation_id {
            write!(f, ", correlation ID {correlation}")?;
        }
        Ok(())
    }
}

/// The identifiers of one Graph response, for errors that come from Graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphIds {
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

impl fmt::Display for GraphIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.request_id, &self.client_request_id) {
            (Some(r), Some(c)) => write!(f, "request-id {r}, client-request-id {c}"),
            (Some(r), None) => write!(f, "request-id {r}"),
            (None, Some(c)) => write!(f, "client-request-id {c}"),
            (None, None) => f.write_str("no request id"),
        }
    }
}

/// Why talking to Entra ID failed.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    /// The client secret reference or certificate file could not be used.
    #[error("cannot load the Entra ID credential: {0}")]
    Credential(String),

    /// AADSTS90002 / 900023: the tenant does not exist (in this cloud), or is misspelt.
    #[error(
        "tenant '{tenant}' was not found. Check `entra.tenant` (the Directory (tenant) ID GUID or a \
         verified domain such as contoso.onmicrosoft.com) and that `entra.cloud` is the cloud the \
         tenant lives in ({details})"
    )]
    TenantNotFound {
        tenant: String,
        details: Box<AadDetails>,
    },

    /// AADSTS9001023: `common`/`consumers`/`organizations` used with client credentials.
    #[error(
        "`entra.tenant` is '{tenant}', which cannot be used by a background app; set it to your \
         tenant's ID (GUID) or domain ({details})"
    )]
    GenericTenant {
        tenant: String,
        details: Box<AadDetails>,
    },

    /// AADSTS90038: the tenant is in another national cloud.
    #[error(
        "tenant '{tenant}' belongs to another national cloud{}; set `entra.cloud` to that cloud \
         (global, usgov-l4, usgov-l5 or china) ({details})",
        cloud.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    WrongCloud {
        tenant: String,
        cloud: Option<String>,
        details: Box<AadDetails>,
    },

    /// AADSTS700016: no app with this client id in the tenant (or never consented there).
    #[error(
        "no application with client ID {client_id} exists in tenant '{tenant}'. Check \
         `entra.client_id` (the Application (client) ID on the app registration's Overview page) \
         and `entra.tenant`; if the app is registered in another tenant, an administrator of \
         '{tenant}' must grant it admin consent first ({details})"
    )]
    UnknownClient {
        client_id: String,
        tenant: String,
        details: Box<AadDetails>,
    },

    /// AADSTS7000112: the app is disabled.
    #[error(
        "the application {client_id} is disabled in tenant '{tenant}'; an administrator must enable \
         it (Enterprise applications > Properties > Enabled for users to sign in) ({details})"
    )]
    AppDisabled {
        client_id: String,
        tenant: String,
        details: Box<AadDetails>,
    },

    /// AADSTS7000215: wrong secret, often the secret's ID pasted instead of its value.
    #[error(
        "Entra ID rejected the client secret for app {client_id}. Make sure you stored the secret's \
         *Value* (shown once, when the secret is created), not its *Secret ID*; if the value is \
         lost, create a new client secret under Certificates & secrets and store it again with \
         `adsync secret set` ({details})"
    )]
    InvalidSecret {
        client_id: String,
        details: Box<AadDetails>,
    },

    /// AADSTS7000222: the secret has expired.
    #[error(
        "the client secret of app {client_id} has expired. Create a new one under Certificates & \
         secrets on the app registration, store it with `adsync secret set`, or switch to a \
         certificate ({details})"
    )]
    SecretExpired {
        client_id: String,
        details: Box<AadDetails>,
    },

    /// AADSTS700027 (key not found): the certificate is not registered on the app.
    #[error(
        "the certificate (SHA-1 thumbprint {thumbprint}) is not registered on app {client_id}. \
         Upload its public part (.cer/.pem) under Certificates & secrets on the app registration, \
         or point `entra.certificate` at the certificate that is registered ({details})"
    )]
    CertificateNotRegistered {
        client_id: String,
        thumbprint: String,
        details: Box<AadDetails>,
    },

    /// AADSTS700027 (signature): the assertion does not verify against the registered key.
    #[error(
        "Entra ID could not verify the certificate assertion's signature: the private key in \
         `entra.certificate` does not belong to the registered certificate ({details})"
    )]
    AssertionSignature { details: Box<AadDetails> },

    /// AADSTS700024: the assertion's time window does not include Entra's clock.
    #[error(
        "Entra ID says the certificate assertion is outside its valid time range: this computer's \
         clock is probably wrong. Set the clock right (enable NTP time sync) and try again \
         ({details})"
    )]
    ClockSkew { details: Box<AadDetails> },

    /// AADSTS1002012 / 70011 / 700022 / 500011: the scope asked for is wrong.
    #[error(
        "Entra ID rejected the token scope '{scope}': it must be the Graph resource of the tenant's \
         cloud followed by /.default (e.g. https://graph.microsoft.com/.default). Check \
         `entra.cloud` ({details})"
    )]
    InvalidScope {
        scope: String,
        details: Box<AadDetails>,
    },

    /// Any other identity-platform error.
    #[error("Entra ID refused the sign-in: {message} ({details})")]
    SignIn {
        message: String,
        details: Box<AadDetails>,
    },

    /// The token endpoint or Graph could not be reached or answered nonsense.
    #[error("cannot reach {url}: {detail}")]
    Transport { url: String, detail: String },

    /// A Graph call was refused for want of an application permission.
    #[error(
        "Graph refused {what}: the app lacks the application permission {permission}. In the app \
         registration, add Microsoft Graph > Application permissions > {permission}, then have an \
         administrator grant consent: {consent_url} ({ids})"
    )]
    MissingPermission {
        what: String,
        permission: String,
        consent_url: String,
        ids: GraphIds,
    },

    /// A Graph call failed.
    #[error("Graph answered {status} {code} for {what}: {message} ({ids})")]
    Graph {
        what: String,
        status: u16,
        code: String,
        message: String,
        ids: GraphIds,
    },

    /// A group that was asked for does not exist (any more).
    #[error("the Entra group {id} does not exist (deleted, or a wrong id) ({ids})")]
    GroupNotFound { id: String, ids: GraphIds },

    /// A read came back incomplete or unreadable; nothing of it is used.
    #[error("the read of {what} is incomplete: {detail} ({ids}); nothing from it was used")]
    Incomplete {
        what: String,
        detail: String,
        ids: GraphIds,
    },

    /// The delta link is no longer accepted; the caller must run a full sync.
    #[error(
        "Graph says the change tracking for {what} must start over ({detail}); a full resync is \
         needed"
    )]
    ResyncRequired { what: String, detail: String },
}

impl EntraError {
    /// Is this the signal to drop the delta links and run a full sync?
    pub fn is_resync_required(&self) -> bool {
        matches!(self, Self::ResyncRequired { .. })
    }

    /// The AADSTS code, when the error came from the token endpoint.
    pub fn aadsts_code(&self) -> Option<u32> {
        match self {
            Self::TenantNotFound { details, .. }
            | Self::GenericTenant { details, .. }
            | Self::WrongCloud { details, .. }
            | Self::UnknownClient { details, .. }
            | Self::AppDisabled { details, .. }
            | Self::InvalidSecret { details, .. }
            | Self::SecretExpired { details, .. }
            | Self::CertificateNotRegistered { details, .. }
            | Self::AssertionSignature { details }
            | Self::ClockSkew { details }
            | Self::InvalidScope { details, .. }
            | Self::SignIn { details, .. } => Some(details.code),
            _ => None,
        }
    }
}

/// The identity platform's error body (graph-notes §1.5).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub(crate) struct AadErrorBody {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u32>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
}

impl AadErrorBody {
    /// The first line of the description without the `AADSTSnnn: ` prefix and the trace tail.
    pub fn summary(&self) -> String {
        let first = self
            .error_description
            .split("\r\n")
            .next()
            .unwrap_or_default();
        let first = first.split(" Trace ID:").next().unwrap_or(first);
        match first.split_once(": ") {
            Some((code, rest)) if code.starts_with("AADSTS") => rest.trim().to_owned(),
            _ => first.trim().to_owned(),
        }
    }

    fn code(&self) -> u32 {
        if let Some(code) = self.error_codes.first() {
            return *code;
        }
        // Fall back to the description's prefix when `error_codes` is missing.
        self.error_description
            .strip_prefix("AADSTS")
            .and_then(|rest| rest.split(':').next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0)
    }

    /// Turns the body into the error a person can act on.
    pub fn into_error(self, status: u16, ctx: &SignInContext<'_>) -> EntraError {
        let details = Box::new(AadDetails {
            code: self.code(),
            error: self.error.clone(),
            trace_id: self.trace_id.clone(),
            correlation_id: self.correlation_id.clone(),
            status,
        });
        let tenant = ctx.tenant.to_owned();
        let client_id = ctx.client_id.to_owned();
        match details.code {
            90002 | 900023 | 90027 => EntraError::TenantNotFound { tenant, details },
            9001023 => EntraError::GenericTenant { tenant, details },
            90038 | 90051 => {
                let summary = self.summary();
                let cloud = summary
                    .split("National Cloud '")
                    .nth(1)
                    .and_then(|rest| rest.split('\'').next())
                    .map(str::to_owned);
                EntraError::WrongCloud {
                    tenant,
                    cloud,
                    details,
                }
            }
            700016 => EntraError::UnknownClient {
                client_id,
                tenant,
                details,
            },
            7000112 => EntraError::AppDisabled {
                client_id,
                tenant,
                details,
            },
            7000215 => EntraError::InvalidSecret { client_id, details },
            7000222 => EntraError::SecretExpired { client_id, details },
            700027
                if self.error_description.contains("not registered")
                    || self.error_description.contains("key was not found") =>
            {
                EntraError::CertificateNotRegistered {
                    client_id,
                    thumbprint: ctx.thumbprint.unwrap_or("unknown").to_owned(),
                    details,
                }
            }
            700027 => EntraError::AssertionSignature { details },
            700024 => EntraError::ClockSkew { details },
            1002012 | 70011 | 700022 | 500011 => EntraError::InvalidScope {
                scope: ctx.scope.to_owned(),
                details,
            },
            _ => EntraError::SignIn {
                message: self.summary(),
                details,
            },
        }
    }
}

/// What the sign-in was for, so errors can name it.
pub(crate) struct SignInContext<'a> {
    pub tenant: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    /// The certificate's SHA-1 thumbprint (uppercase hex), when signing in with one.
    pub thumbprint: Option<&'a str>,
}

/// Graph's error envelope (graph-notes §6.1), read leniently.
#[derive(Clone, Debug, Default)]
pub(crate) struct GraphErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
}

impl GraphErrorBody {
    pub fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Self {
                message: String::from_utf8_lossy(body).chars().take(200).collect(),
                ..Self::default()
            };
        };
        let error = &value["error"];
        let inner = error
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("innererror"))
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_default();
        let pick = |names: &[&str]| {
            inner.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned))
            })
        };
        Self {
            code: error["code"].as_str().unwrap_or_default().to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            request_id: pick(&["request-id", "requestId"]),
            client_request_id: pick(&["client-request-id"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SignInContext<'static> {
        SignInContext {
            tenant: "contoso.onmicrosoft.com",
            client_id: "11111111-2222-3333-4444-555555555555",
            scope: "https://graph.microsoft.com/.default",
            thumbprint: Some("ABCDEF"),
        }
    }

    #[test]
    fn aad_body_maps_to_an_actionable_error_keeping_the_ids() {
        let body: AadErrorBody = serde_json::from_str(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2024-07-15 11:14:02Z","error_codes":[7000215],"trace_id":"t-1","correlation_id":"c-1"}"#,
        )
        .unwrap();
        assert_eq!(body.summary(), "Invalid client secret provided.");
        let error = body.into_error(401, &ctx());
        let text = error.to_string();
        assert!(text.contains("*Value*"), "{text}");
        assert!(
            text.contains("AADSTS7000215, trace ID t-1, correlation ID c-1"),
            "{text}"
        );
        assert_eq!(error.aadsts_code(), Some(7000215));
    }

    #[test]
    fn graph_error_body_is_read_leniently() {
        let parsed = GraphErrorBody::parse(
            br#"{"error":{"code":"Request_ResourceNotFound","message":"gone","innererror":{"requestId":"r-1","client-request-id":"c-1"}}}"#,
        );
        assert_eq!(parsed.code, "Request_ResourceNotFound");
        assert_eq!(parsed.request_id.as_deref(), Some("r-1"));
        assert_eq!(parsed.client_request_id.as_deref(), Some("c-1"));
        let garbage = GraphErrorBody::parse(b"<html>");
        assert_eq!(garbage.message, "<html>");
    }
}
