//! The wizard's shell: the step indicator, Back / Next / Cancel, the cancel confirmation, the
//! keyboard (Enter = Next, but never Finish; Esc = Cancel), and running the commands each step
//! returns after the frame.

use std::path::PathBuf;

use egui::{Color32, Key, RichText, Ui};

use super::draft::{Draft, FingerprintPart, fingerprint};
use super::jobs::{Jobs, Reply, Task};
use super::step::Step;
use super::steps::Command;
use super::steps::azure::{AzureStep, CredentialKind};
use super::steps::credentials::CredentialsStep;
use super::steps::finish::{FinishContext, FinishStep};
use super::steps::pairing::{GroupItem, PairRow, PairingStep};
use super::steps::preview::PreviewStep;
use super::steps::search::SearchStep;
use super::steps::summary::summary_ui;
use super::widgets::{self, SecretInput};
use crate::config::{ConfigFile, EntraCredential, Settings};
use crate::sim::demo::Demo;

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
    /// The cancel confirmation is open.
    pub confirming_cancel: bool,
    /// The last export's outcome, in words.
    pub export_notice: Option<String>,
    pub(crate) jobs: Jobs,
    pub(crate) mode: Mode,
    pub(crate) options: WizardOptions,
    base: Option<ConfigFile>,
    /// Fingerprint of the fields as loaded: Cancel asks first when they differ.
    clean: u64,
    styled: bool,
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
            confirming_cancel: false,
            export_notice: None,
            jobs: Jobs::new(runtime),
            mode,
            options,
            base: None,
            clean: 0,
            styled: false,
        };
        match mode {
            Mode::Edit => match crate::config::load(&wizard.config_path) {
                Ok(file) => wizard.prefill(&file, true),
                Err(e) => {
                    wizard.mode = Mode::New;
                    wizard.banner = Some(format!(
                        "{e}\nThe wizard starts empty; Finish replaces that file."
                    ));
                }
            },
            Mode::Demo => wizard.start_demo(demo_dir),
            Mode::New => {}
        }
        wizard.finish.install_service = wizard.service_install().is_ok();
        wizard.clean = wizard.fingerprint();
        wizard
    }

    fn start_demo(&mut self, dir: PathBuf) {
        self.demo_status = Task::Pending;
        self.jobs.spawn(async move {
            let started = Demo::start(&dir).await;
            Box::new(move |w: &mut Wizard| match started {
                Ok(demo) => {
                    let file = demo.config.clone();
                    w.prefill(&file, false);
                    // The demo's config pairs two groups; step 3 is for the administrator to
                    // pair, so its pairs are not taken over (except for the screenshot aid).
                    if w.options.open_step.is_some() {
                        w.pairing.pairs = pairs_of(&file);
                    }
                    w.demo = Some(demo);
                    w.demo_status = Task::Done(());
                    w.clean = w.fingerprint();
                    if let Some(step) = w.options.open_step {
                        w.go_to(step);
                    }
                }
                Err(e) => {
                    w.demo_status = Task::Failed(format!(
                        "The demo could not start: {e}. Run `adsync demo` in a terminal for details."
                    ))
                }
            }) as Reply
        });
    }

    /// Fills the fields from a config file; secrets show as "stored (unchanged)".
    fn prefill(&mut self, file: &ConfigFile, with_pairs: bool) {
        let settings = Settings::from_file(file);
        let c = &mut self.credentials;
        c.url = file.target.url.clone();
        c.auth = file.target.auth;
        c.token = SecretInput::stored(file.target.token.clone());
        c.username = file.target.username.clone().unwrap_or_default();
        c.password = SecretInput::stored(file.target.password.clone());
        c.admin_email = file.target.admin_email.clone().unwrap_or_default();
        c.default_password = SecretInput::stored(file.policy.default_password.clone());
        c.dry_run = file.service.dry_run;
        let a = &mut self.azure;
        a.cloud = file.entra.cloud;
        a.tenant = file.entra.tenant.clone();
        a.client_id = file.entra.client_id.clone();
        match &settings.entra.credential {
            EntraCredential::Secret(r) => {
                a.credential = CredentialKind::Secret;
                a.client_secret = SecretInput::stored(Some(r.clone()));
            }
            EntraCredential::Certificate(path) => {
                a.credential = CredentialKind::Certificate;
                a.certificate = path.display().to_string();
            }
        }
        a.authority_url = file.entra.authority_url.clone().unwrap_or_default();
        a.graph_url = file.entra.graph_url.clone().unwrap_or_default();
        if with_pairs {
            self.pairing.pairs = pairs_of(file);
        }
        self.search.load_config(file, with_pairs);
        self.base = Some(file.clone());
    }

    /// The fields as a detached draft for a job.
    pub(crate) fn draft(&self) -> Draft {
        Draft {
            credentials: self.credentials.clone(),
            azure: self.azure.clone(),
            pairs: self.pairing.pairs.clone(),
            scope: self.search.scope_rules(),
            include_guests: self.search.include_guests,
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
                _ => Ok(()),
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
            self.styled = true;
        }
        self.apply_replies();
        self.close_requested(&ctx);
        // A dialog open when the frame starts owns Enter and Esc for this frame, even if it
        // closes while drawing (Esc closing the confirmation must not also cancel the wizard).
        let dialog_open = self.confirming_cancel || self.search.confirming;

        egui::Panel::top("header").show(ui, |ui| self.header_ui(ui));
        egui::Panel::bottom("buttons").show(ui, |ui| self.buttons_ui(ui));
        let mut commands: Vec<Command> = Vec::new();
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    ui.set_max_width(980.0);
                    if let Some(banner) = &self.banner {
                        widgets::failure_ui(ui, banner);
                        if ui.small_button("Dismiss").clicked() {
                            self.banner = None;
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
                if let Some(notice) = &self.export_notice {
                    ui.label(notice.as_str());
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
                    editing: self.mode == Mode::Edit,
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

    fn header_ui(&mut self, ui: &mut Ui) {
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.heading(RichText::new("adsync setup").strong());
            if self.mode == Mode::Demo {
                ui.label(RichText::new("demo: simulated tenant and application").italics());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                theme_ui(ui);
                ui.weak(match self.mode {
                    Mode::Edit => format!("Editing {}", self.config_path.display()),
                    _ => format!("Writes {}", self.config_path.display()),
                });
            });
        });
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            for step in Step::ALL {
                let current = step == self.step;
                let done = step.number() < self.step.number();
                let accent = ui.visuals().selection.bg_fill;
                let text = RichText::new(format!("{}  {}", step.number(), step.title()));
                let text = if current {
                    text.strong().color(accent)
                } else if done {
                    text
                } else {
                    text.weak()
                };
                let frame = egui::Frame::new()
                    .inner_margin(egui::Margin::symmetric(8, 4))
                    .corner_radius(4.0)
                    .stroke(if current {
                        egui::Stroke::new(1.5, accent)
                    } else {
                        egui::Stroke::NONE
                    });
                frame.show(ui, |ui| ui.label(text));
                if step != Step::Finish {
                    ui.weak("›");
                }
            }
        });
        ui.add_space(6.0);
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
                if ui.button("Discard and close").clicked() {
                    self.confirming_cancel = false;
                    self.outcome = Some(Outcome::Cancelled);
                }
                if ui.button("Keep editing").clicked() {
                    self.confirming_cancel = false;
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

/// Follow the system's theme, or force light or dark (egui's own switch draws emoji that the
/// default fonts lack).
fn theme_ui(ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    let current = ctx.options(|o| o.theme_preference);
    // Right to left: the last added is the leftmost.
    for (preference, name) in [
        (egui::ThemePreference::Dark, "Dark"),
        (egui::ThemePreference::Light, "Light"),
        (egui::ThemePreference::System, "System theme"),
    ] {
        if ui.selectable_label(current == preference, name).clicked() {
            ctx.set_theme(preference);
        }
    }
}

/// Spacing and type sizes readable at 1024×768.
fn style(ctx: &egui::Context) {
    ctx.set_visuals_of(egui::Theme::Light, visuals(egui::Theme::Light));
    ctx.set_visuals_of(egui::Theme::Dark, visuals(egui::Theme::Dark));
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 5.0);
        style.spacing.interact_size.y = 26.0;
        for (text_style, size) in [
            (egui::TextStyle::Body, 14.5),
            (egui::TextStyle::Button, 14.5),
            (egui::TextStyle::Monospace, 13.5),
            (egui::TextStyle::Small, 12.5),
            (egui::TextStyle::Heading, 20.0),
        ] {
            if let Some(font) = style.text_styles.get_mut(&text_style) {
                font.size = size;
            }
        }
    });
}

