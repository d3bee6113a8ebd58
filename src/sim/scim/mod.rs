//! The simulated SCIM application: an in-memory SCIM 2.0 service provider (Users, Groups, PATCH,
//! filters, paging, ETags, uniqueness) served on loopback from a JSON seed, with the shared fault
//! switches and request log. Tests, benchmarks, `adsync sim scim` and the `--demo` wizard use it.
//! The seed format is described in `docs/scim-simulator.md`.

mod filter;
mod handlers;
mod schema;
mod serve;
mod store;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use filter::{Filter, parse_filter};
pub use serve::Behaviour;
use store::{Kind, Store};

use super::{Faults, RequestLog, Server};

/// Where the SCIM endpoints live on the simulator's server.
pub const BASE_PATH: &str = "/scim/v2";

/// The bearer token the simulator accepts when the seed names none.
pub const DEFAULT_TOKEN: &str = "adsync-sim-token";

/// The largest page the simulator serves when the seed does not say (advertised in
/// ServiceProviderConfig `filter.maxResults`).
pub const DEFAULT_MAX_RESULTS: usize = 100;

/// A seed file: the application's users and groups at start, and how it authenticates.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seed {
    /// The bearer token to accept (default [`DEFAULT_TOKEN`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Also accept HTTP basic authentication with this user name and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicCredentials>,
    /// Largest page size (default [`DEFAULT_MAX_RESULTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<usize>,
    /// SCIM User resources as the application would hold them (`id` optional).
    #[serde(default)]
    pub users: Vec<Value>,
    /// Groups with their members given by userName (or user id).
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    /// Accept a userName already in use, as many real applications do (a "loose" target):
    /// then a create sent twice makes two accounts instead of a 409.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loose_user_names: bool,
    /// Refuse PATCH paths with a value filter (`emails[type eq "work"].value`) with 400
    /// `invalidPath`, as applications with a simpler PATCH do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_patch_filters: bool,
}

/// A service account for basic authentication.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicCredentials {
    pub username: String,
    pub password: String,
}

/// A group in a seed file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// userNames (case-insensitive) or ids of member users.
    #[serde(default)]
    pub members: Vec<String>,
}

/// Why a seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: cannot read the seed file: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the seed is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the seed is not valid: {0}")]
    Invalid(String),
    #[error("cannot start the simulated application: {0}")]
    Io(#[from] std::io::Error),
}

impl Seed {
    /// Reads a seed file.
    pub fn from_file(path: &Path) -> Result<Self, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Parses a seed from JSON text.
    pub fn from_json(text: &str) -> Result<Self, SeedError> {
        Ok(serde_json::from_str(text)?)
    }

    /// An application with no users or groups.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The demo application shipped in `assets/demo-app.json`.
    pub fn demo() -> Self {
        Self::from_json(include_str!("../../../assets/demo-app.json"))
            .expect("assets/demo-app.json is a valid seed")
    }
}

/// State shared by the handlers.
#[derive(Clone)]
pub(crate) struct SimState {
    store: Arc<Mutex<Store>>,
    token: String,
    basic: Option<(String, String)>,
    max_results: usize,
    base: Arc<Mutex<String>>,
    /// Users left out of every listing and search while still served by id (a broken listing
    /// whose `totalResults` agrees with what it returns).
    hidden: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl SimState {
    fn base_url(&self) -> String {
        self.base.lock().unwrap().clone()
    }
}

/// A running simulated application. Dropping it stops the server.
pub struct ScimSim {
    server: Server,
    state: SimState,
    log: RequestLog,
    faults: Faults,
    /// The bearer token it accepts.
    pub token: String,
}

impl ScimSim {
    /// Starts the application from `seed` on a free loopback port.
    pub async fn start(seed: Seed) -> Result<Self, SeedError> {
        Self::start_on(seed, 0).await
    }

    /// Starts the application from `seed` on `127.0.0.1:port` (0 = any free port).
    pub async fn start_on(seed: Seed, port: u16) -> Result<Self, SeedError> {
        Self::start_with(seed, port, Behaviour::default()).await
    }

