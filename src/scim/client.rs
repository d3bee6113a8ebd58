//! The SCIM 2.0 client (RFC 7644): discovery, Users and Groups, paging, filters, PATCH, with
//! throttling retried and every server error kept in the returned [`ScimError`].

use std::collections::HashSet;
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
        Ok(Self::new(settings.url.as_str(), auth).with_max_concurrency(settings.max_concurrency))
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
        let replay = if method == Method::POST && !path.ends_with(".search") {
            Replay::IfNotReceived
        } else {
            Replay::Always
        };
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
            request
        })
        .await
        .map_err(|error| ScimError::Unreachable {
            url: url.clone(),
            detail: body::describe(&error),
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

    /// Every resource at `path` matching `filter`, page by page (`startIndex`/`count`), each
    /// page turned into `T` by `parse` as it arrives, so only the pages in flight are ever held
    /// as JSON. Once the first page tells `totalResults` and the server's page size, up to
    /// [`LIST_CONCURRENCY`] of the remaining pages are asked for at once (and never more than the
    /// adaptive limit lets out); they are checked in order. Fails with [`ScimError::Incomplete`]
    /// when a page has no `totalResults` (without it the end of the listing cannot be told), a
    /// page is short of what it claims, the server repeats results, or it stops before
    /// `totalResults`.
    async fn list_all<T>(
        &self,
        path: &str,
        filter: Option<&str>,
        extra: &[(&str, String)],
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<Vec<T>, ScimError> {
        let page_size = self.page_size();
        let mut listing = Listing {
            client: self,
            path,
            parse: &parse,
            out: Vec::new(),
            seen: HashSet::new(),
            next: 1,
            total: 0,
        };
        let first = self.list_page(path, filter, extra, 1, page_size).await?;
        let served = listing.take(1, first)?;
        if listing.done() {
            return Ok(listing.out);
        }
        if served == 0 {
            return Err(listing.stopped());
        }
        // The pages still to read, at the server's own page size; read a few at once, taken in
        // order. A page that comes back short leaves a gap that is read before the next page.
        let starts = (1 + served..=listing.total).step_by(served);
        let mut pages = futures::stream::iter(starts)
            .map(|start| async move {
                let page = self.list_page(path, filter, extra, start, served).await;
                (start, page)
            })
            .buffered(LIST_CONCURRENCY);
        while let Some((start, page)) = pages.next().await {
            let page = page?;
            while listing.next < start && !listing.done() {
                let gap = start - listing.next;
                let page = self
                    .list_page(path, filter, extra, listing.next, gap)
                    .await?;
                if listing.take(listing.next, page)? == 0 && !listing.done() {
                    return Err(listing.stopped());
                }
            }
            if listing.done() {
                return Ok(listing.out);
            }
            if listing.take(start, page)? == 0 && !listing.done() {
                return Err(listing.stopped());
            }
        }
        drop(pages);
        // The server may say there are more than it first did: read on until it has said all.
        while !listing.done() {
            let page = self
                .list_page(path, filter, extra, listing.next, page_size)
                .await?;
            if listing.take(listing.next, page)? == 0 && !listing.done() {
                return Err(listing.stopped());
            }
        }
        Ok(listing.out)
    }

    /// One page of a listing, as the server sent it.
    async fn list_page(
        &self,
        path: &str,
        filter: Option<&str>,
        extra: &[(&str, String)],
        start: usize,
        count: usize,
    ) -> Result<Value, ScimError> {
        let mut query: Vec<(&str, String)> = vec![
            ("startIndex", start.to_string()),
            ("count", count.to_string()),
        ];
        if let Some(filter) = filter {
            query.push(("filter", filter.to_owned()));
        }
        query.extend(extra.iter().cloned());
        self.get_json(path, &query).await
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

    /// Writes the attributes in `patch` to user `id`. Servers answer 200 with the user or 204
    /// without a body; both are success.
    pub async fn patch_user(&self, id: &str, patch: &UserPatch) -> Result<(), ScimError> {
        let path = Self::resource_path("Users", id)?;
        if patch.is_empty() {
            return Ok(());
        }
        self.call(Method::PATCH, &path, &[], Some(&patch.to_json()))
            .await?;
        Ok(())
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

/// A listing being read: what came so far, checked page by page.
struct Listing<'a, T, P> {
    client: &'a ScimClient,
    path: &'a str,
    parse: &'a P,
    out: Vec<T>,
    /// The ids received, to catch a server that does not page by `startIndex`.
    seen: HashSet<String>,
    /// The `startIndex` of the first result not yet received.
    next: usize,
    /// `totalResults` as the latest page said.
    total: usize,
}

impl<T, P: Fn(&Value) -> Result<T, String>> Listing<'_, T, P> {
    fn incomplete(&self, detail: String) -> ScimError {
        ScimError::Incomplete {
            url: self.client.url(self.path),
            detail,
        }
    }

    fn done(&self) -> bool {
        self.out.len() >= self.total
    }

    fn stopped(&self) -> ScimError {
        self.incomplete(format!(
            "the server said there are {} results but returned {}",
            self.total,
            self.out.len()
        ))
    }

    /// Checks and parses the page asked for at `start`; returns how many results it held.
    /// Results already received from a longer page before it are skipped.
    fn take(&mut self, start: usize, page: Value) -> Result<usize, ScimError> {
        let path = self.path;
        let obj = page.as_object().ok_or_else(|| {
            self.client
                .invalid("GET", path, "a list response must be an object")
        })?;
        let resources: &[Value] = match get_ci(obj, "Resources") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => &[],
            Some(_) => return Err(self.client.invalid("GET", path, "Resources is not a list")),
        };
        let count = resources.len();
        self.total = get_ci(obj, "totalResults")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| {
                self.incomplete(format!(
                    "the page at startIndex {start} has no totalResults, so whether the \
                     listing is complete cannot be told (RFC 7644 §3.4.2 requires it)"
                ))
            })?;
        // A page holding fewer results than it claims, before the end, lost some. (Some
        // servers echo the requested count as itemsPerPage on the last page: that is fine.)
        if let Some(claimed) = get_ci(obj, "itemsPerPage").and_then(Value::as_u64)
            && claimed as usize > count
            && start - 1 + count < self.total
        {
            return Err(self.incomplete(format!(
                "the page at startIndex {start} says it holds {claimed} results but has {count}"
            )));
        }
        let skip = self.next.saturating_sub(start).min(count);
        for resource in &resources[skip..] {
            if let Some(id) = resource.get("id").and_then(Value::as_str)
                && !self.seen.insert(id.to_owned())
            {
                return Err(self.incomplete(format!(
                    "the server returned {id} twice; it does not page by startIndex"
                )));
            }
            let item = (self.parse)(resource).map_err(|e| self.client.invalid("GET", path, e))?;
            self.out.push(item);
        }
        self.next = self.next.max(start + count);
        Ok(count)
    }
}

/// Does `holder` carry the userName, the externalId or the email of `attrs`, compared with ASCII
/// case folding only? (What a server's filter found may match only through Unicode folding.)
fn holds_under_ascii_folding(holder: &ScimUser, attrs: &super::payload::UserAttributes) -> bool {
    holder.user_name.eq_ignore_ascii_case(&attrs.user_name)
        || (holder.external_id.is_some() && holder.external_id == attrs.external_id)
        || attrs.email.as_ref().is_some_and(|email| {
            holder
                .emails
                .iter()
                .any(|e| e.value.eq_ignore_ascii_case(email))
        })
}
