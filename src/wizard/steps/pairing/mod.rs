//! Step 3, group pairing: two searchable columns (Entra groups, target groups) and the column of
//! pairs. Select one group in each column and press → to pair; select a pair and press ← to
//! unpair; ↑/↓ reorder (the order is the precedence); a check box per pair turns nested
//! membership on or off. Both columns are virtualized so 20,000 groups per side stay smooth.
//!
//! Keyboard: each list is one Tab stop (its search box; the rows are not stops), the arrow keys
//! move the selection within the list last used, and Enter pairs the selected two.
//!
//! The step holds no network code: the app fills `entra_groups` / `target_groups` and answers
//! the [`PairingCommand`]s that [`PairingStep::ui`] returns after the frame.

use std::collections::{HashMap, HashSet};

use crate::wizard::jobs::{Load, Task};
use egui::{ScrollArea, Ui, vec2};

mod columns;
mod effects;
pub(in crate::wizard) mod widgets;

pub use columns::parse_roles;
use columns::{fixed_ui, group_column_ui, members_text, resize_handle, roles_ui};
use widgets::{arrow_row, select_row, thousands};

/// A group in one of the two columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupItem {
    pub id: String,
    pub name: String,
    /// Member count when known (the app fills it in answer to [`PairingCommand::CountMembers`]).
    pub members: Option<usize>,
}

/// The list the arrow keys move in: a group column or the pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActiveList {
    Groups(Side),
    Pairs,
}

/// The id of a column's search box (its Tab stop), so focus can be told and set.
pub fn search_id(side: Side) -> egui::Id {
    egui::Id::unique(("pairing-search", side))
}

/// Which column a group belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Entra,
    Target,
}

/// One pair, in precedence order (the first pair wins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairRow {
    pub entra: GroupItem,
    pub target: GroupItem,
    pub nested: bool,
    /// SCIM `roles` values this pair gives its users (`roles = [...]` on `[[pairs]]`).
    pub roles: Vec<String>,
}

/// What the step asks the app to do after the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairingCommand {
    /// Fetch the member count of this group and store it with [`PairingStep::set_member_count`].
    CountMembers { side: Side, id: String },
    /// Read both group lists again (after a failure).
    Reload,
    /// Open the step where a failure's fix is (the Azure app, or the application's credentials).
    Fix(crate::wizard::Step),
}

/// The state of step 3.
#[derive(Clone, Debug, Default)]
pub struct PairingStep {
    /// Reading the two group lists below: pending, done or why it failed. The lists stay plain
    /// vectors (the columns index them by position, 20,000 rows a frame).
    pub groups: Load<()>,
    pub entra_groups: Vec<GroupItem>,
    pub target_groups: Vec<GroupItem>,
    /// In precedence order.
    pub pairs: Vec<PairRow>,
    /// What the administrator sees: search terms, selections, the filtered rows (no data).
    pub view: PairingView,
}

/// The view state of step 3: each column's search and selection, the selected pair, the message
/// under the buttons and the member counts already asked for.
#[derive(Clone, Debug, Default)]
pub struct PairingView {
    entra: ColumnView,
    target: ColumnView,
    /// The selected pair, by its Entra group id (unique among pairs).
    selected_pair: Option<String>,
    /// Why the last → or ← did nothing, until the next action.
    message: Option<String>,
    /// Member counts asked for already, so each is asked for once.
    requested: HashSet<(Side, String)>,
    /// Each pair's roles as typed (by Entra group id), so a half-typed "a, " stays on screen
    /// while the pair's roles hold the parsed list.
    roles_text: HashMap<String, String>,
    /// The list the arrow keys move in (the one last clicked or searched in).
    active: Option<ActiveList>,
    /// The selected pair moved by keyboard: bring it into view.
    scroll_to_pair: bool,
    /// The Entra and target columns' shares of the width, once the administrator dragged a gap.
    shares: Option<(f32, f32)>,
    /// The groups' read failure as shown (for the message it was made from), so its Details
    /// toggle keeps its state between frames.
    failure: Option<(String, crate::wizard::widgets::ResultView)>,
}

