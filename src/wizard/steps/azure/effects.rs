//! Step 2's effects, run by the shell after the frame: testing the sign-in, generating or
//! choosing a certificate, saving its `.cer`, and opening the portal.

use std::path::{Path, PathBuf};

use super::*;
use crate::wizard::dialog::config_dir;

// The step's effects, run by the shell after the frame.
impl Wizard {
    pub(crate) fn run_azure(&mut self, command: AzureCommand) {
        match command {
            AzureCommand::TestConnection => {
                self.azure.test = Task::Pending;
                self.azure.continue_anyway = false;
                let key = self.azure.tested_key();
                let credential = self.azure.credential;
                let draft = self.draft();
                let job = async move {
                    let settings = draft.settings();
                    let lines = match crate::wizard::draft::token_source(&draft, &settings).await {
                        Ok(tokens) => Ok(crate::entra::check_tokens(
                            &settings.entra,
                            std::sync::Arc::new(tokens),
                            // The administrator is waiting: report a failure at once.
                            crate::http::RetryPolicy::interactive(),
                        )
                        .await),
                        Err(e) => Err(e),
                    };
                    let lines = lines.unwrap_or_else(|e| {
                        vec![CheckLine::new(
                            "Entra sign-in",
                            false,
                            format!("cannot load the Entra ID credential: {e}"),
                        )]
                    });
                    let (view, field) = azure_test_view(&lines, credential);
                    Box::new(move |w: &mut Wizard| {
                        w.azure.testing = None;
                        w.azure.test = Task::Done(AzureTest {
                            lines,
                            view,
                            field,
                            key,
                        })
                    }) as Reply
                };
                let stopped = Box::new(move |w: &mut Wizard| {
                    w.azure.testing = None;
                    let view = ResultView::failure(
                        "Stopped before Entra ID answered; nothing was changed. Check the \
                         Tenant and test again.",
                    )
                    .with_action("Edit Tenant");
                    w.azure.test = Task::Done(AzureTest {
                        lines: Vec::new(),
                        view,
                        field: Some(AzureField::Tenant),
                        key,
                    });
                }) as Reply;
                let stop = self.jobs.spawn_stoppable(job, stopped);
                self.azure.testing = Some((stop, std::time::Instant::now()));
            }
            AzureCommand::StopTest => {
                if let Some((stop, _)) = &self.azure.testing {
                    stop.stop();
                }
            }
            AzureCommand::ChoosePem => {
                let picked = self.dialogs.pick(crate::wizard::DialogRequest {
                    title: "Certificate with private key (PEM)".into(),
                    directory: config_dir(&self.config_path),
                    file_name: None,
                    filter: Some(("PEM".into(), vec!["pem".into()])),
                });
                self.jobs.spawn(async move {
                    let picked = picked.await;
                    Box::new(move |w: &mut Wizard| match picked {
                        crate::wizard::DialogOutcome::Chosen(path) => {
                            w.azure.certificate = path.display().to_string();
                            w.azure.notice = None;
                        }
                        crate::wizard::DialogOutcome::Cancelled => {
                            w.azure.notice = Some("No file was chosen.".into())
                        }
                        crate::wizard::DialogOutcome::Unavailable(why) => {
                            w.azure.notice = Some(format!(
                                "The file dialog could not open: {why}. Type the PEM's full \
                                 path in Certificate PEM instead."
                            ))
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
                // A save dialog beside the config (or a path field where none can open).
                self.jobs.spawn_blocking(move || {
                    let read = std::fs::read(&generated.cer);
                    Box::new(move |w: &mut Wizard| match read {
                        Ok(bytes) => w.save_file(
                            "the public certificate",
                            "adsync.cer",
                            bytes,
                            |w, result| w.azure.notice = Some(result.message),
                        ),
                        Err(e) => {
                            w.azure.notice =
                                Some(format!("Cannot read {}: {e}.", generated.cer.display()))
                        }
                    }) as Reply
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
