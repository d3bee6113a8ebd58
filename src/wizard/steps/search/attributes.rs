//! Step 4's Attributes panel: the config's `[[mappings]]` (SPEC §3.1) as an editable table (target,
//! kind, source / constant / template, default, transform, on create only), each row's problem
//! beside it — the config loader's own check ([`mapping_problems`]) said with the screen's labels —
//! and the values the mappings give a user picked from the matching members, computed live by the
//! engine's [`MappingSet`].

use egui::{Button, ComboBox, Label, RichText, ScrollArea, TextEdit, Ui};

use crate::config::{
    ConfigFile, ConfigProblem, Mapping, SOURCES, Transform, UsernamePolicy, When, canonical_target,
    known_targets, mapping_problems,
};
use crate::sync::{MappingSet, Origin, SourceSnapshot, SourceUser};

/// Where a row's value comes from: the four kinds of a `[[mappings]]` entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MappingKind {
    /// `source`: a Graph user property.
    #[default]
    Source,
    /// `value`: a constant.
    Value,
    /// `template`: text with `{property}` placeholders.
    Template,
    /// `omit = true`: the default mapping's value is dropped.
    Omit,
}

impl MappingKind {
    const ALL: [Self; 4] = [Self::Source, Self::Value, Self::Template, Self::Omit];

    /// The kind as the screen names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Source => "Graph property",
            Self::Value => "Constant",
            Self::Template => "Template",
            Self::Omit => "Omit",
        }
    }

    /// The name of the row's text field (and of the column, in the problems).
    fn field(self) -> &'static str {
        match self {
            Self::Source => "Source",
            Self::Value => "Constant",
            Self::Template => "Template",
            Self::Omit => "Omit",
        }
    }
}

/// One row of the table: a `[[mappings]]` entry as edited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MappingRow {
    pub target: String,
    pub kind: MappingKind,
    /// The source property, the constant or the template (unused for [`MappingKind::Omit`]).
    pub text: String,
    /// Written when the source or template comes out empty; empty = no default.
    pub default: String,
    pub transform: Option<Transform>,
    /// `when = "create"`.
    pub create_only: bool,
}

impl MappingRow {
    /// The row for a config entry.
    pub fn from_mapping(m: &Mapping) -> Self {
        let (kind, text) = match (&m.source, &m.value, &m.template, m.omit) {
            (Some(s), ..) => (MappingKind::Source, s.clone()),
            (_, Some(v), ..) => (MappingKind::Value, v.clone()),
            (_, _, Some(t), _) => (MappingKind::Template, t.clone()),
            _ => (MappingKind::Omit, String::new()),
        };
        Self {
            target: m.target.clone(),
            kind,
            text,
            default: m.default.clone().unwrap_or_default(),
            transform: m.transform,
            create_only: m.when == When::Create,
        }
    }

    /// The config entry this row writes. An omitted attribute is written with nothing else:
    /// a default, transform or `when` means nothing there.
    pub fn to_mapping(&self) -> Mapping {
        let omit = self.kind == MappingKind::Omit;
        let text = |kind: MappingKind| {
            (self.kind == kind).then(|| match kind {
                // A constant keeps its spaces; names are trimmed.
                MappingKind::Value => self.text.clone(),
                _ => self.text.trim().to_owned(),
            })
        };
        let default = self.default.trim();
        Mapping {
            target: self.target.trim().to_owned(),
            source: text(MappingKind::Source),
            value: text(MappingKind::Value),
            template: text(MappingKind::Template),
            omit,
            default: (!omit && !default.is_empty()).then(|| self.default.clone()),
            transform: self.transform.filter(|_| !omit),
            when: if self.create_only && !omit {
                When::Create
            } else {
                When::Always
            },
        }
    }
}

