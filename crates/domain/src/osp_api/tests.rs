//! The compatible API's rules on a fake clock: registration, each refusal of a call and its
//! code, single-use nonces under concurrency, content keys and their lifetime. The whole sign-in
//! (getQR, the app, getToken) is driven by an independent client in `interop/python`.
use super::*;
use crate::testing::{platform, TestPlatform};
use iamsmart_crypto::osp_api as wire;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../crypto/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn api_client(t: &TestPlatform) -> ApiClient {
    let meta = ClientMetadata::for_profile(
        "Compatible",
        vec!["https://osp.example/callback".into()],
        ClientProfile::IamsmartApi,
    );
    register(
        &t.p.oidc,
        meta,
        &fixture("osp-kek.cert.pem"),
        None,
        "operator:test",
    )
    .await
    .unwrap()
}

/// A signed call's headers, owned.
struct Call {
    client_id: String,
    method: String,
    timestamp: String,
    nonce: String,
    signature: String,
}

impl Call {
    fn new(t: &TestPlatform, c: &ApiClient, nonce: &str, body: &[u8]) -> Call {
        Call::at(t.p.clock.now_ms(), c, nonce, body)
    }

    fn at(ms: i64, c: &ApiClient, nonce: &str, body: &[u8]) -> Call {
        let ts = ms.to_string();
        let msg = wire::signed_message(&c.registered.client_id, "HmacSHA256", &ts, nonce, body);
        Call {
            client_id: c.registered.client_id.to_string(),
            method: "HmacSHA256".into(),
            timestamp: ts,
            nonce: nonce.into(),
            signature: wire::sign(c.client_secret.as_bytes(), &msg),
        }
    }

    fn headers(&self) -> SignatureHeaders<'_> {
        SignatureHeaders {
            client_id: Some(&self.client_id),
            signature_method: Some(&self.method),
            timestamp: Some(&self.timestamp),
            nonce: Some(&self.nonce),
            signature: Some(&self.signature),
        }
    }
}

async fn code_of(t: &TestPlatform, call: &Call, body: &[u8]) -> ApiCode {
    match authenticate(&t.p.oidc, &call.headers(), body).await {
        Ok(_) => ApiCode::Success,
        Err(e) => e.code,
    }
}

#[tokio::test]
async fn registration_seals_the_secret_and_refuses_certificates_it_cannot_use() {
    let t = platform().await;
    let c = api_client(&t).await;
    assert_eq!(c.client_secret.len(), 43);
    assert_eq!(
        c.registered.metadata.token_endpoint_auth_method,
        "iamsmart_hmac"
    );
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM osp_api_clients WHERE client_id = $1")
            .bind(&c.registered.client_id)
            .fetch_one(t.p.db.reader())
            .await
            .unwrap();
    assert!(!stored
        .windows(c.client_secret.len())
        .any(|w| w == c.client_secret.as_bytes()));
    let meta = || {
        ClientMetadata::for_profile(
            "Other",
            vec!["https://other.example/cb".into()],
            ClientProfile::IamsmartApi,
        )
    };
    for bad in ["osp-kek-ec.cert.pem", "osp-kek-1024.cert.pem"] {
        let e = register(&t.p.oidc, meta(), &fixture(bad), None, "operator:test")
            .await
            .unwrap_err();
        assert_eq!(e.code, ApiCode::InvalidRequest, "{bad}: {e}");
    }
    // Only the operator (or the portal) registers these: not dynamic registration.
    let e = clients::register(&t.p.oidc, meta(), "dynamic", false)
        .await
        .unwrap_err();
    assert!(e.description.contains("operator"), "{e}");
    // The certificate must be valid now.
    t.clock.advance(25 * 365 * 86_400_000);
    let e = register(
        &t.p.oidc,
        meta(),
        &fixture("osp-kek.cert.pem"),
        None,
        "operator:test",
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, ApiCode::CertificateNotValid);
}

