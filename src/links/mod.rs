//! Links made by hand: an administrator's own decision where R2 refuses to guess (an ambiguous
//! match, an account already linked to someone else, two Entra users sharing an email). [`link`]
//! and [`unlink`] are what `adsync link` and `adsync unlink` run; [`check_link`] and
//! [`AccountIndex`] are the pure halves the wizard's preview uses before any state store exists,
//! and [`record`] is how both front ends store a decision.
//!
//! A link made by hand is stored like any other, with [`ManualLink`] (who, when) and no values
//! hash: the planner takes it for an R2 link still to be written (externalId and the mapped
//! values written where they differ), so the next sync links the account and the warning that
//! skipped the user is gone. Nothing is written on any error.

use std::collections::{BTreeSet, HashMap};

use crate::config::Settings;
use crate::cycle::{CycleError, Engine, Planned};
use crate::state::{StateError, StateStore};
use crate::sync::{
    Link, Links, ManualLink, Plan, PlanInput, ScopeVerdict, SourceSnapshot, SourceUser,
    TargetSnapshot, TargetUser, Whereabouts, desired_user, plan, scope_verdict,
};

#[cfg(test)]
mod tests;

/// Why a link or unlink was refused. Each names what was wrong and what to do; on every one of
/// them nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No Entra user has this object id, userPrincipalName or email.
    #[error(
        "{who}: no such user in Entra ID (by object id, userPrincipalName or email); check the \
         spelling, or give the user's object id"
    )]
    UnknownUser { who: String },
    /// An email that several members of the paired groups share.
    #[error(
        "{who}: {count} Entra users have this email ({upns}); name one of them by its \
         userPrincipalName or object id"
    )]
    AmbiguousUser {
        who: String,
        count: usize,
        upns: String,
    },
    /// The user is in no paired Entra group.
    #[error(
        "{upn} is a member of no paired Entra group, so adsync does not sync it; add it to a \
         paired group (or pair one of its groups) first"
    )]
    NoPairs { upn: String },
    /// The user is in a paired group but out of scope (disabled, a guest, a scope rule).
    #[error("{upn} is not in scope: {why}; adsync links only users it syncs")]
    OutOfScope { upn: String, why: String },
    /// The target has no user with this id.
    #[error(
        "{target_id}: no such user in the target application; `adsync target users` lists their \
         ids"
    )]
    UnknownTarget { target_id: String },
    /// The target user is linked to another Entra user.
    #[error(
        "target user {target_id} ({target_name}) is already linked to Entra user {other}; if \
         that link is wrong, run `adsync unlink {other}` first"
    )]
    TargetLinked {
        target_id: String,
        target_name: String,
        other: String,
    },
    /// The Entra user is linked already.
    #[error(
        "{upn} is already linked to target user {target_id}; to link it to another account, run \
         `adsync unlink {upn}` first"
    )]
    AlreadyLinked { upn: String, target_id: String },
    /// `unlink` of a user with no link.
    #[error("{upn} is not linked to a target user; there is nothing to unlink")]
    NotLinked { upn: String },
    /// Reading, planning or opening failed (R10): nothing was written.
    #[error("{0}; nothing was changed")]
    Cycle(#[from] CycleError),
}

impl LinkError {
    /// Wrong input is bad usage (exit 2); a failed read or write is a run-time failure (exit 1).
    pub fn exit(&self) -> crate::cycle::Exit {
        match self {
            LinkError::Cycle(e) => e.exit(),
            _ => crate::cycle::Exit::Usage,
        }
    }
}

impl From<StateError> for LinkError {
    fn from(e: StateError) -> Self {
        LinkError::Cycle(CycleError::State(e))
    }
}

/// The OS user running this process, for "linked by hand by …": the login name the session
/// gives (`USER`, `USERNAME`, `LOGNAME`), else the account database's name for the process's user
/// (the variables are unset under `sudo -i`, cron or a service).
pub fn os_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            whoami::fallible::username()
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "an unknown user".into())
}

