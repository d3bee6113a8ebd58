//! File dialogs: one that cannot open falls back to a path field (never "cancelled"), one that
//! was closed says so, and save dialogs start beside the config.

use std::sync::{Arc, Mutex};

use egui_kittest::kittest::Queryable;

use super::*;
use crate::wizard::dialog::DialogFuture;
use crate::wizard::{DialogOutcome, DialogRequest, FileDialogs};

/// Dialogs that answer `outcome` at once and remember what they were asked.
struct Scripted {
    outcome: DialogOutcome,
    asked: Arc<Mutex<Vec<DialogRequest>>>,
}

impl FileDialogs for Scripted {
    fn save(&self, request: DialogRequest) -> DialogFuture {
        self.asked.lock().unwrap().push(request);
        let outcome = self.outcome.clone();
        Box::pin(async move { outcome })
    }

    fn pick(&self, request: DialogRequest) -> DialogFuture {
        self.save(request)
    }
}

/// The demo at step 5 with `outcome` as every dialog's answer.
fn preview_with(
    dir: &Path,
    rt: &tokio::runtime::Runtime,
    outcome: DialogOutcome,
) -> (Harness<'static, Wizard>, Arc<Mutex<Vec<DialogRequest>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut wizard = demo_at(dir, rt, Step::Preview);
    wizard.dialogs = Arc::new(Scripted {
        outcome,
        asked: asked.clone(),
    });
    let mut h = harness(wizard);
    settle(&mut h);
    assert!(h.state().preview.plan.done().is_some(), "a plan to export");
    (h, asked)
}

#[test]
fn wizard_a_dialog_failure_falls_back_to_a_path_field() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (mut h, asked) = preview_with(
        tmp.path(),
        &rt,
        DialogOutcome::Unavailable("no desktop portal".into()),
    );
    click(&mut h, "Export CSV…");
    settle(&mut h);

    // The dialog was asked to open beside the config, not in the process's directory.
    let config_dir = h.state().config_path.parent().unwrap().to_owned();
    let request = asked.lock().unwrap()[0].clone();
    assert_eq!(request.directory, config_dir);
    assert_eq!(request.file_name.as_deref(), Some("adsync-plan.csv"));

    // Not "cancelled": the wizard says the dialog could not open and asks for a path.
    assert!(shown(
        &h,
        "The file dialog could not open: no desktop portal"
    ));
    assert!(!shown(&h, "cancelled"));
    let suggested = config_dir.join("adsync-plan.csv");
    assert_eq!(
        h.get_by_label("Save as").value().as_deref(),
        Some(suggested.display().to_string().as_str())
    );
    let target = tmp.path().join("exports-plan.csv");
    replace_in(&mut h, "Save as", &target.display().to_string());
    click(&mut h, "Save");
    settle(&mut h);
    assert!(h.state().save_by_path.is_none(), "the path field closed");
    let written = std::fs::read_to_string(&target).expect("the plan was written");
    assert!(written.lines().count() > 1, "{written}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a plan names people: owner only");
    }
    let notice = h.state().export_notice.clone().expect("an outcome");
    assert!(notice.ok, "{notice:?}");
    assert!(shown(&h, "Saved the plan (CSV) as"));
}

#[test]
fn wizard_a_closed_dialog_is_not_a_failure_and_a_chosen_file_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (mut h, _) = preview_with(tmp.path(), &rt, DialogOutcome::Cancelled);
    click(&mut h, "Export JSON…");
    settle(&mut h);
    assert!(
        h.state().save_by_path.is_none(),
        "no path field for a closed dialog"
    );
    assert!(shown(&h, "the dialog was closed without choosing a file"));

    let chosen = tmp.path().join("chosen.json");
    let (mut h, _) = preview_with(
        &tmp.path().join("second"),
        &rt,
        DialogOutcome::Chosen(chosen.clone()),
    );
    click(&mut h, "Export JSON…");
    settle(&mut h);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&chosen).unwrap()).unwrap();
    assert!(json.is_object(), "{json}");
    assert!(h.state().export_notice.as_ref().is_some_and(|n| n.ok));
}
