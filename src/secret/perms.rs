//! Who may change (or read) a file adsync trusts: the config, a `file:` secret, the certificate
//! PEM with its private key, a `ca_file`. A config someone else can edit decides where the tokens
//! go; a secret someone else can read is theirs. So a file is refused when it is writable by its
//! group or by everyone, owned by another user than the caller or root, sits in a folder others
//! can write (they could swap it), or — for secrets and keys — can be read by anyone but its
//! owner. A symlink is followed and the file it leads to is checked the same way.
//!
//! On Windows the file's access list is checked instead (`perms_windows`).
//!
//! The files the service is given (`adsync service install` hands the config to the `adsync`
//! system user) may also belong to that user: root administers them, and the service reads them.

use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;

/// How private a file must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sensitivity {
    /// The config file: others may read it, only its owner may change it (fix: `chmod 600`, as
    /// SPEC §3 writes it).
    Config,
    /// A file others may read but not change (`[target] ca_file`; fix: `chmod go-w`).
    Public,
    /// A secret or a private key: only its owner may read it (fix: `chmod 600`).
    Private,
}

/// Why a file is refused: the file (or folder) at fault, what is wrong, and the command that
/// fixes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{subject} {problem}; {fix}")]
pub struct Unsafe {
    /// The file as named, and where a symlink leads when it does.
    subject: String,
    /// What is wrong, e.g. "is writable by group `staff` (mode 664)".
    pub problem: String,
    /// What to do, e.g. "run `chmod 600 /etc/adsync/config.toml`".
    fix: String,
}

/// Checks `path` for `sensitivity`. A file that does not exist or cannot be looked at passes:
/// reading it will fail with its own message.
#[cfg(unix)]
pub fn check(path: &Path, sensitivity: Sensitivity) -> Result<(), Unsafe> {
    use std::os::unix::fs::MetadataExt;
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    let named = path.display().to_string();
    // The folder holding the name: whoever can write it can replace the file (or the link).
    if let Some(parent) = folder_of(path) {
        check_folder(&parent, &named, &named)?;
    }
    let (file, subject) = if link.file_type().is_symlink() {
        let Ok(target) = std::fs::canonicalize(path) else {
            return Ok(());
        };
        let subject = format!("{named} (a symlink to {})", target.display());
        if let Some(parent) = target.parent() {
            check_folder(parent, &subject, &target.display().to_string())?;
        }
        (target, subject)
    } else {
        (path.to_owned(), named)
    };
    let Ok(meta) = std::fs::metadata(&file) else {
        return Ok(());
    };
    let shown = file.display().to_string();
    let mode = meta.mode() & 0o7777;
    let chmod = match sensitivity {
        Sensitivity::Public => format!("run `chmod go-w {shown}`"),
        Sensitivity::Config | Sensitivity::Private => format!("run `chmod 600 {shown}`"),
    };
    let refuse = |problem: String, fix: String| {
        Err(Unsafe {
            subject: subject.clone(),
            problem,
            fix,
        })
    };
    if !owner_allowed(meta.uid()) {
        return refuse(
            format!("is owned by uid {}, not you or root", meta.uid()),
            format!("run `chown $USER {shown}` (or move it to a file you own)"),
        );
    }
    if mode & 0o002 != 0 {
        return refuse(format!("is writable by everyone (mode {mode:03o})"), chmod);
    }
    if mode & 0o020 != 0 {
        return refuse(
            format!(
                "is writable by group `{}` (mode {mode:03o})",
                group_name(meta.gid())
            ),
            chmod,
        );
    }
    if sensitivity == Sensitivity::Private {
        if mode & 0o004 != 0 {
            return refuse(
                format!("can be read by everyone (mode {mode:03o}), and it holds a secret"),
                chmod,
            );
        }
        if mode & 0o040 != 0 {
            return refuse(
                format!(
                    "can be read by group `{}` (mode {mode:03o}), and it holds a secret",
                    group_name(meta.gid())
                ),
                chmod,
            );
        }
    }
    Ok(())
}

/// Windows: the file's access list, with the same refusals (see `perms_windows`).
#[cfg(windows)]
pub fn check(path: &Path, sensitivity: Sensitivity) -> Result<(), Unsafe> {
    perms_windows::check(path, sensitivity)
}

/// Neither Unix nor Windows: nothing is checked.
#[cfg(not(any(unix, windows)))]
pub fn check(_path: &Path, _sensitivity: Sensitivity) -> Result<(), Unsafe> {
    Ok(())
}

