//! Retrying throttled and transiently failing requests: 429, 503 and 504 are retried after the
//! server's `Retry-After` (decimal seconds or an HTTP date) or, without one, after an exponential
//! backoff with jitter; a bounded number of times, after which the last response is returned so the
//! caller reports it (R10: the read then fails as a whole).
//!
//! Only requests that are safe to repeat are retried that way ([`Replay::Always`]). A request that
//! must not be repeated blindly (a create: repeated, it makes a second account where the first
//! was committed but its answer lost) is sent again only when it provably did not take effect: the
//! connection was never made, or the server throttled it (429). A timeout, a dropped connection or
//! a 5xx is returned to the caller, which looks the result up before trying again (R13).

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;

use super::limit::{AdaptiveLimit, Outcome};

/// How often and how long to wait between attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// The first backoff when the server gives no `Retry-After`; doubled each attempt.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A policy with short waits for tests against the simulators.
    pub fn fast() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(200),
        }
    }

    /// One attempt only, for a test the administrator is waiting on: a refused connection, a
    /// DNS failure or a TLS error will not change in the next seconds, so it is reported at once.
    pub fn interactive() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// How long to wait before attempt `attempt + 1` (with `attempt` starting at 1), given the
    /// server's `Retry-After`, if any. Without one: `base * 2^(attempt-1)` with ±25 % jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let wait = match retry_after {
            Some(wait) => wait,
            None => {
                let exp = self
                    .base_delay
                    .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
                let jitter = rand::random::<f64>() * 0.5 + 0.75;
                exp.mul_f64(jitter)
            }
        };
        wait.min(self.max_delay)
    }
}

/// Is this a status worth retrying (throttled or transiently unavailable)?
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 503 | 504)
}

/// Parses a `Retry-After` value: seconds (Graph may send decimals such as `2.5`) or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a request may be sent again when what became of it is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Safe to repeat (reads, PATCHes that set values): retried after timeouts and 503/504.
    Always,
    /// Not safe to repeat (creates): retried only after a refused connection or a 429, where the
    /// server cannot have acted on it.
    IfNotReceived,
    /// Safe to repeat after a 503/504 (PATCHes, deletes), but not after its own deadline ran out:
    /// a server that sits on a write gets no second copy to sit on, and the write fails at once
    /// so that it holds up nothing else; the next cycle plans it again.
    UntilDeadline,
}

/// Sends the request `build` makes, retrying per `policy`. Returns the first response that is not
/// retryable, or the last response once attempts run out; connection errors are retried too and
/// the last one is returned as the error.
pub async fn send_with_retry(
    policy: &RetryPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    send_limited(policy, None, false, Replay::Always, build).await
}

/// [`send_with_retry`], each attempt holding a slot of `limit` while it is in flight (not while
/// it waits to retry), and telling the limit how it ended: refusals, resets, timeouts and
/// 429/503/504 shrink it; with `sampled`, the attempt's latency is a sample of the server's load.
/// `replay` says which failures may be retried (see [`Replay`]).
pub async fn send_limited(
    policy: &RetryPolicy,
    limit: Option<&AdaptiveLimit>,
    sampled: bool,
    replay: Replay,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut attempt = 1;
    loop {
        let permit = match limit {
            Some(limit) => Some(limit.acquire().await),
            None => None,
        };
        let outcome = build().send().await;
        if let Some(permit) = permit {
            permit.finish(match &outcome {
                Ok(response) if is_retryable_status(response.status()) => Outcome::Overloaded,
                Ok(_) if sampled => Outcome::Answered,
                Ok(_) => Outcome::AnsweredUnsampled,
                Err(error) if is_overload(error) => Outcome::Overloaded,
                Err(_) => Outcome::AnsweredUnsampled,
            });
        }
        let last = attempt >= policy.max_attempts;
        let may_repeat = |status: StatusCode| {
            replay != Replay::IfNotReceived || status == StatusCode::TOO_MANY_REQUESTS
        };
        let may_resend = |error: &reqwest::Error| {
            error.is_connect() || (replay == Replay::Always && error.is_timeout())
        };
        match outcome {
            Ok(response)
                if is_retryable_status(response.status())
                    && may_repeat(response.status())
                    && !last =>
            {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let wait = policy.delay(attempt, retry_after);
                tracing::info!(
                    status = response.status().as_u16(),
                    url = %response.url(),
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "throttled or unavailable; retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Err(error) if may_resend(&error) && !last => {
                let wait = policy.delay(attempt, None);
                tracing::info!(%error, attempt, wait_ms = wait.as_millis() as u64, "request failed; retrying");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
        attempt += 1;
    }
}

/// A failure that says the server is past what it can take: refused, reset, or too slow.
/// (A request the server could not parse, or a TLS error, says nothing about load.)
fn is_overload(error: &reqwest::Error) -> bool {
    if error.is_connect() || error.is_timeout() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::TimedOut
            );
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_decimal_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("2.5", now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
    }

    #[test]
    fn delay_honours_retry_after_within_the_cap_and_backs_off_without() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        };
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(99))),
            Duration::from_secs(10)
        );
        for attempt in 1..=4 {
            let expected = 100.0 * f64::from(1u32 << (attempt - 1));
            let got = policy.delay(attempt, None).as_secs_f64() * 1000.0;
            assert!(
                got >= expected * 0.75 - 1e-6 && got <= expected * 1.25 + 1e-6,
                "{attempt}: {got}"
            );
        }
    }

    #[test]
    fn only_throttling_and_gateway_errors_are_retryable() {
        for code in [429, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
        for code in [200, 400, 401, 403, 404, 409, 500, 502] {
            assert!(!is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
    }
}
