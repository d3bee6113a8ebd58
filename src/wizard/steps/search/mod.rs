//! Step 4, search and confirm: criteria (an attribute, an operator and a term each; every one must
//! match) and the guests switch narrow which members of the paired groups are synchronized (they
//! become the config's `[[scope]]` rules and `policy.include_guests`); the matching users are
//! counted and listed live. Next asks "Synchronize N users from M groups?" in a confirmation
//! dialog; the step returns [`SearchCommand::Confirmed`] when the administrator agrees. Its
//! Attributes tab edits the mappings (see [`attributes`]).

pub mod attributes;
mod criteria;
mod effects;

use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use egui::{Id, Label, Modal, RichText, Ui};
use egui_extras::{Column, TableBuilder};

pub use attributes::{AttributesPanel, MappingKind, MappingRow};
pub use criteria::{Criterion, attribute_label};
use criteria::{attribute_in_sentence, criteria_ui, guests_ui, operator_text, rules_text};

use super::pairing::widgets::{row_height, thousands};
use crate::config::{ConfigFile, ScopeAttribute, ScopeRule};
use crate::sync::{MappingSet, SourceSnapshot, SourceUser, matches_scope, scope_value};
use crate::wizard::jobs::{Load, Task};

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchCommand {
    /// Read the members of the paired groups again (after a failure).
    Reload,
    /// The administrator confirmed the dialog: go on to the preview.
    Confirmed,
}

/// What step 4 shows below the criteria.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchTab {
    /// The matching members.
    #[default]
    Users,
    /// The Attributes panel: the mappings.
    Attributes,
}

/// The state of step 4.
#[derive(Clone, Debug)]
pub struct SearchStep {
    /// Members of the paired groups, read when the step opens: the load's status and its data.
    pub source: Load<SourceSnapshot>,
    /// The criteria rows; rows with an empty term are left out (none: every member is in scope).
    pub criteria: Vec<Criterion>,
    /// `policy.include_guests`: whether guest accounts of the paired groups are synchronized.
    pub include_guests: bool,
    /// The mappings (`[[mappings]]`) and the values they give a picked member.
    pub attributes: AttributesPanel,
    pub tab: SearchTab,
    /// The mapping sources the members were read with (`None`: a snapshot set directly, taken
    /// to hold them all). A mapping naming another one reads the members again.
    pub read_for: Option<BTreeSet<String>>,
    /// Set by [`SearchStep::ask_confirmation`] (the app's Next button); the dialog shows while true.
    pub confirming: bool,
    /// How many users the sync will act on (the N of the confirmation), counted from the plan
    /// the shell computes when Next is pressed. `Idle` (no plan asked for, as in a step drawn on
    /// its own): the enabled matches, which is what a first sync acts on.
    pub acted_on: Task<usize>,
    /// The matching users, kept between frames.
    pub view: SearchView,
}

impl Default for SearchStep {
    fn default() -> Self {
        Self {
            source: Load::default(),
            criteria: vec![Criterion::default()],
            include_guests: true,
            attributes: AttributesPanel::default(),
            tab: SearchTab::Users,
            read_for: None,
            confirming: false,
            acted_on: Task::Idle,
            view: SearchView::default(),
        }
    }
}

/// The view state of step 4: the users matching the criteria, recomputed only when the
/// criteria, the guests switch or the source changes.
#[derive(Clone, Debug, Default)]
pub struct SearchView {
    /// What the cache holds: see [`Key`].
    key: Option<Key>,
    /// User ids ordered by display name (rebuilt when the source changes).
    order: Vec<String>,
    /// The source the order was built for.
    order_source: Option<u64>,
    /// Ids of the matching users, in `order` (guests left out when they are excluded).
    matches: Vec<String>,
    /// How many of the matches have a disabled account.
    disabled: usize,
    /// How many members matching the criteria are guests (included in `matches` or not).
    guests: usize,
    /// Confirm had the focus once it could take it (it is disabled while counting).
    confirm_focused: bool,
    /// The dialog was on screen last frame (so focus goes to Confirm only when it opens).
    dialog_open: bool,
}

/// The inputs of the match list. The source is identified by a fingerprint (its group ids and
/// member counts, its user count, and its first and last user id) that is cheap to compute in
/// every frame; an app that edits a snapshot in place without changing any of those calls
/// [`SearchStep::set_source`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    source: u64,
    rules: Vec<ScopeRule>,
    include_guests: bool,
}

fn fingerprint(source: &SourceSnapshot) -> u64 {
    let mut hasher = DefaultHasher::new();
    source.users.len().hash(&mut hasher);
    for (id, group) in &source.groups {
        id.hash(&mut hasher);
        group.members.len().hash(&mut hasher);
    }
    source.users.keys().next().hash(&mut hasher);
    source.users.keys().next_back().hash(&mut hasher);
    hasher.finish()
}

