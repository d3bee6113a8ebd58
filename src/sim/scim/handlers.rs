//! The HTTP side of the simulated application: one dispatcher for every `/scim/v2/...` request
//! (authentication, discovery endpoints, Users, Groups, `.search`), SCIM error bodies, ETags,
//! `attributes` / `excludedAttributes` and paging with the server's maximum page size.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::SimState;
use super::filter::{AttrPath, find_key, get_ci, parse_attr_path, parse_filter};
use super::schema::{
    ERROR_SCHEMA, LIST_SCHEMA, all_schemas, resource_type, schema_resource, service_provider_config,
};
use super::store::{Kind, ScimFailure};
use crate::sim::{Fault, PendingFaults};

const SCIM_JSON: &str = "application/scim+json";

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

fn error_response(failure: ScimFailure) -> Response {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": failure.status.to_string(),
        "detail": failure.detail,
    });
    if let Some(scim_type) = failure.scim_type {
        body["scimType"] = Value::String(scim_type.into());
    }
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, body);
    if failure.status == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"SCIM\""),
        );
    }
    response
}

fn resource_response(status: StatusCode, doc: Map<String, Value>) -> Response {
    let version = doc
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let location = doc
        .get("meta")
        .and_then(|m| m.get("location"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut response = json_response(status, Value::Object(doc));
    if let Some(version) = version.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::ETAG, version);
    }
    if status == StatusCode::CREATED
        && let Some(location) = location.and_then(|v| HeaderValue::from_str(&v).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn authorized(state: &SimState, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return credential.trim() == state.token;
    }
    if scheme.eq_ignore_ascii_case("basic")
        && let Some((user, password)) = &state.basic
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credential.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        return decoded.as_deref() == Some(&format!("{user}:{password}"));
    }
    false
}

/// Query options of a list or search.
#[derive(Default)]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded: Option<String>,
}

fn list_query_from_params(query: Option<&str>) -> ListQuery {
    let mut q = ListQuery::default();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.to_ascii_lowercase().as_str() {
            "filter" => q.filter = Some(v.into_owned()),
            "startindex" => q.start_index = v.trim().parse().ok(),
            "count" => q.count = v.trim().parse().ok(),
            "attributes" => q.attributes = Some(v.into_owned()),
            "excludedattributes" => q.excluded = Some(v.into_owned()),
            _ => {}
        }
    }
    q
}

fn list_query_from_body(body: &Value) -> ListQuery {
    let obj = body.as_object().cloned().unwrap_or_default();
    let joined = |key: &str| match get_ci(&obj, key) {
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    ListQuery {
        filter: get_ci(&obj, "filter")
            .and_then(Value::as_str)
            .map(str::to_owned),
        start_index: get_ci(&obj, "startIndex").and_then(Value::as_i64),
        count: get_ci(&obj, "count").and_then(Value::as_i64),
        attributes: joined("attributes"),
        excluded: joined("excludedAttributes"),
    }
}

fn parse_paths(list: &Option<String>) -> Result<Vec<AttrPath>, ScimFailure> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_attr_path(s).map_err(|e| ScimFailure::bad("invalidPath", e)))
        .collect()
}

/// Does the projection leave out a group's `members` (listed in `excludedAttributes`, or not
/// asked for in `attributes`)? Then they need not be rendered at all.
fn excludes_members(attributes: &[AttrPath], excluded: &[AttrPath]) -> bool {
    let is_members = |p: &AttrPath| p.uri.is_none() && p.attr.eq_ignore_ascii_case("members");
    if attributes.is_empty() {
        excluded.iter().any(|p| is_members(p) && p.sub.is_none())
    } else {
        !attributes.iter().any(is_members)
    }
}

