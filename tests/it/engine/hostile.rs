//! A hostile application through the binary: a secret it echoes appears in no output or table,
//! a redirected create sends nothing elsewhere, a crafted id never reaches a group's URL, and a
//! look-alike (KELVIN SIGN) account is not adopted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::*;

const PASSWORD: &str = "Echoed-Default-Pa55word";
/// Karin Horvat: in Support Tier 1, not in the demo application.
const KARIN: &str = "43526dbf-fc39-5a81-bffc-3a02590459ec";
const KARIN_MAIL: &str = "karin.horvat@tailspintoys.com";

pub(super) type Intercept = Arc<dyn Fn(&Method, &str, &Bytes) -> Option<Response> + Send + Sync>;

/// Puts a proxy in front of the simulated application: `intercept` answers what it wants to,
/// the rest goes on to the simulator. The config's `[target] url` is pointed at the proxy.
pub(super) fn proxy_target(w: &World, intercept: Intercept) {
    let upstream = w.scim.url();
    let proxy = w.rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let http = reqwest::Client::new();
        let upstream = upstream.clone();
        let app = Router::new().fallback(
            move |method: Method,
                  OriginalUri(uri): OriginalUri,
                  headers: HeaderMap,
                  body: Bytes| {
                let (http, upstream, intercept) =
                    (http.clone(), upstream.clone(), intercept.clone());
                async move {
                    // The simulator's URL has a path prefix; the proxy's has none.
                    let base_path = url::Url::parse(&upstream)
                        .unwrap()
                        .path()
                        .trim_end_matches('/')
                        .to_owned();
                    let path = uri
                        .path()
                        .strip_prefix(&base_path)
                        .unwrap_or(uri.path())
                        .to_owned();
                    if let Some(answer) = intercept(&method, &path, &body) {
                        return answer;
                    }
                    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
                    let mut request = http.request(method, format!("{upstream}{path}{query}"));
                    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
                        if let Some(value) = headers.get(&name) {
                            request = request.header(name, value);
                        }
                    }
                    let answer = request.body(body).send().await.unwrap();
                    let status = answer.status().as_u16();
                    let bytes = answer.bytes().await.unwrap();
                    Response::builder()
                        .status(status)
                        .header(header::CONTENT_TYPE, "application/scim+json")
                        .body(axum::body::Body::from(bytes))
                        .unwrap()
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let config = std::fs::read_to_string(&w.config).unwrap();
    assert!(config.contains(&upstream));
    std::fs::write(&w.config, config.replace(&upstream, &proxy)).unwrap();
}

fn run_with_password(w: &World, args: &[&str]) -> Run {
    let _enter = w.rt.enter();
    let mut command = w.command(args);
    command.env("ADSYNC_E2E_PW", PASSWORD);
    run_command(command, "")
}

#[test]
fn a_password_echoed_by_the_application_appears_in_no_output_or_table() {
    let w = World::new("[policy]\ndefault_password = \"env:ADSYNC_E2E_PW\"\n");
    let echoed = Arc::new(AtomicUsize::new(0));
    let count = echoed.clone();
    proxy_target(
        &w,
        Arc::new(move |method, path, body| {
            (method == Method::POST && path == "/Users").then(|| {
                count.fetch_add(1, Ordering::SeqCst);
                let body = String::from_utf8_lossy(body);
                let detail = format!("invalid request: {body}");
                (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/scim+json")],
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                           "status": "400", "detail": detail})
                    .to_string(),
                )
                    .into_response()
            })
        }),
    );
    for format in ["text", "json"] {
        let run = run_with_password(&w, &["sync", "--format", format]);
        assert!(echoed.load(Ordering::SeqCst) > 0, "no create was sent");
        assert_ne!(run.code, 0, "the creates failed: {}", run.all());
        assert!(!run.all().contains(PASSWORD), "{format}: {}", run.all());
        assert!(
            run.all().contains("***"),
            "the echo was scrubbed, not lost: {}",
            run.all()
        );
    }
    for format in ["text", "json"] {
        let history = run_with_password(&w, &["history", "--format", format]);
        assert_eq!(history.code, 0, "{}", history.all());
        assert!(!history.all().contains(PASSWORD), "{}", history.all());
        assert!(history.stdout.contains("***"), "{}", history.stdout);
    }
    let database = std::fs::read(w.env.path("state.sqlite3")).unwrap();
    let needle = PASSWORD.as_bytes();
    assert!(
        !database
            .windows(needle.len())
            .any(|window| window == needle),
        "the state database holds the password"
    );
}

