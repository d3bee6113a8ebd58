//! The wizard's shell: the step indicator, Back / Next / Cancel, the cancel confirmation, the
//! keyboard (Enter = Next, but never Finish; Esc = Cancel), and running the commands each step
//! returns after the frame.

mod prefill;

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Color32, Key, RichText, Ui};

use super::dialog::{FileDialogs, SaveByPath};
use super::draft::{Draft, FingerprintPart, fingerprint};
use super::jobs::{Jobs, Task};
use super::step::Step;
use super::steps::Command;
use super::steps::azure::AzureStep;
use super::steps::credentials::CredentialsStep;
use super::steps::finish::{FinishContext, FinishStep};
use super::steps::pairing::PairingStep;
use super::steps::preview::PreviewStep;
use super::steps::search::SearchStep;
use super::steps::summary::summary_ui;
use super::theme::{primary_fill, step_accent, style, theme_ui};
use super::widgets::{self, ResultView};
use crate::config::ConfigFile;
use crate::sim::demo::Demo;
use prefill::is_demo_config;

/// How the wizard was started.
#[derive(Clone, Debug, Default)]
pub struct WizardOptions {
    /// `--config`: the file to write (and to open for editing when it exists).
    pub config_path: Option<PathBuf>,
    /// `--demo`: run against the simulated tenant and application.
    pub demo: bool,
    /// Where the demo writes its files (default: a new directory under the system temp dir).
    pub demo_dir: Option<PathBuf>,
    /// Development aid for screenshots (demo only): pair the demo's groups and open this step.
    pub open_step: Option<Step>,
    /// The `adsync` binary that installs the service (default: beside this program).
    pub adsync_exe: Option<PathBuf>,
    /// The service's scope, unit directory and systemctl, when not the system's (tests).
    pub service: crate::service::Overrides,
    /// Draw in this theme rather than the system's (screenshots).
    pub theme: Option<egui::Theme>,
}

/// How the wizard ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Cancelled,
    Finished,
}

/// Where the fields came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    New,
    Edit,
    Demo,
}

/// The wizard.
pub struct Wizard {
    pub step: Step,
    pub credentials: CredentialsStep,
    pub azure: AzureStep,
    pub pairing: PairingStep,
    pub search: SearchStep,
    pub preview: PreviewStep,
    pub finish: FinishStep,
    pub config_path: PathBuf,
    pub outcome: Option<Outcome>,
    /// The simulators while `--demo` runs.
    pub demo: Option<Demo>,
    /// The demo starting, or why it could not.
    pub demo_status: Task<()>,
    /// A problem that belongs to no field (the config could not be read, a job failed).
    pub banner: Option<String>,
    /// A note that belongs to no step (a demo config was reopened).
    pub info: Option<String>,
    /// The cancel confirmation is open.
    pub confirming_cancel: bool,
    /// The last export's outcome, in words.
    pub export_notice: Option<ResultView>,
    /// A save whose file dialog could not open, asking for a path instead.
    pub save_by_path: Option<SaveByPath>,
    /// The file dialogs (tests inject dialogs that fail or answer at once).
    pub(crate) dialogs: Arc<dyn FileDialogs>,
    pub(crate) jobs: Jobs,
    pub(crate) mode: Mode,
    pub(crate) options: WizardOptions,
    pub(crate) base: Option<ConfigFile>,
    /// Fingerprint of the fields as loaded: Cancel asks first when they differ.
    clean: u64,
    styled: bool,
    /// The demo config given with `--demo --config`, reopened with new simulators.
    reopened: Option<ConfigFile>,
    /// Frames drawn with nothing left to load (`u32::MAX` once `ready` was printed).
    ready_frames: u32,
}

