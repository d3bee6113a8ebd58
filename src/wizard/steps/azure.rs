//! Step 2, the Azure app: national cloud, tenant, client ID, and a client secret or a certificate
//! (pick a PEM, or generate a key pair: the PEM with the private key stays beside the config,
//! mode 0600, and the public `.cer` is saved for upload). Buttons open the portal's app
//! registrations and the admin-consent URL; *Test connection* gets a token and lists the granted
//! and missing Graph permissions (`crate::entra::check`).

mod create;
#[cfg(test)]
mod tests;

pub use create::CreateState;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::Ui;

use crate::config::{Cloud, check_guid, check_tenant, check_url};
use crate::entra::CertificateCredential;
pub use crate::entra::certificate::{GeneratedCertificate, generate_certificate};
use crate::health::CheckLine;
use crate::wizard::jobs::{Reply, Task};
use crate::wizard::shell::Wizard;
use crate::wizard::widgets::{self, SecretInput, Touched};

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum AzureCommand {
    TestConnection,
    /// A native open dialog for a PEM file.
    ChoosePem,
    /// A new self-signed certificate and RSA key beside the config.
    GenerateCertificate,
    /// A native save dialog for the generated public certificate.
    SaveCer,
    OpenAppRegistrations,
    OpenAdminConsent,
    /// *Create it for me*: sign in as an administrator and register the app.
    CreateApp,
    /// Stop the running registration.
    CancelCreate,
}

/// Client secret or certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    #[default]
    Secret,
    Certificate,
}

/// The fields of step 2, as labelled on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AzureField {
    Tenant,
    ClientId,
    ClientSecret,
    Certificate,
    AuthorityUrl,
    GraphUrl,
}

impl AzureField {
    /// The label on screen (and the accessible name of the input).
    pub fn label(self) -> &'static str {
        match self {
            Self::Tenant => "Tenant",
            Self::ClientId => "Client ID",
            Self::ClientSecret => "Client secret",
            Self::Certificate => "Certificate PEM",
            Self::AuthorityUrl => "Login URL override",
            Self::GraphUrl => "Graph URL override",
        }
    }
}

/// A certificate file's check, remembered for its path and modification time.
type CertificateCheck = (
    String,
    Option<std::time::SystemTime>,
    Result<String, String>,
);

/// The state of step 2.
#[derive(Clone, Debug, Default)]
pub struct AzureStep {
    pub cloud: Cloud,
    pub tenant: String,
    pub client_id: String,
    pub credential: CredentialKind,
    pub client_secret: SecretInput,
    pub certificate: String,
    /// Advanced: where the identity platform and Graph are, when not the cloud's own.
    pub authority_url: String,
    pub graph_url: String,
    pub test: Task<Vec<CheckLine>>,
    pub generated: Task<GeneratedCertificate>,
    /// *Create it for me*.
    pub create: CreateState,
    /// The last file-dialog or browser outcome, in words.
    pub notice: Option<String>,
    touched: Touched,
    /// The certificate check for the path last seen (reading it each frame would be wasteful).
    certificate_check: Arc<Mutex<Option<CertificateCheck>>>,
}

impl AzureStep {
    /// Reads the certificate file once per path and modification time: `Ok(thumbprint)`.
    fn certificate_status(&self) -> Result<String, String> {
        let path = self.certificate.trim().to_owned();
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let Ok(mut cache) = self.certificate_check.lock() else {
            return check_certificate(Path::new(&path));
        };
        if let Some((p, m, result)) = cache.as_ref()
            && *p == path
            && *m == modified
        {
            return result.clone();
        }
        let result = check_certificate(Path::new(&path));
        *cache = Some((path, modified, result.clone()));
        result
    }

    /// Every problem, by field, in screen order.
    pub fn problems(&self) -> Vec<(AzureField, String)> {
        use AzureField as F;
        let mut out = Vec::new();
        let tenant = self.tenant.trim();
        if tenant.is_empty() {
            out.push((
                F::Tenant,
                "Enter the Directory (tenant) ID from the app registration's Overview page, or a \
                 verified domain such as contoso.onmicrosoft.com."
                    .to_owned(),
            ));
        } else if let Err(e) = check_tenant(tenant) {
            out.push((F::Tenant, format!("{e}.")));
        }
        let client = self.client_id.trim();
        if client.is_empty() {
            out.push((
                F::ClientId,
                "Enter the Application (client) ID from the app registration's Overview page."
                    .to_owned(),
            ));
        } else if let Err(e) = check_guid(client) {
            out.push((F::ClientId, format!("{e}.")));
        }
        match self.credential {
            CredentialKind::Secret => {
                if !self.client_secret.is_set() {
                    out.push((
                        F::ClientSecret,
                        "Enter the client secret's Value (Certificates & secrets in the app \
                         registration), or choose Certificate."
                            .to_owned(),
                    ));
                }
            }
            CredentialKind::Certificate => {
                if self.certificate.trim().is_empty() {
                    out.push((
                        F::Certificate,
                        "Choose a PEM holding the certificate and its private key, or press \
                         Generate certificate."
                            .to_owned(),
                    ));
                } else if let Err(e) = self.certificate_status() {
                    out.push((F::Certificate, e));
                }
            }
        }
        for (field, value) in [
            (F::AuthorityUrl, &self.authority_url),
            (F::GraphUrl, &self.graph_url),
        ] {
            if !value.trim().is_empty()
                && let Err(e) = check_url(value.trim())
            {
                out.push((
                    field,
                    format!("{e}. Leave it empty to use the cloud's own."),
                ));
            }
        }
        out
    }