/// The Entra and target columns' shares of the width until a gap is dragged (the pairs get the
/// rest).
const DEFAULT_SHARES: (f32, f32) = (0.31, 0.31);

#[derive(Clone, Debug, Default)]
struct ColumnView {
    search: String,
    /// The selected group's id.
    selected: Option<String>,
    /// The selection whose member count was last looked at.
    count_checked: Option<String>,
    filter: FilterCache,
    /// The list's scroll offset and visible height last frame.
    scroll: (f32, f32),
    /// A row (position in the filtered rows) moved to by keyboard, to bring into view.
    scroll_to: Option<usize>,
}

/// The rows a column shows for its search, recomputed only when the search or the list changes:
/// a frame then costs nothing per group, whatever the size of the list.
#[derive(Clone, Debug, Default)]
struct FilterCache {
    /// The list the cache was built from (its buffer address and length); a new `Vec` assigned
    /// by the app, or one that grew or shrank, has another.
    list: Option<(usize, usize)>,
    /// Lower-cased names in list order, so a new search only compares.
    lower_names: Vec<String>,
    /// The lower-cased, trimmed search the rows were filtered for.
    needle: String,
    /// Indices into the list of the groups whose name contains `needle`.
    rows: Vec<usize>,
    /// Indices into the list, sorted by group id, so `validate()` (which the app may call in
    /// every frame) finds a pair's group without scanning 20,000 groups.
    by_id: Vec<usize>,
}

impl FilterCache {
    /// Brings the rows up to date; returns whether anything was recomputed.
    fn update(&mut self, groups: &[GroupItem], search: &str) -> bool {
        let list = (groups.as_ptr() as usize, groups.len());
        let list_changed = self.list != Some(list);
        if list_changed {
            self.list = Some(list);
            self.lower_names = groups.iter().map(|g| g.name.to_lowercase()).collect();
            self.by_id = (0..groups.len()).collect();
            self.by_id
                .sort_unstable_by(|&a, &b| groups[a].id.cmp(&groups[b].id));
        }
        let needle = search.trim();
        // Most frames: same list, same search. Compare without allocating.
        if !list_changed && needle_equals(&self.needle, needle) {
            return false;
        }
        let needle = needle.to_lowercase();
        let narrowing = !list_changed && needle.contains(self.needle.as_str());
        let names = &self.lower_names;
        if needle.is_empty() {
            self.rows = (0..names.len()).collect();
        } else if narrowing {
            // Typing one more letter: only the rows shown now can still match.
            self.rows.retain(|&i| names[i].contains(&needle));
        } else {
            self.rows = (0..names.len())
                .filter(|&i| names[i].contains(&needle))
                .collect();
        }
        self.needle = needle;
        true
    }
}

impl FilterCache {
    /// Does the list hold a group with this id? Uses the id index when it was built for this
    /// very list, else looks through the list.
    fn contains_id(&self, groups: &[GroupItem], id: &str) -> bool {
        if self.list == Some((groups.as_ptr() as usize, groups.len())) {
            self.by_id
                .binary_search_by(|&i| groups[i].id.as_str().cmp(id))
                .is_ok()
        } else {
            groups.iter().any(|g| g.id == id)
        }
    }
}

/// Is `needle` (lower-cased) the lower-cased form of `search`? Without allocating.
fn needle_equals(needle: &str, search: &str) -> bool {
    let mut lowered = search.chars().flat_map(char::to_lowercase);
    needle.chars().all(|c| lowered.next() == Some(c)) && lowered.next().is_none()
}

