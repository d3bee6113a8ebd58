//! The small pieces every step draws with: a labelled field row with its error under it, a secret
//! field that can stand for a secret already stored, the check-result list, and the result of a
//! test or operation ([`ResultView`]: one line in the screen's words, one action, the technical
//! text behind *Details*, marked when out of date).

use egui::{Color32, Response, RichText, TextEdit, Ui};

use crate::health::CheckLine;
use crate::secret::{Secret, SecretRef};

/// Width of the input column.
pub(crate) const FIELD_WIDTH: f32 = 420.0;

/// Width of the label column of every field grid, so that the inputs of a step's sections line
/// up under each other (the longest label, "Default password for new users", fits).
pub(crate) const LABEL_WIDTH: f32 = 230.0;

/// A secret being entered: what was typed (masked on screen), or the reference of a secret stored
/// earlier that stays untouched unless something is typed.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SecretInput {
    pub typed: String,
    pub stored: Option<SecretRef>,
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretInput")
            .field(
                "typed",
                &if self.typed.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .field("stored", &self.stored)
            .finish()
    }
}

impl SecretInput {
    /// A field standing for a stored secret.
    pub fn stored(reference: Option<SecretRef>) -> Self {
        Self {
            typed: String::new(),
            stored: reference,
        }
    }

    /// Something typed, or a stored secret to keep.
    pub fn is_set(&self) -> bool {
        !self.typed.is_empty() || self.stored.is_some()
    }

    /// The secret: what was typed, else the stored one (read from where it is kept; may block on
    /// a file or the keyring, so only jobs call this).
    pub fn value(&self, field: &str) -> Result<Secret, String> {
        if !self.typed.is_empty() {
            return Ok(Secret::new(self.typed.clone()));
        }
        match &self.stored {
            Some(reference) => reference.resolve().map_err(|e| {
                format!("{field}: the stored secret cannot be read: {e}. Type it again")
            }),
            None => Err(format!("{field}: nothing entered")),
        }
    }
}

/// Shows errors only for fields the administrator has typed in or left, so an empty form does not
/// start out red.
#[derive(Clone, Debug, Default)]
pub(crate) struct Touched(std::collections::HashSet<&'static str>);

impl Touched {
    pub(crate) fn mark(&mut self, field: &'static str) {
        self.0.insert(field);
    }

    pub(crate) fn has(&self, field: &'static str) -> bool {
        self.0.contains(field)
    }
}

/// The error colour of the current theme.
pub(crate) fn error_color(ui: &Ui) -> Color32 {
    ui.visuals().error_fg_color
}

/// The colour for a passed check.
pub(crate) fn ok_color(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(120, 200, 120)
    } else {
        Color32::from_rgb(20, 120, 40)
    }
}

/// One grid row: the label, then the input with its error (if any) under it. The input is tied
/// to the label for screen readers and tests.
pub(crate) fn field_row(
    ui: &mut Ui,
    label: &str,
    error: Option<&str>,
    add_input: impl FnOnce(&mut Ui) -> Response,
    labelled: impl FnOnce(Response, egui::Id) -> Response,
) -> Response {
    // A grid centres each cell in its row; with an error or a note under the input the label
    // would float beside the gap. So the label's cell is as tall as the input column was in
    // the last frame, and the label sits at its top, level with the input's text.
    let height_id = ui.scope_id().with(("field-row-height", label));
    let row_height = ui.data(|d| d.get_temp::<f32>(height_id)).unwrap_or(0.0);
    let top = ((ui.spacing().interact_size.y - ui.text_style_height(&egui::TextStyle::Body)) / 2.0)
        .max(0.0);
    let label_response = ui
        .allocate_ui_with_layout(
            egui::vec2(0.0, row_height),
            egui::Layout::top_down(egui::Align::Min),
            |ui| {
                ui.set_min_height(row_height);
                ui.add_space(top);
                // Never wrapped: the cell starts with no width and takes the label's.
                ui.add(egui::Label::new(label).extend())
            },
        )
        .inner;
    let column = ui.vertical(|ui| {
        let response = labelled(add_input(ui), label_response.id);
        if let Some(error) = error {
            ui.add(egui::Label::new(RichText::new(error).color(error_color(ui)).small()).wrap());
        }
        response
    });
    let height = column.response.rect.height();
    if (height - row_height).abs() > 0.5 {
        ui.data_mut(|d| d.insert_temp(height_id, height));
        ui.ctx().request_repaint();
    }
    let response = column.inner;
    ui.end_row();
    response
}