impl SearchView {
    /// Brings the matches up to date; returns whether they were recomputed.
    fn update(&mut self, source: &SourceSnapshot, key: Key) -> bool {
        if self.key.as_ref() == Some(&key) {
            return false;
        }
        if self.order_source != Some(key.source) {
            let mut order: Vec<(String, &str)> = source
                .users
                .values()
                .map(|u| (display_name(u).to_lowercase(), u.id.as_str()))
                .collect();
            order.sort();
            self.order = order.into_iter().map(|(_, id)| id.to_owned()).collect();
            self.order_source = Some(key.source);
        }
        self.guests = 0;
        self.matches = self
            .order
            .iter()
            .filter(|id| {
                let Some(user) = source.users.get(id.as_str()) else {
                    return false;
                };
                if !matches_scope(user, &key.rules) {
                    return false;
                }
                if user.is_guest() {
                    self.guests += 1;
                    return key.include_guests;
                }
                true
            })
            .cloned()
            .collect();
        self.disabled = self
            .matches
            .iter()
            .filter(|id| {
                source
                    .users
                    .get(id.as_str())
                    .is_some_and(|u| !u.account_enabled)
            })
            .count();
        self.key = Some(key);
        true
    }
}

fn display_name(user: &SourceUser) -> &str {
    user.display_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&user.user_principal_name)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

impl SearchStep {
    /// The `[[scope]]` rules the step stands for: one per criterion whose term is filled in.
    pub fn scope_rules(&self) -> Vec<ScopeRule> {
        self.criteria.iter().filter_map(Criterion::rule).collect()
    }

    /// Shows what an opened config holds: its `[[scope]]` rules (when `with_scope`; the demo's
    /// config is not taken over there) and `policy.include_guests`.
    pub fn load_config(&mut self, file: &ConfigFile, with_scope: bool) {
        if with_scope {
            self.criteria = file.scope.iter().map(Criterion::from).collect();
            if self.criteria.is_empty() {
                self.criteria.push(Criterion::default());
            }
        }
        self.include_guests = file.policy.include_guests;
        self.attributes.load_config(file);
        self.view = SearchView::default();
    }

    /// The Graph properties the mappings without a problem read, beyond the default ones.
    pub fn mapping_sources(&self) -> BTreeSet<String> {
        MappingSet::new(&self.attributes.valid_mappings()).sources()
    }

    /// Shows a newly read snapshot of the paired groups' members (this also clears the cached
    /// matches).
    pub fn set_source(&mut self, source: SourceSnapshot) {
        self.source.set(source);
        self.read_for = None;
        self.view = SearchView::default();
    }

    /// `Err` with a sentence for the administrator when Next must stay disabled.
    pub fn validate(&self) -> Result<(), String> {
        let Some(source) = self.source.done() else {
            return Err("The members of the paired groups are still being read.".into());
        };
        if source.users.is_empty() {
            return Err(
                "The paired groups have no members: go back and pair groups that have users."
                    .into(),
            );
        }
        self.attributes.validate()?;
        let rules = self.scope_rules();
        let any = match &self.view.key {
            Some(key) if *key == self.key(source) => !self.view.matches.is_empty(),
            _ => source
                .users
                .values()
                .any(|u| matches_scope(u, &rules) && (self.include_guests || !u.is_guest())),
        };
        if any {
            return Ok(());
        }
        let any_guest = source
            .users
            .values()
            .any(|u| u.is_guest() && matches_scope(u, &rules));
        Err(match rules.as_slice() {
            _ if any_guest => "Every member that matches is a guest, and guests are left out: \
                               tick Include guests, or change the criteria."
                .to_owned(),
            [rule] => format!(
                "No member of the paired groups has a {} that {} “{}”: change the term, or \
                 clear it to synchronize every member.",
                attribute_in_sentence(rule.attribute),
                operator_text(rule.operator),
                rule.value
            ),
            rules => format!(
                "No member of the paired groups matches every criterion ({}): change or \
                 remove a criterion.",
                rules_text(rules)
            ),
        })
    }

    /// Opens the confirmation dialog (the app calls this when Next is pressed on this step).
    pub fn ask_confirmation(&mut self) {
        self.confirming = true;
    }

    /// How many users match, and how many paired groups they come from (`None` while loading):
    /// the N and M of "Synchronize N users from M groups?".
    pub fn counts(&mut self) -> Option<(usize, usize)> {
        self.refresh();
        let source = self.source.done()?;
        Some((self.view.matches.len(), source.groups.len()))
    }