/// Where a problem's column ("Target: …") stands among the columns.
fn column_rank(message: &str) -> usize {
    let label = message.split(':').next().unwrap_or_default();
    [
        "Target",
        "Omit",
        "Source",
        "Constant",
        "Template",
        "Default",
        "Transform",
        "On create",
    ]
    .iter()
    .position(|l| *l == label)
    .unwrap_or(usize::MAX)
}

/// A transform as the screen names it.
fn transform_label(transform: Option<Transform>) -> &'static str {
    match transform {
        None => "none",
        Some(Transform::Lower) => "lower case",
        Some(Transform::Upper) => "UPPER CASE",
        Some(Transform::Trim) => "trim spaces",
        Some(Transform::LocalPart) => "text before @",
    }
}

/// The panel's state.
#[derive(Clone, Debug, Default)]
pub struct AttributesPanel {
    pub rows: Vec<MappingRow>,
    /// `policy.username`, which the default mapping's userName follows.
    pub username: UsernamePolicy,
    /// The Entra object id of the user whose values show; `None`: the first matching member.
    pub user: Option<String>,
    /// The text typed in the user picker.
    filter: String,
}

/// The columns' widths, shared by the header and the rows so they line up.
/// Sized so that the value column keeps about 200 points in a 1024-point-wide window.
const TARGET_W: f32 = 150.0;
const KIND_W: f32 = 110.0;
const TEXT_W: f32 = 140.0;
const DEFAULT_W: f32 = 70.0;
const TRANSFORM_W: f32 = 92.0;
const CREATE_W: f32 = 44.0;
const PICK_W: f32 = 22.0;

impl AttributesPanel {
    /// Shows a config's mappings and username policy.
    pub fn load_config(&mut self, file: &ConfigFile) {
        self.rows = file.mappings.iter().map(MappingRow::from_mapping).collect();
        self.username = file.policy.username;
    }

    /// The `[[mappings]]` the rows stand for, in order.
    pub fn mappings(&self) -> Vec<Mapping> {
        self.rows.iter().map(MappingRow::to_mapping).collect()
    }

