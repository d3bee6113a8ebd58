//! Windows: adsync as a service of the Service Control Manager, through the `windows-service`
//! crate. The SCM starts `adsync.exe service dispatch --config PATH`; that process reports itself
//! running and runs `adsync.exe run --config PATH` as a child until told to stop.
//!
//! NOT BUILT OR TESTED: no Windows toolchain is available where this project is developed. It is
//! kept small and isolated so that a Windows build fails here, if anywhere.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::cycle::Exit;

const NAME: &str = "adsync";
const DISPLAY_NAME: &str = "adsync (Entra ID to SCIM sync)";

define_windows_service!(ffi_service_main, service_main);

/// `adsync service dispatch`: hands this process to the SCM; returns when the service stops.
pub fn dispatch() -> anyhow::Result<Exit> {
    service_dispatcher::start(NAME, ffi_service_main)?;
    Ok(Exit::Ok)
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = run_service() {
        eprintln!("adsync service: {e:#}");
    }
}

fn run_service() -> anyhow::Result<()> {
    // Our own command line is `adsync.exe service dispatch --config PATH`.
    let args: Vec<OsString> = std::env::args_os().collect();
    let config = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("run");
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let child = Arc::new(Mutex::new(command.spawn()?));
    let for_handler = Arc::clone(&child);
    let handle = service_control_handler::register(NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            // A cycle cut short converges on the next run (SPEC R12).
            if let Ok(mut child) = for_handler.lock() {
                let _ = child.kill();
            }
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    let status = |state: ServiceState, accepted: ServiceControlAccept, code: u32| ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accepted,
        exit_code: ServiceExitCode::Win32(code),
        checkpoint: 0,
        wait_hint: Duration::default(),
        process_id: None,
    };
    handle.set_service_status(status(
        ServiceState::Running,
        ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
        0,
    ))?;
    let code = loop {
        let exited = child
            .lock()
            .map_err(|_| anyhow::anyhow!("lock poisoned"))?
            .try_wait()?;
        if let Some(exit) = exited {
            break exit.code().unwrap_or(1) as u32;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    handle.set_service_status(status(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        code,
    ))?;
    Ok(())
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
/// prompt). The service runs as LocalSystem; see installer/README.md. Returns what was done, a
/// line each, for the caller to show.
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
                account_name: None,
                account_password: None,
            };
            let service = manager
                .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)?;
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