/// The member of a paired group that `who` names: its object id or userPrincipalName, else its
/// email (compared case-insensitively). `Ok(None)` when none matches; an email two members share
/// is [`LinkError::AmbiguousUser`].
pub fn find_user<'a>(
    source: &'a SourceSnapshot,
    who: &str,
) -> Result<Option<&'a SourceUser>, LinkError> {
    let needle = who.trim().to_lowercase();
    let by_key = source
        .users
        .values()
        .find(|u| u.id.to_lowercase() == needle || u.user_principal_name.to_lowercase() == needle);
    if by_key.is_some() {
        return Ok(by_key);
    }
    let by_email: Vec<&SourceUser> = source
        .users
        .values()
        .filter(|u| u.email().to_lowercase() == needle)
        .collect();
    match by_email.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(LinkError::AmbiguousUser {
            who: who.to_owned(),
            count: many.len(),
            upns: many
                .iter()
                .map(|u| u.user_principal_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Checks a link by hand of `user` (a member of a paired group, from `source`) to the target user
/// `target_id` against what was read, and returns the link to store: the user is in scope, not
/// linked yet, and the target user exists and is linked to nobody else.
pub fn check_link(
    settings: &Settings,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    links: &Links,
    user: &SourceUser,
    target_id: &str,
    by: &str,
) -> Result<Link, LinkError> {
    let upn = user.user_principal_name.clone();
    let paired = settings.pairs.iter().any(|p| {
        source
            .groups
            .get(&p.entra_group_id)
            .is_some_and(|g| g.members.contains(&user.id))
    });
    if !paired {
        return Err(LinkError::NoPairs { upn });
    }
    let why = match scope_verdict(user, settings) {
        ScopeVerdict::InScope => None,
        ScopeVerdict::Disabled => Some("the account is disabled in Entra ID".to_owned()),
        ScopeVerdict::Guest => Some("a guest, and policy.include_guests = false".to_owned()),
        ScopeVerdict::FailsRule(rule) => Some(format!(
            "it fails the scope rule {} {} \"{}\"",
            rule.attribute, rule.operator, rule.value
        )),
    };
    if let Some(why) = why {
        return Err(LinkError::OutOfScope { upn, why });
    }
    if let Some(link) = links.get(&user.id) {
        return Err(LinkError::AlreadyLinked {
            upn,
            target_id: link.target_id.clone(),
        });
    }
    let target_id = target_id.trim();
    let Some(account) = target.users.get(target_id) else {
        return Err(LinkError::UnknownTarget {
            target_id: target_id.to_owned(),
        });
    };
    if let Some(other) = links.values().find(|l| l.target_id == target_id) {
        let other = source
            .users
            .get(&other.entra_id)
            .map_or(other.entra_id.clone(), |u| u.user_principal_name.clone());
        return Err(LinkError::TargetLinked {
            target_id: target_id.to_owned(),
            target_name: account.user_name.clone(),
            other,
        });
    }
    Ok(Link {
        entra_id: user.id.clone(),
        target_id: target_id.to_owned(),
        manual: Some(ManualLink {
            by: by.to_owned(),
            at_ms: crate::state::now_ms(),
        }),
        ..Link::default()
    })
}

/// The target's users by the keys R2 matches on, built once per read: finding a skipped user's
/// candidates is then a few lookups, not a pass over every account.
#[derive(Debug, Default)]
pub struct AccountIndex {
    /// Lower-cased userName and emails, and externalIds → target ids.
    by_key: HashMap<String, BTreeSet<String>>,
}

impl AccountIndex {
    /// Indexes every user of the target snapshot.
    pub fn new(target: &TargetSnapshot) -> Self {
        let mut by_key: HashMap<String, BTreeSet<String>> = HashMap::new();
        for t in target.users.values() {
            let keys = std::iter::once(t.user_name.to_lowercase())
                .chain(t.emails.iter().map(|e| e.to_lowercase()))
                .chain(t.external_id.iter().map(|x| format!("externalId:{x}")));
            for key in keys {
                by_key.entry(key).or_default().insert(t.id.clone());
            }
        }
        Self { by_key }
    }

    /// The ids of the target users R2 would consider for `user`: its object id as externalId,
    /// or its email or computed userName as userName or an email (case-insensitive).
    pub fn candidates(&self, settings: &Settings, user: &SourceUser) -> Vec<String> {
        let user_name = desired_user(user, settings.policy.username).user_name;
        let keys = [
            format!("externalId:{}", user.id),
            user.email().to_lowercase(),
            user_name.to_lowercase(),
        ];
        let ids: BTreeSet<&String> = keys
            .iter()
            .filter_map(|k| self.by_key.get(k))
            .flatten()
            .collect();
        ids.into_iter().cloned().collect()
    }
}

/// The target users R2 would consider for `user` (see [`AccountIndex::candidates`]), in id order.
pub fn candidates<'a>(
    settings: &Settings,
    target: &'a TargetSnapshot,
    user: &SourceUser,
) -> Vec<&'a TargetUser> {
    AccountIndex::new(target)
        .candidates(settings, user)
        .iter()
        .filter_map(|id| target.users.get(id))
        .collect()
}

/// The part of a plan about one Entra user: its action (if any) and the warnings naming it.
pub fn plan_for_user(plan: &Plan, entra_id: &str) -> Plan {
    let actions: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| a.entra_id == entra_id)
        .cloned()
        .collect();
    let warnings = plan
        .warnings
        .iter()
        .filter(|w| w.entra_ids.iter().any(|id| id == entra_id))
        .cloned()
        .collect();
    let unchanged = usize::from(actions.is_empty());
    Plan::new(actions, warnings, unchanged, Vec::new())
}

