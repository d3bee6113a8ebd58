//! How many requests adsync keeps in flight to one application: an adaptive limit (additive
//! increase, multiplicative decrease) between 1 and the administrator's ceiling
//! (`[target] max_concurrency`).
//!
//! Why adaptive: applications sit behind gateways, rate limits and small worker pools. A fixed
//! number of requests in flight is either too few for a server that scales or too many for one
//! that does not. `scim2-server`, for one, answers one request at a time, closes each connection
//! and listens with a backlog of 5: eight connection attempts at once overflow that queue, and
//! each dropped attempt waits a second for the kernel's SYN retry. So the limit starts low, grows
//! by one per round of requests while their latency stays near the lowest seen, and shrinks when
//! latency climbs (requests queue at the server instead of being served) or the server refuses,
//! resets, times out or answers 429/503/504.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The limit adsync starts at: low, so a small server is never flooded before it has answered.
pub const INITIAL_LIMIT: usize = 2;

/// Latency this many times the baseline means requests are queueing at the server.
const QUEUEING_FACTOR: f64 = 2.0;

/// A latency this many times the baseline and at least [`SEVERE_FLOOR`] is not queueing but a
/// connection attempt the server dropped (the kernel retries a SYN after a second): the limit
/// halves, as on a refusal.
const SEVERE_FACTOR: f64 = 10.0;
const SEVERE_FLOOR: Duration = Duration::from_millis(500);

/// Latencies within this much of the baseline are noise, whatever the ratio (a 1 ms baseline
/// on loopback would otherwise make a 2 ms answer look like congestion).
const NOISE: Duration = Duration::from_millis(3);

/// The baseline drifts up by this factor every [`DRIFT_EVERY`] samples, so that a server that
/// becomes slower for good (a growing store) is not taken for an overloaded one forever.
const DRIFT: f64 = 1.05;
const DRIFT_EVERY: u32 = 50;

/// How a request ended, as far as the limit is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (any status but the overload ones): its latency is a sample.
    Answered,
    /// Answered, but its latency says nothing about load (a read of a large page, which takes
    /// longer than a write by its size, not by congestion).
    AnsweredUnsampled,
    /// Refused, reset, timed out, or answered 429/503/504: the server is past its limit.
    Overloaded,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    /// The lowest latency seen of a sampled request (drifting up slowly).
    baseline: Option<Duration>,
    samples: u32,
    /// Requests finished since the last decrease: one decrease per round of requests, so that
    /// the answers to requests sent before the decrease do not shrink the limit again.
    since_decrease: usize,
    decreases: u32,
    peak_limit: usize,
    /// Below the limit at which the server last refused or dropped a connection attempt: growth
    /// stops here, so the limit does not keep probing into a full backlog (each probe stalls a
    /// request for the kernel's SYN retry). It rises by one every [`CAP_RISE_EVERY`] answers.
    cap: f64,
    since_cap_rise: u32,
}

/// See `State::cap`.
const CAP_RISE_EVERY: u32 = 1000;

/// An adaptive limit on requests in flight, shared by the clones of one client.
#[derive(Debug)]
pub struct AdaptiveLimit {
    ceiling: usize,
    state: Mutex<State>,
    freed: Notify,
}

/// A slot taken with [`AdaptiveLimit::acquire`]; give it back with [`Permit::finish`]. Dropped
/// without `finish` (the request's future was cancelled), it frees the slot without a sample.
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a AdaptiveLimit,
    started: Instant,
    finished: bool,
}

/// What the limit did so far, for logs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitStats {
    /// The current limit (requests in flight allowed).
    pub limit: usize,
    /// The highest limit reached.
    pub peak: usize,
    /// How many times it was decreased.
    pub decreases: u32,
    /// The lowest latency seen, in milliseconds.
    pub baseline_ms: Option<f64>,
}

