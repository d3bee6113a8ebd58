//! Installing and removing the service: the procedure behind `adsync service install | uninstall`
//! and the wizard's *Install and start the background service*. Linux writes a systemd system or
//! per-user unit and enables it with `systemctl`; macOS writes a launchd plist and names the
//! `launchctl` command that loads it. Each returns what it did, step by step, and prints
//! nothing: the CLI prints the report, the wizard shows it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{
    Credential, SERVICE_USER, SYSTEM_CONFIG, Scope, ServiceError, ServiceSpec, ServiceStatus,
    Systemctl, UNIT_NAME, credentials_for, launchd, systemd,
};
use crate::config::{self, Settings};

/// Where an install writes and whom it asks, instead of the system's own: for tests (a unit
/// directory in a temp dir, a stand-in `systemctl`) and for choosing the scope explicitly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The scope to install, instead of the one chosen from who runs the program.
    pub scope: Option<Scope>,
    /// The directory the unit goes to (`$ADSYNC_SYSTEMD_DIR` does the same for the CLI).
    pub unit_dir: Option<PathBuf>,
    /// The program called as `systemctl` (`$ADSYNC_SYSTEMCTL` does the same for the CLI).
    pub systemctl: Option<PathBuf>,
}

/// Where the unit of `scope` goes and the `systemctl` to call, with `overrides` applied.
fn host(scope: Scope, overrides: &Overrides) -> (PathBuf, Systemctl) {
    let unit_path = match &overrides.unit_dir {
        Some(dir) => dir.join(UNIT_NAME),
        None => systemd::unit_path(scope),
    };
    let systemctl = match &overrides.systemctl {
        Some(program) => Systemctl::with_program(program, scope),
        None => Systemctl::new(scope),
    };
    (unit_path, systemctl)
}

