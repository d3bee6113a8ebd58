//! Step 6, finish: writes the config atomically (mode 0600), the new secrets into the OS keyring
//! (or, where there is none, into owner-only files beside the config, said plainly), optionally
//! installs and starts the background service ([`crate::service::install`], as `adsync service
//! install --now` does; a system service from a wizard that is not root goes through `pkexec`),
//! runs the first sync (the cycle `adsync sync` runs) with a progress
//! bar, and says where the config, state and logs live.

use crate::wizard::dialog::config_dir;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::{RichText, Ui};

use crate::config::{self, Settings};
use crate::cycle::{CycleError, Engine, Outcome, Policy, Trigger, run_cycle};
use crate::health::CheckLine;
use crate::secret::{KeyringBackend, Secret, SecretRef, keyring_backend};
use crate::service::{InstallRequest, Overrides, Scope, running_as_root};
use crate::sync::Summary;
use crate::wizard::draft::{Draft, SecretRefs};
use crate::wizard::jobs::{Repainter, Reply, Task};
use crate::wizard::shell::{Mode, Wizard};
use crate::wizard::widgets::{self, SecretInput};

/// Where new secrets will be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretStorage {
    /// The desktop keyring (Secret Service); files if storing there fails.
    Keyring,
    /// Owner-only files beside the config.
    Files,
}

impl SecretStorage {
    /// The keyring where a desktop session offers one; files otherwise (a server, the demo).
    pub fn choose(demo: bool) -> Self {
        if !demo && keyring_backend() == KeyringBackend::SecretService {
            Self::Keyring
        } else {
            Self::Files
        }
    }
}

/// Installing the service for this config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInstall {
    /// The `adsync` binary the service runs.
    pub adsync: PathBuf,
    /// The system service (root, or the system config) or the per-user one.
    pub system: bool,
    /// A system service while the wizard is not root: `pkexec adsync service install` asks for
    /// an administrator's password instead of installing in-process.
    pub elevate: bool,
    /// Where the unit goes and which systemctl is called (tests point them elsewhere).
    pub overrides: Overrides,
}

impl ServiceInstall {
    /// `pkexec ADSYNC service install --system --now --config CONFIG`.
    fn elevated_command(&self, config: &Path) -> std::process::Command {
        let mut command = std::process::Command::new("pkexec");
        command
            .arg(&self.adsync)
            .args(["service", "install", "--system", "--now", "--config"])
            .arg(config);
        command
    }
}

/// Progress of the first sync: (actions done, actions in all).
#[derive(Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<(usize, usize)>>);

impl Progress {
    fn set(&self, done: usize, total: usize) {
        if let Ok(mut p) = self.0.lock() {
            *p = (done, total);
        }
    }

    pub(crate) fn get(&self) -> (usize, usize) {
        self.0.lock().map(|p| *p).unwrap_or_default()
    }
}

/// How the first sync ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FirstSync {
    Applied {
        summary: Summary,
        failed: usize,
    },
    /// Dry run mode: planned and recorded, nothing written.
    DryRun {
        summary: Summary,
    },
    /// Withheld by one of R11's guards; `reason` says which, why and what to do.
    Blocked {
        reason: String,
    },
    Failed(String),
}

/// What Finish did, line by line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinishReport {
    pub lines: Vec<CheckLine>,
    pub first_sync: Option<FirstSync>,
    pub state_path: PathBuf,
    pub log_dir: PathBuf,
    /// The config was written (a failure before that leaves the old file as it was).
    pub saved: bool,
}

/// The state of step 6.
#[derive(Clone, Debug)]
pub struct FinishStep {
    pub install_service: bool,
    pub first_sync: bool,
    pub report: Task<FinishReport>,
    pub(crate) progress: Progress,
}

impl Default for FinishStep {
    fn default() -> Self {
        Self {
            install_service: false,
            first_sync: true,
            report: Task::Idle,
            progress: Progress::default(),
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.get())
    }
}