impl AdaptiveLimit {
    /// A limit starting at [`INITIAL_LIMIT`] (or `ceiling`, if lower) that never exceeds
    /// `ceiling` (at least 1).
    pub fn new(ceiling: usize) -> Self {
        let ceiling = ceiling.max(1);
        let start = INITIAL_LIMIT.min(ceiling);
        Self {
            ceiling,
            state: Mutex::new(State {
                limit: start as f64,
                in_flight: 0,
                baseline: None,
                samples: 0,
                since_decrease: 0,
                decreases: 0,
                peak_limit: start,
                cap: ceiling as f64,
                since_cap_rise: 0,
            }),
            freed: Notify::new(),
        }
    }

    /// The administrator's ceiling.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the limit did so far.
    pub fn stats(&self) -> LimitStats {
        let s = self.state();
        LimitStats {
            limit: s.limit as usize,
            peak: s.peak_limit,
            decreases: s.decreases,
            baseline_ms: s.baseline.map(|b| b.as_secs_f64() * 1000.0),
        }
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a slot freed in between still wakes this task.
            freed.as_mut().enable();
            {
                let mut s = self.state();
                if s.in_flight < (s.limit as usize).max(1) {
                    s.in_flight += 1;
                    return Permit {
                        limit: self,
                        started: Instant::now(),
                        finished: false,
                    };
                }
            }
            freed.await;
        }
    }

    fn release(&self, latency: Option<Duration>, outcome: Outcome) {
        {
            let mut s = self.state();
            s.in_flight = s.in_flight.saturating_sub(1);
            s.since_decrease += 1;
            let round_over = s.since_decrease >= (s.limit as usize).max(1);
            let decrease = |s: &mut State, factor: f64| {
                s.limit = (s.limit * factor).max(1.0);
                s.since_decrease = 0;
                s.decreases += 1;
            };
            match (outcome, latency) {
                (Outcome::Overloaded, _) if round_over => {
                    s.cap = (s.limit - 1.0).max(1.0);
                    decrease(&mut s, 0.5);
                }
                (Outcome::Answered, Some(latency)) => {
                    s.samples += 1;
                    let baseline = match s.baseline {
                        Some(b) if s.samples.is_multiple_of(DRIFT_EVERY) => b.mul_f64(DRIFT),
                        Some(b) => b,
                        None => latency,
                    };
                    let baseline = baseline.min(latency);
                    s.baseline = Some(baseline);
                    let queueing =
                        latency > baseline.mul_f64(QUEUEING_FACTOR) && latency > baseline + NOISE;
                    let dropped =
                        latency > baseline.mul_f64(SEVERE_FACTOR) && latency >= SEVERE_FLOOR;
                    if queueing {
                        if round_over {
                            if dropped {
                                s.cap = (s.limit - 1.0).max(1.0);
                                decrease(&mut s, 0.5);
                            } else {
                                decrease(&mut s, 0.8);
                            }
                        }
                    } else {
                        // One more per round of `limit` answers.
                        s.since_cap_rise += 1;
                        if s.since_cap_rise >= CAP_RISE_EVERY {
                            s.since_cap_rise = 0;
                            s.cap = (s.cap + 1.0).min(self.ceiling as f64);
                        }
                        s.limit = (s.limit + 1.0 / s.limit).min(s.cap.max(1.0));
                        s.peak_limit = s.peak_limit.max(s.limit as usize);
                    }
                }
                _ => {}
            }
        }
        // Wake every waiter: after an increase more than one may go; the rest wait again.
        self.freed.notify_waiters();
    }
}

