//! `adsync sync` into `scim2-server` started exactly as its package ships it: first sync,
//! nothing changed, 10 changed.

use super::*;

// ---------------------------------------------------------------------------------------------
// 4. Into scim2-server, started exactly as its package ships it.

/// `scim2-server` from the Python environment the interop tests make (`target/scim-venv`), or
/// `$SCIM2_SERVER`.
pub(crate) fn scim2_server_bin() -> PathBuf {
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

pub(crate) struct Scim2Server {
    pub(crate) child: std::process::Child,
    pub(crate) url: String,
    pub(crate) counts: Counts,
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scim2Server {
    pub(crate) fn start(token: &str) -> Self {
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
    pub(crate) fn take_counts(&self) -> BTreeMap<String, usize> {
        // The log line comes after the answer: give the reader a moment to catch up.
        std::thread::sleep(Duration::from_millis(200));
        std::mem::take(&mut *self.counts.lock().unwrap())
    }
}

/// Creates the pairs' target groups in the (empty) application; returns the pairs with their ids.
pub(crate) fn create_target_groups(
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

pub(crate) fn bench_interop(args: &Args) {
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
        let ten = ten_enabled_users(&synth);
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
                    for (n, id) in ten.iter().enumerate() {
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
                let errors = first_errors(&mut child);
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
