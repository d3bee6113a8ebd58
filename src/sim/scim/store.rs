//! The simulated application's data: users and groups as JSON documents, kept in creation order,
//! with the rules a real application enforces: unique userNames, required attributes, members that
//! exist, a user's `groups` always in step with the groups' `members`, and a version (ETag) bumped
//! on every change. PATCH follows RFC 7644 §3.5.2.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::filter::{Filter, PatchPath, find_key, get_ci, parse_attr_path, parse_patch_path};
use super::schema::{
    ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, canonical_name, is_complex, is_extension_urn,
    is_multi_valued,
};

/// Users or groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn schema(self) -> &'static str {
        match self {
            Kind::User => USER_SCHEMA,
            Kind::Group => GROUP_SCHEMA,
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
}

/// A SCIM error the handlers turn into a response.
#[derive(Clone, Debug, PartialEq)]
pub struct ScimFailure {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimFailure {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn not_found(kind: Kind, id: &str) -> Self {
        Self::new(404, None, format!("{} {id} not found", kind.name()))
    }
}

#[derive(Debug, Default)]
struct Table {
    rows: BTreeMap<u64, Map<String, Value>>,
    by_id: HashMap<String, u64>,
    next: u64,
}

impl Table {
    fn get(&self, id: &str) -> Option<&Map<String, Value>> {
        self.by_id.get(id).and_then(|seq| self.rows.get(seq))
    }
    fn insert(&mut self, id: String, doc: Map<String, Value>) {
        self.next += 1;
        self.by_id.insert(id, self.next);
        self.rows.insert(self.next, doc);
    }
    fn replace(&mut self, id: &str, doc: Map<String, Value>) {
        if let Some(seq) = self.by_id.get(id) {
            self.rows.insert(*seq, doc);
        }
    }
    fn remove(&mut self, id: &str) -> Option<Map<String, Value>> {
        let seq = self.by_id.remove(id)?;
        self.rows.remove(&seq)
    }
}

/// Users and groups of one simulated application.
#[derive(Debug, Default)]
pub struct Store {
    users: Table,
    groups: Table,
    /// Lower-cased userName → user id (the latest holder, when names are loose).
    user_names: HashMap<String, String>,
    /// userNames need not be unique (see [`super::Seed::loose_user_names`]).
    loose_user_names: bool,
    /// PATCH paths with a value filter are refused (see [`super::Seed::no_patch_filters`]).
    no_patch_filters: bool,
    /// User id → ids of the groups it is a direct member of.
    memberships: HashMap<String, BTreeSet<String>>,
    /// Group id → its member ids as last indexed.
    group_members: HashMap<String, Vec<String>>,
    version: u64,
}

fn now_rfc3339() -> String {
    crate::time::format_time_millis(crate::state::now_ms())
}

/// Puts known attributes under their canonical names, turns `"true"`/`"false"` strings into
/// booleans where the schema says boolean, and drops what a client may not write.
fn normalize(kind: Kind, doc: &mut Map<String, Value>) {
    let schema = kind.schema();
    let keys: Vec<String> = doc.keys().cloned().collect();
    for key in keys {
        let canonical: Option<String> = if is_extension_urn(&key) {
            Some(ENTERPRISE_SCHEMA.to_owned())
        } else if key.eq_ignore_ascii_case("schemas") {
            Some("schemas".into())
        } else if key.eq_ignore_ascii_case("externalId") {
            Some("externalId".into())
        } else {
            canonical_name(schema, &key, None).map(str::to_owned)
        };
        if let Some(canonical) = canonical
            && canonical != key
        {
            let value = doc.remove(&key).unwrap_or(Value::Null);
            doc.insert(canonical, value);
        }
    }
    for (key, value) in doc.iter_mut() {
        let owner = if key == ENTERPRISE_SCHEMA {
            ENTERPRISE_SCHEMA
        } else {
            schema
        };
        if key == ENTERPRISE_SCHEMA {
            if let Value::Object(ext) = value {
                let ext_keys: Vec<String> = ext.keys().cloned().collect();
                for k in ext_keys {
                    if let Some(c) = canonical_name(ENTERPRISE_SCHEMA, &k, None)
                        && c != k
                    {
                        let v = ext.remove(&k).unwrap_or(Value::Null);
                        ext.insert(c.into(), v);
                    }
                }
            }
            continue;
        }
        if key == "active"
            && let Value::String(s) = value
        {
            if s.eq_ignore_ascii_case("true") {
                *value = Value::Bool(true);
            } else if s.eq_ignore_ascii_case("false") {
                *value = Value::Bool(false);
            }
        }
        let items: Vec<&mut Value> = match value {
            Value::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        for item in items {
            if let Value::Object(o) = item {
                let sub_keys: Vec<String> = o.keys().cloned().collect();
                for k in sub_keys {
                    if let Some(c) = canonical_name(owner, key, Some(&k))
                        && c != k
                    {
                        let v = o.remove(&k).unwrap_or(Value::Null);
                        o.insert(c.into(), v);
                    }
                }
                if let Some(Value::String(s)) = o.get("primary") {
                    let b = s.eq_ignore_ascii_case("true");
                    o.insert("primary".into(), Value::Bool(b));
                }
            }
        }
    }
    // Null means unassigned (RFC 7643 §2.5).
    doc.retain(|_, v| !v.is_null());
    for key in ["id", "meta", "groups"] {
        doc.remove(key);
    }
    let mut schemas = vec![Value::String(schema.into())];
    if doc.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(Value::String(ENTERPRISE_SCHEMA.into()));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
}

impl Store {
    fn table(&self, kind: Kind) -> &Table {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    fn table_mut(&mut self, kind: Kind) -> &mut Table {
        match kind {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }

    fn next_version(&mut self) -> String {
        self.version += 1;
        format!("W/\"{}\"", self.version)
    }

    /// The stored document (without computed attributes).
    pub fn raw(&self, kind: Kind, id: &str) -> Option<&Map<String, Value>> {
        self.table(kind).get(id)
    }

    /// The version (ETag) of a resource.
    pub fn version_of(&self, kind: Kind, id: &str) -> Option<String> {
        self.raw(kind, id)
            .and_then(|d| d.get("meta"))
            .and_then(|m| m.get("version"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The resource as a client sees it: computed `groups` and member `display`, `meta.location`,
    /// no password.
    pub fn render(&self, kind: Kind, id: &str, base: &str) -> Option<Map<String, Value>> {
        self.render_with(kind, id, base, true)
    }

    /// [`Store::render`], leaving a group's `members` out when `members` is false (what a client
    /// that excludes them gets, without copying and resolving a large member list first).
    pub fn render_with(
        &self,
        kind: Kind,
        id: &str,
        base: &str,
        members: bool,
    ) -> Option<Map<String, Value>> {
        let raw = self.raw(kind, id)?;
        let mut doc = if members || kind != Kind::Group {
            raw.clone()
        } else {
            raw.iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("members"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        doc.remove("password");
        if let Some(Value::Object(meta)) = doc.get_mut("meta") {
            meta.insert(
                "location".into(),
                Value::String(format!("{base}/{}/{id}", kind.endpoint())),
            );
        }
        match kind {
            Kind::User => {
                let groups: Vec<Value> = self
                    .memberships
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter_map(|gid| {
                        let group = self.groups.get(gid)?;
                        Some(json!({
                            "value": gid,
                            "$ref": format!("{base}/Groups/{gid}"),
                            "display": group.get("displayName").cloned().unwrap_or(Value::Null),
                            "type": "direct",
                        }))
                    })
                    .collect();
                if !groups.is_empty() {
                    doc.insert("groups".into(), Value::Array(groups));
                }
            }
            Kind::Group => {
                if let Some(Value::Array(members)) = doc.get_mut("members") {
                    for member in members.iter_mut() {
                        let Some(m) = member.as_object_mut() else {
                            continue;
                        };
                        let Some(value) = m.get("value").and_then(Value::as_str).map(str::to_owned)
                        else {
                            continue;
                        };
                        let (kind, display) = if let Some(user) = self.users.get(&value) {
                            let display = user
                                .get("displayName")
                                .or_else(|| user.get("userName"))
                                .cloned();
                            ("User", display)
                        } else {
                            let display = self
                                .groups
                                .get(&value)
                                .and_then(|g| g.get("displayName"))
                                .cloned();
                            ("Group", display)
                        };
                        m.insert("type".into(), Value::String(kind.into()));
                        m.insert(
                            "$ref".into(),
                            Value::String(format!("{base}/{kind}s/{value}")),
                        );
                        if let Some(display) = display
                            && !m.contains_key("display")
                        {
                            m.insert("display".into(), display);
                        }
                    }
                }
            }
        }
        Some(doc)
    }

    /// Refuses PATCH paths with a value filter (`emails[type eq "work"].value`) with 400
    /// `invalidPath`, as applications with a simpler PATCH do; or takes them.
    pub fn set_no_patch_filters(&mut self, refuse: bool) {
        self.no_patch_filters = refuse;
    }

    /// Lets userNames repeat (a loose application) or not.
    pub fn set_loose_user_names(&mut self, loose: bool) {
        self.loose_user_names = loose;
    }

    /// Ids of every resource of `kind`, in creation order, matching `filter` (all without one).
    pub fn query<'a>(&'a self, kind: Kind, filter: Option<&Filter>, base: &str) -> Vec<&'a str> {
        let table = self.table(kind);
        // With loose names several users may hold one: the index knows only one, so scan.
        if kind == Kind::User
            && !self.loose_user_names
            && let Some(name) = filter.and_then(Filter::user_name_eq)
        {
            return self
                .user_names
                .get(&name.to_lowercase())
                .map(String::as_str)
                .into_iter()
                .collect();
        }
        // `groups` is computed, not stored: filters on it must see the rendered user.
        let needs_render = kind == Kind::User && filter.is_some_and(|f| f.mentions("groups"));
        table
            .rows
            .values()
            .filter(|doc| match filter {
                None => true,
                Some(f) if needs_render => {
                    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
                    self.render(kind, id, base).is_some_and(|d| f.matches(&d))
                }
                Some(f) => f.matches(doc),
            })
            .filter_map(|doc| doc.get("id").and_then(Value::as_str))
            .collect()
    }

    /// Ids of `count` resources of `kind` from position `skip`, in creation order.
    pub fn page(&self, kind: Kind, skip: usize, count: usize) -> Vec<&str> {
        self.table(kind)
            .rows
            .values()
            .skip(skip)
            .take(count)
            .filter_map(|doc| doc.get("id").and_then(Value::as_str))
            .collect()
    }

    /// How many resources of `kind` exist.
    pub fn len(&self, kind: Kind) -> usize {
        self.table(kind).rows.len()
    }

    /// Checks a document about to be stored as resource `id` (None when new).
    fn validate(
        &self,
        kind: Kind,
        id: Option<&str>,
        doc: &Map<String, Value>,
    ) -> Result<(), ScimFailure> {
        match kind {
            Kind::User => {
                let name = match doc.get("userName") {
                    Some(Value::String(s)) if !s.trim().is_empty() => s,
                    Some(_) => {
                        return Err(ScimFailure::bad(
                            "invalidValue",
                            "userName must be a non-empty string",
                        ));
                    }
                    None => return Err(ScimFailure::bad("invalidValue", "userName is required")),
                };
                if let Some(owner) = self.user_names.get(&name.to_lowercase())
                    && Some(owner.as_str()) != id
                    && !self.loose_user_names
                {
                    return Err(ScimFailure::new(
                        409,
                        Some("uniqueness"),
                        format!("userName {name:?} is already in use"),
                    ));
                }
                if let Some(active) = doc.get("active")
                    && !active.is_boolean()
                {
                    return Err(ScimFailure::bad("invalidValue", "active must be a boolean"));
                }
            }
            Kind::Group => {
                match doc.get("displayName") {
                    Some(Value::String(s)) if !s.trim().is_empty() => {}
                    _ => {
                        return Err(ScimFailure::bad(
                            "invalidValue",
                            "displayName is required and must be a non-empty string",
                        ));
                    }
                }
                if let Some(members) = doc.get("members") {
                    let Value::Array(members) = members else {
                        return Err(ScimFailure::bad("invalidValue", "members must be a list"));
                    };
                    for member in members {
                        let value = member.get("value").and_then(Value::as_str);
                        match value {
                            Some(v)
                                if self.users.get(v).is_some() || self.groups.get(v).is_some() => {}
                            Some(v) => {
                                return Err(ScimFailure::bad(
                                    "invalidValue",
                                    format!(
                                        "member {v:?} is not a user or group of this application"
                                    ),
                                ));
                            }
                            None => {
                                return Err(ScimFailure::bad(
                                    "invalidValue",
                                    "each member needs a value (the member's id)",
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn member_ids(doc: &Map<String, Value>) -> Vec<String> {
        match doc.get("members") {
            Some(Value::Array(members)) => members
                .iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn reindex_group(&mut self, group_id: &str, members: Vec<String>) {
        if let Some(old) = self.group_members.remove(group_id) {
            for uid in old {
                if let Some(set) = self.memberships.get_mut(&uid) {
                    set.remove(group_id);
                }
            }
        }
        for uid in &members {
            self.memberships
                .entry(uid.clone())
                .or_default()
                .insert(group_id.to_owned());
        }
        if !members.is_empty() {
            self.group_members.insert(group_id.to_owned(), members);
        }
    }

    /// Drops duplicate members (same value) and keeps only the writable member fields.
    fn tidy_members(doc: &mut Map<String, Value>) {
        if let Some(Value::Array(members)) = doc.get_mut("members") {
            let mut seen = BTreeSet::new();
            members.retain(|m| {
                m.get("value")
                    .and_then(Value::as_str)
                    .is_none_or(|v| seen.insert(v.to_owned()))
            });
            for m in members.iter_mut() {
                if let Some(o) = m.as_object_mut() {
                    // `display` is writable (RFC 7643 §8.7.1); `$ref` and `type` are derived.
                    o.remove("$ref");
                    o.remove("type");
                }
            }
            if members.is_empty() {
                doc.remove("members");
            }
        }
    }

    /// Stores a new resource from a client's document; returns its id.
    pub fn create(
        &mut self,
        kind: Kind,
        mut doc: Map<String, Value>,
        id: Option<String>,
    ) -> Result<String, ScimFailure> {
        normalize(kind, &mut doc);
        Self::tidy_members(&mut doc);
        self.validate(kind, None, &doc)?;
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if self.table(kind).get(&id).is_some() {
            return Err(ScimFailure::new(
                409,
                Some("uniqueness"),
                format!("id {id} exists"),
            ));
        }
        let now = now_rfc3339();
        let version = self.next_version();
        doc.insert("id".into(), Value::String(id.clone()));
        doc.insert(
            "meta".into(),
            json!({"resourceType": kind.name(), "created": now, "lastModified": now, "version": version}),
        );
        self.commit(kind, &id, doc, true);
        Ok(id)
    }

    fn commit(&mut self, kind: Kind, id: &str, doc: Map<String, Value>, new: bool) {
        match kind {
            Kind::User => {
                if let Some(old) = self
                    .users
                    .get(id)
                    .and_then(|d| d.get("userName"))
                    .and_then(Value::as_str)
                {
                    let old = old.to_lowercase();
                    self.user_names.remove(&old);
                }
                if let Some(name) = doc.get("userName").and_then(Value::as_str) {
                    self.user_names.insert(name.to_lowercase(), id.to_owned());
                }
            }
            Kind::Group => {
                let members = Self::member_ids(&doc);
                self.reindex_group(id, members);
            }
        }
        if new {
            self.table_mut(kind).insert(id.to_owned(), doc);
        } else {
            self.table_mut(kind).replace(id, doc);
        }
    }

    fn check_version(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimFailure> {
        let Some(expected) = if_match else {
            return Ok(());
        };
        if expected.trim() == "*" {
            return Ok(());
        }
        let current = self.version_of(kind, id).unwrap_or_default();
        let strip = |s: &str| s.trim().trim_start_matches("W/").to_owned();
        if expected.split(',').any(|e| strip(e) == strip(&current)) {
            Ok(())
        } else {
            Err(ScimFailure::new(
                412,
                None,
                format!(
                    "{} {id} has changed (version is now {current})",
                    kind.name()
                ),
            ))
        }
    }

    fn touched(
        &mut self,
        mut doc: Map<String, Value>,
        old: &Map<String, Value>,
    ) -> Map<String, Value> {
        let version = self.next_version();
        let mut meta = old.get("meta").cloned().unwrap_or_else(|| json!({}));
        meta["lastModified"] = Value::String(now_rfc3339());
        meta["version"] = Value::String(version);
        doc.insert("id".into(), old["id"].clone());
        doc.insert("meta".into(), meta);
        doc
    }

    /// PUT: replaces a resource's writable attributes.
    pub fn replace(
        &mut self,
        kind: Kind,
        id: &str,
        mut doc: Map<String, Value>,
        if_match: Option<&str>,
    ) -> Result<(), ScimFailure> {
        let old = self
            .raw(kind, id)
            .cloned()
            .ok_or_else(|| ScimFailure::not_found(kind, id))?;
        self.check_version(kind, id, if_match)?;
        normalize(kind, &mut doc);
        Self::tidy_members(&mut doc);
        if let Some(password) = old.get("password")
            && !doc.contains_key("password")
        {
            doc.insert("password".into(), password.clone());
        }
        self.validate(kind, Some(id), &doc)?;
        let doc = self.touched(doc, &old);
        self.commit(kind, id, doc, false);
        Ok(())
    }

    /// PATCH (RFC 7644 §3.5.2): applies every operation, or none.
    pub fn patch(
        &mut self,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<(), ScimFailure> {
        if kind == Kind::Group
            && let Some(result) = self.add_members_in_place(id, body, if_match)
        {
            return result;
        }
        let old = self
            .raw(kind, id)
            .cloned()
            .ok_or_else(|| ScimFailure::not_found(kind, id))?;
        self.check_version(kind, id, if_match)?;
        let ops = body
            .as_object()
            .and_then(|o| get_ci(o, "Operations"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ScimFailure::bad("invalidSyntax", "a PatchOp needs an Operations list")
            })?;
        let mut doc = old.clone();
        for op in ops {
            if self.no_patch_filters && has_value_filter(op) {
                return Err(ScimFailure::bad(
                    "invalidPath",
                    "this application does not support value filters in PATCH paths",
                ));
            }
            apply_operation(kind, &mut doc, op)?;
        }
        let id_value = doc.remove("id");
        let meta = doc.remove("meta");
        normalize(kind, &mut doc);
        Self::tidy_members(&mut doc);
        self.validate(kind, Some(id), &doc)?;
        if let Some(id_value) = id_value {
            doc.insert("id".into(), id_value);
        }
        if let Some(meta) = meta {
            doc.insert("meta".into(), meta);
        }
        if doc == old {
            // Nothing changed: the version stays.
            return Ok(());
        }
        let doc = self.touched(doc, &old);
        self.commit(kind, id, doc, false);
        Ok(())
    }

    /// A PATCH whose every operation is `add` on `members` with plain `{"value": …}` entries:
    /// the write a sync makes once per user. Done in place, it costs what the new members cost,
    /// not a copy, a re-validation and a re-index of the whole group (quadratic over a sync of
    /// 100,000 users into one group). The outcome is the general path's: unknown members refused,
    /// members already there ignored, the version bumped only when something changed. `None`
    /// for any other body, which then takes the general path.
    fn add_members_in_place(
        &mut self,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Option<Result<(), ScimFailure>> {
        let ops = body
            .as_object()
            .and_then(|o| get_ci(o, "Operations"))
            .and_then(Value::as_array)?;
        let mut wanted: Vec<Map<String, Value>> = Vec::new();
        for op in ops {
            let op = op.as_object()?;
            let name = get_ci(op, "op")?.as_str()?;
            let path = get_ci(op, "path")?.as_str()?;
            if !name.eq_ignore_ascii_case("add") || path.trim() != "members" {
                return None;
            }
            for member in get_ci(op, "value")?.as_array()? {
                let member = member.as_object()?;
                let plain = member
                    .keys()
                    .all(|k| matches!(k.as_str(), "value" | "display" | "$ref" | "type"));
                if !plain || !member.get("value")?.is_string() {
                    return None;
                }
                wanted.push(member.clone());
            }
        }
        if self.groups.get(id).is_none() {
            return Some(Err(ScimFailure::not_found(Kind::Group, id)));
        }
        if let Err(e) = self.check_version(Kind::Group, id, if_match) {
            return Some(Err(e));
        }
        let mut fresh = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for mut member in wanted {
            let value = member["value"].as_str().unwrap_or_default().to_owned();
            if self.users.get(&value).is_none() && self.groups.get(&value).is_none() {
                return Some(Err(ScimFailure::bad(
                    "invalidValue",
                    format!("member {value:?} is not a user or group of this application"),
                )));
            }
            let already = self.memberships.get(&value).is_some_and(|g| g.contains(id));
            if already || !seen.insert(value.clone()) {
                continue;
            }
            member.remove("$ref");
            member.remove("type");
            fresh.push((value, member));
        }
        if fresh.is_empty() {
            return Some(Ok(()));
        }
        let version = self.next_version();
        let seq = *self.groups.by_id.get(id)?;
        let doc = self.groups.rows.get_mut(&seq)?;
        let members = doc
            .entry("members")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !members.is_array() {
            *members = Value::Array(Vec::new());
        }
        let list = members.as_array_mut()?;
        for (_, member) in &fresh {
            list.push(Value::Object(member.clone()));
        }
        if let Some(Value::Object(meta)) = doc.get_mut("meta") {
            meta.insert("lastModified".into(), Value::String(now_rfc3339()));
            meta.insert("version".into(), Value::String(version));
        }
        let indexed = self.group_members.entry(id.to_owned()).or_default();
        for (value, _) in fresh {
            self.memberships
                .entry(value.clone())
                .or_default()
                .insert(id.to_owned());
            indexed.push(value);
        }
        Some(Ok(()))
    }

    /// DELETE. Deleting a user also takes it out of every group.
    pub fn delete(
        &mut self,
        kind: Kind,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), ScimFailure> {
        if self.raw(kind, id).is_none() {
            return Err(ScimFailure::not_found(kind, id));
        }
        self.check_version(kind, id, if_match)?;
        let doc = self.table_mut(kind).remove(id).unwrap_or_default();
        match kind {
            Kind::User => {
                if let Some(name) = doc.get("userName").and_then(Value::as_str) {
                    self.user_names.remove(&name.to_lowercase());
                }
                let groups = self.memberships.remove(id).unwrap_or_default();
                for gid in groups {
                    self.remove_member_everywhere(&gid, id);
                }
            }
            Kind::Group => {
                self.reindex_group(id, Vec::new());
                // Nested memberships of this group go too.
                let parents = self.memberships.remove(id).unwrap_or_default();
                for gid in parents {
                    self.remove_member_everywhere(&gid, id);
                }
            }
        }
        Ok(())
    }

    fn remove_member_everywhere(&mut self, group_id: &str, member: &str) {
        let Some(mut group) = self.groups.get(group_id).cloned() else {
            return;
        };
        if let Some(Value::Array(members)) = group.get_mut("members") {
            members.retain(|m| m.get("value").and_then(Value::as_str) != Some(member));
        }
        Self::tidy_members(&mut group);
        let old = group.clone();
        let group = self.touched(group, &old);
        self.commit(Kind::Group, group_id, group, false);
    }
}

/// The object a path's attribute lives in: the resource, or its extension object.
fn container<'a>(
    doc: &'a mut Map<String, Value>,
    uri: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match uri {
        Some(uri) if is_extension_urn(uri) => {
            let key = find_key(doc, uri)
                .cloned()
                .unwrap_or_else(|| ENTERPRISE_SCHEMA.to_owned());
            if !doc.contains_key(&key) {
                if !create {
                    return None;
                }
                doc.insert(key.clone(), Value::Object(Map::new()));
            }
            doc.get_mut(&key).and_then(Value::as_object_mut)
        }
        _ => Some(doc),
    }
}

fn schema_of(kind: Kind, uri: Option<&str>) -> &'static str {
    match uri {
        Some(uri) if is_extension_urn(uri) => ENTERPRISE_SCHEMA,
        _ => kind.schema(),
    }
}

fn key_for(obj: &Map<String, Value>, schema: &str, attr: &str) -> String {
    find_key(obj, attr)
        .cloned()
        .or_else(|| canonical_name(schema, attr, None).map(str::to_owned))
        .unwrap_or_else(|| attr.to_owned())
}

fn merge(target: &mut Map<String, Value>, value: &Map<String, Value>) {
    for (k, v) in value {
        let key = find_key(target, k).cloned().unwrap_or_else(|| k.clone());
        target.insert(key, v.clone());
    }
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Does the operation's path select values with a filter (`emails[type eq "work"]`)?
fn has_value_filter(op: &Value) -> bool {
    op.as_object()
        .and_then(|o| get_ci(o, "path"))
        .and_then(Value::as_str)
        .is_some_and(|p| p.contains('['))
}

/// Unmarks every item of `items` but the one at `keep` as primary (RFC 7643 §2.4: at most one
/// value is primary).
fn keep_one_primary(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && let Some(obj) = item.as_object_mut()
            && obj.get("primary").is_some_and(|p| p == &Value::Bool(true))
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

fn is_primary(item: &Value) -> bool {
    item.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| {
            p == &Value::Bool(true) || p.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
        })
}

fn apply_operation(
    kind: Kind,
    doc: &mut Map<String, Value>,
    op: &Value,
) -> Result<(), ScimFailure> {
    let op_obj = op
        .as_object()
        .ok_or_else(|| ScimFailure::bad("invalidSyntax", "each operation must be an object"))?;
    let name = get_ci(op_obj, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| ScimFailure::bad("invalidSyntax", "each operation needs an op"))?;
    if !matches!(name.as_str(), "add" | "replace" | "remove") {
        return Err(ScimFailure::bad(
            "invalidSyntax",
            format!("unknown op {name:?}"),
        ));
    }
    let path = get_ci(op_obj, "path")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty());
    let value = get_ci(op_obj, "value").cloned();
    match path {
        None => {
            if name == "remove" {
                return Err(ScimFailure::bad("noTarget", "remove needs a path"));
            }
            let Some(Value::Object(values)) = value else {
                return Err(ScimFailure::bad(
                    "invalidValue",
                    "an operation without a path needs an object value",
                ));
            };
            for (key, v) in values {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                if is_extension_urn(&key) {
                    if let Value::Object(ext) = v {
                        for (k2, v2) in ext {
                            let path = PatchPath {
                                uri: Some(ENTERPRISE_SCHEMA.into()),
                                attr: k2,
                                filter: None,
                                sub: None,
                            };
                            apply_at(kind, doc, &name, &path, Some(v2))?;
                        }
                    }
                    continue;
                }
                let parsed =
                    parse_attr_path(&key).map_err(|e| ScimFailure::bad("invalidPath", e))?;
                let path = PatchPath {
                    uri: parsed.uri,
                    attr: parsed.attr,
                    filter: None,
                    sub: parsed.sub,
                };
                // Without a path, `add` of a complex value merges into what is there.
                let op = if name == "replace"
                    && is_complex(schema_of(kind, path.uri.as_deref()), &path.attr)
                    && !is_multi_valued(schema_of(kind, path.uri.as_deref()), &path.attr)
                {
                    "add"
                } else {
                    name.as_str()
                };
                apply_at(kind, doc, op, &path, Some(v))?;
            }
            Ok(())
        }
        Some(path) => {
            let path = parse_patch_path(path).map_err(|e| match e.strip_prefix("filter: ") {
                Some(e) => ScimFailure::bad("invalidFilter", e.to_owned()),
                None => ScimFailure::bad("invalidPath", e),
            })?;
            if name != "remove" && value.is_none() {
                return Err(ScimFailure::bad(
                    "invalidValue",
                    format!("{name} needs a value"),
                ));
            }
            apply_at(kind, doc, &name, &path, value)
        }
    }
}

fn apply_at(
    kind: Kind,
    doc: &mut Map<String, Value>,
    op: &str,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimFailure> {
    let schema = schema_of(kind, path.uri.as_deref());
    if path.attr.is_empty() {
        // The whole extension object.
        let Some(Value::Object(values)) = value else {
            if op == "remove" {
                if let Some(key) = path.uri.as_deref().and_then(|u| find_key(doc, u).cloned()) {
                    doc.remove(&key);
                }
                return Ok(());
            }
            return Err(ScimFailure::bad(
                "invalidValue",
                "an extension needs an object value",
            ));
        };
        let target = container(doc, path.uri.as_deref(), true).expect("created");
        if op == "replace" {
            target.clear();
        }
        merge(target, &values);
        return Ok(());
    }
    let read_only = matches!(
        path.attr.to_ascii_lowercase().as_str(),
        "id" | "meta" | "groups"
    );
    if read_only && path.uri.is_none() {
        return Err(ScimFailure::bad(
            "mutability",
            format!("{} is read-only", path.attr),
        ));
    }
    let Some(target) = container(doc, path.uri.as_deref(), op != "remove") else {
        return Ok(());
    };
    let key = key_for(target, schema, &path.attr);
    let multi =
        is_multi_valued(schema, &path.attr) || matches!(target.get(&key), Some(Value::Array(_)));
    match (&path.filter, &path.sub) {
        (None, None) => match op {
            "remove" => {
                target.remove(&key);
            }
            "add" if multi => {
                let mut items = match target.remove(&key) {
                    Some(Value::Array(items)) => items,
                    Some(other) => vec![other],
                    None => Vec::new(),
                };
                for item in as_list(&value.unwrap_or(Value::Null)) {
                    if !items.contains(&item) {
                        let primary = is_primary(&item);
                        items.push(item);
                        if primary {
                            let last = items.len() - 1;
                            keep_one_primary(&mut items, last);
                        }
                    }
                }
                target.insert(key, Value::Array(items));
            }
            "replace" if multi => {
                target.insert(key, Value::Array(as_list(&value.unwrap_or(Value::Null))));
            }
            _ => match (target.get_mut(&key), value) {
                (Some(Value::Object(existing)), Some(Value::Object(new))) => merge(existing, &new),
                (_, Some(v)) => {
                    target.insert(key, v);
                }
                (_, None) => {}
            },
        },
        (None, Some(sub)) => {
            let sub_key = canonical_name(schema, &path.attr, Some(sub))
                .map(str::to_owned)
                .unwrap_or_else(|| sub.clone());
            match target.get_mut(&key) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_sub(item, &sub_key, op, value.clone());
                    }
                }
                Some(Value::Object(obj)) => {
                    set_sub(obj, &sub_key, op, value);
                    if obj.is_empty() {
                        target.remove(&key);
                    }
                }
                _ if op != "remove" => {
                    let mut obj = Map::new();
                    set_sub(&mut obj, &sub_key, op, value);
                    target.insert(key, Value::Object(obj));
                }
                _ => {}
            }
        }
        (Some(_), _) if !multi => {
            return Err(ScimFailure::bad(
                "invalidPath",
                format!(
                    "{} is not multi-valued: a value filter cannot select in it",
                    path.attr
                ),
            ));
        }
        (Some(filter), sub) => {
            let mut items = match target.remove(&key) {
                Some(Value::Array(items)) => items,
                Some(other) => vec![other],
                None => Vec::new(),
            };
            let matched: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, item)| {
                    item.as_object()
                        .is_some_and(|o| filter.eval(o, Some(&path.attr)))
                })
                .map(|(i, _)| i)
                .collect();
            if matched.is_empty() && op == "replace" {
                // RFC 7644 §3.5.2.3: a replace whose filter matches nothing fails.
                if !items.is_empty() {
                    target.insert(key.clone(), Value::Array(items));
                }
                return Err(ScimFailure::bad(
                    "noTarget",
                    format!("no value of {} matches the filter", path.attr),
                ));
            }
            if matched.is_empty() && op == "add" {
                // `add` to `emails[type eq "work"].value` on a user without a work email: adds
                // one, as Entra ID's own provisioning expects.
                if let Some((attr, v)) = filter.simple_eq() {
                    let mut item = Map::new();
                    item.insert(attr.to_owned(), v.clone());
                    match (sub, value.clone()) {
                        (Some(sub), Some(value)) => {
                            item.insert(sub.clone(), value);
                        }
                        (None, Some(Value::Object(value))) => merge(&mut item, &value),
                        _ => {}
                    }
                    items.push(Value::Object(item));
                } else {
                    if !items.is_empty() {
                        target.insert(key.clone(), Value::Array(items));
                    }
                    return Err(ScimFailure::bad(
                        "noTarget",
                        format!("no value of {} matches the filter", path.attr),
                    ));
                }
            }
            match (op, sub) {
                ("remove", None) => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
                (_, None) => {
                    for &i in &matched {
                        match (&mut items[i], &value) {
                            (Value::Object(existing), Some(Value::Object(new))) => {
                                merge(existing, new)
                            }
                            (slot, Some(v)) => *slot = v.clone(),
                            _ => {}
                        }
                    }
                }
                (_, Some(sub)) => {
                    let sub_key = canonical_name(schema, &path.attr, Some(sub))
                        .map(str::to_owned)
                        .unwrap_or_else(|| sub.clone());
                    for &i in &matched {
                        if let Some(obj) = items[i].as_object_mut() {
                            set_sub(obj, &sub_key, op, value.clone());
                        }
                    }
                }
            }
            if op != "remove"
                && let Some(&i) = matched.iter().rev().find(|&&i| is_primary(&items[i]))
            {
                keep_one_primary(&mut items, i);
            }
            if !items.is_empty() {
                target.insert(key, Value::Array(items));
            }
        }
    }
    Ok(())
}

fn set_sub(obj: &mut Map<String, Value>, sub: &str, op: &str, value: Option<Value>) {
    let key = find_key(obj, sub)
        .cloned()
        .unwrap_or_else(|| sub.to_owned());
    if op == "remove" {
        obj.remove(&key);
    } else if let Some(v) = value {
        obj.insert(key, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(store: &mut Store, name: &str) -> String {
        store
            .create(
                Kind::User,
                json!({"userName": name, "active": true})
                    .as_object()
                    .unwrap()
                    .clone(),
                None,
            )
            .unwrap()
    }

    #[test]
    fn patch_variants_follow_rfc7644() {
        let mut store = Store::default();
        let id = user(&mut store, "ann@contoso.example");
        let ops = json!({"Operations": [
            {"op": "Replace", "path": "name.givenName", "value": "Ann"},
            {"op": "add", "value": {"title": "Agent", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}},
            {"op": "add", "path": "emails[type eq \"work\"].value", "value": "ann@contoso.example"},
            {"op": "replace", "path": "active", "value": "False"},
        ]});
        store.patch(Kind::User, &id, &ops, None).unwrap();
        let doc = store.raw(Kind::User, &id).unwrap();
        assert_eq!(doc["name"]["givenName"], "Ann");
        assert_eq!(doc["title"], "Agent");
        assert_eq!(doc[ENTERPRISE_SCHEMA]["department"], "Ops");
        assert_eq!(doc["emails"][0]["value"], "ann@contoso.example");
        assert_eq!(doc["active"], false);
        let remove = json!({"Operations": [{"op": "remove", "path": "title"}]});
        store.patch(Kind::User, &id, &remove, None).unwrap();
        assert!(store.raw(Kind::User, &id).unwrap().get("title").is_none());
        let bad = json!({"Operations": [{"op": "remove", "path": "userName"}]});
        assert_eq!(
            store.patch(Kind::User, &id, &bad, None).unwrap_err().status,
            400
        );
    }

    #[test]
    fn members_keep_referential_integrity() {
        let mut store = Store::default();
        let a = user(&mut store, "a@x.example");
        let b = user(&mut store, "b@x.example");
        let g = store
            .create(
                Kind::Group,
                json!({"displayName": "Tier 1"})
                    .as_object()
                    .unwrap()
                    .clone(),
                None,
            )
            .unwrap();
        let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}]});
        store.patch(Kind::Group, &g, &add, None).unwrap();
        let user_a = store.render(Kind::User, &a, "http://x").unwrap();
        assert_eq!(user_a["groups"][0]["value"], Value::String(g.clone()));
        let remove =
            json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]});
        store.patch(Kind::Group, &g, &remove, None).unwrap();
        assert!(
            store
                .render(Kind::User, &a, "http://x")
                .unwrap()
                .get("groups")
                .is_none()
        );
        let unknown =
            json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "nope"}]}]});
        assert_eq!(
            store
                .patch(Kind::Group, &g, &unknown, None)
                .unwrap_err()
                .status,
            400
        );
        store.delete(Kind::User, &b, None).unwrap();
        assert!(store.raw(Kind::Group, &g).unwrap().get("members").is_none());
    }

    #[test]
    fn user_names_are_unique_ignoring_case() {
        let mut store = Store::default();
        user(&mut store, "Ann@x.example");
        let err = store
            .create(
                Kind::User,
                json!({"userName": "ann@X.example"})
                    .as_object()
                    .unwrap()
                    .clone(),
                None,
            )
            .unwrap_err();
        assert_eq!((err.status, err.scim_type), (409, Some("uniqueness")));
    }

    #[test]
    fn loose_user_names_accept_a_second_holder_and_filters_find_both() {
        let mut store = Store::default();
        store.set_loose_user_names(true);
        let first = user(&mut store, "Ann@x.example");
        let second = store
            .create(
                Kind::User,
                json!({"userName": "ann@X.example"})
                    .as_object()
                    .unwrap()
                    .clone(),
                None,
            )
            .expect("a loose application takes it");
        let filter = super::super::filter::parse_filter("userName eq \"ANN@x.example\"").unwrap();
        let mut found = store.query(Kind::User, Some(&filter), "");
        found.sort_unstable();
        let mut both = vec![first.as_str(), second.as_str()];
        both.sort_unstable();
        assert_eq!(found, both);
    }

    /// Filtered paths as RFC 7644 §3.5.2 has them: a sub-attribute after the filter, `replace`
    /// of a value no filter matches fails with `noTarget` (nothing applied), `remove` of one
    /// item leaves the others, one primary at most; a filter on a single-valued attribute, a
    /// malformed filter, or (when switched off) any filter is refused as a real app would.
    #[test]
    fn filtered_paths_touch_only_the_selected_items() {
        let mut store = Store::default();
        let id = store
            .create(
                Kind::User,
                json!({"userName": "ann@x.example", "emails": [
                    {"value": "ann@home.example", "type": "home", "primary": true},
                    {"value": "ann@x.example", "type": "work"},
                ], "phoneNumbers": [{"value": "+1 555 0111", "type": "mobile"}]})
                .as_object()
                .unwrap()
                .clone(),
                None,
            )
            .unwrap();
        let patch = |store: &mut Store, ops: Value| {
            store
                .patch(Kind::User, &id, &json!({"Operations": ops}), None)
                .map_err(|f| (f.status, f.scim_type))
        };
        patch(&mut store, json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x.example"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 0100", "type": "work"}]},
        ]))
        .unwrap();
        let doc = store.raw(Kind::User, &id).unwrap().clone();
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "ann@home.example", "type": "home", "primary": false},
                {"value": "new@x.example", "type": "work", "primary": true},
            ])
        );
        assert_eq!(
            doc["phoneNumbers"],
            json!([
                {"value": "+1 555 0111", "type": "mobile"},
                {"value": "+1 555 0100", "type": "work"},
            ])
        );
        let refused = patch(
            &mut store,
            json!([
                {"op": "replace", "path": "title", "value": "Lead"},
                {"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "1"},
            ]),
        );
        assert_eq!(refused, Err((400, Some("noTarget"))));
        assert!(store.raw(Kind::User, &id).unwrap().get("title").is_none());
        patch(
            &mut store,
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
        )
        .unwrap();
        assert_eq!(
            store.raw(Kind::User, &id).unwrap()["phoneNumbers"],
            json!([{"value": "+1 555 0111", "type": "mobile"}])
        );
        let on_single = json!([{"op": "replace", "path": "title[type eq \"x\"]", "value": "x"}]);
        assert_eq!(
            patch(&mut store, on_single),
            Err((400, Some("invalidPath")))
        );
        let malformed = json!([{"op": "remove", "path": "emails[type eq]"}]);
        assert_eq!(
            patch(&mut store, malformed),
            Err((400, Some("invalidFilter")))
        );
        store.set_no_patch_filters(true);
        let filtered = json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@x.example"}]);
        assert_eq!(patch(&mut store, filtered), Err((400, Some("invalidPath"))));
        patch(&mut store, json!([{"op": "replace", "path": "emails", "value": [{"value": "a@x.example", "type": "work"}]}]))
            .expect("whole lists are still taken");
    }
}
