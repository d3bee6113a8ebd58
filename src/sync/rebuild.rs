//! A lost state store is not a first sync (R13). [`check_store`] is the rule every cycle applies
//! before it plans: a store without links facing an application where [`LOST_STORE_MIN`] or more
//! users already carry the Entra object ids of the paired groups' members as externalId stops
//! the cycle with [`LostStore`], which says what happened and what to do. Planned as a first
//! sync, such a store would re-link those users by externalId (R2), writing `active = true` to
//! the ones an application admin had disabled, and would never disable the ones who left
//! (R6 only disables linked users).
//!
//! `sync --rebuild-state` (and its dry run, `plan --rebuild-state`) adopts them instead:
//! [`candidates`] reads the links back from the target's externalIds, [`adoptable`] keeps those
//! Entra ID knows, and [`plan_rebuild`] plans with them as managed links, so that the ordinary
//! rules apply: each adopted user gets a `link` action (recorded in the history and the store
//! like an R2 link), one the application holds disabled stays disabled (R7: disabled by someone
//! else), and the adopted users who are out of scope are disabled (R6) under R11's guard.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use super::model::*;
use super::order::sort_actions;
use super::plan::*;
use super::planner::{PlanError, PlanInput, plan};
use crate::config::{GroupMode, Settings};

/// How many target users carrying the paired members' Entra ids make an empty store a lost one
/// (SPEC R13): fewer are what a first sync links by externalId (R2) as usual.
pub const LOST_STORE_MIN: usize = 5;

/// Who a rebuilt link is made by, while it is planned (never stored: a rebuilt link is stored
/// by `apply` like any R2 link).
const REBUILD: &str = "sync --rebuild-state";

/// The reason of an adopted user's `link` action.
const ADOPTED: &str = "adopted: the application's account carries this Entra id as externalId \
                       (--rebuild-state)";

/// The state store has no links, but the application already holds users carrying Entra ids:
/// the store was lost, replaced or emptied, or another tool provisioned them (R13).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "state store {} has no links, but the application already holds {count} users whose \
     externalId is the Entra object id of a member of the paired groups: the store was lost, \
     emptied or replaced, another tool provisioned them, or a first sync was cut off before it \
     recorded them. Planning this as a first sync would re-enable the accounts an application \
     admin disabled and never disable the ones who left, so adsync writes nothing. Run `adsync \
     plan --rebuild-state` to see what adopting them would do, then `adsync sync \
     --rebuild-state` to adopt them",
    state.display()
)]
pub struct LostStore {
    /// The state store's path (`[service] state_path`).
    pub state: PathBuf,
    /// Target users carrying a paired member's Entra id as externalId.
    pub count: usize,
}

/// The target users whose externalId is the object id of a member of the paired groups (what
/// the source snapshot holds), compared without case.
pub fn entra_ids_held(source: &SourceSnapshot, target: &TargetSnapshot) -> usize {
    target
        .users
        .values()
        .filter_map(|u| u.external_id.as_deref())
        .filter(|ext| {
            source.users.contains_key(*ext) || source.users.contains_key(&ext.to_lowercase())
        })
        .count()
}

/// R13: refuses to plan a store with no links against an application that already holds
/// [`LOST_STORE_MIN`] or more users carrying the paired members' Entra ids. A store that has
/// applied a run before (`applied_before`) is not lost: a first sync cut off before it recorded
/// its links leaves such a store, and the plan links those users back by externalId (R2, R12).
pub fn check_store(
    links: &Links,
    applied_before: bool,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    state: &Path,
) -> Result<(), LostStore> {
    if !links.is_empty() || applied_before {
        return Ok(());
    }
    let count = entra_ids_held(source, target);
    if count < LOST_STORE_MIN {
        return Ok(());
    }
    Err(LostStore {
        state: state.to_owned(),
        count,
    })
}