/// A single-line text row.
pub(crate) fn text_row(
    ui: &mut Ui,
    label: &str,
    value: &mut String,
    hint: &str,
    error: Option<&str>,
) -> Response {
    field_row(
        ui,
        label,
        error,
        |ui| {
            ui.add(
                TextEdit::singleline(value)
                    .hint_text(hint)
                    .desired_width(FIELD_WIDTH),
            )
        },
        |r, id| r.labelled_by(id),
    )
}

/// A masked row for a secret; says when a stored secret stands behind an empty field.
pub(crate) fn secret_row(
    ui: &mut Ui,
    label: &str,
    input: &mut SecretInput,
    error: Option<&str>,
) -> Response {
    let stored = input.stored.is_some() && input.typed.is_empty();
    field_row(
        ui,
        label,
        error,
        |ui| {
            ui.vertical(|ui| {
                let response = ui.add(
                    TextEdit::singleline(&mut input.typed)
                        .password(true)
                        .hint_text(if stored { "stored (unchanged)" } else { "" })
                        .desired_width(FIELD_WIDTH),
                );
                // Under the field, not beside it: a narrow window has no room there.
                if stored {
                    ui.weak("stored (unchanged); type to replace it");
                }
                response
            })
            .inner
        },
        |r, id| r.labelled_by(id),
    )
}

/// A masked row for a plain string (the second copy of a password).
pub(crate) fn password_row(
    ui: &mut Ui,
    label: &str,
    value: &mut String,
    error: Option<&str>,
) -> Response {
    field_row(
        ui,
        label,
        error,
        |ui| {
            ui.add(
                TextEdit::singleline(value)
                    .password(true)
                    .desired_width(FIELD_WIDTH),
            )
        },
        |r, id| r.labelled_by(id),
    )
}

/// The outcome lines of a *Test connection*.
pub(crate) fn check_lines_ui(ui: &mut Ui, lines: &[CheckLine]) {
    for line in lines {
        ui.horizontal_wrapped(|ui| {
            let (mark, color) = if line.ok {
                ("ok", ok_color(ui))
            } else {
                ("FAILED", error_color(ui))
            };
            ui.label(RichText::new(mark).strong().color(color));
            ui.label(RichText::new(&line.name).strong());
            ui.label(&line.detail);
        });
    }
}

/// A spinner with what is happening.
pub(crate) fn busy_ui(ui: &mut Ui, what: &str) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(what);
    });
}

/// A spinner with what is happening, the seconds it has taken, and a *Stop* button: true when
/// pressed. For the tests an administrator waits on, which a hung server could hold for long.
pub(crate) fn busy_stoppable_ui(ui: &mut Ui, what: &str, since: std::time::Instant) -> bool {
    ui.horizontal(|ui| {
        ui.spinner();
        let secs = since.elapsed().as_secs();
        if secs >= 1 {
            ui.label(format!("{what} ({secs} s)"));
        } else {
            ui.label(what);
        }
        // The seconds tick while waiting.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(500));
        ui.button("Stop")
            .on_hover_text("Stop waiting; nothing is changed")
            .clicked()
    })
    .inner
}

