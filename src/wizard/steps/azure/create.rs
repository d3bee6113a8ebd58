//! Step 2's *Create it for me*: runs the same registration as `adsync entra register`
//! (`crate::entra::register`) off the UI thread, shows each stage as the library reports it, can be
//! cancelled (the job's future is dropped, so no further request is sent), and on success fills in
//! the step's fields and runs *Test connection*. Failures are told in the screen's words, with the
//! library's own text behind *Details*.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use egui::Ui;

use super::{AzureCommand, AzureStep, CredentialKind};
use crate::entra::register::{self, Opener, RegisterError, RegisterOptions};
use crate::wizard::jobs::Reply;
use crate::wizard::shell::Wizard;
use crate::wizard::widgets::{self, ResultView};

/// How far a registration has come, in the order the library reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    #[default]
    SigningIn,
    SignedIn,
    AppCreated,
    PermissionsGranted,
    /// Polling for a token that carries both permissions.
    Waiting,
    Ready,
}

impl Stage {
    /// The stage a progress line of the library reports, if it marks one.
    fn of_line(line: &str) -> Option<Stage> {
        let line = line.trim_start();
        if line == "Signed in." {
            Some(Stage::SignedIn)
        } else if line.starts_with("Created the ") || line.starts_with("Adopting the existing") {
            Some(Stage::AppCreated)
        } else if line.starts_with("Granted ") {
            Some(Stage::PermissionsGranted)
        } else if line.starts_with("Waiting for Entra") {
            Some(Stage::Waiting)
        } else if line.starts_with("The app's token carries") {
            Some(Stage::Ready)
        } else {
            None
        }
    }
}

/// What the running job has reported so far (shared between the job and the UI thread).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub stage: Stage,
    /// When the wait for Entra began (the clock on screen counts from it).
    pub waiting_since: Option<Instant>,
    /// The library's last line (a retry while Entra replicates, the sign-in address…).
    pub last: String,
}

impl Progress {
    fn report(&mut self, line: &str) {
        if let Some(stage) = Stage::of_line(line)
            && stage > self.stage
        {
            self.stage = stage;
            if stage == Stage::Waiting {
                self.waiting_since = Some(Instant::now());
            }
        }
        self.last = line.trim().to_owned();
    }
}

/// What a registration made, as the step shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub display_name: String,
    pub client_id: String,
    pub object_id: String,
    pub certificate: PathBuf,
    /// An app of the same name existed and was adopted.
    pub adopted: bool,
}

/// The state of *Create it for me*.
#[derive(Clone, Debug, Default)]
pub enum CreateState {
    #[default]
    Idle,
    Running {
        progress: Arc<Mutex<Progress>>,
        cancel: Arc<tokio::sync::Notify>,
    },
    Done(Created),
    /// In the screen's words, the library's full text behind *Details*.
    Failed(ResultView),
    Cancelled,
}

impl CreateState {
    /// True while the job runs.
    pub fn is_running(&self) -> bool {
        matches!(self, CreateState::Running { .. })
    }

    /// The progress so far, while running.
    pub fn progress(&self) -> Option<Progress> {
        match self {
            CreateState::Running { progress, .. } => progress.lock().ok().map(|p| p.clone()),
            _ => None,
        }
    }
}