// A child module, so it builds the same `Unsafe` as the Unix check; the file sits next to this one.
#[cfg(windows)]
#[path = "perms_windows.rs"]
mod perms_windows;

/// The folder `path` is in, absolute (a bare file name is in the current folder).
#[cfg(unix)]
fn folder_of(path: &Path) -> Option<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::canonicalize(parent).ok()
}

/// Refuses a folder others can write without the sticky bit (which keeps them from renaming or
/// deleting files they do not own), or one owned by another user.
#[cfg(unix)]
fn check_folder(dir: &Path, subject: &str, file: &str) -> Result<(), Unsafe> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let mode = meta.mode() & 0o7777;
    let shown = dir.display();
    let problem = if !owner_allowed(meta.uid()) {
        Some((
            format!(
                "is in the folder {shown}, owned by uid {}, not you or root: that user could \
                 replace it",
                meta.uid()
            ),
            format!("run `chown $USER {shown}`, or move {file} to a folder you own"),
        ))
    } else if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        let who = if mode & 0o002 != 0 {
            "everyone".to_owned()
        } else {
            format!("group `{}`", group_name(meta.gid()))
        };
        Some((
            format!(
                "is in the folder {shown}, writable by {who} (mode {mode:03o}): they could \
                 replace it"
            ),
            format!("run `chmod go-w {shown}`, or move {file} to a folder only you can write"),
        ))
    } else {
        None
    };
    match problem {
        Some((problem, fix)) => Err(Unsafe {
            subject: subject.to_owned(),
            problem,
            fix,
        }),
        None => Ok(()),
    }
}

/// The caller, root, and the `adsync` service user (which owns the files `adsync service
/// install` hands to the system service).
#[cfg(unix)]
fn owner_allowed(uid: u32) -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    uid == 0 || uid == me || Some(uid) == service_uid()
}

/// The uid of the `adsync` system user, when this machine has one.
#[cfg(unix)]
fn service_uid() -> Option<u32> {
    static UID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        let name = std::ffi::CString::new(crate::service::SERVICE_USER).ok()?;
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        // SAFETY: every pointer is to a live local of the right type, and the buffer's length
        // is passed with it; `getpwnam_r` writes only within them.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        (rc == 0 && !found.is_null()).then_some(pwd.pw_uid)
    })
}

/// The name of group `gid`, or its number when it has none.
#[cfg(unix)]
fn group_name(gid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: as in `service_uid`: live locals, the buffer's true length.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc == 0 && !found.is_null() {
        // SAFETY: on success `gr_name` points at a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(grp.gr_name) };
        return name.to_string_lossy().into_owned();
    }
    gid.to_string()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn modes_by_sensitivity() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let cases = [
            (0o600, Sensitivity::Private, None),
            (0o400, Sensitivity::Private, None),
            (0o640, Sensitivity::Private, Some("can be read by group")),
            (0o604, Sensitivity::Private, Some("can be read by everyone")),
            (0o644, Sensitivity::Config, None),
            (0o644, Sensitivity::Public, None),
            (0o664, Sensitivity::Config, Some("is writable by group")),
            (0o646, Sensitivity::Public, Some("is writable by everyone")),
        ];
        for (mode, sensitivity, expected) in cases {
            chmod(&file, mode);
            let result = check(&file, sensitivity);
            match expected {
                None => assert_eq!(result, Ok(()), "{mode:o} {sensitivity:?}"),
                Some(text) => {
                    let message = result.unwrap_err().to_string();
                    assert!(
                        message.contains(text),
                        "{mode:o} {sensitivity:?}: {message}"
                    );
                    assert!(message.contains(&file.display().to_string()), "{message}");
                }
            }
        }
    }

    #[test]
    fn a_sticky_shared_folder_is_fine_and_a_plain_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        let file = shared.join("f");
        std::fs::write(&file, "x").unwrap();
        chmod(&file, 0o600);
        chmod(&shared, 0o1777);
        assert_eq!(check(&file, Sensitivity::Private), Ok(()));
        chmod(&shared, 0o777);
        let message = check(&file, Sensitivity::Private).unwrap_err().to_string();
        assert!(message.contains("writable by everyone"), "{message}");
        assert!(message.contains("chmod go-w"), "{message}");
    }

    #[test]
    fn a_missing_file_is_left_to_the_reader() {
        assert_eq!(
            check(Path::new("/nonexistent/adsync/x"), Sensitivity::Private),
            Ok(())
        );
    }
}
