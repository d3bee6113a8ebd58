//! Frame time of the wizard's group-pairing step with 20,000 groups per column, headless.
//!
//! `cargo bench --bench wizard` builds the step's UI with `egui::Context::run_ui` on a 1024×768
//! screen for several hundred frames per scenario and prints mean / p50 / p95 / max of the CPU
//! time spent building the UI, and of building plus tessellating it (turning shapes into the
//! triangles a renderer uploads). GPU time is not included: there is no GPU here.
//! Results are recorded in docs/wizard-performance.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use adsync::wizard::pairing::{GroupItem, PairRow, PairingStep, Side};
use egui::{
    Context, Event, Modifiers, MouseWheelSource, MouseWheelUnit, RawInput, Rect, TouchPhase, pos2,
    vec2,
};

const GROUPS: usize = 20_000;
const PAIRS: usize = 40;
const FRAMES: usize = 400;
const WARM_UP: usize = 20;

const DEPARTMENTS: [&str; 8] = [
    "Support",
    "Sales",
    "Engineering",
    "Finance",
    "Marketing",
    "Operations",
    "Legal",
    "Research",
];
const PLACES: [&str; 6] = ["Berlin", "Dublin", "Austin", "Sydney", "Tokyo", "Nairobi"];

/// Entra groups are "Sales Dublin team 00042", target groups "Sales Dublin role 00042".
fn groups(prefix: &str, kind: &str) -> Vec<GroupItem> {
    (0..GROUPS)
        .map(|i| GroupItem {
            id: format!("{prefix}-{i:08x}-0000-4000-8000-{i:012x}"),
            name: format!(
                "{} {} {kind} {i:05}",
                DEPARTMENTS[i % DEPARTMENTS.len()],
                PLACES[(i / DEPARTMENTS.len()) % PLACES.len()]
            ),
            // Every third count known, as after an administrator has browsed a while.
            members: (i % 3 == 0).then_some(i % 250),
        })
        .collect()
}

fn step() -> PairingStep {
    let entra_groups = groups("e", "team");
    let target_groups = groups("t", "role");
    let pairs = (0..PAIRS)
        .map(|i| PairRow {
            entra: entra_groups[i * 97].clone(),
            target: target_groups[i * 13].clone(),
            nested: i % 2 == 0,
            roles: Vec::new(),
        })
        .collect();
    let mut step = PairingStep {
        entra_groups,
        target_groups,
        pairs,
        ..PairingStep::default()
    };
    step.select(Side::Entra, Some(&step.entra_groups[5].id.clone()));
    step.select(Side::Target, Some(&step.target_groups[7].id.clone()));
    step.select_pair(Some(3));
    step
}

/// What happens between frames.
#[derive(Clone, Copy)]
enum Scenario {
    /// Nothing: the steady state while the administrator reads.
    Idle,
    /// The mouse wheel turns over the Entra column in every frame.
    Scrolling,
    /// A search term is set in both columns, and both scroll (in turns).
    SearchAndScroll,
    /// The search term changes in every frame (worst case: each frame filters 20,000 names).
    Typing,
}

struct Times {
    build: Vec<Duration>,
    with_tessellation: Vec<Duration>,
    /// Wall-clock time of build + tessellate, which also counts time the thread waited for a core.
    wall: Vec<Duration>,
    /// The Entra rows on screen at the two probe frames, as "first-last" group numbers.
    on_screen: Vec<String>,
}

