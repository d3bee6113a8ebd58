//! Native file dialogs, and what the wizard does when none can open: a dialog that could not
//! open is told from one the administrator closed, a save falls back to a path field, and save
//! dialogs start beside the config rather than in the process's directory.
//!
//! The dialogs sit behind [`FileDialogs`] so tests can make them fail or answer at once.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use super::jobs::Reply;
use super::shell::Wizard;
use super::widgets::{self, ResultView};

/// What a file dialog came back with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogOutcome {
    /// The administrator chose this file.
    Chosen(PathBuf),
    /// The administrator closed the dialog without choosing.
    Cancelled,
    /// No dialog could be shown here (no desktop portal, no display); why, in words.
    Unavailable(String),
}

/// A file dialog to show: its title, the folder it starts in and the name it suggests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogRequest {
    pub title: String,
    pub directory: PathBuf,
    pub file_name: Option<String>,
    /// `(name, extensions)` filters for picking a file, e.g. `("PEM", ["pem"])`.
    pub filter: Option<(String, Vec<String>)>,
}

/// A future a dialog returns.
pub type DialogFuture = Pin<Box<dyn Future<Output = DialogOutcome> + Send>>;

/// Shows file dialogs. [`NativeDialogs`] in the product; tests inject their own.
pub trait FileDialogs: Send + Sync {
    /// Asks where to save a file.
    fn save(&self, request: DialogRequest) -> DialogFuture;
    /// Asks for an existing file.
    fn pick(&self, request: DialogRequest) -> DialogFuture;
}

/// The desktop's own dialogs (through the XDG desktop portal on Linux).
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeDialogs;

/// A dialog that comes back sooner than this was never shown: nobody can see a dialog and close
/// it that fast, and rfd reports a missing desktop portal only as "nothing chosen".
const SHOWN_AT_LEAST: Duration = Duration::from_millis(400);

const NO_DIALOG: &str = "no file dialog can open on this desktop (the desktop portal that \
                         shows it is not running)";

impl NativeDialogs {
    fn dialog(request: &DialogRequest) -> rfd::AsyncFileDialog {
        let mut dialog = rfd::AsyncFileDialog::new()
            .set_title(&request.title)
            .set_directory(&request.directory);
        if let Some(name) = &request.file_name {
            dialog = dialog.set_file_name(name);
        }
        if let Some((name, extensions)) = &request.filter {
            dialog = dialog.add_filter(name, extensions);
        }
        dialog
    }

    async fn outcome(
        started: Instant,
        picked: impl Future<Output = Option<rfd::FileHandle>>,
    ) -> DialogOutcome {
        match picked.await {
            Some(file) => DialogOutcome::Chosen(file.path().to_owned()),
            None if started.elapsed() < SHOWN_AT_LEAST => {
                DialogOutcome::Unavailable(NO_DIALOG.to_owned())
            }
            None => DialogOutcome::Cancelled,
        }
    }
}

impl FileDialogs for NativeDialogs {
    fn save(&self, request: DialogRequest) -> DialogFuture {
        let dialog = Self::dialog(&request);
        Box::pin(async move { Self::outcome(Instant::now(), dialog.save_file()).await })
    }

    fn pick(&self, request: DialogRequest) -> DialogFuture {
        let dialog = Self::dialog(&request);
        Box::pin(async move { Self::outcome(Instant::now(), dialog.pick_file()).await })
    }
}

/// The default dialogs.
pub fn native() -> Arc<dyn FileDialogs> {
    Arc::new(NativeDialogs)
}

/// The folder the config is written to (save dialogs start there).
pub(crate) fn config_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where a step shows the outcome of a save.
pub(crate) type SaveReport = fn(&mut Wizard, ResultView);

/// A save whose dialog could not open: the path field the wizard shows instead.
pub struct SaveByPath {
    /// What is being saved, e.g. "the plan (CSV)".
    pub what: String,
    /// The path typed (starts as the suggested file beside the config).
    pub path: String,
    /// Why the dialog could not open.
    pub why: String,
    contents: Arc<Vec<u8>>,
    report: SaveReport,
}

impl std::fmt::Debug for SaveByPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveByPath")
            .field("what", &self.what)
            .field("path", &self.path)
            .field("why", &self.why)
            .finish_non_exhaustive()
    }
}

