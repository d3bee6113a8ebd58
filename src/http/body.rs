//! Reading response bodies with a ceiling. A server may be broken or hostile: a 1.5 GB answer
//! or an endless stream must end in a clear error after a bounded amount of memory, not grow the
//! process until the request timeout. Bodies are streamed chunk by chunk and abandoned as soon as
//! they pass the ceiling (or at once when `Content-Length` already says they will).

use reqwest::header::LOCATION;

/// The largest page of SCIM or Graph JSON adsync reads (Graph pages hold up to 999 objects, a
/// SCIM page up to 5,000 users; both stay well under this).
pub const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// The most of an error answer adsync reads: enough for any SCIM or Graph error document; the
/// rest is not read.
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The largest token endpoint answer adsync reads (a token is a few kilobytes).
pub const MAX_TOKEN_BYTES: usize = 1024 * 1024;

/// Why a body could not be read in full.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body passed the ceiling; reading stopped there.
    #[error(
        "the answer is larger than {limit} bytes, more than any valid answer; adsync stopped \
         reading it (a broken or hostile server, or a URL pointing at something else)"
    )]
    TooLarge { limit: usize },
    /// The connection broke off or timed out while the body arrived.
    #[error("the answer broke off: {0}")]
    Broken(String),
}

/// Reads the whole body of `response`, failing with [`BodyError::TooLarge`] once it passes
/// `limit` bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Broken(describe(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads at most the first `limit` bytes of `response` (an error answer: its start says what
/// went wrong; the rest is dropped unread). A broken connection keeps what arrived.
pub async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    body
}

/// The `Location` of a redirect answer, without its query (which may carry a token), for an
/// error message; `(none)` when absent.
pub fn redirect_location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| l.split(['?', '#']).next().unwrap_or(l).to_owned())
        .unwrap_or_else(|| "(none)".to_owned())
}

/// A transport error with its causes (refused, DNS, TLS, timeout); none of it holds headers.
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
