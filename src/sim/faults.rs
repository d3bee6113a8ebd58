//! Fault switches for the simulators: rules that make the Nth matching request fail in a chosen
//! way. The generic faults (throttle, status, latency, malformed JSON) are applied by middleware;
//! simulator-specific ones (cut a page short, expire a delta token) are taken by the handlers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What goes wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After` in seconds (decimals allowed, e.g. `0.05`).
    Throttle { retry_after_secs: f64 },
    /// An error status (e.g. 500, 503, 504) with a JSON error body.
    Status(u16),
    /// The request is carried out (a create is committed), then answered with this error status
    /// instead of its result: a gateway that timed out while the application finished.
    StatusAfter(u16),
    /// Wait this long before answering.
    Latency(Duration),
    /// The request is carried out (a write is committed), then its answer held this long: the
    /// application finished while the client was killed or gave up waiting.
    HoldAfter(Duration),
    /// Answer 200 with a body that is not valid JSON.
    MalformedJson,
    /// A list page that ends early: the handler drops items and the next link (Graph) or claims
    /// more results than it returns (SCIM).
    CutPage,
    /// The delta token presented is treated as expired (Graph 410 / syncStateNotFound).
    ExpireDelta,
    /// A Graph list page whose items leave out this property although it was selected (an
    /// incomplete full read, R10), or a delta page whose entries leave it out (as Graph does
    /// for a never-set property).
    DropProperty(String),
}

/// When a fault fires: on the `nth` (1-based) request matching `method` (`"*"` for any) and
/// `path_contains`, for `times` consecutive matching requests.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    pub method: String,
    pub path_contains: String,
    pub nth: u64,
    pub times: u64,
    pub fault: Fault,
    seen: u64,
}

impl FaultRule {
    /// A rule that fires once, on the `nth` matching request.
    pub fn new(method: &str, path_contains: &str, nth: u64, fault: Fault) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            nth: nth.max(1),
            times: 1,
            fault,
            seen: 0,
        }
    }

    /// Fire on `times` consecutive matching requests from the `nth` on (`u64::MAX` = forever).
    pub fn times(mut self, times: u64) -> Self {
        self.times = times;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && path.contains(&self.path_contains)
    }
}

/// The set of active fault rules of one simulator. Cheap to clone; clones share the rules.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<FaultRule>>>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().unwrap().push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// Counts this request against every matching rule and returns the faults that fire for it.
    /// Each request must be passed exactly once (the middleware does it).
    pub fn fire(&self, method: &str, path: &str) -> Vec<Fault> {
        let mut fired = Vec::new();
        for rule in self.rules.lock().unwrap().iter_mut() {
            if rule.matches(method, path) {
                rule.seen += 1;
                if rule.seen >= rule.nth && rule.seen - rule.nth < rule.times {
                    fired.push(rule.fault.clone());
                }
            }
        }
        fired
    }

    /// Runs the request through the generic faults; handler-specific ones (`CutPage`,
    /// `ExpireDelta`) are passed to the handler as a request extension [`PendingFaults`].
    pub(super) async fn apply(
        &self,
        method: &str,
        path: &str,
        mut request: Request,
        next: Next,
    ) -> Response {
        let fired = self.fire(method, path);
        let mut malformed = false;
        let mut status_after = None;
        let mut hold_after = None;
        let mut pending = Vec::new();
        for fault in fired {
            match fault {
                Fault::Latency(wait) => tokio::time::sleep(wait).await,
                Fault::Throttle { retry_after_secs } => return throttled(retry_after_secs),
                Fault::Status(code) => return error_status(code),
                Fault::MalformedJson => malformed = true,
                Fault::StatusAfter(code) => status_after = Some(code),
                Fault::HoldAfter(wait) => hold_after = Some(wait),
                other => pending.push(other),
            }
        }
        request.extensions_mut().insert(PendingFaults(pending));
        let response = next.run(request).await;
        if let Some(wait) = hold_after {
            tokio::time::sleep(wait).await;
        }
        if let Some(code) = status_after {
            return error_status(code);
        }
        if malformed {
            let (mut parts, _) = response.into_parts();
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Response::from_parts(parts, Body::from("{\"value\": [{\"id\": \"trunc"));
        }
        response
    }
}

/// Faults a handler must act on for this request (see [`Fault::CutPage`], [`Fault::ExpireDelta`]).
#[derive(Clone, Debug, Default)]
pub struct PendingFaults(pub Vec<Fault>);

impl PendingFaults {
    /// Did this fault fire for this request?
    pub fn has(&self, fault: &Fault) -> bool {
        self.0.contains(fault)
    }
}

fn throttled(retry_after_secs: f64) -> Response {
    let body = serde_json::json!({
        "error": {
            "code": "TooManyRequests",
            "message": "Too many requests. Retry after the time given in Retry-After.",
            "innerError": {"request-id": uuid::Uuid::new_v4().to_string()}
        },
        // SCIM clients read these.
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "429",
        "detail": "Too many requests"
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let value = if retry_after_secs.fract() == 0.0 {
        format!("{}", retry_after_secs as u64)
    } else {
        format!("{retry_after_secs}")
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_str(&value).unwrap());
    response
}

fn error_status(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({
        "error": {
            "code": match code { 503 => "serviceNotAvailable", 504 => "gatewayTimeout", _ => "generalException" },
            "message": format!("Simulated failure {code}"),
            "innerError": {"request-id": uuid::Uuid::new_v4().to_string()}
        },
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": code.to_string(),
        "detail": format!("Simulated failure {code}")
    });
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_on_the_nth_matching_request_for_the_given_times() {
        let faults = Faults::default();
        faults.add(FaultRule::new("GET", "/users", 2, Fault::Status(503)).times(2));
        assert!(faults.fire("GET", "/v1.0/users").is_empty());
        assert!(
            faults.fire("GET", "/v1.0/groups").is_empty(),
            "other paths do not count"
        );
        assert_eq!(faults.fire("GET", "/v1.0/users"), vec![Fault::Status(503)]);
        assert_eq!(faults.fire("get", "/v1.0/users"), vec![Fault::Status(503)]);
        assert!(faults.fire("GET", "/v1.0/users").is_empty());
        assert!(faults.fire("POST", "/v1.0/users").is_empty());
    }
}
