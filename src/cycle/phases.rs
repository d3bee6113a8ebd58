//! Timing of a cycle's phases at debug level: wall and CPU time since the cycle began, so a
//! slow cycle on a busy machine can be told from a cycle doing too much work.

use std::time::{Duration, Instant};

/// The start of a cycle, and what to measure from it.
pub(super) struct Phases {
    wall: Instant,
    cpu: Option<Duration>,
}

impl Phases {
    /// Starts timing now.
    pub(super) fn start() -> Self {
        Self {
            wall: Instant::now(),
            cpu: process_cpu(),
        }
    }

    /// Logs (at debug level) that `phase` ended, with the wall and CPU time since the start.
    pub(super) fn done(&self, phase: &str) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let wall_ms = self.wall.elapsed().as_secs_f64() * 1000.0;
        let cpu_ms = match (self.cpu, process_cpu()) {
            (Some(start), Some(now)) => now.saturating_sub(start).as_secs_f64() * 1000.0,
            _ => f64::NAN,
        };
        tracing::debug!(
            phase,
            wall_ms,
            cpu_ms,
            "cycle phase done: {phase} at {wall_ms:.1} ms (CPU {cpu_ms:.1} ms)"
        );
    }
}

/// The CPU time (user + system) of the whole process so far, where the platform tells it.
fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
        if !ok {
            return None;
        }
        // SAFETY: getrusage returned 0, so it filled the struct.
        let usage = unsafe { usage.assume_init() };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Some(time(usage.ru_utime) + time(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}
