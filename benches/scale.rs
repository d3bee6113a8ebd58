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

// ---------------------------------------------------------------------------------------------
// Snapshots built in memory from a synthetic tenant (what the readers would return).

fn settings_for(synth: &Synth, extra: &str) -> Settings {
    let text = format!(
        "version = 1\n[entra]\ntenant = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"env:X\"\n\
         [target]\nurl = \"http://127.0.0.1:1/scim/v2\"\ntoken = \"env:Y\"\n{}\n{extra}",
        synth::DOMAIN,
        synth::CLIENT_ID,
        synth.pairs_toml()
    );
    Settings::from_file(&parse_str(&text).expect("the bench config is valid"))
}

fn source_snapshot(synth: &Synth) -> SourceSnapshot {
    let users: HashMap<&str, &serde_json::Map<String, Value>> = synth
        .fixture
        .users
        .iter()
        .map(|u| (u["id"].as_str().unwrap(), u))
        .collect();
    let groups: HashMap<&str, &serde_json::Map<String, Value>> = synth
        .fixture
        .groups
        .iter()
        .map(|g| (g["id"].as_str().unwrap(), g))
        .collect();
    let mut snapshot = SourceSnapshot::default();
    for pair in &synth.pairs {
        let mut members = BTreeSet::new();
        let mut visited = HashSet::new();
        let mut queue = vec![pair.entra_group_id.as_str()];
        while let Some(g) = queue.pop() {
            if !visited.insert(g) {
                continue;
            }
            for m in groups[g]["members"].as_array().unwrap() {
                let m = m.as_str().unwrap();
                if let Some(user) = users.get(m) {
                    members.insert(m.to_owned());
                    snapshot.users.entry(m.to_owned()).or_insert_with(|| {
                        let entra: EntraUser =
                            serde_json::from_value(Value::Object((*user).clone())).unwrap();
                        entra.into()
                    });
                } else if pair.nested && groups.contains_key(m) {
                    queue.push(m);
                }
            }
        }
        let g = groups[pair.entra_group_id.as_str()];
        snapshot.groups.insert(
            pair.entra_group_id.clone(),
            SourceGroup {
                id: pair.entra_group_id.clone(),
                display_name: pair.entra_group_name.clone(),
                created: g["createdDateTime"].as_str().map(str::to_owned),
                members,
            },
        );
    }
    snapshot
}

fn target_snapshot(synth: &Synth) -> TargetSnapshot {
    let mut snapshot = TargetSnapshot::default();
    for user in &synth.seed.users {
        let user: TargetUser = ScimUser::from_json(user).unwrap().into();
        snapshot.users.insert(user.id.clone(), user);
    }
    for pair in &synth.pairs {
        snapshot.groups.insert(
            pair.target_group_id.clone(),
            TargetGroup {
                id: pair.target_group_id.clone(),
                display_name: pair.target_group_name.clone(),
                members: BTreeSet::new(),
            },
        );
    }
    snapshot
}

/// The state after the first sync applied in full: every created or linked user in the target
/// with its mapped values, in its group, and linked.
fn after_first_sync(
    first: &adsync::sync::Plan,
    target: &TargetSnapshot,
) -> (TargetSnapshot, Links) {
    let mut target = target.clone();
    let mut links = Links::new();
    for (n, action) in first.actions.iter().enumerate() {
        if !matches!(action.kind, ActionKind::Create | ActionKind::Link) {
            continue;
        }
        let ex = &action.execution;
        let desired = ex.desired().unwrap();
        let id = action
            .target_user_id
            .clone()
            .unwrap_or_else(|| format!("created-{n:06}"));
        target.users.insert(
            id.clone(),
            TargetUser {
                id: id.clone(),
                external_id: Some(desired.external_id.clone()),
                user_name: desired.user_name.clone(),
                emails: vec![desired.emails.clone()],
                active: true,
                given_name: desired.given_name.clone(),
                family_name: desired.family_name.clone(),
                display_name: desired.display_name.clone(),
                phone: desired.phone.clone(),
                title: desired.title.clone(),
                department: desired.department.clone(),
                employee_number: desired.employee_number.clone(),
                extra: desired.extra.clone(),
                roles: desired.roles.clone(),
            },
        );
        for g in &ex.add_to {
            target.groups.get_mut(g).unwrap().members.insert(id.clone());
        }
        links.insert(
            action.entra_id.clone(),
            Link {
                entra_id: action.entra_id.clone(),
                target_id: id,
                group: ex.record_group.clone().flatten(),
                groups_added: BTreeSet::new(),
                values_hash: ex.values_hash.clone(),
                disabled_by_adsync: false,
                roles_given: desired.roles.iter().cloned().collect(),
                manual: None,
            },
        );
    }
    (target, links)
}

