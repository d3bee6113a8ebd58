//! `adsync service install | uninstall | status | start | stop | print`: registers `adsync run` with
//! the OS. Linux uses systemd (`systemctl`, or `systemctl --user` for a per-user service); macOS
//! gets a launchd plist written and the `launchctl` commands to run; Windows uses the Service
//! Control Manager (`crate::service::windows`).

use std::path::Path;

use clap::{Args, Subcommand};

use super::Exit;
use crate::service::{
    self, InstallRequest, Overrides, Report, Scope, ServiceError, ServiceSpec, ServiceStatus,
    Systemctl, launchd, service_config, systemd,
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
        match (self.user, self.system) {
            (true, _) => Scope::User,
            (_, true) => Scope::System,
            _ => service::default_scope(),
        }
    }
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
        ServiceCommand::Start { scope } => control(scope.scope(), true),
        ServiceCommand::Stop { scope } => control(scope.scope(), false),
        ServiceCommand::Print { .. } | ServiceCommand::Dispatch => {
            unreachable!("handled by run()")
        }
    }
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
            exe: service::current_exe()?,
            config: service_config(scope, config),
            credentials: Vec::new(),
        }
    };
    if launchd {
        print!(
            "{}",
            launchd::plist(&spec, scope, &service::launchd_log_dir(scope))
        );
    } else {
        print!("{}", systemd::unit(&spec, scope));
    }
    Ok(Exit::Ok)
}

/// Prints what an install or uninstall did; an incomplete one is an error (exit 1).
fn report(result: Result<Report, ServiceError>) -> anyhow::Result<Exit> {
    match result {
        Ok(report) => {
            for step in &report.steps {
                println!("{step}");
            }
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if let Some(not) = &report.not_enabled {
                eprintln!("error: {not}");
                return Ok(Exit::Failure);
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(if e.is_usage() {
                Exit::Usage
            } else {
                Exit::Failure
            })
        }
    }
}

fn install(scope: Scope, config: Option<&Path>, now: bool) -> anyhow::Result<Exit> {
    report(service::install(&InstallRequest {
        scope,
        exe: service::current_exe()?,
        config: service_config(scope, config),
        now,
        overrides: Overrides::default(),
    }))
}

fn uninstall(scope: Scope, config: Option<&Path>) -> anyhow::Result<Exit> {
    report(service::uninstall(
        scope,
        &service_config(scope, config),
        &Overrides::default(),
    ))
}

fn status(scope: Scope, config: Option<&Path>) -> anyhow::Result<Exit> {
    let systemctl = Systemctl::new(scope);
    let status = ServiceStatus::gather(scope, &service_config(scope, config), &systemctl);
    print!("{}", status.render());
    Ok(Exit::Ok)
}

fn control(scope: Scope, start: bool) -> anyhow::Result<Exit> {
    report(
        service::control(scope, start, &Overrides::default()).map(|step| Report {
            steps: vec![step],
            ..Report::default()
        }),
    )
}

/// macOS: install and uninstall write and remove the launchd plist; the rest names the
/// `launchctl` command to run. Untested here.
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
    let path = launchd::plist_path(scope);
    let job = format!("{}/{}", service::launchd_target(scope), launchd::LABEL);
    match command {
        ServiceCommand::Install { now, .. } => return install(scope, config, *now),
        ServiceCommand::Uninstall { .. } => return uninstall(scope, config),
        ServiceCommand::Start { .. } => println!("run: launchctl kickstart {job}"),
        ServiceCommand::Stop { .. } => println!("run: launchctl kill TERM {job}"),
        ServiceCommand::Status { .. } | ServiceCommand::Print { .. } | ServiceCommand::Dispatch => {
            let installed = if path.is_file() {
                "installed"
            } else {
                "not installed"
            };
            println!("plist:    {} ({installed})", path.display());
            println!("running:  ask launchd with `launchctl print {job}`");
        }
    }
    Ok(Exit::Ok)
}