    /// The ids of the matching users, ordered by display name.
    pub fn matching_ids(&mut self) -> &[String] {
        self.refresh();
        &self.view.matches
    }

    fn key(&self, source: &SourceSnapshot) -> Key {
        Key {
            source: fingerprint(source),
            // Only what the rules would hold: trimmed terms, empty rows left out.
            rules: self.scope_rules(),
            include_guests: self.include_guests,
        }
    }

    fn refresh(&mut self) {
        let Some(source) = self.source.done() else {
            return;
        };
        let key = self.key(source);
        if self.view.key.as_ref() != Some(&key) {
            self.view.update(source, key);
        }
    }

    /// Draws the step (and the dialog while `confirming`); returns what the app should do.
    #[must_use]
    pub fn ui(&mut self, ui: &mut Ui) -> Vec<SearchCommand> {
        let mut commands = Vec::new();
        ui.label(
            "Only the members of the paired groups that match every criterion are synchronized. \
             Leave the term empty to synchronize every member.",
        );
        ui.add_space(6.0);
        criteria_ui(ui, &mut self.criteria);
        ui.add_space(4.0);
        // The guest count below is for the criteria as just edited.
        self.refresh();
        guests_ui(ui, &mut self.include_guests, self.view.guests);
        ui.add_space(6.0);

        // A mapping that names a property the members were not read with reads them again.
        if self.source.done().is_some()
            && let Some(read_for) = &self.read_for
            && !self.mapping_sources().is_subset(read_for)
        {
            commands.push(SearchCommand::Reload);
        }
        self.tabs_ui(ui);
        ui.add_space(4.0);
        if self.tab == SearchTab::Attributes {
            self.refresh();
            let source = self.source.done();
            self.attributes.ui(ui, source, &self.view.matches);
            if let Some(error) = self.source.failure() {
                ui.colored_label(ui.visuals().error_fg_color, error);
                if ui.button("Try again").clicked() {
                    commands.push(SearchCommand::Reload);
                }
            }
            self.confirm_if_asked(ui, &mut commands);
            return commands;
        }

        if self.source.done().is_none() {
            match self.source.failure() {
                Some(error) => {
                    ui.colored_label(ui.visuals().error_fg_color, error);
                    if ui.button("Try again").clicked() {
                        commands.push(SearchCommand::Reload);
                    }
                }
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading the members of the paired groups…");
                    });
                }
            }
            return commands;
        }
        self.refresh();
        let Some(source) = self.source.done() else {
            return commands;
        };
        let view = &self.view;
        let n = view.matches.len();
        let mut count = format!(
            "{} of {} match",
            thousands(n),
            plural(source.users.len(), "member", "members")
        );
        if view.disabled > 0 {
            count.push_str(&format!(
                " ({} disabled in Entra ID: they will not be created or enabled)",
                thousands(view.disabled)
            ));
        }
        ui.label(RichText::new(count).strong());
        ui.add_space(4.0);
        // The column beside the names shows what the first criterion tests.
        let attribute = self
            .scope_rules()
            .first()
            .map_or(ScopeAttribute::Department, |r| r.attribute);
        users_table_ui(ui, source, &view.matches, attribute);
        self.confirm_if_asked(ui, &mut commands);
        commands
    }

    /// The two tabs under the criteria: the matching members, and the Attributes panel.
    fn tabs_ui(&mut self, ui: &mut Ui) {
        let problems = self.attributes.problems().len();
        let rows = self.attributes.rows.len();
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, SearchTab::Users, "Matching users");
            let attributes = match rows {
                0 => "Attributes (default mapping)".to_owned(),
                n => format!("Attributes ({})", plural(n, "mapping", "mappings")),
            };
            ui.selectable_value(&mut self.tab, SearchTab::Attributes, attributes);
            if problems > 0 {
                // Beside the tab, not on it: red on the selected tab's fill is hard to read.
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    plural(problems, "problem", "problems"),
                );
            }
        });
        ui.separator();
    }

    /// The confirmation dialog while it is asked for.
    fn confirm_if_asked(&mut self, ui: &mut Ui, commands: &mut Vec<SearchCommand>) {
        let Some(source) = self.source.done() else {
            return;
        };
        let enabled = self.view.matches.len() - self.view.disabled;
        let groups = source.groups.len();
        if !self.confirming {
            self.view.dialog_open = false;
        } else if self.confirm_ui(ui, enabled, groups) {
            commands.push(SearchCommand::Confirmed);
        }
    }

    /// The modal dialog; returns true when the administrator confirmed. `enabled_matches` is N
    /// until the plan has counted the users the sync acts on.
    fn confirm_ui(&mut self, ui: &mut Ui, enabled_matches: usize, groups: usize) -> bool {
        let users = match &self.acted_on {
            Task::Done(n) => Some(*n),
            Task::Pending => None,
            Task::Idle | Task::Failed(_) => Some(enabled_matches),
        };
        let question = match users {
            Some(users) => format!(
                "Synchronize {} from {}?",
                plural(users, "user", "users"),
                plural(groups, "group", "groups")
            ),
            None => "Counting the users the sync will act on…".to_owned(),
        };
        let rules = self.scope_rules();
        let scope = if rules.is_empty() {
            "Every member of the paired groups.".to_owned()
        } else {
            format!("Members of the paired groups whose {}.", rules_text(&rules))
        };
        let guests = if self.include_guests {
            "Guests are included."
        } else {
            "Guests are left out."
        };
        let already_open = self.view.dialog_open;
        self.view.dialog_open = true;
        let mut confirmed = false;
        let mut cancelled = false;
        let modal = Modal::new(Id::unique("search-confirm")).show(ui.ctx(), |ui| {
            ui.set_max_width(420.0);
            ui.label(RichText::new(&question).heading());
            ui.add_space(4.0);
            ui.label(scope);
            ui.label(guests);
            match &self.acted_on {
                Task::Pending => {
                    ui.spinner();
                }
                Task::Failed(message) => {
                    ui.label(format!(
                        "The users could not be counted from a plan ({message}); the number is the \
                         enabled matching users."
                    ));
                }
                Task::Done(_) => {
                    ui.weak(
                        "Counted from the plan: users it creates, links, updates, moves, \
                         disables or enables. Disabled users it leaves alone are not counted.",
                    );
                }
                Task::Idle => {}
            }
            ui.label(
                "The next step previews what the first sync would do; nothing is written yet.",
            );
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                let confirm = ui.add_enabled(users.unwrap_or(0) > 0, egui::Button::new("Confirm"));
                if !already_open || (users.is_some() && !self.view.confirm_focused) {
                    self.view.confirm_focused = users.is_some();
                    // Enter or Space confirms at once; Tab reaches Cancel.
                    confirm.request_focus();
                }
                confirmed = confirm.clicked();
                cancelled = ui.button("Cancel").clicked();
            });
        });
        // Esc or a click beside the dialog cancels, like the Cancel button.
        if confirmed || cancelled || modal.should_close() {
            self.confirming = false;
            self.view.dialog_open = false;
            self.view.confirm_focused = false;
        }
        confirmed
    }
}

