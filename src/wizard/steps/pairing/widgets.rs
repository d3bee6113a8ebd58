//! Small drawing helpers shared by the pairing, search and preview steps: the selectable list
//! row, the framed list, the drawn arrows, number formatting. (They live here rather than in
//! `wizard/` so the three steps could be written without touching the app's files.)

use egui::{
    Button, Frame, Pos2, Response, RichText, Role, Sense, Stroke, StrokeKind, TextStyle,
    TextWrapMode, Ui, Vec2, WidgetInfo, WidgetText, pos2, vec2,
};

/// The height of one list row: a line of body text with the button padding above and below.
pub fn row_height(ui: &Ui) -> f32 {
    ui.text_style_height(&TextStyle::Body) + 2.0 * ui.spacing().button_padding.y
}

/// A full-width row that can be selected by click: `text` on the left, cut with … when too long (the full text shows on hover), and an optional small `detail`
/// on the right. Reads as a selectable label to screen readers and kittest.
pub fn select_row(ui: &mut Ui, selected: bool, text: &str, detail: Option<&str>) -> Response {
    let size = vec2(ui.available_width(), row_height(ui));
    // Clickable but no Tab stop: a list is one stop (its search box) and the arrow keys move
    // within it, or Tab would visit each of 20,000 rows.
    let (rect, response) = ui.allocate_exact_size(size, Sense::CLICK);
    let enabled = ui.is_enabled();
    response.widget_info(|| WidgetInfo::selected(Role::Button, enabled, selected, text));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let visuals = ui.style().interact_selectable(&response, selected);
    paint_row_background(ui, rect, &response, selected);
    let pad = ui.spacing().button_padding.x;
    let mut right = rect.right() - pad;
    if let Some(detail) = detail {
        let galley = WidgetText::from(RichText::new(detail).small()).into_galley(
            ui,
            Some(TextWrapMode::Extend),
            f32::INFINITY,
            TextStyle::Small,
        );
        let pos = pos2(
            right - galley.size().x,
            rect.center().y - galley.size().y / 2.0,
        );
        right = pos.x - pad;
        let color = ui.visuals().weak_text_color();
        ui.painter().galley(pos, galley, color);
    }
    let galley = truncated(
        ui,
        text,
        (right - rect.left() - pad).max(0.0),
        TextStyle::Body,
    );
    let elided = galley.elided;
    let pos = pos2(rect.left() + pad, rect.center().y - galley.size().y / 2.0);
    ui.painter().galley(pos, galley, visuals.text_color());
    if elided {
        return response.on_hover_text(text);
    }
    response
}

/// The sunken frame around a list.
pub fn list_frame(ui: &Ui) -> Frame {
    Frame::new()
        .fill(ui.visuals().extreme_bg_color)
        .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
        .corner_radius(4.0)
        .inner_margin(4.0)
}

/// A large button showing an arrow pointing along `direction` (the → and ← between the
/// columns). The arrow is drawn, not typed: egui's built-in font has no arrow glyphs, and the
/// system fonts eframe adds may lack them too. `name` is what screen readers (and tests) call it.
pub fn arrow_button(ui: &mut Ui, enabled: bool, direction: Vec2, name: &str) -> Response {
    let response = ui
        .add_enabled(enabled, Button::new("").min_size(vec2(44.0, 36.0)))
        .accessible_name(name);
    let color = if enabled {
        ui.style().interact(&response).fg_stroke.color
    } else {
        ui.visuals().weak_text_color()
    };
    paint_arrow(
        ui,
        response.rect.center(),
        direction,
        20.0,
        Stroke::new(2.0, color),
    );
    response
}

/// Draws an arrow of `length` centred on `center`, pointing along `direction`.
pub fn paint_arrow(ui: &Ui, center: Pos2, direction: Vec2, length: f32, stroke: Stroke) {
    let dir = direction.normalized();
    let tip = center + dir * length / 2.0;
    let tail = center - dir * length / 2.0;
    let head = length * 0.35;
    let painter = ui.painter();
    painter.line_segment([tail, tip], stroke);
    for side in [dir.rot90(), -dir.rot90()] {
        painter.line_segment([tip, tip - dir * head + side * head * 0.8], stroke);
    }
}

/// A selectable row like [`select_row`] showing `from`, a drawn arrow and `to` (a pair); the
/// accessible name reads `label`.
pub fn arrow_row(ui: &mut Ui, selected: bool, label: &str, from: &str, to: &str) -> Response {
    let size = vec2(ui.available_width(), row_height(ui));
    // Clickable but no Tab stop: a list is one stop (its search box) and the arrow keys move
    // within it, or Tab would visit each of 20,000 rows.
    let (rect, response) = ui.allocate_exact_size(size, Sense::CLICK);
    let enabled = ui.is_enabled();
    response.widget_info(|| WidgetInfo::selected(Role::Button, enabled, selected, label));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let visuals = ui.style().interact_selectable(&response, selected);
    paint_row_background(ui, rect, &response, selected);
    let pad = ui.spacing().button_padding.x;
    let arrow_width = 18.0;
    let half = ((rect.width() - 4.0 * pad - arrow_width) / 2.0).max(0.0);
    let from = truncated(ui, from, half, TextStyle::Body);
    let to = truncated(ui, to, half, TextStyle::Body);
    let elided = from.elided || to.elided;
    let mut x = rect.left() + pad;
    let y = rect.center().y - from.size().y / 2.0;
    let from_width = from.size().x;
    ui.painter().galley(pos2(x, y), from, visuals.text_color());
    x += from_width + pad;
    let stroke = Stroke::new(1.5, visuals.text_color());
    paint_arrow(
        ui,
        pos2(x + arrow_width / 2.0, rect.center().y),
        Vec2::X,
        arrow_width - 4.0,
        stroke,
    );
    x += arrow_width + pad;
    ui.painter().galley(pos2(x, y), to, visuals.text_color());
    if elided {
        return response.on_hover_text(label);
    }
    response
}

fn truncated(ui: &Ui, text: &str, width: f32, style: TextStyle) -> std::sync::Arc<egui::Galley> {
    WidgetText::from(text).into_galley(ui, Some(TextWrapMode::Truncate), width, style)
}

fn paint_row_background(ui: &Ui, rect: egui::Rect, response: &Response, selected: bool) {
    if selected || response.hovered() || response.has_focus() {
        let visuals = ui.style().interact_selectable(response, selected);
        ui.painter().rect(
            rect,
            visuals.corner_radius,
            visuals.weak_bg_fill,
            visuals.bg_stroke,
            StrokeKind::Inside,
        );
    }
}

/// `20000` as `20,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(20000), "20,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
