//! Signing in with a secret or a certificate, each mistake's message, and token renewal.

use super::*;

#[tokio::test]
async fn secret_sign_in_gets_a_token_with_roles() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let tokens = TokenSource::with_secret(
        &secret_settings(&sim),
        Secret::new(SECRET),
        RetryPolicy::fast(),
    );
    let token = tokens.token().await.unwrap();
    assert_eq!(token.roles, vec!["User.Read.All", "GroupMember.Read.All"]);
    assert!(token.expires_at > std::time::Instant::now() + Duration::from_secs(3000));
    // Cached: a second call sends nothing.
    tokens.token().await.unwrap();
    assert_eq!(tokens.requests_sent(), 1);
    assert_eq!(sim.log().count("POST", "/oauth2/v2.0/token"), 1);
    assert!(!format!("{token:?}").contains(token.secret()));
}

#[tokio::test]
async fn certificate_sign_in_from_a_pem_file() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (_dir, pem) = cert_path();
    let settings = sim.settings(EntraCredential::Certificate(pem));
    let tokens = TokenSource::new(&settings, RetryPolicy::fast()).unwrap();
    let token = tokens.token().await.unwrap();
    assert!(token.roles.contains(&"User.Read.All".to_owned()));
    let claims = URL_SAFE_NO_PAD_decode(token.secret());
    assert_eq!(claims["appidacr"], "2", "a certificate sign-in");
    // And Graph accepts it.
    let graph = GraphClient::with_tokens(&settings, Arc::new(tokens), RetryPolicy::fast());
    assert_eq!(graph.list_users().await.unwrap().len(), 12);
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_decode(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn each_sign_in_mistake_gets_a_message_that_says_what_to_do() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let base = secret_settings(&sim);

    let mut s = base.clone();
    s.tenant = "nosuch.onmicrosoft.com".into();
    let e = sign_in_error(&s, SECRET).await;
    assert!(matches!(e, EntraError::TenantNotFound { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("tenant 'nosuch.onmicrosoft.com' was not found"),
        "{text}"
    );
    assert!(text.contains("AADSTS90002, trace ID "), "{text}");
    assert!(text.contains("correlation ID "), "{text}");

    s.tenant = "fabrikam.us".into();
    let text = sign_in_error(&s, SECRET).await.to_string();
    assert!(
        text.contains("belongs to another national cloud (usgovcloudapi.net)"),
        "{text}"
    );
    assert!(
        text.contains("set `entra.cloud`") && text.contains("AADSTS90038"),
        "{text}"
    );

    s.tenant = "common".into();
    let text = sign_in_error(&s, SECRET).await.to_string();
    assert!(
        text.contains("set it to your tenant's ID") && text.contains("AADSTS9001023"),
        "{text}"
    );

    let mut s = base.clone();
    s.client_id = "99999999-2222-3333-4444-555555555555".into();
    let text = sign_in_error(&s, SECRET).await.to_string();
    assert!(
        text.contains(
            "no application with client ID 99999999-2222-3333-4444-555555555555 exists in tenant"
        ),
        "{text}"
    );
    assert!(
        text.contains("admin consent") && text.contains("AADSTS700016"),
        "{text}"
    );

    let text = sign_in_error(&base, "4f1e6a2b-9c0d-4e1f-8a2b-3c4d5e6f7a8b")
        .await
        .to_string();
    assert!(
        text.contains("stored the secret's *Value*") && text.contains("not its *Secret ID*"),
        "{text}"
    );
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(
        !text.contains("4f1e6a2b-9c0d"),
        "the wrong secret is not echoed: {text}"
    );

    let text = sign_in_error(&base, EXPIRED_SECRET).await.to_string();
    assert!(
        text.contains("has expired") && text.contains("AADSTS7000222"),
        "{text}"
    );
    assert!(!text.contains(EXPIRED_SECRET));

    let mut s = base.clone();
    s.graph_scope = "User.Read.All".into();
    let text = sign_in_error(&s, SECRET).await.to_string();
    assert!(
        text.contains("rejected the token scope 'User.Read.All'") && text.contains("AADSTS1002012"),
        "{text}"
    );
    s.graph_scope = "https://graph.microsoft.us/.default".into();
    let e = sign_in_error(&s, SECRET).await;
    assert_eq!(e.aadsts_code(), Some(70011), "{e}");

    sim.set_app_enabled(CLIENT_ID, false);
    let text = sign_in_error(&base, SECRET).await.to_string();
    assert!(
        text.contains("is disabled") && text.contains("AADSTS7000112"),
        "{text}"
    );
}

#[tokio::test]
async fn certificate_problems_name_the_thumbprint_or_the_clock() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    let (_dir, pem) = cert_path();
    let settings = sim.settings(EntraCredential::Certificate(pem));

    let other = CertificateCredential::from_pem(OTHER_PEM).unwrap();
    let tokens = TokenSource::with_certificate(&settings, other.clone(), RetryPolicy::fast());
    let e = tokens.token().await.unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, EntraError::CertificateNotRegistered { .. }),
        "{e:?}"
    );
    assert!(
        text.contains(&format!("SHA-1 thumbprint {}", other.thumbprint())),
        "{text}"
    );
    assert!(
        text.contains("Upload its public part") && text.contains("AADSTS700027"),
        "{text}"
    );

    // A clock an hour fast: the assertion is not yet valid at Entra's "now".
    let cert = CertificateCredential::from_pem(APP_PEM).unwrap();
    let ahead = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let assertion = cert
        .assertion_at(CLIENT_ID, &token_endpoint(&settings), ahead)
        .unwrap();
    let (status, body) = raw_token(&sim, &settings, &[("client_assertion", &assertion)]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_codes"][0], 700024);
    let error = serde_json::from_value::<super::error::AadErrorBody>(body)
        .unwrap()
        .into_error(
            401,
            &super::error::SignInContext {
                tenant: &settings.tenant,
                client_id: CLIENT_ID,
                scope: &settings.graph_scope,
                thumbprint: None,
            },
        );
    let text = error.to_string();
    assert!(
        text.contains("this computer's clock is probably wrong") && text.contains("AADSTS700024"),
        "{text}"
    );

    // A key that does not belong to the registered certificate: the signature fails.
    let mut mixed = APP_PEM
        .split("-----BEGIN PRIVATE KEY-----")
        .next()
        .unwrap()
        .to_owned();
    mixed.push_str(&OTHER_PEM[OTHER_PEM.find("-----BEGIN PRIVATE KEY-----").unwrap()..]);
    let mismatched = CertificateCredential::from_pem(&mixed).unwrap();
    let e = TokenSource::with_certificate(&settings, mismatched, RetryPolicy::fast())
        .token()
        .await
        .unwrap_err();
    assert!(matches!(e, EntraError::AssertionSignature { .. }), "{e:?}");
}

