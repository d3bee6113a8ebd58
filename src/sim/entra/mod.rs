//! The simulated Entra ID tenant: the identity platform's token endpoint and the Microsoft Graph
//! directory reads adsync makes, served over HTTP on loopback from a [`Fixture`], behaving as
//! `graph-notes.md` describes (paging, `$top` limits, `ConsistencyLevel`, mixed member types,
//! delta rounds, AADSTS and Graph error shapes). Tests change the directory through the methods
//! of [`EntraSim`] and the changes show up in the next delta round.

mod fixture;
mod graph;
mod register;
#[cfg(test)]
mod tests;
mod token;

pub use fixture::{AppFixture, Fixture, SecretFixture, TenantFixture};
pub use register::{CreatedApp, GRAPH_APP_ID};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::{Faults, RequestLog, Server};
use crate::config::{Cloud, EntraCredential, EntraSettings};

/// Why an object left: soft delete (`changed`) or permanent (`deleted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gone {
    Soft,
    Hard,
}

impl Gone {
    fn reason(self) -> &'static str {
        match self {
            Self::Soft => "changed",
            Self::Hard => "deleted",
        }
    }
}

/// A registered certificate, parsed once.
#[derive(Clone)]
struct RegisteredCert {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    key: rsa::RsaPublicKey,
}

/// An app registration as the simulator keeps it.
#[derive(Clone)]
struct App {
    fixture: AppFixture,
    certs: Vec<RegisteredCert>,
}

/// A token the simulator issued.
#[derive(Clone, Debug)]
struct Issued {
    roles: Vec<String>,
    expires: u64,
}

/// Where a delta token starts: the change sequence number it was issued at.
#[derive(Clone, Debug)]
struct DeltaCursor {
    resource: &'static str,
    seq: u64,
    /// The `$select` of the round's first request: Graph encodes it in the token.
    select: Option<Vec<String>>,
}

/// The remaining pages of a delta round in progress.
#[derive(Clone, Debug)]
struct PendingRound {
    resource: &'static str,
    items: Vec<Value>,
    end_seq: u64,
    select: Option<Vec<String>>,
}

/// The directory and everything the simulator remembers.
struct State {
    tenant: TenantFixture,
    apps: Vec<App>,
    users: Vec<Map<String, Value>>,
    groups: Vec<Map<String, Value>>,
    others: Vec<Map<String, Value>>,
    members: HashMap<String, Vec<String>>,
    seq: u64,
    user_changed: HashMap<String, u64>,
    user_removed: HashMap<String, (u64, Gone)>,
    group_changed: HashMap<String, u64>,
    group_removed: HashMap<String, (u64, Gone)>,
    member_events: Vec<(u64, String, String)>,
    delta_tokens: HashMap<String, DeltaCursor>,
    rounds: HashMap<String, PendingRound>,
    issued: HashMap<String, Issued>,
    token_lifetime_secs: u64,
    delta_page_size: usize,
    delta_members_per_entry: usize,
    /// Where each directory object is, by lowercase id: built on first use, dropped whenever an
    /// object is added or removed (member lists and property changes keep it valid).
    positions: std::sync::OnceLock<HashMap<String, (Table, usize)>>,
    /// The app-registration side: sign-in flows, created apps, lag and faults.
    reg: register::Registration,
}

/// Which list of [`State`] an object lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    Users,
    Groups,
    Others,
}

/// A running simulated tenant. Dropping it stops the server.
pub struct EntraSim {
    server: Server,
    state: Arc<Mutex<State>>,
    log: RequestLog,
    faults: Faults,
}

impl EntraSim {
    /// Starts the simulator on a free loopback port.
    pub async fn start(fixture: Fixture) -> std::io::Result<Self> {
        Self::start_on(fixture, 0).await
    }