#[tokio::test]
async fn each_refusal_of_a_call_has_its_code_and_a_refused_call_uses_no_nonce() {
    let t = platform().await;
    let c = api_client(&t).await;
    let body = br#"{"code":"x","grantType":"authorization_code"}"#;
    let good = Call::new(&t, &c, "n-1", body);
    // The signature covers the body, and the secret is the client's.
    assert_eq!(code_of(&t, &good, b"{}").await, ApiCode::BadSignature);
    let mut wrong = Call::new(&t, &c, "n-1", body);
    wrong.signature = wire::sign(b"not the secret", b"whatever");
    assert_eq!(code_of(&t, &wrong, body).await, ApiCode::BadSignature);
    // Neither used the nonce up: the right call with it passes, once.
    assert_eq!(code_of(&t, &good, body).await, ApiCode::Success);
    assert_eq!(code_of(&t, &good, body).await, ApiCode::NonceReused);

    let mut method = Call::new(&t, &c, "n-2", body);
    method.method = "HmacSHA1".into();
    assert_eq!(
        code_of(&t, &method, body).await,
        ApiCode::UnsupportedSignatureMethod
    );
    let mut unknown = Call::new(&t, &c, "n-3", body);
    unknown.client_id = "c_nobodyatall".into();
    assert_eq!(code_of(&t, &unknown, body).await, ApiCode::UnknownClient);
    // An OpenID Connect client is not a client of this API, whatever it signs with.
    let oidc = t.service("Plain", "plain.example").await;
    let mut other = Call::new(&t, &c, "n-4", body);
    other.client_id = oidc.id.to_string();
    assert_eq!(code_of(&t, &other, body).await, ApiCode::UnknownClient);
    let mut nonce = Call::new(&t, &c, "has space", body);
    nonce.signature = "x".into();
    assert_eq!(code_of(&t, &nonce, body).await, ApiCode::InvalidRequest);

    // The timestamp: within the window either way, and not a digit more.
    let window = t.p.oidc.provider.policy.api_timestamp_window_ms;
    let early = Call::new(&t, &c, "n-5", body);
    t.clock.advance(window);
    assert_eq!(code_of(&t, &early, body).await, ApiCode::Success);
    let stale = Call::new(&t, &c, "n-6", body);
    t.clock.advance(window + 1);
    assert_eq!(code_of(&t, &stale, body).await, ApiCode::StaleTimestamp);
    let now = t.p.clock.now_ms();
    let ahead = Call::at(now + window, &c, "n-7", body);
    assert_eq!(code_of(&t, &ahead, body).await, ApiCode::Success);
    let too_far = Call::at(now + window + 1, &c, "n-7b", body);
    assert_eq!(code_of(&t, &too_far, body).await, ApiCode::StaleTimestamp);
    let mut text = Call::new(&t, &c, "n-8", body);
    text.timestamp = "+1767225600000".into();
    assert_eq!(code_of(&t, &text, body).await, ApiCode::StaleTimestamp);

    // Each header is required.
    let all = Call::new(&t, &c, "n-9", body);
    for i in 0..5 {
        let mut h = all.headers();
        match i {
            0 => h.client_id = None,
            1 => h.signature_method = None,
            2 => h.timestamp = Some(" "),
            3 => h.nonce = None,
            _ => h.signature = None,
        }
        let e = authenticate(&t.p.oidc, &h, body).await.unwrap_err();
        assert_eq!(e.code, ApiCode::MissingHeader, "{i}");
    }
}

