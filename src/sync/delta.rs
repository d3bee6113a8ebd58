//! Incremental cycles: a Graph delta round applied to the cached source snapshot, so that a cycle
//! costs what changed rather than what exists.
//!
//! [`SourceCache::apply_round`] is pure: it folds the round into the cache and says what else it
//! needs, namely the records of users that joined a paired group (the groups delta names members
//! by id only), and a fresh read of a nested pair's transitive members when a group under it
//! changed (the delta cannot say whether a user removed from one group is still a member through
//! another). [`apply_delta`] does those reads. Anything the cache cannot answer (a paired group
//! deleted, a managed user restored whose memberships the round does not carry) is
//! [`Incremental::NeedsFull`]: the caller runs a full cycle instead. A cache a failed read left
//! half-updated must be dropped by the caller; the state store keeps the last good one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::absent::keep_absent;
use super::model::*;
use crate::config::Settings;
use crate::entra::{DeltaRound, EntraError, GraphClient, ObjectKind};

/// What the service remembers of the target between full cycles, to read only touched users.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The paired target groups' display names, by id.
    pub group_names: BTreeMap<String, String>,
    /// The target lists a user's groups in its `groups` attribute (RFC 7643 §4.1.2), so a
    /// user's memberships can be read with the user; otherwise the paired groups are read.
    pub user_groups: bool,
}

/// The source snapshot a service keeps between cycles, and what applying delta rounds needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCache {
    pub snapshot: SourceSnapshot,
    /// For each nested pair's Entra group, the ids of every group nested under it (any depth).
    pub nested: BTreeMap<String, BTreeSet<String>>,
    pub target: TargetInfo,
}

/// What a round leaves to read before the cache can be planned from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Entra users whose record, membership or fate changed: the users to plan for.
    pub touched: BTreeSet<String>,
    /// Paired nested groups whose transitive members must be read again.
    pub reread: BTreeSet<String>,
    /// Users who joined a paired group and whose record the cache does not hold.
    pub fetch: BTreeSet<String>,
}

/// The cache cannot answer for this round; a full cycle must run. Says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NeedsFull(pub String);

/// The outcome of [`apply_delta`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incremental {
    /// The cache is up to date; these Entra users are the ones to plan for.
    Touched(BTreeSet<String>),
    /// A full cycle is needed, for this reason.
    NeedsFull(String),
}

impl SourceCache {
    /// Was this cache read for these pairs (same Entra groups, same nested flags)?
    pub fn fits(&self, settings: &Settings) -> bool {
        let groups: BTreeSet<&str> = settings
            .pairs
            .iter()
            .map(|p| p.entra_group_id.as_str())
            .collect();
        let nested: BTreeSet<&str> = settings
            .pairs
            .iter()
            .filter(|p| p.nested)
            .map(|p| p.entra_group_id.as_str())
            .collect();
        let targets: BTreeSet<&str> = settings
            .pairs
            .iter()
            .map(|p| p.target_group_id.as_str())
            .collect();
        groups == self.snapshot.groups.keys().map(String::as_str).collect()
            && nested == self.nested.keys().map(String::as_str).collect()
            && targets == self.target.group_names.keys().map(String::as_str).collect()
    }

    fn in_any_group(&self, id: &str) -> bool {
        self.snapshot
            .groups
            .values()
            .any(|g| g.members.contains(id))
    }

