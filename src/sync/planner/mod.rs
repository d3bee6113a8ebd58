//! `plan()`: the rules R1–R11 of SPEC §2 as one pure function. No I/O, no clock, no randomness:
//! the same snapshots, links and settings always give the same plan.

use std::collections::BTreeSet;

// Hash maps keyed by ids and emails, with foldhash: SipHash was a tenth of plan() at 100,000 users.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

mod values;

pub use super::guard::mass_disable_guard;
use super::guard::{unlink_guard, wipe_guard, wipes};
use super::mapping::{
    DesiredUser, DesiredView, MappingSet, differences, hash_fingerprint, tagged_hash,
};
use super::model::*;
use super::order::sort_actions;
use super::plan::*;
use super::scope::{ScopeVerdict, scope_verdict};
use super::target_index::TargetIndex;
use crate::config::{GroupMode, Pair, Settings};
use values::{disable_reason, entra_name, roles_change, roles_for, to_changes};

/// What `plan()` reads.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    pub settings: &'a Settings,
    pub source: &'a SourceSnapshot,
    pub target: &'a TargetSnapshot,
    pub links: &'a Links,
}

/// Why no plan can be made: the data is not complete enough to act on (R10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the paired Entra group {id} ({name}) no longer exists; nothing was changed. Fix the pair \
         in the config (or the wizard) and run again"
    )]
    EntraGroupMissing { id: String, name: String },
    #[error(
        "the paired target group {id} ({name}) no longer exists in the application; nothing was \
         changed. Fix the pair in the config (or the wizard) and run again"
    )]
    TargetGroupMissing { id: String, name: String },
    #[error(
        "the source snapshot does not say what became of managed user {entra_id}; nothing was \
         changed (incomplete data)"
    )]
    Incomplete { entra_id: String },
}

struct Planner<'a> {
    input: PlanInput<'a>,
    /// The paired target groups as the plan names them, made once for all their actions.
    groups: HashMap<&'a str, GroupRef>,
    /// The mapping set's fingerprint (empty for the default mapping).
    fingerprint: String,
    actions: Vec<Action>,
    warnings: Vec<Warning>,
    fixes: Vec<StateFix>,
    unchanged: usize,
}

impl<'a> Planner<'a> {
    fn group_ref(&self, target_group_id: &str) -> GroupRef {
        match self.groups.get(target_group_id) {
            Some(group) => group.clone(),
            None => group_ref(self.input.target, target_group_id),
        }
    }

    /// A target group's id, shared with its [`GroupRef`].
    fn group_id(&self, target_group_id: &str) -> Text {
        self.group_ref(target_group_id).id
    }

    fn entra_group_name(&self, pair: &Pair) -> String {
        self.input
            .source
            .groups
            .get(&pair.entra_group_id)
            .map(|g| g.display_name.clone())
            .unwrap_or_else(|| pair.entra_group_id.clone())
    }

    fn is_member(&self, group: &str, target_user: &str) -> bool {
        self.input
            .target
            .groups
            .get(group)
            .is_some_and(|g| g.members.contains(target_user))
    }