/// The matching users, virtualized: only the rows on screen are laid out.
fn users_table_ui(ui: &mut Ui, source: &SourceSnapshot, ids: &[String], attribute: ScopeAttribute) {
    let height = row_height(ui);
    TableBuilder::new(ui)
        .id_salt("scope-matches")
        .striped(true)
        .auto_shrink(false)
        .resizable(true)
        .column(Column::initial(200.0).at_least(80.0).clip(true))
        .column(Column::initial(260.0).at_least(80.0).clip(true))
        .column(Column::initial(160.0).at_least(60.0).clip(true))
        .column(Column::remainder().at_least(80.0).clip(true))
        .header(height, |mut header| {
            for title in [
                "Display name",
                "User principal name",
                attribute_label(attribute),
                "Paired groups",
            ] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(height, ids.len(), |mut row| {
                let Some(user) = source.users.get(&ids[row.index()]) else {
                    return;
                };
                row.col(|ui| {
                    let name = display_name(user);
                    let text = match (user.account_enabled, user.is_guest()) {
                        (true, false) => name.to_owned(),
                        (true, true) => format!("{name} (guest)"),
                        (false, false) => format!("{name} (disabled)"),
                        (false, true) => format!("{name} (guest, disabled)"),
                    };
                    ui.add(Label::new(text).truncate());
                });
                row.col(|ui| {
                    ui.add(Label::new(&user.user_principal_name).truncate());
                });
                row.col(|ui| {
                    let value = scope_value(user, attribute);
                    if value.is_empty() {
                        ui.weak("(empty)");
                    } else {
                        ui.add(Label::new(value).truncate());
                    }
                });
                row.col(|ui| {
                    let mut groups: Vec<&str> = source
                        .groups
                        .values()
                        .filter(|g| g.members.contains(&user.id))
                        .map(|g| g.display_name.as_str())
                        .collect();
                    groups.sort_unstable();
                    ui.add(Label::new(groups.join(", ")).truncate());
                });
            });
        });
}

#[cfg(test)]
mod attributes_tests;
#[cfg(test)]
mod tests;
