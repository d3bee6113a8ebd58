//! PATCHing a user, with the fallback for applications that refuse filtered paths: adsync
//! writes each managed email, phone and address item through `emails[type eq "work"].value`
//! (see [`UserPatch`]); an application answering 400 `invalidPath`, `invalidFilter` or
//! `noTarget` to that gets the lists instead, read from it just before and changed only in the
//! managed items, so what it holds beside them stays. The client remembers the refusal for the
//! rest of the run, so each later update costs one read and one write rather than a refused
//! write first.

use std::sync::atomic::Ordering;

use reqwest::Method;
use serde_json::Value;

use super::ScimClient;
use crate::scim::error::ScimError;
use crate::scim::payload::UserPatch;

/// Does this answer say the application cannot apply a filtered path?
fn refuses_filtered_paths(error: &ScimError) -> bool {
    matches!(
        error,
        ScimError::Status { status: 400, scim_type: Some(t), .. }
            if ["invalidPath", "invalidFilter", "noTarget"]
                .iter()
                .any(|known| t.eq_ignore_ascii_case(known))
    )
}

impl ScimClient {
    /// Has the application refused a filtered path in this run, so that typed items are
    /// written as merged whole lists?
    pub fn writes_whole_lists(&self) -> bool {
        self.whole_lists.load(Ordering::Relaxed)
    }

    /// Writes the attributes in `patch` to user `id`. Servers answer 200 with the user or 204
    /// without a body; both are success.
    pub async fn patch_user(&self, id: &str, patch: &UserPatch) -> Result<(), ScimError> {
        let path = Self::resource_path("Users", id)?;
        if patch.is_empty() {
            return Ok(());
        }
        if !patch.writes_typed_items() {
            self.call(Method::PATCH, &path, &[], Some(&patch.to_json()))
                .await?;
            return Ok(());
        }
        if self.whole_lists.load(Ordering::Relaxed) {
            return self.patch_whole_lists(&path, patch).await;
        }
        match self
            .call(Method::PATCH, &path, &[], Some(&patch.to_json()))
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if refuses_filtered_paths(&error) => {
                if !self.whole_lists.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        %error,
                        "the application refused a filtered PATCH path; writing emails, phone \
                         numbers and addresses as whole lists merged with what it holds for the \
                         rest of this run"
                    );
                }
                self.patch_whole_lists(&path, patch).await
            }
            Err(error) => Err(error),
        }
    }

    /// [`UserPatch::to_json_merged`] over the user as the application holds it now.
    async fn patch_whole_lists(&self, path: &str, patch: &UserPatch) -> Result<(), ScimError> {
        let current = self.get_json(path, &[]).await?;
        let Value::Object(current) = current else {
            return Err(self.invalid("GET", path, "the user is not a JSON object"));
        };
        self.call(
            Method::PATCH,
            path,
            &[],
            Some(&patch.to_json_merged(&current)),
        )
        .await?;
        Ok(())
    }
}