    /// Starts the simulator on `127.0.0.1:port` (0 = any free port).
    pub async fn start_on(fixture: Fixture, port: u16) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(
            State::new(fixture).map_err(std::io::Error::other)?,
        ));
        let log = RequestLog::default();
        let faults = Faults::default();
        let router = axum::Router::new()
            .fallback(graph::handle)
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                (log.clone(), faults.clone()),
                super::observe,
            ));
        let server = Server::start(router, port).await?;
        Ok(Self {
            server,
            state,
            log,
            faults,
        })
    }

    /// `http://127.0.0.1:PORT`: both the authority and the Graph root.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request served.
    pub fn log(&self) -> &RequestLog {
        &self.log
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The tenant id (GUID).
    pub fn tenant_id(&self) -> String {
        self.state().tenant.id.clone()
    }

    /// The tenant's domain.
    pub fn tenant_domain(&self) -> String {
        self.state().tenant.domain.clone()
    }

    /// The first app registration's client id.
    pub fn client_id(&self) -> String {
        self.state().apps[0].fixture.client_id.clone()
    }

    /// The first app registration's first unexpired secret value (demo and test use only).
    pub fn client_secret(&self) -> Option<String> {
        self.state().apps[0]
            .fixture
            .secrets
            .iter()
            .find(|s| !s.expired)
            .map(|s| s.value.clone())
    }

    /// Settings that point adsync at this simulator (global cloud, first app, this credential).
    pub fn settings(&self, credential: EntraCredential) -> EntraSettings {
        let url: url::Url = self.url().parse().expect("the server URL is valid");
        EntraSettings {
            cloud: Cloud::Global,
            tenant: self.tenant_domain(),
            client_id: self.client_id(),
            credential,
            authority_url: url.clone(),
            graph_url: url,
            graph_scope: Cloud::Global.graph_scope(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Sets the granted application permissions of an app (takes effect in the next token).
    pub fn set_roles(&self, client_id: &str, roles: &[&str]) {
        let mut state = self.state();
        if let Some(app) = state.app_mut(client_id) {
            app.fixture.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        }
    }

    /// Registers one more certificate (PEM) on an app.
    pub fn register_certificate(&self, client_id: &str, pem: &str) -> Result<(), String> {
        let cert = parse_cert(pem)?;
        let mut state = self.state();
        let app = state.app_mut(client_id).ok_or("no such app")?;
        app.certs.push(cert);
        Ok(())
    }

    /// Marks every secret of an app expired.
    pub fn expire_secrets(&self, client_id: &str) {
        if let Some(app) = self.state().app_mut(client_id) {
            for secret in &mut app.fixture.secrets {
                secret.expired = true;
            }
        }
    }

    /// Enables or disables an app.
    pub fn set_app_enabled(&self, client_id: &str, enabled: bool) {
        if let Some(app) = self.state().app_mut(client_id) {
            app.fixture.enabled = enabled;
        }
    }

    /// The lifetime of tokens issued from now on (default 3599 s).
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        self.state().token_lifetime_secs = secs;
    }

    /// Objects per delta page (default 100).
    pub fn set_delta_page_size(&self, size: usize) {
        self.state().delta_page_size = size.max(1);
    }

    /// How many `members@delta` entries one group entry carries before the group is repeated on
    /// a later entry (default 200; Graph splits large groups over pages).
    pub fn set_delta_members_per_entry(&self, size: usize) {
        self.state().delta_members_per_entry = size.max(1);
    }

    /// Forgets every access token issued, as if they had expired: Graph answers 401 to them.
    pub fn revoke_tokens(&self) {
        self.state().issued.clear();
    }

    /// Forgets every delta token issued: using one gives `400 resyncRequired`.
    pub fn expire_delta_tokens(&self) {
        let mut state = self.state();
        state.delta_tokens.clear();
        state.rounds.clear();
    }

    /// Adds a user (Graph JSON with at least `id`).
    pub fn add_user(&self, user: Value) {
        let mut state = self.state();
        let Value::Object(user) = user else { return };
        let id = id_of(&user);
        let seq = state.bump();
        state.user_removed.remove(&id);
        state.user_changed.insert(id, seq);
        state.users.push(user);
        state.positions = Default::default();
    }

    /// Changes a user's properties (a JSON object merged into it; `null` clears a property).
    pub fn update_user(&self, id: &str, patch: Value) {
        let mut state = self.state();
        let seq = state.bump();
        if merge_into(&mut state.users, id, patch) {
            state.user_changed.insert(id.to_owned(), seq);
        }
    }

    /// Soft-deletes a user (delta: `@removed` reason `changed`); its memberships go too.
    pub fn delete_user(&self, id: &str) {
        self.remove_user(id, Gone::Soft);
    }

    /// Permanently deletes a user (delta: `@removed` reason `deleted`).
    pub fn purge_user(&self, id: &str) {
        self.remove_user(id, Gone::Hard);
    }

    fn remove_user(&self, id: &str, how: Gone) {
        let mut state = self.state();
        let seq = state.bump();
        state.users.retain(|u| id_of(u) != id);
        state.positions = Default::default();
        state.user_changed.remove(id);
        state.user_removed.insert(id.to_owned(), (seq, how));
        state.drop_memberships_of(id, seq);
    }

    /// Adds a group (Graph JSON with at least `id`; `members` optional).
    pub fn add_group(&self, group: Value) {
        let mut state = self.state();
        let Value::Object(mut group) = group else {
            return;
        };
        let id = id_of(&group);
        let seq = state.bump();
        let members: Vec<String> = group
            .remove("members")
            .and_then(|m| serde_json::from_value(m).ok())
            .unwrap_or_default();
        for member in &members {
            state.member_events.push((seq, id.clone(), member.clone()));
        }
        state.members.insert(id.clone(), members);
        state.group_removed.remove(&id);
        state.group_changed.insert(id, seq);
        state.groups.push(group);
        state.positions = Default::default();
    }

    /// Changes a group's properties.
    pub fn update_group(&self, id: &str, patch: Value) {
        let mut state = self.state();
        let seq = state.bump();
        if merge_into(&mut state.groups, id, patch) {
            state.group_changed.insert(id.to_owned(), seq);
        }
    }

    /// Deletes a group: Microsoft 365 groups soft (`changed`), others for good (`deleted`).
    pub fn delete_group(&self, id: &str) {
        let mut state = self.state();
        let seq = state.bump();
        let unified = state
            .groups
            .iter()
            .find(|g| id_of(g) == id)
            .is_some_and(|g| g["groupTypes"].to_string().contains("Unified"));
        state.groups.retain(|g| id_of(g) != id);
        state.positions = Default::default();
        state.members.remove(id);
        state.group_changed.remove(id);
        let how = if unified { Gone::Soft } else { Gone::Hard };
        state.group_removed.insert(id.to_owned(), (seq, how));
        state.drop_memberships_of(id, seq);
    }

    /// Adds a member (any object id) to a group.
    pub fn add_member(&self, group_id: &str, member_id: &str) {
        let mut state = self.state();
        let seq = state.bump();
        let list = state.members.entry(group_id.to_owned()).or_default();
        if !list.iter().any(|m| m == member_id) {
            list.push(member_id.to_owned());
            state
                .member_events
                .push((seq, group_id.to_owned(), member_id.to_owned()));
        }
    }

    /// Removes a member from a group.
    pub fn remove_member(&self, group_id: &str, member_id: &str) {
        let mut state = self.state();
        let seq = state.bump();
        if let Some(list) = state.members.get_mut(group_id) {
            list.retain(|m| m != member_id);
            state
                .member_events
                .push((seq, group_id.to_owned(), member_id.to_owned()));
        }
    }

    /// The direct member ids of a group, as the simulator holds them.
    pub fn member_ids(&self, group_id: &str) -> Vec<String> {
        self.state()
            .members
            .get(group_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

impl State {
    fn new(fixture: Fixture) -> Result<Self, String> {
        let mut apps = Vec::new();
        for app in fixture.apps {
            let certs = app
                .certificates
                .iter()
                .map(|pem| parse_cert(pem))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("app {}: {e}", app.client_id))?;
            apps.push(App {
                fixture: app,
                certs,
            });
        }
        let mut members = HashMap::new();
        let mut groups = Vec::new();
        for mut group in fixture.groups {
            let list: Vec<String> = group
                .remove("members")
                .and_then(|m| serde_json::from_value(m).ok())
                .unwrap_or_default();
            members.insert(id_of(&group), list);
            groups.push(group);
        }
        let typed = |objects: Vec<Map<String, Value>>, kind: &'static str| {
            objects.into_iter().map(move |mut o| {
                o.insert(
                    "@odata.type".into(),
                    Value::from(format!("#microsoft.graph.{kind}")),
                );
                o
            })
        };
        let others = typed(fixture.devices, "device")
            .chain(typed(fixture.service_principals, "servicePrincipal"))
            .chain(typed(fixture.contacts, "orgContact"))
            .collect();
        Ok(Self {
            tenant: fixture.tenant,
            apps,
            users: fixture.users,
            groups,
            others,
            members,
            seq: 1,
            user_changed: HashMap::new(),
            user_removed: HashMap::new(),
            group_changed: HashMap::new(),
            group_removed: HashMap::new(),
            member_events: Vec::new(),
            delta_tokens: HashMap::new(),
            rounds: HashMap::new(),
            issued: HashMap::new(),
            token_lifetime_secs: 3599,
            delta_page_size: 100,
            delta_members_per_entry: 200,
            positions: Default::default(),
            reg: Default::default(),
        })
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn app_mut(&mut self, client_id: &str) -> Option<&mut App> {
        self.apps
            .iter_mut()
            .find(|a| a.fixture.client_id.eq_ignore_ascii_case(client_id))
    }

    fn drop_memberships_of(&mut self, member: &str, seq: u64) {
        let mut events = Vec::new();
        for (group, list) in &mut self.members {
            if list.iter().any(|m| m == member) {
                list.retain(|m| m != member);
                events.push((seq, group.clone(), member.to_owned()));
            }
        }
        self.member_events.extend(events);
    }

    /// Every directory object by lowercase id. The positions are built once and kept until an
    /// object is added or removed, so a request costs what it reads, not a pass over the
    /// directory (at 100,000 users that pass was most of the time of a members page).
    fn index(&self) -> ObjectIndex<'_> {
        let positions = self.positions.get_or_init(|| {
            let mut map =
                HashMap::with_capacity(self.users.len() + self.groups.len() + self.others.len());
            for (objects, table) in [
                (&self.users, Table::Users),
                (&self.groups, Table::Groups),
                (&self.others, Table::Others),
            ] {
                for (n, object) in objects.iter().enumerate() {
                    map.insert(id_of(object).to_lowercase(), (table, n));
                }
            }
            map
        });
        ObjectIndex {
            state: self,
            positions,
        }
    }
}

/// Directory objects by lowercase id, with their Graph type when it is not stored on them.
struct ObjectIndex<'a> {
    state: &'a State,
    positions: &'a HashMap<String, (Table, usize)>,
}

impl<'a> ObjectIndex<'a> {
    fn get(&self, id: &str) -> Option<(&'a Map<String, Value>, Option<&'static str>)> {
        let found = match self.positions.get(id) {
            Some(found) => found,
            None => self.positions.get(&id.to_lowercase())?,
        };
        let (list, kind) = match found.0 {
            Table::Users => (&self.state.users, Some("user")),
            Table::Groups => (&self.state.groups, Some("group")),
            Table::Others => (&self.state.others, None),
        };
        list.get(found.1).map(|o| (o, kind))
    }

    /// The object with its `@odata.type`.
    fn typed(&self, id: &str) -> Option<Map<String, Value>> {
        let (object, kind) = self.get(id)?;
        let mut object = object.clone();
        if let Some(kind) = kind {
            object.insert(
                "@odata.type".into(),
                Value::from(format!("#microsoft.graph.{kind}")),
            );
        }
        Some(object)
    }

    /// Its `@odata.type` alone.
    fn odata_type(&self, id: &str) -> Option<String> {
        let (object, kind) = self.get(id)?;
        match kind {
            Some(kind) => Some(format!("#microsoft.graph.{kind}")),
            None => object
                .get("@odata.type")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// Merges a JSON object's properties into the object with `id`; false when there is none.
fn merge_into(objects: &mut [Map<String, Value>], id: &str, patch: Value) -> bool {
    match (objects.iter_mut().find(|o| id_of(o) == id), patch) {
        (Some(object), Value::Object(patch)) => {
            object.extend(patch);
            true
        }
        _ => false,
    }
}

fn id_of(object: &Map<String, Value>) -> String {
    object
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn parse_cert(pem: &str) -> Result<RegisteredCert, String> {
    use rsa::pkcs8::DecodePublicKey;
    use sha1::Digest;
    use x509_cert::der::{Decode, Encode};
    let der = crate::entra::pem_blocks(pem)
        .into_iter()
        .find(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der)
        .ok_or("no CERTIFICATE block")?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|e| e.to_string())?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    let key = rsa::RsaPublicKey::from_public_key_der(&spki)
        .map_err(|e| format!("not an RSA certificate: {e}"))?;
    Ok(RegisteredCert {
        sha1: sha1::Sha1::digest(&der).to_vec(),
        sha256: sha2::Sha256::digest(&der).to_vec(),
        key,
    })
}