    /// Folds one delta round into the cache. Pure; the reads it asks for are in [`Pending`].
    pub fn apply_round(&mut self, round: &DeltaRound, links: &Links) -> Result<Pending, NeedsFull> {
        let mut pending = Pending::default();
        for removed in &round.groups.removed {
            if let Some(group) = self.snapshot.groups.get(&removed.id) {
                return Err(NeedsFull(format!(
                    "the paired Entra group {} ({}) was deleted",
                    removed.id, group.display_name
                )));
            }
            for (pair, under) in &self.nested {
                if under.contains(&removed.id) {
                    pending.reread.insert(pair.clone());
                }
            }
        }
        for change in &round.groups.changed {
            let id = &change.group.id;
            let membership_changed =
                !change.members_added.is_empty() || !change.members_removed.is_empty();
            if membership_changed {
                for (pair, under) in &self.nested {
                    if under.contains(id) {
                        pending.reread.insert(pair.clone());
                    }
                }
            }
            let nested = self.nested.get(id).cloned();
            let Some(group) = self.snapshot.groups.get_mut(id) else {
                continue;
            };
            if let Some(name) = &change.group.display_name {
                group.display_name = name.clone();
            }
            if let Some(created) = &change.group.created_date_time {
                group.created = Some(created.clone());
            }
            for member in &change.members_added {
                match member.kind {
                    ObjectKind::User => {
                        group.members.insert(member.id.clone());
                        pending.touched.insert(member.id.clone());
                        if !self.snapshot.users.contains_key(&member.id) {
                            match self.snapshot.outside.get(&member.id) {
                                Some(Whereabouts::Exists(user)) => {
                                    self.snapshot
                                        .users
                                        .insert(member.id.clone(), (**user).clone());
                                }
                                _ => {
                                    pending.fetch.insert(member.id.clone());
                                }
                            }
                        }
                    }
                    ObjectKind::Group if nested.is_some() => {
                        pending.reread.insert(id.clone());
                    }
                    _ => {}
                }
            }
            for member in &change.members_removed {
                match member.kind {
                    // Still a member through a nested group? Only a read can say.
                    ObjectKind::User if nested.as_ref().is_some_and(|n| !n.is_empty()) => {
                        pending.reread.insert(id.clone());
                    }
                    ObjectKind::User => {
                        group.members.remove(&member.id);
                        pending.touched.insert(member.id.clone());
                    }
                    ObjectKind::Group if nested.is_some() => {
                        pending.reread.insert(id.clone());
                    }
                    _ => {}
                }
            }
        }
        for removed in &round.users.removed {
            let id = &removed.id;
            let known = self.snapshot.users.remove(id).is_some()
                || self.snapshot.outside.contains_key(id)
                || links.contains_key(id);
            for group in self.snapshot.groups.values_mut() {
                group.members.remove(id);
            }
            pending.fetch.remove(id);
            if known {
                pending.touched.insert(id.clone());
            }
            if links.contains_key(id) {
                self.snapshot
                    .outside
                    .insert(id.clone(), Whereabouts::Deleted);
            } else {
                self.snapshot.outside.remove(id);
            }
        }
        for user in &round.users.changed {
            let user: SourceUser = user.clone().into();
            let id = user.id.clone();
            let absent = round.users.absent.get(&id).map_or(&[][..], Vec::as_slice);
            let cached =
                self.snapshot
                    .users
                    .get(&id)
                    .or_else(|| match self.snapshot.outside.get(&id) {
                        Some(Whereabouts::Exists(u)) => Some(&**u),
                        _ => None,
                    });
            // An absent property is unchanged for a cached user; for a user new to the cache,
            // unset, except `accountEnabled`, never read as false: the user's full record is
            // read instead (a full read names every selected property, R10).
            let needs_record = cached.is_none() && absent.iter().any(|p| p == "accountEnabled");
            let user = match cached {
                Some(cached) if !absent.is_empty() => keep_absent(cached, user, absent),
                _ => user,
            };
            if self.snapshot.users.contains_key(&id) || pending.fetch.remove(&id) {
                if needs_record {
                    pending.fetch.insert(id.clone());
                } else {
                    self.snapshot.users.insert(id.clone(), user);
                }
                pending.touched.insert(id);
            } else if matches!(self.snapshot.outside.get(&id), Some(Whereabouts::Deleted)) {
                return Err(NeedsFull(format!(
                    "the managed user {} ({id}) was restored in Entra ID; the groups it is back \
                     in are not part of the changes",
                    user.user_principal_name
                )));
            } else if needs_record && links.contains_key(&id) {
                pending.fetch.insert(id.clone());
                pending.touched.insert(id);
            } else if self.snapshot.outside.contains_key(&id) || links.contains_key(&id) {
                self.snapshot
                    .outside
                    .insert(id.clone(), Whereabouts::Exists(Box::new(user)));
                pending.touched.insert(id);
            }
        }
        Ok(pending)
    }