fn run(scenario: Scenario) -> Times {
    let ctx = Context::default();
    let mut step = step();
    let screen = Rect::from_min_size(pos2(0.0, 0.0), vec2(1024.0, 768.0));
    let mut times = Times {
        build: Vec::with_capacity(FRAMES),
        with_tessellation: Vec::with_capacity(FRAMES),
        wall: Vec::with_capacity(FRAMES),
        on_screen: Vec::new(),
    };
    let mut probes = Vec::new();
    if let Scenario::SearchAndScroll = scenario {
        step.set_search(Side::Entra, "sales");
        step.set_search(Side::Target, "tokyo role 1");
    }
    let terms = [
        "support",
        "support b",
        "support be",
        "support ber",
        "e",
        "team 1",
    ];
    for frame in 0..WARM_UP + FRAMES {
        let mut input = RawInput {
            screen_rect: Some(screen),
            time: Some(frame as f64 / 60.0),
            predicted_dt: 1.0 / 60.0,
            ..RawInput::default()
        };
        let wheel = |x: f32, down: bool| {
            [
                Event::PointerMoved(pos2(x, 400.0)),
                Event::MouseWheel {
                    unit: MouseWheelUnit::Point,
                    delta: vec2(0.0, if down { -90.0 } else { 90.0 }),
                    phase: TouchPhase::Move,
                    source: MouseWheelSource::Unknown,
                    modifiers: Modifiers::NONE,
                },
            ]
        };
        // Down for 150 frames, then back up, so the view keeps moving through the list.
        let down = (frame / 150) % 2 == 0;
        match scenario {
            Scenario::Idle => {}
            Scenario::Scrolling => input.events.extend(wheel(150.0, down)),
            // The wheel goes to what is under the pointer at the end of the frame: one column
            // per frame.
            Scenario::SearchAndScroll => {
                let x = if frame % 2 == 0 { 150.0 } else { 480.0 };
                input.events.extend(wheel(x, down));
            }
            Scenario::Typing => step.set_search(Side::Entra, terms[frame % terms.len()]),
        }

        // Two frames (not timed) read the accessibility tree to check that the rows on screen
        // moved: a scrolling scenario that did not scroll would measure nothing.
        let probe = frame == WARM_UP || frame == WARM_UP + 120;
        if probe {
            ctx.enable_accesskit();
        }
        let wall = Instant::now();
        let start = thread_cpu_time();
        let mut output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                black_box(step.ui(ui));
                // The app asks in every frame whether Next may be enabled.
                black_box(step.validate()).ok();
            });
        });
        let built = thread_cpu_time() - start;
        let shapes = std::mem::take(&mut output.shapes);
        black_box(ctx.tessellate(shapes, output.pixels_per_point));
        let tessellated = thread_cpu_time() - start;
        let wall = wall.elapsed();
        // No renderer here to take the font atlas: drop it on purpose.
        output.textures_delta.clear();

        if probe {
            ctx.disable_accesskit();
            probes.push(entra_rows_on_screen(&output));
        } else if frame >= WARM_UP {
            times.build.push(built);
            times.with_tessellation.push(tessellated);
            times.wall.push(wall);
        }
    }
    let moved = probes[0] != probes[1];
    let expect_move = matches!(scenario, Scenario::Scrolling | Scenario::SearchAndScroll);
    assert_eq!(
        moved,
        expect_move,
        "rows on screen before and after: {} / {}",
        span(&probes[0]),
        span(&probes[1])
    );
    times.on_screen = probes.iter().map(|rows| span(rows)).collect();
    times
}

/// "1200-1230": the lowest and highest group number (the last word of the name) among rows.
fn span(rows: &[String]) -> String {
    let numbers: Vec<u32> = rows
        .iter()
        .filter_map(|r| r.rsplit(' ').next()?.parse().ok())
        .collect();
    match (numbers.iter().min(), numbers.iter().max()) {
        (Some(min), Some(max)) => format!("{min}-{max}"),
        _ => "none".into(),
    }
}

/// The labels of the Entra column's rows in the accessibility tree: the rows laid out.
fn entra_rows_on_screen(output: &egui::FullOutput) -> Vec<String> {
    let Some(update) = &output.platform_output.accesskit_update else {
        return Vec::new();
    };
    let mut labels: Vec<String> = update
        .nodes
        .iter()
        .filter_map(|(_, node)| node.label())
        .filter(|label| label.contains(" team ") && !label.contains(". "))
        .map(str::to_owned)
        .collect();
    labels.sort();
    labels
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    format!(
        "mean {mean:6.2}  p50 {:6.2}  p95 {:6.2}  max {:6.2}",
        at(0.5),
        at(0.95),
        ms(times[times.len() - 1])
    )
}

/// CPU time this thread has used: unlike wall-clock time, it does not grow when other processes
/// (here: three other engineers' builds on two cores) take the core away mid-frame.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the OS knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere: wall-clock time since the first call.
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "pairing step, {GROUPS} groups per column, {PAIRS} pairs, 1024x768, {FRAMES} frames per \
         scenario after {WARM_UP} warm-up frames"
    );
    println!("machine: {}, {cores} cores available", cpu_model());
    println!(
        "times in ms: CPU time of the UI thread (GPU paint excluded), and wall-clock for reference\n"
    );
    for (name, scenario) in [
        ("idle", Scenario::Idle),
        ("scrolling", Scenario::Scrolling),
        ("search + scrolling", Scenario::SearchAndScroll),
        ("typing (filter 20k each frame)", Scenario::Typing),
    ] {
        let mut times = run(scenario);
        println!(
            "{name} ({} frames; Entra groups on screen: {})",
            times.build.len(),
            times.on_screen.join(", later ")
        );
        println!("  build UI             {}", summary(&mut times.build));
        println!(
            "  build + tessellate   {}",
            summary(&mut times.with_tessellation)
        );
        println!("  (wall clock)         {}", summary(&mut times.wall));
    }
}