async fn raw_token(
    sim: &EntraSim,
    settings: &EntraSettings,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("scope", settings.graph_scope.as_str()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
    ];
    form.extend_from_slice(extra);
    let response = reqwest::Client::new()
        .post(token_endpoint(settings))
        .form(&form)
        .send()
        .await
        .unwrap();
    let _ = sim;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire_and_when_graph_refuses_them() {
    let sim = EntraSim::start(fixture(false)).await.unwrap();
    sim.set_token_lifetime_secs(2);
    let settings = secret_settings(&sim);
    let tokens = Arc::new(
        TokenSource::with_secret(&settings, Secret::new(SECRET), RetryPolicy::fast())
            .renew_before(Duration::from_secs(1)),
    );
    let graph = GraphClient::with_tokens(&settings, tokens.clone(), RetryPolicy::fast());
    graph.list_groups().await.unwrap();
    graph.list_groups().await.unwrap();
    assert_eq!(tokens.requests_sent(), 1, "still valid: reused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    graph.list_groups().await.unwrap();
    assert_eq!(
        tokens.requests_sent(),
        2,
        "within the renewal margin: renewed"
    );

    // A token Graph stops accepting while it is still cached: the 401 makes the client renew
    // once and go on from the same page.
    sim.set_token_lifetime_secs(3599);
    graph.list_groups().await.unwrap();
    let before = tokens.requests_sent();
    sim.revoke_tokens();
    assert_eq!(graph.list_groups().await.unwrap().len(), 4);
    assert_eq!(tokens.requests_sent(), before + 1);
}
