//! `adsync-setup`'s command line and window: parses the flags, starts the background runtime,
//! and runs the wizard in a native window.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use super::shell::{Wizard, WizardOptions};
use super::step::Step;

/// The setup wizard of adsync: writes the config, stores the secrets, installs the background
/// service and runs the first sync.
#[derive(Debug, Parser)]
#[command(name = "adsync-setup", version, about)]
pub struct Args {
    /// The config file to write; opened for editing when it exists
    /// [default: $ADSYNC_CONFIG, else ~/.config/adsync/config.toml]
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run against a simulated Entra ID tenant and SCIM application on this machine (files are
    /// written under a temporary directory unless --config is given)
    #[arg(long)]
    pub demo: bool,
    /// Development aid for screenshots (with --demo): pair the demo's groups and open step N
    #[arg(long, value_name = "N", hide = true, requires = "demo",
          value_parser = clap::value_parser!(u8).range(1..=6))]
    pub open_step: Option<u8>,
    /// Development aid for screenshots: draw in this theme instead of the system's
    #[arg(long, value_name = "THEME", hide = true, value_parser = ["light", "dark"])]
    pub theme: Option<String>,
    /// Development aid for screenshots: open the window at this inner size, e.g. 1600x900
    #[arg(long, value_name = "WxH", hide = true, value_parser = parse_size)]
    pub window_size: Option<[f32; 2]>,
}

/// The window's size when none is asked for: the smallest size every step is laid out for.
const DEFAULT_SIZE: [f32; 2] = [1024.0, 768.0];

/// Below this the header and the step indicator no longer fit (SPEC §5: usable from 1024×768;
/// smaller windows still show every control, wrapped).
const MIN_SIZE: [f32; 2] = [800.0, 600.0];

/// `1600x900` as a window size (at least [`MIN_SIZE`]).
fn parse_size(text: &str) -> Result<[f32; 2], String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{text}` is not a size; write WIDTHxHEIGHT, e.g. 1600x900"))?;
    let number = |n: &str| {
        n.trim()
            .parse::<u16>()
            .map(f32::from)
            .map_err(|_| format!("`{text}` is not a size; write WIDTHxHEIGHT, e.g. 1600x900"))
    };
    let size = [number(w)?, number(h)?];
    if size[0] < MIN_SIZE[0] || size[1] < MIN_SIZE[1] {
        return Err(format!(
            "`{text}` is smaller than the wizard's minimum of {}x{}",
            MIN_SIZE[0], MIN_SIZE[1]
        ));
    }
    Ok(size)
}

/// `ADSYNC_SETUP_EXIT_AFTER_FIRST_FRAME=1`: print the time to the first drawn frame and exit.
const EXIT_AFTER_FIRST_FRAME: &str = "ADSYNC_SETUP_EXIT_AFTER_FIRST_FRAME";

/// Runs `adsync-setup`.
pub fn main() -> ExitCode {
    let started = Instant::now();
    let args = Args::parse();
    match run(args, started) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args, started: Instant) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("adsync-setup-jobs")
        .enable_all()
        .build()?;
    let options = WizardOptions {
        config_path: args.config,
        demo: args.demo,
        demo_dir: None,
        open_step: args.open_step.and_then(|n| Step::from_number(n.into())),
        adsync_exe: None,
        service: Default::default(),
        theme: match args.theme.as_deref() {
            Some("light") => Some(egui::Theme::Light),
            Some("dark") => Some(egui::Theme::Dark),
            _ => None,
        },
    };
    let measure = std::env::var_os(EXIT_AFTER_FIRST_FRAME).is_some_and(|v| v == "1");
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/adsync-256.png"))
        .map_err(|e| anyhow::anyhow!("the window icon cannot be read: {e}"))?;
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("adsync setup")
            .with_app_id("adsync-setup")
            .with_icon(icon)
            .with_inner_size(args.window_size.unwrap_or(DEFAULT_SIZE))
            .with_min_inner_size(MIN_SIZE),
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "adsync setup",
        native,
        Box::new(move |_cc| {
            let wizard = Wizard::new(options, handle);
            Ok(if measure {
                Box::new(FirstFrame {
                    wizard,
                    started,
                    frames: 0,
                })
            } else {
                Box::new(wizard)
            })
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    runtime.shutdown_background();
    Ok(())
}

/// Measures cold start: the wizard, until the second frame begins (so the first was presented),
/// then prints the milliseconds since `main` and since the process started and exits.
struct FirstFrame {
    wizard: Wizard,
    started: Instant,
    frames: u32,
}

impl eframe::App for FirstFrame {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frames += 1;
        if self.frames == 2 {
            let since_main = self.started.elapsed().as_secs_f64() * 1000.0;
            match process_age_ms() {
                Some(age) => println!(
                    "first frame drawn {age:.0} ms after process start ({since_main:.0} ms after main)"
                ),
                None => println!("first frame drawn {since_main:.0} ms after main"),
            }
            std::process::exit(0);
        }
        self.wizard.ui(ui);
        ui.ctx().request_repaint();
    }
}

/// How long this process has existed (Linux: from /proc), in milliseconds.
fn process_age_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 22 (starttime, clock ticks after boot); fields after the ")" of the command name.
    let after = stat.rsplit_once(')')?.1;
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks > 0.0).then(|| (uptime - start_ticks / ticks) * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_size_is_width_by_height_and_at_least_the_minimum() {
        assert_eq!(parse_size("1600x900"), Ok([1600.0, 900.0]));
        assert_eq!(parse_size("1024X768"), Ok([1024.0, 768.0]));
        let small = parse_size("640x480").unwrap_err();
        assert!(
            small.contains("smaller than the wizard's minimum of 800x600"),
            "{small}"
        );
        let bad = parse_size("wide").unwrap_err();
        assert!(bad.contains("write WIDTHxHEIGHT"), "{bad}");
    }

    #[test]
    fn screenshot_flags_parse() {
        let args = Args::try_parse_from([
            "adsync-setup",
            "--demo",
            "--open-step",
            "3",
            "--theme",
            "light",
            "--window-size",
            "1600x900",
        ])
        .unwrap();
        assert_eq!(args.theme.as_deref(), Some("light"));
        assert_eq!(args.window_size, Some([1600.0, 900.0]));
        assert!(Args::try_parse_from(["adsync-setup", "--theme", "blue"]).is_err());
    }
}
