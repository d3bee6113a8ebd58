//! Windows: adsync as a service of the Service Control Manager, through the `windows-service`
//! crate. The SCM starts `adsync.exe service dispatch --config PATH` as the virtual service
//! account `NT SERVICE\adsync` (not LocalSystem); that process reports itself running and runs the
//! service loop of `adsync run` in-process. A stop or shutdown sets the same stop flag SIGTERM sets
//! on Unix: the cycle finishes the action under way and stops between actions, while the service
//! reports `StopPending` with a wait hint, so the SCM does not kill it mid-apply.
//!
//! NOT BUILT OR TESTED: no Windows toolchain is available where this project is developed. It is
//! kept small and isolated so that a Windows build fails here, if anywhere.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::cycle::{Engine, Exit, service_loop};

const NAME: &str = "adsync";
const DISPLAY_NAME: &str = "adsync (Entra ID to SCIM sync)";
/// The virtual service account the service runs as: its own identity, no password, none of
/// LocalSystem's rights. Files it reads (the config, `file:` secrets) must grant it read access.
pub const ACCOUNT: &str = "NT SERVICE\\adsync";
/// How long the SCM is told to wait, per progress report, for the action under way to finish.
const STOP_WAIT_HINT: Duration = Duration::from_secs(30);

define_windows_service!(ffi_service_main, service_main);

/// `adsync service dispatch`: hands this process to the SCM; returns when the service stops.
pub fn dispatch() -> anyhow::Result<Exit> {
    service_dispatcher::start(NAME, ffi_service_main)?;
    Ok(Exit::Ok)
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = run_service() {
        tracing::error!("adsync service: {e:#}");
    }
}

/// The `--config PATH` of our own command line (`adsync.exe service dispatch --config PATH`).
fn config_argument() -> Option<PathBuf> {
    let args: Vec<OsString> = std::env::args_os().collect();
    args.iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn status(state: ServiceState, code: u32, checkpoint: u32, wait_hint: Duration) -> ServiceStatus {
    let controls_accepted = if state == ServiceState::Running {
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
    } else {
        ServiceControlAccept::empty()
    };
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted,
        exit_code: ServiceExitCode::Win32(code),
        checkpoint,
        wait_hint,
        process_id: None,
    }
}

fn run_service() -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let for_handler = Arc::clone(&stop);
    let handle = service_control_handler::register(NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            // The flag SIGTERM sets for `adsync run`: the loop stops between actions, and a
            // cycle cut short converges on the next run (SPEC R12).
            for_handler.store(true, Ordering::SeqCst);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    handle.set_service_status(status(ServiceState::Running, 0, 0, Duration::ZERO))?;
    let code = serve(&handle, &stop);
    handle.set_service_status(status(ServiceState::Stopped, code, 0, Duration::ZERO))?;
    Ok(())
}

/// Runs the service loop until it stops; while a stop is pending, reports progress to the SCM so
/// it waits for the action under way. Returns the service's exit code.
fn serve(handle: &service_control_handler::ServiceStatusHandle, stop: &Arc<AtomicBool>) -> u32 {
    let Some(config) = config_argument() else {
        tracing::error!("adsync service: no --config PATH on its command line; reinstall it");
        return 2;
    };
    let engine = match Engine::open(&config) {
        Ok(engine) => engine,
        Err(error) => {
            tracing::error!("adsync service: {error}");
            return 2;
        }
    };
    // One writer per state store (R13): held for the service's whole life.
    let _writer = match engine.store.lock_for_writing("adsync service") {
        Ok(lock) => lock,
        Err(error) => {
            tracing::error!("adsync service: {error}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("adsync service: cannot start its runtime: {error}");
            return 1;
        }
    };
    runtime.block_on(async {
        let looping = service_loop(&engine, Arc::clone(stop));
        tokio::pin!(looping);
        let mut checkpoint = 0;
        loop {
            tokio::select! {
                () = &mut looping => break,
                () = tokio::time::sleep(Duration::from_millis(500)) => {
                    if stop.load(Ordering::SeqCst) {
                        checkpoint += 1;
                        let pending = status(ServiceState::StopPending, 0, checkpoint, STOP_WAIT_HINT);
                        let _ = handle.set_service_status(pending);
                    }
                }
            }
        }
    });
    tracing::info!("adsync service stopped");
    0
}

/// What to do with the Windows service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Register it (starts automatically); `now`: start it as well.
    Install {
        now: bool,
    },
    Uninstall,
    Start,
    Stop,
    Status,
}