/// Applies `attributes` (keep only these, plus `id` and `schemas`) or `excludedAttributes`.
fn project(
    mut doc: Map<String, Value>,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
) -> Map<String, Value> {
    if !attributes.is_empty() {
        let mut kept = Map::new();
        for key in ["id", "schemas"] {
            if let Some(v) = doc.get(key) {
                kept.insert(key.into(), v.clone());
            }
        }
        for path in attributes {
            copy_path(&doc, &mut kept, path);
        }
        return kept;
    }
    for path in excluded {
        let target = match &path.uri {
            Some(uri) => match find_key(&doc, uri).cloned() {
                Some(key) if path.attr.is_empty() => {
                    doc.remove(&key);
                    continue;
                }
                Some(key) => doc.get_mut(&key).and_then(Value::as_object_mut),
                None => None,
            },
            None => Some(&mut doc),
        };
        let Some(target) = target else { continue };
        if path.attr.eq_ignore_ascii_case("id") {
            continue;
        }
        let Some(key) = find_key(target, &path.attr).cloned() else {
            continue;
        };
        match &path.sub {
            None => {
                target.remove(&key);
            }
            Some(sub) => match target.get_mut(&key) {
                Some(Value::Object(o)) => {
                    if let Some(k) = find_key(o, sub).cloned() {
                        o.remove(&k);
                    }
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        if let Some(k) = find_key(item, sub).cloned() {
                            item.remove(&k);
                        }
                    }
                }
                _ => {}
            },
        }
    }
    doc
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &AttrPath) {
    let (source, dest) = match &path.uri {
        Some(uri) if super::schema::is_extension_urn(uri) => {
            let Some(key) = find_key(from, uri) else {
                return;
            };
            let Some(Value::Object(ext)) = from.get(key) else {
                return;
            };
            if path.attr.is_empty() {
                to.insert(key.clone(), Value::Object(ext.clone()));
                return;
            }
            let dest = to
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            (ext, dest.as_object_mut().expect("object"))
        }
        _ => (from, to),
    };
    let Some(key) = find_key(source, &path.attr) else {
        return;
    };
    let value = &source[key];
    match &path.sub {
        None => {
            dest.insert(key.clone(), value.clone());
        }
        Some(sub) => {
            let pick = |o: &Map<String, Value>| {
                let mut m = Map::new();
                if let Some(k) = find_key(o, sub) {
                    m.insert(k.clone(), o[k].clone());
                }
                m
            };
            let picked = match value {
                Value::Object(o) => {
                    let mut merged = dest
                        .get(key)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    merged.extend(pick(o));
                    Value::Object(merged)
                }
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .filter_map(Value::as_object)
                        .map(|o| Value::Object(pick(o)))
                        .collect(),
                ),
                other => other.clone(),
            };
            dest.insert(key.clone(), picked);
        }
    }
}