#[tokio::test]
async fn fifty_calls_with_one_nonce_are_served_once() {
    let t = platform().await;
    let c = api_client(&t).await;
    let call = Call::new(&t, &c, "the-one-nonce", b"");
    let headers: [String; 5] = [
        call.client_id.clone(),
        call.method.clone(),
        call.timestamp.clone(),
        call.nonce.clone(),
        call.signature.clone(),
    ];
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (oidc, h) = (t.p.oidc.clone(), headers.clone());
        callers.spawn(async move {
            let headers = SignatureHeaders {
                client_id: Some(&h[0]),
                signature_method: Some(&h[1]),
                timestamp: Some(&h[2]),
                nonce: Some(&h[3]),
                signature: Some(&h[4]),
            };
            authenticate(&oidc, &headers, b"").await.map(|_| ())
        });
    }
    let (mut served, mut replays) = (0, 0);
    while let Some(r) = callers.join_next().await {
        match r.unwrap() {
            Ok(()) => served += 1,
            Err(e) if e.code == ApiCode::NonceReused => replays += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((served, replays), (1, 49));
}

#[tokio::test]
async fn content_keys_wrap_to_the_certificate_expire_and_are_purged() {
    let t = platform().await;
    let c = api_client(&t).await;
    let p = &t.p.oidc;
    let client = clients::get(p, &c.registered.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ContentKeys::of(p, &client).await.unwrap_err().code,
        ApiCode::NoContentKey
    );
    let answer = issue_content_key(p, &client).await.unwrap();
    assert_eq!(answer.issue_at, t.p.clock.now_ms());
    assert_eq!(answer.expires_in, p.provider.policy.api_content_key_ttl_ms);
    assert_eq!(answer.pub_key, c.kek_cert_sha256);
    assert_eq!(b64_decode(&answer.secret_key).len(), 256);
    let keys = ContentKeys::of(p, &client).await.unwrap();
    let sealed = keys.seal(p, b"{\"a\":1}").unwrap();
    assert_eq!(&keys.open(&sealed).unwrap()[..], b"{\"a\":1}");
    assert_eq!(keys.open("AAAAAAAA").unwrap_err().code, ApiCode::BadContent);
    // A newer key: both open what they sealed; answers are sealed under the newer.
    t.clock.advance(1000);
    issue_content_key(p, &client).await.unwrap();
    let both = ContentKeys::of(p, &client).await.unwrap();
    assert_eq!(&both.open(&sealed).unwrap()[..], b"{\"a\":1}");
    assert!(keys.open(&both.seal(p, b"x").unwrap()).is_err());
    // Both expire; the worker deletes them.
    t.clock
        .advance(p.provider.policy.api_content_key_ttl_ms + 1);
    assert_eq!(
        ContentKeys::of(p, &client).await.unwrap_err().code,
        ApiCode::NoContentKey
    );
    assert_eq!(purge_expired(&t.p).await.unwrap(), 2);
}

#[tokio::test]
async fn a_client_s_calls_are_kept_for_its_developers_seven_days() {
    let t = platform().await;
    let c = api_client(&t).await;
    let p = &t.p.oidc;
    let id = c.registered.client_id.to_string();
    record_call(
        p,
        &id,
        "/api/v1/auth/getToken",
        ApiCode::BadSignature,
        "tx-1",
    )
    .await
    .unwrap();
    t.clock.advance(1000);
    record_call(p, &id, "/api/v1/security/getKey", ApiCode::Success, "tx-2")
        .await
        .unwrap();
    // Not a client of this API, or no client: recorded nowhere.
    let oidc = t.service("Plain", "plain.example").await;
    record_call(
        p,
        &oidc.id,
        "/api/v1/auth/getToken",
        ApiCode::UnknownClient,
        "tx-3",
    )
    .await
    .unwrap();
    record_call(p, "c_nobody", "/x", ApiCode::UnknownClient, "tx-4")
        .await
        .unwrap();
    let calls = recent_calls(p, &id, 10).await.unwrap();
    assert_eq!(
        calls.iter().map(|c| c.tx_id.as_str()).collect::<Vec<_>>(),
        ["tx-2", "tx-1"]
    );
    assert_eq!(calls[1].code, "D10003");
    assert!(recent_calls(p, &oidc.id, 10).await.unwrap().is_empty());
    t.clock.advance(CALL_LOG_MS);
    assert_eq!(purge_expired(&t.p).await.unwrap(), 1);
    assert_eq!(recent_calls(p, &id, 10).await.unwrap().len(), 1);
}

fn b64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[tokio::test]
async fn the_openid_endpoints_refuse_a_client_of_the_compatible_api() {
    let t = platform().await;
    let c = api_client(&t).await;
    let client = clients::get(&t.p.oidc, &c.registered.client_id)
        .await
        .unwrap()
        .unwrap();
    let mut form = crate::oidc::request::Form::new();
    for (k, v) in [
        ("client_id", c.registered.client_id.to_string()),
        ("redirect_uri", "https://osp.example/callback".into()),
        ("response_type", "code".into()),
        ("scope", "openid".into()),
    ] {
        form.insert(k.into(), vec![v]);
    }
    let e = crate::oidc::request::validate(&t.p.oidc, &client, &form)
        .await
        .unwrap_err();
    assert!(e.description.contains("getQR"), "{e}");
    let creds = crate::oidc::client_auth::Presented {
        basic: Some((c.registered.client_id.clone(), c.client_secret.clone())),
        ..Default::default()
    };
    let e = crate::oidc::client_auth::authenticate(&t.p.oidc, &creds, "x", &mut Spent::new())
        .await
        .unwrap_err();
    assert_eq!(e.error, "invalid_client");
}

#[test]
fn the_integration_guide_lists_every_code() {
    let guide = std::fs::read_to_string(format!(
        "{}/../../docs/integration-guide.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for code in ApiCode::ALL {
        assert!(
            guide.contains(&format!("| `{}` |", code.as_str())),
            "docs/integration-guide.md has no table row for {}",
            code.as_str()
        );
    }
}