#[test]
fn a_create_redirected_to_another_host_sends_nothing_there() {
    let w = World::new("[policy]\ndefault_password = \"env:ADSYNC_E2E_PW\"\n");
    let (elsewhere, hits) = w.rt.block_on(async {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::CREATED
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, hits)
    });
    let location = format!("{elsewhere}/scim/v2/Users");
    proxy_target(
        &w,
        Arc::new(move |method, path, _| {
            (method == Method::POST && path == "/Users").then(|| {
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location.clone())],
                )
                    .into_response()
            })
        }),
    );
    let run = run_with_password(&w, &["sync", "--format", "json"]);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the other host"
    );
    assert_ne!(run.code, 0, "{}", run.all());
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()));
    let creates: Vec<&Value> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "create")
        .collect();
    assert!(!creates.is_empty());
    for create in creates {
        assert_eq!(create["result"]["status"], "failed", "{create:#}");
        let error = create["result"]["error"].as_str().unwrap();
        assert!(
            error.contains("307") && error.contains("does not follow redirects"),
            "{error}"
        );
    }
    assert!(!run.all().contains(PASSWORD));
}

#[test]
fn a_crafted_user_id_never_reaches_a_group_url() {
    let w = World::with_app("", |seed| {
        seed["users"].as_array_mut().unwrap().push(json!({
            "id": "../Groups/hd-g-managers",
            "userName": KARIN_MAIL,
            "displayName": "Managers renamed",
            "emails": [{"value": KARIN_MAIL, "type": "work", "primary": true}],
            "title": "Anything else",
            "active": true
        }));
    });
    let managers_before = w.scim.group("hd-g-managers").unwrap();
    let run = w.run(&["sync", "--format", "json"]);
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()));
    let karin = action(&report, KARIN);
    assert_eq!(
        karin["target_user_id"], "../Groups/hd-g-managers",
        "{karin:#}"
    );
    assert_eq!(karin["result"]["status"], "failed", "{karin:#}");
    let error = karin["result"]["error"].as_str().unwrap();
    assert!(error.contains("not a plain id"), "{error}");
    assert_eq!(
        w.scim.log().count("*", "hd-g-managers"),
        0,
        "no request named the group"
    );
    assert_eq!(
        w.scim.group("hd-g-managers").unwrap()["displayName"],
        managers_before["displayName"]
    );
    // The other users were written.
    assert!(
        report["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "create" && a["result"]["status"] == "ok")
    );
}

#[test]
fn a_kelvin_sign_look_alike_is_not_adopted() {
    // "Karin" with U+212A KELVIN SIGN for the K: Unicode lower-casing makes it karin.
    let look_alike = KARIN_MAIL.replacen('k', "\u{212A}", 1);
    let w = World::with_app("", |seed| {
        seed["users"].as_array_mut().unwrap().push(json!({
            "id": "spoof-1",
            "userName": look_alike,
            "emails": [{"value": look_alike, "type": "work", "primary": true}],
            "active": true
        }));
    });
    let (code, plan) = w.plan_json();
    assert_eq!(code, 0, "{plan:#}");
    let karin = action(&plan, KARIN);
    assert_eq!(karin["kind"], "skip", "{karin:#}");
    assert_eq!(karin["reason"], "look-alike-match");
    let warning = plan["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "look-alike-match")
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert!(warning["message"].as_str().unwrap().contains("spoof-1"));
    let text = w.run(&["plan"]);
    assert!(text.all().contains("spoof-1"), "{}", text.all());

    let run = w.run(&["sync", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        !w.scim
            .member_ids("hd-g-tier1")
            .contains(&"spoof-1".to_owned())
    );
    assert_eq!(w.scim.log().count("PATCH", "spoof-1"), 0);
}

#[test]
fn escape_sequences_and_huge_fields_are_shown_safely() {
    let huge = "x".repeat(70_000);
    let w = World::with_app("", |seed| {
        let users = seed["users"].as_array_mut().unwrap();
        users.push(json!({
            "userName": "huge@tailspintoys.com",
            "displayName": huge,
            "active": true
        }));
        users.push(json!({
            "userName": KARIN_MAIL,
            "displayName": "Karin \u{1b}]0;pwned\u{7}\u{1b}[2J",
            "emails": [{"value": KARIN_MAIL, "type": "work", "primary": true}],
            "title": "\u{1b}[31mEvil\u{202E}",
            "active": true
        }));
    });
    let users = w.run(&["target", "users"]);
    assert_eq!(users.code, 0, "{}", users.all());
    assert!(
        !users.stdout.contains('\u{1b}'),
        "raw escape reached the terminal"
    );
    assert!(users.stdout.contains("\\u{1b}"), "{}", users.stdout);
    assert!(users.stdout.contains("xxx…"), "the huge cell is cut");
    assert!(users.stdout.lines().all(|l| l.chars().count() < 2_000));

    let plan = w.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stdout.contains("\\u{1b}[31mEvil\\u{202e}"),
        "{}",
        plan.stdout
    );
    for bad in ['\u{1b}', '\u{7}', '\u{202E}'] {
        assert!(!plan.stdout.contains(bad), "{bad:?} in {}", plan.stdout);
    }
    let explain = w.run(&["explain", KARIN]);
    assert!(!explain.stdout.contains('\u{1b}'), "{}", explain.all());
}
