//! `adsync service install | uninstall | status | start | stop | print`: registers `adsync run` with
//! the OS. Linux uses systemd (`systemctl`, or `systemctl --user` for a per-user service); macOS
//! gets a launchd plist written and the `launchctl` commands to run; Windows uses the Service
//! Control Manager (`crate::service::windows`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Exit;
use crate::config::{self, ConfigError, Settings};
use crate::service::{
    self, SERVICE_USER, SYSTEM_CONFIG, Scope, ServiceSpec, ServiceStatus, Systemctl, UNIT_NAME,
    launchd, systemd,
};

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Register the service and enable it at boot (system) or login (--user)
    Install {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Start it now as well
        #[arg(long)]
        now: bool,
    },
    /// Stop, disable and remove the service; config, state and logs are kept
    Uninstall {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Installed or not, running or not, the last and next cycle, the config in use
    Status {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Start the installed service
    Start {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Stop the running service
    Stop {
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Print the service definition that `install` would write, without installing it
    Print {
        #[command(flatten)]
        scope: ScopeArgs,
        /// The unit the .deb ships (/usr/bin/adsync, /etc/adsync/config.toml)
        #[arg(long)]
        packaged: bool,
        /// A macOS launchd plist instead of a systemd unit
        #[arg(long)]
        launchd: bool,
    },
    /// What the Windows Service Control Manager starts (Windows only)
    #[command(hide = true)]
    Dispatch,
}

/// `--user` or `--system`; without either, root gets the system service and anyone else the
/// per-user one.
#[derive(Debug, Args, Clone, Copy)]
pub struct ScopeArgs {
    /// The per-user service (runs from login as you; no root needed)
    #[arg(long, conflicts_with = "system")]
    pub user: bool,
    /// The system service (runs from boot as the `adsync` user; needs root)
    #[arg(long)]
    pub system: bool,
}

impl ScopeArgs {
    fn scope(self) -> Scope {
        if self.user {
            Scope::User
        } else if self.system || running_as_root() {
            Scope::System
        } else {
            Scope::User
        }
    }
}

#[cfg(target_os = "linux")]
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(target_os = "linux"))]
fn running_as_root() -> bool {
    false
}

/// Runs a `service` command; `config` is `--config` if given.
pub fn run(command: &ServiceCommand, config: Option<&Path>) -> anyhow::Result<Exit> {
    match command {
        ServiceCommand::Print {
            scope,
            packaged,
            launchd,
        } => print(scope.scope(), config, *packaged, *launchd),
        ServiceCommand::Dispatch => dispatch(),
        other => platform(other, config),
    }
}

#[cfg(windows)]
fn dispatch() -> anyhow::Result<Exit> {
    crate::service::windows::dispatch()
}

#[cfg(not(windows))]
fn dispatch() -> anyhow::Result<Exit> {
    eprintln!("error: `service dispatch` is what the Windows service manager runs; not for here");
    Ok(Exit::Usage)
}

#[cfg(windows)]
fn platform(command: &ServiceCommand, config: Option<&Path>) -> anyhow::Result<Exit> {
    use crate::service::windows::Request;
    let request = match command {
        ServiceCommand::Install { now, .. } => Request::Install { now: *now },
        ServiceCommand::Uninstall { .. } => Request::Uninstall,
        ServiceCommand::Start { .. } => Request::Start,
        ServiceCommand::Stop { .. } => Request::Stop,
        ServiceCommand::Status { .. } => Request::Status,
        ServiceCommand::Print { .. } | ServiceCommand::Dispatch => {
            unreachable!("handled by run()")
        }
    };
    for line in crate::service::windows::command(request, &service_config(Scope::User, config))? {
        println!("{line}");
    }
    Ok(Exit::Ok)
}

#[cfg(not(windows))]
fn platform(command: &ServiceCommand, config: Option<&Path>) -> anyhow::Result<Exit> {
    if cfg!(target_os = "macos") {
        return macos(command, config);
    }
    match command {
        ServiceCommand::Install { scope, now } => install(scope.scope(), config, *now),
        ServiceCommand::Uninstall { scope } => uninstall(scope.scope(), config),
        ServiceCommand::Status { scope } => status(scope.scope(), config),
        ServiceCommand::Start { scope } => control(scope.scope(), "start"),
        ServiceCommand::Stop { scope } => control(scope.scope(), "stop"),
        ServiceCommand::Print { .. } | ServiceCommand::Dispatch => {
            unreachable!("handled by run()")
        }
    }
}

/// The config the service should use: `--config` or `$ADSYNC_CONFIG` made absolute, else
/// `/etc/adsync/config.toml` for the system service and the user's default for a user service.
pub fn service_config(scope: Scope, config: Option<&Path>) -> PathBuf {
    let given = config.map(Path::to_owned).or_else(|| {
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

fn current_exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the adsync binary's own path: {e}"))?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

fn print(
    scope: Scope,
    config: Option<&Path>,
    packaged: bool,
    launchd: bool,
) -> anyhow::Result<Exit> {
    let spec = if packaged {
        ServiceSpec::packaged()
    } else {
        ServiceSpec {
            exe: current_exe()?,
            config: service_config(scope, config),
            credentials: Vec::new(),
        }
    };
    if launchd {
        let logs = match scope {
            Scope::System => PathBuf::from("/Library/Logs/adsync"),
            Scope::User => crate::paths::log_dir(),
        };
        print!("{}", launchd::plist(&spec, scope, &logs));
    } else {
        print!("{}", systemd::unit(&spec, scope));
    }
    Ok(Exit::Ok)
}

/// Loads the config the service will run with; prints why it cannot, with what to do.
fn load_settings(path: &Path) -> Option<Settings> {
    match config::load(path) {
        Ok(file) => Some(Settings::from_file(&file)),
        Err(ConfigError::Invalid { path, problems }) => {
            for problem in &problems {
                eprintln!("{}: {problem}", path.display());
            }
            eprintln!(
                "error: the service would not start with this config; fix the {} problem(s) \
                 above first",
                problems.len()
            );
            None
        }
        Err(ConfigError::Read { path, source }) => {
            eprintln!(
                "error: {}: cannot read the config the service would use ({source}). Write it \
                 with the setup wizard (`adsync-setup`) or `adsync config init --config {}`, \
                 or name another with --config",
                path.display(),
                path.display()
            );
            None
        }
        Err(other) => {
            eprintln!("error: {other}");
            None
        }
    }
}

fn install(scope: Scope, config: Option<&Path>, now: bool) -> anyhow::Result<Exit> {
    let config = service_config(scope, config);
    let exe = current_exe()?;
    if scope == Scope::System {
        for (what, path) in [("config", &config), ("adsync binary", &exe)] {
            if systemd::hidden_by_protect_home(path) {
                eprintln!(
                    "error: the {what} {} is in a home directory, which the system service \
                     cannot see (ProtectHome=yes). Put it under /etc/adsync (config) or \
                     /usr/local/bin (binary), or install a per-user service with --user",
                    path.display()
                );
                return Ok(Exit::Usage);
            }
        }
    }
    let Some(settings) = load_settings(&config) else {
        return Ok(Exit::Usage);
    };
    let credentials = match scope {
        Scope::System => service::credentials_for(&settings)?,
        Scope::User => Vec::new(),
    };
    if scope == Scope::System {
        let Some((uid, gid)) = system_user() else {
            eprintln!(
                "error: the system user `{SERVICE_USER}` does not exist. The adsync package \
                 creates it; without the package, create it with\n  useradd --system \
                 --user-group --home-dir /var/lib/adsync --no-create-home --shell \
                 /usr/sbin/nologin {SERVICE_USER}\nand run this again"
            );
            return Ok(Exit::Failure);
        };
        // The config is owner-only (0600); the service's user must be its owner to read it.
        // Secret files stay root's: systemd passes them with LoadCredential=.
        #[cfg(unix)]
        if running_as_root() {
            std::os::unix::fs::chown(&config, Some(uid), Some(gid)).map_err(|e| {
                anyhow::anyhow!(
                    "{}: cannot give it to `{SERVICE_USER}`: {e}",
                    config.display()
                )
            })?;
            println!(
                "{} is now owned by `{SERVICE_USER}` (mode unchanged) so the service can read it",
                config.display()
            );
        }
        #[cfg(not(unix))]
        let _ = (uid, gid);
    }
    let spec = ServiceSpec {
        exe,
        config,
        credentials,
    };
    let unit_path = systemd::unit_path(scope);
    write_unit(&unit_path, &systemd::unit(&spec, scope))?;
    println!("wrote {}", unit_path.display());
    for credential in &spec.credentials {
        println!(
            "secret {} is passed to the service as credential `{}`",
            credential.path.display(),
            credential.id
        );
    }

    let systemctl = Systemctl::new(scope);
    let enable: &[&str] = if now {
        &["enable", "--now", UNIT_NAME]
    } else {
        &["enable", UNIT_NAME]
    };
    if let Some(why) = systemctl.unavailable() {
        eprintln!(
            "error: {why}, so the service was not enabled. On a machine running systemd, run:\n  \
             {}\n  {}",
            systemctl.display(&["daemon-reload"]),
            systemctl.display(enable)
        );
        return Ok(Exit::Failure);
    }
    systemctl.run(&["daemon-reload"])?;
    systemctl.run(enable)?;
    if now {
        println!(
            "enabled and started {UNIT_NAME} ({} service)",
            scope.as_str()
        );
    } else {
        println!(
            "enabled {UNIT_NAME} ({} service); it starts at {}. Start it now with `adsync service \
             start{}`",
            scope.as_str(),
            if scope == Scope::System {
                "boot"
            } else {
                "login"
            },
            user_flag(scope)
        );
    }
    if scope == Scope::User {
        println!(
            "note: a user service runs only while you are logged in; `loginctl enable-linger` \
             keeps it running after logout"
        );
    }
    Ok(Exit::Ok)
}

fn user_flag(scope: Scope) -> &'static str {
    match scope {
        Scope::User => " --user",
        Scope::System => "",
    }
}

/// Unit files are world-readable (systemd warns about unreadable ones); they hold no secret.
fn write_unit(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: cannot write the unit file: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
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

fn uninstall(scope: Scope, config: Option<&Path>) -> anyhow::Result<Exit> {
    let unit_path = systemd::unit_path(scope);
    let systemctl = Systemctl::new(scope);
    let status = ServiceStatus::gather(scope, &service_config(scope, config), &systemctl);
    if status.unit.is_none() {
        println!(
            "the {} service is not installed (no unit at {}); nothing to do",
            scope.as_str(),
            unit_path.display()
        );
        return Ok(Exit::Ok);
    }
    let available = systemctl.unavailable();
    if available.is_none() {
        // A unit that is already disabled or not loaded is not an error here.
        if let Err(e) = systemctl.run(&["disable", "--now", UNIT_NAME]) {
            eprintln!("warning: {e}");
        }
    }
    if unit_path.is_file() {
        std::fs::remove_file(&unit_path)
            .map_err(|e| anyhow::anyhow!("{}: cannot remove the unit: {e}", unit_path.display()))?;
        println!("removed {}", unit_path.display());
    }
    if let Some(unit) = status.unit.as_ref().filter(|u| **u != unit_path) {
        println!(
            "{} belongs to the adsync package and stays until the package is removed; it is \
             disabled",
            unit.display()
        );
    }
    match available {
        None => {
            systemctl.run(&["daemon-reload"])?;
            println!("disabled and stopped {UNIT_NAME}");
        }
        Some(why) => println!(
            "{why}: nothing to stop. On a machine running systemd, also run `{}`",
            systemctl.display(&["disable", "--now", UNIT_NAME])
        ),
    }
    println!(
        "kept: config {}, state {}, logs {} (remove them by hand if you no longer need them)",
        status.config.display(),
        status.state_path.display(),
        status.log_dir.display()
    );
    Ok(Exit::Ok)
}

fn status(scope: Scope, config: Option<&Path>) -> anyhow::Result<Exit> {
    let systemctl = Systemctl::new(scope);
    let status = ServiceStatus::gather(scope, &service_config(scope, config), &systemctl);
    print!("{}", status.render());
    Ok(Exit::Ok)
}

fn control(scope: Scope, verb: &str) -> anyhow::Result<Exit> {
    let systemctl = Systemctl::new(scope);
    if let Some(why) = systemctl.unavailable() {
        eprintln!(
            "error: {why}. On a machine running systemd, run `{}`; to run adsync here in the \
             foreground instead, use `adsync run`",
            systemctl.display(&[verb, UNIT_NAME])
        );
        return Ok(Exit::Failure);
    }
    let unit_path = systemd::unit_path(scope);
    let packaged = scope == Scope::System && Path::new(service::PACKAGED_UNIT).is_file();
    if !unit_path.is_file() && !packaged {
        eprintln!(
            "error: the {} service is not installed; run `adsync service install{}` first",
            scope.as_str(),
            user_flag(scope)
        );
        return Ok(Exit::Failure);
    }
    systemctl.run(&[verb, UNIT_NAME])?;
    println!(
        "{} {UNIT_NAME}",
        if verb == "start" {
            "started"
        } else {
            "stopped"
        }
    );
    Ok(Exit::Ok)
}

/// macOS: writes the launchd plist and says which `launchctl` command loads it. Untested here.
#[cfg(not(windows))]
fn macos(command: &ServiceCommand, config: Option<&Path>) -> anyhow::Result<Exit> {
    let (ServiceCommand::Install { scope, .. }
    | ServiceCommand::Uninstall { scope }
    | ServiceCommand::Status { scope }
    | ServiceCommand::Start { scope }
    | ServiceCommand::Stop { scope }
    | ServiceCommand::Print { scope, .. }) = command
    else {
        unreachable!("handled by run()");
    };
    let scope = scope.scope();
    let target = match scope {
        Scope::System => "system",
        Scope::User => "gui/$(id -u)",
    };
    let path = launchd::plist_path(scope);
    let job = format!("{target}/{}", launchd::LABEL);
    match command {
        ServiceCommand::Install { .. } => {
            let config = service_config(scope, config);
            if load_settings(&config).is_none() {
                return Ok(Exit::Usage);
            }
            let spec = ServiceSpec {
                exe: current_exe()?,
                config,
                credentials: Vec::new(),
            };
            let logs = match scope {
                Scope::System => PathBuf::from("/Library/Logs/adsync"),
                Scope::User => crate::paths::log_dir(),
            };
            write_unit(&path, &launchd::plist(&spec, scope, &logs))?;
            println!(
                "wrote {}; load it with: launchctl bootstrap {target} {}",
                path.display(),
                path.display()
            );
        }
        ServiceCommand::Uninstall { .. } => {
            println!("unload it first with: launchctl bootout {job}");
            if path.is_file() {
                std::fs::remove_file(&path)?;
                println!("removed {} (config, state and logs kept)", path.display());
            }
        }
        ServiceCommand::Start { .. } => println!("run: launchctl kickstart {job}"),
        ServiceCommand::Stop { .. } => println!("run: launchctl kill TERM {job}"),
        ServiceCommand::Status { .. } | ServiceCommand::Print { .. } | ServiceCommand::Dispatch => {
            println!(
                "plist:    {} ({})",
                path.display(),
                if path.is_file() {
                    "installed"
                } else {
                    "not installed"
                }
            );
            println!("running:  ask launchd with `launchctl print {job}`");
        }
    }
    Ok(Exit::Ok)
}
