//! `adsync service status`: is the service installed, is it running, which config does it use, how
//! did the last cycle end and when is the next one due. Gathering never fails: whatever cannot be
//! found out is reported as such.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::systemctl::Activity;
use super::{PACKAGED_UNIT, SYSTEM_LOG_DIR, SYSTEM_STATE_DIR, Scope, Systemctl, systemd};
use crate::config::{self, ConfigError, Settings};
use crate::state::{RunRecord, StateStore, format_time};

/// Everything `adsync service status` reports.
#[derive(Clone, Debug)]
pub struct ServiceStatus {
    pub scope: Scope,
    /// The unit file found (the one `service install` wrote, else the packaged one), if any.
    pub unit: Option<PathBuf>,
    /// Where `service install` writes the unit for this scope.
    pub unit_path: PathBuf,
    pub enabled: Activity,
    pub active: Activity,
    /// The config the service uses (from the unit's `ExecStart=`, else the one in force).
    pub config: PathBuf,
    /// `valid`, `missing ...`, `invalid ...`.
    pub config_state: String,
    pub interval: Option<Duration>,
    pub state_path: PathBuf,
    pub log_dir: PathBuf,
    /// The newest run in the state store.
    pub last_run: Option<RunRecord>,
    /// Why there is no last run (no store yet, or it could not be read).
    pub state_note: Option<String>,
}

impl ServiceStatus {
    /// Looks at the unit file, asks systemd, reads the config and the state store.
    pub fn gather(scope: Scope, config_in_force: &Path, systemctl: &Systemctl) -> Self {
        let unit_path = systemd::unit_path(scope);
        let unit = if unit_path.is_file() {
            Some(unit_path.clone())
        } else if scope == Scope::System
            && std::env::var_os("ADSYNC_SYSTEMD_DIR").is_none()
            && Path::new(PACKAGED_UNIT).is_file()
        {
            Some(PathBuf::from(PACKAGED_UNIT))
        } else {
            None
        };
        let config = unit
            .as_ref()
            .and_then(|u| std::fs::read_to_string(u).ok())
            .and_then(|text| systemd::config_in_unit(&text))
            .unwrap_or_else(|| config_in_force.to_owned());

        let (default_state, default_logs) = match scope {
            Scope::System => (
                PathBuf::from(SYSTEM_STATE_DIR).join("state.sqlite3"),
                PathBuf::from(SYSTEM_LOG_DIR),
            ),
            Scope::User => (
                crate::paths::data_dir().join("state.sqlite3"),
                crate::paths::log_dir(),
            ),
        };
        let (config_state, interval, state_path, log_dir) = match config::load(&config) {
            Ok(file) => {
                let settings = Settings::from_file(&file);
                let pairs = settings.pairs.len();
                (
                    format!("valid, {pairs} pair(s)"),
                    Some(settings.service.interval),
                    file.service.state_path.clone().unwrap_or(default_state),
                    file.service.log_dir.clone().unwrap_or(default_logs),
                )
            }
            Err(ConfigError::Invalid { problems, .. }) => (
                format!(
                    "invalid, {} problem(s): see `adsync config validate --config {}`",
                    problems.len(),
                    config.display()
                ),
                None,
                default_state,
                default_logs,
            ),
            Err(ConfigError::Read { source, .. }) => (
                format!("cannot be read ({source})"),
                None,
                default_state,
                default_logs,
            ),
            Err(other) => (other.to_string(), None, default_state, default_logs),
        };

        // `try_exists`, not `exists`: a store we may not look at (the system service's, asked by
        // a user) is not the same as no store.
        let (last_run, state_note) = match state_path.try_exists() {
            Ok(false) => (
                None,
                Some("no state store yet: no cycle has run".to_owned()),
            ),
            Err(e) => (
                None,
                Some(format!(
                    "cannot look at the state store ({e}); run this as root or as the service's \
                     user"
                )),
            ),
            Ok(true) => match StateStore::open(&state_path).and_then(|s| s.history_now(1)) {
                Ok(mut runs) if !runs.is_empty() => (Some(runs.remove(0)), None),
                Ok(_) => (None, Some("no cycle has run yet".to_owned())),
                Err(e) => (None, Some(format!("cannot read the state store: {e}"))),
            },
        };

        Self {
            scope,
            unit,
            unit_path,
            enabled: systemctl.is_enabled(),
            active: systemctl.is_active(),
            config,
            config_state,
            interval,
            state_path,
            log_dir,
            last_run,
            state_note,
        }
    }

