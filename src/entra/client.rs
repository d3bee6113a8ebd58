//! The Microsoft Graph client: directory reads that follow every page and either return all of
//! a result or fail (R10), with throttling retried, the token renewed when Graph refuses it, and
//! Graph's request ids kept in every error.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use super::auth::TokenSource;
use super::error::{EntraError, GraphErrorBody, GraphIds};
use super::model::*;
use super::permissions;
use crate::config::EntraSettings;
use crate::http::{RetryPolicy, body};

/// Page size asked for on every list (Graph's maximum for directory collections).
const TOP: u32 = 999;

/// The most pages one read follows. At 999 objects a page (or a delta page's usual 100 to 200)
/// that is millions of objects, far beyond a real tenant; a server handing out new links forever
/// is stopped here rather than read until memory runs out.
pub const MAX_PAGES: usize = 50_000;

/// Remembers the links a read followed, so that a link seen before (a page pointing at itself
/// or at an earlier page) fails the read instead of looping forever, and the read stops after
/// [`MAX_PAGES`].
struct LinkGuard {
    seen: std::collections::HashSet<u64>,
    max_pages: usize,
}

impl LinkGuard {
    fn new(max_pages: usize) -> Self {
        Self {
            seen: Default::default(),
            max_pages,
        }
    }

    fn follow(&mut self, url: &str, what: &str) -> Result<(), EntraError> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(url);
        let detail = if !self.seen.insert(hash) {
            format!(
                "Graph sent a next link that was already followed ({}); the pages loop",
                strip_query(url)
            )
        } else if self.seen.len() > self.max_pages {
            format!(
                "Graph sent more than {} pages; the read was stopped there",
                self.max_pages
            )
        } else {
            return Ok(());
        };
        Err(EntraError::Incomplete {
            what: what.to_owned(),
            detail,
            ids: GraphIds::default(),
        })
    }
}

/// A Graph client for one app registration in one tenant.
pub struct GraphClient {
    tokens: Arc<TokenSource>,
    /// `{graph_url}/v1.0`, without a trailing slash.
    base: String,
    consent_url: String,
    http: reqwest::Client,
    policy: RetryPolicy,
    /// Graph requests sent (throttled retries not counted), for the service's cycle log.
    requests: std::sync::atomic::AtomicU64,
    /// The user `$select` (and `$expand` for `manager`): the default properties plus those the
    /// `[[mappings]]` read (SPEC §3.1), in full reads and delta rounds alike.
    user_query: String,
    /// The top-level properties of `user_query`'s `$select`: a full read's user record lacking
    /// one is incomplete (R10).
    user_props: Vec<String>,
    /// The most pages one read follows ([`MAX_PAGES`]).
    max_pages: usize,
}

/// One page as Graph sent it.
struct Page {
    body: Value,
    ids: GraphIds,
}

impl GraphClient {
    /// A client for `settings`, loading its credential (secret reference or certificate file).
    pub fn new(settings: &EntraSettings) -> Result<Self, EntraError> {
        let tokens = TokenSource::new(settings, RetryPolicy::default())?;
        Ok(Self::with_tokens(
            settings,
            Arc::new(tokens),
            RetryPolicy::default(),
        ))
    }

