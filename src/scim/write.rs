//! Many writes at once, the way the engine applies a plan: through `/Bulk` (RFC 7644 §3.7) when
//! the server advertises it, since that measured faster (see docs/scim-interop.md), otherwise as
//! individual requests with bounded concurrency. Each write gets its own outcome either way.
//! A create is never sent twice blindly (R13): when a bulk request fails in a way that leaves its
//! outcome unknown, or one of its creates is answered with a 5xx, each such user is looked up
//! before it is created one by one.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Created, ScimClient, ServerCapabilities, run_bounded};
use super::error::ScimError;
use super::model::{PATCH_SCHEMA, ScimUser, get_ci};
use super::payload::{NewUser, UserPatch};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// One write to the application.
// One per plan action, held briefly: boxing the large variant would only complicate callers.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    CreateUser(NewUser),
    PatchUser {
        id: String,
        patch: UserPatch,
    },
    AddMembers {
        group_id: String,
        user_ids: Vec<String>,
    },
    RemoveMember {
        group_id: String,
        user_id: String,
    },
}

/// What a successful write produced.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A create: the new user, or the existing holder of the userName after a 409.
    Created(Created),
    Done,
}

impl WriteOp {
    /// The id this op puts in a URL path, with its collection.
    fn path_id(&self) -> Option<(&'static str, &str)> {
        match self {
            WriteOp::CreateUser(_) => None,
            WriteOp::PatchUser { id, .. } => Some(("Users", id)),
            WriteOp::AddMembers { group_id, .. } | WriteOp::RemoveMember { group_id, .. } => {
                Some(("Groups", group_id))
            }
        }
    }

    /// The request as a bulk operation: (method, path, data). Only for ops whose id is plain
    /// (see [`ScimClient::write_many`]); the id is percent-encoded.
    fn request(&self) -> (Method, String, Value) {
        let path = || match self.path_id() {
            Some((collection, id)) => format!(
                "/{}",
                ScimClient::resource_path(collection, id).unwrap_or_default()
            ),
            None => "/Users".into(),
        };
        match self {
            WriteOp::CreateUser(user) => (
                Method::POST,
                "/Users".into(),
                user.attributes.to_create_json(user.password.as_ref()),
            ),
            WriteOp::PatchUser { patch, .. } => (Method::PATCH, path(), patch.to_json()),
            WriteOp::AddMembers { user_ids, .. } => {
                let members: Vec<Value> = user_ids.iter().map(|id| json!({"value": id})).collect();
                (
                    Method::PATCH,
                    path(),
                    json!({"schemas": [PATCH_SCHEMA],
                           "Operations": [{"op": "add", "path": "members", "value": members}]}),
                )
            }
            WriteOp::RemoveMember { user_id, .. } => (
                Method::PATCH,
                path(),
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove",
                       "path": format!("members[value eq {}]", super::client::quote(user_id))}]}),
            ),
        }
    }
}

impl ScimClient {
    /// Runs one write as its own request.
    pub async fn write(&self, op: &WriteOp) -> Result<WriteOutcome, ScimError> {
        match op {
            WriteOp::CreateUser(user) => self.create_user(user).await.map(WriteOutcome::Created),
            WriteOp::PatchUser { id, patch } => self
                .patch_user(id, patch)
                .await
                .map(|()| WriteOutcome::Done),
            WriteOp::AddMembers { group_id, user_ids } => self
                .add_members(group_id, user_ids)
                .await
                .map(|()| WriteOutcome::Done),
            WriteOp::RemoveMember { group_id, user_id } => self
                .remove_member(group_id, user_id)
                .await
                .map(|()| WriteOutcome::Done),
        }
    }

    /// [`ScimClient::write`] for an op that may already have taken effect: a create looks its
    /// user up first and is sent only when the user is absent; the other ops are safe to repeat.
    async fn write_after_doubt(&self, op: &WriteOp) -> Result<WriteOutcome, ScimError> {
        match op {
            WriteOp::CreateUser(user) => self
                .create_user_after_doubt(user)
                .await
                .map(WriteOutcome::Created),
            _ => self.write(op).await,
        }
    }

