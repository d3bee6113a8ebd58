//! The planner against small fixtures: one test per rule and edge of SPEC §2 (`rules`), property
//! tests that apply plans to an in-memory target and plan again, full and partial (`properties`),
//! and attribute mappings and roles (`mappings`). This module holds the fixtures they share.

mod crash;
mod manual;
mod mappings;
mod properties;
mod rules;

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::config::{GroupMode, Settings, UsernamePolicy, parse_str};

pub(crate) const SUPPORT: &str = "00000000-0000-0000-0000-00000000000a";
pub(crate) const SALES: &str = "00000000-0000-0000-0000-00000000000b";

/// Settings pairing Support → tier-1 (order 1) and Sales → tier-2 (order 2), plus `extra` TOML.
pub(crate) fn settings(extra: &str) -> Settings {
    let text = format!(
        r#"version = 1
[entra]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:X"
[target]
url = "http://127.0.0.1:1/scim"
token = "env:Y"
[[pairs]]
entra_group_id = "{SUPPORT}"
target_group_id = "tier-1"
order = 1
[[pairs]]
entra_group_id = "{SALES}"
target_group_id = "tier-2"
order = 2
{extra}"#
    );
    Settings::from_file(&parse_str(&text).unwrap())
}

/// A member user `name@contoso.example`, job title "Agent".
pub(crate) fn user(id: &str, name: &str) -> SourceUser {
    SourceUser {
        id: id.into(),
        user_principal_name: format!("{name}@contoso.example"),
        mail: Some(format!("{name}@contoso.example").into()),
        given_name: Some(name.to_uppercase().into()),
        surname: Some("Example".into()),
        display_name: Some(format!("{} Example", name.to_uppercase()).into()),
        job_title: Some("Agent".into()),
        account_enabled: true,
        user_type: Some("Member".into()),
        ..SourceUser::default()
    }
}

/// A tenant, a target and links, plus an in-memory apply: the reference model of a sync.
#[derive(Clone, Debug)]
struct World {
    settings: Settings,
    source: SourceSnapshot,
    target: TargetSnapshot,
    links: Links,
    next_id: usize,
}

impl World {
    fn new(settings: Settings) -> Self {
        let mut source = SourceSnapshot::default();
        for (id, name, created) in [
            (SUPPORT, "Support", "2020-01-01T00:00:00Z"),
            (SALES, "Sales", "2019-01-01T00:00:00Z"),
        ] {
            source.groups.insert(
                id.into(),
                SourceGroup {
                    id: id.into(),
                    display_name: name.into(),
                    created: Some(created.into()),
                    members: BTreeSet::new(),
                },
            );
        }
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
        Self {
            settings,
            source,
            target,
            links: Links::new(),
            next_id: 0,
        }
    }

    fn add(&mut self, u: SourceUser, groups: &[&str]) {
        for g in groups {
            self.source
                .groups
                .get_mut(*g)
                .unwrap()
                .members
                .insert(u.id.clone());
        }
        self.source.users.insert(u.id.clone(), u);
    }

    /// Removes a user from every paired group; the snapshot then reports where it went.
    fn remove_from_groups(&mut self, id: &str, whereabouts: Whereabouts) {
        for g in self.source.groups.values_mut() {
            g.members.remove(id);
        }
        self.source.users.remove(id);
        self.source.outside.insert(id.into(), whereabouts);
    }

    fn target_user(&mut self, user_name: &str, external_id: Option<&str>) -> String {
        self.next_id += 1;
        let id = format!("t{}", self.next_id);
        self.target.users.insert(
            id.clone(),
            TargetUser {
                id: id.clone(),
                external_id: external_id.map(str::to_owned),
                user_name: user_name.into(),
                emails: vec![user_name.into()],
                active: true,
                ..TargetUser::default()
            },
        );
        id
    }

    fn plan(&self) -> Plan {
        plan(PlanInput {
            settings: &self.settings,
            source: &self.source,
            target: &self.target,
            links: &self.links,
        })
        .expect("plan")
    }