    /// Replaces a nested pair's members with a fresh read of its transitive members and the
    /// groups under it; every user whose membership or record changed becomes touched.
    pub fn set_group_members(
        &mut self,
        group_id: &str,
        members: Vec<SourceUser>,
        nested: BTreeSet<String>,
        pending: &mut Pending,
    ) {
        let Some(group) = self.snapshot.groups.get_mut(group_id) else {
            return;
        };
        let fresh: BTreeSet<String> = members.iter().map(|u| u.id.clone()).collect();
        pending
            .touched
            .extend(group.members.symmetric_difference(&fresh).cloned());
        group.members = fresh;
        for user in members {
            pending.fetch.remove(&user.id);
            if self.snapshot.users.get(&user.id) != Some(&user) {
                pending.touched.insert(user.id.clone());
                self.snapshot.users.insert(user.id.clone(), user);
            }
        }
        self.nested.insert(group_id.to_owned(), nested);
    }

    /// Takes in the records fetched for [`Pending::fetch`]; a user not found was deleted since,
    /// and leaves the groups.
    pub fn add_users(&mut self, users: Vec<SourceUser>, pending: &mut Pending) {
        for user in users {
            pending.fetch.remove(&user.id);
            self.snapshot.users.insert(user.id.clone(), user);
        }
        for id in std::mem::take(&mut pending.fetch) {
            for group in self.snapshot.groups.values_mut() {
                group.members.remove(&id);
            }
            pending.touched.insert(id);
        }
    }

    /// Puts every touched user where a full read would: in `users` when in a paired group, else
    /// (when managed) in `outside`. Returns the managed users whose fate only a lookup can tell.
    pub fn settle(&mut self, links: &Links, pending: &Pending) -> Vec<String> {
        let mut lookups = Vec::new();
        for id in &pending.touched {
            if self.in_any_group(id) && self.snapshot.users.contains_key(id) {
                self.snapshot.outside.remove(id);
                continue;
            }
            for group in self.snapshot.groups.values_mut() {
                group.members.remove(id);
            }
            let record = self.snapshot.users.remove(id);
            if !links.contains_key(id) {
                self.snapshot.outside.remove(id);
                continue;
            }
            match record {
                Some(user) => {
                    self.snapshot
                        .outside
                        .insert(id.clone(), Whereabouts::Exists(Box::new(user)));
                }
                None if self.snapshot.outside.contains_key(id) => {}
                None => lookups.push(id.clone()),
            }
        }
        lookups
    }
}

