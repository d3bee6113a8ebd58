//! The demo environment: the simulated tenant and application started in-process from the
//! shipped fixtures, their demo-only secrets written as owner-only files, and a config that pairs
//! two support groups. `adsync demo` runs on it, and so will the wizard's `--demo`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::entra::{EntraSim, Fixture};
use super::scim::{ScimSim, Seed};
use crate::config::{self, ConfigFile};
use crate::secret::{Secret, SecretRef};

/// The Entra groups the demo pairs, and the application groups they feed.
pub const DEMO_PAIRS: [(&str, &str, &str); 2] = [
    ("Support Tier 1", "hd-g-tier1", "Tier 1"),
    ("Support Tier 2", "hd-g-tier2", "Tier 2"),
];

/// The roles each demo pair gives its users (SPEC §3.1), in `DEMO_PAIRS` order.
const DEMO_ROLES: [&str; 2] = [r#"["agent"]"#, r#"["agent", "escalations"]"#];

/// The demo's attribute mappings (SPEC §3.1): the mobile number, the cost centre (with a
/// default for people without one) and the division, beside the default mapping.
const DEMO_MAPPINGS: &str = r#"[[mappings]]
target = "phoneNumbers[type eq \"mobile\"].value"
source = "mobilePhone"

[[mappings]]
target = "costCenter"
source = "employeeOrgData.costCenter"
default = "CC-0000"

[[mappings]]
target = "division"
source = "employeeOrgData.division"
"#;

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo fixture is not valid: {0}")]
    Fixture(String),
    #[error("cannot start a simulator: {0}")]
    Start(String),
    #[error("cannot write the demo files in {}: {source}", dir.display())]
    Files {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Both simulators running, and a config file that points at them.
pub struct Demo {
    pub entra: EntraSim,
    pub scim: ScimSim,
    /// Where the config, secrets, state and logs are written.
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub config: ConfigFile,
}

fn demo_fixture() -> Result<Fixture, DemoError> {
    Fixture::from_json(include_str!("../../assets/demo-tenant.json")).map_err(DemoError::Fixture)
}

fn demo_seed() -> Result<Seed, DemoError> {
    Seed::from_json(include_str!("../../assets/demo-app.json"))
        .map_err(|e| DemoError::Fixture(e.to_string()))
}

/// The id of the demo tenant's group with this name.
fn group_id(name: &str) -> Result<String, DemoError> {
    let tenant: Value = serde_json::from_str(include_str!("../../assets/demo-tenant.json"))
        .map_err(|e| DemoError::Fixture(e.to_string()))?;
    tenant["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["displayName"] == name))
        .and_then(|g| g["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| DemoError::Fixture(format!("no group named {name}")))
}

impl Demo {
    /// Starts both simulators on free loopback ports and writes the config, the demo secrets
    /// (`file:` references, mode 0600), and the state and log paths under `dir`.
    pub async fn start(dir: &Path) -> Result<Self, DemoError> {
        let files = |source| DemoError::Files {
            dir: dir.to_owned(),
            source,
        };
        let entra = EntraSim::start(demo_fixture()?)
            .await
            .map_err(|e| DemoError::Start(e.to_string()))?;
        let scim = ScimSim::start(demo_seed()?)
            .await
            .map_err(|e| DemoError::Start(e.to_string()))?;
        crate::fsutil::create_private_dir(dir).map_err(files)?;
        let dir = dir.canonicalize().map_err(files)?;
        let entra_secret = SecretRef::File(dir.join("entra-client-secret"));
        let target_token = SecretRef::File(dir.join("target-token"));
        let secret = entra
            .client_secret()
            .ok_or_else(|| DemoError::Fixture("the demo app has no secret".into()))?;
        let store = |r: &SecretRef, value: &str| {
            r.store(&Secret::new(value))
                .map_err(|e| files(std::io::Error::other(e.to_string())))
        };
        store(&entra_secret, &secret)?;
        store(&target_token, &scim.token)?;
        let mut pairs = String::new();
        for (order, (entra_name, target_id, target_name)) in DEMO_PAIRS.iter().enumerate() {
            pairs.push_str(&format!(
                "[[pairs]]\nentra_group_id = \"{}\"\nentra_group_name = \"{entra_name}\"\n\
                 target_group_id = \"{target_id}\"\ntarget_group_name = \"{target_name}\"\n\
                 order = {}\nnested = true\nroles = {}\n\n",
                group_id(entra_name)?,
                order + 1,
                DEMO_ROLES[order]
            ));
        }
        let text = format!(
            r#"# adsync demo configuration: the simulated tenant and application on this machine.
version = 1

[entra]
tenant = "{tenant}"
client_id = "{client}"
client_secret = "{entra_secret}"
authority_url = "{entra_url}"
graph_url = "{entra_url}"

[target]
url = "{scim_url}"
token = "{target_token}"
admin_email = "admin@tailspintoys.com"

{pairs}{DEMO_MAPPINGS}
[service]
interval_secs = 10
state_path = "{state}"
log_dir = "{logs}"
"#,
            tenant = entra.tenant_domain(),
            client = entra.client_id(),
            entra_url = entra.url(),
            scim_url = scim.url(),
            state = dir.join("state.sqlite3").display(),
            logs = dir.join("logs").display(),
        );
        let config = config::parse_str(&text)
            .map_err(|p| DemoError::Fixture(format!("the demo config is invalid: {p:?}")))?;
        let config_path = dir.join("config.toml");
        crate::fsutil::write_atomic(&config_path, text.as_bytes()).map_err(files)?;
        Ok(Self {
            entra,
            scim,
            dir,
            config_path,
            config,
        })
    }
}
