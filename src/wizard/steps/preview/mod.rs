//! Step 5, the dry-run preview: the engine's real [`Plan`] for the settings so far. Counts, a tree
//! of target groups with each user's action, field-level changes, warnings, a blocked plan shown
//! plainly with what it would take to proceed, filters by action, and export to CSV or JSON
//! through a native save dialog. A skipped user can be linked by hand to an account ([`resolve`]).

pub(crate) mod effects;
pub mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use egui::{CollapsingHeader, Color32, Frame, Grid, RichText, ScrollArea, Stroke, Ui};

use self::resolve::{Basis, PreviewLink, Resolver};
use super::pairing::widgets::thousands;
use crate::sync::{Action, ActionKind, Blocked, GuardKind, Plan};
use crate::wizard::jobs::Load;

/// What the preview asks the app to do after the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreviewCommand {
    /// Plan again (the administrator pressed *Refresh*).
    Refresh,
    /// Ask for a file name with a native save dialog, then write [`export`] there.
    Export(ExportFormat),
    /// *Link to this account*: link a skipped Entra user to this target user by hand.
    Link { entra_id: String, target_id: String },
    /// *Undo this link*: take back a link made here.
    Undo { entra_id: String },
}

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// The plan in an export format (the same renderings as `adsync plan --format csv|json`).
pub fn export(plan: &Plan, format: ExportFormat) -> String {
    match format {
        ExportFormat::Csv => crate::render::plan_csv(plan),
        ExportFormat::Json => plan.to_json(),
    }
}

/// How many actions a target group shows before *Show more*: enough to read, few enough that a
/// plan of 10,000 actions lays out a few hundred rows per frame, not 10,000.
pub const ROWS_PER_GROUP: usize = 100;

/// The state of step 5: the plan and the view's filters.
#[derive(Clone, Debug, Default)]
pub struct PreviewStep {
    /// The plan, computed when the step opens: the load's status and its data (a failure, e.g. a
    /// paired group that no longer exists, is shown in place of the plan).
    pub plan: Load<Plan>,
    /// The filters and the tree's state.
    pub view: PreviewView,
    /// What the plan was made from (for the candidate accounts of a skipped user).
    pub basis: Option<Arc<Basis>>,
    /// Links made by hand here, recorded in the state at Finish.
    pub decisions: Vec<PreviewLink>,
    /// Why the last link by hand was refused (or taken back), in words.
    pub link_notice: Option<String>,
}

/// The view state of step 5: which action kinds show, how many rows each group shows, and the
/// plan's actions grouped by target group (rebuilt only when the plan changes).
#[derive(Clone, Debug, Default)]
pub struct PreviewView {
    /// Kinds the administrator unticked.
    hidden: Vec<ActionKind>,
    /// Rows shown per group beyond [`ROWS_PER_GROUP`], by group key.
    shown: HashMap<String, usize>,
    tree: Tree,
    /// The search term under each skipped user, by Entra id.
    search: HashMap<String, String>,
}

/// The plan's actions by target group, in name order with "No group" last.
#[derive(Clone, Debug, Default)]
struct Tree {
    /// The plan the tree was built from (its actions' buffer address and length).
    plan: Option<(usize, usize)>,
    groups: Vec<GroupNode>,
}

#[derive(Clone, Debug)]
struct GroupNode {
    /// The target group's name (several joined with " + " in `group_mode = "all"`); empty for
    /// actions with no group.
    name: String,
    /// Indices into `plan.actions`.
    actions: Vec<usize>,
    /// Actions by kind, in [`ActionKind::ALL`] order.
    counts: [usize; 7],
}

impl Tree {
    fn update(&mut self, plan: &Plan) {
        let key = (plan.actions.as_ptr() as usize, plan.actions.len());
        if self.plan == Some(key) {
            return;
        }
        let mut groups: BTreeMap<(bool, String), GroupNode> = BTreeMap::new();
        for (i, action) in plan.actions.iter().enumerate() {
            let name = group_name(action);
            let node = groups
                .entry((name.is_empty(), name.clone()))
                .or_insert_with(|| GroupNode {
                    name,
                    actions: Vec::new(),
                    counts: [0; 7],
                });
            node.actions.push(i);
            node.counts[kind_index(action.kind)] += 1;
        }
        self.groups = groups.into_values().collect();
        self.plan = Some(key);
    }
}

