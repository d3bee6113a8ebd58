//! Calling `systemctl` (or `systemctl --user`). `$ADSYNC_SYSTEMCTL` names another program to call
//! instead, which is how the tests check install, start and stop on a machine without systemd.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Scope, ServiceError, UNIT_NAME};

/// How a unit is doing, from `systemctl is-active`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// `active`, `inactive`, `failed`, `activating`, ... as systemd says it.
    Known(String),
    /// systemd could not be asked (not running here, or no user session).
    Unknown(String),
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Known(state) => f.write_str(state),
            Self::Unknown(why) => write!(f, "unknown ({why})"),
        }
    }
}

/// The `systemctl` to call for a scope.
#[derive(Clone, Debug)]
pub struct Systemctl {
    program: PathBuf,
    scope: Scope,
    overridden: bool,
}

impl Systemctl {
    /// `systemctl`, or the program in `$ADSYNC_SYSTEMCTL`.
    pub fn new(scope: Scope) -> Self {
        match std::env::var_os("ADSYNC_SYSTEMCTL").filter(|p| !p.is_empty()) {
            Some(program) => Self {
                program: PathBuf::from(program),
                scope,
                overridden: true,
            },
            None => Self {
                program: PathBuf::from("systemctl"),
                scope,
                overridden: false,
            },
        }
    }

    /// `program` called as `systemctl` (a stand-in, as with `$ADSYNC_SYSTEMCTL`).
    pub fn with_program(program: &Path, scope: Scope) -> Self {
        Self {
            program: program.to_owned(),
            scope,
            overridden: true,
        }
    }

    /// Can systemd be asked at all? It needs systemd as the init system (`/run/systemd/system`,
    /// as `sd_booted` checks) and, for `--user`, the user's session (`$XDG_RUNTIME_DIR`).
    /// `None` when it can, else why not.
    pub fn unavailable(&self) -> Option<&'static str> {
        if self.overridden {
            return None;
        }
        if !Path::new("/run/systemd/system").is_dir() {
            return Some("systemd is not running on this machine");
        }
        if self.scope == Scope::User && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            return Some(
                "no systemd user session (log in to a desktop or use `loginctl enable-linger`)",
            );
        }
        None
    }

    /// The command line as a person would type it, for messages.
    pub fn display(&self, args: &[&str]) -> String {
        let mut words = vec!["systemctl".to_owned()];
        if self.scope == Scope::User {
            words.push("--user".into());
        }
        words.extend(args.iter().map(|a| a.to_string()));
        words.join(" ")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        if self.scope == Scope::User {
            cmd.arg("--user");
        }
        cmd.args(args);
        cmd
    }

    /// Runs `systemctl ARGS`; a non-zero exit is an error carrying what it printed.
    pub fn run(&self, args: &[&str]) -> Result<String, ServiceError> {
        let command = self.display(args);
        let output = self
            .command(args)
            .output()
            .map_err(|source| ServiceError::Spawn {
                command: command.clone(),
                source,
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(ServiceError::Command {
                command,
                status: output.status.to_string(),
                output: text.trim().to_owned(),
            })
        }
    }

    /// `systemctl is-active adsync.service`: prints the state and exits non-zero unless active.
    pub fn is_active(&self) -> Activity {
        self.query("is-active")
    }

    /// `systemctl is-enabled adsync.service`.
    pub fn is_enabled(&self) -> Activity {
        self.query("is-enabled")
    }

    fn query(&self, verb: &str) -> Activity {
        if let Some(why) = self.unavailable() {
            return Activity::Unknown(why.into());
        }
        match self.command(&[verb, UNIT_NAME]).output() {
            Ok(output) => {
                let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                if state.is_empty() || state.contains(' ') {
                    let err = String::from_utf8_lossy(&output.stderr).trim().to_owned();
                    Activity::Unknown(if err.is_empty() { state } else { err })
                } else {
                    Activity::Known(state)
                }
            }
            Err(e) => Activity::Unknown(format!("cannot run systemctl: {e}")),
        }
    }
}
