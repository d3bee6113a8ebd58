//! HTTP plumbing shared by the Graph and SCIM clients: one `reqwest` client setup and the retry
//! policy for throttling and transient errors (R10), and the adaptive limit on requests in flight
//! to the application. Neither client follows redirects, and bodies are read with a ceiling
//! ([`body`]).

pub mod body;
#[cfg(test)]
pub(crate) mod fuzz;
mod limit;
mod path;
mod retry;

pub use limit::{AdaptiveLimit, INITIAL_LIMIT, LimitStats, Outcome, Permit};
pub use path::{path_segment, unplain_reason};
pub use retry::{
    RetryPolicy, is_retryable_status, parse_retry_after, send_limited, send_with_retry,
};

/// The `User-Agent` adsync sends, so server logs show who called.
pub const USER_AGENT: &str = concat!("adsync/", env!("CARGO_PKG_VERSION"));

/// A `reqwest` client with adsync's defaults: rustls, a user agent, connect and request timeouts,
/// and no redirects followed: a write redirected to another host would carry its body (a default
/// password) and credentials there, and a read redirected would be taken for the real answer.
/// Callers treat a 3xx as an error naming the URL and the `Location`.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("the TLS backend is compiled in")
}
