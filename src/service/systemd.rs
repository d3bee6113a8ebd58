//! systemd unit files: the hardened system unit (what the .deb ships and `adsync service install`
//! writes as root) and the per-user unit (a desktop install without root).
//!
//! The system unit runs as the `adsync` system user that the package creates, not as a
//! `DynamicUser=`: a dynamic user's id is chosen at each start, so no file in `/etc/adsync` can be
//! owned by it, and the 0600 config file (SPEC §3) would be unreadable to it. With a fixed system
//! user the config is simply owned by `adsync`, and the secret files stay root-only and reach the
//! service through `LoadCredential=` (see [`super::credentials`]).

use std::path::{Path, PathBuf};

use super::{SERVICE_USER, Scope, ServiceSpec, UNIT_NAME};

/// Restart after a failure, but not after exit code 2 (an invalid config: restarting cannot fix
/// it, and the log already says what to change).
const RESTART: &str = "Restart=on-failure\nRestartSec=30s\nRestartPreventExitStatus=2\n";

const DESCRIPTION: &str = "adsync: keeps an application's users in step with Microsoft Entra ID";

/// No core dumps: the process holds secrets in memory, and a dump would write them to disk.
const NO_CORE: &str = "LimitCORE=0\n";

/// The sandboxing of the system unit. `ProtectSystem=strict` leaves only the state and logs
/// directories writable; the system-call filter and address families are what an HTTPS client
/// with a SQLite file needs.
const HARDENING: &[&str] = &[
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateIPC=yes",
    "PrivateMounts=yes",
    "ProtectHostname=yes",
    "ProtectClock=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectProc=invisible",
    "ProcSubset=pid",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "RemoveIPC=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    "UMask=0077",
];