/// A check's lines (as `adsync check` prints them), one per line, for a result's *Details*.
pub(crate) fn check_details(lines: &[CheckLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let mark = if l.ok { "ok" } else { "FAILED" };
            format!("{}: {mark}: {}", l.name, l.detail)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Marks a field touched when left, and focuses it (scrolled into view) when a result's action
/// asked for it: what steps 1 and 2 do for each of their fields.
pub(crate) fn mark_field<F: PartialEq>(
    touched: &mut Touched,
    focus: &mut Option<F>,
    field: F,
    label: &'static str,
    response: &egui::Response,
) {
    if response.lost_focus() {
        touched.mark(label);
    }
    if focus.as_ref() == Some(&field) {
        *focus = None;
        response.request_focus();
        response.scroll_to_me(None);
    }
}

/// A failure in words, in the error colour.
pub(crate) fn failure_ui(ui: &mut Ui, message: &str) {
    ui.add(egui::Label::new(RichText::new(message).color(error_color(ui))).wrap());
}

/// A section heading inside a step.
pub(crate) fn section_ui(ui: &mut Ui, title: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(title).strong().size(15.0));
    ui.add_space(2.0);
}

/// What a stale result says: the fields changed since it was made.
pub(crate) const STALE_NOTE: &str = "Out of date — test again";

/// The outcome of a test or an operation as a step shows it (drawn by [`result_ui`]): one line in
/// the screen's words with at most one action, the technical text kept behind a *Details* toggle
/// with a Copy button, and a `stale` flag for when the fields it was made for have changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultView {
    /// Passed (drawn in the success colour) or failed (error colour).
    pub ok: bool,
    /// One line naming fields by their labels on screen; never config keys or transport text.
    pub message: String,
    /// The label of the one thing to do about it, drawn as a button; [`result_ui`] returns true
    /// in the frame it is clicked.
    pub action: Option<String>,
    /// The technical text (server answers, transport errors) for a support request; may be empty.
    pub details: String,
    /// The inputs changed since: drawn as [`STALE_NOTE`] and faded.
    pub stale: bool,
    /// The *Details* toggle is open.
    pub details_open: bool,
    /// Scrolled into view already (a result is brought into view once, when it first appears).
    revealed: bool,
}

impl ResultView {
    /// A passed test or a finished operation.
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            ok: true,
            message: message.into(),
            ..Self::default()
        }
    }

    /// A failure, in the screen's words.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: message.into(),
            ..Self::default()
        }
    }

    /// With the one action (a button label).
    pub fn with_action(mut self, label: impl Into<String>) -> Self {
        self.action = Some(label.into());
        self
    }

    /// With the technical text behind *Details*.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// Has [`result_ui`] drawn it once (and so scrolled it into view)?
    pub fn revealed(&self) -> bool {
        self.revealed
    }
}

/// Draws a [`ResultView`]; true in the frame its action is clicked. The first time a result is
/// drawn it is scrolled into view, as results often appear below the fold of a long step.
pub(crate) fn result_ui(ui: &mut Ui, result: &mut ResultView) -> bool {
    let mut clicked = false;
    let accent = if result.stale {
        ui.visuals().weak_text_color()
    } else if result.ok {
        ok_color(ui)
    } else {
        error_color(ui)
    };
    let frame = egui::Frame::new()
        .inner_margin(egui::Margin::symmetric(10, 8))
        .corner_radius(4.0)
        .stroke(egui::Stroke::new(1.5, accent));
    let response = frame
        .show(ui, |ui| {
            ui.set_max_width(FIELD_WIDTH + 340.0);
            if result.stale {
                ui.label(
                    RichText::new(STALE_NOTE)
                        .strong()
                        .color(ui.visuals().warn_fg_color),
                );
            }
            ui.horizontal_wrapped(|ui| {
                // In words too, not by colour alone.
                let mark = if result.ok { "OK" } else { "Failed" };
                let mark = RichText::new(mark).strong().color(accent);
                ui.label(mark);
                let text = RichText::new(&result.message);
                let text = if result.stale {
                    text.color(ui.visuals().weak_text_color())
                } else {
                    text.color(accent)
                };
                ui.add(egui::Label::new(text).wrap());
            });
            ui.horizontal(|ui| {
                if let Some(action) = &result.action
                    && ui.button(action.as_str()).clicked()
                {
                    clicked = true;
                }
                if !result.details.is_empty() {
                    let toggle = if result.details_open {
                        "Hide details"
                    } else {
                        "Details"
                    };
                    if ui.selectable_label(result.details_open, toggle).clicked() {
                        result.details_open = !result.details_open;
                    }
                }
            });
            if result.details_open && !result.details.is_empty() {
                ui.horizontal(|ui| {
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(result.details.clone());
                    }
                    ui.weak("the technical text, for a support request");
                });
                ui.add(
                    egui::Label::new(RichText::new(&result.details).monospace().small())
                        .wrap()
                        .selectable(true),
                );
            }
        })
        .response;
    if !result.revealed {
        result.revealed = true;
        response.scroll_to_me(None);
    }
    clicked
}
