//! The simulated Graph v1.0 endpoints: users, groups, members, transitive members and delta
//! rounds, with `$select`, `$top`, `$search`, `$count`, a small `$filter`, absolute nextLinks on
//! the host the client called, and Graph's error envelope.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::register;
use super::token::{self, now_secs};
use super::{DeltaCursor, ObjectIndex, PendingRound, State, id_of};
use crate::sim::{Fault, PendingFaults};

/// The user properties Graph returns without `$select`.
const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

const READ_USERS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const READ_GROUPS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Graph's error envelope.
pub(super) fn graph_error(status: u16, code: &str, message: &str, headers: &HeaderMap) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let date = token::iso(now_secs()).trim_end_matches('Z').to_owned();
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "date": date, "request-id": request_id, "client-request-id": client_request_id}}});
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert("request-id", request_id.parse().unwrap());
    if let Ok(v) = client_request_id.parse() {
        h.insert("client-request-id", v);
    }
    if status == 401 {
        h.insert(
            "www-authenticate",
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".parse().unwrap(),
        );
    }
    response
}

fn ok_json(body: Value, headers: &HeaderMap) -> Response {
    let mut response = axum::Json(body).into_response();
    let request_id = uuid::Uuid::new_v4().to_string();
    let h = response.headers_mut();
    h.insert("request-id", request_id.parse().unwrap());
    let client = headers
        .get("client-request-id")
        .cloned()
        .unwrap_or_else(|| request_id.parse().unwrap());
    h.insert("client-request-id", client);
    h.insert(
        "content-type",
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
            .parse()
            .unwrap(),
    );
    h.insert("odata-version", "4.0".parse().unwrap());
    response
}

/// The parsed query string, with its raw pairs kept for nextLinks.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(uri: &Uri) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key) || k.eq_ignore_ascii_case(&key[1..]))
            .map(|(_, v)| v.as_str())
    }

    /// `$select`'s properties; `$expand=manager(...)` adds `manager`, which [`project`] writes
    /// as the manager's `{"id"}` (the fixture keeps a user's manager as its object id).
    fn select(&self) -> Option<Vec<String>> {
        let mut fields: Vec<String> = self
            .get("$select")
            .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect())?;
        if self
            .get("$expand")
            .is_some_and(|e| e.split(',').any(|x| x.trim().starts_with("manager")))
        {
            fields.push("manager".into());
        }
        Some(fields)
    }

    /// The same query with `$skiptoken` replaced.
    fn with_skiptoken(&self, token: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if !k.eq_ignore_ascii_case("$skiptoken") {
                out.append_pair(k, v);
            }
        }
        out.append_pair("$skiptoken", token);
        out.finish()
    }
}

/// Everything not matched elsewhere: the token endpoint and Graph.
pub(super) async fn handle(
    AxState(state): AxState<Arc<Mutex<State>>>,
    pending: Option<Extension<PendingFaults>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pending = pending.map(|Extension(p)| p).unwrap_or_default();
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let origin = format!("http://{host}");
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut state = state.lock().unwrap();
    register::record(&mut state, &body);
    register::tick(&mut state);
    match segs.as_slice() {
        [tenant, "oauth2", "v2.0", "authorize"] => {
            register::authorize(&mut state, tenant, &uri, &headers)
        }
        [tenant, "oauth2", "v2.0", "devicecode"] => {
            register::devicecode(&mut state, tenant, &headers, &body)
        }
        [tenant, "oauth2", "v2.0", "token"] if register::is_delegated(&body) => {
            register::token(&mut state, tenant, &headers, &body)
        }
        ["v1.0", rest @ ..] if register::owns(rest) => {
            register::graph(&mut state, &method, rest, &uri, &headers, &body, &origin)
        }
        [tenant, "oauth2", "v2.0", "token"] => token::token(
            &mut state,
            tenant,
            method.as_str(),
            &headers,
            &body,
            &origin,
        ),
        ["v1.0", rest @ ..] => {
            if method != Method::GET {
                return graph_error(
                    405,
                    "Request_BadRequest",
                    "Only GET is simulated.",
                    &headers,
                );
            }
            graph(
                &mut state,
                rest,
                &Query::parse(&uri),
                &headers,
                &origin,
                &pending,
            )
        }
        _ => graph_error(
            404,
            "BadRequest",
            &format!("Resource not found for the segment '{}'.", uri.path()),
            &headers,
        ),
    }
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Checks the bearer token; returns its roles.
#[allow(clippy::result_large_err)] // an early HTTP answer, built once per request
fn authorize(state: &State, headers: &HeaderMap) -> Result<Vec<String>, Response> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if value.is_empty() {
        return Err(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.",
            headers,
        ));
    }
    let Some(issued) = state.issued.get(value) else {
        let message = if value.split('.').count() == 3 {
            "Access token validation failure. Invalid audience."
        } else {
            "CompactToken parsing failed with error code: 80049217"
        };
        return Err(graph_error(
            401,
            "InvalidAuthenticationToken",
            message,
            headers,
        ));
    };
    if issued.expires <= now_secs() {
        return Err(graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
            headers,
        ));
    }
    Ok(issued.roles.clone())
}