    /// `Err` with the first problem, naming its field, while Next must stay disabled.
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().into_iter().next() {
            Some((field, message)) => Err(format!("{}: {message}", field.label())),
            None => Ok(()),
        }
    }

    fn shown_error(&self, field: AzureField, filled: bool) -> Option<String> {
        if !filled && !self.touched.has(field.label()) {
            return None;
        }
        self.problems()
            .into_iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m)
    }

    /// Are tenant and client ID valid (what the browser links need)?
    pub fn identity_valid(&self) -> bool {
        !self
            .problems()
            .iter()
            .any(|(f, _)| matches!(f, AzureField::Tenant | AzureField::ClientId))
    }

    /// Draws the step.
    pub fn azure_ui(&mut self, ui: &mut Ui) -> Option<AzureCommand> {
        use AzureField as F;
        let mut command = None;
        ui.label(
            "The app registration adsync signs in with (Entra admin center > App registrations). \
             It needs the Microsoft Graph application permissions User.Read.All and \
             Group.Read.All (or Directory.Read.All), with admin consent.",
        );
        widgets::section_ui(ui, "App registration");
        ui.label(
            "Have adsync create it: sign in once as an administrator. Or fill in the fields \
             below for an app you registered yourself.",
        );
        if let Some(c) = self.create_ui(ui) {
            command = Some(c);
        }
        ui.add_space(6.0);
        egui::Grid::new("azure-grid")
            .num_columns(2)
            .spacing([16.0, 10.0])
            .min_col_width(200.0)
            .show(ui, |ui| {
                let label = ui.label("National cloud");
                egui::ComboBox::from_id_salt("cloud")
                    .selected_text(cloud_name(self.cloud))
                    .width(widgets::FIELD_WIDTH)
                    .show_ui(ui, |ui| {
                        for cloud in Cloud::ALL {
                            ui.selectable_value(&mut self.cloud, *cloud, cloud_name(*cloud));
                        }
                    })
                    .response
                    .labelled_by(label.id);
                ui.end_row();

                let error = self.shown_error(F::Tenant, !self.tenant.is_empty());
                let r = widgets::text_row(
                    ui,
                    F::Tenant.label(),
                    &mut self.tenant,
                    "contoso.onmicrosoft.com or the tenant GUID",
                    error.as_deref(),
                );
                self.mark(F::Tenant, &r);
                let error = self.shown_error(F::ClientId, !self.client_id.is_empty());
                let r = widgets::text_row(
                    ui,
                    F::ClientId.label(),
                    &mut self.client_id,
                    "11111111-2222-3333-4444-555555555555",
                    error.as_deref(),
                );
                self.mark(F::ClientId, &r);

                ui.label("Sign in with");
                ui.horizontal(|ui| {
                    ui.radio_value(
                        &mut self.credential,
                        CredentialKind::Secret,
                        "Client secret",
                    );
                    ui.radio_value(
                        &mut self.credential,
                        CredentialKind::Certificate,
                        "Certificate",
                    );
                });
                ui.end_row();

                match self.credential {
                    CredentialKind::Secret => {
                        let error = self.shown_error(F::ClientSecret, false);
                        let r = widgets::secret_row(
                            ui,
                            F::ClientSecret.label(),
                            &mut self.client_secret,
                            error.as_deref(),
                        );
                        self.mark(F::ClientSecret, &r);
                    }
                    CredentialKind::Certificate => {
                        let error = self.shown_error(F::Certificate, !self.certificate.is_empty());
                        let r = widgets::text_row(
                            ui,
                            F::Certificate.label(),
                            &mut self.certificate,
                            "/etc/adsync/entra.pem",
                            error.as_deref(),
                        );
                        self.mark(F::Certificate, &r);
                        ui.label("");
                        ui.horizontal(|ui| {
                            if ui.button("Choose PEM…").clicked() {
                                command = Some(AzureCommand::ChoosePem);
                            }
                            let generating = self.generated.is_pending();
                            if ui
                                .add_enabled(!generating, egui::Button::new("Generate certificate"))
                                .on_hover_text(
                                    "A new self-signed certificate with a 2048-bit RSA key, valid \
                                     for two years, kept beside the config",
                                )
                                .clicked()
                            {
                                command = Some(AzureCommand::GenerateCertificate);
                            }
                            if self.generated.done().is_some()
                                && ui.button("Save .cer as…").clicked()
                            {
                                command = Some(AzureCommand::SaveCer);
                            }
                        });
                        ui.end_row();
                        if let Ok(thumbprint) = self.certificate_status() {
                            ui.label("");
                            ui.weak(format!("Certificate thumbprint {thumbprint}"));
                            ui.end_row();
                        }
                    }
                }
            });
        match &self.generated {
            Task::Idle => {}
            Task::Pending => widgets::busy_ui(ui, "Generating an RSA key pair…"),
            Task::Done(generated) => {
                ui.add(
                    egui::Label::new(format!(
                        "Generated. The private key is in {} (readable only by you). Upload the \
                         public certificate {} under Certificates & secrets > Certificates in the \
                         app registration.",
                        generated.pem.display(),
                        generated.cer.display()
                    ))
                    .wrap(),
                );
            }
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }

        egui::CollapsingHeader::new("Advanced: endpoint overrides")
            .default_open(!self.authority_url.is_empty() || !self.graph_url.is_empty())
            .show(ui, |ui| {
                egui::Grid::new("azure-advanced-grid")
                    .num_columns(2)
                    .spacing([16.0, 10.0])
                    .min_col_width(200.0)
                    .min_col_width(200.0)
                    .show(ui, |ui| {
                        let error =
                            self.shown_error(F::AuthorityUrl, !self.authority_url.is_empty());
                        widgets::text_row(
                            ui,
                            F::AuthorityUrl.label(),
                            &mut self.authority_url,
                            "empty: the cloud's own",
                            error.as_deref(),
                        );
                        let error = self.shown_error(F::GraphUrl, !self.graph_url.is_empty());
                        widgets::text_row(
                            ui,
                            F::GraphUrl.label(),
                            &mut self.graph_url,
                            "empty: the cloud's own",
                            error.as_deref(),
                        );
                    });
            });

        widgets::section_ui(ui, "Azure portal");
        ui.horizontal(|ui| {
            if ui.button("Open app registrations").clicked() {
                command = Some(AzureCommand::OpenAppRegistrations);
            }
            if ui
                .add_enabled(
                    self.identity_valid(),
                    egui::Button::new("Open admin consent"),
                )
                .on_disabled_hover_text("Enter the tenant and client ID first")
                .clicked()
            {
                command = Some(AzureCommand::OpenAdminConsent);
            }
        });
        if let Some(notice) = &self.notice {
            ui.add(egui::Label::new(notice.as_str()).wrap());
        }

        widgets::section_ui(ui, "Check");
        ui.horizontal(|ui| {
            let enabled = self.validate().is_ok() && !self.test.is_pending();
            if ui
                .add_enabled(enabled, egui::Button::new("Test connection"))
                .clicked()
            {
                command = Some(AzureCommand::TestConnection);
            }
            if self.validate().is_err() {
                ui.weak("Fill in the fields above to test them.");
            }
        });
        match &self.test {
            Task::Idle => {}
            Task::Pending => widgets::busy_ui(ui, "Signing in to Entra ID…"),
            Task::Done(lines) => widgets::check_lines_ui(ui, lines),
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }
        command
    }

    fn mark(&mut self, field: AzureField, response: &egui::Response) {
        if response.lost_focus() {
            self.touched.mark(field.label());
        }
    }
}

