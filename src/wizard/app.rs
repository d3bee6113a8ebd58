//! The wizard's shell: the step indicator, Back / Next / Cancel, the cancel confirmation, the
//! keyboard (Enter = Next, Esc = Cancel), and the code that runs each step's commands after the
//! frame, handing network work to the background runtime.

use std::path::{Path, PathBuf};

use egui::{Color32, Key, RichText, Ui};

use super::azure::{AzureCommand, AzureStep, CredentialKind, generate_certificate};
use super::credentials::{CredentialsCommand, CredentialsStep};
use super::draft::{Connections, Draft, FingerprintPart, fingerprint};
use super::finish::{
    FinishContext, FinishReport, FinishStep, SecretStorage, ServiceInstall, first_sync,
    install_service, save,
};
use super::jobs::{Jobs, Reply, Task};
use super::pairing::{GroupItem, PairRow, PairingCommand, PairingStep, Side};
use super::preview::{PreviewCommand, PreviewStep, export};
use super::search::{SearchCommand, SearchStep};
use super::step::Step;
use super::widgets::{self, SecretInput};
use crate::config::{ConfigFile, EntraCredential, ScopeRule, Settings};
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
enum Mode {
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
    pub groups: Task<()>,
    pub plan_status: Task<()>,
    pub source_status: Task<()>,
    /// The last export's outcome, in words.
    pub export_notice: Option<String>,
    pub(crate) jobs: Jobs,
    mode: Mode,
    options: WizardOptions,
    base: Option<ConfigFile>,
    /// Scope rules of an edited config beyond the first (step 4 edits one rule; the rest are kept).
    extra_scope: Vec<ScopeRule>,
    /// Fingerprint of the fields as loaded: Cancel asks first when they differ.
    clean: u64,
    /// Fingerprints the loaded groups, source and plan were read for.
    groups_for: Option<u64>,
    source_for: Option<u64>,
    plan_for: Option<u64>,
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
            groups: Task::Idle,
            plan_status: Task::Idle,
            source_status: Task::Idle,
            export_notice: None,
            jobs: Jobs::new(runtime),
            mode,
            options,
            base: None,
            extra_scope: Vec::new(),
            clean: 0,
            groups_for: None,
            source_for: None,
            plan_for: None,
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
            if let Some((first, rest)) = file.scope.split_first() {
                self.search.attribute = first.attribute;
                self.search.operator = first.operator;
                self.search.term = first.value.clone();
                self.extra_scope = rest.to_vec();
            }
        }
        self.base = Some(file.clone());
    }

    /// The fields as a detached draft for a job.
    pub(crate) fn draft(&self) -> Draft {
        let mut scope = self.search.scope_rules();
        scope.extend(self.extra_scope.iter().cloned());
        Draft {
            credentials: self.credentials.clone(),
            azure: self.azure.clone(),
            pairs: self.pairing.pairs.clone(),
            scope,
            // An edited config keeps the keys the wizard does not show; so does the demo's
            // (its state and log paths under the demo directory). Its pairs and scope are
            // replaced by the wizard's.
            base: self.base.clone(),
        }
    }

    fn fingerprint(&self) -> u64 {
        let draft = self.draft();
        fingerprint(&[
            &draft.credentials as &dyn FingerprintPart,
            &draft.azure,
            &draft.pairs,
            &draft.scope,
        ])
    }

    fn connection_fingerprint(&self) -> u64 {
        fingerprint(&[&self.credentials as &dyn FingerprintPart, &self.azure])
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
            Step::Search => self.search.ask_confirmation(),
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
            Step::Pairing => {
                let key = self.connection_fingerprint();
                if self.groups_for != Some(key) || matches!(self.groups, Task::Failed(_)) {
                    self.load_groups(key);
                }
            }
            Step::Search => {
                let key = self.source_key();
                if self.source_for != Some(key) || self.search.source.is_none() {
                    self.load_source(key);
                }
            }
            Step::Preview => {
                let key = self.fingerprint();
                if self.plan_for != Some(key) || self.preview.plan.is_none() {
                    self.load_plan(key);
                }
            }
            _ => {}
        }
    }

    fn source_key(&self) -> u64 {
        fingerprint(&[
            &self.credentials as &dyn FingerprintPart,
            &self.azure,
            &self.pairing.pairs,
        ])
    }

    fn load_groups(&mut self, key: u64) {
        self.groups = Task::Pending;
        self.groups_for = Some(key);
        let draft = self.draft();
        self.jobs.spawn(async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let (entra, target) =
                    tokio::join!(conn.graph.list_groups(), conn.scim.list_groups());
                let entra = entra.map_err(|e| format!("Reading the Entra groups failed: {e}"))?;
                let target =
                    target.map_err(|e| format!("Reading the application's groups failed: {e}"))?;
                Ok::<_, String>((entra, target))
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                if w.groups_for != Some(key) {
                    return;
                }
                match result {
                    Ok((entra, target)) => {
                        w.pairing.entra_groups = entra
                            .into_iter()
                            .map(|g| GroupItem {
                                name: g.display_name.clone().unwrap_or_else(|| g.id.clone()),
                                id: g.id,
                                members: None,
                            })
                            .collect();
                        w.pairing.target_groups = target
                            .into_iter()
                            .map(|g| GroupItem {
                                id: g.id,
                                name: g.display_name,
                                members: None,
                            })
                            .collect();
                        w.groups = Task::Done(());
                    }
                    Err(e) => w.groups = Task::Failed(e),
                }
            }) as Reply
        });
    }

    fn count_members(&mut self, side: Side, id: String) {
        let draft = self.draft();
        self.jobs.spawn(async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                match side {
                    Side::Entra => conn
                        .graph
                        .group_members(&id, true)
                        .await
                        .map(|m| m.len())
                        .map_err(|e| e.to_string()),
                    Side::Target => conn
                        .scim
                        .group_member_ids(&id)
                        .await
                        .map(|m| m.len())
                        .map_err(|e| e.to_string()),
                }
            }
            .await;
            Box::new(move |w: &mut Wizard| match result {
                Ok(n) => w.pairing.set_member_count(side, &id, n),
                Err(e) => {
                    w.banner = Some(format!("Counting the members of group {id} failed: {e}"))
                }
            }) as Reply
        });
    }

    fn load_source(&mut self, key: u64) {
        self.search.source = None;
        self.source_status = Task::Pending;
        self.source_for = Some(key);
        let draft = self.draft();
        self.jobs.spawn_pinned(move || async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let links = draft.links(&conn.settings)?;
                conn.source(&links).await
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                if w.source_for != Some(key) {
                    return;
                }
                match result {
                    Ok(source) => {
                        w.search.source = Some(source);
                        w.source_status = Task::Done(());
                    }
                    Err(e) => w.source_status = Task::Failed(e),
                }
            }) as Reply
        });
    }

    fn load_plan(&mut self, key: u64) {
        self.preview.plan = None;
        self.plan_status = Task::Pending;
        self.plan_for = Some(key);
        let draft = self.draft();
        self.jobs.spawn_pinned(move || async move {
            let result = async {
                let conn = Connections::open(&draft).await?;
                let links = draft.links(&conn.settings)?;
                conn.plan(&links).await
            }
            .await;
            Box::new(move |w: &mut Wizard| {
                if w.plan_for != Some(key) {
                    return;
                }
                match result {
                    Ok(plan) => {
                        w.preview.set_plan(plan);
                        w.plan_status = Task::Done(());
                    }
                    Err(e) => w.plan_status = Task::Failed(e),
                }
            }) as Reply
        });
    }

    /// Where a job failure that belongs to no field is shown.
    pub(crate) fn report_job_failure(&mut self, message: String) {
        self.banner = Some(message);
    }

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
            Some(adsync) => Ok(ServiceInstall {
                adsync,
                system: running_as_root(),
            }),
            None => Err(
                "The adsync program was not found beside adsync-setup, so the service \
                         cannot be installed from here; install it later with `adsync service \
                         install --now`."
                    .into(),
            ),
        }
    }

    fn storage(&self) -> SecretStorage {
        SecretStorage::choose(self.mode == Mode::Demo)
    }

    fn run_finish(&mut self) {
        let draft = self.draft();
        let path = self.config_path.clone();
        let storage = self.storage();
        let install = if self.finish.install_service {
            self.service_install().ok()
        } else {
            None
        };
        let run_sync = self.finish.first_sync;
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

    fn run_credentials(&mut self, command: CredentialsCommand) {
        match command {
            CredentialsCommand::TestConnection => {
                self.credentials.test = Task::Pending;
                let credentials = self.credentials.clone();
                self.jobs.spawn(async move {
                    let lines = match super::draft::scim_client(&credentials).await {
                        Ok(client) => {
                            let email = Some(credentials.admin_email.trim())
                                .filter(|e| !e.is_empty())
                                .map(str::to_owned);
                            Ok(crate::scim::check_with(&client, email.as_deref()).await)
                        }
                        Err(e) => Err(e),
                    };
                    Box::new(move |w: &mut Wizard| {
                        w.credentials.test = match lines {
                            Ok(lines) => Task::Done(lines),
                            Err(e) => Task::Failed(e),
                        }
                    }) as Reply
                });
            }
        }
    }

    fn run_azure(&mut self, command: AzureCommand) {
        match command {
            AzureCommand::TestConnection => {
                self.azure.test = Task::Pending;
                let draft = self.draft();
                self.jobs.spawn(async move {
                    let settings = draft.settings();
                    let lines = match super::draft::token_source(&draft, &settings).await {
                        Ok(tokens) => Ok(crate::entra::check_tokens(
                            &settings.entra,
                            std::sync::Arc::new(tokens),
                            crate::http::RetryPolicy::default(),
                        )
                        .await),
                        Err(e) => Err(e),
                    };
                    Box::new(move |w: &mut Wizard| {
                        w.azure.test = match lines {
                            Ok(lines) => Task::Done(lines),
                            Err(e) => Task::Failed(e),
                        }
                    }) as Reply
                });
            }
            AzureCommand::ChoosePem => {
                self.jobs.spawn(async move {
                    let picked = rfd::AsyncFileDialog::new()
                        .set_title("Certificate with private key (PEM)")
                        .add_filter("PEM", &["pem"])
                        .pick_file()
                        .await;
                    let path = picked.map(|f| f.path().to_owned());
                    Box::new(move |w: &mut Wizard| match path {
                        Some(path) => {
                            w.azure.certificate = path.display().to_string();
                            w.azure.notice = None;
                        }
                        None => {
                            w.azure.notice = Some(
                                "No file was chosen (the dialog was cancelled or cannot open \
                                 here); type the PEM's full path in the field instead."
                                    .into(),
                            )
                        }
                    }) as Reply
                });
            }
            AzureCommand::GenerateCertificate => {
                self.azure.generated = Task::Pending;
                let pem = free_path(&config_dir(&self.config_path), "entra-certificate", "pem");
                let subject = format!("adsync {}", self.azure.tenant.trim());
                self.jobs.spawn_blocking(move || {
                    let result = generate_certificate(&pem, &subject);
                    Box::new(move |w: &mut Wizard| match result {
                        Ok(generated) => {
                            w.azure.certificate = generated.pem.display().to_string();
                            w.azure.generated = Task::Done(generated);
                            // Ask where to save the public certificate for upload.
                            w.run_azure(AzureCommand::SaveCer);
                        }
                        Err(e) => w.azure.generated = Task::Failed(e),
                    }) as Reply
                });
            }
            AzureCommand::SaveCer => {
                let Some(generated) = self.azure.generated.done().cloned() else {
                    return;
                };
                self.jobs.spawn(async move {
                    let picked = rfd::AsyncFileDialog::new()
                        .set_title("Save the public certificate for upload")
                        .set_file_name("adsync.cer")
                        .save_file()
                        .await;
                    let outcome = match picked {
                        None => format!(
                            "Save dialog cancelled; the public certificate stays at {}.",
                            generated.cer.display()
                        ),
                        Some(file) => match std::fs::copy(&generated.cer, file.path()) {
                            Ok(_) => format!(
                                "Saved the public certificate as {}.",
                                file.path().display()
                            ),
                            Err(e) => format!(
                                "Cannot save {}: {e}. The public certificate stays at {}.",
                                file.path().display(),
                                generated.cer.display()
                            ),
                        },
                    };
                    Box::new(move |w: &mut Wizard| w.azure.notice = Some(outcome)) as Reply
                });
            }
            AzureCommand::OpenAppRegistrations => {
                let settings = self.draft().settings();
                let url = if self.azure.identity_valid() {
                    crate::entra::app_registration_url(&settings.entra)
                } else {
                    format!(
                        "{}/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
                        self.azure.cloud.endpoints().portal
                    )
                };
                self.open_url(url);
            }
            AzureCommand::OpenAdminConsent => {
                let settings = self.draft().settings();
                self.open_url(crate::entra::admin_consent_url(&settings.entra));
            }
        }
    }

    fn open_url(&mut self, url: String) {
        self.jobs.spawn_blocking(move || {
            let notice = match open::that_detached(&url) {
                Ok(()) => format!("Opened in the browser: {url}"),
                Err(e) => {
                    format!("No browser could be opened ({e}); open this address yourself: {url}")
                }
            };
            Box::new(move |w: &mut Wizard| w.azure.notice = Some(notice)) as Reply
        });
    }

    /// Runs what the search step asked for.
    pub(crate) fn run_search(&mut self, command: SearchCommand) {
        match command {
            SearchCommand::Confirmed => {
                self.search.confirming = false;
                self.go_to(Step::Preview);
            }
        }
    }

    fn run_preview(&mut self, command: PreviewCommand) {
        match command {
            PreviewCommand::Refresh => {
                let key = self.fingerprint();
                self.load_plan(key);
            }
            PreviewCommand::Export(format) => {
                let Some(plan) = self.preview.plan.clone() else {
                    return;
                };
                self.jobs.spawn(async move {
                    let picked = rfd::AsyncFileDialog::new()
                        .set_title("Export the plan")
                        .set_file_name(format!("adsync-plan.{}", format.extension()))
                        .save_file()
                        .await;
                    let notice = match picked {
                        None => "Export cancelled: no file was chosen.".to_owned(),
                        Some(file) => {
                            let path = file.path().to_owned();
                            match tokio::fs::write(&path, export(&plan, format)).await {
                                Ok(()) => format!("Exported the plan to {}.", path.display()),
                                Err(e) => format!("Cannot write {}: {e}.", path.display()),
                            }
                        }
                    };
                    Box::new(move |w: &mut Wizard| w.export_notice = Some(notice)) as Reply
                });
            }
        }
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
        // A dialog open when the frame starts owns Enter and Esc for this frame, even if it
        // closes while drawing (Esc closing the confirmation must not also cancel the wizard).
        let dialog_open = self.confirming_cancel || self.search.confirming;

        egui::Panel::top("header").show(ui, |ui| self.header_ui(ui));
        egui::Panel::bottom("buttons").show(ui, |ui| self.buttons_ui(ui));
        let mut pairing_commands = Vec::new();
        let mut search_commands = Vec::new();
        let mut preview_commands = Vec::new();
        let mut credentials_command = None;
        let mut azure_command = None;
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
                    match self.step {
                        Step::Credentials => {
                            credentials_command = self.credentials.credentials_ui(ui)
                        }
                        Step::AzureApp => azure_command = self.azure.azure_ui(ui),
                        Step::Pairing => {
                            match &self.groups {
                                Task::Pending => widgets::busy_ui(
                                    ui,
                                    "Reading the groups of Entra ID and of the application…",
                                ),
                                Task::Failed(message) => {
                                    widgets::failure_ui(ui, message);
                                    if ui.button("Try again").clicked() {
                                        let key = self.connection_fingerprint();
                                        self.load_groups(key);
                                    }
                                }
                                _ => {}
                            }
                            pairing_commands = self.pairing.ui(ui);
                        }
                        Step::Search => {
                            match &self.source_status {
                                Task::Pending => widgets::busy_ui(
                                    ui,
                                    "Reading the members of the paired groups…",
                                ),
                                Task::Failed(message) => {
                                    widgets::failure_ui(ui, message);
                                    if ui.button("Try again").clicked() {
                                        let key = self.source_key();
                                        self.load_source(key);
                                    }
                                }
                                _ => {}
                            }
                            if !self.extra_scope.is_empty() {
                                ui.weak(format!(
                                    "This config has {} more scope rule(s); they are kept as \
                                     they are.",
                                    self.extra_scope.len()
                                ));
                            }
                            search_commands = self.search.ui(ui);
                        }
                        Step::Preview => {
                            match &self.plan_status {
                                Task::Pending => widgets::busy_ui(
                                    ui,
                                    "Computing the plan: reading Entra ID and the application…",
                                ),
                                Task::Failed(message) => {
                                    widgets::failure_ui(ui, message);
                                    if ui.button("Try again").clicked() {
                                        preview_commands.push(PreviewCommand::Refresh);
                                    }
                                }
                                _ => {}
                            }
                            preview_commands.extend(self.preview.ui(ui));
                            if let Some(notice) = &self.export_notice {
                                ui.label(notice.as_str());
                            }
                        }
                        Step::Finish => {
                            let settings = self.draft().settings();
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
                });
        });
        self.cancel_modal_ui(&ctx);

        // Commands run after the frame.
        if let Some(command) = credentials_command {
            self.run_credentials(command);
        }
        if let Some(command) = azure_command {
            self.run_azure(command);
        }
        for PairingCommand::CountMembers { side, id } in pairing_commands {
            self.count_members(side, id);
        }
        for command in search_commands {
            self.run_search(command);
        }
        for command in preview_commands {
            self.run_preview(command);
        }
        if !dialog_open {
            self.keyboard(&ctx);
        }
        if let Some(outcome) = self.outcome {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            let _ = outcome;
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
        } else if enter && self.validate_current().is_ok() {
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
                let accent = ui.visuals().selection.bg_fill;
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

fn config_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `dir/stem.ext`, or `dir/stem-2.ext`, … when taken: a generated key never replaces one a
/// running service may still use.
fn free_path(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let first = dir.join(format!("{stem}.{ext}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{stem}-{n}.{ext}")))
        .find(|p| !p.exists())
        .expect("some name is free")
}

#[cfg(unix)]
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}
