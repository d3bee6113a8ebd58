//! The setup wizard (`adsync-setup`): six steps from credentials to a running service.
//!
//! Layout (see ../shared/STYLE.md): the shell (`shell.rs`) owns navigation, the keyboard and the
//! dialogs; each step in `steps/` owns its fields, `validate()`, drawing and effects. Drawing
//! returns [`steps::Command`]s that run after the frame; network calls run on a background
//! runtime and report back through a channel that calls `ctx.request_repaint()`; each load keeps
//! its status together with the data it fetched ([`jobs::Load`]).

pub(crate) mod dialog;
mod draft;
mod jobs;
mod launch;
mod shell;
mod step;
pub mod steps;
mod theme;
mod widgets;

pub use dialog::{DialogOutcome, DialogRequest, FileDialogs};
pub use launch::{Args, main};
pub use shell::{Outcome, Wizard, WizardOptions};
pub use step::Step;
pub use steps::{pairing, preview, search};

#[cfg(test)]
mod tests;