#[allow(clippy::result_large_err)]
fn require(roles: &[String], any_of: &[&str], headers: &HeaderMap) -> Result<(), Response> {
    if roles
        .iter()
        .any(|r| any_of.iter().any(|a| a.eq_ignore_ascii_case(r)))
    {
        Ok(())
    } else {
        Err(graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            headers,
        ))
    }
}

fn graph(
    state: &mut State,
    path: &[&str],
    query: &Query,
    headers: &HeaderMap,
    origin: &str,
    pending: &PendingFaults,
) -> Response {
    let roles = match authorize(state, headers) {
        Ok(roles) => roles,
        Err(response) => return response,
    };
    let need = match path.first() {
        Some(&"users") => READ_USERS,
        _ => READ_GROUPS,
    };
    if let Err(response) = require(&roles, need, headers) {
        return response;
    }
    let consistency = headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    let ctx = ListCtx {
        query,
        headers,
        origin,
        pending,
        consistency,
    };
    match path {
        ["users"] => {
            let items: Vec<&Map<String, Value>> = state.users.iter().collect();
            list(&ctx, "/v1.0/users", "users", items, Kind::User)
        }
        ["users", "delta" | "microsoft.graph.delta"] => delta(state, &ctx, "users"),
        ["users", id] => match state.users.iter().find(|u| matches_user(u, id)) {
            Some(user) => {
                let mut body = project(user, query.select().as_deref(), Kind::User);
                body.insert(
                    "@odata.context".into(),
                    Value::from(format!("{origin}/v1.0/$metadata#users/$entity")),
                );
                ok_json(Value::Object(body), headers)
            }
            None => not_found(id, headers),
        },
        ["groups"] => {
            let items: Vec<&Map<String, Value>> = state.groups.iter().collect();
            list(&ctx, "/v1.0/groups", "groups", items, Kind::Group)
        }
        ["groups", "delta" | "microsoft.graph.delta"] => delta(state, &ctx, "groups"),
        ["groups", id] => match state
            .groups
            .iter()
            .find(|g| id_of(g).eq_ignore_ascii_case(id))
        {
            Some(group) => {
                let mut body = project(group, query.select().as_deref(), Kind::Group);
                body.insert(
                    "@odata.context".into(),
                    Value::from(format!("{origin}/v1.0/$metadata#groups/$entity")),
                );
                ok_json(Value::Object(body), headers)
            }
            None => not_found(id, headers),
        },
        [
            "groups",
            id,
            relation @ ("members" | "transitiveMembers"),
            cast @ ..,
        ] => {
            let index = state.index();
            let Some(group_id) = index
                .get(id)
                .filter(|(_, kind)| *kind == Some("group"))
                .map(|(g, _)| id_of(g))
            else {
                return not_found(id, headers);
            };
            let cast = match cast {
                [] => None,
                [c] => Some(c.trim_start_matches("microsoft.graph.")),
                _ => {
                    return graph_error(400, "Request_BadRequest", "Unsupported segment.", headers);
                }
            };
            if let Some(c) = cast
                && !["user", "group", "device", "servicePrincipal", "orgContact"].contains(&c)
            {
                return graph_error(
                    400,
                    "Request_UnsupportedQuery",
                    &format!("Unsupported type cast '{c}' for the members of a group."),
                    headers,
                );
            }
            let transitive = *relation == "transitiveMembers";
            let mut members = members_of(&index, state, &group_id, transitive);
            if let Some(c) = cast {
                let wanted = format!("#microsoft.graph.{c}");
                members.retain(|(_, kind)| *kind == wanted);
            }
            // Only the page served is copied out of the directory.
            let items: Vec<Member<'_>> = members
                .into_iter()
                .map(|(id, _)| Member {
                    id,
                    index: &index,
                    keep_type: cast.is_none(),
                })
                .collect();
            let kind = if cast == Some("user") {
                Kind::User
            } else {
                Kind::Directory
            };
            let path = format!(
                "/v1.0/groups/{group_id}/{relation}{}",
                cast.map(|c| format!("/microsoft.graph.{c}"))
                    .unwrap_or_default()
            );
            let context = if cast == Some("user") {
                "users"
            } else {
                "directoryObjects"
            };
            list(&ctx, &path, context, items, kind)
        }
        _ => graph_error(
            400,
            "Request_BadRequest",
            &format!("Unsupported resource path '/v1.0/{}'.", path.join("/")),
            headers,
        ),
    }
}