impl PairingStep {
    /// `Err` with a sentence for the administrator when Next must stay disabled.
    pub fn validate(&self) -> Result<(), String> {
        if self.pairs.is_empty() {
            return Err("Pair at least one Entra group with a target group.".into());
        }
        let mut seen = HashSet::new();
        for pair in &self.pairs {
            if !seen.insert(pair.entra.id.as_str()) {
                return Err(format!(
                    "The Entra group “{}” is paired more than once; remove all but one of its \
                     pairs.",
                    pair.entra.name
                ));
            }
        }
        // The lists are empty while they load; once loaded, a pair whose group is gone would
        // stop every sync (SPEC R10), so say so now.
        for (n, pair) in self.pairs.iter().enumerate() {
            let entra = &self.view.entra.filter;
            if !self.entra_groups.is_empty()
                && !entra.contains_id(&self.entra_groups, &pair.entra.id)
            {
                return Err(format!(
                    "Pair {}: the Entra group “{}” no longer exists in Entra ID; remove the pair.",
                    n + 1,
                    pair.entra.name
                ));
            }
            let target = &self.view.target.filter;
            if !self.target_groups.is_empty()
                && !target.contains_id(&self.target_groups, &pair.target.id)
            {
                return Err(format!(
                    "Pair {}: the target group “{}” no longer exists in the application; remove \
                     the pair.",
                    n + 1,
                    pair.target.name
                ));
            }
        }
        Ok(())
    }

    /// Records a member count fetched for a group (in its column and in any pair that holds it).
    pub fn set_member_count(&mut self, side: Side, id: &str, count: usize) {
        let list = match side {
            Side::Entra => &mut self.entra_groups,
            Side::Target => &mut self.target_groups,
        };
        for group in list.iter_mut().filter(|g| g.id == id) {
            group.members = Some(count);
        }
        for pair in &mut self.pairs {
            let group = match side {
                Side::Entra => &mut pair.entra,
                Side::Target => &mut pair.target,
            };
            if group.id == id {
                group.members = Some(count);
            }
        }
    }

    /// The selected group of a column, by id.
    pub fn selected(&self, side: Side) -> Option<&str> {
        self.column(side).selected.as_deref()
    }

    /// Selects a group of a column by id (`None` clears the selection).
    pub fn select(&mut self, side: Side, id: Option<&str>) {
        self.view.message = None;
        self.column_mut(side).selected = id.map(str::to_owned);
    }

    /// The text in a column's search box.
    pub fn search(&self, side: Side) -> &str {
        &self.column(side).search
    }

    /// Puts `text` in a column's search box (as if typed).
    pub fn set_search(&mut self, side: Side, text: &str) {
        text.clone_into(&mut self.column_mut(side).search);
    }

    /// The selected pair's position in [`Self::pairs`].
    pub fn selected_pair(&self) -> Option<usize> {
        let id = self.view.selected_pair.as_deref()?;
        self.pairs.iter().position(|p| p.entra.id == id)
    }

    /// Selects the pair at `index` (`None` clears the selection).
    pub fn select_pair(&mut self, index: Option<usize>) {
        self.view.message = None;
        self.view.selected_pair = index
            .and_then(|i| self.pairs.get(i))
            .map(|p| p.entra.id.clone());
    }

    /// The sentence under the buttons explaining why the last → did nothing, if it did nothing.
    pub fn message(&self) -> Option<&str> {
        self.view.message.as_deref()
    }

    /// Forgets the cached search results. Only needed when the app edits a group list in place
    /// and keeps its length (the cache notices a new or resized list by itself).
    pub fn groups_changed(&mut self) {
        self.view.entra.filter = FilterCache::default();
        self.view.target.filter = FilterCache::default();
    }

