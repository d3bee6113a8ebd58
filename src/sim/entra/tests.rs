//! The simulated token endpoint's checks that adsync's own client never exercises: other
//! assertion shapes (PS256, `x5t#S256` only, standard-base64 `x5t`), HTTP Basic secrets and the
//! malformed requests of graph-notes §1.5.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha1::Digest;

use super::{EntraSim, Fixture};

const APP_PEM: &str = include_str!("../../../tests/fixtures/entra/app.pem");
const CLIENT: &str = "11111111-2222-4333-8444-555555555555";

fn fixture() -> Fixture {
    let cert_only = APP_PEM.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
    Fixture::from_json(
        &json!({
            "tenant": {"id": "a1b2c3d4-0000-4000-8000-00000000c0de", "domain": "contoso.onmicrosoft.com", "displayName": "Contoso"},
            "apps": [{"clientId": CLIENT, "displayName": "t", "certificates": [cert_only],
                      "secrets": [{"id": "sid", "value": "s3cret+/=value"}], "roles": ["Directory.Read.All"]}],
            "users": [{"id": "0a000000-0000-4000-8000-000000000001", "displayName": "A"}]
        })
        .to_string(),
    )
    .unwrap()
}

/// A deterministic RNG for PSS salts in tests (rsa 0.9 wants rand_core 0.6).
struct TestRng(u64);
impl rsa::rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl rsa::rand_core::CryptoRng for TestRng {}

fn key_and_der() -> (rsa::RsaPrivateKey, Vec<u8>) {
    let blocks = crate::entra::pem_blocks(APP_PEM);
    let der = blocks
        .iter()
        .find(|(l, _)| l == "CERTIFICATE")
        .unwrap()
        .1
        .clone();
    let key = rsa::RsaPrivateKey::from_pkcs8_der(
        &blocks.iter().find(|(l, _)| l == "PRIVATE KEY").unwrap().1,
    )
    .unwrap();
    (key, der)
}

fn jwt(header: Value, claims: Value, pss: bool) -> String {
    let (key, _) = key_and_der();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = if pss {
        rsa::pss::SigningKey::<sha2::Sha256>::new(key)
            .sign_with_rng(&mut TestRng(7), input.as_bytes())
            .to_vec()
    } else {
        rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key)
            .sign(input.as_bytes())
            .to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(sim: &EntraSim) -> Value {
    let now = super::token::now_secs();
    json!({"aud": format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", sim.url()),
           "iss": CLIENT, "sub": CLIENT, "jti": "j", "nbf": now, "exp": now + 300})
}

async fn post(
    sim: &EntraSim,
    tenant: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.url()))
        .form(form);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

const SCOPE: &str = "https://graph.microsoft.com/.default";

async fn assertion_answer(sim: &EntraSim, assertion: &str) -> (u16, Value) {
    post(
        sim,
        "contoso.onmicrosoft.com",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("scope", SCOPE),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("client_info", "1"),
        ],
        None,
    )
    .await
}

#[tokio::test]
async fn assertions_in_every_shape_entra_accepts() {
    let sim = EntraSim::start(fixture()).await.unwrap();
    let (_, der) = key_and_der();
    let s256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der));
    let sha1_std = STANDARD.encode(sha1::Sha1::digest(&der));
    for (header, pss) in [
        (
            json!({"alg": "PS256", "typ": "JWT", "x5t#S256": s256}),
            true,
        ),
        (
            json!({"alg": "RS256", "typ": "JWT", "x5t": sha1_std}),
            false,
        ),
    ] {
        let (status, body) = assertion_answer(&sim, &jwt(header.clone(), claims(&sim), pss)).await;
        assert_eq!(status, 200, "{header}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert!(body.get("refresh_token").is_none());
    }
    // PS256 claimed but signed with PKCS#1 v1.5: the signature fails.
    let (status, body) = assertion_answer(
        &sim,
        &jwt(
            json!({"alg": "PS256", "x5t#S256": s256}),
            claims(&sim),
            false,
        ),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    let mut wrong = claims(&sim);
    wrong["sub"] = json!("someone-else");
    let (status, body) = assertion_answer(
        &sim,
        &jwt(json!({"alg": "RS256", "x5t#S256": s256}), wrong, false),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(50048))
    );
    let mut wrong = claims(&sim);
    wrong["aud"] =
        json!("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
    let (status, body) = assertion_answer(
        &sim,
        &jwt(json!({"alg": "RS256", "x5t#S256": s256}), wrong, false),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700021))
    );
    let (status, body) = assertion_answer(&sim, "not.a.jwt").await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(50027))
    );
}

#[tokio::test]
async fn secrets_by_basic_auth_and_the_malformed_requests() {
    let sim = EntraSim::start(fixture()).await.unwrap();
    let grant = [("grant_type", "client_credentials"), ("scope", SCOPE)];
    let (status, body) = post(
        &sim,
        "contoso.onmicrosoft.com",
        &grant,
        Some((CLIENT, "s3cret+/=value")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["roles"], json!(["Directory.Read.All"]));
    assert_eq!(claims["tid"], "a1b2c3d4-0000-4000-8000-00000000c0de");

    let code = |body: &Value| body["error_codes"][0].as_u64().unwrap();
    let (status, body) = post(
        &sim,
        "contoso.onmicrosoft.com",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("scope", SCOPE),
        ],
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (401, 7000218));
    assert_eq!(body["error"], "invalid_client");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("AADSTS7000218: ") && description.contains("\r\nTrace ID: "),
        "{description}"
    );
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), 20, "YYYY-MM-DD HH:MM:SSZ: {timestamp}");
    assert_eq!(&timestamp[10..11], " ");
    let (status, body) = post(
        &sim,
        "contoso.onmicrosoft.com",
        &[("grant_type", "password"), ("client_id", CLIENT)],
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (400, 70003));
    let (status, body) = post(
        &sim,
        "contoso.onmicrosoft.com",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            (
                "scope",
                "https://graph.microsoft.com/.default https://management.azure.com/.default",
            ),
        ],
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (400, 700022));
    let (status, body) = post(&sim, "not a tenant", &grant, None).await;
    assert_eq!((status, code(&body)), (400, 900023));
    let response = reqwest::get(format!(
        "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
        sim.url()
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), 900561);
}

#[tokio::test]
async fn graph_refuses_missing_garbage_and_expired_tokens() {
    let sim = EntraSim::start(fixture()).await.unwrap();
    let http = reqwest::Client::new();
    let users = format!("{}/v1.0/users", sim.url());
    let response = http.get(&users).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("authorization_uri")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Access token is empty.");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    let body: Value = http
        .get(&users)
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("CompactToken parsing failed")
    );

    sim.set_token_lifetime_secs(0);
    let (_, body) = post(
        &sim,
        "contoso.onmicrosoft.com",
        &[("grant_type", "client_credentials"), ("scope", SCOPE)],
        Some((CLIENT, "s3cret+/=value")),
    )
    .await;
    let response = http
        .get(&users)
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Access token has expired or is not yet valid."
    );
}