fn matches_user(user: &Map<String, Value>, id: &str) -> bool {
    id_of(user).eq_ignore_ascii_case(id)
        || user
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .is_some_and(|upn| upn.eq_ignore_ascii_case(id))
}

fn not_found(id: &str, headers: &HeaderMap) -> Response {
    if uuid::Uuid::parse_str(id).is_err() && !id.contains('@') {
        return graph_error(
            400,
            "Request_BadRequest",
            &format!("Invalid object identifier '{id}'."),
            headers,
        );
    }
    graph_error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
        headers,
    )
}

/// Members of a group: direct (service principals left out, the v1.0 quirk) or transitive
/// (nested groups listed and expanded, each object once), as (id, `@odata.type`).
fn members_of(
    index: &ObjectIndex<'_>,
    state: &State,
    group_id: &str,
    transitive: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = vec![group_id.to_owned()];
    let mut visited = HashSet::new();
    while let Some(group) = queue.pop() {
        if !visited.insert(group.clone()) {
            continue;
        }
        for member in state.members.get(&group).into_iter().flatten() {
            let Some(kind) = index.odata_type(member) else {
                continue;
            };
            if !transitive && kind == "#microsoft.graph.servicePrincipal" {
                continue;
            }
            if transitive && kind == "#microsoft.graph.group" {
                queue.push(member.clone());
            }
            if seen.insert(member.clone()) {
                out.push((member.clone(), kind));
            }
        }
        if !transitive {
            break;
        }
    }
    out
}

/// One item of a list: borrowed from the directory, or (a member with its type) made when it is
/// needed, so that a page costs what it serves.
trait ListItem {
    fn object(&self) -> Cow<'_, Map<String, Value>>;
}

impl ListItem for &Map<String, Value> {
    fn object(&self) -> Cow<'_, Map<String, Value>> {
        Cow::Borrowed(self)
    }
}

/// A group member, by id; with its `@odata.type` unless the request cast to one type.
struct Member<'a> {
    id: String,
    index: &'a ObjectIndex<'a>,
    keep_type: bool,
}

impl ListItem for Member<'_> {
    fn object(&self) -> Cow<'_, Map<String, Value>> {
        let mut object = self.index.typed(&self.id).unwrap_or_default();
        if !self.keep_type {
            object.remove("@odata.type");
        }
        Cow::Owned(object)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
    Directory,
}