/// The plan for one user with `links` as they would be after a decision.
fn plan_with(
    settings: &Settings,
    planned: &Planned,
    links: &Links,
    entra_id: &str,
) -> Result<Plan, LinkError> {
    let full = plan(PlanInput {
        settings,
        source: &planned.source,
        target: &planned.target,
        links,
    })
    .map_err(CycleError::from)?;
    Ok(plan_for_user(&full, entra_id))
}

/// Stores a link by hand that [`check_link`] accepted, with its history entry: what `adsync
/// link` does once it has checked, and what the wizard's Finish does with the links decided in
/// its preview. Checked once more against the links stored now (another process may have linked
/// either side since), so a link is never re-pointed silently.
pub fn record(
    store: &StateStore,
    link: &Link,
    user_principal_name: &str,
    target_name: &str,
) -> Result<(), LinkError> {
    let stored = store.links()?;
    if let Some(existing) = stored.get(&link.entra_id) {
        return Err(LinkError::AlreadyLinked {
            upn: user_principal_name.to_owned(),
            target_id: existing.target_id.clone(),
        });
    }
    if let Some(other) = stored.values().find(|l| l.target_id == link.target_id) {
        return Err(LinkError::TargetLinked {
            target_id: link.target_id.clone(),
            target_name: target_name.to_owned(),
            other: other.entra_id.clone(),
        });
    }
    let by = link.manual.as_ref().map_or("", |m| m.by.as_str());
    store.record_manual_link(
        link,
        user_principal_name,
        &format!("linked by hand by {by} to {target_name}"),
    )?;
    Ok(())
}

/// What [`link`] or [`unlink`] did.
#[derive(Debug)]
pub struct Decided {
    /// The Entra user.
    pub user: SourceUser,
    /// The link made, or the one forgotten.
    pub link: Link,
    /// The target user's userName (empty when the target no longer has it).
    pub target_name: String,
    /// What the next sync will do for this user.
    pub plan: Plan,
}

/// Finds `who` for a decision: among the paired groups' members, else in Graph (a user in no
/// paired group), else [`LinkError::UnknownUser`].
async fn resolve(engine: &Engine, planned: &Planned, who: &str) -> Result<SourceUser, LinkError> {
    if let Some(user) = find_user(&planned.source, who)? {
        return Ok(user.clone());
    }
    match engine.graph.get_user(who.trim()).await {
        Ok(Some(user)) => Ok(user.into()),
        Ok(None) => Err(LinkError::UnknownUser {
            who: who.to_owned(),
        }),
        Err(e) => Err(CycleError::from(e).into()),
    }
}

/// `adsync link USER TARGET_USER_ID`: reads both sides, checks the decision ([`check_link`]),
/// records it in the state with its own history entry, and returns the plan for that user.
pub async fn link(engine: &Engine, who: &str, target_id: &str) -> Result<Decided, LinkError> {
    let planned = engine.read_and_plan().await?;
    let mut links = engine.store.links()?;
    let user = resolve(engine, &planned, who).await?;
    let new = check_link(
        &engine.settings,
        &planned.source,
        &planned.target,
        &links,
        &user,
        target_id,
        &os_user(),
    )?;
    links.insert(new.entra_id.clone(), new.clone());
    // Planned before anything is written: a plan that cannot be made leaves the store as it was.
    let plan = plan_with(&engine.settings, &planned, &links, &user.id)?;
    let target_name = planned.target.users[&new.target_id].user_name.clone();
    record(&engine.store, &new, &user.user_principal_name, &target_name)?;
    Ok(Decided {
        user,
        link: new,
        target_name,
        plan,
    })
}

/// `adsync unlink USER`: forgets the user's link (made by hand or by R2) without writing to the
/// target, records that in the history, and returns what the next sync will do for the user.
pub async fn unlink(engine: &Engine, who: &str) -> Result<Decided, LinkError> {
    let planned = engine.read_and_plan().await?;
    let mut links = engine.store.links()?;
    // A managed user outside the paired groups, or deleted from Entra ID, can still be
    // unlinked by its object id.
    let user = match links.get(who.trim()) {
        Some(link) if find_user(&planned.source, who)?.is_none() => {
            match planned.source.outside.get(&link.entra_id) {
                Some(Whereabouts::Exists(user)) => (**user).clone(),
                _ => SourceUser {
                    id: link.entra_id.clone(),
                    user_principal_name: link.entra_id.clone(),
                    ..SourceUser::default()
                },
            }
        }
        _ => resolve(engine, &planned, who).await?,
    };
    let Some(old) = links.remove(&user.id) else {
        return Err(LinkError::NotLinked {
            upn: user.user_principal_name,
        });
    };
    let plan = plan_with(&engine.settings, &planned, &links, &user.id)?;
    let target_name = planned
        .target
        .users
        .get(&old.target_id)
        .map(|t| t.user_name.clone())
        .unwrap_or_default();
    engine.store.record_unlink(
        &old,
        &user.user_principal_name,
        &format!("unlinked by hand by {} from {}", os_user(), old.target_id),
    )?;
    Ok(Decided {
        user,
        link: old,
        target_name,
        plan,
    })
}
