//! The setup wizard (`adsync-setup`): six steps from credentials to a running service.
//!
//! Layout (see ../shared/STYLE.md): one file per step holding its fields, `validate()` and
//! `*_ui()`; network calls run on a background runtime and report back through a channel that
//! calls `ctx.request_repaint()`; drawing code returns commands that run after the frame.

mod app;
mod azure;
mod credentials;
mod draft;
mod finish;
mod jobs;
mod launch;
pub mod pairing;
pub mod preview;
pub mod search;
mod step;
mod widgets;

pub use app::{Outcome, Wizard, WizardOptions};
pub use launch::{Args, main};
pub use step::Step;

#[cfg(test)]
mod tests;
