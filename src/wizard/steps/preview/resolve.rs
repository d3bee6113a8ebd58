//! Step 5's links by hand: a skipped user (R2 would not guess, R9) shows the application's
//! accounts that match it, or a search over all of them, and *Link to this account* takes the
//! administrator's decision with the same checks as `adsync link` ([`links::check_link`]). The
//! decisions live here until Finish, which records them in the state it creates
//! ([`record_decisions`], the same [`links::record`] as `adsync link`) before the first sync.

use std::collections::HashMap;

use egui::{CollapsingHeader, RichText, Ui};

use super::{PreviewCommand, PreviewStep};
use crate::config::Settings;
use crate::health::CheckLine;
use crate::links;
use crate::state::StateStore;
use crate::sync::{
    Action, ActionKind, Link, Links, PlanInput, SourceSnapshot, TargetSnapshot, TargetUser, plan,
};

/// What the plan shown was made from: the settings, both snapshots and the stored links (without
/// the decisions taken here). Candidates are found and decisions checked against it.
#[derive(Debug)]
pub struct Basis {
    pub settings: Settings,
    pub source: SourceSnapshot,
    pub target: TargetSnapshot,
    /// The links in the state store (none for a new config).
    pub links: Links,
}

/// A link decided in the preview, kept until Finish records it.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewLink {
    pub link: Link,
    pub user_principal_name: String,
    /// The account's userName.
    pub target_name: String,
}

/// How many accounts a search lists: enough to choose from, few enough to lay out each frame.
const SEARCH_ROWS: usize = 20;

impl Basis {
    /// The stored links and the decisions, as the next sync will see them.
    pub fn links_with(&self, decisions: &[PreviewLink]) -> Links {
        let mut links = self.links.clone();
        for d in decisions {
            links.insert(d.link.entra_id.clone(), d.link.clone());
        }
        links
    }

    /// Who an account is linked to (by the state or a decision here), if anyone.
    fn linked_to<'a>(&'a self, decisions: &'a [PreviewLink], target_id: &str) -> Option<&'a str> {
        decisions
            .iter()
            .find(|d| d.link.target_id == target_id)
            .map(|d| d.user_principal_name.as_str())
            .or_else(|| {
                self.links
                    .values()
                    .find(|l| l.target_id == target_id)
                    .map(|l| {
                        self.source
                            .users
                            .get(&l.entra_id)
                            .map_or(l.entra_id.as_str(), |u| u.user_principal_name.as_str())
                    })
            })
    }
}

impl PreviewStep {
    /// *Link to this account*: checks the decision as `adsync link` does and, when it holds,
    /// keeps it and plans again at once (from what was read: nothing is read or written).
    pub fn link_by_hand(&mut self, entra_id: &str, target_id: &str, by: &str) {
        let Some(basis) = self.basis.clone() else {
            return;
        };
        let Some(user) = basis.source.users.get(entra_id) else {
            return;
        };
        let links = basis.links_with(&self.decisions);
        let checked = links::check_link(
            &basis.settings,
            &basis.source,
            &basis.target,
            &links,
            user,
            target_id,
            by,
        );
        match checked {
            Ok(link) => {
                self.link_notice = None;
                self.decisions.push(PreviewLink {
                    target_name: basis.target.users[&link.target_id].user_name.clone(),
                    user_principal_name: user.user_principal_name.clone(),
                    link,
                });
                self.replan();
            }
            Err(e) => self.link_notice = Some(e.to_string()),
        }
    }

    /// Takes back a link decided here.
    pub fn undo_link(&mut self, entra_id: &str) {
        self.decisions.retain(|d| d.link.entra_id != entra_id);
        self.link_notice = None;
        self.replan();
    }

    /// Plans again from the [`Basis`] with the decisions taken here.
    pub(crate) fn replan(&mut self) {
        let Some(basis) = self.basis.clone() else {
            return;
        };
        let links = basis.links_with(&self.decisions);
        match plan(PlanInput {
            settings: &basis.settings,
            source: &basis.source,
            target: &basis.target,
            links: &links,
        }) {
            Ok(plan) => self.set_plan(plan),
            Err(e) => self.plan.fail(e.to_string()),
        }
    }

    /// After a new read: drops the decisions that no longer hold (the user left the paired
    /// groups, the account is gone or linked since), saying which, and plans again without them.
    pub(crate) fn recheck_decisions(&mut self) {
        let Some(basis) = self.basis.clone() else {
            return;
        };
        let mut kept: Vec<PreviewLink> = Vec::new();
        let mut dropped = Vec::new();
        for d in std::mem::take(&mut self.decisions) {
            let links = basis.links_with(&kept);
            let still = match basis.source.users.get(&d.link.entra_id) {
                Some(user) => links::check_link(
                    &basis.settings,
                    &basis.source,
                    &basis.target,
                    &links,
                    user,
                    &d.link.target_id,
                    "",
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
                None => Err(format!(
                    "{} is no longer a member of a paired group",
                    d.user_principal_name
                )),
            };
            match still {
                Ok(()) => kept.push(d),
                Err(why) => dropped.push(why),
            }
        }
        self.decisions = kept;
        if !dropped.is_empty() {
            self.link_notice = Some(format!(
                "A link made here no longer holds and was taken back: {}",
                dropped.join("; ")
            ));
            self.replan();
        }
    }
}

/// What the rows below each action need to offer links by hand.
pub(super) struct Resolver<'a> {
    pub basis: Option<&'a Basis>,
    pub decisions: &'a [PreviewLink],
    pub search: &'a mut HashMap<String, String>,
    pub commands: &'a mut Vec<PreviewCommand>,
}