fn group_name(action: &Action) -> String {
    match (&action.target_group, &action.target_groups) {
        (Some(group), _) => group.name.to_string(),
        (None, Some(groups)) => groups
            .iter()
            .map(|g| &*g.name)
            .collect::<Vec<_>>()
            .join(" + "),
        (None, None) => String::new(),
    }
}

fn kind_index(kind: ActionKind) -> usize {
    ActionKind::ALL
        .iter()
        .position(|&k| k == kind)
        .expect("ALL holds every kind")
}

impl PreviewStep {
    /// Shows a new plan, keeping the filters.
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan.set(plan);
        self.plan_changed();
    }

    /// Forgets the tree and the rows shown, which were for the previous plan.
    pub(crate) fn plan_changed(&mut self) {
        self.view.tree = Tree::default();
        self.view.shown.clear();
    }

    /// `Err` with a sentence for the administrator when Next must stay disabled (no plan yet).
    /// A blocked plan does not stop the wizard: the service will not apply it, and the step says so.
    pub fn validate(&self) -> Result<(), String> {
        match self.plan.done() {
            None => Err("The preview has not been computed yet.".into()),
            Some(_) => Ok(()),
        }
    }

    /// Is this kind of action shown (its filter box ticked)?
    pub fn is_shown(&self, kind: ActionKind) -> bool {
        !self.view.hidden.contains(&kind)
    }

    /// Shows or hides one kind of action.
    pub fn set_shown(&mut self, kind: ActionKind, shown: bool) {
        self.view.hidden.retain(|&k| k != kind);
        if !shown {
            self.view.hidden.push(kind);
        }
    }

    /// Draws the step; returns what the app should do after the frame.
    #[must_use]
    pub fn ui(&mut self, ui: &mut Ui) -> Vec<PreviewCommand> {
        let mut commands = Vec::new();
        let has_plan = self.plan.done().is_some();
        ui.horizontal(|ui| {
            ui.label("What the first sync would do with the settings so far. Nothing is written.");
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                for format in [ExportFormat::Json, ExportFormat::Csv] {
                    let text = match format {
                        ExportFormat::Csv => "Export CSV…",
                        ExportFormat::Json => "Export JSON…",
                    };
                    let button = ui
                        .add_enabled(has_plan, egui::Button::new(text))
                        .on_hover_text("Save the plan to a file")
                        .on_disabled_hover_text("There is no plan to export yet");
                    if button.clicked() {
                        commands.push(PreviewCommand::Export(format));
                    }
                }
                if ui
                    .button("Refresh")
                    .on_hover_text("Read Entra ID and the target again and plan anew")
                    .clicked()
                {
                    commands.push(PreviewCommand::Refresh);
                }
            });
        });
        ui.add_space(6.0);

        let Some(plan) = self.plan.done() else {
            match self.plan.failure() {
                Some(error) => {
                    callout(ui, ui.visuals().error_fg_color, |ui| {
                        ui.label(RichText::new("No plan could be made").strong());
                        ui.label(error);
                        ui.label("Fix the cause, then press Refresh.");
                    });
                }
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Reading Entra ID and the target to compute the plan…");
                    });
                }
            }
            return commands;
        };
        self.view.tree.update(plan);

        if let Some(blocked) = &plan.blocked {
            blocked_ui(ui, blocked);
            ui.add_space(6.0);
        }
        if let Some(notice) = &self.link_notice {
            callout(ui, ui.visuals().warn_fg_color, |ui| {
                ui.label(notice);
            });
            ui.add_space(6.0);
        }
        summary_ui(ui, plan);
        ui.add_space(6.0);
        filters_ui(ui, plan, &mut self.view.hidden);
        ui.add_space(6.0);

        ScrollArea::vertical()
            .id_salt("preview")
            .auto_shrink(false)
            .show(ui, |ui| {
                if !plan.warnings.is_empty() {
                    warnings_ui(ui, plan);
                    ui.add_space(6.0);
                }
                if plan.actions.is_empty() {
                    ui.label(format!(
                        "Nothing to do: the target is in step with Entra ID ({} users unchanged).",
                        thousands(plan.summary.unchanged)
                    ));
                }
                let view = &mut self.view;
                let mut resolver = Resolver {
                    basis: self.basis.as_deref(),
                    decisions: &self.decisions,
                    search: &mut view.search,
                    commands: &mut commands,
                };
                for group in &view.tree.groups {
                    let shown = view
                        .shown
                        .entry(group.name.clone())
                        .or_insert(ROWS_PER_GROUP);
                    group_ui(ui, plan, group, &view.hidden, shown, &mut resolver);
                }
            });
        commands
    }
}