    /// Pairs the selected Entra group with the selected target group (what → does). Refuses,
    /// with a message, an Entra group that is already paired: a user would otherwise have two
    /// rules for the same group.
    pub fn pair_selected(&mut self) -> Result<(), String> {
        let (Some(entra_id), Some(target_id)) =
            (self.selected(Side::Entra), self.selected(Side::Target))
        else {
            return self.refuse("Select an Entra group and a target group first.".into());
        };
        if let Some((n, pair)) = self
            .pairs
            .iter()
            .enumerate()
            .find(|(_, p)| p.entra.id == entra_id)
        {
            let message = format!(
                "“{}” is already paired with “{}” (pair {}). An Entra group can be paired only \
                 once: remove that pair first (the left arrow) to pair it differently.",
                pair.entra.name,
                pair.target.name,
                n + 1
            );
            return self.refuse(message);
        }
        let find = |list: &[GroupItem], id: &str| list.iter().find(|g| g.id == id).cloned();
        let (Some(entra), Some(target)) = (
            find(&self.entra_groups, entra_id),
            find(&self.target_groups, target_id),
        ) else {
            return self
                .refuse("The selected group is no longer in the list; select it again.".into());
        };
        self.view.message = None;
        self.view.selected_pair = Some(entra.id.clone());
        // The next pair most often uses another Entra group with the same target group.
        self.view.entra.selected = None;
        self.pairs.push(PairRow {
            entra,
            target,
            nested: true,
            roles: Vec::new(),
        });
        Ok(())
    }

    /// Removes the selected pair (what ← does) and selects the one that took its place.
    pub fn remove_selected_pair(&mut self) -> Result<(), String> {
        let Some(index) = self.selected_pair() else {
            return self.refuse("Select a pair to remove first.".into());
        };
        let removed = self.pairs.remove(index);
        self.view.message = None;
        // Show the groups again in their columns, selected, so a wrong pair is quick to redo.
        self.view.entra.selected = Some(removed.entra.id);
        self.view.target.selected = Some(removed.target.id);
        let next = index.min(self.pairs.len().saturating_sub(1));
        self.view.selected_pair = self.pairs.get(next).map(|p| p.entra.id.clone());
        Ok(())
    }

    /// Moves the selected pair one place up (`up`) or down in precedence.
    pub fn move_selected_pair(&mut self, up: bool) {
        let Some(index) = self.selected_pair() else {
            return;
        };
        let other = if up {
            index.checked_sub(1)
        } else {
            Some(index + 1).filter(|&i| i < self.pairs.len())
        };
        if let Some(other) = other {
            self.pairs.swap(index, other);
            self.view.message = None;
        }
    }

    fn refuse(&mut self, message: String) -> Result<(), String> {
        self.view.message = Some(message.clone());
        Err(message)
    }

    fn column(&self, side: Side) -> &ColumnView {
        match side {
            Side::Entra => &self.view.entra,
            Side::Target => &self.view.target,
        }
    }

    fn column_mut(&mut self, side: Side) -> &mut ColumnView {
        match side {
            Side::Entra => &mut self.view.entra,
            Side::Target => &mut self.view.target,
        }
    }

    /// Asks once for the member count of each group on show in the pairs or selected in a
    /// column, never for the whole list.
    fn member_requests(&mut self) -> Vec<PairingCommand> {
        let mut wanted: Vec<(Side, &GroupItem)> = Vec::new();
        for pair in &self.pairs {
            wanted.push((Side::Entra, &pair.entra));
            wanted.push((Side::Target, &pair.target));
        }
        for (side, list, column) in [
            (Side::Entra, &self.entra_groups, &mut self.view.entra),
            (Side::Target, &self.target_groups, &mut self.view.target),
        ] {
            // Look the selected group up once per selection, not in every frame.
            if column.count_checked != column.selected {
                column.count_checked.clone_from(&column.selected);
                let id = column.selected.as_deref();
                if let Some(group) = list.iter().find(|g| Some(g.id.as_str()) == id) {
                    wanted.push((side, group));
                }
            }
        }
        let requested = &mut self.view.requested;
        wanted
            .into_iter()
            .filter(|(_, group)| group.members.is_none())
            .filter(|(side, group)| requested.insert((*side, group.id.clone())))
            .map(|(side, group)| PairingCommand::CountMembers {
                side,
                id: group.id.clone(),
            })
            .collect()
    }

