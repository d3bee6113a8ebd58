//! WCAG AA contrast of both themes, computed from the visuals the wizard sets: 4.5:1 for text,
//! 3:1 for field borders and controls, and a primary button whose disabled look is distinct.

use egui::{Color32, Theme};

use crate::wizard::theme::{primary_fill, step_accent, visuals};

/// WCAG 2.x relative luminance of an sRGB colour.
fn luminance(c: Color32) -> f64 {
    let channel = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c.r()) + 0.7152 * channel(c.g()) + 0.0722 * channel(c.b())
}

/// WCAG contrast ratio of two opaque colours.
fn ratio(a: Color32, b: Color32) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// `over` drawn at `alpha` on `under`, as egui fades a disabled widget.
fn faded(over: Color32, under: Color32, alpha: f32) -> Color32 {
    let mix = |o: u8, u: u8| (f32::from(o) * alpha + f32::from(u) * (1.0 - alpha)).round() as u8;
    Color32::from_rgb(
        mix(over.r(), under.r()),
        mix(over.g(), under.g()),
        mix(over.b(), under.b()),
    )
}

#[test]
fn ratio_matches_known_values() {
    assert!((ratio(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
    assert!((ratio(Color32::WHITE, Color32::WHITE) - 1.0).abs() < 1e-9);
}

#[test]
fn both_themes_meet_wcag_aa() {
    for theme in [Theme::Light, Theme::Dark] {
        let v = visuals(theme);
        let panel = v.panel_fill;
        let field = v.text_edit_bg_color();
        let check = |what: &str, a: Color32, b: Color32, min: f64| {
            let r = ratio(a, b);
            assert!(r >= min, "{theme:?}: {what} is {r:.2}:1, needs {min}:1");
        };
        let text = v.widgets.noninteractive.fg_stroke.color;
        check("text on the panel", text, panel, 4.5);
        check(
            "text in a field",
            v.widgets.inactive.fg_stroke.color,
            field,
            4.5,
        );
        check("text on the window", text, v.window_fill, 4.5);
        check(
            "button text",
            v.widgets.inactive.fg_stroke.color,
            v.widgets.inactive.weak_bg_fill,
            4.5,
        );
        let border = v.widgets.inactive.bg_stroke;
        assert!(
            border.width >= 1.0,
            "{theme:?}: fields and buttons have no border"
        );
        check("field border on the panel", border.color, panel, 3.0);
        check("field border against the field", border.color, field, 3.0);

        assert!(
            v.weak_text_color().is_opaque(),
            "{theme:?}: dimmed text is translucent, so its contrast depends on what is under it"
        );
        check(
            "dimmed text (hints, notes) on the panel",
            v.weak_text_color(),
            panel,
            4.5,
        );
        check("links on the panel", v.hyperlink_color, panel, 4.5);
        check(
            "the step indicator's current step",
            step_accent(&v),
            panel,
            4.5,
        );
        check(
            "a selected toggle's text",
            v.selection.stroke.color,
            v.selection.bg_fill,
            4.5,
        );

        let fill = primary_fill(&v);
        check("primary button text", Color32::WHITE, fill, 4.5);
        check("primary button on the panel", fill, panel, 3.0);
        let alpha = v.disabled_alpha();
        let disabled_fill = faded(fill, panel, alpha);
        let disabled_text = faded(Color32::WHITE, disabled_fill, alpha);
        check(
            "enabled against disabled primary button",
            fill,
            disabled_fill,
            1.8,
        );
        assert!(
            ratio(disabled_text, disabled_fill) < ratio(Color32::WHITE, fill) - 1.0,
            "{theme:?}: the disabled primary button reads like the enabled one"
        );
    }
}