/// A tinted, outlined frame in `color`.
fn callout(ui: &mut Ui, color: Color32, add_contents: impl FnOnce(&mut Ui)) {
    Frame::new()
        .fill(color.gamma_multiply(0.12))
        .stroke(Stroke::new(1.0, color))
        .corner_radius(6.0)
        .inner_margin(10.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            add_contents(ui);
        });
}

fn blocked_ui(ui: &mut Ui, blocked: &Blocked) {
    let color = ui.visuals().error_fg_color;
    callout(ui, color, |ui| {
        ui.label(
            RichText::new("This plan is blocked: the service will not apply it")
                .strong()
                .size(16.0)
                .color(color),
        );
        if blocked.kind != GuardKind::Disable {
            // An attribute wipe or dropped links: a broken mapping or read, not a scope change.
            ui.label(format!(
                "{} stopped it: {}; the limit is {}. Nothing is written while a plan is blocked.",
                capitalized(blocked.kind.name()),
                blocked.reason,
                thousands(blocked.limit)
            ));
            ui.add_space(4.0);
            ui.label(format!(
                "{}. If the changes are intended, let them through once with `adsync sync \
                 --allow-mass-disable`.",
                blocked.kind.what_to_check()
            ));
            return;
        }
        ui.label(format!(
            "The mass-disable guard stopped it: {}. It would disable {} users; the limit is {}. \
             Nothing is written while a plan is blocked.",
            blocked.reason,
            thousands(blocked.disables),
            thousands(blocked.limit)
        ));
        ui.add_space(4.0);
        ui.label(RichText::new("To proceed, do one of these:").strong());
        ui.label(
            "• If these users should stay: check the paired groups (step 3) and the search \
             term (step 4). A group emptied or replaced in Entra ID, or a term that matches \
             too few users, takes users out of scope. Then press Refresh.",
        );
        ui.label(format!(
            "• If the disables are intended: raise max_disables to at least {} and \
             max_disable_percent so that {} disables fit (the [policy] section of the config), \
             or let them through once with `adsync sync --allow-mass-disable`.",
            blocked.disables, blocked.disables
        ));
    });
}

/// "the attribute-wipe guard" → "The attribute-wipe guard".
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn summary_ui(ui: &mut Ui, plan: &Plan) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 18.0;
        let unchanged = [(
            "unchanged",
            plan.summary.unchanged,
            ui.visuals().weak_text_color(),
        )];
        let kinds = ActionKind::ALL
            .iter()
            .map(|&k| (k.as_str(), plan.summary.count(k), kind_color(k, dark)));
        for (label, count, color) in kinds.chain(unchanged) {
            ui.vertical(|ui| {
                let number = RichText::new(thousands(count)).size(20.0).strong();
                ui.label(if count == 0 {
                    number
                } else {
                    number.color(color)
                });
                ui.weak(label);
            });
        }
    });
}

fn filters_ui(ui: &mut Ui, plan: &Plan, hidden: &mut Vec<ActionKind>) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Show:");
        for kind in ActionKind::ALL {
            let mut shown = !hidden.contains(&kind);
            let count = plan.summary.count(kind);
            let text = format!("{} ({})", kind.as_str(), thousands(count));
            if ui.checkbox(&mut shown, text).changed() {
                hidden.retain(|&k| k != kind);
                if !shown {
                    hidden.push(kind);
                }
            }
        }
    });
}

fn warnings_ui(ui: &mut Ui, plan: &Plan) {
    let color = ui.visuals().warn_fg_color;
    callout(ui, color, |ui| {
        let n = plan.warnings.len();
        let title = if n == 1 {
            "1 warning".to_owned()
        } else {
            format!("{n} warnings")
        };
        ui.label(RichText::new(title).strong().color(color));
        for warning in &plan.warnings {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(&warning.code).monospace());
                ui.label(&warning.message);
            });
        }
    });
}

