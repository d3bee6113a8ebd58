//! A writing cycle's first step: settle the writes an earlier run left without a recorded
//! outcome ([`crate::sync::settle_intents`]) before planning, so the plan starts from what the
//! application really holds.

use super::{CycleError, Engine, Planned};
use crate::scim::ScimError;
use crate::state::StateError;
use crate::sync::{Links, SettleError, Settled, assess_intents, settle_intents};

impl Engine {
    /// Settles the intents an earlier run left, reading their users in the target; nothing is
    /// written to the target. Only for a holder of the store's writer lock: `plan` must not
    /// decide about a write another process may still be making.
    pub async fn settle_intents(&self) -> Result<Settled, CycleError> {
        let mode = self.settings.policy.group_mode;
        Ok(settle_intents(&self.scim, &self.store, mode).await?)
    }

    /// The stored links with what the writes of the intents an earlier run left really did, as
    /// [`Engine::settle_intents`] would record them, writing nothing: so `plan` shows what `sync`
    /// will do, and a first sync cut off before it recorded its creates is not taken for a lost
    /// store (R13). One small query when no intent is left.
    pub async fn links_as_settled(&self) -> Result<Links, CycleError> {
        let mut links = self.store.links()?;
        assess_intents(&self.scim, &self.store, self.settings.policy.group_mode)
            .await?
            .apply_to(&mut links);
        Ok(links)
    }

    /// [`Engine::settle_intents`], then [`Engine::read_and_plan`]: the read of a cycle that
    /// writes.
    pub async fn settle_and_plan(&self) -> Result<Planned, CycleError> {
        self.settle_intents().await?;
        self.read_and_plan().await
    }
}

impl From<SettleError<ScimError, StateError>> for CycleError {
    fn from(e: SettleError<ScimError, StateError>) -> Self {
        match e {
            SettleError::Journal(e) => CycleError::State(e),
            read => CycleError::Settle(Box::new(read)),
        }
    }
}