    /// Applies a plan to the in-memory target and links, as `apply()` does through SCIM.
    fn apply(&mut self, plan: &Plan) {
        for a in &plan.actions {
            let ex = &a.execution;
            let target_id = match a.kind {
                ActionKind::Skip => continue,
                ActionKind::Create => {
                    self.next_id += 1;
                    let id = format!("t{}", self.next_id);
                    self.target.users.insert(
                        id.clone(),
                        TargetUser {
                            id: id.clone(),
                            ..TargetUser::default()
                        },
                    );
                    id
                }
                _ => a.target_user_id.clone().unwrap(),
            };
            let tu = self.target.users.get_mut(&target_id).unwrap();
            if a.kind == ActionKind::Disable {
                tu.active = false;
                self.links.get_mut(&a.entra_id).unwrap().disabled_by_adsync = true;
                continue;
            }
            if let Some(d) = ex.desired()
                && (a.kind == ActionKind::Create || !a.changes.is_empty())
            {
                for c in &a.changes {
                    assert!(!c.field.is_empty());
                }
                let fields: BTreeSet<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
                write_fields(tu, &d, a.kind == ActionKind::Create, &fields);
            }
            for g in &ex.add_to {
                self.target
                    .groups
                    .get_mut(&**g)
                    .unwrap()
                    .members
                    .insert(target_id.clone());
            }
            for g in &ex.remove_from {
                self.target
                    .groups
                    .get_mut(&**g)
                    .unwrap()
                    .members
                    .remove(&target_id);
            }
            let link = self
                .links
                .entry(a.entra_id.clone())
                .or_insert_with(|| Link {
                    entra_id: a.entra_id.clone(),
                    target_id: target_id.clone(),
                    ..Link::default()
                });
            link.target_id = target_id.clone();
            link.values_hash = ex.values_hash.clone();
            link.disabled_by_adsync = false;
            if let Some(roles) = ex.roles() {
                link.roles_given = roles.into_iter().collect();
            }
            if let Some(g) = &ex.record_group {
                link.group = g.as_deref().map(str::to_owned);
            }
            if self.settings.policy.group_mode == GroupMode::All {
                link.groups_added
                    .extend(ex.add_to.iter().map(|g| g.to_string()));
                for g in &ex.remove_from {
                    link.groups_added.remove(&**g);
                }
            }
        }
        for fix in &plan.state_fixes {
            match fix {
                StateFix::Rehash {
                    entra_id,
                    values_hash,
                } => {
                    self.links.get_mut(entra_id).unwrap().values_hash = values_hash.clone();
                }
                StateFix::Unlink { entra_id } => {
                    self.links.remove(entra_id);
                }
            }
        }
    }

    fn sync(&mut self) -> Plan {
        let plan = self.plan();
        self.apply(&plan);
        plan
    }
}

/// Writes `fields` (plan field paths) of `d` to the target user, or every mapped one with
/// `write_all` (a create), as the SCIM client's writes do.
pub(super) fn write_fields(
    tu: &mut TargetUser,
    d: &DesiredUser,
    write_all: bool,
    fields: &BTreeSet<&str>,
) {
    let w = |f: &str| write_all || fields.contains(f);
    if w("userName") {
        tu.user_name = d.user_name.clone();
    }
    if w("externalId") {
        tu.external_id = Some(d.external_id.clone());
    }
    if w("active") {
        tu.active = d.active;
    }
    if w("name.givenName") {
        tu.given_name = d.given_name.clone();
    }
    if w("name.familyName") {
        tu.family_name = d.family_name.clone();
    }
    if w("displayName") {
        tu.display_name = d.display_name.clone();
    }
    if w("emails") {
        tu.emails = if d.emails.is_empty() {
            Vec::new()
        } else {
            vec![d.emails.clone()]
        };
    }
    if w("phoneNumbers") {
        tu.phone = d.phone.clone();
    }
    if w("title") {
        tu.title = d.title.clone();
    }
    if w("department") {
        tu.department = d.department.clone();
    }
    if w("employeeNumber") {
        tu.employee_number = d.employee_number.clone();
    }
    // SPEC §3.1: the other mapped paths, and the roles list.
    if write_all {
        tu.extra = d.extra.clone();
    }
    for key in fields
        .iter()
        .filter(|f| !crate::config::DEFAULT_TARGETS.contains(f))
    {
        match d.extra.get(*key) {
            Some(v) => {
                tu.extra.insert((*key).to_owned(), v.clone());
            }
            None => {
                tu.extra.remove(*key);
            }
        }
    }
    if w("roles") {
        tu.roles = d.roles_write.clone().unwrap_or_else(|| d.roles.clone());
    }
}

fn kinds(plan: &Plan) -> Vec<(ActionKind, String, String)> {
    plan.actions
        .iter()
        .map(|a| (a.kind, a.user_principal_name.clone(), a.reason.clone()))
        .collect()
}

fn only(plan: &Plan) -> &Action {
    assert_eq!(plan.actions.len(), 1, "{:#?}", kinds(plan));
    &plan.actions[0]
}

fn world() -> World {
    World::new(settings(""))
}