impl Permit<'_> {
    /// Gives the slot back, with how the request ended.
    pub fn finish(mut self, outcome: Outcome) {
        self.finished = true;
        self.limit.release(Some(self.started.elapsed()), outcome);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.limit.release(None, Outcome::AnsweredUnsampled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(limit: &AdaptiveLimit, latency: Duration, outcome: Outcome) {
        limit.state().in_flight += 1;
        limit.release(Some(latency), outcome);
    }

    #[test]
    fn grows_while_latency_stays_flat_up_to_the_ceiling() {
        let limit = AdaptiveLimit::new(16);
        assert_eq!(limit.stats().limit, INITIAL_LIMIT);
        for _ in 0..30 {
            answer(&limit, Duration::from_millis(5), Outcome::Answered);
        }
        let grown = limit.stats().limit;
        assert!(grown > 4, "limit after 30 flat answers: {grown}");
        for _ in 0..1000 {
            answer(&limit, Duration::from_millis(5), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 16, "never above the ceiling");
        assert_eq!(limit.stats().decreases, 0);
    }

    #[test]
    fn backs_off_when_requests_queue_or_the_server_refuses() {
        let limit = AdaptiveLimit::new(16);
        for _ in 0..1000 {
            answer(&limit, Duration::from_millis(5), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 16);
        // A SYN retry: one answer a second late halves the limit.
        answer(&limit, Duration::from_millis(1005), Outcome::Answered);
        let after_slow = limit.stats();
        assert_eq!(after_slow.limit, 8, "{after_slow:?}");
        assert_eq!(after_slow.decreases, 1);
        // Answers to requests sent before the decrease do not shrink it again at once.
        answer(&limit, Duration::from_millis(1005), Outcome::Answered);
        assert_eq!(limit.stats().decreases, 1);
        // A refusal halves it, once the round is over.
        for _ in 0..20 {
            answer(&limit, Duration::from_millis(5), Outcome::Answered);
        }
        let before = limit.stats().limit;
        answer(&limit, Duration::from_millis(5), Outcome::Overloaded);
        assert_eq!(limit.stats().limit, (before / 2).max(1));
        // And it never goes below one.
        for _ in 0..200 {
            answer(&limit, Duration::from_millis(5), Outcome::Overloaded);
        }
        assert_eq!(limit.stats().limit, 1);
    }

    #[test]
    fn after_a_dropped_attempt_growth_stops_below_where_it_happened() {
        let limit = AdaptiveLimit::new(16);
        for _ in 0..1000 {
            answer(&limit, Duration::from_millis(1), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 16);
        // A SYN retry at 16 in flight: halved, and it will not grow back to 16 soon.
        answer(&limit, Duration::from_millis(1001), Outcome::Answered);
        for _ in 0..900 {
            answer(&limit, Duration::from_millis(1), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 15, "{:?}", limit.stats());
        // Long quiet: the cap rises again, one step per thousand answers.
        for _ in 0..1200 {
            answer(&limit, Duration::from_millis(1), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 16);
    }

    #[test]
    fn queueing_takes_off_a_fifth() {
        let limit = AdaptiveLimit::new(16);
        for _ in 0..1000 {
            answer(&limit, Duration::from_millis(5), Outcome::Answered);
        }
        // Three times the baseline: requests wait at the server, but none was dropped.
        answer(&limit, Duration::from_millis(15), Outcome::Answered);
        let stats = limit.stats();
        assert_eq!((stats.limit, stats.decreases), (12, 1), "{stats:?}");
    }

    #[test]
    fn small_latency_differences_on_loopback_are_noise() {
        let limit = AdaptiveLimit::new(8);
        answer(&limit, Duration::from_micros(500), Outcome::Answered);
        for _ in 0..200 {
            answer(&limit, Duration::from_micros(2500), Outcome::Answered);
        }
        assert_eq!(limit.stats().limit, 8);
        assert_eq!(limit.stats().decreases, 0);
    }

    #[test]
    fn unsampled_answers_neither_grow_nor_shrink_the_limit() {
        let limit = AdaptiveLimit::new(8);
        answer(&limit, Duration::from_millis(1), Outcome::Answered);
        for _ in 0..100 {
            answer(&limit, Duration::from_secs(2), Outcome::AnsweredUnsampled);
        }
        let stats = limit.stats();
        assert_eq!((stats.limit, stats.decreases), (INITIAL_LIMIT, 0));
    }

    #[tokio::test]
    async fn never_more_in_flight_than_the_limit() {
        let limit = std::sync::Arc::new(AdaptiveLimit::new(3));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let (limit, in_flight, most) = (limit.clone(), in_flight.clone(), most.clone());
                tokio::spawn(async move {
                    let permit = limit.acquire().await;
                    let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    permit.finish(Outcome::Answered);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let most = most.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            (1..=3).contains(&most),
            "at most the ceiling in flight: {most}"
        );
        assert_eq!(limit.state().in_flight, 0, "every slot given back");
    }
}
