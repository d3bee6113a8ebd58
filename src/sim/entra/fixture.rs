//! The simulated tenant's fixture: the JSON file that says who is in the directory and which app
//! registrations may sign in (documented in `docs/entra-simulator.md`).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole simulated tenant.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    #[serde(default, rename = "_comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub tenant: TenantFixture,
    /// App registrations that may sign in.
    #[serde(default)]
    pub apps: Vec<AppFixture>,
    /// Users as Graph returns them (any user property; `id` required).
    #[serde(default)]
    pub users: Vec<Map<String, Value>>,
    /// Groups as Graph returns them, plus `members`: the ids of their direct members.
    #[serde(default)]
    pub groups: Vec<Map<String, Value>>,
    /// Devices (group members that are not users).
    #[serde(default)]
    pub devices: Vec<Map<String, Value>>,
    /// Service principals (group members; left out of v1.0 `/members`, as in Graph).
    #[serde(default)]
    pub service_principals: Vec<Map<String, Value>>,
    /// Organizational contacts.
    #[serde(default)]
    pub contacts: Vec<Map<String, Value>>,
}

/// The tenant itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantFixture {
    /// The tenant id (GUID).
    pub id: String,
    /// Its verified domain, e.g. `contoso.onmicrosoft.com`; either this or `id` signs in.
    pub domain: String,
    pub display_name: String,
    /// The Graph resource of the simulated cloud, for the scope check
    /// (default `https://graph.microsoft.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_resource: Option<String>,
    /// Tenants that live in another national cloud (name or id → cloud name): signing in to one
    /// gives AADSTS90038.
    #[serde(default)]
    pub other_cloud_tenants: HashMap<String, String>,
}

/// An app registration (and its service principal's granted application permissions).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppFixture {
    pub client_id: String,
    pub display_name: String,
    #[serde(default)]
    pub secrets: Vec<SecretFixture>,
    /// Registered certificates: PEM text holding a `CERTIFICATE` block.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Granted application permissions (the token's `roles`), e.g. `User.Read.All`.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A client secret.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFixture {
    /// The secret's ID (what people paste by mistake).
    pub id: String,
    /// The secret's value.
    pub value: String,
    #[serde(default)]
    pub expired: bool,
}

fn yes() -> bool {
    true
}

impl Fixture {
    /// Reads a fixture from JSON text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let fixture: Self =
            serde_json::from_str(text).map_err(|e| format!("the fixture is not valid: {e}"))?;
        fixture.validate()?;
        Ok(fixture)
    }

    /// Reads a fixture file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The demo company shipped in `assets/demo-tenant.json` (demo-only credentials).
    pub fn demo() -> Self {
        Self::from_json(include_str!("../../../assets/demo-tenant.json"))
            .expect("the demo fixture is valid")
    }

    fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        let objects = self
            .users
            .iter()
            .chain(&self.groups)
            .chain(&self.devices)
            .chain(&self.service_principals)
            .chain(&self.contacts);
        for object in objects {
            let id = object
                .get("id")
                .and_then(Value::as_str)
                .ok_or("an object has no string `id`")?;
            if !seen.insert(id.to_lowercase()) {
                return Err(format!("the id {id} is used twice"));
            }
        }
        for group in &self.groups {
            for member in group
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let member = member.as_str().ok_or("a group's `members` must be ids")?;
                if !seen.contains(&member.to_lowercase()) {
                    return Err(format!(
                        "group {} has a member {member} that is not in the fixture",
                        group["id"]
                    ));
                }
            }
        }
        if self.apps.is_empty() {
            return Err("the fixture has no `apps`: nothing could sign in".into());
        }
        Ok(())
    }
}