fn parse_body(body: &Bytes) -> Result<Value, ScimFailure> {
    if body.is_empty() {
        return Err(ScimFailure::bad("invalidSyntax", "the request has no body"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimFailure::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

fn parse_object(body: &Bytes) -> Result<Map<String, Value>, ScimFailure> {
    match parse_body(body)? {
        Value::Object(o) => Ok(o),
        _ => Err(ScimFailure::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        )),
    }
}

fn method_not_allowed() -> Response {
    error_response(ScimFailure::new(
        405,
        None,
        "this endpoint does not support that method",
    ))
}

/// Every request under the SCIM base comes here.
pub async fn dispatch(State(state): State<SimState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let pending = parts
        .extensions
        .get::<PendingFaults>()
        .cloned()
        .unwrap_or_default();
    let body = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return error_response(ScimFailure::new(413, Some("tooMany"), "body too large")),
    };
    if !authorized(&state, &parts.headers) {
        return error_response(ScimFailure::new(
            401,
            None,
            "Authorization failure: the bearer token is missing or not valid for this application",
        ));
    }
    let path = parts.uri.path();
    let rest = path
        .strip_prefix(super::BASE_PATH)
        .unwrap_or(path)
        .trim_matches('/');
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let base = state.base_url();
    let if_match = parts
        .headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok());
    let if_none_match = parts
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let query = parts.uri.query();
    let method = parts.method.clone();
    let result = route(
        &state,
        &method,
        &segments,
        query,
        &body,
        &base,
        if_match,
        if_none_match,
        &pending,
    );
    match result {
        Ok(response) => response,
        Err(failure) => error_response(failure),
    }
}

fn kind_of(segment: &str) -> Option<Kind> {
    if segment.eq_ignore_ascii_case("Users") {
        Some(Kind::User)
    } else if segment.eq_ignore_ascii_case("Groups") {
        Some(Kind::Group)
    } else {
        None
    }
}

#[allow(clippy::too_many_arguments)]
fn route(
    state: &SimState,
    method: &Method,
    segments: &[&str],
    query: Option<&str>,
    body: &Bytes,
    base: &str,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    pending: &PendingFaults,
) -> Result<Response, ScimFailure> {
    let first = segments.first().copied().unwrap_or_default();
    let lower = first.to_ascii_lowercase();
    match (lower.as_str(), segments.len()) {
        ("serviceproviderconfig", 1) => {
            if method != Method::GET {
                return Ok(method_not_allowed());
            }
            Ok(json_response(
                StatusCode::OK,
                service_provider_config(base, state.max_results, state.basic.is_some()),
            ))
        }
        ("resourcetypes", 1) | ("schemas", 1) => {
            if method != Method::GET {
                return Ok(method_not_allowed());
            }
            let resources: Vec<Value> = if lower == "schemas" {
                all_schemas(base)
            } else {
                ["User", "Group"]
                    .iter()
                    .filter_map(|id| resource_type(id, base))
                    .collect()
            };
            Ok(list_response(resources.len(), 1, resources))
        }
        ("resourcetypes", 2) | ("schemas", 2) => {
            if method != Method::GET {
                return Ok(method_not_allowed());
            }
            let found = if lower == "schemas" {
                schema_resource(segments[1], base)
            } else {
                resource_type(segments[1], base)
            };
            match found {
                Some(v) => Ok(json_response(StatusCode::OK, v)),
                None => Err(ScimFailure::new(
                    404,
                    None,
                    format!("{} not found", segments[1]),
                )),
            }
        }
        ("me", _) => Err(ScimFailure::new(
            501,
            None,
            "/Me is not supported by this application",
        )),
        ("bulk", _) => Err(ScimFailure::new(
            501,
            None,
            "/Bulk is not supported by this application",
        )),
        (".search", 1) if method == Method::POST => {
            let body = parse_body(body)?;
            let q = list_query_from_body(&body);
            search(state, &[Kind::User, Kind::Group], &q, base, pending)
        }
        _ => {
            let Some(kind) = kind_of(first) else {
                return Err(ScimFailure::new(
                    404,
                    None,
                    format!("no such endpoint: /{}", segments.join("/")),
                ));
            };
            match (segments.len(), segments.get(1).copied()) {
                (1, _) => match *method {
                    Method::GET => search(
                        state,
                        &[kind],
                        &list_query_from_params(query),
                        base,
                        pending,
                    ),
                    Method::POST => {
                        let doc = parse_object(body)?;
                        let mut store = state.store.lock().unwrap();
                        let id = store.create(kind, doc, None)?;
                        let q = list_query_from_params(query);
                        let doc = store.render(kind, &id, base).expect("just created");
                        Ok(resource_response(
                            StatusCode::CREATED,
                            project(
                                doc,
                                &parse_paths(&q.attributes)?,
                                &parse_paths(&q.excluded)?,
                            ),
                        ))
                    }
                    _ => Ok(method_not_allowed()),
                },
                (2, Some(".search")) if method == Method::POST => {
                    let body = parse_body(body)?;
                    search(state, &[kind], &list_query_from_body(&body), base, pending)
                }
                (2, Some(id)) => {
                    let q = list_query_from_params(query);
                    let (attributes, excluded) =
                        (parse_paths(&q.attributes)?, parse_paths(&q.excluded)?);
                    let mut store = state.store.lock().unwrap();
                    match *method {
                        Method::GET => {
                            let members = !excludes_members(&attributes, &excluded);
                            let doc = store
                                .render_with(kind, id, base, members)
                                .ok_or_else(|| ScimFailure::not_found(kind, id))?;
                            let version = store.version_of(kind, id).unwrap_or_default();
                            if if_none_match.is_some_and(|v| {
                                v.split(',').any(|e| {
                                    e.trim().trim_start_matches("W/")
                                        == version.trim_start_matches("W/")
                                })
                            }) {
                                let mut response = StatusCode::NOT_MODIFIED.into_response();
                                if let Ok(v) = HeaderValue::from_str(&version) {
                                    response.headers_mut().insert(header::ETAG, v);
                                }
                                return Ok(response);
                            }
                            Ok(resource_response(
                                StatusCode::OK,
                                project(doc, &attributes, &excluded),
                            ))
                        }
                        Method::PUT => {
                            store.replace(kind, id, parse_object(body)?, if_match)?;
                            let doc = store.render(kind, id, base).expect("exists");
                            Ok(resource_response(
                                StatusCode::OK,
                                project(doc, &attributes, &excluded),
                            ))
                        }
                        Method::PATCH => {
                            store.patch(kind, id, &parse_body(body)?, if_match)?;
                            let members = !excludes_members(&attributes, &excluded);
                            let doc = store.render_with(kind, id, base, members).expect("exists");
                            Ok(resource_response(
                                StatusCode::OK,
                                project(doc, &attributes, &excluded),
                            ))
                        }
                        Method::DELETE => {
                            store.delete(kind, id, if_match)?;
                            Ok(StatusCode::NO_CONTENT.into_response())
                        }
                        _ => Ok(method_not_allowed()),
                    }
                }
                _ => Err(ScimFailure::new(
                    404,
                    None,
                    format!("no such endpoint: /{}", segments.join("/")),
                )),
            }
        }
    }
}

fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    )
}

