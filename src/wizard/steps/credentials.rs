//! Step 1, credentials and token: the application's SCIM URL and credential (bearer token, or a
//! basic username and password), the administrator's email, the default password for new users
//! (entered twice) and *Dry run mode*. *Test connection* reads the target's
//! ServiceProviderConfig and counts its groups (`crate::scim::check`, shared with `adsync check`),
//! off the UI thread, and says what it found in the words of this screen.

use std::hash::{Hash, Hasher};

use egui::Ui;

use crate::config::{TargetAuthKind, check_email, check_url};
use crate::health::CheckLine;
use crate::wizard::jobs::{Reply, Stop, Task};
use crate::wizard::shell::Wizard;
use crate::wizard::widgets::{self, ResultView, SecretInput, Touched};

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum CredentialsCommand {
    TestConnection,
    /// Stop a running *Test connection*.
    StopTest,
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
    /// *Test connection*'s outcome.
    pub test: Task<TargetTest>,
    /// The running test's *Stop* and when it started.
    testing: Option<(Stop, std::time::Instant)>,
    touched: Touched,
    /// A field to focus in the next frame (a result's action asked for it).
    focus: Option<CredentialsField>,
}

/// What *Test connection* found, for the fields it was run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetTest {
    /// The outcome in the screen's words; stale once the URL or credential changes.
    pub view: ResultView,
    /// The field the outcome's action opens, if the fix is in one.
    pub field: Option<CredentialsField>,
    /// [`CredentialsStep::tested_key`] of the fields tested.
    key: u64,
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

    /// Fingerprint of what *Test connection* depends on: the URL and the credential.
    fn tested_key(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.url.trim().hash(&mut hasher);
        match self.auth {
            TargetAuthKind::Bearer => self.token.hash(&mut hasher),
            TargetAuthKind::Basic => {
                self.username.trim().hash(&mut hasher);
                self.password.hash(&mut hasher);
            }
        }
        hasher.finish()
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
            .min_col_width(widgets::LABEL_WIDTH)
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
            .min_col_width(widgets::LABEL_WIDTH)
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
        let key = self.tested_key();
        match &mut self.test {
            Task::Idle => {}
            Task::Pending => {
                let since = self.testing.as_ref().map(|(_, at)| *at);
                if widgets::busy_stoppable_ui(
                    ui,
                    "Asking the application…",
                    since.unwrap_or_else(std::time::Instant::now),
                ) {
                    command = Some(CredentialsCommand::StopTest);
                }
            }
            Task::Done(test) => {
                test.view.stale = test.key != key;
                if widgets::result_ui(ui, &mut test.view) {
                    self.focus = test.field;
                }
            }
            Task::Failed(message) => widgets::failure_ui(ui, message),
        }
        command
    }

    /// Marks a field touched when left, and focuses it when a result's action asked for it.
    fn mark(&mut self, field: CredentialsField, response: &egui::Response) {
        widgets::mark_field(
            &mut self.touched,
            &mut self.focus,
            field,
            field.label(),
            response,
        );
    }
}