    /// The target groups a user belongs in (R1), given the pairs it qualifies for (in precedence order).
    fn wanted_groups(&self, qualifying: &[&'a Pair]) -> Vec<Text> {
        match self.input.settings.policy.group_mode {
            GroupMode::Single => qualifying
                .first()
                .map(|p| vec![self.group_id(&p.target_group_id)])
                .unwrap_or_default(),
            GroupMode::All => {
                let mut seen = BTreeSet::new();
                qualifying
                    .iter()
                    .filter(|p| seen.insert(p.target_group_id.as_str()))
                    .map(|p| self.group_id(&p.target_group_id))
                    .collect()
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn action(
        &self,
        kind: ActionKind,
        user: &SourceUser,
        target_user_id: Option<&str>,
        groups: &[Text],
        changes: Vec<Change>,
        reason: String,
        execution: Execution,
    ) -> Action {
        let (target_group, target_groups) = match self.input.settings.policy.group_mode {
            GroupMode::Single => (groups.first().map(|g| self.group_ref(g)), None),
            GroupMode::All => (
                None,
                Some(groups.iter().map(|g| self.group_ref(g)).collect()),
            ),
        };
        Action {
            kind,
            entra_id: user.id.clone(),
            user_principal_name: user.user_principal_name.clone(),
            email: user.email().to_owned(),
            target_user_id: target_user_id.map(str::to_owned),
            target_group,
            target_groups,
            changes,
            reason,
            result: None,
            execution,
        }
    }

    fn skip(&mut self, user: &SourceUser, groups: &[Text], reason: &str) {
        let action = self.action(
            ActionKind::Skip,
            user,
            None,
            groups,
            Vec::new(),
            reason.to_owned(),
            Execution::default(),
        );
        self.actions.push(action);
    }

    /// R4, R5, R7 (and R1 `all`) for a user adsync already manages.
    fn managed(
        &mut self,
        user: &SourceUser,
        link: &Link,
        current: &TargetUser,
        view: DesiredView<'_>,
        hash: String,
        wanted: Vec<Text>,
    ) {
        let pending = link.is_pending_manual();
        let entra_changed = link.values_hash != hash;
        // The owned record only for a user whose values changed or who gets an action.
        let mut desired = entra_changed.then(|| view.to_desired());
        let mut changes = match &mut desired {
            Some(desired) => {
                let mut changes = to_changes(differences(desired, current));
                changes.extend(roles_change(desired, current, &link.roles_given));
                changes
            }
            None => Vec::new(),
        };
        let enable = !current.active && link.disabled_by_adsync;
        if enable && !changes.iter().any(|c| c.field == "active") {
            changes.push(Change {
                field: "active".into(),
                from: Some("false".into()),
                to: Some("true".into()),
            });
        }

        let mut execution = Execution {
            values_hash: hash.clone(),
            ..Execution::default()
        };
        let mut move_reason = None;
        match self.input.settings.policy.group_mode {
            GroupMode::Single => {
                if let Some(want) = wanted.first().cloned()
                    && link.group.as_deref() != Some(&*want)
                {
                    if !self.is_member(&want, &current.id) {
                        execution.add_to.push(want.clone());
                    }
                    if let Some(old) = &link.group
                        && self.is_member(old, &current.id)
                    {
                        execution.remove_from.push(self.group_id(old));
                    }
                    execution.record_group = Some(Some(want.clone()));
                    let to = self.group_ref(&want).name;
                    move_reason = Some(match &link.group {
                        Some(old) => format!("moved from {} to {to}", self.group_ref(old).name),
                        None => format!("added to {to}"),
                    });
                }
                // Same group but moved by someone in the target: leave it there (R5). A group
                // a move joined the user to but did not get to leave (cut off, or refused) is
                // kept in `groups_added`: left now, so the user ends in one group (R1).
                if let Some(want) = wanted.first() {
                    for g in &link.groups_added {
                        if **g != **want
                            && !execution.remove_from.iter().any(|r| **r == **g)
                            && self.is_member(g, &current.id)
                        {
                            execution.remove_from.push(self.group_id(g));
                        }
                    }
                    if move_reason.is_none() && !execution.remove_from.is_empty() {
                        let names: Vec<Text> = execution
                            .remove_from
                            .iter()
                            .map(|g| self.group_ref(g).name)
                            .collect();
                        move_reason = Some(format!(
                            "removed from {}, finishing an earlier move",
                            names.join(", ")
                        ));
                        execution.record_group = Some(Some(want.clone()));
                    }
                }
            }
            GroupMode::All => {
                for g in &wanted {
                    if !self.is_member(g, &current.id) && !link.groups_added.contains(&**g) {
                        execution.add_to.push(g.clone());
                    }
                }
                for g in &link.groups_added {
                    if !wanted.iter().any(|w| **w == **g) && self.is_member(g, &current.id) {
                        execution.remove_from.push(self.group_id(g));
                    }
                }
                if !execution.add_to.is_empty() || !execution.remove_from.is_empty() {
                    let names = |ids: &[Text]| {
                        ids.iter()
                            .map(|g| self.group_ref(g).name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    move_reason = Some(
                        match (
                            execution.add_to.is_empty(),
                            execution.remove_from.is_empty(),
                        ) {
                            (false, true) => format!("added to {}", names(&execution.add_to)),
                            (true, false) => {
                                format!("removed from {}", names(&execution.remove_from))
                            }
                            _ => format!(
                                "added to {}; removed from {}",
                                names(&execution.add_to),
                                names(&execution.remove_from)
                            ),
                        },
                    );
                }
            }
        }

        let (kind, reason) = if let Some(manual) = link.manual.as_ref().filter(|_| pending) {
            // A link made by hand and not yet synced: an R2 link, whatever else changes.
            (ActionKind::Link, format!("linked by hand by {}", manual.by))
        } else if enable {
            (ActionKind::Enable, "back in scope".to_owned())
        } else if let Some(reason) = move_reason {
            (ActionKind::Move, reason)
        } else if !changes.is_empty() {
            if hash_fingerprint(&link.values_hash) != self.fingerprint {
                (ActionKind::Update, "mapping changed".to_owned())
            } else {
                let fields: BTreeSet<&str> = changes.iter().map(|c| entra_name(&c.field)).collect();
                let fields: Vec<&str> = fields.into_iter().collect();
                (ActionKind::Update, format!("{} changed", fields.join(", ")))
            }
        } else {
            if entra_changed {
                self.fixes.push(StateFix::Rehash {
                    entra_id: user.id.clone(),
                    values_hash: hash,
                });
            }
            self.unchanged += 1;
            return;
        };
        let desired = desired.take().unwrap_or_else(|| view.to_desired());
        execution.record = Record::Full(Box::new(desired));
        let action = self.action(
            kind,
            user,
            Some(&current.id),
            &wanted,
            changes,
            reason,
            execution,
        );
        self.actions.push(action);
    }

    /// R2 and R3 for an in-scope user with no link.
    fn unlinked(
        &mut self,
        user: &SourceUser,
        view: DesiredView<'_>,
        hash: String,
        wanted: Vec<Text>,
        index: &TargetIndex<'_>,
        first_pair: &Pair,
    ) {
        let by_external = index.by_external_id.get(user.id.as_str());
        let (hits, how): (Vec<&str>, &str) = match by_external {
            Some(ids) => (ids.clone(), "externalId"),
            None => {
                let mut hits = BTreeSet::new();
                // R2 with SPEC §3.1: the mapped work email and the mapped userName.
                let email = match view.emails() {
                    "" => user.email(),
                    mapped => mapped,
                };
                let mut look_alikes = BTreeSet::new();
                for key in [email, view.user_name()] {
                    index.matches(key, &mut hits, &mut look_alikes);
                }
                if hits.is_empty() && !look_alikes.is_empty() {
                    // Matched only through Unicode folding or non-ASCII text: never guessed.
                    let found: Vec<&str> = look_alikes.into_iter().collect();
                    self.warnings.push(Warning {
                        code: "look-alike-match".into(),
                        message: format!(
                            "{} resembles target user(s) {} only through non-ASCII or look-alike \
                             characters in the email or userName; skipped rather than guess. If \
                             they are the same person, link them with `adsync link`; otherwise \
                             rename the target user",
                            user.user_principal_name,
                            found.join(", ")
                        ),
                        entra_ids: vec![user.id.clone()],
                    });
                    self.skip(user, &wanted, "look-alike-match");
                    return;
                }
                (hits.into_iter().collect(), "email")
            }
        };
        match hits.as_slice() {
            [] => {
                // Compact until apply time: a first sync creates nearly every user.
                let execution = Execution {
                    record: Record::Create(view.to_record()),
                    values_hash: hash,
                    add_to: wanted.clone(),
                    remove_from: Vec::new(),
                    record_group: Some(wanted.first().cloned()),
                };
                let reason = format!("new in {}", self.entra_group_name(first_pair));
                let action = self.action(
                    ActionKind::Create,
                    user,
                    None,
                    &wanted,
                    Vec::new(),
                    reason,
                    execution,
                );
                self.actions.push(action);
            }
            [one] => {
                if let Some(other) = index.linked_to.get(one) {
                    self.warnings.push(Warning {
                        code: "already-linked".into(),
                        message: format!(
                            "{} matches target user {one} by {how}, but that user is already linked \
                             to Entra user {other}; skipped. Fix the email or userName in one of them",
                            user.user_principal_name
                        ),
                        entra_ids: vec![user.id.clone(), (*other).to_owned()],
                    });
                    self.skip(user, &wanted, "already-linked");
                    return;
                }
                let current = &self.input.target.users[*one];
                let mut desired = view.to_desired();
                let mut changes = to_changes(differences(&mut desired, current));
                changes.extend(roles_change(&mut desired, current, &BTreeSet::new()));
                let add_to = wanted
                    .iter()
                    .filter(|g| !self.is_member(g, one))
                    .cloned()
                    .collect();
                let execution = Execution {
                    record: Record::Full(Box::new(desired)),
                    values_hash: hash,
                    add_to,
                    remove_from: Vec::new(),
                    record_group: Some(wanted.first().cloned()),
                };
                let action = self.action(
                    ActionKind::Link,
                    user,
                    Some(one),
                    &wanted,
                    changes,
                    format!("matched by {how}"),
                    execution,
                );
                self.actions.push(action);
            }
            // Several users carrying this Entra id: the duplicate-externalId warning names them.
            _ if how == "externalId" => self.skip(user, &wanted, "duplicate-externalId"),
            many => {
                self.warnings.push(Warning {
                    code: "ambiguous-match".into(),
                    message: format!(
                        "{} matches {} target users by {how} ({}); skipped rather than guess. \
                         Remove or rename the extra target users",
                        user.user_principal_name,
                        many.len(),
                        many.join(", ")
                    ),
                    entra_ids: vec![user.id.clone()],
                });
                self.skip(user, &wanted, "ambiguous-match");
            }
        }
    }
}

/// A target group as the plan names it (its name empty when the snapshot does not hold it).
fn group_ref(target: &TargetSnapshot, target_group_id: &str) -> GroupRef {
    let name = target
        .groups
        .get(target_group_id)
        .map_or("", |g| g.display_name.as_str());
    GroupRef {
        id: target_group_id.into(),
        name: name.into(),
    }
}

/// R13: target users sharing one Entra user's id as externalId (left by two writers at once, or
/// a create repeated blindly) are named in a `duplicate-externalId` warning. An unlinked user is
/// skipped (in `unlinked`); a linked one stays managed through its link, the extra accounts
/// left for the administrator to remove.
fn duplicate_external_ids(
    planner: &mut Planner<'_>,
    index: &TargetIndex<'_>,
    source: &SourceSnapshot,
    links: &HashMap<&str, &Link>,
    in_part: &dyn Fn(&str) -> bool,
) {
    for (entra_id, target_ids) in index.duplicate_external_ids() {
        let known = source
            .users
            .get(entra_id)
            .or_else(|| match source.outside.get(entra_id) {
                Some(Whereabouts::Exists(user)) => Some(&**user),
                _ => None,
            });
        if !in_part(entra_id) || (known.is_none() && !links.contains_key(entra_id)) {
            continue;
        }
        let who = known.map_or(entra_id, |u| u.user_principal_name.as_str());
        let what_now = match links.get(entra_id) {
            Some(link) => format!(
                "adsync keeps managing {}, the one it is linked to; remove or disable the others",
                link.target_id
            ),
            None => "the user is skipped rather than guess; remove the extra accounts or choose \
                     one with `adsync link`"
                .to_owned(),
        };
        planner.warnings.push(Warning {
            code: "duplicate-externalId".into(),
            message: format!(
                "{} target users carry the Entra id of {who} as externalId ({}); {what_now}",
                target_ids.len(),
                target_ids.join(", ")
            ),
            entra_ids: vec![entra_id.to_owned()],
        });
    }
}

/// The Entra users a partial plan covers (an incremental cycle). Only they get actions; the target
/// snapshot needs to hold only their target users, the users that match them (R2) and their group
/// memberships; nobody outside is planned for, so nobody outside is touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialScope {
    /// The Entra ids to plan for.
    pub users: BTreeSet<String>,
    /// How many managed users outside `users` are active in the target, for the mass-disable
    /// guard (R11), which counts against the whole managed population.
    pub active_managed_outside: usize,
}

/// Computes the plan (R1–R11). Fails, changing nothing, when a paired group is missing or the
/// snapshot does not account for a managed user (R10).
pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    plan_scoped(input, None)
}

/// [`plan()`] for the users of `scope` only: for each of them the same actions a full plan gives,
/// provided the target snapshot holds their target users and every target user matching them.
pub fn plan_partial(input: PlanInput<'_>, scope: &PartialScope) -> Result<Plan, PlanError> {
    plan_scoped(input, Some(scope))
}

fn plan_scoped(input: PlanInput<'_>, partial: Option<&PartialScope>) -> Result<Plan, PlanError> {
    let PlanInput {
        settings,
        source,
        target,
        links,
    } = input;
    let in_part = |id: &str| partial.is_none_or(|p| p.users.contains(id));
    for pair in &settings.pairs {
        if !source.groups.contains_key(&pair.entra_group_id) {
            return Err(PlanError::EntraGroupMissing {
                id: pair.entra_group_id.clone(),
                name: pair.entra_group_name.clone().unwrap_or_default(),
            });
        }
        if !target.groups.contains_key(&pair.target_group_id) {
            return Err(PlanError::TargetGroupMissing {
                id: pair.target_group_id.clone(),
                name: pair.target_group_name.clone().unwrap_or_default(),
            });
        }
    }
    // Precedence (R1): `order`, then the Entra group's age, then its id.
    let mut pairs: Vec<&Pair> = settings.pairs.iter().collect();
    pairs.sort_by(|a, b| {
        let created = |p: &Pair| source.groups[&p.entra_group_id].created.clone();
        a.order
            .cmp(&b.order)
            .then_with(|| match (created(a), created(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.entra_group_id.cmp(&b.entra_group_id))
    });

    // Which pairs each member qualifies for, in precedence order. Lookups by id go through hash
    // maps built once here: B-tree lookups by 36-character ids, each comparison a pointer chase,
    // were a third of plan()'s time at 100,000 users (docs/PERFORMANCE.md). Users are visited in
    // id order, so plans stay deterministic.
    let mut member_of: HashMap<&str, Vec<&Pair>> =
        HashMap::with_capacity_and_hasher(source.users.len(), Default::default());
    for pair in &pairs {
        for id in &source.groups[&pair.entra_group_id].members {
            member_of.entry(id.as_str()).or_default().push(pair);
        }
    }
    let policy = &settings.policy;
    let mut in_scope: Vec<(&str, &SourceUser, Vec<&Pair>)> = Vec::with_capacity(member_of.len());
    let mut out_of_scope: HashSet<&str> = HashSet::default();
    for (id, user) in &source.users {
        let Some(qualifying) = member_of.remove(id.as_str()) else {
            continue;
        };
        match scope_verdict(user, settings) {
            ScopeVerdict::InScope => in_scope.push((id, user, qualifying)),
            // A disabled account is disabled (R6), not out of scope.
            ScopeVerdict::Disabled => {}
            ScopeVerdict::Guest | ScopeVerdict::FailsRule(_) => {
                out_of_scope.insert(id);
            }
        }
    }
    drop(member_of);
    let links_by_id: HashMap<&str, &Link> = links.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let target_by_id: HashMap<&str, &TargetUser> =
        target.users.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let in_scope_ids: HashSet<&str> = in_scope.iter().map(|(id, _, _)| *id).collect();

    let mappings = MappingSet::new(&settings.mappings);
    let manager = |entra_id: &str| links_by_id.get(entra_id).map(|l| l.target_id.clone());
    let mut planner = Planner {
        input,
        groups: settings
            .pairs
            .iter()
            .map(|p| {
                let id = p.target_group_id.as_str();
                (id, group_ref(target, id))
            })
            .collect(),
        fingerprint: mappings.fingerprint().to_owned(),
        actions: Vec::new(),
        warnings: Vec::new(),
        fixes: Vec::new(),
        unchanged: 0,
    };
    let index = TargetIndex::new(target, links);

    // R9: unlinked in-scope users sharing an email.
    let mut by_email: HashMap<String, Vec<&str>> = HashMap::default();
    for (id, user, _) in &in_scope {
        // Outside a partial scope the target user was not read; its link is taken as good.
        let linked = links_by_id
            .get(*id)
            .is_some_and(|l| target_by_id.contains_key(l.target_id.as_str()) || !in_part(id));
        if !linked {
            by_email
                .entry(user.email().to_lowercase())
                .or_default()
                .push(id);
        }
    }
    // Warnings in email order, whatever order the hash map holds them in.
    let mut shared: Vec<(String, Vec<&str>)> = by_email
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    shared.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut duplicates: HashSet<&str> = HashSet::default();
    for (email, ids) in &shared {
        duplicates.extend(ids.iter().copied());
        if !ids.iter().any(|id| in_part(id)) {
            continue;
        }
        let upns: Vec<&str> = ids
            .iter()
            .map(|id| source.users[*id].user_principal_name.as_str())
            .collect();
        planner.warnings.push(Warning {
            code: "duplicate-email".into(),
            message: format!(
                "{} Entra users share the email {email} ({}); none of them is synchronized \
                 until the email is unique",
                ids.len(),
                upns.join(", ")
            ),
            entra_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        });
    }

    for (id, user, qualifying) in &in_scope {
        if !in_part(id) {
            continue;
        }
        let wanted = planner.wanted_groups(qualifying);
        let roles = roles_for(qualifying, policy.group_mode);
        // Borrowed from the user and the mappings: most users, most cycles, need no copy.
        let view = mappings.view(user, policy.username, roles, &manager);
        let hash = tagged_hash(mappings.fingerprint(), view.values_hash());
        let link = links_by_id.get(*id).copied();
        let current = link.and_then(|l| target_by_id.get(l.target_id.as_str()).copied());
        match (link, current) {
            (Some(link), Some(current)) => {
                planner.managed(user, link, current, view, hash, wanted);
            }
            (maybe_link, _) => {
                if maybe_link.is_some() {
                    planner.fixes.push(StateFix::Unlink {
                        entra_id: user.id.clone(),
                    });
                }
                if duplicates.contains(id) {
                    planner.skip(user, &wanted, "duplicate-email");
                } else {
                    planner.unlinked(user, view, hash, wanted, &index, qualifying[0]);
                }
            }
        }
    }

    duplicate_external_ids(&mut planner, &index, source, &links_by_id, &in_part);

    // R6: managed users no longer in scope.
    let mut active_managed = partial.map_or(0, |p| p.active_managed_outside);
    for link in links.values() {
        if !in_part(&link.entra_id) {
            continue;
        }
        let Some(current) = target_by_id.get(link.target_id.as_str()) else {
            if !in_scope_ids.contains(link.entra_id.as_str()) {
                planner.fixes.push(StateFix::Unlink {
                    entra_id: link.entra_id.clone(),
                });
            }
            continue;
        };
        if current.active {
            active_managed += 1;
        }
        if in_scope_ids.contains(link.entra_id.as_str()) || !current.active {
            continue;
        }
        let reason = disable_reason(&link.entra_id, source, &out_of_scope)?;
        let user = source
            .users
            .get(&link.entra_id)
            .cloned()
            .or_else(|| match source.outside.get(&link.entra_id) {
                Some(Whereabouts::Exists(u)) => Some((**u).clone()),
                _ => None,
            })
            .unwrap_or_else(|| SourceUser {
                id: link.entra_id.clone(),
                user_principal_name: current.user_name.clone(),
                mail: current.emails.first().map(|e| Text::from(e.as_str())),
                ..SourceUser::default()
            });
        let mut action = planner.action(
            ActionKind::Disable,
            &user,
            Some(&current.id),
            &[],
            Vec::new(),
            reason.to_owned(),
            Execution::default(),
        );
        // A disabled user's memberships are left as they are (R6); no group applies.
        action.target_group = None;
        action.target_groups = None;
        planner.actions.push(action);
    }

    let Planner {
        mut actions,
        warnings,
        fixes,
        unchanged,
        ..
    } = planner;
    sort_actions(&mut actions);
    let mut plan = Plan::new(actions, warnings, unchanged, fixes);
    plan.blocked = guards(&plan, active_managed, settings);
    Ok(plan)
}

/// R11's three guards, counted separately, the first that withholds the plan winning:
/// disables, then attribute wipes, then links dropped because their target users are gone.
fn guards(plan: &Plan, active_managed: usize, settings: &Settings) -> Option<Blocked> {
    let (max, percent) = (
        settings.policy.max_disables,
        settings.policy.max_disable_percent,
    );
    let disables = plan.summary.disable;
    if let Some(blocked) = mass_disable_guard(disables, active_managed, max, percent) {
        return Some(blocked);
    }
    let (wiping, fields) = wipes(&plan.actions);
    if let Some(blocked) = wipe_guard(wiping, &fields, disables, active_managed, max, percent) {
        return Some(blocked);
    }
    let unlinks = plan
        .state_fixes
        .iter()
        .filter(|f| matches!(f, StateFix::Unlink { .. }))
        .count();
    // The vanished users were managed too: the base is every managed user the plan saw.
    unlink_guard(unlinks, disables, active_managed + unlinks, max, percent)
}