    /// Runs `ops` one request each, at most `concurrency` at a time, in order; with `doubt`
    /// (they may have taken effect already), through [`ScimClient::write_after_doubt`].
    async fn one_by_one(
        &self,
        ops: &[WriteOp],
        concurrency: usize,
        doubt: bool,
    ) -> Vec<Result<WriteOutcome, ScimError>> {
        // Built in a loop rather than by an iterator adapter, so that the future holding them
        // is `Send` for any lifetime of `ops` (a closure here is not general enough for that).
        let mut writes = Vec::with_capacity(ops.len());
        for op in ops {
            writes.push(async move {
                if doubt {
                    self.write_after_doubt(op).await
                } else {
                    self.write(op).await
                }
            });
        }
        run_bounded(writes, concurrency).await
    }

    /// Runs `ops`, returning one outcome per op in order. With `/Bulk` advertised in
    /// `capabilities`, ops go in bulk requests within the server's limits; otherwise (or when a
    /// bulk request as a whole fails) one request each, at most `concurrency` at a time. Callers
    /// must not put two ops on the same resource in one call when their order matters.
    pub async fn write_many(
        &self,
        ops: &[WriteOp],
        capabilities: &ServerCapabilities,
        concurrency: usize,
    ) -> Vec<Result<WriteOutcome, ScimError>> {
        let Some((max_operations, max_payload)) = capabilities.bulk.filter(|(n, _)| *n > 1) else {
            return self.one_by_one(ops, concurrency, false).await;
        };
        // An id that is not plain never goes into a bulk path; one by one, its op is refused
        // alone with a clear error and the others are written.
        if ops.iter().any(|op| {
            op.path_id()
                .is_some_and(|(_, id)| crate::http::unplain_reason(id, &[]).is_some())
        }) {
            return self.one_by_one(ops, concurrency, false).await;
        }
        let payload_limit = if max_payload == 0 {
            usize::MAX
        } else {
            // Leave room for the envelope.
            (max_payload as usize).saturating_sub(1024).max(1024)
        };
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut start = 0;
        while start < ops.len() {
            let mut end = start;
            let mut size = 0;
            while end < ops.len() && end - start < max_operations as usize {
                let op_size = ops[end].request().2.to_string().len() + 128;
                if end > start && size + op_size > payload_limit {
                    break;
                }
                size += op_size;
                end += 1;
            }
            outcomes.extend(self.bulk_chunk(&ops[start..end], concurrency).await);
            start = end;
        }
        outcomes
    }