/// The pairs of a config file as pairing rows (names from its informational keys).
fn pairs_of(file: &ConfigFile) -> Vec<PairRow> {
    let mut pairs = file.pairs.clone();
    pairs.sort_by_key(|p| p.order);
    pairs
        .into_iter()
        .map(|p| PairRow {
            entra: GroupItem {
                name: p
                    .entra_group_name
                    .unwrap_or_else(|| p.entra_group_id.clone()),
                id: p.entra_group_id,
                members: None,
            },
            target: GroupItem {
                name: p
                    .target_group_name
                    .unwrap_or_else(|| p.target_group_id.clone()),
                id: p.target_group_id,
                members: None,
            },
            nested: p.nested,
        })
        .collect()
}

/// The colours of a theme, adjusted so that both meet WCAG AA (SPEC §5): egui's light theme
/// draws text fields white on near-white with no border, so every field and button gets a
/// border that stands out 3:1 from the panel and from the field itself.
pub(crate) fn visuals(theme: egui::Theme) -> egui::Visuals {
    let mut visuals = theme.default_visuals();
    let border = match theme {
        egui::Theme::Light => Color32::from_gray(0x76),
        egui::Theme::Dark => Color32::from_gray(0x8c),
    };
    visuals.widgets.inactive.bg_stroke = egui::Stroke::new(1.0, border);
    visuals
}

/// The fill of the primary button (Next, Finish), white text on it. The selection colour of
/// egui's light theme is a pale blue (white on it is about 1.6:1), so the light theme has a
/// darker blue of its own.
pub(crate) fn primary_fill(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        // egui's dark selection blue is 2.3:1 on the dark panel; this one is 3.5:1 there and
        // 4.9:1 under white text.
        Color32::from_rgb(0x1f, 0x6f, 0xd0)
    } else {
        Color32::from_rgb(0x00, 0x5a, 0xb4)
    }
}
