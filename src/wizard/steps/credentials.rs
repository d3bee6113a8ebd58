//! Step 1, credentials and token: the application's SCIM URL and credential (bearer token, or a
//! basic username and password), the administrator's email, the default password for new users
//! (entered twice) and *Dry run mode*. *Test connection* reads the target's
//! ServiceProviderConfig and counts its groups (`crate::scim::check`), off the UI thread.

use egui::Ui;

use crate::config::{TargetAuthKind, check_email, check_url};
use crate::health::CheckLine;
use crate::wizard::jobs::{Reply, Task};
use crate::wizard::shell::Wizard;
use crate::wizard::widgets::{self, SecretInput, Touched};

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum CredentialsCommand {
    TestConnection,
}

/// The fields of step 1, as labelled on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsField {
    Url,
    Token,
    Username,
    Password,
    AdminEmail,
    DefaultPassword,
    DefaultPasswordAgain,
}

impl CredentialsField {
    /// The label on screen (and the accessible name of the input).
    pub fn label(self) -> &'static str {
        match self {
            Self::Url => "SCIM URL",
            Self::Token => "Token",
            Self::Username => "Username",
            Self::Password => "Password",
            Self::AdminEmail => "Administrator email",
            Self::DefaultPassword => "Default password for new users",
            Self::DefaultPasswordAgain => "Default password again",
        }
    }
}

/// The state of step 1.
#[derive(Clone, Debug, Default)]
pub struct CredentialsStep {
    pub url: String,
    pub auth: TargetAuthKind,
    pub token: SecretInput,
    pub username: String,
    pub password: SecretInput,
    pub admin_email: String,
    /// Optional: set on every user adsync creates.
    pub default_password: SecretInput,
    pub default_password_again: String,
    /// The service only plans and logs (`[service] dry_run`).
    pub dry_run: bool,
    pub test: Task<Vec<CheckLine>>,
    touched: Touched,
}

