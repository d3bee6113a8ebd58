//! `adsync entra register`: creates the Azure app registration for the administrator who signs
//! in (SPEC §4, graph-notes §9) and writes `[entra]` into the config.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Exit;
use super::common::{emit, runtime};
use crate::config::Cloud;
use crate::entra::register::{self, RegisterOptions, SignInFlow};

/// The command line's choices.
#[derive(Clone, Debug, Default)]
pub struct RegisterArgs {
    pub tenant: Option<String>,
    pub cloud: Option<Cloud>,
    pub name: Option<String>,
    pub device_code: bool,
    pub client_id: Option<String>,
    pub wait_secs: u64,
}

/// Where the certificate goes: beside the config, named after the app.
fn certificate_path(config_path: &Path, name: &str) -> PathBuf {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    dir.join(format!("entra-{}.pem", slug.trim_matches('-')))
}

fn parse_url(key: &str, text: &str, config_path: &Path) -> Result<url::Url, Exit> {
    url::Url::parse(text.trim_end_matches('/')).map_err(|e| {
        eprintln!(
            "{}: entra.{key} \"{text}\" is not a URL ({e}); fix it or remove the key to use the cloud's",
            config_path.display()
        );
        Exit::Usage
    })
}

/// Runs `adsync entra register`.
pub fn register(config_path: &Path, args: &RegisterArgs) -> anyhow::Result<Exit> {
    let target = match register::read_target(config_path) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Usage);
        }
    };
    let Some(tenant) = args.tenant.clone().or(target.tenant.clone()) else {
        eprintln!(
            "error: no tenant: pass --tenant with the Directory (tenant) ID or a verified domain \
             such as contoso.onmicrosoft.com, or set tenant in [entra] of {}",
            config_path.display()
        );
        return Ok(Exit::Usage);
    };
    let cloud = args.cloud.or(target.cloud).unwrap_or_default();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| register::DEFAULT_NAME.to_owned());
    let mut options = RegisterOptions::new(&tenant, cloud, certificate_path(config_path, &name));
    options.display_name = name.clone();
    if let Some(text) = &target.authority_url {
        options.authority_url = match parse_url("authority_url", text, config_path) {
            Ok(url) => url,
            Err(exit) => return Ok(exit),
        };
    }
    if let Some(text) = &target.graph_url {
        options.graph_url = match parse_url("graph_url", text, config_path) {
            Ok(url) => url,
            Err(exit) => return Ok(exit),
        };
    }
    if args.device_code {
        options.flow = SignInFlow::DeviceCode;
    }
    if let Some(client) = &args.client_id {
        options.public_client = client.clone();
    }
    options.consent_bound = Duration::from_secs(args.wait_secs);
    eprintln!(
        "Registering the app \"{name}\" in tenant {tenant} ({cloud} cloud). Sign in as a Global \
         Administrator, or as a Privileged Role Administrator who may create apps."
    );
    let progress = |line: &str| eprintln!("{line}");
    let result = runtime()?.block_on(register::register(&options, &progress));
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            eprintln!("error: {e}");
            if options.certificate.exists() {
                eprintln!(
                    "The certificate {} stays on this machine (mode 0600); a rerun uses it again.",
                    options.certificate.display()
                );
            }
            return Ok(Exit::Failure);
        }
    };
    if let Err(e) = register::write_entra(
        config_path,
        &tenant,
        &done.app.client_id,
        &done.certificate,
        cloud,
    ) {
        eprintln!("error: {e}");
        eprintln!(
            "The {} is ready: set client_id = \"{}\" and certificate = \"{}\" in [entra] by hand.",
            done.app,
            done.app.client_id,
            done.certificate.display()
        );
        return Ok(Exit::Failure);
    }
    emit(&format!(
        "{} the app registration \"{}\":\n  client ID          {}\n  object ID          {}\n  \
         service principal  {}\n  certificate        {} (thumbprint {}; the private key never \
         left this machine)\nWrote [entra] to {}. Next: adsync check\n\
         To remove what this made: delete the app registration (object ID {}) in the Azure \
         portal under App registrations, or run `az ad app delete --id {}`; then delete {}.\n",
        if done.adopted { "Adopted" } else { "Created" },
        done.app.display_name,
        done.app.client_id,
        done.app.object_id,
        done.service_principal_id,
        done.certificate.display(),
        done.thumbprint,
        config_path.display(),
        done.app.object_id,
        done.app.client_id,
        done.certificate.display(),
    ));
    Ok(Exit::Ok)
}