    async fn bulk_chunk(
        &self,
        ops: &[WriteOp],
        concurrency: usize,
    ) -> Vec<Result<WriteOutcome, ScimError>> {
        let operations: Vec<Value> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let (method, path, data) = op.request();
                json!({"method": method.as_str(), "path": path, "bulkId": format!("op{i}"), "data": data})
            })
            .collect();
        let body = json!({"schemas": [BULK_REQUEST], "Operations": operations});
        let response = match self.call(Method::POST, "Bulk", &[], Some(&body)).await {
            Ok((_, Some(response))) => response,
            Err(error @ ScimError::Unauthorized { .. }) => {
                return ops
                    .iter()
                    .map(|_| Err(clone_unauthorized(&error)))
                    .collect();
            }
            // The bulk request as a whole failed. Refused outright (a 4xx), nothing was done: run
            // the ops one by one. Failed in a way that leaves its outcome unknown (a timeout, a
            // dropped connection, a 5xx), some creates may have been committed: each user is
            // looked up before it is created (R13); the other ops are safe to repeat.
            Err(error) => {
                return self
                    .one_by_one(ops, concurrency, error.outcome_unknown())
                    .await;
            }
            Ok((_, None)) => return self.one_by_one(ops, concurrency, true).await,
        };
        let results = response
            .as_object()
            .and_then(|o| get_ci(o, "Operations"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut outcomes = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let bulk_id = format!("op{i}");
            let result = results
                .iter()
                .find(|r| r.get("bulkId").and_then(Value::as_str) == Some(&bulk_id))
                .or_else(|| results.get(i).filter(|r| r.get("bulkId").is_none()));
            outcomes.push(match result {
                // The server stopped early (failOnErrors) or left the op out: do it alone.
                None => self.write(op).await,
                Some(result) => self.bulk_result(op, result).await,
            });
        }
        outcomes
    }

    async fn bulk_result(&self, op: &WriteOp, result: &Value) -> Result<WriteOutcome, ScimError> {
        let status = match result.get("status") {
            Some(Value::String(s)) => s.trim().parse::<u16>().unwrap_or(0),
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u16,
            // Old drafts: {"status": {"code": "201"}}.
            Some(Value::Object(o)) => o
                .get("code")
                .and_then(|c| {
                    c.as_str()
                        .map(str::to_owned)
                        .or_else(|| c.as_u64().map(|n| n.to_string()))
                })
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            _ => 0,
        };
        let (method, path, _) = op.request();
        if (200..300).contains(&status) {
            return Ok(match op {
                WriteOp::CreateUser(user) => {
                    let id = result
                        .get("location")
                        .and_then(Value::as_str)
                        .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                        .map(str::to_owned);
                    let Some(id) = id else {
                        return Err(ScimError::InvalidResponse {
                            method: "POST".into(),
                            url: self.base_url().to_owned() + "/Bulk",
                            detail: "a bulk create came back without a location".into(),
                        });
                    };
                    // The server's copy when it sent one, else what was written.
                    let from_response = result
                        .get("response")
                        .and_then(|r| ScimUser::from_json(r).ok());
                    let user = from_response.unwrap_or_else(|| created_user(id, user, result));
                    WriteOutcome::Created(Created {
                        user,
                        already_existed: false,
                    })
                }
                _ => WriteOutcome::Done,
            });
        }
        if status == 409 && matches!(op, WriteOp::CreateUser(_)) {
            // Resolved the same way as a single create: look the holder up.
            return self.write(op).await;
        }
        if (status >= 500 || status == 0) && matches!(op, WriteOp::CreateUser(_)) {
            // The application may have committed it before failing: look before re-sending.
            return self.write_after_doubt(op).await;
        }
        let body = result.get("response").and_then(Value::as_object);
        let text = |key: &str| {
            body.and_then(|b| get_ci(b, key))
                .and_then(Value::as_str)
                .map(|t| crate::secret::scrub::scrub(t).into_owned())
        };
        let url = format!("{}{path}", self.base_url());
        if matches!(status, 401 | 403) {
            return Err(ScimError::Unauthorized {
                url,
                status,
                detail: text("detail"),
            });
        }
        Err(ScimError::Status {
            method: method.to_string(),
            url,
            status,
            scim_type: text("scimType"),
            detail: text("detail").or_else(|| Some("failed inside a bulk request".into())),
        })
    }
}

fn created_user(id: String, user: &NewUser, result: &Value) -> ScimUser {
    let a = &user.attributes;
    ScimUser {
        id,
        external_id: a.external_id.clone(),
        user_name: a.user_name.clone(),
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        display_name: a.display_name.clone(),
        emails: a
            .email
            .iter()
            .map(|e| super::model::MultiValue {
                value: e.clone(),
                kind: Some("work".into()),
                primary: true,
            })
            .collect(),
        phone_numbers: a
            .phone
            .iter()
            .map(|p| super::model::MultiValue {
                value: p.clone(),
                kind: Some("work".into()),
                primary: false,
            })
            .collect(),
        title: a.title.clone(),
        active: a.active,
        department: a.department.clone(),
        employee_number: a.employee_number.clone(),
        groups: Vec::new(),
        extra: a.extra.clone(),
        roles: a.roles.clone().unwrap_or_default(),
        held: Default::default(),
        version: result
            .get("version")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn clone_unauthorized(error: &ScimError) -> ScimError {
    match error {
        ScimError::Unauthorized {
            url,
            status,
            detail,
        } => ScimError::Unauthorized {
            url: url.clone(),
            status: *status,
            detail: detail.clone(),
        },
        _ => unreachable!("only called with Unauthorized"),
    }
}
