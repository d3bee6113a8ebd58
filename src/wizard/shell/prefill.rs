//! Opening the wizard on something: a config file's values put into the fields (secrets as
//! "stored (unchanged)"), and the demo's simulators started, a reopened demo config keeping its
//! pairs, scope and mappings.

use std::path::PathBuf;

use super::Wizard;
use crate::config::{ConfigFile, EntraCredential, Settings};
use crate::sim::demo::Demo;
use crate::wizard::jobs::{Reply, Task};
use crate::wizard::steps::azure::CredentialKind;
use crate::wizard::steps::pairing::{GroupItem, PairRow};
use crate::wizard::widgets::SecretInput;

impl Wizard {
    pub(super) fn start_demo(&mut self, dir: PathBuf) {
        self.demo_status = Task::Pending;
        self.jobs.spawn(async move {
            let started = Demo::start(&dir).await;
            Box::new(move |w: &mut Wizard| match started {
                Ok(demo) => {
                    if let Some(mut file) = w.reopened.clone() {
                        // A demo config reopened: its pairs, scope, mappings and policy are
                        // kept; its tenant and application are the simulators just started
                        // (the demo's groups have the same ids every time).
                        file.entra = demo.config.entra.clone();
                        file.target = demo.config.target.clone();
                        w.prefill(&file, true);
                        w.info = Some(format!(
                            "Reopened {}: its pairs, scope and mappings are kept, and the \
                             simulated tenant and application were started again (Finish \
                             writes their new addresses into it).",
                            w.config_path.display()
                        ));
                    } else {
                        let file = demo.config.clone();
                        w.prefill(&file, false);
                        // The demo's config pairs two groups; step 3 is for the administrator
                        // to pair, so its pairs are not taken over (except for the screenshot
                        // aid).
                        if w.options.open_step.is_some() {
                            w.pairing.pairs = pairs_of(&file);
                        }
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
    pub(super) fn prefill(&mut self, file: &ConfigFile, with_pairs: bool) {
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
}

/// Was this config written by the demo? Its Entra endpoints are on this machine, which a real
/// tenant's never are.
pub(super) fn is_demo_config(file: &ConfigFile) -> bool {
    file.entra.authority_url.as_deref().is_some_and(|url| {
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .is_some_and(|host| matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"))
    })
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
            roles: p.roles,
        })
        .collect()
}
