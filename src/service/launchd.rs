//! The macOS launchd property list: a LaunchDaemon (system-wide, `/Library/LaunchDaemons`, running
//! as the `_adsync` user) or a LaunchAgent (one user, `~/Library/LaunchAgents`). Generated text;
//! it cannot be loaded on this Linux machine, so tests check it as text and parse it as a plist.

use std::path::{Path, PathBuf};

use super::{Scope, ServiceSpec};

/// The launchd job label (and the plist's file name without `.plist`).
pub const LABEL: &str = "org.adsync.service";
/// The macOS system user a LaunchDaemon runs as (macOS names service users with a leading `_`).
pub const DAEMON_USER: &str = "_adsync";

/// Where a LaunchDaemon's binary lives: a copy the package's postinstall makes, owned
/// root:wheel 0755 in a root-owned directory, so no admin can swap the program that launchd runs
/// as `_adsync` (the app bundle under /Applications is writable by any admin).
pub const DAEMON_EXE: &str = "/usr/local/libexec/adsync";

/// The spec a job of `scope` runs: a LaunchDaemon always runs [`DAEMON_EXE`], whatever binary
/// installed it; a LaunchAgent runs the user's own.
pub fn daemon_spec(spec: ServiceSpec, scope: Scope) -> ServiceSpec {
    match scope {
        Scope::System => ServiceSpec {
            exe: PathBuf::from(DAEMON_EXE),
            ..spec
        },
        Scope::User => spec,
    }
}

/// The property list for `spec`; logs of stdout and stderr go to `log_dir`.
pub fn plist(spec: &ServiceSpec, scope: Scope, log_dir: &Path) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let key = |out: &mut String, k: &str| out.push_str(&format!("  <key>{k}</key>\n"));
    let string = |out: &mut String, k: &str, v: &str| {
        out.push_str(&format!(
            "  <key>{k}</key>\n  <string>{}</string>\n",
            xml(v)
        ));
    };
    string(&mut out, "Label", LABEL);
    key(&mut out, "ProgramArguments");
    out.push_str("  <array>\n");
    for arg in spec.arguments() {
        out.push_str(&format!("    <string>{}</string>\n", xml(&arg)));
    }
    out.push_str("  </array>\n");
    key(&mut out, "RunAtLoad");
    out.push_str("  <true/>\n");
    // Restart after a crash or a failure exit, not after a clean stop.
    key(&mut out, "KeepAlive");
    out.push_str("  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
    key(&mut out, "ThrottleInterval");
    out.push_str("  <integer>30</integer>\n");
    string(&mut out, "ProcessType", "Background");
    key(&mut out, "Umask");
    out.push_str("  <integer>63</integer>\n"); // 0o077: files for the owner only
    if scope == Scope::System {
        string(&mut out, "UserName", DAEMON_USER);
        string(&mut out, "GroupName", DAEMON_USER);
    }
    string(
        &mut out,
        "StandardOutPath",
        &log_dir.join("adsync.out.log").display().to_string(),
    );
    string(
        &mut out,
        "StandardErrorPath",
        &log_dir.join("adsync.err.log").display().to_string(),
    );
    out.push_str("</dict>\n</plist>\n");
    out
}

/// Where the plist goes: `/Library/LaunchDaemons` or `~/Library/LaunchAgents`.
pub fn plist_path(scope: Scope) -> PathBuf {
    let file = format!("{LABEL}.plist");
    match scope {
        Scope::System => PathBuf::from("/Library/LaunchDaemons").join(file),
        Scope::User => directories::BaseDirs::new()
            .map(|d| d.home_dir().to_owned())
            .unwrap_or_default()
            .join("Library/LaunchAgents")
            .join(file),
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}