/// Ten in-scope users with a new job title.
fn change_ten(source: &SourceSnapshot, links: &Links) -> SourceSnapshot {
    let mut source = source.clone();
    let ids: Vec<String> = links
        .keys()
        .step_by(links.len() / 10)
        .take(10)
        .cloned()
        .collect();
    for id in ids {
        let user: &mut SourceUser = source.users.get_mut(&id).unwrap();
        user.job_title = Some(format!(
            "{} (acting)",
            user.job_title.as_deref().unwrap_or("")
        ));
    }
    source
}

// ---------------------------------------------------------------------------------------------
// 1. plan()

/// Plans `runs` times: the last plan, and each run's wall time (ms), thread CPU time (ms) and
/// peak bytes allocated (MiB).
fn plan_runs(
    input: PlanInput<'_>,
    runs: usize,
) -> (adsync::sync::Plan, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut times, mut cpus, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let cpu0 = thread_cpu();
        let (p, t, peak) = measured(|| plan(input).unwrap());
        cpus.push((thread_cpu() - cpu0).as_secs_f64() * 1000.0);
        times.push(t.as_secs_f64() * 1000.0);
        peaks.push(mib(peak));
        drop(last.replace(p));
    }
    (last.expect("at least one run"), times, cpus, peaks)
}