/// Writes `contents` to `path` (owner-only, atomically: an exported plan holds personal data),
/// as a result in words.
async fn write(path: PathBuf, contents: Arc<Vec<u8>>, what: String) -> ResultView {
    let target = path.clone();
    let written = tokio::task::spawn_blocking(move || {
        crate::fsutil::write_atomic(&target, contents.as_slice())
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match written {
        Ok(()) => ResultView::success(format!("Saved {what} as {}.", path.display())),
        Err(e) => ResultView::failure(format!(
            "{what} could not be saved as {}: {e}. Choose another place.",
            path.display()
        ))
        .with_details(format!("{e:?}")),
    }
}

impl Wizard {
    /// Saves `contents`: asks where with a save dialog opened beside the config; when no dialog
    /// can open, asks for a path in a field instead. `report` receives the outcome in words
    /// (a closed dialog is reported as such, never as a failure).
    pub(crate) fn save_file(
        &mut self,
        what: &str,
        file_name: &str,
        contents: Vec<u8>,
        report: SaveReport,
    ) {
        let directory = config_dir(&self.config_path);
        let request = DialogRequest {
            title: format!("Save {what}"),
            directory: directory.clone(),
            file_name: Some(file_name.to_owned()),
            filter: None,
        };
        let dialog = self.dialogs.save(request);
        let contents = Arc::new(contents);
        let what = what.to_owned();
        let suggested = directory.join(file_name);
        self.jobs.spawn(async move {
            match dialog.await {
                DialogOutcome::Chosen(path) => {
                    let result = write(path, contents, what).await;
                    Box::new(move |w: &mut Wizard| report(w, result)) as Reply
                }
                DialogOutcome::Cancelled => Box::new(move |w: &mut Wizard| {
                    report(
                        w,
                        ResultView::failure(format!(
                            "Not saved: the dialog was closed without choosing a file for {what}."
                        )),
                    )
                }) as Reply,
                DialogOutcome::Unavailable(why) => Box::new(move |w: &mut Wizard| {
                    w.save_by_path = Some(SaveByPath {
                        what,
                        path: suggested.display().to_string(),
                        why,
                        contents,
                        report,
                    });
                }) as Reply,
            }
        });
    }

    /// Saves to the path typed in the fallback field.
    pub(crate) fn save_to_typed_path(&mut self) {
        let Some(save) = self.save_by_path.take() else {
            return;
        };
        let path = PathBuf::from(save.path.trim());
        let SaveByPath {
            what,
            contents,
            report,
            ..
        } = save;
        self.jobs.spawn(async move {
            let result = write(path, contents, what).await;
            Box::new(move |w: &mut Wizard| report(w, result)) as Reply
        });
    }

    /// The path field shown when a save dialog could not open (a modal over the step).
    pub(crate) fn save_by_path_ui(&mut self, ctx: &egui::Context) {
        let Some(save) = &mut self.save_by_path else {
            return;
        };
        let mut save_clicked = false;
        let mut cancel_clicked = false;
        let modal = egui::Modal::new(egui::Id::unique("save-by-path")).show(ctx, |ui: &mut Ui| {
            ui.set_width(560.0);
            ui.heading(format!("Where should {} be saved?", save.what));
            ui.add(
                egui::Label::new(format!(
                    "The file dialog could not open: {}. Type the file's full path instead.",
                    save.why
                ))
                .wrap(),
            );
            ui.add_space(6.0);
            let label = ui.label("Save as");
            let response =
                ui.add(egui::TextEdit::singleline(&mut save.path).desired_width(f32::INFINITY));
            let response = response.labelled_by(label.id);
            let empty = save.path.trim().is_empty();
            if empty {
                ui.label(
                    RichText::new("Type the path of the file to save.")
                        .color(widgets::error_color(ui)),
                );
            }
            if response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && !empty {
                save_clicked = true;
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                // The safe choice first.
                if ui.button("Cancel").clicked() {
                    cancel_clicked = true;
                }
                if ui.add_enabled(!empty, egui::Button::new("Save")).clicked() {
                    save_clicked = true;
                }
            });
        });
        if save_clicked {
            self.save_to_typed_path();
        } else if (cancel_clicked || modal.should_close())
            && let Some(save) = self.save_by_path.take()
        {
            (save.report)(
                self,
                ResultView::failure(format!("Not saved: {} was not written.", save.what)),
            );
        }
    }
}