/// What step 6 shows before anything is written.
pub(crate) struct FinishContext<'a> {
    pub config_path: &'a Path,
    pub storage: SecretStorage,
    pub settings: &'a Settings,
    /// `Err(why)` when the service cannot be offered here.
    pub service: Result<ServiceInstall, String>,
    pub editing: bool,
    /// `--demo`: the simulators stop with the wizard.
    pub demo: bool,
}

impl FinishStep {
    /// Draws the step.
    pub(crate) fn finish_ui(&mut self, ui: &mut Ui, cx: &FinishContext<'_>) {
        match &self.report {
            Task::Idle => self.before_ui(ui, cx),
            Task::Pending => {
                widgets::busy_ui(ui, "Writing the configuration…");
                let (done, total) = self.progress.get();
                if total > 0 {
                    ui.label("First sync");
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total as f32)
                            .text(format!("{done} of {total} actions"))
                            .desired_width(widgets::FIELD_WIDTH + 140.0),
                    );
                }
            }
            Task::Done(report) => report_ui(ui, report, cx),
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }
    }

    fn before_ui(&mut self, ui: &mut Ui, cx: &FinishContext<'_>) {
        ui.add_space(4.0);
        ui.separator();
        widgets::section_ui(ui, "What Finish does");
        ui.label(format!(
            "Press Finish to {} the configuration:",
            if cx.editing { "update" } else { "write" }
        ));
        ui.label(RichText::new(cx.config_path.display().to_string()).monospace());
        ui.weak("Written atomically, readable only by you (mode 0600).");
        widgets::section_ui(ui, "Secrets");
        ui.add(egui::Label::new(match cx.storage {
            SecretStorage::Keyring => format!(
                "New secrets go into the OS keyring ({}) as keyring:adsync/… references. If the \
                 keyring refuses them, they are written as files readable only by you in {} \
                 instead, and the summary says so.",
                keyring_backend().describe(),
                config_dir(cx.config_path).display()
            ),
            SecretStorage::Files => format!(
                "No OS keyring is used here, so new secrets are written as files readable only \
                 by you (mode 0600) in {}, and the config refers to them with file: references. \
                 Secrets you did not retype stay where they are.",
                config_dir(cx.config_path).display()
            ),
        })
        .wrap());
        widgets::section_ui(ui, "Background service");
        match &cx.service {
            Ok(install) => {
                ui.checkbox(
                    &mut self.install_service,
                    format!(
                        "Install and start the background service ({})",
                        if install.system {
                            "system service, starts at boot"
                        } else {
                            "per-user service, runs while you are logged in"
                        }
                    ),
                );
                ui.weak(if install.elevate {
                    format!(
                        "A system service needs root: this runs `pkexec {} service install \
                         --system --now`, and your system asks for an administrator's password.",
                        install.adsync.display()
                    )
                } else {
                    format!(
                        "Installs it for this config as `adsync service install {} --now` does, \
                         running {}.",
                        if install.system { "--system" } else { "--user" },
                        install.adsync.display()
                    )
                });
            }
            Err(why) => {
                self.install_service = false;
                ui.add(egui::Label::new(why.as_str()).wrap());
            }
        }
        widgets::section_ui(ui, "First sync");
        ui.checkbox(&mut self.first_sync, "Run the first sync now");
        if cx.settings.service.dry_run {
            ui.weak("Dry run mode is on: the first sync only plans and records it.");
        }
        where_ui(ui, cx.config_path, cx.settings);
    }
}

fn where_ui(ui: &mut Ui, config: &Path, settings: &Settings) {
    widgets::section_ui(ui, "Where things live");
    egui::Grid::new("where-grid")
        .num_columns(2)
        .spacing([16.0, 4.0])
        .min_col_width(widgets::LABEL_WIDTH)
        .show(ui, |ui| {
            for (what, path, made_by) in [
                ("Config", config, "written by Finish"),
                (
                    "State",
                    settings.service.state_path.as_path(),
                    "created by the first sync",
                ),
                (
                    "Logs",
                    settings.service.log_dir.as_path(),
                    "folder created by Finish",
                ),
            ] {
                ui.label(what);
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(path.display().to_string()).monospace());
                    // Not there yet: say so, rather than name a path that does not exist.
                    if !path.exists() {
                        ui.weak(format!("(not there yet; {made_by})"));
                    }
                });
                ui.end_row();
            }
        });
}