fn bench_plan(args: &Args) {
    println!();
    println!("== plan(): pure, in-process ({} runs each) ==", args.runs);
    for (users, groups) in [(1_000, 100), (10_000, 2_000), (100_000, 20_000)] {
        let spec = SynthSpec {
            users,
            groups,
            seed: args.seed,
        };
        let (synth, gen_time, _) = measured(|| synth::generate(spec));
        let settings = settings_for(&synth, "");
        let source = source_snapshot(&synth);
        let target = target_snapshot(&synth);
        let none = Links::new();
        let input = PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &none,
        };
        let (first, times, cpus, peaks) = plan_runs(input, args.runs);
        let s = &first.summary;
        println!(
            "{users:>7} users / {groups:>6} groups (generated in {:.2} s; {} in scope):",
            gen_time.as_secs_f64(),
            source.users.len()
        );
        println!(
            "  first sync   : wall {}; CPU {}; peak alloc {}  [{} create, {} link, {} skip]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            s.create,
            s.link,
            s.skip
        );
        // Where a first sync's memory goes besides plan(): the JSON report `sync --format json`
        // prints, and the members as JSON values (what the Graph client holds before parsing).
        let ((), json_time, json_peak) = measured(|| drop(first.to_json()));
        let member_json: Vec<String> = synth
            .fixture
            .users
            .iter()
            .take(10_000)
            .map(|u| serde_json::to_string(u).unwrap())
            .collect();
        let (values, _, values_peak) = measured(|| {
            member_json
                .iter()
                .map(|t| serde_json::from_str::<Value>(t).unwrap())
                .collect::<Vec<_>>()
        });
        drop(values);
        let per_user = values_peak as f64 / member_json.len().max(1) as f64;
        println!(
            "  report JSON  : to_json() {:.0} ms, peak alloc {:.1} MiB; members as JSON values \
             {:.0} B/user (over 10k users)",
            json_time.as_secs_f64() * 1000.0,
            mib(json_peak),
            per_user
        );
        // A breakdown of one part every plan pays for every in-scope user: the mapping and the
        // hash of the mapped values (R4).
        let policy = settings.policy.username;
        let cpu0 = thread_cpu();
        let desired: Vec<_> = source
            .users
            .values()
            .map(|u| adsync::sync::desired_user(u, policy))
            .collect();
        let cpu_map = thread_cpu() - cpu0;
        let cpu0 = thread_cpu();
        let hashes: usize = desired
            .iter()
            .map(|d| adsync::sync::values_hash(d).len())
            .sum();
        let cpu_hash = thread_cpu() - cpu0;
        println!(
            "  breakdown    : desired_user() for all {} users {:.0} ms CPU, values_hash() {:.0} ms CPU ({} hex chars)",
            desired.len(),
            cpu_map.as_secs_f64() * 1000.0,
            cpu_hash.as_secs_f64() * 1000.0,
            hashes
        );
        drop(desired);
        let (target2, links) = after_first_sync(&first, &target);
        let changed = change_ten(&source, &links);
        let input = PlanInput {
            settings: &settings,
            source: &changed,
            target: &target2,
            links: &links,
        };
        let (last, times, cpus, peaks) = plan_runs(input, args.runs);
        let s = last.summary;
        println!(
            "  steady state : wall {}; CPU {}; peak alloc {}  [{} update, {} unchanged]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            s.update,
            s.unchanged
        );
        drop((first, target2, links, changed));

        // The same with 15 mappings: the users carry the extra sources they read.
        let settings = settings_for(&synth, FIFTEEN_MAPPINGS);
        assert_eq!(settings.mappings.len(), 15);
        let mut source = source;
        for (n, u) in source.users.values_mut().enumerate() {
            if n % 3 != 0 {
                u.extra.insert(
                    "mobilePhone".into(),
                    format!("+1 206 555 {:04}", n % 10_000),
                );
            }
            u.extra.insert(
                "employeeOrgData.costCenter".into(),
                format!("CC-{}", 1000 + n % 40),
            );
            u.extra.insert(
                "onPremisesExtensionAttributes.extensionAttribute1".into(),
                format!("B-{n}"),
            );
        }
        let input = PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &none,
        };
        let (first, times, cpus, peaks) = plan_runs(input, args.runs);
        println!(
            "  15 mappings, first sync   : wall {}; CPU {}; peak alloc {}  [{} create]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            first.summary.create,
        );
        let (target2, links) = after_first_sync(&first, &target);
        drop(first);
        let changed = change_ten(&source, &links);
        let input = PlanInput {
            settings: &settings,
            source: &changed,
            target: &target2,
            links: &links,
        };
        let (last, times, cpus, peaks) = plan_runs(input, args.runs);
        println!(
            "  15 mappings, steady state : wall {}; CPU {}; peak alloc {}  [{} update, {} unchanged]",
            fmt_stat(&times, "ms", 1),
            fmt_stat(&cpus, "ms", 1),
            fmt_stat(&peaks, "MiB", 1),
            last.summary.update,
            last.summary.unchanged
        );
    }
}

/// 15 `[[mappings]]` of every kind (source, constant, template, transform, default, typed
/// multi-valued paths, the enterprise and a custom extension) for the `plan` case.
const FIFTEEN_MAPPINGS: &str = r#"
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
[[mappings]]
target = "costCenter"
source = "employeeOrgData.costCenter"
default = "CC-0"
[[mappings]]
target = "division"
value = "Operations"
[[mappings]]
target = "organization"
source = "companyName"
[[mappings]]
target = "userType"
value = "Employee"
[[mappings]]
target = "nickName"
template = "{givenName}.{surname}"
transform = "lower"
[[mappings]]
target = "addresses[type eq \"work\"].locality"
source = "city"
[[mappings]]
target = "addresses[type eq \"work\"].country"
source = "country"
[[mappings]]
target = "urn:example:params:scim:schemas:extension:acme:2.0:User:badge"
source = "onPremisesExtensionAttributes.extensionAttribute1"
[[mappings]]
target = "preferredLanguage"
value = "en-US"
[[mappings]]
target = "locale"
source = "usageLocation"
default = "US"
[[mappings]]
target = "title"
source = "jobTitle"
transform = "upper"
[[mappings]]
target = "displayName"
template = "{surname}, {givenName}"
[[mappings]]
target = "name.formatted"
template = "{givenName} {surname}"
when = "create"
[[mappings]]
target = "timezone"
value = "Europe/Berlin"
"#;

