//! The permission matrix through the real binary: a config file, a `file:` secret and the
//! certificate PEM holding a private key, each made unsafe in every way someone else could use
//! (writable by others, reached through a symlink to such a file, in a folder others can write,
//! owned by another user), and every command that reads the config refusing it with exit 2,
//! naming the file and the command that fixes it.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::{Env, config_text};

/// Which of the files the config depends on is made unsafe.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Subject {
    Config,
    Secret,
    Certificate,
}

/// What is done to it.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// Config 0644, secret and key 0600: accepted.
    Fine,
    /// Readable by everyone: fine for the config, refused for a secret or key.
    Mode644,
    Mode666,
    Mode620,
    /// The path is a symlink to a 0666 file elsewhere.
    SymlinkTo666,
    /// The folder holding it is 0777 (no sticky bit).
    Folder777,
    /// Owned by uid 65534 (needs root to set up).
    OtherOwner,
    /// The folder holding it is owned by uid 65534 (needs root).
    OtherOwnerFolder,
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// A config naming a secret file and (for [`Subject::Certificate`]) a certificate PEM, each in a
/// folder of its own; returns the config and the path of the subject's file.
fn world(env: &Env, subject: Subject) -> (PathBuf, PathBuf) {
    for dir in ["conf", "secrets", "keys"] {
        std::fs::create_dir(env.path(dir)).unwrap();
        chmod(&env.path(dir), 0o700);
    }
    let token = env.write("secrets/target-token", "a-token\n");
    chmod(&token, 0o600);
    let pem = env.write(
        "keys/entra.pem",
        "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
    );
    chmod(&pem, 0o600);
    let mut text = config_text(&format!("file:{}", token.display()));
    if subject == Subject::Certificate {
        text = text.replace(
            "client_secret = \"env:ADSYNC_TEST_ENTRA_SECRET\"",
            &format!("certificate = \"{}\"", pem.display()),
        );
    }
    let config = env.write("conf/config.toml", &text);
    chmod(&config, 0o644);
    let file = match subject {
        Subject::Config => config.clone(),
        Subject::Secret => token,
        Subject::Certificate => pem,
    };
    (config, file)
}

/// Applies `case` to `file`; returns what the refusal must say (None: accepted), or None with
/// a printed reason when the case cannot be set up here.
fn apply(env: &Env, subject: Subject, case: Case, file: &Path) -> Option<Option<Vec<String>>> {
    let shown = file.display().to_string();
    let folder = std::fs::canonicalize(file.parent().unwrap()).unwrap();
    let chmod600 = format!("chmod 600 {shown}");
    let expect = |parts: &[&str]| Some(Some(parts.iter().map(|p| p.to_string()).collect()));
    match case {
        Case::Fine => Some(None),
        Case::Mode644 => {
            chmod(file, 0o644);
            if subject == Subject::Config {
                Some(None)
            } else {
                expect(&[&shown, "can be read by everyone (mode 644)", &chmod600])
            }
        }
        Case::Mode666 => {
            chmod(file, 0o666);
            expect(&[&shown, "is writable by everyone (mode 666)", &chmod600])
        }
        Case::Mode620 => {
            chmod(file, 0o620);
            expect(&[&shown, "is writable by group `", "(mode 620)", &chmod600])
        }
        Case::SymlinkTo666 => {
            let elsewhere = env.path("elsewhere");
            std::fs::create_dir(&elsewhere).unwrap();
            chmod(&elsewhere, 0o700);
            let real = elsewhere.join("real");
            std::fs::rename(file, &real).unwrap();
            chmod(&real, 0o666);
            std::os::unix::fs::symlink(&real, file).unwrap();
            let real = std::fs::canonicalize(&real).unwrap().display().to_string();
            expect(&[
                &format!("{shown} (a symlink to {real})"),
                "is writable by everyone (mode 666)",
                &format!("chmod 600 {real}"),
            ])
        }
        Case::Folder777 => {
            chmod(&folder, 0o777);
            expect(&[
                &shown,
                &format!("is in the folder {}", folder.display()),
                "writable by everyone (mode 777)",
                &format!("chmod go-w {}", folder.display()),
            ])
        }
        Case::OtherOwner | Case::OtherOwnerFolder if !is_root() => {
            println!("skipped {subject:?} × {case:?}: changing a file's owner needs root");
            None
        }
        Case::OtherOwner => {
            std::os::unix::fs::chown(file, Some(65534), None).unwrap();
            expect(&[
                &shown,
                "is owned by uid 65534, not you or root",
                &format!("chown $USER {shown}"),
            ])
        }
        Case::OtherOwnerFolder => {
            std::os::unix::fs::chown(&folder, Some(65534), None).unwrap();
            expect(&[
                &shown,
                &format!("is in the folder {}, owned by uid 65534", folder.display()),
                &format!("chown $USER {}", folder.display()),
            ])
        }
    }
}

/// The key and line a named file's problem is reported at.
fn key_of(subject: Subject) -> Option<&'static str> {
    match subject {
        Subject::Config => None,
        Subject::Secret => Some("line 8: target.token:"),
        Subject::Certificate => Some("line 5: entra.certificate:"),
    }
}

#[test]
fn unsafe_config_secret_and_key_files_are_refused_by_every_command() {
    let cases = [
        Case::Fine,
        Case::Mode644,
        Case::Mode666,
        Case::Mode620,
        Case::SymlinkTo666,
        Case::Folder777,
        Case::OtherOwner,
        Case::OtherOwnerFolder,
    ];
    let commands: &[&[&str]] = &[
        &["config", "validate"],
        &["check"],
        &["plan"],
        &["sync"],
        &["explain", "someone@contoso.com"],
        &["target", "users"],
        &["history"],
        // The service refuses at start (it would otherwise keep running).
        &["run"],
    ];
    for subject in [Subject::Config, Subject::Secret, Subject::Certificate] {
        for case in cases {
            let env = Env::new();
            let (config, file) = world(&env, subject);
            let Some(expected) = apply(&env, subject, case, &file) else {
                continue;
            };
            let config = config.display().to_string();
            let what = format!("{subject:?} × {case:?}");
            match expected {
                None => {
                    let run = env.run(&["--config", &config, "config", "validate"]);
                    assert_eq!(run.code, 0, "{what}: {}", run.all());
                }
                Some(parts) => {
                    for command in commands {
                        let mut args = vec!["--config", config.as_str()];
                        args.extend_from_slice(command);
                        let run = env.run(&args);
                        let out = run.all();
                        assert_eq!(run.code, 2, "{what}, {command:?}: {out}");
                        for part in &parts {
                            assert!(
                                out.contains(part),
                                "{what}, {command:?}: no {part:?} in {out}"
                            );
                        }
                        if let Some(key) = key_of(subject) {
                            assert!(out.contains(key), "{what}, {command:?}: no {key} in {out}");
                        }
                        assert!(!out.contains("a-token"), "{what}: the secret leaked: {out}");
                    }
                    if subject == Subject::Secret {
                        // Resolving the reference directly refuses it the same way.
                        let reference = format!("file:{}", file.display());
                        let run = env.run(&["secret", "check", &reference]);
                        assert_ne!(run.code, 0, "{what}: {}", run.all());
                        assert!(run.all().contains(&parts[1]), "{what}: {}", run.all());
                    }
                }
            }
            // Put the owner back so the temporary folder can be removed.
            if is_root() {
                for dir in ["conf", "secrets", "keys"] {
                    let _ = std::os::unix::fs::chown(env.path(dir), Some(0), None);
                }
            }
        }
    }
}
