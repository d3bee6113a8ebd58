//! Step 2, the Azure app: national cloud, tenant, client ID, and a client secret or a certificate
//! (pick a PEM, or generate a key pair: the PEM with the private key stays beside the config,
//! mode 0600, and the public `.cer` is saved for upload). Buttons open the portal's app
//! registrations and the admin-consent URL; *Test connection* gets a token and lists the granted
//! and missing Graph permissions (`crate::entra::check`).

mod create;
mod effects;
#[cfg(test)]
mod tests;

pub use create::CreateState;

use std::path::Path;
use std::sync::{Arc, Mutex};

use egui::Ui;

use crate::config::{Cloud, check_guid, check_tenant, check_url};
use crate::entra::CertificateCredential;
pub use crate::entra::certificate::{GeneratedCertificate, generate_certificate};
use crate::health::CheckLine;
use crate::wizard::jobs::{Reply, Stop, Task};
use crate::wizard::shell::Wizard;
use crate::wizard::widgets::{self, ResultView, SecretInput, Touched};

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum AzureCommand {
    TestConnection,
    /// Stop a running *Test connection*.
    StopTest,
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

/// What *Test connection* found, for the fields it was run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureTest {
    /// The lines of the check (sign-in, each permission, reads), as `adsync check` words them.
    pub lines: Vec<CheckLine>,
    /// The outcome in the screen's words; stale once a field it used changes.
    pub view: ResultView,
    /// The field the outcome's action opens, if the fix is in one.
    pub field: Option<AzureField>,
    /// [`AzureStep::tested_key`] of the fields tested.
    key: u64,
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
    pub test: Task<AzureTest>,
    /// The running test's *Stop* and when it started.
    testing: Option<(Stop, std::time::Instant)>,
    /// The administrator chose to go on although the last test failed (consent may come later).
    pub continue_anyway: bool,
    /// A field to focus in the next frame (a result's action asked for it).
    focus: Option<AzureField>,
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
        if let Some((field, message)) = self.problems().into_iter().next() {
            return Err(format!("{}: {message}", field.label()));
        }
        // After a failed sign-in step 3 could only fail too: say so here, where the fix is.
        if let Some(test) = self.failed_test()
            && !self.continue_anyway
        {
            return Err(format!(
                "Test connection failed: {} Fix it and test again, or choose Continue anyway.",
                test.view.message
            ));
        }
        Ok(())
    }

    /// The last test, if it failed for the fields as they are now.
    pub fn failed_test(&self) -> Option<&AzureTest> {
        self.test
            .done()
            .filter(|t| !t.view.ok && t.key == self.tested_key())
    }

    /// A fingerprint of every field *Test connection* uses.
    pub fn tested_key(&self) -> u64 {
        crate::wizard::draft::fingerprint(&[self as &dyn crate::wizard::draft::FingerprintPart])
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
                // The collapsing body is indented: a narrower label column keeps these
                // inputs in line with the ones above.
                let indent = ui.spacing().indent;
                egui::Grid::new("azure-advanced-grid")
                    .num_columns(2)
                    .spacing([16.0, 10.0])
                    .min_col_width(200.0 - indent)
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
            // The fields, not the last result: a failed test must be repeatable.
            let fields_ok = self.problems().is_empty();
            let enabled = fields_ok && !self.test.is_pending();
            if ui
                .add_enabled(enabled, egui::Button::new("Test connection"))
                .clicked()
            {
                command = Some(AzureCommand::TestConnection);
            }
            if !fields_ok {
                ui.weak("Fill in the fields above to test them.");
            }
        });
        let key = self.tested_key();
        let mut continue_anyway = self.continue_anyway;
        match &mut self.test {
            Task::Idle => {}
            Task::Pending => {
                let since = self.testing.as_ref().map(|(_, at)| *at);
                if widgets::busy_stoppable_ui(
                    ui,
                    "Signing in to Entra ID…",
                    since.unwrap_or_else(std::time::Instant::now),
                ) {
                    command = Some(AzureCommand::StopTest);
                }
            }
            Task::Done(test) => {
                test.view.stale = test.key != key;
                // The permissions granted and missing, line by line, once signed in; above the
                // summary, which is scrolled into view.
                let permissions: Vec<CheckLine> = test
                    .lines
                    .iter()
                    .filter(|l| l.name.starts_with("permission "))
                    .cloned()
                    .collect();
                if !test.view.stale && test.lines.first().is_some_and(|l| l.ok) {
                    widgets::check_lines_ui(ui, &permissions);
                }
                let first = !test.view.revealed();
                if widgets::result_ui(ui, &mut test.view) {
                    self.focus = test.field;
                }
                if !test.view.ok && !test.view.stale {
                    ui.checkbox(&mut continue_anyway, "Continue anyway")
                        .on_hover_text(
                            "Go on to step 3 although the test failed (for example while admin \
                             consent is still pending); step 3 cannot read the Entra groups \
                             until the test passes.",
                        );
                }
                if first {
                    // What to do next is under the result: bring it into view with it.
                    ui.scroll_to_cursor(Some(egui::Align::BOTTOM));
                }
            }
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }
        self.continue_anyway = continue_anyway;
        command
    }

    fn mark(&mut self, field: AzureField, response: &egui::Response) {
        widgets::mark_field(
            &mut self.touched,
            &mut self.focus,
            field,
            field.label(),
            response,
        );
    }
}

