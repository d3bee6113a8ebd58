//! The commented template `adsync config init` writes. It does not validate until the
//! administrator fills in the REPLACE-ME values, which is the point: every placeholder is named.

/// A config file with every key explained; the placeholders must be replaced before it validates.
pub const TEMPLATE: &str = r#"# adsync configuration, version 1.
# Fill in every REPLACE-ME value, then run `adsync config validate` and `adsync check`.
# Secrets never go in this file: secret fields hold a reference instead:
#   keyring:SERVICE/ACCOUNT   the OS keyring   (store it: adsync secret set keyring:adsync/NAME)
#   file:/absolute/path       a file only its owner can read (chmod 600)
#   env:VARIABLE              an environment variable of the adsync process
version = 1

[entra]
cloud = "global"                   # global | usgov-l4 | usgov-l5 | china
tenant = "REPLACE-ME"              # Directory (tenant) ID GUID, or a verified domain
client_id = "REPLACE-ME"           # Application (client) ID GUID of the app registration
client_secret = "keyring:adsync/entra-client-secret"
# certificate = "/etc/adsync/entra.pem"   # instead of client_secret: PEM with certificate + key

[target]
url = "REPLACE-ME"                 # the application's SCIM base URL, e.g. https://app.example.com/scim/v2
auth = "bearer"                     # bearer | basic
token = "keyring:adsync/target-token"
# username = "svc-adsync"           # with auth = "basic"
# password = "keyring:adsync/target-password"
# admin_email = "admin@example.com"
# max_concurrency = 16             # the most requests in flight to the application; adsync adapts below it
# ca_file = "/etc/adsync/internal-ca.pem"   # extra CA certificates (PEM) trusted for the application

# One [[pairs]] section per Entra group to synchronize; lower order wins (see group_mode).
# [[pairs]]
# entra_group_id = "00000000-0000-0000-0000-000000000000"
# entra_group_name = "Support"
# target_group_id = "tier-1"
# target_group_name = "Tier 1"
# order = 1
# nested = true                     # include members of nested groups
# roles = ["technician"]            # optional: SCIM roles this pair gives its users

# Optional: only users matching every rule are synchronized.
# [[scope]]
# attribute = "department"   # displayName userPrincipalName mail givenName surname jobTitle
#                            # department officeLocation companyName employeeId city country userType
# operator = "contains"      # equals notEquals contains notContains startsWith endsWith
# value = "support"

# Optional: attribute mappings beyond the default (see the README's "Attribute mappings").
# [[mappings]]
# target = "phoneNumbers[type eq \"mobile\"].value"   # a SCIM target path
# source = "mobilePhone"     # or: value = "constant", template = "{givenName}.{surname}", omit = true
# default = "n/a"            # when the source comes out empty
# transform = "lower"        # lower | upper | trim | local-part
# when = "always"            # always | create

[policy]
group_mode = "single"        # single: one target group per user (lowest order wins) | all
username = "upn"             # upn | upn-local-part | mail
# default_password = "keyring:adsync/default-password"
include_guests = true
max_disables = 100           # a plan disabling more than this (and at least 5) is withheld
max_disable_percent = 20     # ... or more than this percent of the active managed users

[service]
interval_secs = 60           # incremental cycle (at least 5)
full_sync_hours = 24         # full reconciliation
dry_run = false              # plan and log only, never write
# state_path = "/var/lib/adsync/state.sqlite3"
# log_dir = "/var/log/adsync"
# alert_webhook = "keyring:adsync/alert-webhook"  # a reference to an https webhook URL (Teams,
#                              # Slack): a withheld plan, a quarantined user, cycles failing
"#;