/// Is this process root (the system service's installer must be)?
#[cfg(unix)]
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Is this process root (the system service's installer must be)?
#[cfg(not(unix))]
pub fn running_as_root() -> bool {
    false
}

/// The scope used when none is asked for: on Linux root gets the system service; anyone else,
/// and everyone elsewhere, their own.
pub fn default_scope() -> Scope {
    if cfg!(target_os = "linux") && running_as_root() {
        Scope::System
    } else {
        Scope::User
    }
}

/// The config the service should use: `given` (or `$ADSYNC_CONFIG`) made absolute, else
/// `/etc/adsync/config.toml` for the system service and the user's default for a user service.
pub fn service_config(scope: Scope, given: Option<&Path>) -> PathBuf {
    let given = given.map(Path::to_owned).or_else(|| {
        std::env::var_os("ADSYNC_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    match given {
        Some(path) => std::path::absolute(&path).unwrap_or(path),
        None => match scope {
            Scope::System => PathBuf::from(SYSTEM_CONFIG),
            Scope::User => config::default_path(),
        },
    }
}

/// This program's own path, resolved (what a service definition runs).
pub fn current_exe() -> Result<PathBuf, ServiceError> {
    let exe = std::env::current_exe().map_err(|source| ServiceError::Io {
        path: PathBuf::from("adsync"),
        source,
    })?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// Where launchd's logs go for `scope`.
pub fn launchd_log_dir(scope: Scope) -> PathBuf {
    match scope {
        Scope::System => PathBuf::from("/Library/Logs/adsync"),
        Scope::User => crate::paths::log_dir(),
    }
}

/// What to install.
#[derive(Clone, Debug)]
pub struct InstallRequest {
    pub scope: Scope,
    /// The `adsync` binary the service runs (absolute).
    pub exe: PathBuf,
    /// The config it runs with (absolute).
    pub config: PathBuf,
    /// Start it now as well as enabling it.
    pub now: bool,
    pub overrides: Overrides,
}

/// One thing an install or uninstall did or found, in words (one line each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The config now belongs to the service user so the system service can read it.
    Chowned(PathBuf),
    /// A unit file written.
    Wrote(PathBuf),
    /// A secret file handed to the service with `LoadCredential=`.
    Credential(Credential),
    /// `systemctl enable` (with `--now`: and started).
    Enabled { scope: Scope, now: bool },
    /// A user service only runs while its user is logged in.
    LingerNote,
    /// A launchd plist written, with the command that loads it.
    WrotePlist { path: PathBuf, target: String },
    /// Uninstall with nothing installed.
    NotInstalled { scope: Scope, unit: PathBuf },
    /// A unit file removed.
    Removed(PathBuf),
    /// The package's own copy of the unit stays (disabled).
    PackagedKept(PathBuf),
    /// `systemctl disable --now`.
    Disabled,
    /// systemd is not running: nothing to stop; the command to run where it is.
    NothingToStop { why: &'static str, command: String },
    /// What uninstall leaves in place.
    Kept {
        config: PathBuf,
        state: PathBuf,
        logs: PathBuf,
    },
    /// launchd: unload the job before removing its plist.
    Unload { job: String },
    /// launchd: the plist removed.
    RemovedPlist(PathBuf),
    /// `systemctl start` (`true`) or `stop` (`false`).
    Controlled { started: bool },
}

fn user_flag(scope: Scope) -> &'static str {
    match scope {
        Scope::User => " --user",
        Scope::System => "",
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Chowned(path) => write!(
                f,
                "{} is now owned by `{SERVICE_USER}` (mode unchanged) so the service can read it",
                path.display()
            ),
            Step::Wrote(path) => write!(f, "wrote {}", path.display()),
            Step::Credential(c) => write!(
                f,
                "secret {} is passed to the service as credential `{}`",
                c.path.display(),
                c.id
            ),
            Step::Enabled { scope, now: true } => write!(
                f,
                "enabled and started {UNIT_NAME} ({} service)",
                scope.as_str()
            ),
            Step::Enabled { scope, now: false } => write!(
                f,
                "enabled {UNIT_NAME} ({} service); it starts at {}. Start it now with `adsync \
                 service start{}`",
                scope.as_str(),
                match scope {
                    Scope::System => "boot",
                    Scope::User => "login",
                },
                user_flag(*scope)
            ),
            Step::LingerNote => f.write_str(
                "note: a user service runs only while you are logged in; `loginctl \
                 enable-linger` keeps it running after logout",
            ),
            Step::WrotePlist { path, target } => write!(
                f,
                "wrote {}; load it with: launchctl bootstrap {target} {}",
                path.display(),
                path.display()
            ),
            Step::NotInstalled { scope, unit } => write!(
                f,
                "the {} service is not installed (no unit at {}); nothing to do",
                scope.as_str(),
                unit.display()
            ),
            Step::Removed(path) => write!(f, "removed {}", path.display()),
            Step::PackagedKept(path) => write!(
                f,
                "{} belongs to the adsync package and stays until the package is removed; it \
                 is disabled",
                path.display()
            ),
            Step::Disabled => write!(f, "disabled and stopped {UNIT_NAME}"),
            Step::NothingToStop { why, command } => write!(
                f,
                "{why}: nothing to stop. On a machine running systemd, also run `{command}`"
            ),
            Step::Kept {
                config,
                state,
                logs,
            } => write!(
                f,
                "kept: config {}, state {}, logs {} (remove them by hand if you no longer need \
                 them)",
                config.display(),
                state.display(),
                logs.display()
            ),
            Step::Unload { job } => write!(f, "unload it first with: launchctl bootout {job}"),
            Step::Controlled { started } => write!(
                f,
                "{} {UNIT_NAME}",
                if *started { "started" } else { "stopped" }
            ),
            Step::RemovedPlist(path) => write!(
                f,
                "removed {} (config, state and logs kept)",
                path.display()
            ),
        }
    }
}

/// The unit was written but not enabled, because systemd cannot be asked here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEnabled {
    pub why: &'static str,
    /// The commands to run on a machine running systemd.
    pub commands: Vec<String>,
}

impl fmt::Display for NotEnabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, so the service was not enabled. On a machine running systemd, run:",
            self.why
        )?;
        for command in &self.commands {
            write!(f, "\n  {command}")?;
        }
        Ok(())
    }
}

/// What an install or uninstall did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// What was done, in order.
    pub steps: Vec<Step>,
    /// Set when the unit was written but could not be enabled: the install is not complete.
    pub not_enabled: Option<NotEnabled>,
    /// Problems that did not stop it (a unit that was already disabled).
    pub warnings: Vec<String>,
}

impl Report {
    /// Did it do everything asked?
    pub fn complete(&self) -> bool {
        self.not_enabled.is_none()
    }

