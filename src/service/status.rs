//! `adsync service status`: is the service installed, is it running, which config does it use, how
//! did the last cycle end and when is the next one due, and what is going wrong: users set aside
//! (quarantined) or failing, a plan a guard withholds, the last run's failed actions. Gathering
//! never fails: whatever cannot be found out is reported as such.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use super::systemctl::Activity;
use super::{PACKAGED_UNIT, SYSTEM_LOG_DIR, SYSTEM_STATE_DIR, Scope, Systemctl, systemd};
use crate::config::{self, ConfigError, Settings};
use crate::state::quarantine::{FailingUser, RunFailures, WithheldPlan};
use crate::state::{RunRecord, StateStore, format_time};

/// How many of the last run's failed actions are shown.
const FAILURES_SHOWN: usize = 3;

/// The longest error shown on a status line; the history has the whole of it.
const ERROR_SHOWN: usize = 320;

/// What has been going wrong, from the state store.
#[derive(Clone, Debug, Default)]
pub struct Troubles {
    /// Users whose writes keep failing, quarantined ones first.
    pub failing: Vec<FailingUser>,
    /// The plan a guard withholds, if one is.
    pub withheld: Option<WithheldPlan>,
    /// The failed actions of the newest run that applied actions.
    pub last_failures: Option<RunFailures>,
}

impl Troubles {
    /// Reads them; what cannot be read is left empty (the last run's line says why).
    fn read(store: &StateStore) -> Self {
        Self {
            failing: store.failing_users().unwrap_or_default(),
            withheld: store.withheld_plan().ok().flatten(),
            last_failures: store
                .last_run_failures(FAILURES_SHOWN)
                .ok()
                .flatten()
                .filter(|f| f.count > 0),
        }
    }

    fn render(&self, out: &mut String) {
        let quarantined: Vec<&FailingUser> =
            self.failing.iter().filter(|u| u.quarantined()).collect();
        let failing = self.failing.len() - quarantined.len();
        let mut text = match quarantined.len() {
            0 => "none".to_owned(),
            n => format!("{n} user(s) set aside, retried with a growing wait"),
        };
        if failing > 0 {
            let _ = write!(text, "; {failing} user(s) failing, retried every cycle");
        }
        line(out, "quarantine", &text);
        for user in &self.failing {
            let state = match &user.quarantined_since {
                Some(since) => format!("quarantined since {since}, next retry {}", user.next_retry),
                None => format!("failing since {}, retried next cycle", user.first_failure),
            };
            let _ = writeln!(
                out,
                "  {}: {state}, {} failure(s) in a row; last error: {}",
                user.user_principal_name,
                user.failures,
                shorten(&user.last_error)
            );
        }
        let withheld = match &self.withheld {
            None => "none".to_owned(),
            Some(w) => format!(
                "since {} (last planned {}): {}; the plan: {}",
                w.since,
                w.last_seen,
                shorten(&w.reason),
                summary_text(&w.summary).unwrap_or_default()
            ),
        };
        line(out, "withheld", &withheld);
        let failures = match &self.last_failures {
            None => "none in the last run".to_owned(),
            Some(f) => {
                let mut text = format!(
                    "{} action(s) failed in run #{} ({})",
                    f.count, f.run_id, f.started_at
                );
                if f.count > f.first.len() {
                    let _ = write!(text, "; the first {}", f.first.len());
                }
                text
            }
        };
        line(out, "failures", &failures);
        for (user, error) in self.last_failures.iter().flat_map(|f| &f.first) {
            let _ = writeln!(out, "  {user}: {}", shorten(error));
        }
    }
}

/// One `name: value` line of the report.
fn line(out: &mut String, name: &str, value: &str) {
    // At least one space after the name, however long it is.
    let _ = writeln!(out, "{:<11}{value}", format!("{name}: "));
}

/// The first line of `text`, cut to [`ERROR_SHOWN`] characters.
fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    match first.char_indices().nth(ERROR_SHOWN) {
        Some((end, _)) => format!("{}…", &first[..end]),
        None => first.to_owned(),
    }
}

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
    /// What has been going wrong, from the state store.
    pub troubles: Troubles,
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
        let mut troubles = Troubles::default();
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
            Ok(true) => match StateStore::open(&state_path).and_then(|store| {
                troubles = Troubles::read(&store);
                store.history_now(1)
            }) {
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
            troubles,
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
        self.troubles.render(&mut out);
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