/// The `--config` argument of the CLI commands shown, when the config is not at the default
/// place.
fn config_arg(config: &Path) -> String {
    if config == crate::config::default_path() {
        String::new()
    } else {
        format!(" --config {}", config.display())
    }
}

/// What to do after the wizard, with the CLI commands that do the same.
fn next_steps_ui(ui: &mut Ui, report: &FinishReport, cx: &FinishContext<'_>) {
    widgets::section_ui(ui, "Next steps");
    let config = config_arg(cx.config_path);
    let service = report.lines.iter().find(|l| l.name == "background service");
    let mut steps: Vec<(String, String)> = Vec::new();
    match (service, &cx.service) {
        (Some(line), _) if line.ok => steps.push((
            "The background service runs a sync every cycle; see how it is doing:".into(),
            format!("adsync service status{config}"),
        )),
        (_, Err(why)) if cx.demo => steps.push(("Background service:".into(), why.clone())),
        _ => steps.push((
            "Install and start the background service, so adsync keeps syncing:".into(),
            format!("adsync service install --now{config}"),
        )),
    }
    steps.push((
        "See what the next sync would do, without changing anything:".into(),
        format!("adsync plan{config}"),
    ));
    steps.push(("Run one sync now:".into(), format!("adsync sync{config}")));
    steps.push((
        "List the past syncs and each action's outcome:".into(),
        format!("adsync history{config}"),
    ));
    steps.push((
        "Change this setup later:".into(),
        format!("adsync-setup{config}"),
    ));
    if cx.demo {
        ui.weak(
            "The simulated tenant and application stop when the wizard closes; these commands \
             reach them only while it is open.",
        );
    }
    // One step under the other, each command on its own line below what it does: a grid's
    // narrow first column squeezed the explanations to a word per line beside long paths.
    for (what, command) in steps {
        ui.add(egui::Label::new(what).wrap());
        ui.horizontal_wrapped(|ui| {
            ui.add_space(16.0);
            if command.starts_with("adsync") {
                ui.add(egui::Label::new(RichText::new(&command).monospace()).wrap());
                if ui.small_button("Copy").clicked() {
                    ui.ctx().copy_text(command.clone());
                }
            } else {
                // Why a step is not offered: prose, not a command to copy.
                ui.add(egui::Label::new(RichText::new(&command).weak()).wrap());
            }
        });
        ui.add_space(4.0);
    }
}

fn summary_text(summary: &Summary) -> String {
    format!(
        "{} created, {} linked, {} updated, {} moved, {} disabled, {} enabled, {} skipped, {} unchanged",
        summary.create,
        summary.link,
        summary.update,
        summary.move_,
        summary.disable,
        summary.enable,
        summary.skip,
        summary.unchanged
    )
}