/// The wait's clock as the screen shows it: `0:42`.
pub fn clock(since: Instant) -> String {
    let secs = since.elapsed().as_secs();
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// Turns the library's error into the screen's words: what happened and one thing to do.
pub fn explain(error: &RegisterError) -> String {
    match error {
        RegisterError::SignIn(_) | RegisterError::DeviceCodeBlocked(_) => {
            "The sign-in did not complete. Press Create it for me again and sign in as a Global \
             Administrator, or fill in the fields by hand."
                .into()
        }
        RegisterError::Certificate { path, .. } => format!(
            "The certificate {} could not be made or read. Move that file away and press Create \
             it for me again.",
            path.display()
        ),
        RegisterError::CannotCreate { .. } => {
            "The account you signed in with may not create app registrations. Press Create it \
             for me again and sign in as an Application Administrator, Cloud Application \
             Administrator or Global Administrator."
                .into()
        }
        RegisterError::CannotGrant { app, .. } => format!(
            "The app \"{}\" was created, but the account you signed in with may not grant \
             Microsoft Graph permissions: that needs the Privileged Role Administrator or Global \
             Administrator role. Ask such an administrator to press Open admin consent (the \
             fields are filled in), then press Test connection.",
            app.display_name
        ),
        RegisterError::Ambiguous { name, count } => format!(
            "{count} app registrations are already named \"{name}\", so adsync cannot tell which \
             to use. Remove the extra ones in the portal's App registrations, or fill in the \
             fields by hand."
        ),
        RegisterError::ConsentNotVisible { app, .. } => format!(
            "The app \"{}\" was created and its permissions granted, but Entra has not yet \
             issued it a token carrying them. Press Test connection again in a few minutes.",
            app.display_name
        ),
        RegisterError::Graph { step, made, .. } => {
            if made.is_empty() {
                format!("Microsoft Graph refused {step}. Press Create it for me again.")
            } else {
                format!(
                    "Microsoft Graph refused {step}. Press Create it for me again: it reuses the \
                     app made so far."
                )
            }
        }
    }
}

/// The app a failure leaves behind (its fields are worth filling in), if any.
fn app_left(error: &RegisterError) -> Option<&register::AppIds> {
    match error {
        RegisterError::CannotGrant { app, .. } | RegisterError::ConsentNotVisible { app, .. } => {
            Some(app)
        }
        _ => None,
    }
}

/// Where the wizard keeps the new app's certificate: beside the config, as the command does.
pub fn certificate_path(config_path: &Path) -> PathBuf {
    let dir = crate::wizard::dialog::config_dir(config_path);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    dir.join(format!("entra-{}.pem", register::DEFAULT_NAME))
}

/// Opens the sign-in page by following its redirects from here: the simulated tenant's authorize
/// endpoint plays the administrator who signs in and consents, and redirects straight to the
/// loopback address the library listens on.
fn simulated_browser() -> Opener {
    Opener::new(|url| {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let url = url.to_owned();
        runtime.spawn(async move {
            let _ = reqwest::Client::new().get(url).send().await;
        });
        true
    })
}

impl AzureStep {
    fn create_progress(&self) -> Progress {
        self.create.progress().unwrap_or_default()
    }

    /// Draws the *Create it for me* button, or the running job's stages, or its outcome.
    pub(super) fn create_ui(&mut self, ui: &mut Ui) -> Option<AzureCommand> {
        let mut command = None;
        let can_start = !self.tenant.trim().is_empty()
            && !self
                .problems()
                .iter()
                .any(|(f, _)| *f == super::AzureField::Tenant);
        ui.horizontal(|ui| {
            let running = self.create.is_running();
            if ui
                .add_enabled(can_start && !running, egui::Button::new("Create it for me"))
                .on_hover_text(
                    "Sign in once as an administrator: adsync creates the app registration with \
                     a certificate made on this machine, and grants it the two Graph permissions",
                )
                .on_disabled_hover_text("Enter the tenant first")
                .clicked()
            {
                command = Some(AzureCommand::CreateApp);
            }
            if running && ui.button("Cancel creating").clicked() {
                command = Some(AzureCommand::CancelCreate);
            }
            if !can_start {
                ui.weak("Enter the tenant first.");
            }
        });
        match &mut self.create {
            CreateState::Idle => {}
            CreateState::Running { .. } => {
                let progress = self.create_progress();
                stages_ui(ui, &progress);
                // The clock on screen moves even while the library is quiet.
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(500));
            }
            CreateState::Done(created) => {
                let what = if created.adopted {
                    "Adopted"
                } else {
                    "Created"
                };
                ui.colored_label(
                    widgets::ok_color(ui),
                    format!(
                        "{what} the app registration \"{}\" (client ID {}, object ID {}). The \
                         private key stays in {}.",
                        created.display_name,
                        created.client_id,
                        created.object_id,
                        created.certificate.display()
                    ),
                );
            }
            CreateState::Failed(failure) => {
                widgets::result_ui(ui, failure);
            }
            CreateState::Cancelled => {
                ui.weak(
                    "Cancelled. Anything already created stays in the tenant; press Create it \
                     for me again to reuse it.",
                );
            }
        }
        command
    }
}

