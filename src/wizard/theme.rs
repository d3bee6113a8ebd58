//! The wizard's look: the theme switch, spacing and type sizes, and colours adjusted so that
//! both themes meet WCAG AA (text 4.5:1, field borders and controls 3:1).

use egui::{Color32, Ui};

/// Follow the system's theme, or force light or dark (egui's own switch draws emoji that the
/// default fonts lack).
pub(crate) fn theme_ui(ui: &mut Ui) {
    let ctx = ui.ctx().clone();
    let current = ctx.options(|o| o.theme_preference);
    // Right to left: the last added is the leftmost.
    for (preference, name) in [
        (egui::ThemePreference::Dark, "Dark"),
        (egui::ThemePreference::Light, "Light"),
        (egui::ThemePreference::System, "System theme"),
    ] {
        if ui.selectable_label(current == preference, name).clicked() {
            ctx.set_theme(preference);
        }
    }
}

/// Spacing and type sizes readable at 1024×768.
pub(crate) fn style(ctx: &egui::Context) {
    ctx.set_visuals_of(egui::Theme::Light, visuals(egui::Theme::Light));
    ctx.set_visuals_of(egui::Theme::Dark, visuals(egui::Theme::Dark));
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 5.0);
        style.spacing.interact_size.y = 26.0;
        for (text_style, size) in [
            (egui::TextStyle::Body, 14.5),
            (egui::TextStyle::Button, 14.5),
            (egui::TextStyle::Monospace, 13.5),
            (egui::TextStyle::Small, 12.5),
            (egui::TextStyle::Heading, 20.0),
        ] {
            if let Some(font) = style.text_styles.get_mut(&text_style) {
                font.size = size;
            }
        }
    });
}

/// The colours of a theme, adjusted so that both meet WCAG AA (SPEC §5): egui's light theme
/// draws text fields white on near-white with no border, so every field and button gets a
/// border that stands out 3:1 from the panel and from the field itself.
pub(crate) fn visuals(theme: egui::Theme) -> egui::Visuals {
    let mut visuals = theme.default_visuals();
    let border = match theme {
        egui::Theme::Light => Color32::from_gray(0x76),
        egui::Theme::Dark => Color32::from_gray(0x8c),
    };
    visuals.widgets.inactive.bg_stroke = egui::Stroke::new(1.0, border);
    // Hints and notes: egui fades the text colour to 60 %, about 2.3:1 on the dark panel.
    visuals.weak_text_color = Some(match theme {
        egui::Theme::Light => Color32::from_gray(0x6e),
        egui::Theme::Dark => Color32::from_gray(0x8a),
    });
    // egui's light link blue is about 3:1 on the panel; links ("Change (step 1)") are text.
    if theme == egui::Theme::Light {
        visuals.hyperlink_color = Color32::from_rgb(0x00, 0x5a, 0xb4);
    }
    visuals
}

/// The colour of the current step in the step indicator: the selection's text colour, which
/// meets AA on the panel in both themes (the selection's fill, a pale blue in the light theme,
/// is about 1.6:1 on white).
pub(crate) fn step_accent(visuals: &egui::Visuals) -> Color32 {
    visuals.selection.stroke.color
}

/// The fill of the primary button (Next, Finish), white text on it. The selection colour of
/// egui's light theme is a pale blue (white on it is about 1.6:1), so the light theme has a
/// darker blue of its own.
pub(crate) fn primary_fill(visuals: &egui::Visuals) -> Color32 {
    if visuals.dark_mode {
        // egui's dark selection blue is 2.3:1 on the dark panel; this one is 3.5:1 there and
        // 4.9:1 under white text.
        Color32::from_rgb(0x1f, 0x6f, 0xd0)
    } else {
        Color32::from_rgb(0x00, 0x5a, 0xb4)
    }
}
