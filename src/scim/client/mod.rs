//! The SCIM 2.0 client (RFC 7644): discovery, Users and Groups, paging, filters, PATCH, with
//! throttling retried and every server error kept in the returned [`ScimError`].

use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::error::ScimError;
use super::model::{GROUP_SCHEMA, PATCH_SCHEMA, ScimGroup, ScimUser, get_ci, lenient_bool};
use super::payload::{NewUser, UserPatch};
use crate::config::{TargetAuth, TargetSettings};
use crate::http::{AdaptiveLimit, LimitStats, Replay, RetryPolicy, body, send_limited};
use crate::secret::Secret;

mod create;
mod listing;
mod patch;

const SCIM_JSON: &str = "application/scim+json";

/// How adsync authenticates to the application.
#[derive(Clone, Debug, PartialEq)]
pub enum ScimAuth {
    /// `Authorization: Bearer TOKEN`.
    Bearer(Secret),
    /// HTTP basic with a service account.
    Basic { username: String, password: Secret },
}

/// What the server says it supports (`/ServiceProviderConfig`, RFC 7643 §5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCapabilities {
    pub patch: bool,
    /// `Some` when bulk is supported: (maxOperations, maxPayloadSize in bytes).
    pub bulk: Option<(u64, u64)>,
    pub filter: bool,
    /// The largest page the server returns, when it says.
    pub max_results: Option<usize>,
    pub etag: bool,
    pub sort: bool,
    pub change_password: bool,
    /// The `type` of each authentication scheme (e.g. `oauthbearertoken`, `httpbasic`).
    pub authentication_schemes: Vec<String>,
}