    /// When the next cycle is due: the last cycle's start plus the interval.
    pub fn next_run(&self) -> Option<String> {
        let run = self.last_run.as_ref()?;
        next_run_after(&run.started_at, self.interval?)
    }

    /// The report as a person reads it, one `name: value` line each.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, value: &str| {
            let _ = writeln!(out, "{:<11}{value}", format!("{name}:"));
        };
        line(
            &mut out,
            "service",
            &format!("adsync.service ({} service)", self.scope.as_str()),
        );
        match &self.unit {
            Some(path) => line(&mut out, "installed", &format!("yes ({})", path.display())),
            None => line(
                &mut out,
                "installed",
                &format!(
                    "no (no unit at {}); run `adsync service install{}`",
                    self.unit_path.display(),
                    if self.scope == Scope::User {
                        " --user"
                    } else {
                        ""
                    }
                ),
            ),
        }
        line(&mut out, "enabled", &self.enabled.to_string());
        line(&mut out, "running", &self.active.to_string());
        line(
            &mut out,
            "config",
            &format!("{} ({})", self.config.display(), self.config_state),
        );
        line(&mut out, "state", &self.state_path.display().to_string());
        line(&mut out, "logs", &self.log_dir.display().to_string());
        match &self.last_run {
            Some(run) => {
                let mut text = format!(
                    "{} {} (run #{}, {}{})",
                    run.started_at,
                    run.outcome,
                    run.id,
                    run.trigger,
                    if run.dry_run { ", dry run" } else { "" }
                );
                if let Some(summary) = run.summary.as_ref().and_then(summary_text) {
                    let _ = write!(text, ": {summary}");
                }
                if let Some(error) = &run.error {
                    let _ = write!(text, "; error: {error}");
                }
                line(&mut out, "last run", &text);
            }
            None => line(
                &mut out,
                "last run",
                &format!(
                    "none ({})",
                    self.state_note.as_deref().unwrap_or("no cycle has run yet")
                ),
            ),
        }
        let next = match (self.next_run(), &self.active) {
            (Some(at), Activity::Known(state)) if state != "active" => {
                format!("{at} if the service were running (it is {state})")
            }
            (Some(at), _) => format!(
                "{at} (last start + {}s)",
                self.interval.map(|i| i.as_secs()).unwrap_or_default()
            ),
            (None, _) => "at the service's start (no cycle recorded yet)".to_owned(),
        };
        line(&mut out, "next run", &next);
        out
    }
}

/// `create 1, update 2` from a run's summary, in the plan's order, leaving out zero counts.
fn summary_text(summary: &serde_json::Value) -> Option<String> {
    const ORDER: [&str; 8] = [
        "create",
        "link",
        "update",
        "move",
        "disable",
        "enable",
        "skip",
        "unchanged",
    ];
    let object = summary.as_object()?;
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|k| {
            let n = object.get(*k)?.as_u64()?;
            (n > 0).then(|| format!("{k} {n}"))
        })
        .collect();
    Some(if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    })
}

/// `started_at + interval` for a time written by [`format_time`].
pub fn next_run_after(started_at: &str, interval: Duration) -> Option<String> {
    let secs = parse_time(started_at)?;
    Some(format_time(
        (secs + interval.as_secs() as i64).saturating_mul(1000),
    ))
}

pub use crate::time::parse_time;