    /// Every line, as the CLI prints them (the not-enabled reason last).
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.steps.iter().map(ToString::to_string).collect();
        out.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        if let Some(not) = &self.not_enabled {
            out.push(not.to_string());
        }
        out
    }
}

/// Loads the config the service will run with.
fn load_settings(path: &Path) -> Result<Settings, ServiceError> {
    let file = config::load(path).map_err(ServiceError::Config)?;
    Ok(Settings::from_file(&file))
}

/// Writes a unit file or plist: world-readable (systemd warns about unreadable ones); it holds
/// no secret.
fn write_unit(path: &Path, text: &str) -> Result<(), ServiceError> {
    let io = |source| ServiceError::WriteUnit {
        path: path.to_owned(),
        source,
    };
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    Ok(())
}

/// The uid and gid of the `adsync` system user, if it exists.
fn system_user() -> Option<(u32, u32)> {
    let output = std::process::Command::new("getent")
        .args(["passwd", SERVICE_USER])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut fields = line.trim().split(':').skip(2);
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some((uid, gid))
}

/// Installs the service: on macOS writes the launchd plist, elsewhere writes the systemd unit
/// and enables it. Refuses, before writing anything, a config the service could not load and
/// (system service) paths it could not see or a missing service user.
pub fn install(request: &InstallRequest) -> Result<Report, ServiceError> {
    if cfg!(target_os = "macos") {
        return install_launchd(request);
    }
    let scope = request.scope;
    let config = &request.config;
    if scope == Scope::System {
        for (what, path) in [("config", config), ("adsync binary", &request.exe)] {
            if systemd::hidden_by_protect_home(path) {
                return Err(ServiceError::HiddenByProtectHome {
                    what,
                    path: path.clone(),
                });
            }
        }
    }
    let settings = load_settings(config)?;
    let mut report = Report::default();
    let credentials = match scope {
        Scope::System => credentials_for(&settings)?,
        Scope::User => Vec::new(),
    };
    if scope == Scope::System {
        let (uid, gid) = system_user().ok_or(ServiceError::NoSystemUser)?;
        // The config is owner-only (0600); the service's user must be its owner to read it.
        // Secret files stay root's: systemd passes them with LoadCredential=.
        #[cfg(unix)]
        if running_as_root() {
            std::os::unix::fs::chown(config, Some(uid), Some(gid)).map_err(|source| {
                ServiceError::Chown {
                    path: config.clone(),
                    source,
                }
            })?;
            report.steps.push(Step::Chowned(config.clone()));
        }
        #[cfg(not(unix))]
        let _ = (uid, gid);
    }
    let spec = ServiceSpec {
        exe: request.exe.clone(),
        config: config.clone(),
        credentials,
    };
    let (unit_path, systemctl) = host(scope, &request.overrides);
    let text = match scope {
        Scope::System => systemd::system_unit(&spec),
        Scope::User => systemd::user_unit_with(&spec, !uses_keyutils(&settings)),
    };
    write_unit(&unit_path, &text)?;
    report.steps.push(Step::Wrote(unit_path));
    report
        .steps
        .extend(spec.credentials.into_iter().map(Step::Credential));
    let enable: &[&str] = if request.now {
        &["enable", "--now", UNIT_NAME]
    } else {
        &["enable", UNIT_NAME]
    };
    if let Some(why) = systemctl.unavailable() {
        report.not_enabled = Some(NotEnabled {
            why,
            commands: vec![
                systemctl.display(&["daemon-reload"]),
                systemctl.display(enable),
            ],
        });
        return Ok(report);
    }
    systemctl.run(&["daemon-reload"])?;
    systemctl.run(enable)?;
    report.steps.push(Step::Enabled {
        scope,
        now: request.now,
    });
    if scope == Scope::User {
        report.steps.push(Step::LingerNote);
    }
    Ok(report)
}

/// Does the config read `keyring:` secrets from the kernel keyutils store? Its keyrings belong to
/// the user namespace, so the per-user unit must then run in the user's own (no `PrivateUsers=`).
fn uses_keyutils(settings: &Settings) -> bool {
    crate::secret::keyring_backend() == crate::secret::KeyringBackend::KeyUtils
        && settings
            .secret_refs()
            .iter()
            .any(|(_, reference)| matches!(reference, crate::secret::SecretRef::Keyring { .. }))
}

/// The launchd domain of `scope`, as `launchctl` takes it.
pub fn launchd_target(scope: Scope) -> &'static str {
    match scope {
        Scope::System => "system",
        Scope::User => "gui/$(id -u)",
    }
}