// ---------------------------------------------------------------------------------------------
// The simulators in this process and the real binary as a child.

fn adsync_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_adsync"))
}

struct World {
    rt: tokio::runtime::Runtime,
    entra: EntraSim,
    scim: ScimSim,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    fn new(synth: &Synth, interval_secs: u64, small_app: bool) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (entra, scim) = rt.block_on(async {
            (
                EntraSim::start(synth.fixture.clone()).await.unwrap(),
                ScimSim::start_with(
                    synth.seed.clone(),
                    0,
                    if small_app {
                        Behaviour::like_scim2_server()
                    } else {
                        Behaviour::default()
                    },
                )
                .await
                .unwrap(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &entra.url(),
            &scim.url(),
            synth::APP_TOKEN,
            &synth.pairs_toml(),
            interval_secs,
        );
        Self {
            rt,
            entra,
            scim,
            dir,
            config,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        adsync_command(&self.config, self.dir.path(), args)
    }
}

/// The config of a benchmark run in `dir`: the simulated tenant at `entra`, the application at
/// `scim` with bearer `token` (kept in a file beside it), and `pairs`.
fn write_config(
    dir: &std::path::Path,
    entra: &str,
    scim: &str,
    app_token: &str,
    pairs: &str,
    interval_secs: u64,
) -> PathBuf {
    let secret = dir.join("entra-secret");
    let token = dir.join("app-token");
    for (path, value) in [(&secret, synth::CLIENT_SECRET), (&token, app_token)] {
        std::fs::write(path, value).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let config = dir.join("config.toml");
    let text = format!(
        r#"version = 1
[entra]
tenant = "{domain}"
client_id = "{client}"
client_secret = "file:{secret}"
authority_url = "{entra}"
graph_url = "{entra}"

[target]
url = "{scim}"
token = "file:{token}"

{pairs}
[policy]
max_disables = 100000
max_disable_percent = 100

[service]
interval_secs = {interval_secs}
state_path = "{state}"
log_dir = "{logs}"
"#,
        domain = synth::DOMAIN,
        client = synth::CLIENT_ID,
        secret = secret.display(),
        token = token.display(),
        state = dir.join("state.sqlite3").display(),
        logs = dir.join("logs").display(),
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// `adsync --config CONFIG ARGS` in `dir`.
///
/// `ADSYNC_BENCH_BIN` runs another build of adsync (an earlier commit's, to measure a change
/// before and after); `ADSYNC_BENCH_WRAP=heaptrack` (or `perf record -g`) runs adsync under a
/// profiler, and the numbers printed are then the profiler's, not adsync's.
fn adsync_command(config: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> Command {
    let binary = std::env::var_os("ADSYNC_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(adsync_binary);
    let mut cmd = match std::env::var("ADSYNC_BENCH_WRAP") {
        Ok(wrap) if !wrap.trim().is_empty() => {
            let mut words = wrap.split_whitespace();
            let mut cmd = Command::new(words.next().unwrap());
            cmd.args(words).arg(binary);
            cmd
        }
        _ => Command::new(binary),
    };
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("HOME", dir);
    cmd
}

/// Waits for a child and returns (exit code, peak RSS in KiB).
///
/// The peak is the child's `VmHWM` (`/proc/PID/status`), read every 5 ms until it exits. Not
/// `wait4`'s `ru_maxrss`: Linux records there the high-water mark of the memory the process had
/// before `exec`, which for a child spawned from this process (vfork or fork) is this process's
/// own, simulators and their 100,000-user tenant included. That made an 80 MiB adsync look like
/// 160 MiB at 20,000 users.
#[cfg(unix)]
fn wait_rusage(child: &mut std::process::Child) -> (i32, u64) {
    let (code, peak, _) = wait_usage(child);
    (code, peak)
}

/// [`wait_rusage`], and the CPU time (user + system) the child used, from `wait4` (which is
/// right for CPU; only its `ru_maxrss` is not).
#[cfg(unix)]
fn wait_usage(child: &mut std::process::Child) -> (i32, u64, Duration) {
    let pid = child.id() as libc::pid_t;
    let status_file = format!("/proc/{pid}/status");
    let hwm_kib = |text: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let mut peak = 0u64;
    loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            let time = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            return (code, peak, time(usage.ru_utime) + time(usage.ru_stime));
        }
        assert_eq!(r, 0, "waitpid failed");
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .as_deref()
            .and_then(hwm_kib)
        {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Requests by kind in a simulator's log.
fn graph_counts(entra: &EntraSim) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in entra.log().requests() {
        let kind = if r.path.contains("/oauth2/") {
            "token"
        } else if r.path.contains("/delta") {
            "delta"
        } else if r.path.contains("/members") || r.path.contains("/transitiveMembers") {
            "member pages"
        } else if r.path.starts_with("/v1.0/groups/") {
            "group reads"
        } else if r.path.starts_with("/v1.0/users/") {
            "user reads"
        } else {
            "other"
        };
        *out.entry(kind).or_insert(0) += 1;
    }
    out
}

fn scim_counts(scim: &ScimSim) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in scim.log().requests() {
        let what = if r.path.contains("/Users") {
            "Users"
        } else if r.path.contains("/Groups") {
            "Groups"
        } else {
            "other"
        };
        *out.entry(format!("{} {what}", r.method)).or_insert(0) += 1;
    }
    out
}

fn graph_total(counts: &BTreeMap<&'static str, usize>) -> usize {
    counts
        .iter()
        .filter(|(k, _)| **k != "token")
        .map(|(_, v)| v)
        .sum()
}

fn show<K: std::fmt::Display>(counts: &BTreeMap<K, usize>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// 2. The first full sync.

fn bench_sync(args: &Args) {
    let spec = SynthSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    };
    println!();
    println!(
        "== adsync sync: first full sync, {} users / {} groups, release binary, {} runs ==",
        spec.users, spec.groups, args.runs
    );
    if args.small_app {
        println!(
            "the application takes connections like scim2-server: one request each, one at a time, backlog 5"
        );
    }
    let synth = synth::generate(spec);
    let minimum = synth.minimum_member_pages();
    println!(
        "pairs reach {:?} users; minimum Graph reads: {minimum} member pages of 999 (+{} group \
         reads the engine makes per pair)",
        synth.pair_user_counts(),
        synth.pairs.len()
    );
    let mut walls = Vec::new();
    let mut rss = Vec::new();
    for run in 1..=args.runs {
        let world = World::new(&synth, 60, args.small_app);
        let out = world.dir.path().join("sync.json");
        let start = Instant::now();
        let mut child = world
            .command(&["sync", "--format", "json"])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if text.len() < 4000 {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            text
        });
        let (code, maxrss_kib) = wait_rusage(&mut child);
        let wall = start.elapsed();
        let errors = errors.join().unwrap();
        let report: Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap_or(Value::Null);
        let failed = report["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|x| x["result"]["status"] == "failed")
                    .count()
            })
            .unwrap_or(0);
        let graph = graph_counts(&world.entra);
        let scim = scim_counts(&world.scim);
        let graph_requests = graph_total(&graph);
        walls.push(wall.as_secs_f64());
        rss.push(maxrss_kib as f64 / 1024.0);
        println!(
            "run {run}: exit {code}, wall {:.1} s, peak RSS {:.0} MiB, load {}",
            wall.as_secs_f64(),
            maxrss_kib as f64 / 1024.0,
            load()
        );
        println!("  summary: {}", report["summary"]);
        println!(
            "  failed actions: {failed}; app users now: {}",
            world.scim.user_count()
        );
        println!(
            "  Graph: {graph_requests} requests ({:.3}x the minimum {minimum}) [{}]",
            graph_requests as f64 / minimum as f64,
            show(&graph)
        );
        println!(
            "  SCIM: {} requests [{}]",
            world.scim.log().total(),
            show(&scim)
        );
        if code != 0 {
            println!("  stderr: {errors}");
        }
        world.rt.block_on(async {
            world.entra.stop().await;
            world.scim.stop().await;
        });
    }
    println!(
        "sync {} users: wall {}; peak RSS {}",
        spec.users,
        fmt_stat(&walls, "s", 1),
        fmt_stat(&rss, "MiB", 0)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. An incremental cycle with 10 changed users.

/// stderr lines of a running child, each with the moment it was read.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<(Instant, String)> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing any of `needles`; returns it with when it came.
fn wait_for(
    rx: &mpsc::Receiver<(Instant, String)>,
    needles: &[&str],
    timeout: Duration,
) -> (Instant, String) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((at, line)) if needles.iter().any(|n| line.contains(n)) => return (at, line),
            Ok((_, line)) if line.contains("cycle failed") => panic!("adsync run: {line}"),
            Ok(_) => {}
            Err(e) => panic!("no line with {needles:?} within {timeout:?}: {e}"),
        }
    }
}

fn bench_incremental(args: &Args) {
    let spec = SynthSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    };
    println!();
    println!(
        "== adsync run: an incremental cycle with 10 changed users, {} users / {} groups, {} runs ==",
        spec.users, spec.groups, args.runs
    );
    let synth = synth::generate(spec);
    // Ten enabled members of All Staff, spread over the tenant.
    let candidates: Vec<String> = synth
        .fixture
        .users
        .iter()
        .filter(|u| u["accountEnabled"] == true)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let step = (candidates.len() / 10).max(1);
    let mut walls = Vec::new();
    let mut graphs = Vec::new();
    let mut scims = Vec::new();
    let mut rss = Vec::new();
    for run in 1..=args.runs {
        let world = World::new(&synth, 5, args.small_app);
        let mut child = world
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let rx = lines_of(&mut child);
        let started = Instant::now();
        wait_for(&rx, &["full cycle:"], Duration::from_secs(1800));
        let startup = started.elapsed();
        // One quiet interval, so the delta links are in place and the loop is idle.
        wait_for(&rx, &["no changes"], Duration::from_secs(120));
        world.entra.log().clear();
        world.scim.log().clear();
        for (n, id) in candidates.iter().step_by(step).take(10).enumerate() {
            world.entra.update_user(
                id,
                json!({"jobTitle": format!("Acting Lead {run}-{n}"), "officeLocation": "HQ-9/900"}),
            );
        }
        // The cycle starts with its first Graph request; it ends with its summary line.
        let changed = Instant::now();
        let begin = loop {
            if world.entra.log().total() > 0 {
                break Instant::now();
            }
            assert!(
                changed.elapsed() < Duration::from_secs(60),
                "no cycle began"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        let (end, line) = wait_for(
            &rx,
            &["full cycle:", "incremental cycle:", "cycle done", "cycle:"],
            Duration::from_secs(1800),
        );
        let line = if line.contains("reconciling") {
            // The current loop announces a full reconciliation first, then runs it.
            wait_for(&rx, &["full cycle:"], Duration::from_secs(1800))
        } else {
            (end, line)
        };
        let (end, line) = line;
        let wall = end.duration_since(begin);
        let graph = graph_counts(&world.entra);
        let scim = scim_counts(&world.scim);
        let graph_requests = graph_total(&graph);
        let scim_requests = world.scim.log().total();
        // Stop the service (SIGTERM) and take its peak RSS.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let (_, maxrss_kib) = wait_rusage(&mut child);
        println!(
            "run {run}: start-up full cycle {:.1} s; incremental cycle {:.3} s; load {}",
            startup.as_secs_f64(),
            wall.as_secs_f64(),
            load()
        );
        println!("  log: {}", line.trim());
        println!("  Graph: {graph_requests} requests [{}]", show(&graph));
        println!("  SCIM: {scim_requests} requests [{}]", show(&scim));
        println!(
            "  peak RSS of adsync run (whole life): {:.0} MiB",
            maxrss_kib as f64 / 1024.0
        );
        walls.push(wall.as_secs_f64());
        graphs.push(graph_requests as f64);
        scims.push(scim_requests as f64);
        rss.push(maxrss_kib as f64 / 1024.0);
        world.rt.block_on(async {
            world.entra.stop().await;
            world.scim.stop().await;
        });
    }
    println!(
        "incremental, 10 changes in {} users: wall {}; Graph requests {}; SCIM requests {}; peak RSS {}",
        spec.users,
        fmt_stat(&walls, "s", 3),
        fmt_stat(&graphs, "", 0),
        fmt_stat(&scims, "", 0),
        fmt_stat(&rss, "MiB", 0)
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Into scim2-server, started exactly as its package ships it.

/// `scim2-server` from the Python environment the interop tests make (`target/scim-venv`), or
/// `$SCIM2_SERVER`.
fn scim2_server_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SCIM2_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/scim-venv/bin/scim2-server");
    assert!(
        venv.exists(),
        "{} is missing: run the interop tests once (cargo nextest run -E 'test(/scim2_server/)'), \
         which install scim2-server 0.8.3 there, or set SCIM2_SERVER to its path",
        venv.display()
    );
    venv
}

/// Requests by `METHOD Resource` from scim2-server's access log on stderr (wsgiref writes one
/// line per request: `127.0.0.1 - - [date] "POST /v2/Users HTTP/1.1" 201 811`).
type Counts = std::sync::Arc<std::sync::Mutex<BTreeMap<String, usize>>>;

struct Scim2Server {
    child: std::process::Child,
    url: String,
    counts: Counts,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scim2Server {
    fn start(token: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(scim2_server_bin())
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", token])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start scim2-server");
        let counts = Counts::default();
        let stderr = child.stderr.take().unwrap();
        let sink = counts.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let Some(request) = line.split('"').nth(1) else {
                    continue;
                };
                let mut words = request.split_whitespace();
                let (Some(method), Some(path)) = (words.next(), words.next()) else {
                    continue;
                };
                let resource = path
                    .trim_start_matches("/v2/")
                    .split(['/', '?'])
                    .next()
                    .unwrap_or("")
                    .to_owned();
                *sink
                    .lock()
                    .unwrap()
                    .entry(format!("{method} {resource}"))
                    .or_insert(0) += 1;
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "scim2-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/v2"),
            counts,
        }
    }

    /// The requests counted since the last call.
    fn take_counts(&self) -> BTreeMap<String, usize> {
        // The log line comes after the answer: give the reader a moment to catch up.
        std::thread::sleep(Duration::from_millis(200));
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

/// Creates the pairs' target groups in the (empty) application; returns the pairs with their ids.
fn create_target_groups(
    synth: &Synth,
    url: &str,
    token: &str,
    rt: &tokio::runtime::Runtime,
) -> String {
    let client = reqwest::Client::new();
    let mut pairs = synth.pairs_toml();
    let mut done = HashMap::new();
    for pair in &synth.pairs {
        if done.contains_key(&pair.target_group_id) {
            continue;
        }
        let created: Value = rt.block_on(async {
            client
                .post(format!("{url}/Groups"))
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .json(&json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": pair.target_group_name,
                }))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let id = created["id"].as_str().unwrap().to_owned();
        pairs = pairs.replace(
            &format!("\"{}\"", pair.target_group_id),
            &format!("\"{id}\""),
        );
        done.insert(pair.target_group_id.clone(), id);
    }
    pairs
}

fn bench_interop(args: &Args) {
    for &users in &args.sizes {
        let spec = SynthSpec {
            users,
            groups: (users / 5).max(10),
            seed: args.seed,
        };
        println!();
        println!(
            "== adsync sync into scim2-server (started as shipped), {} users / {} groups, {} runs ==",
            spec.users, spec.groups, args.runs
        );
        let synth = synth::generate(spec);
        let candidates: Vec<String> = synth
            .fixture
            .users
            .iter()
            .filter(|u| u["accountEnabled"] == true)
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let step = (candidates.len() / 10).max(1);
        // phase → (walls, CPU times, peak RSS), one per run.
        let mut stats: BTreeMap<&str, [Vec<f64>; 3]> = BTreeMap::new();
        for run in 1..=args.runs {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let entra = rt.block_on(EntraSim::start(synth.fixture.clone())).unwrap();
            let token = format!("bench-{}", uuid::Uuid::new_v4().simple());
            let app = Scim2Server::start(&token);
            let pairs = create_target_groups(&synth, &app.url, &token, &rt);
            let dir = tempfile::tempdir().unwrap();
            let config = write_config(dir.path(), &entra.url(), &app.url, &token, &pairs, 60);
            app.take_counts();
            for phase in ["first sync", "no change", "10 changed"] {
                if phase == "10 changed" {
                    for (n, id) in candidates.iter().step_by(step).take(10).enumerate() {
                        entra.update_user(
                            id,
                            json!({"jobTitle": format!("Acting Lead {run}-{n}"), "officeLocation": "HQ-9/900"}),
                        );
                    }
                }
                entra.log().clear();
                let out = dir.path().join("sync.json");
                let start = Instant::now();
                let mut child = adsync_command(&config, dir.path(), &["sync", "--format", "json"])
                    .stdout(std::fs::File::create(&out).unwrap())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let stderr = child.stderr.take().unwrap();
                let errors = std::thread::spawn(move || {
                    let mut text = String::new();
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        if text.len() < 4000 {
                            text.push_str(&line);
                            text.push('\n');
                        }
                    }
                    text
                });
                let (code, peak_kib, cpu) = wait_usage(&mut child);
                let wall = start.elapsed();
                let errors = errors.join().unwrap();
                let report: Value =
                    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap_or(Value::Null);
                let failed = report["actions"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|x| x["result"]["status"] == "failed")
                            .count()
                    })
                    .unwrap_or(0);
                let scim = app.take_counts();
                let graph = graph_counts(&entra);
                println!(
                    "run {run}, {phase}: exit {code}, wall {:.2} s, adsync CPU {:.2} s, peak RSS {:.0} MiB, load {}",
                    wall.as_secs_f64(),
                    cpu.as_secs_f64(),
                    peak_kib as f64 / 1024.0,
                    load()
                );
                println!("  summary: {}; failed actions: {failed}", report["summary"]);
                println!(
                    "  SCIM: {} requests [{}]",
                    scim.values().sum::<usize>(),
                    show(&scim)
                );
                println!(
                    "  Graph: {} requests [{}]",
                    graph_total(&graph),
                    show(&graph)
                );
                if code != 0 {
                    println!("  stderr: {errors}");
                }
                let entry = stats.entry(phase).or_default();
                entry[0].push(wall.as_secs_f64());
                entry[1].push(cpu.as_secs_f64());
                entry[2].push(peak_kib as f64 / 1024.0);
            }
            rt.block_on(entra.stop());
        }
        for (phase, [walls, cpus, rss]) in &stats {
            println!(
                "interop {users} users, {phase}: wall {}; CPU {}; peak RSS {}",
                fmt_stat(walls, "s", 2),
                fmt_stat(cpus, "s", 2),
                fmt_stat(rss, "MiB", 0)
            );
        }
    }
}
