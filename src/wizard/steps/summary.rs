//! Step 6's summary of what Finish will write (SPEC §5 step 6): the application, the Azure app,
//! the pairs in precedence order, the scope, the attributes, and the policy defaults that matter,
//! each with a link back to the step that sets it.

use egui::{RichText, Ui};

use super::azure::cloud_name;
use crate::config::{EntraCredential, GroupMode, Settings, TargetAuth, UsernamePolicy};
use crate::wizard::step::Step;
use crate::wizard::widgets;

/// The summary's sections, in the order they are drawn, and the step each links back to
/// (`None`: not set in the wizard).
pub(crate) fn summary_lines(settings: &Settings) -> Vec<(&'static str, Option<Step>, Vec<String>)> {
    let target = &settings.target;
    let mut application = vec![format!("SCIM URL: {}", target.url)];
    application.push(match &target.auth {
        TargetAuth::Bearer(_) => "Sign-in: bearer token".to_owned(),
        TargetAuth::Basic { username, .. } => {
            format!("Sign-in: user name and password ({username})")
        }
    });
    if let Some(email) = &target.admin_email {
        application.push(format!("Administrator: {email}"));
    }
    application.push(if settings.service.dry_run {
        "Dry run mode: on (the service only plans, never writes)".to_owned()
    } else {
        "Dry run mode: off (the service applies its plans)".to_owned()
    });

    let entra = &settings.entra;
    let azure = vec![
        format!("Cloud: {}", cloud_name(entra.cloud)),
        format!("Tenant: {}", entra.tenant),
        format!("Client ID: {}", entra.client_id),
        match &entra.credential {
            EntraCredential::Secret(_) => "Credential: client secret".to_owned(),
            EntraCredential::Certificate(path) => {
                format!("Credential: certificate {}", path.display())
            }
        },
    ];

    let mut pairs: Vec<_> = settings.pairs.iter().collect();
    pairs.sort_by_key(|p| p.order);
    let mut pair_lines: Vec<String> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "{}. Entra group “{}” to application group “{}”{}",
                i + 1,
                p.entra_group_name.as_deref().unwrap_or(&p.entra_group_id),
                p.target_group_name.as_deref().unwrap_or(&p.target_group_id),
                if p.nested {
                    ", with nested members"
                } else {
                    ", direct members only"
                }
            )
        })
        .collect();
    if pairs.len() > 1 {
        pair_lines.push(match settings.policy.group_mode {
            GroupMode::Single => {
                "A user in several pairs goes to the first pair's group only.".to_owned()
            }
            GroupMode::All => "A user in several pairs goes to every pair's group.".to_owned(),
        });
    }

    let scope = if settings.scope.is_empty() {
        vec!["Every member of the paired groups".to_owned()]
    } else {
        settings
            .scope
            .iter()
            .map(|r| format!("{} {} “{}”", r.attribute, r.operator, r.value))
            .collect()
    };

    let policy = &settings.policy;
    let defaults = vec![
        if policy.include_guests {
            "Guest users: included".to_owned()
        } else {
            "Guest users: left out".to_owned()
        },
        format!(
            "User name in the application: {}",
            match policy.username {
                UsernamePolicy::Upn => "the Entra user principal name",
                UsernamePolicy::UpnLocalPart => "the user principal name's part before @",
                UsernamePolicy::Mail => "the Entra mail address",
            }
        ),
        format!(
            "Mass-disable guard: a sync that would disable more than {} users or {} % of them is \
             withheld",
            policy.max_disables, policy.max_disable_percent
        ),
        "Attributes: the default mapping (name, e-mail, phone, title, department, employee \
         number)"
            .to_owned(),
    ];

    vec![
        ("Application", Some(Step::Credentials), application),
        ("Azure app", Some(Step::AzureApp), azure),
        (
            "Pairs, in precedence order",
            Some(Step::Pairing),
            pair_lines,
        ),
        ("Who is synchronized", Some(Step::Search), scope),
        ("Defaults from the config", None, defaults),
    ]
}

/// Draws the summary; returns the step whose *Change* link was pressed.
#[must_use]
pub(crate) fn summary_ui(ui: &mut Ui, settings: &Settings) -> Option<Step> {
    let mut go_to = None;
    for (title, step, lines) in summary_lines(settings) {
        widgets::section_ui(ui, title);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((ui.available_width() - 90.0).max(200.0));
                for line in &lines {
                    ui.add(egui::Label::new(line.as_str()).wrap());
                }
            });
            match step {
                Some(step) => {
                    if ui
                        .link(format!("Change (step {})", step.number()))
                        .on_hover_text(format!("Go back to “{}”", step.title()))
                        .clicked()
                    {
                        go_to = Some(step);
                    }
                }
                None => {
                    ui.label(RichText::new("set in the config file").weak());
                }
            }
        });
    }
    go_to
}