/// The links `--rebuild-state` reads back from the target: every target user whose externalId
/// is an object id (a GUID, lower-cased as Graph writes them) that no other target user carries,
/// and neither it nor its Entra id linked already. Each is marked as made by the rebuild with no
/// values hash, which the planner takes for a link still to be written (an R2 link); its group
/// is the paired target group it is in, as if adsync had put it there (so R5 moves it from there
/// when its precedence says otherwise).
pub fn candidates(settings: &Settings, target: &TargetSnapshot, links: &Links) -> Links {
    let linked: HashSet<&str> = links.values().map(|l| l.target_id.as_str()).collect();
    let mut carriers: BTreeMap<String, Vec<&TargetUser>> = BTreeMap::new();
    for user in target.users.values() {
        let Some(ext) = user.external_id.as_deref() else {
            continue;
        };
        if uuid::Uuid::try_parse(ext.trim()).is_ok() {
            carriers
                .entry(ext.trim().to_lowercase())
                .or_default()
                .push(user);
        }
    }
    let paired: Vec<&str> = settings
        .pairs
        .iter()
        .map(|p| p.target_group_id.as_str())
        .collect();
    let mut out = Links::new();
    for (entra_id, users) in carriers {
        // Two accounts with one Entra id: the planner's duplicate-externalId warning names them.
        let [user] = users.as_slice() else {
            continue;
        };
        if links.contains_key(&entra_id) || linked.contains(user.id.as_str()) {
            continue;
        }
        let member_of: Vec<&str> = paired
            .iter()
            .copied()
            .filter(|g| {
                target
                    .groups
                    .get(*g)
                    .is_some_and(|g| g.members.contains(&user.id))
            })
            .collect();
        let (group, groups_added) = match settings.policy.group_mode {
            GroupMode::Single => (member_of.first().map(|g| (*g).to_owned()), BTreeSet::new()),
            GroupMode::All => (None, member_of.iter().map(|g| (*g).to_owned()).collect()),
        };
        out.insert(
            entra_id.clone(),
            Link {
                entra_id,
                target_id: user.id.clone(),
                group,
                groups_added,
                values_hash: String::new(),
                disabled_by_adsync: false,
                roles_given: BTreeSet::new(),
                manual: Some(ManualLink {
                    by: REBUILD.to_owned(),
                    at_ms: 0,
                }),
            },
        );
    }
    out
}

/// Splits the candidates into those Entra ID knows (a member of a paired group, or found by id:
/// the source snapshot must have been read with the candidates as links) and the externalIds
/// that are no user of this tenant (deleted for good, or from another tenant or tool), which are
/// left alone: disabling them as "deleted" could disable another tool's accounts.
pub fn adoptable(candidates: Links, source: &SourceSnapshot) -> (Links, Vec<String>) {
    let mut unknown = Vec::new();
    let mut adopted = Links::new();
    for (entra_id, link) in candidates {
        let known = source.users.contains_key(&entra_id)
            || matches!(source.outside.get(&entra_id), Some(Whereabouts::Exists(_)));
        if known {
            adopted.insert(entra_id, link);
        } else {
            unknown.push(entra_id);
        }
    }
    (adopted, unknown)
}

/// The plan of `sync --rebuild-state`: [`plan()`] with the stored links and the `adopted` ones,
/// every adopted user given a `link` action (those the plan would otherwise leave alone, disabled
/// and out of scope, too, so that each adoption is recorded), a user the application holds
/// disabled linked without `active` being written (R7), and the out-of-scope ones disabled (R6)
/// under the mass-disable guard (R11). `unknown` names externalIds no Entra user has, for a
/// warning.
pub fn plan_rebuild(
    input: PlanInput<'_>,
    adopted: &Links,
    unknown: &[String],
) -> Result<Plan, PlanError> {
    let mut links = input.links.clone();
    links.extend(adopted.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut plan = plan(PlanInput {
        links: &links,
        ..input
    })?;
    let target = input.target;
    let mut acted = HashSet::new();
    for action in &mut plan.actions {
        let Some(link) = adopted.get(&action.entra_id) else {
            continue;
        };
        acted.insert(action.entra_id.clone());
        if action.kind != ActionKind::Link {
            continue; // a disable keeps its R6 reason
        }
        action.reason = ADOPTED.to_owned();
        // The group it is in is recorded as the one adsync put it in (R5), unless it moves now.
        if action.execution.record_group.is_none() {
            action.execution.record_group = Some(link.group.as_deref().map(Text::from));
        }
        let active = target.users.get(&link.target_id).is_none_or(|u| u.active);
        if !active {
            // Disabled in the application by someone else: it stays so (R7).
            action.changes.retain(|c| c.field != "active");
            if let Record::Full(desired) = &mut action.execution.record {
                desired.active = false;
            }
            action
                .reason
                .push_str("; disabled in the application, so it stays disabled");
        }
    }
    for (entra_id, link) in adopted {
        if acted.contains(entra_id) {
            continue;
        }
        // Out of scope and already disabled: nothing to write, but the adoption is recorded.
        let user = source_user(input.source, entra_id);
        plan.actions.push(Action {
            kind: ActionKind::Link,
            entra_id: entra_id.clone(),
            user_principal_name: user
                .map(|u| u.user_principal_name.clone())
                .unwrap_or_default(),
            email: user.map(|u| u.email().to_owned()).unwrap_or_default(),
            target_user_id: Some(link.target_id.clone()),
            target_group: None,
            target_groups: None,
            changes: Vec::new(),
            reason: format!("{ADOPTED}; out of scope and disabled in the application: left so"),
            result: None,
            execution: Execution {
                record_group: Some(link.group.as_deref().map(Text::from)),
                ..Execution::default()
            },
        });
    }
    sort_actions(&mut plan.actions);
    recount(&mut plan);
    if !unknown.is_empty() {
        plan.warnings.push(Warning {
            code: "unknown-externalId".into(),
            message: format!(
                "{} application users carry an externalId that is no user of this tenant \
                 (deleted from Entra ID for good, or provisioned from another tenant); they were \
                 not adopted and adsync leaves them alone. Check them in the application",
                unknown.len()
            ),
            entra_ids: unknown.to_vec(),
        });
    }
    Ok(plan)
}

fn source_user<'a>(source: &'a SourceSnapshot, id: &str) -> Option<&'a SourceUser> {
    source
        .users
        .get(id)
        .or_else(|| match source.outside.get(id) {
            Some(Whereabouts::Exists(user)) => Some(&**user),
            _ => None,
        })
}

