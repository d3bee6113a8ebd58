//! Creating a user without ever making two (R13): a create whose outcome is unknown is looked up
//! before it is sent again, and a 409's holder is taken only when it matches under ASCII case
//! folding.

use super::*;

impl ScimClient {
    /// Creates a user. A create is never repeated blindly (R13): when its outcome is unknown (a
    /// timeout, a dropped connection, a 5xx, an unreadable answer) the application may have
    /// committed it, so the user is looked up first ([`ScimClient::find_created`]) and returned if
    /// there; only when absent is it sent again, up to the retry policy's attempts. A 409
    /// uniqueness conflict is resolved by looking the holder of the userName up: it is returned
    /// with `already_existed = true`.
    pub async fn create_user(&self, user: &NewUser) -> Result<Created, ScimError> {
        let body = user.attributes.to_create_json(user.password.as_ref());
        let mut attempt = 1;
        loop {
            let error = match self.call(Method::POST, "Users", &[], Some(&body)).await {
                Ok((_, Some(value))) => match ScimUser::from_json(&value) {
                    Ok(user) => {
                        return Ok(Created {
                            user,
                            already_existed: false,
                        });
                    }
                    Err(e) => self.invalid("POST", "Users", e),
                },
                Ok((_, None)) => self.invalid("POST", "Users", "the created user was not returned"),
                Err(error) if error.status() == Some(409) => {
                    return self.holder_after_conflict(user, error).await;
                }
                Err(error) => error,
            };
            if !error.outcome_unknown() {
                return Err(error);
            }
            if let Some(created) = self.find_created(user).await? {
                tracing::info!(
                    user_name = %user.attributes.user_name,
                    id = %created.user.id,
                    %error,
                    "a create's outcome was unknown and the user is in the application: not sent again"
                );
                return Ok(created);
            }
            if attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let wait = self.retry.delay(attempt, None);
            tracing::info!(
                user_name = %user.attributes.user_name,
                %error,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "a create failed and the user is not in the application; sending it again"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A create whose outcome was unknown: the user is looked up before anything is sent, and
    /// created only when absent (a bulk request that failed as a whole, or one of its creates
    /// answered with a 5xx).
    pub async fn create_user_after_doubt(&self, user: &NewUser) -> Result<Created, ScimError> {
        match self.find_created(user).await? {
            Some(created) => Ok(created),
            None => self.create_user(user).await,
        }
    }

    /// The user a create of `user` may have made, if the application has it: found by
    /// `externalId` (what adsync writes), else by userName, else by email (R2's keys). One found by
    /// those keys that carries another `externalId` (or none) is someone else's: it comes back
    /// with `already_existed = true`, which callers refuse to take over. Several hits are an
    /// error: adsync never guesses.
    pub async fn find_created(&self, user: &NewUser) -> Result<Option<Created>, ScimError> {
        let attrs = &user.attributes;
        let mut searches: Vec<(&'static str, &str)> = Vec::new();
        if let Some(external_id) = &attrs.external_id {
            searches.push(("externalId", external_id));
        }
        searches.push(("userName", &attrs.user_name));
        if let Some(email) = &attrs.email {
            searches.push(("email", email));
        }
        for (key, value) in searches {
            let mut found = match key {
                "externalId" => self.find_users_by_external_id(value).await?,
                "userName" => self.find_users_by_user_name(value).await?,
                _ => self.find_users_by_email(value).await?,
            };
            // The server may fold case beyond ASCII (a KELVIN SIGN to `k`): a user is taken only
            // when it matches under ASCII case folding, never guessed.
            found.retain(|holder| holds_under_ascii_folding(holder, attrs));
            match found.len() {
                0 => continue,
                1 => {
                    let user = found.remove(0);
                    let ours = attrs.external_id.is_some() && user.external_id == attrs.external_id;
                    return Ok(Some(Created {
                        user,
                        already_existed: !ours,
                    }));
                }
                count => {
                    return Err(ScimError::Ambiguous {
                        key,
                        value: value.to_owned(),
                        count,
                        ids: found.into_iter().map(|u| u.id).collect(),
                    });
                }
            }
        }
        Ok(None)
    }

    /// After a 409 on a create: the one user holding the userName (or, where the application
    /// keeps them unique too, the externalId or email), or the 409 itself.
    async fn holder_after_conflict(
        &self,
        user: &NewUser,
        error: ScimError,
    ) -> Result<Created, ScimError> {
        let attrs = &user.attributes;
        let mut found = self.find_users_by_user_name(&attrs.user_name).await?;
        // Some applications also keep externalId or email unique.
        if found.is_empty()
            && let Some(external_id) = &attrs.external_id
        {
            found = self.find_users_by_external_id(external_id).await?;
        }
        if found.is_empty()
            && let Some(email) = &attrs.email
        {
            found = self.find_users_by_email(email).await?;
        }
        // The server may fold case beyond ASCII (a KELVIN SIGN to `k`): its holder is taken only
        // when it matches under ASCII case folding, never guessed.
        found.retain(|holder| holds_under_ascii_folding(holder, attrs));
        match found.len() {
            1 => Ok(Created {
                user: found.remove(0),
                already_existed: true,
            }),
            _ => Err(error),
        }
    }
}

/// Does `holder` carry the userName, the externalId or the email of `attrs`, compared with ASCII
/// case folding only? (What a server's filter found may match only through Unicode folding.)
fn holds_under_ascii_folding(
    holder: &ScimUser,
    attrs: &crate::scim::payload::UserAttributes,
) -> bool {
    holder.user_name.eq_ignore_ascii_case(&attrs.user_name)
        || (holder.external_id.is_some() && holder.external_id == attrs.external_id)
        || attrs.email.as_ref().is_some_and(|email| {
            holder
                .emails
                .iter()
                .any(|e| e.value.eq_ignore_ascii_case(email))
        })
}