fn report_ui(ui: &mut Ui, report: &FinishReport, cx: &FinishContext<'_>) {
    if report.saved {
        let synced = match &report.first_sync {
            Some(FirstSync::Applied { failed: 0, .. }) => Some(" and the first sync is done"),
            Some(FirstSync::DryRun { .. }) => Some(" and the first sync was planned (dry run)"),
            None => Some(""),
            _ => None,
        };
        match synced {
            Some(synced) => ui.label(
                RichText::new(format!(
                    "The configuration is saved{synced}: adsync is set up."
                ))
                .strong()
                .size(17.0)
                .color(widgets::ok_color(ui)),
            ),
            None => ui.label(
                RichText::new(
                    "The configuration is saved; the first sync needs attention (below).",
                )
                .strong()
                .size(17.0),
            ),
        };
    } else {
        widgets::failure_ui(ui, "The configuration was not saved.");
    }
    widgets::check_lines_ui(ui, &report.lines);
    if let Some(first) = &report.first_sync {
        widgets::section_ui(ui, "First sync");
        match first {
            FirstSync::Applied { summary, failed } => {
                ui.add(egui::ProgressBar::new(1.0).desired_width(widgets::FIELD_WIDTH + 140.0));
                ui.label(format!("First sync: {}", summary_text(summary)));
                if *failed > 0 {
                    widgets::failure_ui(
                        ui,
                        &format!(
                            "{failed} action(s) failed; `adsync history` lists each with its error, \
                             and the next cycle tries them again."
                        ),
                    );
                }
            }
            FirstSync::DryRun { summary } => {
                ui.label(format!(
                    "Dry run mode: the first sync planned {} and wrote nothing.",
                    summary_text(summary)
                ));
            }
            FirstSync::Blocked { reason } => widgets::failure_ui(
                ui,
                &format!("The first sync stopped: {reason}. Review the preview first."),
            ),
            FirstSync::Failed(message) => widgets::failure_ui(ui, message),
        }
    }
    where_ui(ui, cx.config_path, cx.settings);
    if report.saved {
        next_steps_ui(ui, report, cx);
    }
    ui.add_space(6.0);
    ui.weak("Press Close to leave the wizard.");
}

/// Stores each typed secret and returns the references for the config.
fn store_secrets(
    draft: &Draft,
    dir: &Path,
    storage: SecretStorage,
    lines: &mut Vec<CheckLine>,
) -> Result<SecretRefs, String> {
    let mut use_keyring = storage == SecretStorage::Keyring;
    let mut store = |input: &SecretInput,
                     name: &str,
                     label: &str|
     -> Result<Option<SecretRef>, String> {
        if input.typed.is_empty() {
            return Ok(input.stored.clone());
        }
        let secret = Secret::new(input.typed.clone());
        if use_keyring {
            let reference = SecretRef::Keyring {
                service: "adsync".into(),
                account: name.into(),
            };
            match reference.store(&secret).and_then(|()| reference.resolve()) {
                Ok(back) if back == secret => {
                    lines.push(CheckLine::new(
                        label,
                        true,
                        format!("stored in the OS keyring as {reference}"),
                    ));
                    return Ok(Some(reference));
                }
                Ok(_) => {
                    use_keyring = false;
                    lines.push(CheckLine::new(
                        "OS keyring",
                        false,
                        "the keyring returned a different value than was stored; using files instead",
                    ));
                }
                Err(e) => {
                    use_keyring = false;
                    lines.push(CheckLine::new(
                        "OS keyring",
                        false,
                        format!("not usable ({e}); using owner-only files instead"),
                    ));
                }
            }
        }
        let reference = SecretRef::File(dir.join(name));
        reference
            .store(&secret)
            .map_err(|e| format!("{label}: {e}"))?;
        lines.push(CheckLine::new(
            label,
            true,
            format!("written to {reference} (mode 0600, readable only by you)"),
        ));
        Ok(Some(reference))
    };
    let c = &draft.credentials;
    Ok(SecretRefs {
        target_token: match c.auth {
            crate::config::TargetAuthKind::Bearer => {
                store(&c.token, "target-token", "Bearer token")?
            }
            crate::config::TargetAuthKind::Basic => None,
        },
        target_password: match c.auth {
            crate::config::TargetAuthKind::Basic => {
                store(&c.password, "target-password", "Password")?
            }
            crate::config::TargetAuthKind::Bearer => None,
        },
        entra_secret: match draft.azure.credential {
            super::azure::CredentialKind::Secret => store(
                &draft.azure.client_secret,
                "entra-client-secret",
                "Client secret",
            )?,
            super::azure::CredentialKind::Certificate => None,
        },
        default_password: store(
            &c.default_password,
            "default-password",
            "Default password for new users",
        )?,
    })
}

