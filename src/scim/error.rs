//! What can go wrong talking to a SCIM application. Errors keep the server's RFC 7644 error body
//! (`status`, `scimType`, `detail`) and say what to do next; they never contain a credential.

use crate::secret::SecretError;

/// A failed SCIM request.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// The application could not be reached at all (DNS, connection refused, TLS, timeout).
    #[error(
        "cannot reach the SCIM application at {url}: {detail}. Check [target] url and that the \
         application is running and reachable from this machine"
    )]
    Unreachable { url: String, detail: String },

    /// A write had no answer within its own deadline ([`crate::scim::WRITE_DEADLINE`]): the
    /// application may or may not have carried it out. Only that user's action fails.
    #[error(
        "the SCIM application did not answer {method} {url} within {secs} s, adsync's deadline \
         for one write; this user's change failed and the next cycle tries it again (a create is \
         looked up first). If the application is often this slow, check its load"
    )]
    WriteTimedOut {
        method: String,
        url: String,
        secs: u64,
    },

    /// 401 or 403: the credentials were refused.
    #[error(
        "the SCIM application refused adsync's credentials ({status}{}) at {url}. Check the \
         bearer token (or user name and password) that [target] refers to, and that it has not \
         expired or been revoked", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Unauthorized {
        url: String,
        status: u16,
        detail: Option<String>,
    },

    /// Any other error status, with the server's SCIM error body.
    #[error(
        "{method} {url} failed with {status}{}{}",
        scim_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default(),
        detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Status {
        method: String,
        url: String,
        status: u16,
        /// RFC 7644 §3.12 `scimType`, e.g. `uniqueness`, `invalidFilter`.
        scim_type: Option<String>,
        /// The server's `detail` (or the start of a non-SCIM body).
        detail: Option<String>,
    },

    /// The answer was not the JSON expected (malformed, or not a SCIM resource).
    #[error("{method} {url}: the answer is not valid SCIM: {detail}")]
    InvalidResponse {
        method: String,
        url: String,
        detail: String,
    },

    /// A listing that the server cut short or paged inconsistently; nothing read from it can be
    /// trusted to be complete (R10).
    #[error("{url}: the listing is incomplete: {detail}")]
    Incomplete { url: String, detail: String },

    /// The server answered with a redirect. adsync follows none: a redirected write would carry
    /// its body (a default password) and the credential to wherever the server points.
    #[error(
        "{method} {url} was answered {status} with a redirect to {location}; adsync does not \
         follow redirects, so nothing was sent there and this request did not happen. If the \
         application moved, set [target] url to its new address"
    )]
    Redirected {
        method: String,
        url: String,
        status: u16,
        location: String,
    },

    /// An id that cannot go into a URL path as it is (`../Groups/…`, a slash, a control
    /// character): nothing was sent for it.
    #[error(
        "the application's {what} id {id:?} is not a plain id ({reason}); adsync does not put it \
         in a URL, so nothing was written for this {what}. Look at this {what} in the application"
    )]
    UnsafeId {
        what: &'static str,
        id: String,
        reason: &'static str,
    },

    /// The credential could not be read from where the config says it is.
    #[error("cannot read the SCIM application's credential: {0}")]
    Secret(#[from] SecretError),
    /// `[target] ca_file` cannot be used.
    #[error("target.ca_file: {0}")]
    CaFile(#[from] crate::http::CaFileError),

    /// Several target users carry the keys of one user being created (R2, R13): adsync neither
    /// creates another nor picks one.
    #[error(
        "{count} users in the application ({}) carry the {key} {value:?} of a user adsync was \
         creating; it created no other and linked none. Remove or rename the duplicates, or \
         choose one with `adsync link`",
        ids.join(", ")
    )]
    Ambiguous {
        key: &'static str,
        value: String,
        count: usize,
        ids: Vec<String>,
    },
}

impl ScimError {
    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ScimError::Unauthorized { status, .. } | ScimError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// RFC 7644 `scimType`, when the server sent one.
    pub fn scim_type(&self) -> Option<&str> {
        match self {
            ScimError::Status { scim_type, .. } => scim_type.as_deref(),
            _ => None,
        }
    }

    /// Might the request have taken effect although it failed? A timeout, a dropped connection,
    /// a 5xx or an unreadable answer: for a create, the application may have committed it (R13).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ScimError::Unreachable { .. }
            | ScimError::WriteTimedOut { .. }
            | ScimError::InvalidResponse { .. } => true,
            // 501: the server does not implement it at all, so nothing was done.
            ScimError::Status { status, .. } => {
                (*status >= 500 && *status != 501) || *status == 408
            }
            _ => false,
        }
    }

    /// Is this a 404 (the resource does not exist)?
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
