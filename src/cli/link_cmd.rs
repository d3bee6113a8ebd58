//! `adsync link USER TARGET_USER_ID` and `adsync unlink USER`: an administrator's own decision
//! where R2 refuses to guess. The work is in [`crate::links`]; this prints what it did and
//! what the next sync will do for the user.

use std::path::Path;

use super::Exit;
use super::common::{emit, fail, runtime};
use super::sync_cmd::BLOCKED_ADVICE;
use crate::cycle::Engine;
use crate::links::{self, Decided, LinkError};
use crate::render;

/// `adsync link`.
pub fn link_cmd(config_path: &Path, who: &str, target_id: &str) -> anyhow::Result<Exit> {
    let rt = runtime()?;
    Ok(decide(config_path, "linked", |engine| {
        rt.block_on(links::link(engine, who, target_id))
    }))
}

/// `adsync unlink`.
pub fn unlink_cmd(config_path: &Path, who: &str) -> anyhow::Result<Exit> {
    let rt = runtime()?;
    Ok(decide(config_path, "unlinked", |engine| {
        rt.block_on(links::unlink(engine, who))
    }))
}

/// Opens the engine, runs the decision, and prints it with the user's next sync; an error is
/// printed once, with its exit code (2 for wrong input).
fn decide(
    config_path: &Path,
    verb: &str,
    run: impl FnOnce(&Engine) -> Result<Decided, LinkError>,
) -> Exit {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return fail(&error),
    };
    let Decided {
        user,
        link,
        target_name,
        plan,
    } = match run(&engine) {
        Ok(decided) => decided,
        Err(error) => {
            eprintln!("error: {error}");
            return error.exit();
        }
    };
    let target = if target_name.is_empty() {
        link.target_id.clone()
    } else {
        format!("{} ({target_name})", link.target_id)
    };
    let (to, note) = match verb {
        "linked" => ("to", ""),
        _ => ("from", "; the target user was not changed"),
    };
    emit(&format!(
        "{verb} {} {to} target user {target}{note}\nNext sync for this user:\n{}",
        user.user_principal_name,
        render::plan_text(&plan, Some(BLOCKED_ADVICE))
    ));
    Exit::Ok
}