/// `adsync service install | uninstall | status | start | stop` on Windows (needs an elevated
/// prompt). The service runs as the virtual account [`ACCOUNT`], which install grants read access
/// to the config file (`icacls`); see installer/README.md. Returns what was done, a line each, for
/// the caller to show.
pub fn command(request: Request, config: &Path) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )?;
    match request {
        Request::Install { now } => {
            let info = ServiceInfo {
                name: OsString::from(NAME),
                display_name: OsString::from(DISPLAY_NAME),
                service_type: ServiceType::OWN_PROCESS,
                start_type: ServiceStartType::AutoStart,
                error_control: ServiceErrorControl::Normal,
                executable_path: std::env::current_exe()?,
                launch_arguments: vec![
                    OsString::from("service"),
                    OsString::from("dispatch"),
                    OsString::from("--config"),
                    config.as_os_str().to_owned(),
                ],
                dependencies: vec![],
                account_name: Some(OsString::from(ACCOUNT)),
                account_password: None,
            };
            let service = manager
                .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)?;
            grant_read(config)?;
            done.push(format!(
                "granted {ACCOUNT} read access to {}",
                config.display()
            ));
            service.set_description(
                "Keeps an application's users in step with Microsoft Entra ID over SCIM 2.0",
            )?;
            if now {
                service.start(&[] as &[&OsStr])?;
            }
            done.push(format!(
                "installed the `{NAME}` service (starts automatically)"
            ));
        }
        Request::Uninstall => {
            let service = manager.open_service(
                NAME,
                ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
            )?;
            if service.query_status()?.current_state != ServiceState::Stopped {
                let _ = service.stop();
            }
            service.delete()?;
            done.push(format!(
                "removed the `{NAME}` service; config, state and logs were kept ({})",
                config.display()
            ));
        }
        Request::Start => {
            let service = manager.open_service(NAME, ServiceAccess::START)?;
            service.start(&[] as &[&OsStr])?;
            done.push(format!("started `{NAME}`"));
        }
        Request::Stop => {
            let service = manager.open_service(NAME, ServiceAccess::STOP)?;
            service.stop()?;
            done.push(format!("stopped `{NAME}`"));
        }
        Request::Status => {
            match manager.open_service(NAME, ServiceAccess::QUERY_STATUS) {
                Ok(service) => {
                    let state = service.query_status()?.current_state;
                    done.push(format!("installed: yes\nrunning:   {state:?}"));
                }
                Err(_) => done.push("installed: no; run `adsync service install`".to_owned()),
            }
            done.push(format!("config:    {}", config.display()));
        }
    }
    Ok(done)
}

/// Lets the service's virtual account read `path` (the config): `icacls PATH /grant ACCOUNT:(R)`.
/// The account exists once the service does, so this runs after it is created.
fn grant_read(path: &Path) -> anyhow::Result<()> {
    let output = std::process::Command::new("icacls")
        .arg(path)
        .arg("/grant")
        .arg(format!("{ACCOUNT}:(R)"))
        .output()?;
    if !output.status.success() {
        anyhow::bail!(
            "icacls could not grant {ACCOUNT} read access to {}: {}. Grant it by hand with \
             `icacls \"{}\" /grant \"{ACCOUNT}:(R)\"`",
            path.display(),
            String::from_utf8_lossy(&output.stdout).trim(),
            path.display()
        );
    }
    Ok(())
}