/// Writes the secrets and the config (blocking). `Err` when nothing could be saved.
pub(crate) fn save(
    draft: &Draft,
    config_path: &Path,
    storage: SecretStorage,
    lines: &mut Vec<CheckLine>,
) -> Result<Settings, String> {
    let dir = config_dir(config_path);
    crate::fsutil::create_private_dir(&dir)
        .map_err(|e| format!("Cannot create the config directory {}: {e}", dir.display()))?;
    let refs = store_secrets(draft, &dir, storage, lines)?;
    let file = draft.compose(&refs);
    // The same validation `adsync` applies when it loads the file.
    if let Err(problems) = config::parse_str(&file.to_toml()) {
        let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(format!(
            "The configuration would not be valid, so it was not written:\n{}",
            list.join("\n")
        ));
    }
    config::save(config_path, &file).map_err(|e| e.to_string())?;
    lines.push(CheckLine::new(
        "config",
        true,
        format!("written to {}", config_path.display()),
    ));
    let settings = Settings::from_file(&file);
    lines.push(logs_folder(&settings.service.log_dir));
    Ok(settings)
}

/// Creates the logs folder step 6 names, so that it exists when the wizard says where the logs
/// live (the service would create it too, but only once it runs).
fn logs_folder(dir: &Path) -> CheckLine {
    if dir.is_dir() {
        return CheckLine::new("logs folder", true, format!("{} (exists)", dir.display()));
    }
    match crate::fsutil::create_private_dir(dir) {
        Ok(()) => CheckLine::new("logs folder", true, format!("created {}", dir.display())),
        Err(e) => CheckLine::new(
            "logs folder",
            false,
            format!(
                "{} could not be created: {e}; the service tries again when it starts",
                dir.display()
            ),
        ),
    }
}

/// Installs and starts the service for this config: in-process, or through `pkexec` when a
/// system service must be installed by a wizard that is not root.
pub(crate) fn install_service(install: &ServiceInstall, config_path: &Path) -> CheckLine {
    const NAME: &str = "background service";
    let config = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_owned());
    if !install.elevate {
        let request = InstallRequest {
            scope: if install.system {
                Scope::System
            } else {
                Scope::User
            },
            exe: install.adsync.clone(),
            config,
            now: true,
            overrides: install.overrides.clone(),
        };
        return match crate::service::install(&request) {
            Ok(report) => CheckLine::new(NAME, report.complete(), report.lines().join("\n")),
            Err(e) => CheckLine::new(NAME, false, e.to_string()),
        };
    }
    match install.elevated_command(&config).output() {
        Ok(out) => {
            let mut text = String::from("installed with pkexec (administrator password)");
            for stream in [&out.stdout, &out.stderr] {
                let stream = String::from_utf8_lossy(stream);
                if !stream.trim().is_empty() {
                    text.push('\n');
                    text.push_str(stream.trim());
                }
            }
            CheckLine::new(NAME, out.status.success(), text)
        }
        Err(e) => CheckLine::new(
            NAME,
            false,
            format!(
                "cannot run pkexec: {e}. Install the service as root later with `sudo {} \
                 service install --system --now --config {}`",
                install.adsync.display(),
                config.display()
            ),
        ),
    }
}

/// The first sync on the saved config: the same cycle as `adsync sync` ([`run_cycle`]), recorded
/// in the history with the trigger `wizard`, reporting progress as actions finish.
pub(crate) async fn first_sync(
    settings: Settings,
    progress: Progress,
    repainter: Repainter,
) -> FirstSync {
    // Opening reads certificate files and SQLite: kept off the runtime's worker threads.
    let opened = tokio::task::spawn_blocking(move || Engine::from_settings(settings))
        .await
        .map_err(CycleError::from)
        .and_then(|opened| opened);
    let engine = match opened {
        Ok(engine) => engine,
        Err(e) => return FirstSync::Failed(format!("The first sync could not start: {e}")),
    };
    // One writer per state store (R13): a service already running on it is named, not raced.
    let _writer = match engine.store.lock_for_writing("adsync-setup (first sync)") {
        Ok(lock) => lock,
        Err(e) => return FirstSync::Failed(format!("The first sync could not start: {e}")),
    };
    let report = |done: usize, total: usize| {
        progress.set(done, total);
        repainter.repaint();
    };
    match run_cycle(&engine, &Policy::new(Trigger::Wizard), report).await {
        Ok(Outcome::Applied { plan, failed, .. }) => FirstSync::Applied {
            summary: plan.summary,
            failed,
        },
        Ok(Outcome::DryRun { plan }) => FirstSync::DryRun {
            summary: plan.summary,
        },
        // Which guard, why and what to do, as the service logs it.
        Ok(Outcome::Blocked { withheld, .. }) => FirstSync::Blocked { reason: withheld },
        Err(CycleError::DefaultPassword(e)) => FirstSync::Failed(format!(
            "Default password for new users: {e}; nothing was written"
        )),
        Err(e @ CycleError::BeforeWrite(_)) => FirstSync::Failed(e.to_string()),
        Err(e) => FirstSync::Failed(format!("The first sync failed: {e}")),
    }
}