    /// A client using an existing token source and retry policy (tests use [`RetryPolicy::fast`]).
    pub fn with_tokens(
        settings: &EntraSettings,
        tokens: Arc<TokenSource>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            tokens,
            base: format!("{}/v1.0", settings.graph_url.as_str().trim_end_matches('/')),
            consent_url: permissions::admin_consent_url(settings),
            http: crate::http::client(),
            policy,
            requests: std::sync::atomic::AtomicU64::new(0),
            user_query: format!("$select={USER_SELECT}"),
            user_props: USER_SELECT.split(',').map(str::to_owned).collect(),
            max_pages: MAX_PAGES,
        }
    }

    /// Follows at most `pages` pages per read instead of [`MAX_PAGES`] (tests use a small cap).
    pub fn with_max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    /// Asks Graph also for the properties `mappings` read (`$select`, and `$expand` of the
    /// manager's id), and nothing more.
    pub fn with_mappings(mut self, mappings: &[crate::config::Mapping]) -> Self {
        let sources = crate::sync::MappingSet::new(mappings).sources();
        let mut props = USER_SELECT
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let mut manager = false;
        for source in sources {
            let top = source.split('.').next().unwrap_or(&source).to_owned();
            if top == "manager" {
                manager = true;
            } else if !props.contains(&top) {
                props.push(top);
            }
        }
        self.user_query = format!("$select={}", props.join(","));
        if manager {
            self.user_query.push_str("&$expand=manager($select=id)");
        }
        self.user_props = props;
        self
    }

    /// R10: a full read's user record names every selected property (Graph sends `null` for an
    /// unset one, never nothing).
    fn check_selected(&self, item: &Value, what: &str) -> Result<(), EntraError> {
        let Some(obj) = item.as_object() else {
            return Ok(()); // parse_item reports it
        };
        match self
            .user_props
            .iter()
            .find(|p| !obj.contains_key(p.as_str()))
        {
            None => Ok(()),
            Some(missing) => Err(EntraError::Incomplete {
                what: what.to_owned(),
                detail: format!(
                    "user {} has no `{missing}` although it was selected",
                    obj.get("id").and_then(Value::as_str).unwrap_or("?")
                ),
                ids: GraphIds::default(),
            }),
        }
    }

    /// How many Graph requests this client has sent (token requests not included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The token source (to read the granted roles, or count sign-ins).
    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// Every group in the tenant.
    pub async fn list_groups(&self) -> Result<Vec<EntraGroup>, EntraError> {
        let url = self.url(&format!(
            "/groups?$select={GROUP_SELECT}&$top={TOP}&$count=true"
        ));
        self.collect(&url, "the list of groups").await
    }

    /// Groups whose display name contains words starting with `term` (Graph `$search`, which
    /// needs `ConsistencyLevel: eventual`; the index can lag recent changes).
    pub async fn search_groups(&self, term: &str) -> Result<Vec<EntraGroup>, EntraError> {
        let escaped = term.replace('\\', "\\\\").replace('"', "\\\"");
        let search = format!("\"displayName:{escaped}\"");
        let mut url = url::Url::parse(&self.url("/groups")).map_err(|e| EntraError::Transport {
            url: self.base.clone(),
            detail: e.to_string(),
        })?;
        url.query_pairs_mut()
            .append_pair("$search", &search)
            .append_pair("$select", GROUP_SELECT)
            .append_pair("$top", &TOP.to_string())
            .append_pair("$count", "true");
        self.collect(url.as_str(), &format!("groups matching '{term}'"))
            .await
    }

    /// One group; [`EntraError::GroupNotFound`] when it does not exist.
    pub async fn get_group(&self, id: &str) -> Result<EntraGroup, EntraError> {
        let what = format!("group {id}");
        let url = self.url(&format!(
            "/groups/{}?$select={GROUP_SELECT}",
            encode(id, &what)?
        ));
        let page = self
            .get(&url, &what, false)
            .await
            .map_err(|e| not_found_as_group(e, id))?;
        serde_json::from_value(page.body).map_err(|e| EntraError::Incomplete {
            what: format!("group {id}"),
            detail: format!("unexpected JSON: {e}"),
            ids: page.ids,
        })
    }

    /// The user members of a group: direct (`/members`) or, with `transitive`, through nested
    /// groups too (`/transitiveMembers`). Devices, service principals, contacts and the nested
    /// groups themselves are left out (the `microsoft.graph.user` cast, and a check of each
    /// item's `@odata.type`). Each user appears once.
    pub async fn group_members(
        &self,
        id: &str,
        transitive: bool,
    ) -> Result<Vec<EntraUser>, EntraError> {
        let mut seen = std::collections::HashSet::new();
        let mut users = Vec::new();
        self.for_each_member(id, transitive, |user| {
            if seen.insert(user.id.clone()) {
                users.push(user);
            }
        })
        .await?;
        Ok(users)
    }

    /// [`Self::group_members`], handing each user to `f` as its page arrives (a user reached
    /// twice through nesting comes twice). Each page is parsed and let go before the next: held
    /// as JSON until the last page came, a 100,000-user pair cost 2.5 KB per user, and as a list
    /// beside the caller's own copy, another 400 bytes.
    pub async fn for_each_member(
        &self,
        id: &str,
        transitive: bool,
        mut f: impl FnMut(EntraUser),
    ) -> Result<(), EntraError> {
        let relation = if transitive {
            "transitiveMembers"
        } else {
            "members"
        };
        let what = format!("the {relation} of group {id}");
        let url = self.url(&format!(
            "/groups/{}/{relation}/microsoft.graph.user?{}&$top={TOP}&$count=true",
            encode(id, &what)?,
            self.user_query
        ));
        self.for_each_item(&url, &what, true, |item| {
            let odata_type = item["@odata.type"].as_str();
            if odata_type.is_some() && ObjectKind::from_odata_type(odata_type) != ObjectKind::User {
                return Ok(());
            }
            self.check_selected(&item, &what)?;
            f(parse_item(item, &what)?);
            Ok(())
        })
        .await
        .map_err(|e| not_found_as_group(e, id))
    }

    /// The ids of every group nested under a group, at any depth (`transitiveMembers` cast to
    /// groups). An incremental cycle re-reads a nested pair only when one of these changed.
    pub async fn nested_group_ids(&self, id: &str) -> Result<Vec<String>, EntraError> {
        let what = format!("the groups nested under group {id}");
        let url = self.url(&format!(
            "/groups/{}/transitiveMembers/microsoft.graph.group?$select=id&$top={TOP}&$count=true",
            encode(id, &what)?
        ));
        let items = self
            .collect_values(&url, &what, true)
            .await
            .map_err(|e| not_found_as_group(e, id))?;
        items
            .into_iter()
            .map(|item| match item["id"].as_str() {
                Some(id) if !id.is_empty() => Ok(id.to_owned()),
                _ => Err(EntraError::Incomplete {
                    what: what.clone(),
                    detail: "an item has no id".into(),
                    ids: GraphIds::default(),
                }),
            })
            .collect()
    }

    /// Every user in the tenant (members and guests, enabled or not).
    pub async fn list_users(&self) -> Result<Vec<EntraUser>, EntraError> {
        let url = self.url(&format!(
            "/users?{}&$top={TOP}&$count=true",
            self.user_query
        ));
        let what = "the list of users";
        let items = self.collect_values(&url, what, true).await?;
        items
            .into_iter()
            .map(|item| {
                self.check_selected(&item, what)?;
                parse_item(item, what)
            })
            .collect()
    }

    /// One user by object id or UPN; `None` when there is no such user (deleted, or never was).
    pub async fn get_user(&self, id: &str) -> Result<Option<EntraUser>, EntraError> {
        let url = self.url(&format!(
            "/users/{}?{}",
            encode(id, &format!("user {id}"))?,
            self.user_query
        ));
        match self.get(&url, &format!("user {id}"), false).await {
            Ok(page) => {
                self.check_selected(&page.body, &format!("user {id}"))?;
                parse_item(page.body, &format!("user {id}")).map(Some)
            }
            Err(EntraError::Graph { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Users by object id, in the order given; ids with no user are left out. Up to eight
    /// requests are in flight at a time; any failure fails the whole read.
    pub async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<EntraUser>, EntraError> {
        use futures::StreamExt;
        let found: Vec<Result<Option<EntraUser>, EntraError>> = futures::stream::iter(ids)
            .map(|id| self.get_user(id))
            .buffered(8)
            .collect()
            .await;
        let mut users = Vec::with_capacity(ids.len());
        for user in found {
            users.extend(user?);
        }
        Ok(users)
    }

    /// One users delta round: from the start when `delta_link` is `None`, else from that link.
    /// A link Graph no longer accepts gives [`EntraError::ResyncRequired`].
    pub async fn users_delta(&self, delta_link: Option<&str>) -> Result<UsersDelta, EntraError> {
        let first = match delta_link {
            Some(link) => link.to_owned(),
            None => self.url(&format!("/users/delta?{}", self.user_query)),
        };
        let (items, delta_link) = self.delta_pages(&first, "users").await?;
        let mut round = UsersDelta {
            delta_link,
            ..UsersDelta::default()
        };
        let mut changed_at: HashMap<String, usize> = HashMap::new();
        let mut removed_at: HashMap<String, usize> = HashMap::new();
        for item in items {
            if let Some(reason) = removed_reason(&item) {
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                if let Some(at) = changed_at.remove(&id) {
                    round.changed[at].id.clear();
                }
                let entry = Removed {
                    id: id.clone(),
                    reason,
                };
                match removed_at.get(&id) {
                    Some(&at) => round.removed[at] = entry,
                    None => {
                        removed_at.insert(id, round.removed.len());
                        round.removed.push(entry);
                    }
                }
                continue;
            }
            let user: EntraUser = parse_item(item, "the users delta")?;
            if let Some(at) = removed_at.remove(&user.id) {
                round.removed[at].id.clear();
            }
            match changed_at.get(&user.id) {
                Some(&at) => round.changed[at] = user,
                None => {
                    changed_at.insert(user.id.clone(), round.changed.len());
                    round.changed.push(user);
                }
            }
        }
        round.changed.retain(|u| !u.id.is_empty());
        round.removed.retain(|r| !r.id.is_empty());
        Ok(round)
    }

    /// Delta links that start from now (`$deltatoken=latest`, graph-notes §5.1): no enumeration of
    /// the tenant, one request per stream. The next round returns only what changes after this.
    pub async fn delta_from_now(&self) -> Result<DeltaLinks, EntraError> {
        let users = self.url(&format!(
            "/users/delta?{}&$deltatoken=latest",
            self.user_query
        ));
        let groups = self.url(&format!(
            "/groups/delta?$select={GROUP_SELECT},members&$deltatoken=latest"
        ));
        let (users, groups) = tokio::try_join!(
            self.users_delta(Some(&users)),
            self.groups_delta(Some(&groups))
        )?;
        Ok(DeltaLinks {
            users: users.delta_link,
            groups: groups.delta_link,
        })
    }

    /// One groups delta round, with `members@delta` merged over every page a group appears on.
    pub async fn groups_delta(&self, delta_link: Option<&str>) -> Result<GroupsDelta, EntraError> {
        let first = match delta_link {
            Some(link) => link.to_owned(),
            None => self.url(&format!("/groups/delta?$select={GROUP_SELECT},members")),
        };
        let (items, delta_link) = self.delta_pages(&first, "groups").await?;
        let mut round = GroupsDelta {
            delta_link,
            ..GroupsDelta::default()
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        for mut item in items {
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            if id.is_empty() {
                return Err(EntraError::Incomplete {
                    what: "the groups delta".into(),
                    detail: "an entry has no id".into(),
                    ids: GraphIds::default(),
                });
            }
            if let Some(reason) = removed_reason(&item) {
                round.removed.retain(|r| r.id != id);
                round.removed.push(Removed { id, reason });
                continue;
            }
            let members = item
                .as_object_mut()
                .and_then(|o| o.remove("members@delta"))
                .unwrap_or(Value::Array(Vec::new()));
            let group: EntraGroup = parse_item(item, "the groups delta")?;
            let at = *index.entry(id.clone()).or_insert_with(|| {
                round.changed.push(GroupChange {
                    group: EntraGroup {
                        id: id.clone(),
                        ..EntraGroup::default()
                    },
                    ..GroupChange::default()
                });
                round.changed.len() - 1
            });
            let change = &mut round.changed[at];
            merge_group(&mut change.group, group);
            for member in members.as_array().into_iter().flatten() {
                let member_ref = MemberRef {
                    id: member["id"].as_str().unwrap_or_default().to_owned(),
                    kind: ObjectKind::from_odata_type(member["@odata.type"].as_str()),
                };
                if member_ref.id.is_empty() {
                    continue;
                }
                change.members_added.retain(|m| m.id != member_ref.id);
                change.members_removed.retain(|m| m.id != member_ref.id);
                if member.get("@removed").is_some() {
                    change.members_removed.push(member_ref);
                } else {
                    change.members_added.push(member_ref);
                }
            }
        }
        // A group removed later in the round is not also reported as changed.
        round
            .changed
            .retain(|c| !round.removed.iter().any(|r| r.id == c.group.id));
        Ok(round)
    }

    /// A users round and a groups round; from the start when `links` is `None`.
    pub async fn delta(&self, links: Option<&DeltaLinks>) -> Result<DeltaRound, EntraError> {
        let users = self.users_delta(links.map(|l| l.users.as_str())).await?;
        let groups = self.groups_delta(links.map(|l| l.groups.as_str())).await?;
        Ok(DeltaRound { users, groups })
    }

    /// A one-item read of `/users` or `/groups`, to prove the permission works.
    pub async fn probe(&self, collection: &str) -> Result<(), EntraError> {
        let url = self.url(&format!("/{collection}?$select=id&$top=1"));
        self.get(&url, &format!("a test read of /{collection}"), false)
            .await
            .map(|_| ())
    }

    async fn collect<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<Vec<T>, EntraError> {
        self.collect_values(url, what, true)
            .await?
            .into_iter()
            .map(|item| parse_item(item, what))
            .collect()
    }

    /// Follows every `@odata.nextLink` from `url`. With `advanced`, the `ConsistencyLevel` header
    /// goes on every page (Graph does not carry it over) and the `@odata.count` of the first page
    /// is checked against what was collected, so a page cut short fails the read.
    async fn collect_values(
        &self,
        url: &str,
        what: &str,
        advanced: bool,
    ) -> Result<Vec<Value>, EntraError> {
        let mut items = Vec::new();
        self.for_each_item(url, what, advanced, |item| {
            items.push(item);
            Ok(())
        })
        .await?;
        Ok(items)
    }

    /// [`Self::collect_values`], handing each item to `f` page by page instead of keeping them.
    async fn for_each_item(
        &self,
        url: &str,
        what: &str,
        advanced: bool,
        mut f: impl FnMut(Value) -> Result<(), EntraError>,
    ) -> Result<(), EntraError> {
        let mut seen: u64 = 0;
        let mut next = Some(url.to_owned());
        let mut expected = None;
        let mut last_ids = GraphIds::default();
        let mut first = true;
        let mut links = LinkGuard::new(self.max_pages);
        // `$count=true` with the header: Graph always sends the count, so its absence means the
        // answer did not come from Graph as asked (R10).
        let count_asked = advanced && url.contains("$count=true");
        while let Some(url) = next.take() {
            links.follow(&url, what)?;
            let mut page = self.get(&url, what, advanced).await?;
            if first {
                expected = page.body["@odata.count"].as_u64();
                first = false;
                if count_asked && expected.is_none() {
                    return Err(EntraError::Incomplete {
                        what: what.to_owned(),
                        detail: "the first page has no `@odata.count` although it was asked for"
                            .into(),
                        ids: page.ids,
                    });
                }
            }
            let Some(values) = page.body.get_mut("value").and_then(Value::as_array_mut) else {
                return Err(EntraError::Incomplete {
                    what: what.to_owned(),
                    detail: "a page has no `value` list".into(),
                    ids: page.ids,
                });
            };
            for item in std::mem::take(values) {
                seen += 1;
                f(item)?;
            }
            next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
            last_ids = page.ids;
        }
        if let Some(expected) = expected
            && expected != seen
        {
            return Err(EntraError::Incomplete {
                what: what.to_owned(),
                detail: format!("Graph counted {expected} item(s) but the pages held {seen}"),
                ids: last_ids,
            });
        }
        Ok(())
    }

    /// Reads a delta round's pages up to its deltaLink.
    async fn delta_pages(
        &self,
        first: &str,
        resource: &str,
    ) -> Result<(Vec<Value>, String), EntraError> {
        let what = format!("the {resource} delta");
        let mut items = Vec::new();
        let mut url = first.to_owned();
        let mut links = LinkGuard::new(self.max_pages);
        loop {
            links.follow(&url, &what)?;
            let mut page = self.get(&url, &what, false).await?;
            let Some(values) = page.body.get_mut("value").and_then(Value::as_array_mut) else {
                return Err(EntraError::Incomplete {
                    what,
                    detail: "a page has no `value` list".into(),
                    ids: page.ids,
                });
            };
            items.append(values);
            if let Some(next) = page.body["@odata.nextLink"].as_str() {
                url = next.to_owned();
            } else if let Some(delta) = page.body["@odata.deltaLink"].as_str() {
                return Ok((items, delta.to_owned()));
            } else {
                return Err(EntraError::Incomplete {
                    what,
                    detail: "a page has neither a next link nor a delta link".into(),
                    ids: page.ids,
                });
            }
        }
    }

    /// One GET with a bearer token, retries for throttling, and one token renewal when Graph
    /// says the token is no longer valid.
    async fn get(&self, url: &str, what: &str, advanced: bool) -> Result<Page, EntraError> {
        // The bearer token goes only to the Graph host in the settings, whatever a link says.
        if !same_origin(url, &self.base) {
            return Err(EntraError::Incomplete {
                what: what.to_owned(),
                detail: format!(
                    "a link points away from the Graph host ({}); it was not followed",
                    strip_query(url)
                ),
                ids: GraphIds::default(),
            });
        }
        let mut renewed = false;
        loop {
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let token = self.tokens.token().await?;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let response = crate::http::send_with_retry(&self.policy, || {
                let mut request = self
                    .http
                    .get(url)
                    .bearer_auth(token.secret())
                    .header("client-request-id", &client_request_id);
                if advanced {
                    request = request.header("ConsistencyLevel", "eventual");
                }
                request
            })
            .await
            .map_err(|e| EntraError::Transport {
                url: strip_query(url),
                detail: e.to_string(),
            })?;
            let status = response.status();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let mut ids = GraphIds {
                request_id: header("request-id"),
                client_request_id: header("client-request-id").or(Some(client_request_id)),
            };
            if status.is_redirection() {
                return Err(EntraError::Incomplete {
                    what: what.to_owned(),
                    detail: format!(
                        "{} answered {} with a redirect to {}; adsync does not follow redirects",
                        strip_query(url),
                        status.as_u16(),
                        body::redirect_location(&response)
                    ),
                    ids,
                });
            }
            let bytes = if status.is_success() {
                body::read_capped(response, body::MAX_PAGE_BYTES)
                    .await
                    .map_err(|e| EntraError::Incomplete {
                        what: what.to_owned(),
                        detail: e.to_string(),
                        ids: ids.clone(),
                    })?
            } else {
                body::read_prefix(response, body::MAX_ERROR_BYTES).await
            };
            if status.is_success() {
                let body = serde_json::from_slice(&bytes).map_err(|e| EntraError::Incomplete {
                    what: what.to_owned(),
                    detail: format!("the response is not valid JSON ({e})"),
                    ids: ids.clone(),
                })?;
                return Ok(Page { body, ids });
            }
            let error = GraphErrorBody::parse(&bytes);
            if ids.request_id.is_none() {
                ids.request_id = error.request_id.clone();
                if error.client_request_id.is_some() {
                    ids.client_request_id = error.client_request_id.clone();
                }
            }
            if status == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(url = %strip_query(url), "Graph refused the token; renewing it");
                self.tokens.invalidate().await;
                renewed = true;
                continue;
            }
            return Err(self.graph_error(status, error, ids, url, what));
        }
    }

    fn graph_error(
        &self,
        status: StatusCode,
        error: GraphErrorBody,
        ids: GraphIds,
        url: &str,
        what: &str,
    ) -> EntraError {
        let code_is = |c: &str| error.code.eq_ignore_ascii_case(c);
        if status == StatusCode::GONE || code_is("syncStateNotFound") || code_is("resyncRequired") {
            return EntraError::ResyncRequired {
                what: what.to_owned(),
                detail: format!("{} {}", status.as_u16(), error.code),
            };
        }
        if status == StatusCode::FORBIDDEN {
            let path = url::Url::parse(url)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            let permission = if path.contains("/users") && !path.contains("/groups") {
                permissions::USER_READ_ALL
            } else {
                permissions::GROUP_MEMBER_READ_ALL
            };
            return EntraError::MissingPermission {
                what: what.to_owned(),
                permission: permission.to_owned(),
                consent_url: self.consent_url.clone(),
                ids,
            };
        }
        EntraError::Graph {
            what: what.to_owned(),
            status: status.as_u16(),
            code: if error.code.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                error.code
            },
            message: crate::secret::scrub::scrub(&error.message).into_owned(),
            ids,
        }
    }
}

fn parse_item<T: serde::de::DeserializeOwned>(item: Value, what: &str) -> Result<T, EntraError> {
    serde_json::from_value(item).map_err(|e| EntraError::Incomplete {
        what: what.to_owned(),
        detail: format!("an item has unexpected JSON: {e}"),
        ids: GraphIds::default(),
    })
}

fn removed_reason(item: &Value) -> Option<RemovedReason> {
    let removed = item.get("@removed")?;
    Some(match removed["reason"].as_str() {
        Some(r) if r.eq_ignore_ascii_case("deleted") => RemovedReason::Deleted,
        _ => RemovedReason::Changed,
    })
}

fn merge_group(into: &mut EntraGroup, from: EntraGroup) {
    if from.display_name.is_some() {
        into.display_name = from.display_name;
    }
    if from.created_date_time.is_some() {
        into.created_date_time = from.created_date_time;
    }
    if from.description.is_some() {
        into.description = from.description;
    }
    if from.security_enabled.is_some() {
        into.security_enabled = from.security_enabled;
    }
    if from.mail_enabled.is_some() {
        into.mail_enabled = from.mail_enabled;
    }
}

fn not_found_as_group(error: EntraError, id: &str) -> EntraError {
    match error {
        EntraError::Graph {
            status: 404, ids, ..
        } => EntraError::GroupNotFound {
            id: id.to_owned(),
            ids,
        },
        other => other,
    }
}

/// Percent-encodes one id for a path segment (a guest's UPN holds `#`), refusing an id that is
/// not plain (`..`, a slash, a control character) so that no id can steer a request elsewhere.
fn encode(id: &str, what: &str) -> Result<String, EntraError> {
    crate::http::path_segment(id, &['#']).map_err(|reason| EntraError::Incomplete {
        what: what.to_owned(),
        detail: format!("the id {id:?} is not a plain id ({reason}); it was not put in a URL"),
        ids: GraphIds::default(),
    })
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}