impl Resolver<'_> {
    /// Below a skipped user: its candidate accounts and a search, each with *Link to this
    /// account*. Below a link decided here: *Undo this link*.
    pub(super) fn below(&mut self, ui: &mut Ui, action: &Action) {
        if let Some(d) = self
            .decisions
            .iter()
            .find(|d| d.link.entra_id == action.entra_id)
        {
            ui.indent(("decided", &action.entra_id), |ui| {
                ui.horizontal(|ui| {
                    ui.weak(format!(
                        "Linked by hand here to {}; recorded when you press Finish.",
                        d.target_name
                    ));
                    if ui.button("Undo this link").clicked() {
                        self.commands.push(PreviewCommand::Undo {
                            entra_id: action.entra_id.clone(),
                        });
                    }
                });
            });
            return;
        }
        if action.kind != ActionKind::Skip {
            return;
        }
        let Some(basis) = self.basis else {
            return;
        };
        let Some(user) = basis.source.users.get(&action.entra_id) else {
            return;
        };
        let candidates = links::candidates(&basis.settings, &basis.target, user);
        ui.indent(("resolve", &action.entra_id), |ui| {
            CollapsingHeader::new(format!(
                "Choose the account for {} ({} matching)",
                action.user_principal_name,
                candidates.len()
            ))
            .id_salt(("resolve", &action.entra_id))
            .show(ui, |ui| {
                for account in &candidates {
                    self.account_row(ui, basis, &action.entra_id, account);
                }
                let term = self.search.entry(action.entra_id.clone()).or_default();
                ui.horizontal(|ui| {
                    let label = ui.label("Search the application's users:");
                    ui.add(
                        egui::TextEdit::singleline(term)
                            .hint_text("userName, email or name")
                            .desired_width(260.0),
                    )
                    .labelled_by(label.id);
                });
                let needle = term.trim().to_lowercase();
                if needle.is_empty() {
                    return;
                }
                let found: Vec<&TargetUser> = basis
                    .target
                    .users
                    .values()
                    .filter(|t| matches(t, &needle))
                    .take(SEARCH_ROWS + 1)
                    .collect();
                if found.is_empty() {
                    ui.weak("No account matches.");
                }
                for account in found.iter().take(SEARCH_ROWS) {
                    self.account_row(ui, basis, &action.entra_id, account);
                }
                if found.len() > SEARCH_ROWS {
                    ui.weak(format!(
                        "Only the first {SEARCH_ROWS} are shown; type more to narrow the search."
                    ));
                }
            });
        });
    }

    fn account_row(&mut self, ui: &mut Ui, basis: &Basis, entra_id: &str, account: &TargetUser) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(&account.user_name).monospace());
            if let Some(email) = account
                .emails
                .iter()
                .find(|e| !e.eq_ignore_ascii_case(&account.user_name))
            {
                ui.weak(email);
            }
            if let Some(name) = &account.display_name {
                ui.weak(name);
            }
            match basis.linked_to(self.decisions, &account.id) {
                Some(other) => {
                    ui.weak(format!("already linked to {other}"));
                }
                None => {
                    if ui
                        .button("Link to this account")
                        .on_hover_text(format!("Account id {}", account.id))
                        .clicked()
                    {
                        self.commands.push(PreviewCommand::Link {
                            entra_id: entra_id.to_owned(),
                            target_id: account.id.clone(),
                        });
                    }
                }
            }
        });
    }
}

/// Does an account's userName, an email or its display name contain `needle` (lower case)?
fn matches(account: &TargetUser, needle: &str) -> bool {
    account.user_name.to_lowercase().contains(needle)
        || account
            .emails
            .iter()
            .any(|e| e.to_lowercase().contains(needle))
        || account
            .display_name
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(needle))
}

/// At Finish, after the config is written and before the first sync: stores the links decided
/// in the preview in the state the config names, one line each.
pub(crate) fn record_decisions(settings: &Settings, decisions: &[PreviewLink]) -> Vec<CheckLine> {
    if decisions.is_empty() {
        return Vec::new();
    }
    let path = &settings.service.state_path;
    let store = match StateStore::open(path) {
        Ok(store) => store,
        Err(e) => {
            return vec![CheckLine::new(
                "links by hand",
                false,
                format!("not recorded: {e}; make them with `adsync link`"),
            )];
        }
    };
    decisions
        .iter()
        .map(
            |d| match links::record(&store, &d.link, &d.user_principal_name, &d.target_name) {
                Ok(()) => CheckLine::new(
                    "link by hand",
                    true,
                    format!(
                        "{} linked to {} ({})",
                        d.user_principal_name, d.target_name, d.link.target_id
                    ),
                ),
                Err(e) => CheckLine::new("link by hand", false, format!("not recorded: {e}")),
            },
        )
        .collect()
}