/// *Test connection*'s findings (the lines `adsync check` prints) in the words of step 1: the
/// first failure names the field to fix as the screen labels it, and the lines themselves go
/// behind *Details*.
pub fn target_test_view(
    lines: &[CheckLine],
    auth: TargetAuthKind,
) -> (ResultView, Option<CredentialsField>) {
    use CredentialsField as F;
    let details = widgets::check_details(lines);
    let credential = match auth {
        TargetAuthKind::Bearer => "token",
        TargetAuthKind::Basic => "username and password",
    };
    let Some(failed) = lines.iter().find(|l| !l.ok) else {
        let groups = lines
            .iter()
            .find(|l| l.name == "target groups")
            .map(|l| format!(" and has {}", l.detail))
            .unwrap_or_default();
        let view = ResultView::success(format!(
            "Connected: the application accepts the {credential}{groups}."
        ));
        return (view.with_details(details), None);
    };
    let detail = failed.detail.as_str();
    let (message, field) = match failed.name.as_str() {
        "target reachable" if detail.contains("(404)") => (
            "Nothing answers as a SCIM application at the SCIM URL (not found). Enter the part \
             before /Users, e.g. https://app.example.com/scim/v2."
                .to_owned(),
            Some(F::Url),
        ),
        "target reachable" if detail.contains("cannot reach") => (
            format!(
                "The application cannot be reached at the SCIM URL: {}. Check the SCIM URL and \
                 that the application is running.",
                transport_reason(detail)
            ),
            Some(F::Url),
        ),
        "target reachable" => (
            "Something answers at the SCIM URL, but not as a SCIM application. Check the SCIM \
             URL."
                .to_owned(),
            Some(F::Url),
        ),
        "target credential" if detail.contains("refused adsync's credentials") => match auth {
            TargetAuthKind::Bearer => (
                "The application refused the token. Check Token, or issue a new token in the \
                 application's SCIM settings."
                    .to_owned(),
                Some(F::Token),
            ),
            TargetAuthKind::Basic => (
                "The application refused the username and password. Check Username and \
                 Password."
                    .to_owned(),
                Some(F::Username),
            ),
        },
        "target credential" => (
            "The application answered with an error when adsync read its users; the Details \
             show its answer."
                .to_owned(),
            None,
        ),
        "target capabilities" => (
            "The application does not support PATCH or filters, which adsync needs to update \
             and match users without rewriting them."
                .to_owned(),
            None,
        ),
        _ => (
            "The application's groups cannot be read; the Details show its answer.".to_owned(),
            None,
        ),
    };
    let mut view = ResultView::failure(message).with_details(details);
    if let Some(field) = field {
        view = view.with_action(format!("Edit {}", field.label()));
    }
    (view, field)
}

/// Why a connection failed, in plain words, from the transport's error chain.
fn transport_reason(detail: &str) -> &'static str {
    let detail = detail.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| detail.contains(w));
    if has(&["connection refused", "actively refused"]) {
        "nothing accepts connections at that address and port"
    } else if has(&["dns", "lookup", "resolve", "name or service not known"]) {
        "its host name cannot be found"
    } else if has(&["certificate", "tls", "ssl", "handshake"]) {
        "the secure connection failed (the certificate is not trusted or does not match)"
    } else if has(&["timed out", "timeout"]) {
        "it did not answer in time"
    } else {
        "the connection failed"
    }
}

// The step's effects, run by the shell after the frame.
impl Wizard {
    pub(crate) fn run_credentials(&mut self, command: CredentialsCommand) {
        match command {
            CredentialsCommand::TestConnection => {
                self.credentials.test = Task::Pending;
                let credentials = self.credentials.clone();
                let ca_file = self.base.as_ref().and_then(|b| b.target.ca_file.clone());
                let key = credentials.tested_key();
                let job = async move {
                    let client =
                        crate::wizard::draft::scim_client(&credentials, ca_file.as_deref()).await;
                    let lines = match client {
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
                    let (view, field) = match lines {
                        Ok(lines) => target_test_view(&lines, credentials.auth),
                        // Only a stored secret that cannot be read fails before asking.
                        Err(e) => {
                            let field = match credentials.auth {
                                TargetAuthKind::Bearer => CredentialsField::Token,
                                TargetAuthKind::Basic => CredentialsField::Password,
                            };
                            let view = ResultView::failure(format!(
                                "The stored {} cannot be read on this machine. Type it again \
                                 in {}.",
                                field.label().to_lowercase(),
                                field.label()
                            ))
                            .with_action(format!("Edit {}", field.label()))
                            .with_details(e);
                            (view, Some(field))
                        }
                    };
                    Box::new(move |w: &mut Wizard| {
                        w.credentials.testing = None;
                        w.credentials.test = Task::Done(TargetTest { view, field, key });
                    }) as Reply
                };
                let stopped = Box::new(move |w: &mut Wizard| {
                    w.credentials.testing = None;
                    let view = ResultView::failure(
                        "Stopped before the application answered; nothing was changed. Check \
                         the SCIM URL and test again.",
                    )
                    .with_action("Edit SCIM URL");
                    w.credentials.test = Task::Done(TargetTest {
                        view,
                        field: Some(CredentialsField::Url),
                        key,
                    });
                }) as Reply;
                let stop = self.jobs.spawn_stoppable(job, stopped);
                self.credentials.testing = Some((stop, std::time::Instant::now()));
            }
            CredentialsCommand::StopTest => {
                if let Some((stop, _)) = &self.credentials.testing {
                    stop.stop();
                }
            }
        }
    }
}