    /// The mappings without the rows that have a problem: what Graph is asked for and what the
    /// values are computed from while the administrator edits.
    pub fn valid_mappings(&self) -> Vec<Mapping> {
        let problems = self.problems();
        self.rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !problems.iter().any(|(row, _)| row == i))
            .map(|(_, r)| r.to_mapping())
            .collect()
    }

    /// Each row's problems in the screen's words: `(row index, "Target: …")`.
    pub fn problems(&self) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = Vec::new();
        // An empty field is the one thing said differently: the loader has no row to point at.
        for (i, row) in self.rows.iter().enumerate() {
            if row.target.trim().is_empty() {
                out.push((
                    i,
                    "Target: empty; pick the attribute to write from the … list".into(),
                ));
            }
            if row.kind != MappingKind::Omit
                && row.kind != MappingKind::Value
                && row.text.trim().is_empty()
            {
                out.push((
                    i,
                    match row.kind {
                        MappingKind::Source => {
                            "Source: empty; pick a Graph property from the … list"
                        }
                        _ => "Template: empty; write text with {property} placeholders",
                    }
                    .into(),
                ));
            }
        }
        for problem in mapping_problems(&self.mappings()) {
            let Some((i, message)) = self.screen_problem(&problem) else {
                continue;
            };
            let field = message.split(':').next().unwrap_or_default().to_owned();
            // The empty-field messages above already say it for this field.
            if !out
                .iter()
                .any(|(row, m)| *row == i && m.starts_with(&format!("{field}:")))
            {
                out.push((i, message));
            }
        }
        // By row, then in the order of the columns.
        out.sort_by_key(|(i, message)| (*i, column_rank(message)));
        out
    }

    /// A problem of the config loader, keyed `mappings[N].key`, as the screen says it: the
    /// column's label and the loader's message, without config-file words.
    fn screen_problem(&self, problem: &ConfigProblem) -> Option<(usize, String)> {
        let rest = problem.key.strip_prefix("mappings[")?;
        let (n, key) = rest.split_once("].")?;
        let index = n.parse::<usize>().ok()?.checked_sub(1)?;
        let row = self.rows.get(index)?;
        let label = match key {
            "target" => "Target",
            "source" | "value" | "template" => row.kind.field(),
            "omit" => "Omit",
            "default" => "Default",
            "transform" => "Transform",
            "when" => "On create",
            other => other,
        };
        let mut message = problem.message.clone();
        if message.contains("is already mapped on line") {
            let key = canonical_target(&row.target).unwrap_or_default();
            let first = self.rows[..index]
                .iter()
                .position(|r| canonical_target(&r.target).is_ok_and(|k| k == key))
                .map_or(0, |i| i + 1);
            message = format!("`{key}` is already mapped in row {first}; keep one row per target");
        }
        // The loader lists every allowed name; the screen has them behind the … button.
        if let Some(cut) = message.find("; use one of ") {
            message.truncate(cut);
            message.push_str(if key == "target" {
                "; pick one from the … list, or write another schema extension's attribute in full \
                 (urn:…:User:attribute)"
            } else {
                "; pick one from the … list"
            });
        }
        for (config, screen) in [
            ("remove this mapping", "remove this row"),
            (
                "give each pair its roles with `roles = [...]` under [[pairs]]",
                "give each pair its roles on step 3, Group pairing",
            ),
            ("use `value` for a constant", "choose Constant"),
            ("`omit = true`", "Omit"),
        ] {
            message = message.replace(config, screen);
        }
        Some((index, format!("{label}: {message}")))
    }

    /// `Err` with a sentence for the administrator while a row has a problem.
    pub fn validate(&self) -> Result<(), String> {
        match self.problems().first() {
            None => Ok(()),
            Some((row, message)) => Err(format!(
                "Attributes, row {}: {message}. Fix it on the Attributes tab.",
                row + 1
            )),
        }
    }

    /// The user whose values show: the picked one while it matches, else the first match.
    fn picked<'s>(&self, source: &'s SourceSnapshot, matches: &[String]) -> Option<&'s SourceUser> {
        self.user
            .as_ref()
            .filter(|id| matches.contains(id))
            .or(matches.first())
            .and_then(|id| source.users.get(id))
    }

    /// Draws the panel. `source` is `None` while the members are read.
    pub fn ui(&mut self, ui: &mut Ui, source: Option<&SourceSnapshot>, matches: &[String]) {
        ui.label(
            "Each row decides one attribute of the users in the application; rows replace the \
             default mapping for their target. Values show for the member picked here.",
        );
        ui.add_space(4.0);
        let user = source.and_then(|s| self.picked(s, matches));
        ui.horizontal(|ui| {
            let label = ui.label("Values for");
            match (source, user) {
                (Some(source), Some(user)) => {
                    self.user_picker(ui, source, matches, user)
                        .labelled_by(label.id);
                }
                (None, _) => {
                    ui.spinner();
                    ui.weak("reading the members…");
                }
                (Some(_), None) => {
                    ui.weak("(no matching member)");
                }
            }
        });
        ui.add_space(6.0);

        // The values the engine computes for the picked user, from the rows without a problem.
        let problems = self.problems();
        let explained = user
            .map(|u| MappingSet::new(&self.valid_mappings()).explain(u, self.username, &|_| None));
        let header = |ui: &mut Ui, text: &str, width: f32| {
            ui.add_sized([width, 18.0], Label::new(RichText::new(text).strong()));
        };
        ui.horizontal(|ui| {
            header(ui, "Target", TARGET_W + PICK_W + 4.0);
            header(ui, "Kind", KIND_W);
            header(ui, "Source, constant or template", TEXT_W + PICK_W + 4.0);
            header(ui, "Default", DEFAULT_W);
            header(ui, "Transform", TRANSFORM_W);
            header(ui, "Create", CREATE_W);
            ui.strong("Value");
        });
        let mut remove = None;
        for (i, row) in self.rows.iter_mut().enumerate() {
            let n = i + 1;
            ui.horizontal(|ui| {
                row_ui(ui, row, n);
                let value = explained.as_ref().and_then(|rows| {
                    let key = canonical_target(&row.target).ok()?;
                    rows.iter().find(|(k, ..)| *k == key).cloned()
                });
                let (text, weak) = match (problems.iter().any(|(r, _)| *r == i), value) {
                    (true, _) => ("see below".to_owned(), true),
                    (false, _) if user.is_none() => (String::new(), true),
                    (false, Some((_, Some(v), origin, _))) => (
                        match origin {
                            Origin::Fallback => format!("{v} (default)"),
                            _ => v,
                        },
                        false,
                    ),
                    (false, Some((_, None, Origin::Omitted, _))) => ("(not written)".into(), true),
                    (false, _)
                        if row.kind == MappingKind::Source && row.text.trim() == "manager" =>
                    {
                        ("(the manager's id in the application)".into(), true)
                    }
                    (false, _) => ("(empty)".into(), true),
                };
                let text = if weak {
                    RichText::new(text).weak()
                } else {
                    RichText::new(text)
                };
                // The remove button at the right edge, the value in the width left of it.
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .add(Button::new("×").small())
                        .accessible_name(format!("Remove mapping {n}"))
                        .on_hover_text("Remove this row")
                        .clicked()
                    {
                        remove = Some(i);
                    }
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        ui.add(Label::new(text).truncate());
                    });
                });
            });
            for (_, message) in problems.iter().filter(|(r, _)| *r == i) {
                ui.horizontal(|ui| {
                    ui.add_space(8.0);
                    ui.add(
                        Label::new(
                            RichText::new(format!("Row {n}: {message}"))
                                .color(ui.visuals().error_fg_color),
                        )
                        .wrap(),
                    );
                });
            }
        }
        if let Some(i) = remove {
            self.rows.remove(i);
        }
        if self.rows.is_empty() {
            ui.weak("No mappings: the default mapping applies to every attribute.");
        }
        if ui.button("+ Add a mapping").clicked() {
            self.rows.push(MappingRow::default());
        }
        if let Some(rows) = &explained {
            ui.add_space(6.0);
            egui::CollapsingHeader::new("The default mapping for this member")
                .id_salt("default-mapping")
                .show(ui, |ui| {
                    egui::Grid::new("default-mapping-grid")
                        .num_columns(2)
                        .show(ui, |ui| {
                            for (key, value, origin, _) in rows {
                                if *origin != Origin::Default {
                                    continue;
                                }
                                ui.label(key);
                                ui.label(value.as_deref().unwrap_or("(empty)"));
                                ui.end_row();
                            }
                        });
                });
        }
    }

    /// The "Values for" picker: the matching members, filtered by what is typed.
    fn user_picker(
        &mut self,
        ui: &mut Ui,
        source: &SourceSnapshot,
        matches: &[String],
        user: &SourceUser,
    ) -> egui::Response {
        let name = |u: &SourceUser| {
            u.display_name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&u.user_principal_name)
                .to_owned()
        };
        let filter = &mut self.filter;
        let picked = &mut self.user;
        ComboBox::from_id_salt("attributes-user")
            .selected_text(format!("{} ({})", name(user), user.user_principal_name))
            .width(360.0)
            .show_ui(ui, |ui| {
                ui.add(TextEdit::singleline(filter).hint_text("Find a member"))
                    .accessible_name("Find a member");
                let needle = filter.trim().to_lowercase();
                ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
                    let shown = matches
                        .iter()
                        .filter_map(|id| source.users.get(id))
                        .filter(|u| {
                            needle.is_empty()
                                || name(u).to_lowercase().contains(&needle)
                                || u.user_principal_name.to_lowercase().contains(&needle)
                        })
                        .take(50);
                    for u in shown {
                        if ui
                            .selectable_label(u.id == user.id, name(u))
                            .on_hover_text(&u.user_principal_name)
                            .clicked()
                        {
                            *picked = Some(u.id.clone());
                        }
                    }
                });
            })
            .response
    }
}

