//! The config file as written: one struct per table, every optional key with its SPEC §3 default.
//! Values here have passed validation ([`super::parse_str`] only returns a `ConfigFile` when the
//! whole file is valid), so the enums and references are already typed.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::SecretRef;

/// The whole file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub version: u32,
    pub entra: EntraSection,
    pub target: TargetSection,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<Pair>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<ScopeRule>,
    #[serde(default)]
    pub policy: PolicySection,
    #[serde(default)]
    pub service: ServiceSection,
    /// `[[mappings]]` (SPEC §3.1); none = the default mapping of §2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<super::Mapping>,
}

impl ConfigFile {
    /// The file's TOML text, as `save` writes it.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("a ConfigFile always serializes");
        format!(
            "# adsync configuration (see `adsync config init` for every key, commented)\n{body}"
        )
    }
}

/// `[entra]`: the Azure app registration adsync signs in with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraSection {
    #[serde(default)]
    pub cloud: Cloud,
    pub tenant: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
}

/// `[target]`: the SCIM application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    pub url: String,
    #[serde(default)]
    pub auth: TargetAuthKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_email: Option<String>,
    /// Extra CA certificates (PEM) trusted for the target, beside the built-in ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The most requests in flight to the target; adsync adapts below it (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

/// One `[[pairs]]` entry: an Entra group synchronized into a target group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub entra_group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_group_name: Option<String>,
    pub target_group_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    pub order: u32,
    #[serde(default = "yes")]
    pub nested: bool,
    /// SCIM `roles` values this pair gives its users (SPEC §3.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// One `[[scope]]` rule; a user must match every rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRule {
    pub attribute: ScopeAttribute,
    pub operator: ScopeOperator,
    pub value: String,
}

/// `[policy]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    #[serde(default)]
    pub group_mode: GroupMode,
    #[serde(default)]
    pub username: UsernamePolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_password: Option<SecretRef>,
    #[serde(default = "yes")]
    pub include_guests: bool,
    #[serde(default = "default_max_disables")]
    pub max_disables: u32,
    #[serde(default = "default_max_disable_percent")]
    pub max_disable_percent: u32,
}

impl Default for PolicySection {
    fn default() -> Self {
        Self {
            group_mode: GroupMode::default(),
            username: UsernamePolicy::default(),
            default_password: None,
            include_guests: true,
            max_disables: default_max_disables(),
            max_disable_percent: default_max_disable_percent(),
        }
    }
}

/// `[service]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    #[serde(default = "default_interval_secs")]
    pub interval_secs: u64,
    #[serde(default = "default_full_sync_hours")]
    pub full_sync_hours: u64,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_dir: Option<PathBuf>,
    /// Where the service POSTs its alerts: a reference to the webhook's URL (the URL embeds a
    /// token, so it is a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<SecretRef>,
}

impl Default for ServiceSection {
    fn default() -> Self {
        Self {
            interval_secs: default_interval_secs(),
            full_sync_hours: default_full_sync_hours(),
            dry_run: false,
            state_path: None,
            log_dir: None,
            alert_webhook: None,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_max_disables() -> u32 {
    100
}
fn default_max_disable_percent() -> u32 {
    20
}
fn default_interval_secs() -> u64 {
    60
}
fn default_full_sync_hours() -> u64 {
    24
}

/// Declares a config enum: its TOML spellings, `FromStr`, `Display` and the list used in messages.
macro_rules! config_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? } default $default:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every accepted spelling, in the order the docs list them.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spelling used in the config file.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl Default for $name {
            fn default() -> Self { Self::$default }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)+ _ => Err(()) }
            }
        }
    };
}

config_enum!(
    /// The Microsoft cloud the tenant lives in.
    Cloud { Global = "global", UsGovL4 = "usgov-l4", UsGovL5 = "usgov-l5", China = "china" } default Global
);
config_enum!(
    /// How adsync authenticates to the SCIM target.
    TargetAuthKind { Bearer = "bearer", Basic = "basic" } default Bearer
);
config_enum!(
    /// R1: one target group per user (`single`) or every qualifying one (`all`).
    GroupMode { Single = "single", All = "all" } default Single
);
config_enum!(
    /// Which Entra attribute becomes the target userName.
    UsernamePolicy { Upn = "upn", UpnLocalPart = "upn-local-part", Mail = "mail" } default Upn
);
config_enum!(
    /// The Entra user attributes a `[[scope]]` rule can test.
    ScopeAttribute {
        DisplayName = "displayName", UserPrincipalName = "userPrincipalName", Mail = "mail",
        GivenName = "givenName", Surname = "surname", JobTitle = "jobTitle",
        Department = "department", OfficeLocation = "officeLocation", CompanyName = "companyName",
        EmployeeId = "employeeId", City = "city", Country = "country", UserType = "userType",
    } default Department
);
config_enum!(
    /// How a `[[scope]]` rule compares (always case-insensitively).
    ScopeOperator {
        Equals = "equals", NotEquals = "notEquals", Contains = "contains",
        NotContains = "notContains", StartsWith = "startsWith", EndsWith = "endsWith",
    } default Contains
);

impl ScopeOperator {
    /// Does `actual` (an attribute's value, empty when absent) satisfy this rule with `expected`?
    /// Comparison ignores case.
    pub fn matches(self, actual: &str, expected: &str) -> bool {
        let actual = actual.to_lowercase();
        let expected = expected.to_lowercase();
        match self {
            Self::Equals => actual == expected,
            Self::NotEquals => actual != expected,
            Self::Contains => actual.contains(&expected),
            Self::NotContains => !actual.contains(&expected),
            Self::StartsWith => actual.starts_with(&expected),
            Self::EndsWith => actual.ends_with(&expected),
        }
    }
}

/// The endpoints of one national cloud (graph-notes §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// The identity platform's login root, e.g. `https://login.microsoftonline.com`.
    pub authority: &'static str,
    /// Graph's root, e.g. `https://graph.microsoft.com`.
    pub graph: &'static str,
    /// The Azure portal, e.g. `https://portal.azure.com`.
    pub portal: &'static str,
}

impl Cloud {
    /// This cloud's login, Graph and portal roots.
    pub fn endpoints(self) -> CloudEndpoints {
        match self {
            Self::Global => CloudEndpoints {
                authority: "https://login.microsoftonline.com",
                graph: "https://graph.microsoft.com",
                portal: "https://portal.azure.com",
            },
            Self::UsGovL4 => CloudEndpoints {
                authority: "https://login.microsoftonline.us",
                graph: "https://graph.microsoft.us",
                portal: "https://portal.azure.us",
            },
            Self::UsGovL5 => CloudEndpoints {
                authority: "https://login.microsoftonline.us",
                graph: "https://dod-graph.microsoft.us",
                portal: "https://portal.azure.us",
            },
            Self::China => CloudEndpoints {
                authority: "https://login.partner.microsoftonline.cn",
                graph: "https://microsoftgraph.chinacloudapi.cn",
                portal: "https://portal.azure.cn",
            },
        }
    }

    /// The token scope for Graph in this cloud: `{graph}/.default`.
    pub fn graph_scope(self) -> String {
        format!("{}/.default", self.endpoints().graph)
    }
}