/// The four stages, each done, running (spinner) or to come.
fn stages_ui(ui: &mut Ui, progress: &Progress) {
    let waiting = match progress.waiting_since {
        Some(since) => format!("Waiting for Entra {}…", clock(since)),
        None => "Wait until Entra gives the app a token with the permissions".into(),
    };
    let rows = [
        (
            Stage::SignedIn,
            "Signing in (browser)…",
            "Signed in".to_owned(),
        ),
        (
            Stage::AppCreated,
            "Creating the app registration…",
            "App created".to_owned(),
        ),
        (
            Stage::PermissionsGranted,
            "Granting User.Read.All and GroupMember.Read.All…",
            "Permissions granted".to_owned(),
        ),
        (Stage::Ready, waiting.as_str(), "Entra confirmed".to_owned()),
    ];
    let mut current_shown = false;
    for (done_at, doing, done) in rows {
        ui.horizontal(|ui| {
            if progress.stage >= done_at {
                ui.label(
                    egui::RichText::new("done")
                        .strong()
                        .color(widgets::ok_color(ui)),
                );
                ui.label(done);
            } else if !current_shown {
                current_shown = true;
                ui.spinner();
                ui.label(doing);
            } else {
                ui.weak("next");
                ui.weak(doing);
            }
        });
    }
    if !progress.last.is_empty() {
        ui.add(egui::Label::new(egui::RichText::new(&progress.last).weak()).wrap());
    }
}

// The effects, run by the shell after the frame.
impl Wizard {
    /// Starts the registration off the UI thread.
    pub(crate) fn start_create_app(&mut self) {
        if self.azure.create.is_running() {
            return;
        }
        let a = &self.azure;
        let endpoints = a.cloud.endpoints();
        let url = |field: &str, fallback: &str| -> Option<url::Url> {
            let text = if field.trim().is_empty() {
                fallback
            } else {
                field.trim()
            };
            url::Url::parse(text.trim_end_matches('/')).ok()
        };
        let (Some(authority), Some(graph)) = (
            url(&a.authority_url, endpoints.authority),
            url(&a.graph_url, endpoints.graph),
        ) else {
            self.azure.create = CreateState::Failed(ResultView::failure(
                "The Login URL override or Graph URL override is not a URL. Correct it or leave \
                 it empty.",
            ));
            return;
        };
        let certificate = certificate_path(&self.config_path);
        let mut options = RegisterOptions::new(a.tenant.trim(), a.cloud, certificate.clone());
        options.authority_url = authority;
        options.graph_url = graph;
        if self.demo.is_some() {
            options.opener = simulated_browser();
        }
        let progress = Arc::new(Mutex::new(Progress::default()));
        let cancel = Arc::new(tokio::sync::Notify::new());
        self.azure.create = CreateState::Running {
            progress: progress.clone(),
            cancel: cancel.clone(),
        };
        let repainter = self.jobs.repainter();
        self.jobs.spawn(async move {
            let report = move |line: &str| {
                if let Ok(mut p) = progress.lock() {
                    p.report(line);
                }
                repainter.repaint();
            };
            if let Some(dir) = certificate.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                let failure = ResultView::failure(format!(
                    "The folder {} cannot be created for the certificate. Choose a config path \
                     you may write to.",
                    dir.display()
                ))
                .with_details(e.to_string());
                return Box::new(move |w: &mut Wizard| w.azure.create = CreateState::Failed(failure))
                    as Reply;
            }
            let outcome = tokio::select! {
                result = register::register(&options, &report) => Some(result),
                // Dropping the registration's future stops it at its next await: no further
                // request reaches the tenant.
                () = cancel.notified() => None,
            };
            let cloud = options.cloud;
            Box::new(move |w: &mut Wizard| w.finish_create_app(outcome, certificate, cloud))
                as Reply
        });
    }

    /// Applies the registration's outcome: fills the fields and tests them.
    fn finish_create_app(
        &mut self,
        outcome: Option<Result<register::Registered, RegisterError>>,
        certificate: PathBuf,
        cloud: crate::config::Cloud,
    ) {
        let fill = |azure: &mut AzureStep, client_id: &str| {
            azure.cloud = cloud;
            azure.client_id = client_id.to_owned();
            azure.credential = CredentialKind::Certificate;
            azure.certificate = certificate.display().to_string();
        };
        match outcome {
            None => self.azure.create = CreateState::Cancelled,
            Some(Ok(done)) => {
                fill(&mut self.azure, &done.app.client_id);
                self.azure.create = CreateState::Done(Created {
                    display_name: done.app.display_name,
                    client_id: done.app.client_id,
                    object_id: done.app.object_id,
                    certificate: done.certificate,
                    adopted: done.adopted,
                });
                self.run_azure(AzureCommand::TestConnection);
            }
            Some(Err(error)) => {
                if let Some(app) = app_left(&error) {
                    fill(&mut self.azure, &app.client_id);
                }
                self.azure.create = CreateState::Failed(
                    ResultView::failure(explain(&error)).with_details(error.to_string()),
                );
            }
        }
    }

    /// Cancel: stops the running registration.
    pub(crate) fn cancel_create_app(&mut self) {
        if let CreateState::Running { cancel, .. } = &self.azure.create {
            cancel.notify_one();
        }
    }
}