/// The cloud's name for people.
pub fn cloud_name(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Global => "Global (login.microsoftonline.com)",
        Cloud::UsGovL4 => "US Government L4 (GCC High)",
        Cloud::UsGovL5 => "US Government L5 (DoD)",
        Cloud::China => "China (operated by 21Vianet)",
    }
}

/// Reads a PEM as adsync will at sign-in: `Ok(thumbprint)` or what is wrong with it.
fn check_certificate(path: &Path) -> Result<String, String> {
    if !path.is_absolute() {
        return Err(format!(
            "`{}` is not an absolute path; give the full path, e.g. /etc/adsync/entra.pem.",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "Cannot read {}: {e}. Check the path, or press Generate certificate.",
            path.display()
        )
    })?;
    CertificateCredential::from_pem(&text)
        .map(|c| c.thumbprint())
        .map_err(|e| {
            format!(
                "{}: {e}. adsync needs one PEM with the certificate and its unencrypted RSA key.",
                path.display()
            )
        })
}

// The step's effects, run by the shell after the frame.
impl Wizard {
    pub(crate) fn run_azure(&mut self, command: AzureCommand) {
        match command {
            AzureCommand::TestConnection => {
                self.azure.test = Task::Pending;
                let draft = self.draft();
                self.jobs.spawn(async move {
                    let settings = draft.settings();
                    let lines = match crate::wizard::draft::token_source(&draft, &settings).await {
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
            AzureCommand::CreateApp => self.start_create_app(),
            AzureCommand::CancelCreate => self.cancel_create_app(),
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