/// *Test connection*'s findings in the words of step 2: what failed, naming the field as the
/// screen labels it, with one action; the check's own lines go behind *Details*.
pub fn azure_test_view(
    lines: &[CheckLine],
    credential: CredentialKind,
) -> (ResultView, Option<AzureField>) {
    use AzureField as F;
    let details = widgets::check_details(lines);
    let Some(failed) = lines.iter().find(|l| !l.ok) else {
        let view = ResultView::success(
            "Signed in: the app has the Microsoft Graph permissions adsync needs.",
        );
        return (view.with_details(details), None);
    };
    let detail = failed.detail.as_str();
    let has = |words: &[&str]| words.iter().any(|w| detail.contains(w));
    let credential_field = match credential {
        CredentialKind::Secret => F::ClientSecret,
        CredentialKind::Certificate => F::Certificate,
    };
    let (message, field): (String, Option<AzureField>) = if failed.name.starts_with("permission ") {
        let missing: Vec<&str> = lines
            .iter()
            .filter(|l| !l.ok && l.name.starts_with("permission "))
            .map(|l| l.name.trim_start_matches("permission "))
            .collect();
        (
            format!(
                "Signed in, but the app lacks {}. Add it under API permissions in the app \
                 registration, then press Open admin consent.",
                missing.join(" and ")
            ),
            None,
        )
    } else if failed.name.starts_with("read ") {
        (
            "Signed in, but Microsoft Graph refused to list users or groups; the Details show its \
             answer."
                .into(),
            None,
        )
    } else if has(&["cannot load the Entra ID credential"]) {
        (
            match credential {
                CredentialKind::Secret => {
                    "The stored client secret cannot be read on this machine. Type it again in \
                     Client secret."
                }
                CredentialKind::Certificate => {
                    "The certificate cannot be read. Check Certificate PEM, or press Generate \
                     certificate."
                }
            }
            .into(),
            Some(credential_field),
        )
    } else if has(&["was not found", "cannot be used by a background app"]) {
        (
            "Entra ID has no tenant by that name in this cloud. Check Tenant: the Directory \
             (tenant) ID or a verified domain."
                .into(),
            Some(F::Tenant),
        )
    } else if has(&["another national cloud"]) {
        (
            "This tenant is in another national cloud. Choose it under National cloud.".into(),
            None,
        )
    } else if has(&["no application with client ID"]) {
        (
            "The tenant has no app with this Client ID. Copy the Application (client) ID from the \
             app registration's Overview page into Client ID."
                .into(),
            Some(F::ClientId),
        )
    } else if has(&["is disabled in tenant"]) {
        (
            "The app is disabled in the tenant. Enable it under Enterprise applications > \
             Properties, then test again."
                .into(),
            None,
        )
    } else if has(&["rejected the client secret"]) {
        (
            "Entra ID refused the client secret. Paste the secret's Value (not its Secret ID) \
             in Client secret."
                .into(),
            Some(F::ClientSecret),
        )
    } else if has(&["has expired"]) {
        (
            "The client secret has expired. Create a new one under Certificates & secrets and \
             paste its Value in Client secret."
                .into(),
            Some(F::ClientSecret),
        )
    } else if has(&[
        "is not registered on app",
        "could not verify the certificate",
    ]) {
        (
            "Entra ID does not know this certificate for the app. Upload its .cer under \
             Certificates & secrets, or choose the registered one in Certificate PEM."
                .into(),
            Some(F::Certificate),
        )
    } else if has(&["valid time range"]) {
        (
            "Entra ID refused the sign-in because this computer's clock is wrong. Set the clock, \
             then test again."
                .into(),
            None,
        )
    } else if has(&["cannot reach"]) {
        (
            "Entra ID cannot be reached from this computer. Check the network, or clear Login \
             URL override."
                .into(),
            Some(F::AuthorityUrl),
        )
    } else {
        (
            "Entra ID refused the sign-in; the Details show its answer.".into(),
            None,
        )
    };
    let mut view = ResultView::failure(message).with_details(details);
    if let Some(field) = field {
        view = view.with_action(format!("Edit {}", field.label()));
    }
    (view, field)
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