/// Applies a delta round to `cache`, reading from Graph only what the round cannot tell. On an
/// error the cache may be half-updated: drop it.
pub async fn apply_delta(
    client: &GraphClient,
    cache: &mut SourceCache,
    round: &DeltaRound,
    links: &Links,
) -> Result<Incremental, EntraError> {
    let mut pending = match cache.apply_round(round, links) {
        Ok(pending) => pending,
        Err(NeedsFull(why)) => return Ok(Incremental::NeedsFull(why)),
    };
    for group in std::mem::take(&mut pending.reread) {
        let members = match client.group_members(&group, true).await {
            Ok(members) => members,
            Err(EntraError::GroupNotFound { .. }) => {
                return Ok(Incremental::NeedsFull(format!(
                    "the paired Entra group {group} no longer exists"
                )));
            }
            Err(e) => return Err(e),
        };
        let nested = client.nested_group_ids(&group).await?;
        let members = members.into_iter().map(SourceUser::from).collect();
        cache.set_group_members(&group, members, nested.into_iter().collect(), &mut pending);
    }
    if !pending.fetch.is_empty() {
        let ids: Vec<String> = pending.fetch.iter().cloned().collect();
        let found = client.users_by_ids(&ids).await?;
        cache.add_users(
            found.into_iter().map(SourceUser::from).collect(),
            &mut pending,
        );
    }
    for id in cache.settle(links, &pending) {
        let whereabouts = match client.get_user(&id).await? {
            Some(user) => Whereabouts::Exists(Box::new(user.into())),
            None => Whereabouts::Deleted,
        };
        cache.snapshot.outside.insert(id, whereabouts);
    }
    Ok(Incremental::Touched(pending.touched))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::{
        EntraGroup, EntraUser, GroupChange, GroupsDelta, MemberRef, Removed, RemovedReason,
        UsersDelta,
    };

    const G1: &str = "g1";
    const G2: &str = "g2";
    const NESTED: &str = "g-nested";
    const UNDER: &str = "g-under";

    fn source_user(id: &str) -> SourceUser {
        SourceUser {
            id: id.into(),
            user_principal_name: format!("{id}@contoso.example"),
            job_title: Some("Agent".into()),
            account_enabled: true,
            ..SourceUser::default()
        }
    }

    fn entra_user(id: &str, title: &str) -> EntraUser {
        EntraUser {
            id: id.into(),
            user_principal_name: Some(format!("{id}@contoso.example")),
            job_title: Some(title.into()),
            account_enabled: Some(true),
            ..EntraUser::default()
        }
    }

    fn group(id: &str, members: &[&str]) -> SourceGroup {
        SourceGroup {
            id: id.into(),
            display_name: id.to_uppercase(),
            created: None,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    /// G1 {a, b}, G2 {c} direct; NESTED {d} with UNDER nested under it. `a` and `c` are linked,
    /// and `z` (linked) left every group earlier.
    fn cache() -> (SourceCache, Links) {
        let mut snapshot = SourceSnapshot::default();
        for g in [
            group(G1, &["a", "b"]),
            group(G2, &["c"]),
            group(NESTED, &["d"]),
        ] {
            snapshot.groups.insert(g.id.clone(), g);
        }
        for id in ["a", "b", "c", "d"] {
            snapshot.users.insert(id.into(), source_user(id));
        }
        snapshot
            .outside
            .insert("z".into(), Whereabouts::Exists(Box::new(source_user("z"))));
        let nested = BTreeMap::from([(NESTED.to_owned(), BTreeSet::from([UNDER.to_owned()]))]);
        let links = ["a", "c", "z"]
            .iter()
            .map(|id| {
                (
                    (*id).to_owned(),
                    Link {
                        entra_id: (*id).into(),
                        target_id: format!("t-{id}"),
                        ..Link::default()
                    },
                )
            })
            .collect();
        (
            SourceCache {
                snapshot,
                nested,
                target: TargetInfo::default(),
            },
            links,
        )
    }

    fn members(group_id: &str, added: &[&str], removed: &[&str]) -> GroupChange {
        let user = |id: &&str| MemberRef {
            id: (*id).into(),
            kind: ObjectKind::User,
        };
        GroupChange {
            group: EntraGroup {
                id: group_id.into(),
                ..EntraGroup::default()
            },
            members_added: added.iter().map(user).collect(),
            members_removed: removed.iter().map(user).collect(),
        }
    }

    fn round(users: UsersDelta, groups: GroupsDelta) -> DeltaRound {
        DeltaRound { users, groups }
    }

    fn touched(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_new_member_is_fetched_and_joins_the_group() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta::default(),
            GroupsDelta {
                changed: vec![members(G1, &["n"], &[])],
                ..GroupsDelta::default()
            },
        );
        let mut p = c.apply_round(&r, &links).unwrap();
        assert_eq!(p.fetch, touched(&["n"]));
        assert_eq!(p.touched, touched(&["n"]));
        assert!(c.snapshot.groups[G1].members.contains("n"));
        c.add_users(vec![source_user("n")], &mut p);
        assert!(c.settle(&links, &p).is_empty());
        assert_eq!(c.snapshot.users["n"], source_user("n"));
        assert!(p.fetch.is_empty());
    }

    #[test]
    fn a_member_that_vanished_before_its_fetch_leaves_the_group() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta::default(),
            GroupsDelta {
                changed: vec![members(G1, &["n"], &[])],
                ..GroupsDelta::default()
            },
        );
        let mut p = c.apply_round(&r, &links).unwrap();
        c.add_users(vec![], &mut p);
        c.settle(&links, &p);
        assert!(!c.snapshot.groups[G1].members.contains("n"));
        assert!(!c.snapshot.users.contains_key("n"));
    }

    #[test]
    fn a_removed_member_goes_outside_when_managed_and_away_when_not() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta::default(),
            GroupsDelta {
                changed: vec![members(G1, &[], &["a", "b"])],
                ..GroupsDelta::default()
            },
        );
        let p = c.apply_round(&r, &links).unwrap();
        assert_eq!(p.touched, touched(&["a", "b"]));
        assert!(c.settle(&links, &p).is_empty());
        assert!(c.snapshot.groups[G1].members.is_empty());
        assert!(!c.snapshot.users.contains_key("a"));
        assert_eq!(
            c.snapshot.outside["a"],
            Whereabouts::Exists(Box::new(source_user("a")))
        );
        assert!(!c.snapshot.outside.contains_key("b"), "b was never managed");
    }

    #[test]
    fn a_move_between_groups_keeps_the_user() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta::default(),
            GroupsDelta {
                changed: vec![members(G1, &[], &["a"]), members(G2, &["a"], &[])],
                ..GroupsDelta::default()
            },
        );
        let p = c.apply_round(&r, &links).unwrap();
        assert!(p.fetch.is_empty(), "the record is already cached");
        c.settle(&links, &p);
        assert!(c.snapshot.groups[G2].members.contains("a"));
        assert!(!c.snapshot.groups[G1].members.contains("a"));
        assert!(c.snapshot.users.contains_key("a"));
        assert!(!c.snapshot.outside.contains_key("a"));
    }

    #[test]
    fn an_edited_user_is_updated_and_an_unrelated_one_ignored() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta {
                changed: vec![
                    entra_user("b", "Lead"),
                    entra_user("stranger", "X"),
                    entra_user("z", "Back office"),
                ],
                ..UsersDelta::default()
            },
            GroupsDelta::default(),
        );
        let p = c.apply_round(&r, &links).unwrap();
        assert_eq!(p.touched, touched(&["b", "z"]));
        c.settle(&links, &p);
        assert_eq!(c.snapshot.users["b"].job_title.as_deref(), Some("Lead"));
        assert!(!c.snapshot.users.contains_key("stranger"));
        assert!(
            matches!(&c.snapshot.outside["z"], Whereabouts::Exists(u) if u.job_title.as_deref() == Some("Back office"))
        );
    }

    #[test]
    fn a_deleted_user_leaves_every_group_and_is_marked_deleted_when_managed() {
        let (mut c, links) = cache();
        let r = round(
            UsersDelta {
                removed: vec![
                    Removed {
                        id: "a".into(),
                        reason: RemovedReason::Changed,
                    },
                    Removed {
                        id: "b".into(),
                        reason: RemovedReason::Deleted,
                    },
                ],
                ..UsersDelta::default()
            },
            GroupsDelta::default(),
        );
        let p = c.apply_round(&r, &links).unwrap();
        assert_eq!(p.touched, touched(&["a", "b"]));
        assert!(c.settle(&links, &p).is_empty());
        assert!(c.snapshot.groups[G1].members.is_empty());
        assert_eq!(c.snapshot.outside["a"], Whereabouts::Deleted);
        assert!(!c.snapshot.outside.contains_key("b"));
        assert!(!c.snapshot.users.contains_key("a"));

        // Restored later: which groups it is back in is not in the delta; a full cycle runs.
        let back = round(
            UsersDelta {
                changed: vec![entra_user("a", "Agent")],
                ..UsersDelta::default()
            },
            GroupsDelta::default(),
        );
        let err = c.apply_round(&back, &links).unwrap_err();
        assert!(err.0.contains("restored"), "{err}");
    }

    #[test]
    fn a_deleted_paired_group_needs_a_full_cycle_and_other_groups_do_not() {
        let (mut c, links) = cache();
        let gone = |id: &str| GroupsDelta {
            removed: vec![Removed {
                id: id.into(),
                reason: RemovedReason::Deleted,
            }],
            ..GroupsDelta::default()
        };
        let p = c
            .apply_round(&round(UsersDelta::default(), gone("other")), &links)
            .unwrap();
        assert_eq!(p, Pending::default());
        let err = c
            .apply_round(&round(UsersDelta::default(), gone(G2)), &links)
            .unwrap_err();
        assert!(err.0.contains("G2") && err.0.contains("deleted"), "{err}");
    }

    #[test]
    fn a_change_under_a_nested_pair_rereads_it() {
        let (mut c, links) = cache();
        // A member added directly to the nested pair's group needs no read.
        let p = c
            .apply_round(
                &round(
                    UsersDelta::default(),
                    GroupsDelta {
                        changed: vec![members(NESTED, &["e"], &[])],
                        ..GroupsDelta::default()
                    },
                ),
                &links,
            )
            .unwrap();
        assert!(p.reread.is_empty());
        assert_eq!(p.fetch, touched(&["e"]));
        // A member removed from it might still be one through UNDER; so might a change to UNDER.
        for change in [members(NESTED, &[], &["d"]), members(UNDER, &["f"], &[])] {
            let p = c
                .apply_round(
                    &round(
                        UsersDelta::default(),
                        GroupsDelta {
                            changed: vec![change],
                            ..GroupsDelta::default()
                        },
                    ),
                    &links,
                )
                .unwrap();
            assert_eq!(p.reread, touched(&[NESTED]));
        }
        // The read replaces the members; who joined or left is touched.
        let mut p = Pending::default();
        c.set_group_members(
            NESTED,
            vec![source_user("d"), source_user("f")],
            touched(&[UNDER]),
            &mut p,
        );
        assert_eq!(p.touched, touched(&["e", "f"]));
        assert_eq!(c.snapshot.groups[NESTED].members, touched(&["d", "f"]));
    }

    #[test]
    fn a_cache_fits_only_the_pairs_it_was_read_for() {
        let text = "version = 1\n[entra]\ntenant = \"contoso.example\"\nclient_id = \
             \"11111111-2222-3333-4444-555555555555\"\nclient_secret = \"env:X\"\n[target]\n\
             url = \"http://127.0.0.1:1\"\ntoken = \"env:Y\"\n[[pairs]]\nentra_group_id = \
             \"00000000-0000-0000-0000-00000000000a\"\ntarget_group_id = \"t1\"\norder = 1\n\
             nested = false\n";
        let settings = Settings::from_file(&crate::config::parse_str(text).unwrap());
        let id = "00000000-0000-0000-0000-00000000000a";
        let mut c = SourceCache::default();
        c.snapshot.groups.insert(id.into(), group(id, &[]));
        c.target.group_names.insert("t1".into(), "T1".into());
        assert!(c.fits(&settings));
        c.target.group_names.insert("t2".into(), "T2".into());
        assert!(!c.fits(&settings), "target groups differ");
        c.target.group_names.remove("t2");
        c.nested.insert(id.into(), BTreeSet::new());
        assert!(!c.fits(&settings), "nested flag differs");
    }
}