impl CredentialsStep {
    /// Every problem, by field, in screen order.
    pub fn problems(&self) -> Vec<(CredentialsField, String)> {
        use CredentialsField as F;
        let mut out = Vec::new();
        let url = self.url.trim();
        if url.is_empty() {
            out.push((
                F::Url,
                "Enter the application's SCIM base URL, the part before /Users, e.g. \
                 https://app.example.com/scim/v2."
                    .to_owned(),
            ));
        } else if let Err(e) = check_url(url) {
            out.push((F::Url, format!("{e}.")));
        }
        match self.auth {
            TargetAuthKind::Bearer => {
                if !self.token.is_set() {
                    out.push((
                        F::Token,
                        "Enter the bearer token the application issued for adsync (its SCIM or \
                         provisioning settings show it)."
                            .to_owned(),
                    ));
                }
            }
            TargetAuthKind::Basic => {
                if self.username.trim().is_empty() {
                    out.push((
                        F::Username,
                        "Enter the service account's username.".to_owned(),
                    ));
                }
                if !self.password.is_set() {
                    out.push((
                        F::Password,
                        "Enter the service account's password.".to_owned(),
                    ));
                }
            }
        }
        let email = self.admin_email.trim();
        if email.is_empty() {
            out.push((
                F::AdminEmail,
                "Enter the email of the administrator the token belongs to (it appears in logs \
                 and reports)."
                    .to_owned(),
            ));
        } else if let Err(e) = check_email(email) {
            out.push((F::AdminEmail, format!("{e}.")));
        }
        let typed = &self.default_password.typed;
        if (!typed.is_empty() || !self.default_password_again.is_empty())
            && *typed != self.default_password_again
        {
            out.push((
                F::DefaultPasswordAgain,
                "The two default passwords differ; type the same password in both fields."
                    .to_owned(),
            ));
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

    /// The error shown beside a field: once it has been typed in or left.
    fn shown_error(&self, field: CredentialsField, filled: bool) -> Option<String> {
        if !filled && !self.touched.has(field.label()) {
            return None;
        }
        self.problems()
            .into_iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m)
    }

    /// Can *Test connection* run (a URL and a credential)?
    fn testable(&self) -> bool {
        use CredentialsField as F;
        !self
            .problems()
            .iter()
            .any(|(f, _)| matches!(f, F::Url | F::Token | F::Username | F::Password))
    }

    /// Draws the step.
    pub fn credentials_ui(&mut self, ui: &mut Ui) -> Option<CredentialsCommand> {
        use CredentialsField as F;
        let mut command = None;
        ui.label(
            "The application adsync keeps in step with Entra ID: its SCIM 2.0 endpoint and the \
             credential it issued for adsync.",
        );
        widgets::section_ui(ui, "Application (SCIM target)");
        egui::Grid::new("credentials-grid")
            .num_columns(2)
            .spacing([16.0, 10.0])
            .min_col_width(200.0)
            .show(ui, |ui| {
                let error = self.shown_error(F::Url, !self.url.is_empty());
                let r = widgets::text_row(
                    ui,
                    F::Url.label(),
                    &mut self.url,
                    "https://app.example.com/scim/v2",
                    error.as_deref(),
                );
                self.mark(F::Url, &r);

                ui.label("Authentication");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut self.auth, TargetAuthKind::Bearer, "Bearer token");
                    ui.radio_value(
                        &mut self.auth,
                        TargetAuthKind::Basic,
                        "Username and password",
                    );
                });
                ui.end_row();

                match self.auth {
                    TargetAuthKind::Bearer => {
                        let error = self.shown_error(F::Token, false);
                        let r = widgets::secret_row(
                            ui,
                            F::Token.label(),
                            &mut self.token,
                            error.as_deref(),
                        );
                        self.mark(F::Token, &r);
                    }
                    TargetAuthKind::Basic => {
                        let error = self.shown_error(F::Username, !self.username.is_empty());
                        let r = widgets::text_row(
                            ui,
                            F::Username.label(),
                            &mut self.username,
                            "svc-adsync",
                            error.as_deref(),
                        );
                        self.mark(F::Username, &r);
                        let error = self.shown_error(F::Password, false);
                        let r = widgets::secret_row(
                            ui,
                            F::Password.label(),
                            &mut self.password,
                            error.as_deref(),
                        );
                        self.mark(F::Password, &r);
                    }
                }

                let error = self.shown_error(F::AdminEmail, !self.admin_email.is_empty());
                let r = widgets::text_row(
                    ui,
                    F::AdminEmail.label(),
                    &mut self.admin_email,
                    "admin@example.com",
                    error.as_deref(),
                );
                self.mark(F::AdminEmail, &r);
            });

        widgets::section_ui(ui, "New users");
        egui::Grid::new("new-users-grid")
            .num_columns(2)
            .spacing([16.0, 10.0])
            .min_col_width(200.0)
            .show(ui, |ui| {
                let r = widgets::secret_row(
                    ui,
                    F::DefaultPassword.label(),
                    &mut self.default_password,
                    None,
                );
                self.mark(F::DefaultPassword, &r);
                let error = self.shown_error(
                    F::DefaultPasswordAgain,
                    !self.default_password_again.is_empty(),
                );
                let r = widgets::password_row(
                    ui,
                    F::DefaultPasswordAgain.label(),
                    &mut self.default_password_again,
                    error.as_deref(),
                );
                self.mark(F::DefaultPasswordAgain, &r);
            });
        ui.weak("Optional. Leave both empty to create users without a password.");
        ui.add_space(6.0);
        ui.checkbox(&mut self.dry_run, "Dry run mode")
            .on_hover_text("The background service then only plans and logs; it never writes.");
        ui.weak("In dry run mode the service plans every cycle and logs it, and changes nothing.");

        widgets::section_ui(ui, "Check");
        ui.horizontal(|ui| {
            let enabled = self.testable() && !self.test.is_pending();
            if ui
                .add_enabled(enabled, egui::Button::new("Test connection"))
                .clicked()
            {
                command = Some(CredentialsCommand::TestConnection);
            }
            if !self.testable() {
                ui.weak("Fill in the URL and the credential to test them.");
            }
        });
        match &self.test {
            Task::Idle => {}
            Task::Pending => widgets::busy_ui(ui, "Asking the application…"),
            Task::Done(lines) => widgets::check_lines_ui(ui, lines),
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }
        command
    }

    fn mark(&mut self, field: CredentialsField, response: &egui::Response) {
        if response.lost_focus() {
            self.touched.mark(field.label());
        }
    }
}

// The step's effects, run by the shell after the frame.
impl Wizard {
    pub(crate) fn run_credentials(&mut self, command: CredentialsCommand) {
        match command {
            CredentialsCommand::TestConnection => {
                self.credentials.test = Task::Pending;
                let credentials = self.credentials.clone();
                self.jobs.spawn(async move {
                    let lines = match crate::wizard::draft::scim_client(&credentials).await {
                        Ok(client) => {
                            // The administrator is waiting: report a failure at once.
                            let client = client.with_retry(crate::http::RetryPolicy::interactive());
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
}