    /// [`ScimSim::start_on`], taking connections the way `behaviour` says (e.g. like
    /// `scim2-server`: one request per connection, one at a time, a backlog of 5).
    pub async fn start_with(
        seed: Seed,
        port: u16,
        behaviour: Behaviour,
    ) -> Result<Self, SeedError> {
        let token = seed
            .token
            .clone()
            .unwrap_or_else(|| DEFAULT_TOKEN.to_owned());
        let state = SimState {
            store: Arc::new(Mutex::new(Store::default())),
            token: token.clone(),
            basic: seed
                .basic
                .as_ref()
                .map(|b| (b.username.clone(), b.password.clone())),
            max_results: seed.max_results.unwrap_or(DEFAULT_MAX_RESULTS).max(1),
            base: Arc::new(Mutex::new(String::new())),
            hidden: Arc::default(),
        };
        load_seed(&mut state.store.lock().unwrap(), &seed)?;
        let log = RequestLog::default();
        let faults = Faults::default();
        let router = Router::new()
            .route(
                &format!("{BASE_PATH}/{{*rest}}"),
                axum::routing::any(handlers::dispatch),
            )
            .route(BASE_PATH, axum::routing::any(handlers::dispatch))
            .fallback(axum::routing::any(handlers::dispatch))
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                (log.clone(), faults.clone()),
                super::observe,
            ));
        let server = serve::start(router, port, behaviour).await?;
        *state.base.lock().unwrap() = format!("{}{BASE_PATH}", server.url());
        Ok(Self {
            server,
            state,
            log,
            faults,
            token,
        })
    }

    /// The SCIM base URL, e.g. `http://127.0.0.1:41234/scim/v2` (no trailing slash).
    pub fn url(&self) -> String {
        format!("{}{BASE_PATH}", self.server.url())
    }

    /// The requests served so far.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Every user as a client would read it, in creation order.
    pub fn users(&self) -> Vec<Value> {
        self.all(Kind::User)
    }

    /// Every group as a client would read it, in creation order.
    pub fn groups(&self) -> Vec<Value> {
        self.all(Kind::Group)
    }

    fn all(&self, kind: Kind) -> Vec<Value> {
        let store = self.state.store.lock().unwrap();
        let base = self.state.base_url();
        store
            .query(kind, None, &base)
            .iter()
            .filter_map(|id| store.render(kind, id, &base))
            .map(Value::Object)
            .collect()
    }

    /// One user by id.
    pub fn user(&self, id: &str) -> Option<Value> {
        let store = self.state.store.lock().unwrap();
        store
            .render(Kind::User, id, &self.state.base_url())
            .map(Value::Object)
    }

    /// The password a client set for a user, if any (never served over SCIM; for tests of the
    /// default password).
    pub fn password_of(&self, id: &str) -> Option<String> {
        let store = self.state.store.lock().unwrap();
        store
            .raw(Kind::User, id)
            .and_then(|doc| doc.get("password"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// One user by userName (case-insensitive).
    pub fn user_by_name(&self, user_name: &str) -> Option<Value> {
        let filter =
            parse_filter(&format!("userName eq {}", Value::String(user_name.into()))).ok()?;
        let store = self.state.store.lock().unwrap();
        let base = self.state.base_url();
        let id = store
            .query(Kind::User, Some(&filter), &base)
            .into_iter()
            .next()?;
        store.render(Kind::User, id, &base).map(Value::Object)
    }

    /// One group by id.
    pub fn group(&self, id: &str) -> Option<Value> {
        let store = self.state.store.lock().unwrap();
        store
            .render(Kind::Group, id, &self.state.base_url())
            .map(Value::Object)
    }

    /// The ids of a group's members.
    pub fn member_ids(&self, group_id: &str) -> Vec<String> {
        self.group(group_id)
            .and_then(|g| g.get("members").cloned())
            .and_then(|m| m.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// Adds a user as someone in the application would; returns its id.
    pub fn add_user(&self, user: Value) -> Result<String, String> {
        let doc = user
            .as_object()
            .cloned()
            .ok_or("a user must be a JSON object")?;
        self.state
            .store
            .lock()
            .unwrap()
            .create(Kind::User, doc, None)
            .map_err(|f| f.detail)
    }

    /// Adds a group as someone in the application would; returns its id.
    pub fn add_group(&self, display_name: &str) -> Result<String, String> {
        let mut doc = Map::new();
        doc.insert("displayName".into(), Value::String(display_name.into()));
        self.state
            .store
            .lock()
            .unwrap()
            .create(Kind::Group, doc, None)
            .map_err(|f| f.detail)
    }

    /// Applies SCIM PATCH operations to a user as someone in the application would (the version
    /// changes, so the next read sees the edit), e.g.
    /// `[{"op": "replace", "path": "title", "value": "Lead"}]`.
    pub fn edit_user(&self, id: &str, operations: Value) -> Result<(), String> {
        self.patch(Kind::User, id, operations)
    }

    /// Applies SCIM PATCH operations to a group (e.g. moving a member by hand).
    pub fn edit_group(&self, id: &str, operations: Value) -> Result<(), String> {
        self.patch(Kind::Group, id, operations)
    }

    fn patch(&self, kind: Kind, id: &str, operations: Value) -> Result<(), String> {
        let body = serde_json::json!({"Operations": operations});
        self.state
            .store
            .lock()
            .unwrap()
            .patch(kind, id, &body, None)
            .map_err(|f| f.detail)
    }

    /// Disables a user, as an administrator of the application would.
    pub fn disable_user(&self, id: &str) -> Result<(), String> {
        self.edit_user(
            id,
            serde_json::json!([{"op": "replace", "path": "active", "value": false}]),
        )
    }

    /// Leaves these users (by id) out of every listing and search from now on, `totalResults`
    /// counting only what is returned, while `GET /Users/{id}` still serves them: a listing
    /// that looks complete and is not.
    pub fn hide_from_listings(&self, ids: &[String]) {
        self.state
            .hidden
            .lock()
            .unwrap()
            .extend(ids.iter().cloned());
    }

    /// Deletes a user, as an administrator of the application would.
    pub fn delete_user(&self, id: &str) -> Result<(), String> {
        self.state
            .store
            .lock()
            .unwrap()
            .delete(Kind::User, id, None)
            .map_err(|f| f.detail)
    }

    /// How many users the application holds.
    pub fn user_count(&self) -> usize {
        self.state.store.lock().unwrap().len(Kind::User)
    }

    /// How many groups the application holds.
    pub fn group_count(&self) -> usize {
        self.state.store.lock().unwrap().len(Kind::Group)
    }
}

fn load_seed(store: &mut Store, seed: &Seed) -> Result<(), SeedError> {
    store.set_loose_user_names(seed.loose_user_names);
    store.set_no_patch_filters(seed.no_patch_filters);
    let mut by_name = std::collections::HashMap::new();
    for (i, user) in seed.users.iter().enumerate() {
        let Value::Object(doc) = user else {
            return Err(SeedError::Invalid(format!("users[{i}] is not an object")));
        };
        let id = doc.get("id").and_then(Value::as_str).map(str::to_owned);
        let id = store
            .create(Kind::User, doc.clone(), id)
            .map_err(|f| SeedError::Invalid(format!("users[{i}]: {}", f.detail)))?;
        if let Some(name) = doc.get("userName").and_then(Value::as_str) {
            by_name.insert(name.to_lowercase(), id.clone());
        }
        by_name.insert(id.to_lowercase(), id);
    }
    for (i, group) in seed.groups.iter().enumerate() {
        let mut members = Vec::new();
        for member in &group.members {
            let id = by_name.get(&member.to_lowercase()).ok_or_else(|| {
                SeedError::Invalid(format!(
                    "groups[{i}] ({}): member {member:?} is not a seeded user",
                    group.display_name
                ))
            })?;
            members.push(serde_json::json!({"value": id}));
        }
        let mut doc = Map::new();
        doc.insert(
            "displayName".into(),
            Value::String(group.display_name.clone()),
        );
        if let Some(external_id) = &group.external_id {
            doc.insert("externalId".into(), Value::String(external_id.clone()));
        }
        if !members.is_empty() {
            doc.insert("members".into(), Value::Array(members));
        }
        store
            .create(Kind::Group, doc, group.id.clone())
            .map_err(|f| SeedError::Invalid(format!("groups[{i}]: {}", f.detail)))?;
    }
    Ok(())
}