/// The editable cells of one row (all but the value and the remove button).
fn row_ui(ui: &mut Ui, row: &mut MappingRow, n: usize) {
    let target = ui
        .add(TextEdit::singleline(&mut row.target).desired_width(TARGET_W))
        .accessible_name(format!("Target {n}"));
    if !row.target.is_empty() {
        // The field is narrower than most paths.
        target.on_hover_text(row.target.as_str());
    }
    ui.menu_button("…", |ui| {
        ScrollArea::vertical().max_height(320.0).show(ui, |ui| {
            for path in known_targets() {
                if ui.button(&path).clicked() {
                    row.target = path;
                    ui.close();
                }
            }
        });
    })
    .response
    .accessible_name(format!("Pick target {n}"))
    .on_hover_text("Pick a target path from the list");
    ComboBox::from_id_salt(("mapping-kind", n))
        .selected_text(row.kind.label())
        .width(KIND_W)
        .show_ui(ui, |ui| {
            for kind in MappingKind::ALL {
                ui.selectable_value(&mut row.kind, kind, kind.label());
            }
        })
        .response
        .accessible_name(format!("Kind {n}"));
    let omit = row.kind == MappingKind::Omit;
    let hint = match row.kind {
        MappingKind::Source => "e.g. mobilePhone",
        MappingKind::Value => "e.g. Technician",
        MappingKind::Template => "{givenName}.{surname}",
        MappingKind::Omit => "(not written)",
    };
    ui.add_enabled(
        !omit,
        TextEdit::singleline(&mut row.text)
            .hint_text(hint)
            .desired_width(TEXT_W),
    )
    .accessible_name(format!("{} {n}", row.kind.field()))
    .on_hover_text(row.text.as_str());
    let pick_sources = row.kind == MappingKind::Source;
    ui.add_enabled_ui(pick_sources, |ui| {
        ui.menu_button("…", |ui| {
            ScrollArea::vertical().max_height(320.0).show(ui, |ui| {
                let numbered = (1..=15)
                    .map(|i| format!("onPremisesExtensionAttributes.extensionAttribute{i}"));
                for name in SOURCES.iter().map(|s| (*s).to_owned()).chain(numbered) {
                    if ui.button(&name).clicked() {
                        row.text = name;
                        ui.close();
                    }
                }
            });
        })
        .response
        .accessible_name(format!("Pick source {n}"))
        .on_hover_text("Pick a Graph property from the list");
    });
    ui.add_enabled(
        !omit,
        TextEdit::singleline(&mut row.default)
            .hint_text(if omit { "" } else { "none" })
            .desired_width(DEFAULT_W),
    )
    .accessible_name(format!("Default {n}"));
    ui.add_enabled_ui(!omit, |ui| {
        ComboBox::from_id_salt(("mapping-transform", n))
            .selected_text(transform_label(row.transform))
            .width(TRANSFORM_W)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut row.transform, None, transform_label(None));
                for t in [
                    Transform::Lower,
                    Transform::Upper,
                    Transform::Trim,
                    Transform::LocalPart,
                ] {
                    ui.selectable_value(&mut row.transform, Some(t), transform_label(Some(t)));
                }
            })
            .response
            .accessible_name(format!("Transform {n}"));
    });
    ui.add_enabled_ui(!omit, |ui| {
        ui.add_sized(
            [CREATE_W, 18.0],
            egui::Checkbox::without_text(&mut row.create_only),
        )
        .accessible_name(format!("On create only {n}"))
        .on_hover_text("On create only: written when the user is created, never updated");
    });
}
