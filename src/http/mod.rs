//! HTTP plumbing shared by the Graph and SCIM clients: one `reqwest` client setup and the retry
//! policy for throttling and transient errors (R10), and the adaptive limit on requests in flight
//! to the application.

mod limit;
mod retry;

pub use limit::{AdaptiveLimit, INITIAL_LIMIT, LimitStats, Outcome, Permit};
pub use retry::{
    Replay, RetryPolicy, is_retryable_status, parse_retry_after, send_limited, send_with_retry,
};

/// The `User-Agent` adsync sends, so server logs show who called.
pub const USER_AGENT: &str = concat!("adsync/", env!("CARGO_PKG_VERSION"));

/// A `reqwest` client with adsync's defaults: rustls, a user agent, connect and request timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .expect("the TLS backend is compiled in")
}