fn group_ui(
    ui: &mut Ui,
    plan: &Plan,
    group: &GroupNode,
    hidden: &[ActionKind],
    shown: &mut usize,
    resolver: &mut Resolver<'_>,
) {
    let visible: usize = ActionKind::ALL
        .iter()
        .enumerate()
        .filter(|(_, k)| !hidden.contains(k))
        .map(|(i, _)| group.counts[i])
        .sum();
    let total = group.actions.len();
    let name = if group.name.is_empty() {
        "No group"
    } else {
        group.name.as_str()
    };
    let users = if total == 1 { "user" } else { "users" };
    let count = if visible == total {
        format!("{} {users}", thousands(total))
    } else {
        format!("{} of {} {users}", thousands(visible), thousands(total))
    };
    CollapsingHeader::new(RichText::new(format!("{name} ({count})")).strong())
        .id_salt(("preview-group", &group.name))
        .default_open(true)
        .show(ui, |ui| {
            let mut drawn = 0;
            let mut rest = 0;
            for &i in &group.actions {
                let action = &plan.actions[i];
                if hidden.contains(&action.kind) {
                    continue;
                }
                if drawn < *shown {
                    action_ui(ui, action);
                    resolver.below(ui, action);
                    drawn += 1;
                } else {
                    rest = visible - drawn;
                    break;
                }
            }
            if visible == 0 {
                ui.weak("No actions of the kinds ticked above.");
            }
            if rest > 0 {
                let more = rest.min(ROWS_PER_GROUP);
                let text = format!(
                    "Show {} more ({} not shown)",
                    thousands(more),
                    thousands(rest)
                );
                if ui.button(text).clicked() {
                    *shown += more;
                }
            }
        });
}

fn action_ui(ui: &mut Ui, action: &Action) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        let kind = RichText::new(action.kind.as_str())
            .strong()
            .monospace()
            .color(kind_color(action.kind, dark));
        ui.add_sized([64.0, ui.spacing().interact_size.y], egui::Label::new(kind));
        ui.label(&action.user_principal_name);
        if !action
            .email
            .eq_ignore_ascii_case(&action.user_principal_name)
        {
            ui.weak(&action.email);
        }
        ui.weak(&action.reason);
    });
    if action.changes.is_empty() {
        return;
    }
    let n = action.changes.len();
    let title = if n == 1 {
        "1 field changes".to_owned()
    } else {
        format!("{n} fields change")
    };
    ui.indent(("changes", &action.entra_id), |ui| {
        CollapsingHeader::new(title)
            .id_salt(("changes", &action.entra_id))
            .show(ui, |ui| {
                Grid::new(("changes-grid", &action.entra_id))
                    .num_columns(3)
                    .striped(true)
                    .spacing([16.0, 2.0])
                    .show(ui, |ui| {
                        ui.weak("field");
                        ui.weak("now");
                        ui.weak("after the sync");
                        ui.end_row();
                        for change in &action.changes {
                            ui.monospace(&change.field);
                            ui.label(value_text(change.from.as_deref()));
                            ui.label(value_text(change.to.as_deref()));
                            ui.end_row();
                        }
                    });
            });
    });
}

fn value_text(value: Option<&str>) -> RichText {
    match value {
        Some(v) if !v.is_empty() => RichText::new(v),
        _ => RichText::new("(empty)").weak().italics(),
    }
}

/// A color per action kind, readable on the theme's background.
pub fn kind_color(kind: ActionKind, dark: bool) -> Color32 {
    let (on_dark, on_light) = match kind {
        ActionKind::Create => ((110, 200, 110), (20, 120, 40)),
        ActionKind::Link => ((110, 170, 240), (20, 90, 180)),
        ActionKind::Update => ((230, 190, 90), (150, 100, 0)),
        ActionKind::Move => ((190, 140, 240), (110, 50, 170)),
        ActionKind::Disable => ((240, 110, 110), (190, 30, 30)),
        ActionKind::Enable => ((90, 200, 190), (0, 120, 110)),
        ActionKind::Skip => ((160, 160, 160), (100, 100, 100)),
    };
    let (r, g, b) = if dark { on_dark } else { on_light };
    Color32::from_rgb(r, g, b)
}

#[cfg(test)]
mod tests;
