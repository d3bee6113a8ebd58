//! `adsync link USER TARGET_USER_ID` and `adsync unlink USER`: an administrator's own decision
//! where R2 refuses to guess. The work is in [`crate::links`]; this prints what it did and
//! what the next sync will do for the user.

use std::path::Path;

use super::Exit;
use super::common::{emit, fail, runtime};
use super::sync_cmd::BLOCKED_ADVICE;
use crate::cycle::Engine;
use crate::links::{self, Decided};
use crate::render;

/// `adsync link`.
pub fn link_cmd(config_path: &Path, who: &str, target_id: &str) -> anyhow::Result<Exit> {
    decide(config_path, |engine| {
        runtime()?
            .block_on(links::link(engine, who, target_id))
            .map(|d| (d, "linked"))
            .map_err(Into::into)
    })
}

/// `adsync unlink`.
pub fn unlink_cmd(config_path: &Path, who: &str) -> anyhow::Result<Exit> {
    decide(config_path, |engine| {
        runtime()?
            .block_on(links::unlink(engine, who))
            .map(|d| (d, "unlinked"))
            .map_err(Into::into)
    })
}

fn decide(
    config_path: &Path,
    run: impl FnOnce(&Engine) -> anyhow::Result<(Decided, &'static str)>,
) -> anyhow::Result<Exit> {
    let engine = match Engine::open(config_path) {
        Ok(engine) => engine,
        Err(error) => return Ok(fail(&error)),
    };
    let (decided, verb) = match run(&engine) {
        Ok(done) => done,
        Err(error) => match error.downcast::<links::LinkError>() {
            Ok(error) => {
                eprintln!("error: {error}");
                return Ok(error.exit());
            }
            Err(other) => return Err(other),
        },
    };
    let Decided {
        user,
        link,
        target_name,
        plan,
    } = &decided;
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
        render::plan_text(plan, Some(BLOCKED_ADVICE))
    ));
    Ok(Exit::Ok)
}