fn search(
    state: &SimState,
    kinds: &[Kind],
    q: &ListQuery,
    base: &str,
    pending: &PendingFaults,
) -> Result<Response, ScimFailure> {
    let filter = match q.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(text) => Some(parse_filter(text).map_err(|e| {
            ScimFailure::bad("invalidFilter", format!("cannot parse the filter: {e}"))
        })?),
        None => None,
    };
    let attributes = parse_paths(&q.attributes)?;
    let excluded = parse_paths(&q.excluded)?;
    let store = state.store.lock().unwrap();
    let start = q.start_index.unwrap_or(1).max(1) as usize;
    let count = q
        .count
        .unwrap_or(state.max_results as i64)
        .clamp(0, state.max_results as i64) as usize;
    let hidden = state.hidden.lock().unwrap().clone();
    let (total, page): (usize, Vec<(Kind, &str)>) = match (kinds, &filter) {
        // The common case, a plain listing, pages without looking at every resource.
        ([kind], None) if hidden.is_empty() => (
            store.len(*kind),
            store
                .page(*kind, start - 1, count)
                .into_iter()
                .map(|id| (*kind, id))
                .collect(),
        ),
        _ => {
            let mut ids = Vec::new();
            for kind in kinds {
                ids.extend(
                    store
                        .query(*kind, filter.as_ref(), base)
                        .into_iter()
                        .filter(|id| *kind != Kind::User || !hidden.contains(*id))
                        .map(|id| (*kind, id)),
                );
            }
            let total = ids.len();
            (total, ids.into_iter().skip(start - 1).take(count).collect())
        }
    };
    let mut resources: Vec<Value> = page
        .iter()
        .filter_map(|(kind, id)| store.render(*kind, id, base))
        .map(|doc| Value::Object(project(doc, &attributes, &excluded)))
        .collect();
    if pending.has(&Fault::CutPage) && !resources.is_empty() {
        // A faulty page: claims the full page in itemsPerPage and totalResults, sends half.
        let claimed = resources.len();
        resources.truncate(claimed / 2);
        return Ok(json_response(
            StatusCode::OK,
            json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": claimed,
                "Resources": resources,
            }),
        ));
    }
    Ok(list_response(total, start, resources))
}
