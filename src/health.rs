//! The health-check line shared by `adsync check` and the wizard's *Test connection* buttons.

/// One check's outcome, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckLine {
    /// What was checked, e.g. `Entra sign-in` or `target reachable`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what to do about it.
    pub detail: String,
}

impl CheckLine {
    /// A line.
    pub fn new(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}