/// The summary's counts by kind, after actions were added or changed kind.
fn recount(plan: &mut Plan) {
    let s = &mut plan.summary;
    (
        s.create, s.link, s.update, s.move_, s.disable, s.enable, s.skip,
    ) = (0, 0, 0, 0, 0, 0, 0);
    for action in &plan.actions {
        let slot = match action.kind {
            ActionKind::Create => &mut s.create,
            ActionKind::Link => &mut s.link,
            ActionKind::Update => &mut s.update,
            ActionKind::Move => &mut s.move_,
            ActionKind::Disable => &mut s.disable,
            ActionKind::Enable => &mut s.enable,
            ActionKind::Skip => &mut s.skip,
        };
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::tests::{SUPPORT, settings, user};

    fn guid(n: u32) -> String {
        format!("00000000-0000-0000-0000-{n:012}")
    }

    fn account(id: &str, external_id: Option<&str>, active: bool) -> TargetUser {
        TargetUser {
            id: id.into(),
            external_id: external_id.map(str::to_owned),
            user_name: format!("{id}@contoso.example"),
            active,
            ..TargetUser::default()
        }
    }

    fn target(accounts: Vec<TargetUser>, tier1: &[&str]) -> TargetSnapshot {
        let mut target = TargetSnapshot::default();
        for (id, name) in [("tier-1", "Tier 1"), ("tier-2", "Tier 2")] {
            target.groups.insert(
                id.into(),
                TargetGroup {
                    id: id.into(),
                    display_name: name.into(),
                    members: BTreeSet::new(),
                },
            );
        }
        let members = &mut target.groups.get_mut("tier-1").unwrap().members;
        members.extend(tier1.iter().map(|m| (*m).to_owned()));
        for a in accounts {
            target.users.insert(a.id.clone(), a);
        }
        target
    }

    /// Only a GUID externalId carried by one account, neither side linked, is a candidate;
    /// upper case is read as Graph writes ids; the group is the paired one it is in.
    #[test]
    fn candidates_are_unlinked_accounts_with_a_unique_guid_external_id() {
        let upper = "ABCDEF00-0000-0000-0000-000000000002";
        let target = target(
            vec![
                account("t1", Some(&guid(1)), true),
                account("t2", Some(upper), true),
                account("t3", Some("emp-42"), true),
                account("t4", Some(&guid(4)), true),
                account("t5", Some(&guid(4)), true),
                account("t6", Some(&guid(6)), true),
                account("t7", None, true),
            ],
            &["t1"],
        );
        let mut links = Links::new();
        links.insert(
            guid(9),
            Link {
                entra_id: guid(9),
                target_id: "t6".into(),
                ..Link::default()
            },
        );
        let found = candidates(&settings(""), &target, &links);
        let lower = upper.to_lowercase();
        assert_eq!(
            found.keys().cloned().collect::<Vec<_>>(),
            [guid(1), lower.clone()]
        );
        let first = &found[&guid(1)];
        assert_eq!(
            (first.target_id.as_str(), first.group.as_deref()),
            ("t1", Some("tier-1"))
        );
        assert!(first.is_pending_manual(), "planned as an R2 link");
        assert_eq!(found[&lower].group, None);
    }

    /// Five accounts carrying members' ids make an empty store a lost one; four, any link in
    /// the store, or a run applied before (a first sync cut off) do not.
    #[test]
    fn an_empty_store_is_lost_from_five_accounts_carrying_members_ids() {
        let mut source = SourceSnapshot::default();
        for n in 1..=5 {
            source
                .users
                .insert(guid(n), user(&guid(n), &format!("u{n}")));
        }
        let four = target(
            (1..=4)
                .map(|n| account(&format!("t{n}"), Some(&guid(n)), true))
                .chain([account("t9", Some(&guid(99)), true)])
                .collect(),
            &[],
        );
        let state = Path::new("/var/lib/adsync/state.sqlite3");
        assert_eq!(
            check_store(&Links::new(), false, &source, &four, state),
            Ok(())
        );
        let five = target(
            (1..=5)
                .map(|n| account(&format!("t{n}"), Some(&guid(n)), true))
                .collect(),
            &[],
        );
        let error = check_store(&Links::new(), false, &source, &five, state).unwrap_err();
        assert_eq!(error.count, 5);
        assert!(
            error
                .to_string()
                .starts_with("state store /var/lib/adsync/state.sqlite3 has no links"),
            "{error}"
        );
        let mut links = Links::new();
        links.insert(guid(1), Link::default());
        assert_eq!(check_store(&links, false, &source, &five, state), Ok(()));
        // A store whose first sync was cut off before it recorded its links is not lost.
        assert_eq!(
            check_store(&Links::new(), true, &source, &five, state),
            Ok(())
        );
    }

    /// The rebuild plan links every known account (one disabled in the target without writing
    /// `active`, one out of scope and disabled with nothing to write), disables the member
    /// disabled in Entra ID, and leaves an id the tenant does not know alone, with a warning.
    #[test]
    fn the_rebuild_plan_links_keeps_disabled_accounts_disabled_and_disables_leavers() {
        let settings = settings("");
        let mut source = SourceSnapshot::default();
        let mut members = BTreeSet::new();
        for n in 1..=3 {
            let mut u = user(&guid(n), &format!("u{n}"));
            u.account_enabled = n != 3;
            source.users.insert(guid(n), u);
            members.insert(guid(n));
        }
        for (id, name) in [(SUPPORT, "Support"), (crate::sync::tests::SALES, "Sales")] {
            source.groups.insert(
                id.into(),
                SourceGroup {
                    id: id.into(),
                    display_name: name.into(),
                    created: None,
                    members: if id == SUPPORT {
                        members.clone()
                    } else {
                        BTreeSet::new()
                    },
                },
            );
        }
        source
            .outside
            .insert(guid(4), Whereabouts::Exists(Box::new(user(&guid(4), "u4"))));
        source.outside.insert(guid(5), Whereabouts::Deleted);
        let target = target(
            vec![
                account("t1", Some(&guid(1)), true),
                account("t2", Some(&guid(2)), false),
                account("t3", Some(&guid(3)), true),
                account("t4", Some(&guid(4)), false),
                account("t5", Some(&guid(5)), true),
            ],
            &["t1", "t2", "t3"],
        );
        let links = Links::new();
        let (adopted, unknown) = adoptable(candidates(&settings, &target, &links), &source);
        assert_eq!(unknown, [guid(5)]);
        let input = PlanInput {
            settings: &settings,
            source: &source,
            target: &target,
            links: &links,
        };
        let plan = plan_rebuild(input, &adopted, &unknown).unwrap();
        let of = |n: u32| plan.actions.iter().find(|a| a.entra_id == guid(n));
        assert_eq!(of(1).unwrap().kind, ActionKind::Link);
        assert_eq!(of(1).unwrap().reason, ADOPTED);
        let kept = of(2).unwrap();
        assert_eq!(kept.kind, ActionKind::Link);
        assert!(kept.changes.iter().all(|c| c.field != "active"), "{kept:?}");
        assert!(matches!(&kept.execution.record, Record::Full(d) if !d.active));
        assert_eq!(
            (of(3).unwrap().kind, of(3).unwrap().reason.as_str()),
            (ActionKind::Disable, "disabled")
        );
        assert_eq!(of(4).unwrap().kind, ActionKind::Link);
        assert!(of(5).is_none(), "an unknown id is left alone");
        assert_eq!((plan.summary.link, plan.summary.disable), (3, 1));
        assert_eq!(plan.warnings.last().unwrap().code, "unknown-externalId");
    }
}
