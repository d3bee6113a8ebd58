//! Benchmarks at tenant scale (issue 8): prints numbers, asserts nothing about speed.
//!
//! ```sh
//! cargo bench --bench scale                       # everything: plan, sync, incremental
//! cargo bench --bench scale -- plan               # plan() at 1k/10k/100k users
//! cargo bench --bench scale -- sync --users 100000 --groups 20000 --runs 3
//! cargo bench --bench scale -- incremental --runs 3
//! cargo bench --bench scale -- interop --sizes 1000,10000 --runs 1
//! cargo bench --bench scale -- sync --like-scim2-server --runs 1
//! ```
//!
//! - `plan`: the pure `plan()` on in-memory snapshots built from a synthetic tenant (see
//!   `src/sim/synth.rs`), for the first sync (everything to create or link) and for a steady
//!   state with 10 changed users; wall time and the peak of bytes allocated during the call
//!   (a counting allocator). Then the same two plans again with 15 `[[mappings]]` of every kind
//!   (SPEC §3.1), beside the default mapping's numbers.
//! - `sync`: the real `adsync sync` binary (release) against both simulators running in this
//!   process over loopback: wall time, Graph and SCIM requests (the simulators' request logs),
//!   the least number of Graph pages the read could take, peak RSS of the adsync process
//!   (`VmHWM`, sampled; see `wait_rusage`).
//! - `interop`: `adsync sync` three times (first sync, nothing changed, 10 users changed) into
//!   `scim2-server` 0.8.3 started exactly as shipped, at `--sizes 1000,10000` users: wall time,
//!   adsync's CPU and peak RSS, SCIM requests by kind from the server's access log.
//! - `--like-scim2-server` (with `sync` or `incremental`): the simulated application takes
//!   connections like `scim2-server` (one request per connection, one at a time, backlog 5).
//! - `incremental`: `adsync run` as a black box; after its start-up cycle and one quiet interval,
//!   10 users change in the simulated tenant; the cycle that picks them up is timed from its first
//!   Graph request to its log line, with the requests on both sides.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use adsync::config::{Settings, parse_str};
use adsync::entra::EntraUser;
use adsync::scim::ScimUser;
use adsync::sim::entra::EntraSim;
use adsync::sim::scim::{Behaviour, ScimSim};
use adsync::sim::synth::{self, Synth, SynthSpec};
use adsync::sync::{
    ActionKind, Link, Links, PlanInput, SourceGroup, SourceSnapshot, SourceUser, TargetGroup,
    TargetSnapshot, TargetUser, plan,
};
use serde_json::{Value, json};

mod interop;
mod planning;
mod runs;

use interop::*;
use planning::*;
use runs::*;

// ---------------------------------------------------------------------------------------------
// A counting allocator: current and peak bytes in use.

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size > layout.size() {
                let grow = new_size - layout.size();
                let now = CURRENT.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result, its wall time and the peak bytes allocated above what was
/// in use when it started.
fn measured<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    (out, elapsed, peak)
}

/// CPU time of the calling thread so far (what a call cost, whatever else the machine runs).
fn thread_cpu() -> Duration {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------------------------------------
// Statistics and printing.

fn median_spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

fn fmt_stat(values: &[f64], unit: &str, digits: usize) -> String {
    let mut v = values.to_vec();
    let (median, min, max) = median_spread(&mut v);
    format!(
        "median {median:.digits$} {unit} (min {min:.digits$}, max {max:.digits$}, n={})",
        v.len()
    )
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    format!("{cpu}, {cores} cores available, {mem} RAM")
}

// ---------------------------------------------------------------------------------------------
// Arguments.

struct Args {
    what: Vec<String>,
    users: usize,
    groups: usize,
    runs: usize,
    seed: u64,
    /// `interop`: the tenant sizes, users (groups are a fifth).
    sizes: Vec<usize>,
    /// `sync`, `incremental`: the simulated application behaves like scim2-server as shipped
    /// (one request per connection, one at a time, a listen backlog of 5).
    small_app: bool,
}

fn args() -> Args {
    let mut args = Args {
        what: Vec::new(),
        users: 100_000,
        groups: 20_000,
        runs: 3,
        seed: 8,
        sizes: vec![1000, 10_000],
        small_app: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match a.as_str() {
            "--bench" => {}
            "--like-scim2-server" => args.small_app = true,
            "--users" => args.users = num("--users") as usize,
            "--groups" => args.groups = num("--groups") as usize,
            "--runs" => args.runs = (num("--runs") as usize).max(1),
            "--seed" => args.seed = num("--seed"),
            "--sizes" => {
                args.sizes = it
                    .next()
                    .map(|v| {
                        v.split(',')
                            .map(|n| n.trim().parse().expect("--sizes: numbers"))
                            .collect()
                    })
                    .expect("--sizes takes a list such as 1000,10000")
            }
            "plan" | "sync" | "incremental" | "interop" => args.what.push(a),
            other if other.starts_with('-') => {}
            other => panic!("unknown benchmark {other}: plan, sync, incremental or interop"),
        }
    }
    if args.what.is_empty() {
        args.what = vec!["plan".into(), "sync".into(), "incremental".into()];
    }
    args
}

fn main() {
    let args = args();
    println!("adsync scale benchmarks");
    println!("machine: {}", machine());
    println!("load average at start: {}", load());
    for what in args.what.clone() {
        match what.as_str() {
            "plan" => bench_plan(&args),
            "sync" => bench_sync(&args),
            "incremental" => bench_incremental(&args),
            "interop" => bench_interop(&args),
            _ => unreachable!(),
        }
    }
    println!("load average at end: {}", load());
}

/// Ten enabled users spread over the tenant: the ones the 10-change runs change.
fn ten_enabled_users(synth: &Synth) -> Vec<String> {
    let enabled: Vec<&str> = synth
        .fixture
        .users
        .iter()
        .filter(|u| u["accountEnabled"] == true)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    let step = (enabled.len() / 10).max(1);
    enabled
        .into_iter()
        .step_by(step)
        .take(10)
        .map(str::to_owned)
        .collect()
}