impl Wizard {
    /// A wizard for `options`; `runtime` runs every network call.
    pub fn new(options: WizardOptions, runtime: tokio::runtime::Handle) -> Self {
        let demo_dir = options.demo_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("adsync-setup-demo-{}", std::process::id()))
        });
        let (mode, config_path) = match (&options.config_path, options.demo) {
            (Some(path), false) => (
                if path.exists() { Mode::Edit } else { Mode::New },
                path.clone(),
            ),
            (None, false) => {
                let path = crate::config::default_path();
                (if path.exists() { Mode::Edit } else { Mode::New }, path)
            }
            (Some(path), true) => (Mode::Demo, path.clone()),
            (None, true) => (Mode::Demo, demo_dir.join("config.toml")),
        };
        let mut wizard = Self {
            step: Step::Credentials,
            credentials: CredentialsStep::default(),
            azure: AzureStep::default(),
            pairing: PairingStep::default(),
            search: SearchStep::default(),
            preview: PreviewStep::default(),
            finish: FinishStep::default(),
            config_path,
            outcome: None,
            demo: None,
            demo_status: Task::Idle,
            banner: None,
            info: None,
            confirming_cancel: false,
            export_notice: None,
            save_by_path: None,
            dialogs: super::dialog::native(),
            jobs: Jobs::new(runtime),
            mode,
            options,
            base: None,
            clean: 0,
            styled: false,
            ready_frames: 0,
            reopened: None,
        };
        match mode {
            Mode::Edit => match crate::config::load(&wizard.config_path) {
                Ok(file) => {
                    if is_demo_config(&file) {
                        wizard.banner = Some(format!(
                            "This config was written by the demo: its simulated tenant and \
                             application ran inside the wizard that wrote it and stopped with it, \
                             so the tests and the preview cannot reach them. To open it with \
                             simulators running again: adsync-setup --demo --config {}",
                            wizard.config_path.display()
                        ));
                    }
                    wizard.prefill(&file, true)
                }
                Err(e) => {
                    wizard.mode = Mode::New;
                    wizard.banner = Some(format!(
                        "{e}\nThe wizard starts empty; Finish replaces that file."
                    ));
                }
            },
            Mode::Demo if wizard.options.config_path.is_some() && wizard.config_path.exists() => {
                match crate::config::load(&wizard.config_path) {
                    Ok(file) if is_demo_config(&file) => {
                        wizard.reopened = Some(file);
                        wizard.start_demo(demo_dir);
                    }
                    // Finish would replace a real application and tenant with the simulated
                    // ones: refuse rather than overwrite it.
                    Ok(_) => {
                        wizard.demo_status = Task::Failed(format!(
                            "{} is not a demo config: the demo would replace its application \
                             and tenant with simulated ones. Open it without --demo to edit it, \
                             or give --demo the path of a new file.",
                            wizard.config_path.display()
                        ))
                    }
                    Err(e) => {
                        wizard.demo_status = Task::Failed(format!(
                            "{e}\nThe demo does not replace a file it cannot read; give --demo \
                             the path of a new file."
                        ))
                    }
                }
            }
            Mode::Demo => wizard.start_demo(demo_dir),
            Mode::New => {}
        }
        wizard.finish.install_service = wizard.service_install().is_ok();
        wizard.clean = wizard.fingerprint();
        wizard
    }

    /// The fields as a detached draft for a job.
    pub(crate) fn draft(&self) -> Draft {
        Draft {
            credentials: self.credentials.clone(),
            azure: self.azure.clone(),
            pairs: self.pairing.pairs.clone(),
            scope: self.search.scope_rules(),
            include_guests: self.search.include_guests,
            mappings: self.search.attributes.mappings(),
            // An edited config keeps the keys the wizard does not show; so does the demo's
            // (its state and log paths under the demo directory). Its pairs and scope are
            // replaced by the wizard's.
            base: self.base.clone(),
        }
    }

    /// Fingerprint of every field Finish writes (the plan shown is for one such fingerprint).
    pub(crate) fn fingerprint(&self) -> u64 {
        let draft = self.draft();
        fingerprint(&[
            &draft.credentials as &dyn FingerprintPart,
            &draft.azure,
            &draft.pairs,
            &draft.scope,
            &draft.include_guests,
            &draft.mappings,
        ])
    }

    /// Are there changes that Cancel would lose?
    pub fn has_unsaved_changes(&self) -> bool {
        self.outcome.is_none()
            && self.finish.report.done().is_none_or(|r| !r.saved)
            && self.fingerprint() != self.clean
    }

    /// Why Next is disabled on the current step, if it is.
    pub fn validate_current(&self) -> Result<(), String> {
        if self.demo_status.is_pending() {
            return Err("The simulated tenant and application are starting.".into());
        }
        match self.step {
            Step::Credentials => self.credentials.validate(),
            Step::AzureApp => self.azure.validate(),
            Step::Pairing => self.pairing.validate(),
            Step::Search => self.search.validate(),
            Step::Preview => self.preview.validate(),
            Step::Finish => match &self.finish.report {
                Task::Pending => Err("Finishing…".into()),
                // Edit mode reaches Finish from any step: what Finish writes must still be
                // valid, so the fields of steps 1 to 3 are checked again, naming the step.
                _ => [
                    (Step::Credentials, self.credentials.validate()),
                    (Step::AzureApp, self.azure.validate()),
                    (Step::Pairing, self.pairing.validate()),
                ]
                .into_iter()
                .find_map(|(step, result)| {
                    result
                        .err()
                        .map(|why| format!("Step {} ({}): {why}", step.number(), step.title()))
                })
                .map_or(Ok(()), Err),
            },
        }
    }

    /// The label of the primary button.
    pub fn next_label(&self) -> &'static str {
        match (self.step, &self.finish.report) {
            (Step::Finish, Task::Done(r)) if r.saved => "Close",
            (Step::Finish, _) => "Finish",
            _ => "Next",
        }
    }

    /// Next (or Finish / Close on the last step), if the step is valid.
    pub fn next(&mut self) {
        if self.validate_current().is_err() {
            return;
        }
        match self.step {
            Step::Search => {
                // N in the confirmation is counted from the plan, which step 5 then shows.
                self.search.ask_confirmation();
                self.open_preview();
            }
            Step::Finish => match &self.finish.report {
                Task::Done(r) if r.saved => self.outcome = Some(Outcome::Finished),
                _ => self.run_finish(),
            },
            step => {
                if let Some(next) = step.next() {
                    self.go_to(next);
                }
            }
        }
    }

    /// Back one step.
    pub fn back(&mut self) {
        if self.finish.report.is_pending() {
            return;
        }
        if let Some(previous) = self.step.previous() {
            self.step = previous;
        }
    }

    /// Cancel: closes at once when nothing would be lost, otherwise asks first.
    pub fn cancel(&mut self) {
        if self.has_unsaved_changes() {
            self.confirming_cancel = true;
        } else {
            self.outcome = Some(if self.finish.report.done().is_some_and(|r| r.saved) {
                Outcome::Finished
            } else {
                Outcome::Cancelled
            });
        }
    }

    /// Is an existing config open for editing (also a demo config reopened with `--demo`)?
    pub fn is_editing(&self) -> bool {
        self.mode == Mode::Edit || self.reopened.is_some()
    }

    /// Can the step indicator open `step` now? Earlier steps always (as Back does); when editing
    /// an existing config, every step, since each already has its values.
    pub fn reachable(&self, step: Step) -> bool {
        let finished = self.finish.report.done().is_some_and(|r| r.saved);
        if step == self.step
            || self.finish.report.is_pending()
            || finished
            || self.demo_status.is_pending()
            || self.confirming_cancel
        {
            return false;
        }
        self.is_editing() || step.number() < self.step.number()
    }

    /// Opens a step and starts loading what it shows.
    pub fn go_to(&mut self, step: Step) {
        self.step = step;
        match step {
            Step::Pairing => self.open_pairing(),
            Step::Search => self.open_search(),
            Step::Preview => self.open_preview(),
            _ => {}
        }
    }

    /// Where a job failure that belongs to no field is shown.
    pub(crate) fn report_job_failure(&mut self, message: String) {
        self.banner = Some(message);
    }

    /// Applies replies that arrived from jobs.
    pub(crate) fn apply_replies(&mut self) {
        for reply in self.jobs.drain() {
            reply(self);
        }
    }

    /// Jobs still running (tests wait for 0).
    pub fn jobs_running(&self) -> usize {
        self.jobs.running()
    }

    /// Draws the whole wizard for one frame and runs what it asked for.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.jobs.attach(&ctx);
        if !self.styled {
            style(&ctx);
            if let Some(theme) = self.options.theme {
                ctx.set_theme(theme);
            }
            self.styled = true;
        }
        self.apply_replies();
        self.close_requested(&ctx);
        // A dialog open when the frame starts owns Enter and Esc for this frame, even if it
        // closes while drawing (Esc closing the confirmation must not also cancel the wizard).
        let dialog_open =
            self.confirming_cancel || self.search.confirming || self.save_by_path.is_some();

        let mut commands: Vec<Command> = Vec::new();
        let indicator = egui::Panel::top("header").show(ui, |ui| self.header_ui(ui));
        commands.extend(indicator.inner.map(Command::GoTo));
        egui::Panel::bottom("buttons").show(ui, |ui| self.buttons_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    // Forms and the summary keep a readable width; the lists and tables of
                    // steps 3 to 5 grow with the window.
                    if matches!(self.step, Step::Credentials | Step::AzureApp | Step::Finish) {
                        ui.set_max_width(980.0);
                    }
                    if let Some(banner) = &self.banner {
                        widgets::failure_ui(ui, banner);
                        if ui.small_button("Dismiss").clicked() {
                            self.banner = None;
                        }
                        ui.separator();
                    }
                    if let Some(info) = &self.info {
                        ui.add(egui::Label::new(info.as_str()).wrap());
                        if ui.small_button("Hide").clicked() {
                            self.info = None;
                        }
                        ui.separator();
                    }
                    match &self.demo_status {
                        Task::Pending => {
                            widgets::busy_ui(
                                ui,
                                "Starting the simulated tenant (Tailspin Toys) and application \
                                 (Helpdesk)…",
                            );
                            return;
                        }
                        Task::Failed(message) => {
                            widgets::failure_ui(ui, message);
                            return;
                        }
                        _ => {}
                    }
                    self.step_ui(ui, &mut commands);
                });
        });
        self.cancel_modal_ui(&ctx);
        self.save_by_path_ui(&ctx);

        // Commands run after the frame.
        for command in commands {
            self.run(command);
        }
        if !dialog_open {
            self.keyboard(&ctx);
        }
        if let Some(outcome) = self.outcome {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            let _ = outcome;
        }
        self.announce_ready(&ctx);
    }

    /// With `--open-step` (the screenshot aid): prints `ready` on standard output once the demo
    /// has started and the step's reads have settled for a few frames, so a script can take the
    /// picture then instead of guessing how long to wait.
    fn announce_ready(&mut self, ctx: &egui::Context) {
        if self.options.open_step.is_none() || self.ready_frames == u32::MAX {
            return;
        }
        let settled = matches!(self.demo_status, Task::Done(()) | Task::Failed(_))
            && self.jobs_running() == 0;
        self.ready_frames = if settled { self.ready_frames + 1 } else { 0 };
        if self.ready_frames >= 10 {
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "ready");
            let _ = out.flush();
            self.ready_frames = u32::MAX;
        } else {
            ctx.request_repaint();
        }
    }

    /// The current step's own drawing; what it asks for is pushed onto `commands`.
    fn step_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        match self.step {
            Step::Credentials => commands.extend(
                self.credentials
                    .credentials_ui(ui)
                    .map(Command::Credentials),
            ),
            Step::AzureApp => commands.extend(self.azure.azure_ui(ui).map(Command::Azure)),
            Step::Pairing => commands.extend(self.pairing.ui(ui).into_iter().map(Command::Pairing)),
            Step::Search => {
                self.search.acted_on = self.acted_on();
                commands.extend(self.search.ui(ui).into_iter().map(Command::Search));
            }
            Step::Preview => {
                commands.extend(self.preview.ui(ui).into_iter().map(Command::Preview));
                if let Some(notice) = &mut self.export_notice {
                    widgets::result_ui(ui, notice);
                }
            }
            Step::Finish => {
                let settings = self.draft().settings();
                if matches!(self.finish.report, Task::Idle)
                    && let Some(step) = summary_ui(ui, &settings)
                {
                    commands.push(Command::GoTo(step));
                }
                let service = self.service_install();
                let cx = FinishContext {
                    config_path: &self.config_path,
                    storage: self.storage(),
                    settings: &settings,
                    service,
                    editing: self.is_editing(),
                    demo: self.mode == Mode::Demo,
                };
                self.finish.finish_ui(ui, &cx);
            }
        }
    }

    /// The title bar's ✕ or Alt+F4: the same question as Cancel when changes would be lost
    /// (eframe closes unless told otherwise in the very frame that reports the request).
    fn close_requested(&mut self, ctx: &egui::Context) {
        if self.outcome.is_some() || !ctx.input(|i| i.viewport().close_requested()) {
            return;
        }
        if self.finish.report.is_pending() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.banner = Some(
                "Finish is writing the configuration and running the first sync; close the \
                 wizard when it is done."
                    .into(),
            );
            return;
        }
        self.cancel();
        if self.outcome.is_none() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        }
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        if self.confirming_cancel || self.search.confirming {
            return;
        }
        let (enter, escape) =
            ctx.input(|i| (i.key_pressed(Key::Enter), i.key_pressed(Key::Escape)));
        if escape {
            self.cancel();
        } else if enter && self.step != Step::Finish && self.validate_current().is_ok() {
            // Enter never finishes: Finish writes the config and syncs, so it takes a click.
            self.next();
        }
    }

    /// Draws the title and the step indicator; returns the step clicked in the indicator.
    fn header_ui(&mut self, ui: &mut Ui) -> Option<Step> {
        let mut clicked = None;
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.heading(RichText::new("adsync setup").strong());
            if self.mode == Mode::Demo {
                ui.label(RichText::new("demo: simulated tenant and application").italics());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                theme_ui(ui);
                // The path takes what width is left and is cut short (in full on hover), so a
                // narrow window never draws it over the title.
                let path = match self.mode {
                    Mode::Edit => format!("Editing {}", self.config_path.display()),
                    _ => format!("Writes {}", self.config_path.display()),
                };
                ui.add(egui::Label::new(RichText::new(&path).weak()).truncate())
                    .on_hover_text(path);
            });
        });
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            for step in Step::ALL {
                let current = step == self.step;
                let done = step.number() < self.step.number();
                let accent = step_accent(ui.visuals());
                let text = RichText::new(format!("{}  {}", step.number(), step.title()));
                let text = if current {
                    text.strong().color(accent)
                } else if done || self.reachable(step) {
                    text
                } else {
                    text.color(ui.visuals().weak_text_color())
                };
                // One widget per step (not a frame around a label), so a narrow window wraps
                // the indicator between steps instead of squeezing a step's name.
                let button = egui::Button::new(text).min_size(egui::vec2(0.0, 26.0));
                let button = if current {
                    button
                        .fill(Color32::TRANSPARENT)
                        .stroke(egui::Stroke::new(1.5, accent))
                } else {
                    button.frame(false)
                };
                let reachable = self.reachable(step);
                let response = ui.add(button.sense(if reachable {
                    egui::Sense::click()
                } else {
                    egui::Sense::hover()
                }));
                let response = if reachable {
                    response.on_hover_text(format!("Go to step {}", step.number()))
                } else {
                    response
                };
                if response.clicked() {
                    clicked = Some(step);
                }
                if step != Step::Finish {
                    ui.weak("›");
                }
            }
        });
        ui.add_space(6.0);
        clicked
    }

    fn buttons_ui(&mut self, ui: &mut Ui) {
        ui.add_space(8.0);
        let valid = self.validate_current();
        ui.horizontal(|ui| {
            let finished = self.finish.report.done().is_some_and(|r| r.saved);
            if !finished
                && ui
                    .add_enabled(
                        !self.finish.report.is_pending(),
                        egui::Button::new("Cancel").min_size(egui::vec2(88.0, 30.0)),
                    )
                    .clicked()
            {
                self.cancel();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let accent = primary_fill(ui.visuals());
                let next = egui::Button::new(
                    RichText::new(self.next_label())
                        .strong()
                        .color(Color32::WHITE),
                )
                .fill(accent)
                .min_size(egui::vec2(96.0, 30.0));
                if ui.add_enabled(valid.is_ok(), next).clicked() {
                    self.next();
                }
                let can_go_back =
                    self.step.previous().is_some() && !self.finish.report.is_pending() && !finished;
                if ui
                    .add_enabled(
                        can_go_back,
                        egui::Button::new("Back").min_size(egui::vec2(88.0, 30.0)),
                    )
                    .clicked()
                {
                    self.back();
                }
                if let Err(why) = &valid {
                    ui.add(
                        egui::Label::new(
                            RichText::new(why.as_str()).color(widgets::error_color(ui)),
                        )
                        .truncate(),
                    );
                }
            });
        });
        ui.add_space(8.0);
    }

    fn cancel_modal_ui(&mut self, ctx: &egui::Context) {
        if !self.confirming_cancel {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("cancel-confirmation")).show(ctx, |ui| {
            ui.set_width(380.0);
            ui.heading("Discard your changes?");
            ui.label("Nothing has been saved yet. Closing the wizard now loses what you entered.");
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                // The safe choice first, the destructive one second.
                if ui.button("Keep editing").clicked() {
                    self.confirming_cancel = false;
                }
                if ui
                    .button(RichText::new("Discard and close").color(widgets::error_color(ui)))
                    .clicked()
                {
                    self.confirming_cancel = false;
                    self.outcome = Some(Outcome::Cancelled);
                }
            });
        });
        if modal.should_close() {
            self.confirming_cancel = false;
        }
    }
}

impl eframe::App for Wizard {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        Wizard::ui(self, ui);
    }
}