/// `$select` projection: only the selected properties plus `id` (null when unset); without
/// `$select` users get Graph's default set, other objects everything.
fn project(
    object: &Map<String, Value>,
    select: Option<&[String]>,
    kind: Kind,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(t) = object.get("@odata.type") {
        out.insert("@odata.type".into(), t.clone());
    }
    let is_user = kind == Kind::User
        || object.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.user");
    match select {
        Some(fields) => {
            out.insert(
                "id".into(),
                object.get("id").cloned().unwrap_or(Value::Null),
            );
            for field in fields {
                if field == "members" {
                    continue;
                }
                if field == "manager" {
                    // An expanded navigation property: absent when the user has no manager.
                    if let Some(Value::String(id)) = object.get("manager") {
                        out.insert(
                            "manager".into(),
                            json!({"@odata.type": "#microsoft.graph.user", "id": id}),
                        );
                    }
                    continue;
                }
                let value = object.get(field).cloned().unwrap_or_else(|| {
                    if field == "businessPhones" {
                        json!([])
                    } else {
                        Value::Null
                    }
                });
                out.insert(field.clone(), value);
            }
        }
        None if is_user => {
            for field in USER_DEFAULT {
                let value = object.get(*field).cloned().unwrap_or_else(|| {
                    if *field == "businessPhones" {
                        json!([])
                    } else {
                        Value::Null
                    }
                });
                out.insert((*field).to_owned(), value);
            }
        }
        None => {
            for (k, v) in object {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

struct ListCtx<'a> {
    query: &'a Query,
    headers: &'a HeaderMap,
    origin: &'a str,
    pending: &'a PendingFaults,
    consistency: bool,
}

/// The words of a display name: split on spaces, symbols, digits and lower-to-upper changes.
fn tokens(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        let boundary = !c.is_alphanumeric() || (c.is_uppercase() && prev_lower);
        if boundary && !current.is_empty() {
            words.push(current.to_lowercase());
            current.clear();
        }
        if c.is_alphanumeric() {
            current.push(c);
        }
        prev_lower = c.is_lowercase();
    }
    if !current.is_empty() {
        words.push(current.to_lowercase());
    }
    words
}

/// Parses `"prop:text" [AND|OR "prop:text"]…`; `None` when the syntax is wrong.
fn parse_search(text: &str) -> Option<(Vec<(String, String)>, bool)> {
    let mut clauses = Vec::new();
    let mut any = false;
    let mut rest = text.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = inner.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end?;
        let (prop, term) = value.split_once(':')?;
        clauses.push((prop.to_owned(), term.to_lowercase()));
        rest = inner[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix("OR ") {
            any = true;
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix("AND ") {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    (!clauses.is_empty()).then_some((clauses, any))
}

fn search_matches(object: &Map<String, Value>, clauses: &[(String, String)], any: bool) -> bool {
    let hit = |(prop, term): &(String, String)| {
        let value = object.get(prop).and_then(Value::as_str).unwrap_or_default();
        if prop == "displayName" || prop == "description" {
            let words = tokens(value);
            let needle = tokens(term);
            !needle.is_empty()
                && needle
                    .iter()
                    .all(|n| words.iter().any(|w| w.starts_with(n.as_str())))
        } else {
            value.to_lowercase().starts_with(term.as_str())
        }
    };
    if any {
        clauses.iter().any(hit)
    } else {
        clauses.iter().all(hit)
    }
}

/// A small `$filter`: `startswith(prop,'x')`, `prop eq 'x'`, `prop eq true|false`.
fn filter_matches(object: &Map<String, Value>, filter: &str) -> Option<bool> {
    let f = filter.trim();
    if let Some(args) = f
        .strip_prefix("startswith(")
        .or_else(|| f.strip_prefix("startsWith("))
        .and_then(|r| r.strip_suffix(')'))
    {
        let (prop, lit) = args.split_once(',')?;
        let lit = lit
            .trim()
            .strip_prefix('\'')?
            .strip_suffix('\'')?
            .replace("''", "'");
        let value = object
            .get(prop.trim())
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Some(value.to_lowercase().starts_with(&lit.to_lowercase()));
    }
    let (prop, lit) = f.split_once(" eq ")?;
    let value = object.get(prop.trim()).cloned().unwrap_or(Value::Null);
    let lit = lit.trim();
    Some(match lit {
        "true" => value == Value::Bool(true),
        "false" => value == Value::Bool(false),
        "null" => value.is_null(),
        _ => {
            let lit = lit
                .strip_prefix('\'')?
                .strip_suffix('\'')?
                .replace("''", "'");
            value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(&lit))
        }
    })
}

fn list<T: ListItem>(
    ctx: &ListCtx<'_>,
    path: &str,
    context: &str,
    mut items: Vec<T>,
    kind: Kind,
) -> Response {
    let q = ctx.query;
    let top = match q.get("$top") {
        None => 100,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (1..=999).contains(&n) => n as usize,
            _ => {
                return graph_error(
                    400,
                    "Request_UnsupportedQuery",
                    &format!(
                        "Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive."
                    ),
                    ctx.headers,
                );
            }
        },
    };
    if let Some(search) = q.get("$search") {
        if !ctx.consistency {
            return graph_error(
                400,
                "Request_UnsupportedQuery",
                "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                ctx.headers,
            );
        }
        let Some((clauses, any)) = parse_search(search) else {
            return graph_error(
                400,
                "Request_UnsupportedQuery",
                &format!(
                    "Syntax error: the $search value {search} is not valid. Clauses take the form \"property:text\"."
                ),
                ctx.headers,
            );
        };
        items.retain(|o| search_matches(&o.object(), &clauses, any));
    }
    if let Some(filter) = q.get("$filter") {
        let mut keep = Vec::new();
        for item in items {
            match filter_matches(&item.object(), filter) {
                Some(true) => keep.push(item),
                Some(false) => {}
                None => {
                    return graph_error(
                        400,
                        "Request_UnsupportedQuery",
                        &format!(
                            "Unsupported or invalid query filter clause specified: '{filter}'."
                        ),
                        ctx.headers,
                    );
                }
            }
        }
        items = keep;
    }
    let offset = match q.get("$skiptoken") {
        None => 0,
        Some(token) => match decode_skiptoken(token) {
            Some(offset) => offset,
            None => {
                return graph_error(
                    400,
                    "Request_BadRequest",
                    "Invalid skip token.",
                    ctx.headers,
                );
            }
        },
    };
    let total = items.len();
    let end = (offset + top).min(total);
    let select = q.select();
    let mut page: Vec<Value> = items
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|o| Value::Object(project(&o.object(), select.as_deref(), kind)))
        .collect();
    let mut next = (end < total).then(|| {
        format!(
            "{}{path}?{}",
            ctx.origin,
            q.with_skiptoken(&encode_skiptoken(end))
        )
    });
    if ctx.pending.has(&Fault::CutPage) {
        page.truncate(page.len() / 2);
        next = None;
    }
    drop_properties(ctx, &mut page);
    let mut body = Map::new();
    let selected = select
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default();
    body.insert(
        "@odata.context".into(),
        Value::from(format!("{}/v1.0/$metadata#{context}{selected}", ctx.origin)),
    );
    let counting = q
        .get("$count")
        .is_some_and(|c| c.eq_ignore_ascii_case("true"));
    // `$count=true` without the header is silently ignored; the count is on the first page only.
    if counting && ctx.consistency && offset == 0 {
        body.insert("@odata.count".into(), Value::from(total));
    }
    if let Some(next) = next {
        body.insert("@odata.nextLink".into(), Value::from(next));
    }
    body.insert("value".into(), Value::Array(page));
    ok_json(Value::Object(body), ctx.headers)
}

/// [`Fault::DropProperty`]: the page's items leave out the property (a list page, or a delta
/// page, where Graph omits never-set properties).
fn drop_properties(ctx: &ListCtx<'_>, page: &mut [Value]) {
    for fault in &ctx.pending.0 {
        if let Fault::DropProperty(name) = fault {
            for item in page.iter_mut() {
                if let Some(obj) = item.as_object_mut() {
                    obj.remove(name);
                }
            }
        }
    }
}

fn encode_skiptoken(offset: usize) -> String {
    format!(
        "RFNwdAIAAQ{}",
        URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
    )
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD
        .decode(token.strip_prefix("RFNwdAIAAQ")?)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("o:")?
        .parse()
        .ok()
}

fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
        + &URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// A delta request: a new round, the next page of a round, or a round from a delta token.
fn delta(state: &mut State, ctx: &ListCtx<'_>, resource: &'static str) -> Response {
    let q = ctx.query;
    if let Some(skip) = q.get("$skiptoken") {
        let Some(round) = state.rounds.remove(skip) else {
            return graph_error(
                400,
                "resyncRequired",
                "The skip token is not valid any more; start the sync again from the beginning.",
                ctx.headers,
            );
        };
        return serve_round(state, ctx, round);
    }
    let mut select = q.select();
    let since = if let Some(token) = q.get("$deltatoken") {
        if token == "latest" {
            Some(state.seq)
        } else if ctx.pending.has(&Fault::ExpireDelta) {
            let mut response = graph_error(
                410,
                "syncStateNotFound",
                "The sync state generation is not found; the delta token has expired. Restart the sync without a token.",
                ctx.headers,
            );
            if let Ok(location) = format!("{}/v1.0/{resource}/delta", ctx.origin).parse() {
                response.headers_mut().insert("location", location);
            }
            state.delta_tokens.remove(token);
            return response;
        } else {
            match state.delta_tokens.get(token) {
                Some(cursor) if cursor.resource == resource => {
                    // A `$select` on a deltaLink changes the tracked set; else the token's own.
                    if select.is_none() {
                        select = cursor.select.clone();
                    }
                    Some(cursor.seq)
                }
                _ => {
                    return graph_error(
                        400,
                        "resyncRequired",
                        "The delta token is no longer valid, and the app must reset the sync state.",
                        ctx.headers,
                    );
                }
            }
        }
    } else {
        if q.get("$top").is_some() || q.get("$orderby").is_some() {
            return graph_error(
                400,
                "Request_UnsupportedQuery",
                "$top and $orderby are not supported with delta queries.",
                ctx.headers,
            );
        }
        None
    };
    let items = if q.get("$deltatoken") == Some("latest") {
        Vec::new()
    } else if resource == "users" {
        users_changes(state, since, select.as_deref())
    } else {
        groups_changes(state, since, select.as_deref())
    };
    let round = PendingRound {
        resource,
        items,
        end_seq: state.seq,
        select,
    };
    serve_round(state, ctx, round)
}

fn serve_round(state: &mut State, ctx: &ListCtx<'_>, mut round: PendingRound) -> Response {
    let resource = round.resource;
    let size = state.delta_page_size;
    let rest = if round.items.len() > size {
        round.items.split_off(size)
    } else {
        Vec::new()
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::from(format!("{}/v1.0/$metadata#{resource}", ctx.origin)),
    );
    let mut page = std::mem::take(&mut round.items);
    drop_properties(ctx, &mut page);
    if ctx.pending.has(&Fault::CutPage) {
        page.truncate(page.len() / 2);
        body.insert("value".into(), Value::Array(page));
        return ok_json(Value::Object(body), ctx.headers);
    }
    if rest.is_empty() {
        let token = new_token();
        state.delta_tokens.insert(
            token.clone(),
            DeltaCursor {
                resource,
                seq: round.end_seq,
                select: round.select.clone(),
            },
        );
        body.insert(
            "@odata.deltaLink".into(),
            Value::from(format!(
                "{}/v1.0/{resource}/delta?$deltatoken={token}",
                ctx.origin
            )),
        );
    } else {
        let token = new_token();
        state.rounds.insert(
            token.clone(),
            PendingRound {
                resource,
                items: rest,
                end_seq: round.end_seq,
                select: round.select.clone(),
            },
        );
        body.insert(
            "@odata.nextLink".into(),
            Value::from(format!(
                "{}/v1.0/{resource}/delta?$skiptoken={token}",
                ctx.origin
            )),
        );
    }
    body.insert("value".into(), Value::Array(page));
    ok_json(Value::Object(body), ctx.headers)
}

fn users_changes(state: &State, since: Option<u64>, select: Option<&[String]>) -> Vec<Value> {
    let after = |seq: u64| since.is_none_or(|s| seq > s);
    let mut items: Vec<Value> = state
        .users
        .iter()
        .filter(|u| since.is_none() || state.user_changed.get(&id_of(u)).is_some_and(|s| after(*s)))
        .map(|u| Value::Object(project(u, select, Kind::User)))
        .collect();
    if let Some(since) = since {
        items.extend(removed_since(&state.user_removed, since));
    }
    items
}

fn groups_changes(state: &State, since: Option<u64>, select: Option<&[String]>) -> Vec<Value> {
    let after = |seq: u64| since.is_none_or(|s| seq > s);
    let with_members = select.is_none_or(|s| s.iter().any(|f| f == "members"));
    // Member changes since the cursor, collapsed to the current state of each (group, member).
    let mut touched: HashMap<String, Vec<String>> = HashMap::new();
    if since.is_some() {
        for (seq, group, member) in &state.member_events {
            if after(*seq) {
                let list = touched.entry(group.clone()).or_default();
                if !list.contains(member) {
                    list.push(member.clone());
                }
            }
        }
    }
    let index = state.index();
    let mut items = Vec::new();
    // Later parts of a large group go to the end of the round, as Graph spreads them over pages.
    let mut tail = Vec::new();
    for group in &state.groups {
        let id = id_of(group);
        let changed = state.group_changed.get(&id).is_some_and(|s| after(*s));
        let member_ids: Vec<String> = match since {
            None => state.members.get(&id).cloned().unwrap_or_default(),
            Some(_) => touched.remove(&id).unwrap_or_default(),
        };
        if since.is_some() && !changed && member_ids.is_empty() {
            continue;
        }
        let current: HashSet<&String> = state.members.get(&id).into_iter().flatten().collect();
        let entries: Vec<Value> = member_ids
            .iter()
            .map(|m| {
                let kind = index
                    .odata_type(m)
                    .unwrap_or_else(|| "#microsoft.graph.user".into());
                if current.contains(m) {
                    json!({"@odata.type": kind, "id": m})
                } else {
                    json!({"@odata.type": kind, "id": m, "@removed": {"reason": "deleted"}})
                }
            })
            .collect();
        let base = project(group, select, Kind::Group);
        if !with_members || entries.is_empty() {
            items.push(Value::Object(base));
            continue;
        }
        for (n, chunk) in entries.chunks(state.delta_members_per_entry).enumerate() {
            let mut entry = base.clone();
            entry.insert("members@delta".into(), Value::Array(chunk.to_vec()));
            if n == 0 {
                items.push(Value::Object(entry));
            } else {
                tail.push(Value::Object(entry));
            }
        }
    }
    items.extend(tail);
    if let Some(since) = since {
        items.extend(removed_since(&state.group_removed, since));
    }
    items
}

/// `@removed` entries for the objects removed after `since`, oldest first.
fn removed_since(gone: &HashMap<String, (u64, super::Gone)>, since: u64) -> Vec<Value> {
    let mut gone: Vec<_> = gone.iter().filter(|(_, (seq, _))| *seq > since).collect();
    gone.sort_by_key(|(_, (seq, _))| *seq);
    gone.into_iter()
        .map(|(id, (_, how))| json!({"id": id, "@removed": {"reason": how.reason()}}))
        .collect()
}