// The step's effects, run by the shell after the frame.
impl Wizard {
    /// The `adsync` binary and scope for installing the service, or why it is not offered.
    pub(crate) fn service_install(&self) -> Result<ServiceInstall, String> {
        if self.mode == Mode::Demo {
            return Err(
                "Not offered in demo mode: the simulated tenant and application stop \
                        when the wizard closes, so a service would have nothing to talk to."
                    .into(),
            );
        }
        if !cfg!(target_os = "linux") {
            return Err(
                "Installing the service from the wizard is implemented for Linux \
                        (systemd) only; run `adsync service install` on this system."
                    .into(),
            );
        }
        let adsync = self.options.adsync_exe.clone().or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let sibling = exe.parent()?.join("adsync");
            sibling.is_file().then_some(sibling)
        });
        match adsync {
            Some(adsync) => {
                // Root installs the system service; so does the system config, which only the
                // system service reads (by asking for root with pkexec).
                let system_config = self.config_path == Path::new(crate::service::SYSTEM_CONFIG);
                let root = running_as_root();
                let system = match self.options.service.scope {
                    Some(scope) => scope == Scope::System,
                    None => root || system_config,
                };
                Ok(ServiceInstall {
                    adsync,
                    system,
                    elevate: system && !root,
                    overrides: self.options.service.clone(),
                })
            }
            None => Err(
                "The adsync program was not found beside adsync-setup, so the service \
                         cannot be installed from here; install it later with `adsync service \
                         install --now`."
                    .into(),
            ),
        }
    }

    pub(crate) fn storage(&self) -> SecretStorage {
        SecretStorage::choose(self.mode == Mode::Demo)
    }

    pub(crate) fn run_finish(&mut self) {
        let draft = self.draft();
        let path = self.config_path.clone();
        let storage = self.storage();
        let install = if self.finish.install_service {
            self.service_install().ok()
        } else {
            None
        };
        let run_sync = self.finish.first_sync;
        let decisions = self.preview.decisions.clone();
        let progress = self.finish.progress.clone();
        let repainter = self.jobs.repainter();
        self.finish.report = Task::Pending;
        let handle = self.jobs.runtime().clone();
        // The state store is not `Sync`, so the first sync runs on a blocking thread of its own
        // (`block_on` there), not as a task on the runtime's workers.
        self.jobs.spawn_blocking(move || {
            let mut lines = Vec::new();
            let mut report = FinishReport::default();
            match save(&draft, &path, storage, &mut lines) {
                Ok(settings) => {
                    report.saved = true;
                    report.state_path = settings.service.state_path.clone();
                    report.log_dir = settings.service.log_dir.clone();
                    // Links made by hand in the preview, before the service or the first sync
                    // can run, so the first sync already honours them.
                    lines.extend(crate::wizard::steps::preview::resolve::record_decisions(
                        &settings, &decisions,
                    ));
                    if let Some(install) = &install {
                        lines.push(install_service(install, &path));
                    }
                    if run_sync {
                        report.first_sync =
                            Some(handle.block_on(first_sync(settings, progress, repainter)));
                    }
                }
                Err(e) => lines.push(crate::health::CheckLine::new("config", false, e)),
            }
            report.lines = lines;
            Box::new(move |w: &mut Wizard| w.finish.report = Task::Done(report)) as Reply
        });
    }
}
