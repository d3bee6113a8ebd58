//! The six steps: each module holds a step's fields, validation, drawing and the effects of
//! its commands; this module holds the one command type the shell runs after each frame.

pub(crate) mod azure;
pub(crate) mod credentials;
pub(crate) mod finish;
pub mod pairing;
pub mod preview;
pub mod search;
pub(crate) mod summary;

use azure::AzureCommand;
use credentials::CredentialsCommand;
use pairing::PairingCommand;
use preview::PreviewCommand;
use search::SearchCommand;

use super::shell::Wizard;
use super::step::Step;

/// Something a frame asked for, run after the frame by [`Wizard::run`] (drawing code never
/// starts work itself, so a step's drawing stays a pure function of its fields).
#[must_use]
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Credentials(CredentialsCommand),
    Azure(AzureCommand),
    Pairing(PairingCommand),
    Search(SearchCommand),
    Preview(PreviewCommand),
    /// Open this step (a link back from the summary, or the step indicator when editing).
    GoTo(Step),
}

impl Wizard {
    /// Runs one command: each step's effects live beside its fields.
    pub(crate) fn run(&mut self, command: Command) {
        match command {
            Command::Credentials(c) => self.run_credentials(c),
            Command::Azure(c) => self.run_azure(c),
            Command::Pairing(c) => self.run_pairing(c),
            Command::Search(c) => self.run_search(c),
            Command::Preview(c) => self.run_preview(c),
            Command::GoTo(step) => self.go_to(step),
        }
    }
}