impl ServerCapabilities {
    /// Reads a ServiceProviderConfig document (booleans may be strings, names any case).
    pub fn from_json(value: &Value) -> Self {
        let obj = value.as_object().cloned().unwrap_or_default();
        let section = |name: &str| get_ci(&obj, name).and_then(Value::as_object).cloned();
        let supported = |name: &str| {
            section(name)
                .and_then(|s| get_ci(&s, "supported").and_then(lenient_bool))
                .unwrap_or(false)
        };
        let number = |name: &str, key: &str| {
            section(name).and_then(|s| {
                get_ci(&s, key).and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
            })
        };
        Self {
            patch: supported("patch"),
            bulk: supported("bulk").then(|| {
                (
                    number("bulk", "maxOperations").unwrap_or(0),
                    number("bulk", "maxPayloadSize").unwrap_or(0),
                )
            }),
            filter: supported("filter"),
            max_results: number("filter", "maxResults")
                .filter(|n| *n > 0)
                .map(|n| n as usize),
            etag: supported("etag"),
            sort: supported("sort"),
            change_password: supported("changePassword"),
            authentication_schemes: get_ci(&obj, "authenticationSchemes")
                .and_then(Value::as_array)
                .map(|schemes| {
                    schemes
                        .iter()
                        .filter_map(|s| s.get("type").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// One line for people: "PATCH yes, filter yes (up to 100 per page), ETag yes, bulk no".
    pub fn summary(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let filter = match (self.filter, self.max_results) {
            (true, Some(n)) => format!("yes (up to {n} per page)"),
            (b, _) => yes(b).to_owned(),
        };
        let bulk = match self.bulk {
            Some((ops, _)) => format!("advertised ({ops} operations)"),
            None => "no".to_owned(),
        };
        format!(
            "PATCH {}, filter {filter}, ETag {}, bulk {bulk}",
            yes(self.patch),
            yes(self.etag)
        )
    }
}

/// The result of [`ScimClient::create_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub user: ScimUser,
    /// True when the server answered 409 (uniqueness) and this is the user that already held the
    /// userName: the caller should link it rather than count it as created.
    pub already_existed: bool,
}

/// A SCIM 2.0 client for one application.
#[derive(Clone, Debug)]
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    auth: ScimAuth,
    retry: RetryPolicy,
    /// The page size the caller asked for; without one, [`ScimClient::page_size`] decides.
    page_size: Option<usize>,
    /// The server's `filter.maxResults`, once [`ScimClient::discover`] has read it.
    advertised_page: Arc<OnceLock<Option<usize>>>,
    /// Requests in flight to this application, shared by every clone of the client.
    limit: Arc<AdaptiveLimit>,
    /// `/ServiceProviderConfig`, read once by [`ScimClient::capabilities`].
    capabilities: Arc<tokio::sync::OnceCell<ServerCapabilities>>,
    /// The application refused a filtered PATCH path: typed items are written as whole lists
    /// merged with what it holds, for the rest of the run (`patch.rs`).
    whole_lists: Arc<std::sync::atomic::AtomicBool>,
}

/// The query of a group PATCH: the answer leaves the member list out (RFC 7644 §3.9 allows
/// `excludedAttributes` on PATCH). A server that returns the group would otherwise send every
/// member back on each add, which over a sync of N users into one group is O(N²) bytes; a
/// server that ignores the parameter, or answers 204, is unaffected.
fn without_members() -> [(&'static str, String); 1] {
    [("excludedAttributes", "members".to_owned())]
}

/// The page size asked for when listing and the server has not said its `filter.maxResults`:
/// RFC 7644 §3.4.2.4 lets a server return fewer than `count`, so asking for many costs nothing
/// and gets the largest page the server gives (100 per page made a run with nothing to do at
/// 10,000 users take 93 pages of `scim2-server`, which serves 1,000).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// The largest page asked for even when a server advertises more: a page is held whole in
/// memory while it is parsed.
pub const MAX_PAGE_SIZE: usize = 5000;

/// Pages of one listing asked for at once after the first (the adaptive limit may let out
/// fewer). A server that works on one request at a time gains nothing; one that works on
/// several, or sits behind a network's latency, answers a large listing that many times faster.
pub const LIST_CONCURRENCY: usize = 4;

/// The most requests in flight to the application when `[target] max_concurrency` is not set
/// (SPEC §3); adsync adapts below it.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// How long one write (a create, PATCH, PUT or DELETE) may take, answer included, before it fails
/// on its own: a server that sits on one user's write no longer holds up a batch for the HTTP
/// client's two-minute timeout. `/Bulk` requests keep that longer timeout.
pub const WRITE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// [`WRITE_DEADLINE`], or `$ADSYNC_WRITE_DEADLINE_MS` when set (tests use a short one).
fn write_deadline() -> std::time::Duration {
    std::env::var("ADSYNC_WRITE_DEADLINE_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .filter(|ms: &u64| *ms > 0)
        .map_or(WRITE_DEADLINE, std::time::Duration::from_millis)
}

/// Quotes a value for a filter (RFC 7644 §3.4.2.2: a JSON string, so `"` and `\` are escaped).
pub fn quote(value: &str) -> String {
    Value::String(value.to_owned()).to_string()
}

impl ScimClient {
    /// A client for the SCIM base URL `base_url` (e.g. `https://app.example.com/scim/v2`).
    pub fn new(base_url: &str, auth: ScimAuth) -> Self {
        Self {
            http: crate::http::client(),
            base: base_url.trim_end_matches('/').to_owned(),
            auth,
            retry: RetryPolicy::default(),
            page_size: None,
            advertised_page: Arc::new(OnceLock::new()),
            limit: Arc::new(AdaptiveLimit::new(DEFAULT_MAX_CONCURRENCY)),
            capabilities: Arc::new(tokio::sync::OnceCell::new()),
            whole_lists: Arc::default(),
        }
    }

    /// A client for the config's `[target]`, with its credential resolved now.
    pub fn from_settings(settings: &TargetSettings) -> Result<Self, ScimError> {
        let auth = match &settings.auth {
            TargetAuth::Bearer(token) => ScimAuth::Bearer(token.resolve()?),
            TargetAuth::Basic { username, password } => ScimAuth::Basic {
                username: username.clone(),
                password: password.resolve()?,
            },
        };
        let mut client =
            Self::new(settings.url.as_str(), auth).with_max_concurrency(settings.max_concurrency);
        if let Some(ca_file) = &settings.ca_file {
            client.http = crate::http::client_trusting(&crate::http::ca_certificates(ca_file)?)?;
        }
        Ok(client)
    }

    /// This client sending through `http` (e.g. one trusting a private CA, see
    /// [`crate::http::client_trusting`]).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Never more than `ceiling` requests in flight (at least 1); adsync adapts below it to what
    /// the server sustains. Clones made after this share the limit.
    pub fn with_max_concurrency(mut self, ceiling: usize) -> Self {
        self.limit = Arc::new(AdaptiveLimit::new(ceiling));
        self
    }

    /// The ceiling on requests in flight.
    pub fn max_concurrency(&self) -> usize {
        self.limit.ceiling()
    }

    /// What the adaptive limit on requests in flight did so far.
    pub fn concurrency_stats(&self) -> LimitStats {
        self.limit.stats()
    }

    /// The page size listings ask for: the one set with [`ScimClient::with_page_size`], else the
    /// server's `filter.maxResults` once discovered (at most [`MAX_PAGE_SIZE`]), else
    /// [`DEFAULT_PAGE_SIZE`].
    pub fn page_size(&self) -> usize {
        self.page_size
            .or_else(|| self.advertised_page.get().copied().flatten())
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// Uses `policy` for throttled and unavailable answers.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Asks for pages of `size` when listing (e.g. the server's `filter.maxResults`).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// The SCIM base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `{collection}/{id}` with `id` percent-encoded, or [`ScimError::UnsafeId`] when the id is
    /// not plain: an id is the application's data and must never steer a write elsewhere.
    pub(super) fn resource_path(collection: &str, id: &str) -> Result<String, ScimError> {
        let what = if collection == "Groups" {
            "group"
        } else {
            "user"
        };
        crate::http::path_segment(id, &[])
            .map(|segment| format!("{collection}/{segment}"))
            .map_err(|reason| ScimError::UnsafeId {
                what,
                id: id.to_owned(),
                reason,
            })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends one request (retrying 429/503/504) and returns the status and the parsed body, if
    /// any. Error statuses become [`ScimError`]s carrying the server's SCIM error.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Option<Value>), ScimError> {
        let url = self.url(path);
        let body_text = body.map(Value::to_string);
        // A write's latency tells how loaded the server is; a page read's or a bulk request's
        // mostly how large it is.
        let sampled = method != Method::GET && path != "Bulk";
        // A POST creates (a user, a group, a bulk of creates) unless it is a search: never sent
        // twice blindly (R13); its caller looks the result up when its outcome is unknown.
        let search = method == Method::POST && path.ends_with(".search");
        let replay = if method == Method::POST && !search {
            Replay::IfNotReceived
        } else if method == Method::GET || search {
            Replay::Always
        } else {
            Replay::UntilDeadline
        };
        // One write, one deadline: a slow answer fails that user's action, not the batch. A
        // /Bulk request carries many writes and keeps the client's longer timeout.
        let deadline = (method != Method::GET && !search && path != "Bulk").then(write_deadline);
        let response = send_limited(&self.retry, Some(&self.limit), sampled, replay, || {
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, format!("{SCIM_JSON}, application/json"));
            if !query.is_empty() {
                request = request.query(query);
            }
            request = match &self.auth {
                ScimAuth::Bearer(token) => {
                    request.header(AUTHORIZATION, format!("Bearer {}", token.expose()))
                }
                ScimAuth::Basic { username, password } => {
                    request.basic_auth(username, Some(password.expose()))
                }
            };
            if let Some(text) = &body_text {
                request = request.header(CONTENT_TYPE, SCIM_JSON).body(text.clone());
            }
            if let Some(deadline) = deadline {
                request = request.timeout(deadline);
            }
            request
        })
        .await
        .map_err(|error| match deadline {
            Some(deadline) if error.is_timeout() => ScimError::WriteTimedOut {
                method: method.to_string(),
                url: url.clone(),
                secs: deadline.as_secs_f64().ceil() as u64,
            },
            _ => ScimError::Unreachable {
                url: url.clone(),
                detail: crate::http::with_ca_hint(body::describe(&error)),
            },
        })?;
        let status = response.status();
        let shown_url = response.url().to_string();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return Err(ScimError::Redirected {
                method: method.to_string(),
                url: shown_url,
                status: status.as_u16(),
                location: body::redirect_location(&response),
            });
        }
        let bytes = if status.is_success() || status == StatusCode::NOT_MODIFIED {
            body::read_capped(response, body::MAX_PAGE_BYTES)
                .await
                .map_err(|error| match error {
                    body::BodyError::Broken(detail) => ScimError::Unreachable {
                        url: shown_url.clone(),
                        detail,
                    },
                    too_large => ScimError::InvalidResponse {
                        method: method.to_string(),
                        url: shown_url.clone(),
                        detail: too_large.to_string(),
                    },
                })?
        } else {
            body::read_prefix(response, body::MAX_ERROR_BYTES).await
        };
        let parsed: Option<Result<Value, _>> = (!bytes.iter().all(u8::is_ascii_whitespace))
            .then(|| serde_json::from_slice::<Value>(&bytes));
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return match parsed {
                None => Ok((status, None)),
                Some(Ok(value)) => Ok((status, Some(value))),
                Some(Err(error)) => Err(ScimError::InvalidResponse {
                    method: method.to_string(),
                    url: shown_url,
                    detail: format!("malformed JSON ({error})"),
                }),
            };
        }
        // An error: keep the SCIM error body, or the start of whatever the server sent.
        let (scim_type, detail) = match &parsed {
            Some(Ok(Value::Object(obj))) => (
                get_ci(obj, "scimType")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                get_ci(obj, "detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ),
            _ => {
                let text = String::from_utf8_lossy(&bytes);
                let text: String = text.trim().chars().take(200).collect();
                (None, (!text.is_empty()).then_some(text))
            }
        };
        // A server may echo the request (a default password) in its error: scrubbed here.
        let detail = detail.map(|d| crate::secret::scrub::scrub(&d).into_owned());
        if matches!(status.as_u16(), 401 | 403) {
            return Err(ScimError::Unauthorized {
                url: shown_url,
                status: status.as_u16(),
                detail,
            });
        }
        Err(ScimError::Status {
            method: method.to_string(),
            url: shown_url,
            status: status.as_u16(),
            scim_type,
            detail,
        })
    }

    async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ScimError> {
        match self.call(Method::GET, path, query, None).await? {
            (_, Some(value)) => Ok(value),
            (_, None) => Err(ScimError::InvalidResponse {
                method: "GET".into(),
                url: self.url(path),
                detail: "empty body".into(),
            }),
        }
    }

    fn invalid(&self, method: &str, path: &str, detail: impl Into<String>) -> ScimError {
        ScimError::InvalidResponse {
            method: method.into(),
            url: self.url(path),
            detail: detail.into(),
        }
    }

    /// Reads `/ServiceProviderConfig`.
    pub async fn discover(&self) -> Result<ServerCapabilities, ScimError> {
        let value = self.get_json("ServiceProviderConfig", &[]).await?;
        if !value.is_object() {
            return Err(self.invalid("GET", "ServiceProviderConfig", "not a JSON object"));
        }
        let capabilities = ServerCapabilities::from_json(&value);
        let _ = self.advertised_page.set(capabilities.max_results);
        Ok(capabilities)
    }

    /// What the server supports, read once per client (and its clones); a server whose
    /// `/ServiceProviderConfig` cannot be read is taken to support nothing optional.
    pub async fn capabilities(&self) -> ServerCapabilities {
        self.capabilities
            .get_or_init(|| async {
                self.discover().await.unwrap_or_else(|error| {
                    tracing::info!(%error, "no ServiceProviderConfig; writing one request per change");
                    ServerCapabilities::default()
                })
            })
            .await
            .clone()
    }

    fn parse_user(value: &Value) -> Result<ScimUser, String> {
        ScimUser::from_json(value)
    }

    fn parse_group(value: &Value) -> Result<ScimGroup, String> {
        ScimGroup::from_json(value)
    }

    /// One user by id.
    pub async fn get_user(&self, id: &str) -> Result<ScimUser, ScimError> {
        let path = Self::resource_path("Users", id)?;
        let value = self.get_json(&path, &[]).await?;
        ScimUser::from_json(&value).map_err(|e| self.invalid("GET", &path, e))
    }

    /// Every user.
    pub async fn list_users(&self) -> Result<Vec<ScimUser>, ScimError> {
        self.list_all("Users", None, &[], Self::parse_user).await
    }

    /// Users matching a raw SCIM filter.
    pub async fn find_users(&self, filter: &str) -> Result<Vec<ScimUser>, ScimError> {
        self.list_all("Users", Some(filter), &[], Self::parse_user)
            .await
    }

    /// Users whose `externalId` is `external_id` (case-exact on most servers).
    pub async fn find_users_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Vec<ScimUser>, ScimError> {
        self.find_users(&format!("externalId eq {}", quote(external_id)))
            .await
    }

    /// Users whose `userName` is `user_name` (case-insensitive per RFC 7643).
    pub async fn find_users_by_user_name(
        &self,
        user_name: &str,
    ) -> Result<Vec<ScimUser>, ScimError> {
        self.find_users(&format!("userName eq {}", quote(user_name)))
            .await
    }

    /// Users with `address` among their `emails`.
    pub async fn find_users_by_email(&self, address: &str) -> Result<Vec<ScimUser>, ScimError> {
        self.find_users(&format!("emails[value eq {}]", quote(address)))
            .await
    }

    /// Enables or disables user `id`. adsync never deletes users (R6).
    pub async fn set_active(&self, id: &str, active: bool) -> Result<(), ScimError> {
        self.patch_user(id, &UserPatch::active(active)).await
    }

    /// Every group, without members (large groups make listings slow).
    pub async fn list_groups(&self) -> Result<Vec<ScimGroup>, ScimError> {
        self.list_all(
            "Groups",
            None,
            &[("excludedAttributes", "members".into())],
            Self::parse_group,
        )
        .await
    }

    /// How many groups the application has.
    pub async fn count_groups(&self) -> Result<usize, ScimError> {
        self.count("Groups", &[("excludedAttributes", "members".into())])
            .await
    }

    /// How many users the application has (also proves the credential may read Users).
    pub async fn count_users(&self) -> Result<usize, ScimError> {
        self.count("Users", &[]).await
    }

    async fn count(&self, path: &str, extra: &[(&str, String)]) -> Result<usize, ScimError> {
        let mut query = vec![("count", "1".to_owned())];
        query.extend(extra.iter().cloned());
        let page = self.get_json(path, &query).await?;
        page.as_object()
            .and_then(|o| get_ci(o, "totalResults"))
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| self.invalid("GET", path, "the list response has no totalResults"))
    }

    /// One group by id, with its members.
    pub async fn get_group(&self, id: &str) -> Result<ScimGroup, ScimError> {
        let path = Self::resource_path("Groups", id)?;
        let value = self.get_json(&path, &[]).await?;
        ScimGroup::from_json(&value).map_err(|e| self.invalid("GET", &path, e))
    }

    /// The ids of a group's members.
    pub async fn group_member_ids(&self, id: &str) -> Result<Vec<String>, ScimError> {
        Ok(self.get_group(id).await?.member_ids())
    }

    /// Groups whose `displayName` is `name`.
    pub async fn find_groups_by_display_name(
        &self,
        name: &str,
    ) -> Result<Vec<ScimGroup>, ScimError> {
        let filter = format!("displayName eq {}", quote(name));
        self.list_all(
            "Groups",
            Some(&filter),
            &[("excludedAttributes", "members".into())],
            Self::parse_group,
        )
        .await
    }

    /// Creates a group with no members.
    pub async fn create_group(&self, display_name: &str) -> Result<ScimGroup, ScimError> {
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": display_name});
        match self.call(Method::POST, "Groups", &[], Some(&body)).await? {
            (_, Some(value)) => {
                ScimGroup::from_json(&value).map_err(|e| self.invalid("POST", "Groups", e))
            }
            (_, None) => Err(self.invalid("POST", "Groups", "the created group was not returned")),
        }
    }

    /// Adds users to a group (one PATCH).
    pub async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ScimError> {
        let path = Self::resource_path("Groups", group_id)?;
        if user_ids.is_empty() {
            return Ok(());
        }
        let members: Vec<Value> = user_ids.iter().map(|id| json!({"value": id})).collect();
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": members}],
        });
        self.call(Method::PATCH, &path, &without_members(), Some(&body))
            .await?;
        Ok(())
    }

    /// Removes one user from a group (`members[value eq "…"]`).
    pub async fn remove_member(&self, group_id: &str, user_id: &str) -> Result<(), ScimError> {
        let path = Self::resource_path("Groups", group_id)?;
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": format!("members[value eq {}]", quote(user_id))}],
        });
        self.call(Method::PATCH, &path, &without_members(), Some(&body))
            .await?;
        Ok(())
    }
}

/// Runs `tasks` with at most `limit` in flight, returning their results in input order. The
/// engine uses it to bound concurrent writes to the application.
pub async fn run_bounded<T, Fut>(tasks: impl IntoIterator<Item = Fut>, limit: usize) -> Vec<T>
where
    Fut: Future<Output = T>,
{
    futures::stream::iter(tasks)
        .buffered(limit.max(1))
        .collect()
        .await
}