    /// The list the arrow keys move in, if one was used.
    pub fn active_list(&self) -> Option<ActiveList> {
        self.view.active
    }

    /// Arrow keys within the active list, Enter to pair. Keys are taken only while nothing
    /// but a search box has the focus (a role being typed keeps its keys).
    fn keyboard(&mut self, ctx: &egui::Context) {
        use egui::{Key, Modifiers};
        let focused = ctx.memory(|m| m.focused());
        let active = match focused {
            None => self.view.active,
            Some(id) if id == search_id(Side::Entra) => Some(ActiveList::Groups(Side::Entra)),
            Some(id) if id == search_id(Side::Target) => Some(ActiveList::Groups(Side::Target)),
            Some(_) => return,
        };
        let Some(active) = active else {
            return;
        };
        self.view.active = Some(active);
        // Every press counts: several can arrive in one frame (a held key, a fast typist).
        let step = ctx.input_mut(|i| {
            i.count_and_consume_key(Modifiers::NONE, Key::ArrowDown) as isize
                - i.count_and_consume_key(Modifiers::NONE, Key::ArrowUp) as isize
        });
        if step != 0 {
            match active {
                ActiveList::Groups(side) => self.move_in_column(side, step),
                ActiveList::Pairs => {
                    let next = match self.selected_pair() {
                        Some(i) => i.saturating_add_signed(step).min(self.pairs.len() - 1),
                        None => 0,
                    };
                    if !self.pairs.is_empty() {
                        self.select_pair(Some(next));
                        self.view.scroll_to_pair = true;
                    }
                }
            }
        }
        // Enter pairs once a group is selected; with no group selected it stays the wizard's
        // Next.
        let wants_pair =
            self.selected(Side::Entra).is_some() || self.selected(Side::Target).is_some();
        if matches!(active, ActiveList::Groups(_))
            && wants_pair
            && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter))
        {
            let _ = self.pair_selected();
        }
    }

    /// Moves a column's selection `step` rows among the rows its search shows.
    fn move_in_column(&mut self, side: Side, step: isize) {
        let (list, column) = match side {
            Side::Entra => (&self.entra_groups, &mut self.view.entra),
            Side::Target => (&self.target_groups, &mut self.view.target),
        };
        column.filter.update(list, &column.search);
        let rows = &column.filter.rows;
        if rows.is_empty() {
            return;
        }
        let current = column
            .selected
            .as_deref()
            .and_then(|id| rows.iter().position(|&i| list[i].id == id));
        let next = match current {
            Some(at) => at.saturating_add_signed(step).min(rows.len() - 1),
            None => 0,
        };
        column.selected = Some(list[rows[next]].id.clone());
        column.scroll_to = Some(next);
        self.view.message = None;
    }

    /// Draws the step; returns what the app should do after the frame.
    #[must_use]
    pub fn ui(&mut self, ui: &mut Ui) -> Vec<PairingCommand> {
        self.keyboard(ui.ctx());
        let mut reload = false;
        let mut fix = None;
        match &self.groups.task {
            Task::Pending => crate::wizard::widgets::busy_ui(
                ui,
                "Reading the groups of Entra ID and of the application…",
            ),
            Task::Failed(message) => {
                // In the screen's words, with the fix on an earlier step one click away and the
                // technical text behind Details.
                let entra = message.contains("Entra");
                let (step, label, words) = if entra {
                    (
                        crate::wizard::Step::AzureApp,
                        "Back to step 2: Azure app",
                        "The Entra groups cannot be read with the app of step 2. Go back, press \
                         Test connection there and follow what it says.",
                    )
                } else {
                    (
                        crate::wizard::Step::Credentials,
                        "Back to step 1: Credentials and token",
                        "The application's groups cannot be read with the credentials of step 1. \
                         Go back, press Test connection there and follow what it says.",
                    )
                };
                let view = match &mut self.view.failure {
                    Some((shown, view)) if shown == message => view,
                    slot => {
                        let view = crate::wizard::widgets::ResultView::failure(words)
                            .with_action(label)
                            .with_details(message.clone());
                        &mut slot.insert((message.clone(), view)).1
                    }
                };
                if crate::wizard::widgets::result_ui(ui, view) {
                    fix = Some(step);
                }
                reload = ui.button("Try again").clicked();
            }
            _ => {}
        }
        ui.label(
            "Select a group in each column, then press the right arrow to pair them. A user in \
             several paired groups goes to the target group of the first pair: Move up and Move \
             down set that order.",
        );
        match &self.view.message {
            Some(message) => {
                ui.colored_label(ui.visuals().warn_fg_color, message);
            }
            None => {
                // Keep the columns where they are when a message comes and goes.
                ui.label("");
            }
        }
        ui.add_space(ui.spacing().item_spacing.y);

        let gap = ui.spacing().item_spacing.x * 2.0;
        let middle_width = 52.0;
        let height = ui.available_height().max(240.0);
        // The columns share the width (the pairs, which show two names and a roles field, a
        // little more by default), and the administrator can drag the gaps to share it
        // differently. A few pixels are kept back for the page's scroll bar so nothing runs past
        // the window's edge.
        let shared = (ui.available_width() - middle_width - 3.0 * gap - 12.0).max(3.0 * 150.0);
        let (entra_share, target_share) = self.view.shares.unwrap_or(DEFAULT_SHARES);
        let entra_width = shared * entra_share;
        let target_width = shared * target_share;
        let pairs_width = shared - entra_width - target_width;
        let mut drags = [0.0_f32; 2];
        let paired: HashSet<String> = self.pairs.iter().map(|p| p.entra.id.clone()).collect();

        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = 0.0;
            for side in [Side::Entra, Side::Target] {
                let column_width = match side {
                    Side::Entra => entra_width,
                    Side::Target => target_width,
                };
                let list = match side {
                    Side::Entra => &self.entra_groups,
                    Side::Target => &self.target_groups,
                };
                let column = match side {
                    Side::Entra => &mut self.view.entra,
                    Side::Target => &mut self.view.target,
                };
                let (clicked, searching) = fixed_ui(ui, vec2(column_width, height), |ui| {
                    group_column_ui(ui, side, list, column, &paired)
                });
                if clicked {
                    self.view.message = None;
                }
                if clicked || searching {
                    self.view.active = Some(ActiveList::Groups(side));
                }
                match side {
                    Side::Entra => drags[0] = resize_handle(ui, gap, height, "entra-target"),
                    Side::Target => ui.add_space(gap),
                }
            }
            fixed_ui(ui, vec2(middle_width, height), |ui| self.buttons_ui(ui));
            drags[1] = resize_handle(ui, gap, height, "target-pairs");
            fixed_ui(ui, vec2(pairs_width, height), |ui| self.pairs_ui(ui));
        });
        if drags != [0.0, 0.0] {
            // Each handle moves the width between its two neighbours; every column keeps a
            // sixth of the width at least.
            let min = 1.0 / 6.0;
            let mut entra = entra_share + drags[0] / shared;
            let mut target = target_share - drags[0] / shared + drags[1] / shared;
            entra = entra.clamp(min, 1.0 - 2.0 * min);
            target = target.clamp(min, 1.0 - entra - min);
            self.view.shares = Some((entra, target));
        }

        let mut commands = self.member_requests();
        if reload {
            commands.push(PairingCommand::Reload);
        }
        commands.extend(fix.map(PairingCommand::Fix));
        commands
    }

    /// → and ←, centred between the group columns and the pairs.
    fn buttons_ui(&mut self, ui: &mut Ui) {
        ui.add_space((ui.available_height() / 2.0 - 60.0).max(0.0));
        ui.vertical_centered_justified(|ui| {
            let can_pair =
                self.selected(Side::Entra).is_some() && self.selected(Side::Target).is_some();
            let pair =
                widgets::arrow_button(ui, can_pair, egui::Vec2::X, "Pair the selected groups")
                    .on_hover_text("Pair the selected Entra group with the selected target group")
                    .on_disabled_hover_text("Select a group in both columns first");
            if pair.clicked() {
                let _ = self.pair_selected();
            }
            ui.add_space(8.0);
            let has_pair = self.selected_pair().is_some();
            let remove =
                widgets::arrow_button(ui, has_pair, -egui::Vec2::X, "Remove the selected pair")
                    .on_hover_text("Remove the selected pair")
                    .on_disabled_hover_text("Select a pair first");
            if remove.clicked() {
                let _ = self.remove_selected_pair();
            }
        });
    }

    /// The pairs in precedence order, with ↑/↓ and a nested check box each.
    fn pairs_ui(&mut self, ui: &mut Ui) {
        let selected = self.selected_pair();
        ui.horizontal(|ui| {
            ui.strong("Pairs");
            ui.weak(thousands(self.pairs.len()));
        });
        // In the row where the group columns have their search box, so the lists line up.
        ui.horizontal(|ui| {
            let up = ui
                .add_enabled(
                    selected.is_some_and(|i| i > 0),
                    egui::Button::new("Move up"),
                )
                .accessible_name("Move the selected pair up")
                .on_hover_text("Give the selected pair a higher precedence");
            if up.clicked() {
                self.move_selected_pair(true);
            }
            let down = ui
                .add_enabled(
                    selected.is_some_and(|i| i + 1 < self.pairs.len()),
                    egui::Button::new("Move down"),
                )
                .accessible_name("Move the selected pair down")
                .on_hover_text("Give the selected pair a lower precedence");
            if down.clicked() {
                self.move_selected_pair(false);
            }
        });
        ui.weak("In precedence order: the first pair wins.");
        widgets::list_frame(ui).show(ui, |ui| {
            ScrollArea::vertical()
                .id_salt("pairs")
                .auto_shrink(false)
                .show(ui, |ui| {
                    if self.pairs.is_empty() {
                        ui.weak("No pairs yet. Select a group in each column and press the right arrow.");
                    }
                    let mut clicked = None;
                    for (i, pair) in self.pairs.iter_mut().enumerate() {
                        // Read aloud with an arrow; drawn with one (the font has no arrow glyph).
                        let number = i + 1;
                        let label = format!("{number}. {} → {}", pair.entra.name, pair.target.name);
                        let from = format!("{number}. {}", pair.entra.name);
                        let row =
                            arrow_row(ui, selected == Some(i), &label, &from, &pair.target.name);
                        if row.clicked() {
                            clicked = Some(i);
                        }
                        if selected == Some(i) && std::mem::take(&mut self.view.scroll_to_pair) {
                            row.scroll_to_me(None);
                        }
                        ui.horizontal(|ui| {
                            ui.add_space(ui.spacing().button_padding.x);
                            ui.checkbox(&mut pair.nested, "nested groups")
                                .accessible_name(format!("Nested groups for pair {}", i + 1))
                                .on_hover_text(
                                    "On: members of groups inside the Entra group count too. \
                                     Off: direct members only.",
                                );
                        });
                        ui.horizontal_wrapped(|ui| {
                            ui.add_space(ui.spacing().button_padding.x);
                            ui.weak(format!(
                                "Entra: {} · target: {}",
                                members_text(pair.entra.members),
                                members_text(pair.target.members)
                            ));
                        });
                        roles_ui(ui, number, pair, &mut self.view.roles_text);
                        ui.add_space(4.0);
                    }
                    if let Some(i) = clicked {
                        self.select_pair(Some(i));
                        self.view.active = Some(ActiveList::Pairs);
                    }
                });
        });
    }
}

#[cfg(test)]
mod tests;
