//! The wizard's six steps, in order.

/// Where the administrator is in the wizard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Credentials,
    AzureApp,
    Pairing,
    Search,
    Preview,
    Finish,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 6] = [
        Step::Credentials,
        Step::AzureApp,
        Step::Pairing,
        Step::Search,
        Step::Preview,
        Step::Finish,
    ];

    /// 1-based position, as the step indicator shows it.
    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The short name in the step indicator.
    pub fn title(self) -> &'static str {
        match self {
            Step::Credentials => "Credentials and token",
            Step::AzureApp => "Azure app",
            Step::Pairing => "Group pairing",
            Step::Search => "Search and confirm",
            Step::Preview => "Dry-run preview",
            Step::Finish => "Finish",
        }
    }

    /// The step after this one.
    pub fn next(self) -> Option<Step> {
        Self::ALL.get(self.number()).copied()
    }

    /// The step before this one.
    pub fn previous(self) -> Option<Step> {
        self.number().checked_sub(2).map(|i| Self::ALL[i])
    }

    /// The step with this 1-based number.
    pub fn from_number(n: usize) -> Option<Step> {
        n.checked_sub(1).and_then(|i| Self::ALL.get(i)).copied()
    }
}
