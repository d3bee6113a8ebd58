//! Step 6's summary of what Finish will write (SPEC §5 step 6): the application, the Azure app,
//! the pairs in precedence order, the scope, the attributes, and the policy defaults that matter,
//! each with a link back to the step that sets it.

use egui::{RichText, Ui};

use super::azure::cloud_name;
use crate::config::{EntraCredential, GroupMode, Settings, TargetAuth, UsernamePolicy};
use crate::wizard::step::Step;

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
                "{}. Entra group “{}” to application group “{}”{}{}",
                i + 1,
                p.entra_group_name.as_deref().unwrap_or(&p.entra_group_id),
                p.target_group_name.as_deref().unwrap_or(&p.target_group_id),
                if p.nested {
                    ", with nested members"
                } else {
                    ", direct members only"
                },
                if p.roles.is_empty() {
                    String::new()
                } else {
                    format!("; roles: {}", p.roles.join(", "))
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
    let mut defaults = vec![
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
            "Mass-change guards: a sync that would disable, empty a value of, or unlink more than \
             {} users or {} % of them is withheld",
            policy.max_disables, policy.max_disable_percent
        ),
    ];
    if settings.mappings.is_empty() {
        defaults.push(
            "Attributes: the default mapping (name, e-mail, phone, title, department, employee \
             number)"
                .to_owned(),
        );
    } else {
        // The config's [[mappings]] replace the default for their attributes (SPEC §3.1).
        defaults.push("Attributes: the default mapping, with these changes:".to_owned());
        defaults.extend(settings.mappings.iter().map(mapping_line));
    }

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

/// One `[[mappings]]` entry as the summary shows it: `target: where its value comes from`.
fn mapping_line(m: &crate::config::Mapping) -> String {
    let what = if m.omit {
        "not written".to_owned()
    } else if let Some(source) = &m.source {
        format!("from Entra {source}")
    } else if let Some(value) = &m.value {
        format!("the constant “{value}”")
    } else if let Some(template) = &m.template {
        format!("the template “{template}”")
    } else {
        String::new()
    };
    let mut line = format!("  {}: {what}", m.target);
    if let Some(default) = &m.default {
        line.push_str(&format!(", else “{default}”"));
    }
    if m.when == crate::config::When::Create {
        line.push_str(", on create only");
    }
    line
}

/// Draws the summary; returns the step whose *Change* link was pressed.
#[must_use]
pub(crate) fn summary_ui(ui: &mut Ui, settings: &Settings) -> Option<Step> {
    let mut go_to = None;
    for (title, step, lines) in summary_lines(settings) {
        ui.add_space(8.0);
        // The link sits beside the section's title, so it stays in view at any window width
        // and the lines below wrap across the whole width.
        ui.horizontal(|ui| {
            ui.label(RichText::new(title).strong().size(15.0));
            ui.add_space(12.0);
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
        ui.add_space(2.0);
        for line in &lines {
            ui.add(egui::Label::new(line.as_str()).wrap());
        }
    }
    go_to
}

#[cfg(test)]
mod tests {
    use super::summary_lines;
    use crate::config::{Settings, parse_str};

    const CONFIG: &str = r#"version = 1
[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:ADSYNC_TEST_SECRET"
[target]
url = "https://app.example.com/scim/v2"
token = "env:ADSYNC_TEST_TOKEN"
[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
entra_group_name = "Support"
target_group_id = "tier-1"
order = 1
roles = ["technician", "reports"]
[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"
default = "n/a"
[[mappings]]
target = "costCenter"
value = "CC-1"
when = "create"
"#;

    fn lines_of(text: &str, title: &str) -> Vec<String> {
        let settings = Settings::from_file(&parse_str(text).unwrap());
        summary_lines(&settings)
            .into_iter()
            .find(|(t, _, _)| *t == title)
            .unwrap()
            .2
    }

    /// The summary before Finish shows the config's mappings and each pair's roles, not the
    /// default mapping, so an administrator sees what the first sync will write.
    #[test]
    fn mappings_and_roles_appear_in_the_summary() {
        let defaults = lines_of(CONFIG, "Defaults from the config");
        assert!(
            defaults.contains(&"Attributes: the default mapping, with these changes:".to_owned()),
            "{defaults:#?}"
        );
        assert!(
            defaults.contains(
                &"  phoneNumbers[type eq \"mobile\"].value: from Entra mobilePhone, else “n/a”"
                    .to_owned()
            ),
            "{defaults:#?}"
        );
        assert!(
            defaults.contains(&"  costCenter: the constant “CC-1”, on create only".to_owned()),
            "{defaults:#?}"
        );
        let pairs = lines_of(CONFIG, "Pairs, in precedence order");
        assert!(
            pairs[0].ends_with("; roles: technician, reports"),
            "{pairs:#?}"
        );

        let plain = CONFIG[..CONFIG.find("roles = ").unwrap()].to_owned();
        let defaults = lines_of(&plain, "Defaults from the config");
        assert!(
            defaults
                .iter()
                .any(|l| l.starts_with("Attributes: the default mapping (")),
            "{defaults:#?}"
        );
        assert!(!lines_of(&plain, "Pairs, in precedence order")[0].contains("roles"));
    }
}
