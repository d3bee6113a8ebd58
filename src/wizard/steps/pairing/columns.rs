//! Step 3's column pieces: the two group lists drawn with their search and selection, the
//! draggable gaps between the columns, a pair's roles field and the member counts.

use std::collections::{HashMap, HashSet};

use egui::{Align, Layout, ScrollArea, TextEdit, Ui, vec2};

use super::*;
/// A gap between two columns that can be dragged sideways to share the width differently; the
/// horizontal distance dragged this frame.
pub(super) fn resize_handle(ui: &mut Ui, width: f32, height: f32, name: &str) -> f32 {
    // Dragged with the mouse only: not a Tab stop.
    let (rect, response) = ui.allocate_exact_size(vec2(width, height), egui::Sense::DRAG);
    let response = response
        .on_hover_cursor(egui::CursorIcon::ResizeHorizontal)
        .on_hover_text("Drag to make the columns wider or narrower");
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Splitter,
            true,
            format!("Resize the columns ({name})"),
        )
    });
    if response.hovered() || response.dragged() {
        let x = rect.center().x;
        ui.painter().line_segment(
            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
            ui.visuals().widgets.hovered.fg_stroke,
        );
    }
    response.drag_delta().x
}

/// A pair's roles: one comma-separated field. The pair keeps the parsed list.
pub(super) fn roles_ui(
    ui: &mut Ui,
    number: usize,
    pair: &mut PairRow,
    texts: &mut HashMap<String, String>,
) {
    let text = texts
        .entry(pair.entra.id.clone())
        .or_insert_with(|| pair.roles.join(", "));
    // The config may have changed the roles underneath (a reopened draft): show those.
    if parse_roles(text) != pair.roles {
        *text = pair.roles.join(", ");
    }
    ui.horizontal(|ui| {
        ui.add_space(ui.spacing().button_padding.x);
        let label = ui.label("Roles");
        let edit = ui
            .add(
                TextEdit::singleline(text)
                    // A stable id: a banner appearing above (a member count that failed) must
                    // not take the focus from a role being typed.
                    .id(egui::Id::unique(("pair-roles", pair.entra.id.as_str())))
                    .hint_text("none; e.g. technician, reports")
                    .desired_width(ui.available_width() - ui.spacing().button_padding.x),
            )
            .labelled_by(label.id)
            .accessible_name(format!("Roles for pair {number}"))
            .on_hover_text(
                "SCIM roles this pair gives its users, separated by commas. adsync removes only \
                 the roles it gave; roles added in the application stay.",
            );
        if edit.changed() {
            pair.roles = parse_roles(text);
        }
    });
}

/// The roles in a comma-separated text: trimmed, without empty entries or repeats.
pub fn parse_roles(text: &str) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for role in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
    }
    roles
}

/// Lays out `add_contents` top-down in a box of exactly `size`.
pub(super) fn fixed_ui<R>(
    ui: &mut Ui,
    size: egui::Vec2,
    add_contents: impl FnOnce(&mut Ui) -> R,
) -> R {
    // The row of columns is laid out without spacing (the gaps are drawn as handles); inside a
    // column, widgets are spaced as everywhere else.
    let item_spacing = ui.ctx().global_style().spacing.item_spacing;
    ui.allocate_ui_with_layout(size, Layout::top_down_justified(Align::Min), |ui| {
        ui.spacing_mut().item_spacing = item_spacing;
        ui.set_min_size(size);
        ui.set_max_width(size.x);
        add_contents(ui)
    })
    .inner
}

/// One searchable, virtualized group column. Returns whether a row was clicked and whether
/// its search box has the focus.
pub(super) fn group_column_ui(
    ui: &mut Ui,
    side: Side,
    groups: &[GroupItem],
    column: &mut ColumnView,
    paired: &HashSet<String>,
) -> (bool, bool) {
    let (title, search_name) = match side {
        Side::Entra => ("Entra ID groups", "Search Entra groups"),
        Side::Target => ("Target groups", "Search target groups"),
    };
    ui.horizontal(|ui| {
        ui.strong(title);
        ui.weak(thousands(groups.len()));
    });
    let searching = ui
        .add(
            TextEdit::singleline(&mut column.search)
                .id(search_id(side))
                .hint_text("Search by name")
                .desired_width(f32::INFINITY),
        )
        .accessible_name(search_name)
        .on_hover_text("Up and Down arrows move in the list; Enter pairs the selected groups")
        .has_focus();
    column.filter.update(groups, &column.search);
    let rows = &column.filter.rows;
    let status = if groups.is_empty() {
        "No groups to show yet.".to_owned()
    } else if column.filter.needle.is_empty() {
        format!("{} groups", thousands(groups.len()))
    } else if rows.is_empty() {
        format!("No group name contains “{}”.", column.search.trim())
    } else {
        format!(
            "{} of {} match",
            thousands(rows.len()),
            thousands(groups.len())
        )
    };
    ui.weak(status);

    let mut clicked = None;
    widgets::list_frame(ui).show(ui, |ui| {
        ui.spacing_mut().item_spacing.y = 1.0;
        let row_height = widgets::row_height(ui);
        let mut area = ScrollArea::vertical()
            .id_salt(("groups", side))
            .auto_shrink(false);
        if let Some(row) = column.scroll_to.take() {
            // Bring a row moved to by keyboard into view, scrolling as little as possible.
            let pitch = row_height + ui.spacing().item_spacing.y;
            let top = row as f32 * pitch;
            let (offset, visible) = column.scroll;
            if top < offset {
                area = area.vertical_scroll_offset(top);
            } else if top + pitch > offset + visible {
                area = area.vertical_scroll_offset(top + pitch - visible);
            }
        }
        let output = area.show_rows(ui, row_height, rows.len(), |ui, range| {
            for &index in &rows[range] {
                let group = &groups[index];
                let selected = column.selected.as_deref() == Some(group.id.as_str());
                let is_paired = side == Side::Entra && paired.contains(&group.id);
                let detail = match (group.members, is_paired) {
                    (Some(n), true) => Some(format!("paired · {}", members_text(Some(n)))),
                    (Some(n), false) => Some(members_text(Some(n))),
                    (None, true) => Some("paired".to_owned()),
                    (None, false) => None,
                };
                if select_row(ui, selected, &group.name, detail.as_deref()).clicked() {
                    clicked = Some(group.id.clone());
                }
            }
        });
        column.scroll = (output.state.clamped_offset().y, output.inner_rect.height());
    });
    match clicked {
        Some(id) => {
            column.selected = Some(id);
            (true, searching)
        }
        None => (false, searching),
    }
}

pub(super) fn members_text(members: Option<usize>) -> String {
    match members {
        Some(1) => "1 member".to_owned(),
        Some(n) => format!("{} members", thousands(n)),
        None => "… members".to_owned(),
    }
}