/// macOS: writes the plist; loading it is left to `launchctl` (named in the report). Untested
/// here: no macOS machine is available.
fn install_launchd(request: &InstallRequest) -> Result<Report, ServiceError> {
    load_settings(&request.config)?;
    let spec = launchd::daemon_spec(
        ServiceSpec {
            exe: request.exe.clone(),
            config: request.config.clone(),
            credentials: Vec::new(),
        },
        request.scope,
    );
    let path = launchd::plist_path(request.scope);
    let plist = launchd::plist(&spec, request.scope, &launchd_log_dir(request.scope));
    write_unit(&path, &plist)?;
    Ok(Report {
        steps: vec![Step::WrotePlist {
            path,
            target: launchd_target(request.scope).to_owned(),
        }],
        ..Report::default()
    })
}

/// Stops, disables and removes the service; keeps config, state and logs (and says where).
/// Uninstalling what is not installed is not an error.
pub fn uninstall(
    scope: Scope,
    config: &Path,
    overrides: &Overrides,
) -> Result<Report, ServiceError> {
    if cfg!(target_os = "macos") {
        return uninstall_launchd(scope);
    }
    let (unit_path, systemctl) = host(scope, overrides);
    let status = ServiceStatus::gather(scope, config, &systemctl);
    let mut report = Report::default();
    // `gather` looks where the system keeps units; an overridden directory is looked at here.
    let installed = unit_path.is_file() || status.unit.is_some();
    if !installed {
        report.steps.push(Step::NotInstalled {
            scope,
            unit: unit_path,
        });
        return Ok(report);
    }
    let available = systemctl.unavailable();
    if available.is_none() {
        // A unit that is already disabled or not loaded is not an error here.
        if let Err(e) = systemctl.run(&["disable", "--now", UNIT_NAME]) {
            report.warnings.push(e.to_string());
        }
    }
    if unit_path.is_file() {
        std::fs::remove_file(&unit_path).map_err(|source| ServiceError::RemoveUnit {
            path: unit_path.clone(),
            source,
        })?;
        report.steps.push(Step::Removed(unit_path.clone()));
    }
    if let Some(unit) = status.unit.as_ref().filter(|u| **u != unit_path) {
        report.steps.push(Step::PackagedKept(unit.clone()));
    }
    match available {
        None => {
            systemctl.run(&["daemon-reload"])?;
            report.steps.push(Step::Disabled);
        }
        Some(why) => report.steps.push(Step::NothingToStop {
            why,
            command: systemctl.display(&["disable", "--now", UNIT_NAME]),
        }),
    }
    report.steps.push(Step::Kept {
        config: status.config,
        state: status.state_path,
        logs: status.log_dir,
    });
    Ok(report)
}

/// macOS: says how to unload the job and removes its plist.
fn uninstall_launchd(scope: Scope) -> Result<Report, ServiceError> {
    let path = launchd::plist_path(scope);
    let mut report = Report::default();
    report.steps.push(Step::Unload {
        job: format!("{}/{}", launchd_target(scope), launchd::LABEL),
    });
    if path.is_file() {
        std::fs::remove_file(&path).map_err(|source| ServiceError::RemoveUnit {
            path: path.clone(),
            source,
        })?;
        report.steps.push(Step::RemovedPlist(path));
    }
    Ok(report)
}

/// Starts (`start` true) or stops the installed systemd service; refuses, naming the command
/// to run instead, where systemd cannot be asked or the service is not installed.
pub fn control(scope: Scope, start: bool, overrides: &Overrides) -> Result<Step, ServiceError> {
    let verb = if start { "start" } else { "stop" };
    let (unit_path, systemctl) = host(scope, overrides);
    if let Some(why) = systemctl.unavailable() {
        return Err(ServiceError::NoSystemd {
            why,
            command: systemctl.display(&[verb, UNIT_NAME]),
        });
    }
    let packaged = scope == Scope::System && Path::new(super::PACKAGED_UNIT).is_file();
    if !unit_path.is_file() && !packaged {
        return Err(ServiceError::NotInstalled {
            scope: scope.as_str(),
            flag: user_flag(scope),
        });
    }
    systemctl.run(&[verb, UNIT_NAME])?;
    Ok(Step::Controlled { started: start })
}