/// The hardened system unit for `spec`.
pub fn system_unit(spec: &ServiceSpec) -> String {
    let mut out = String::new();
    out.push_str(
        "# The adsync background service (system-wide). It is not enabled by the package:\n\
         # `adsync service install` or the setup wizard enables it.\n\
         # Secret files named by `file:` references are passed with LoadCredential=ID:PATH and read\n\
         # by adsync from $CREDENTIALS_DIRECTORY/ID, where ID is the file's name and a hash of its\n\
         # path (`adsync service print` shows the lines). To add one to this packaged unit, run\n\
         # `systemctl edit adsync` and add e.g.\n\
         #   [Service]\n\
         #   LoadCredential=target-token-a517f530:/etc/adsync/secrets/target-token\n\
         # (`adsync service install` writes them for you from the config).\n",
    );
    out.push_str("[Unit]\n");
    out.push_str(&format!("Description={DESCRIPTION}\n"));
    out.push_str("Documentation=man:adsync(1)\n");
    out.push_str("Wants=network-online.target\nAfter=network-online.target\n\n");
    out.push_str("[Service]\nType=exec\n");
    out.push_str(&format!("User={SERVICE_USER}\nGroup={SERVICE_USER}\n"));
    out.push_str(&format!("ExecStart={}\n", exec_start(spec)));
    out.push_str(RESTART);
    out.push_str(NO_CORE);
    out.push_str(
        "ConfigurationDirectory=adsync\n\
         StateDirectory=adsync\n\
         StateDirectoryMode=0700\n\
         LogsDirectory=adsync\n\
         LogsDirectoryMode=0750\n",
    );
    for credential in &spec.credentials {
        out.push_str(&format!(
            "LoadCredential={}:{}\n",
            escape_specifiers(&credential.id),
            escape_specifiers(&credential.path.display().to_string())
        ));
    }
    for line in HARDENING {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    out
}

/// The per-user unit's sandboxing that works without a user namespace: system-call filters and
/// process flags, which an unprivileged user manager can apply (systemd.exec(5)).
const USER_HARDENING: &[&str] = &[
    "NoNewPrivileges=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    "UMask=0077",
];

/// The per-user unit's sandboxing that needs its own user namespace (`PrivateUsers=yes`: a user
/// manager may set up mount namespaces only inside one). The user's home stays writable
/// (`ReadWritePaths=%h`: config, state and logs live there) while other homes and the rest of the
/// system are read-only; `/run/user` stays reachable read-only, which is enough to connect to the
/// session bus of the desktop keyring.
const USER_NAMESPACE_HARDENING: &[&str] = &[
    "PrivateUsers=yes",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "ReadWritePaths=%h",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "PrivateIPC=yes",
    "PrivateMounts=yes",
    "ProtectHostname=yes",
    "ProtectClock=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
];

/// The per-user unit for `spec`: it runs as the user who installed it, from login on, with the
/// hardening a user manager allows, in its own user namespace (see [`user_unit_with`]).
pub fn user_unit(spec: &ServiceSpec) -> String {
    user_unit_with(spec, true)
}

/// The per-user unit, with or without its own user namespace. Without it the unit keeps only the
/// system-call and process hardening: that is for a service whose `keyring:` secrets are in the
/// kernel keyutils store, whose keyrings belong to a user namespace, so a service in a namespace
/// of its own would not find the secrets that `adsync secret set` stored from the user's shell.
pub fn user_unit_with(spec: &ServiceSpec, own_user_namespace: bool) -> String {
    let mut out = String::new();
    out.push_str("# The adsync background service for one user, written by `adsync service install --user`.\n");
    if own_user_namespace {
        out.push_str(
            "# Everything outside your home directory is read-only to it: a state_path or log_dir\n\
             # elsewhere needs `systemctl --user edit adsync` with ReadWritePaths=DIR.\n",
        );
    } else {
        out.push_str(
            "# Without PrivateUsers= and the file-system sandboxing it allows: the config's keyring:\n\
             # secrets are in the kernel keyutils store, which a user namespace would not see.\n",
        );
    }
    out.push_str("[Unit]\n");
    out.push_str(&format!("Description={DESCRIPTION}\n"));
    out.push_str("Documentation=man:adsync(1)\n\n");
    out.push_str("[Service]\nType=exec\n");
    out.push_str(&format!("ExecStart={}\n", exec_start(spec)));
    out.push_str(RESTART);
    out.push_str(NO_CORE);
    if own_user_namespace {
        for line in USER_NAMESPACE_HARDENING {
            out.push_str(line);
            out.push('\n');
        }
    }
    for line in USER_HARDENING {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("\n[Install]\nWantedBy=default.target\n");
    out
}

/// The unit text for a scope.
pub fn unit(spec: &ServiceSpec, scope: Scope) -> String {
    match scope {
        Scope::System => system_unit(spec),
        Scope::User => user_unit(spec),
    }
}

/// Where `adsync service install` writes the unit: `/etc/systemd/system` (it overrides the packaged
/// copy in `/lib/systemd/system`) or `~/.config/systemd/user`. `$ADSYNC_SYSTEMD_DIR` replaces the
/// directory (tests, packaging).
pub fn unit_path(scope: Scope) -> PathBuf {
    if let Some(dir) = std::env::var_os("ADSYNC_SYSTEMD_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(UNIT_NAME);
    }
    match scope {
        Scope::System => PathBuf::from("/etc/systemd/system").join(UNIT_NAME),
        Scope::User => user_config_dir().join("systemd/user").join(UNIT_NAME),
    }
}

fn user_config_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|d| d.config_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".config"))
}

/// The `ExecStart=` value: every argument quoted as systemd reads it.
fn exec_start(spec: &ServiceSpec) -> String {
    spec.arguments()
        .iter()
        .map(|a| quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes one command-line word for systemd: `%` and `$` are escaped (specifiers and variable
/// expansion), and a word with white space, quotes or backslashes is put in double quotes.
fn quote(word: &str) -> String {
    let escaped = escape_specifiers(word).replace('$', "$$");
    if escaped.is_empty()
        || escaped
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\' || c == ';')
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

fn escape_specifiers(text: &str) -> String {
    text.replace('%', "%%")
}

/// The config path in a unit's `ExecStart=` (`... run --config PATH`), to report which config the
/// installed service uses.
pub fn config_in_unit(unit_text: &str) -> Option<PathBuf> {
    let line = unit_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))?;
    let words = split_words(line);
    let at = words.iter().position(|w| w == "--config")?;
    words
        .get(at + 1)
        .map(|w| PathBuf::from(w.replace("%%", "%")))
}

/// Splits an `ExecStart=` value into words, undoing [`quote`].
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => word.extend(chars.next()),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word.replace("$$", "$"));
    }
    words
}

/// Does this path lie under a directory that `ProtectHome=yes` hides from the system service?
pub fn hidden_by_protect_home(path: &Path) -> bool {
    ["/home", "/root", "/run/user"]
        .iter()
        .any(|dir| path.starts_with(dir))
}
