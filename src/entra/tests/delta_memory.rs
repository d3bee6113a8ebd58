//! A measurement, not a default test: the peak memory a full users delta round adds, with the
//! simulated tenant in this process. Run it with
//! `cargo nextest run --lib --run-ignored only -E 'test(/delta_round_peak/)' --no-capture`.
//! Measured once each (debug build): 182 MiB with every page's JSON held until the end of the
//! round, 176 MiB with each page parsed as it arrives. The simulator serving the round in the same
//! process dominates the number, so it bounds the round's cost rather than isolating it.

use super::*;
use crate::sim::synth::{SynthSpec, generate};

/// The process's peak resident memory so far (`VmHWM`), in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
#[ignore = "a measurement: run it by name (see the module docs)"]
async fn delta_round_peak_memory_at_50k_users() {
    let synth = generate(SynthSpec::new(50_000, 100));
    let sim = EntraSim::start(synth.fixture).await.unwrap();
    let graph = graph_with(&secret_settings(&sim), &sim.client_secret().unwrap());
    let before = peak_kib();
    let round = graph.users_delta(None).await.unwrap();
    let after = peak_kib();
    println!(
        "users delta round of {} users: peak grew {} MiB (VmHWM {} -> {} MiB)",
        round.changed.len(),
        (after - before) / 1024,
        before / 1024,
        after / 1024
    );
    assert!(round.changed.len() >= 40_000, "{}", round.changed.len());
}
