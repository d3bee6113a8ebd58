//! The real `adsync` binary against both simulators in this process: `sync` (first sync at
//! scale) and `incremental` (`adsync run` picking up 10 changes).

use super::*;

// ---------------------------------------------------------------------------------------------
// The simulators in this process and the real binary as a child.

pub(crate) fn adsync_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_adsync"))
}

pub(crate) struct World {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) entra: EntraSim,
    pub(crate) scim: ScimSim,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
}

impl World {
    pub(crate) fn new(synth: &Synth, interval_secs: u64, small_app: bool) -> Self {
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

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        adsync_command(&self.config, self.dir.path(), args)
    }
}

/// The config of a benchmark run in `dir`: the simulated tenant at `entra`, the application at
/// `scim` with bearer `token` (kept in a file beside it), and `pairs`.
pub(crate) fn write_config(
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
pub(crate) fn adsync_command(
    config: &std::path::Path,
    dir: &std::path::Path,
    args: &[&str],
) -> Command {
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
    // `ADSYNC_BENCH_LOG=adsync=debug` shows the child's debug lines, such as the timing of each
    // phase of a service cycle (echoed by `wait_for`).
    if let Ok(filter) = std::env::var("ADSYNC_BENCH_LOG") {
        cmd.env("RUST_LOG", filter);
    }
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
pub(crate) fn wait_rusage(child: &mut std::process::Child) -> (i32, u64) {
    let (code, peak, _) = wait_usage(child);
    (code, peak)
}

/// [`wait_rusage`], and the CPU time (user + system) the child used, from `wait4` (which is
/// right for CPU; only its `ru_maxrss` is not).
#[cfg(unix)]
pub(crate) fn wait_usage(child: &mut std::process::Child) -> (i32, u64, Duration) {
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
pub(crate) fn graph_counts(entra: &EntraSim) -> BTreeMap<&'static str, usize> {
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

pub(crate) fn scim_counts(scim: &ScimSim) -> BTreeMap<String, usize> {
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

pub(crate) fn graph_total(counts: &BTreeMap<&'static str, usize>) -> usize {
    counts
        .iter()
        .filter(|(k, _)| **k != "token")
        .map(|(_, v)| v)
        .sum()
}

pub(crate) fn show<K: std::fmt::Display>(counts: &BTreeMap<K, usize>) -> String {
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// 2. The first full sync.

pub(crate) fn bench_sync(args: &Args) {
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
        let errors = first_errors(&mut child);
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

/// The first 4,000 bytes or so of a running child's stderr, read off a thread so the child
/// never blocks on a full pipe; join the handle once it has exited.
pub(crate) fn first_errors(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if text.len() < 4000 {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    })
}

/// stderr lines of a running child, each with the moment it was read.
pub(crate) fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<(Instant, String)> {
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
pub(crate) fn wait_for(
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
            Ok((_, line)) if line.contains("cycle phase done") => println!("  {}", line.trim()),
            Ok(_) => {}
            Err(e) => panic!("no line with {needles:?} within {timeout:?}: {e}"),
        }
    }
}

pub(crate) fn bench_incremental(args: &Args) {
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
    let ten = ten_enabled_users(&synth);
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
        for (n, id) in ten.iter().enumerate() {
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
