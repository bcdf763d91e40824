//! Client authentication's rules, one by one, on a fake clock: a secret only for a client
//! registered with one, one method at a time, and a `private_key_jwt` assertion signed by the
//! client's registered key, naming the client and this provider, short-lived, used once.
use super::client_auth::{Presented, JWT_BEARER};
use super::clients::{self, ClientMetadata, ClientProfile};
use super::error::{OAuthError, OResult};
use crate::guard::Spent;
use crate::oidc::clients::ClientId;
use crate::testing::{platform, TestPlatform};
use iamsmart_crypto::device::DeviceKey;
use serde_json::json;

const ENDPOINT: &str = "http://localhost:8080/token";

/// What an endpoint does: authenticate, then record the assertion's `jti` (here on its own; the
/// endpoints record it with the request's effect).
async fn authenticate(
    p: &crate::oidc::Oidc,
    c: &Presented,
    endpoint: &str,
) -> OResult<clients::Client> {
    let mut spent = Spent::new();
    let client = super::client_auth::authenticate(p, c, endpoint, &mut spent).await?;
    spent.spend(p).await.map_err(OAuthError::from)??;
    Ok(client)
}

/// A client with a secret: (id, secret).
async fn secret_client(t: &TestPlatform) -> (ClientId, String) {
    let reg = clients::register(
        &t.p.oidc,
        ClientMetadata::for_profile(
            "Secret",
            vec!["https://s.example/cb".into()],
            ClientProfile::Basic,
        ),
        "operator:test",
        true,
    )
    .await
    .unwrap();
    (reg.client_id, reg.client_secret.unwrap())
}

/// A client with a key: (id, its key).
async fn key_client(t: &TestPlatform) -> (ClientId, DeviceKey) {
    let key = DeviceKey::generate().unwrap();
    let mut meta = ClientMetadata::for_profile(
        "Keyed",
        vec!["https://k.example/cb".into()],
        ClientProfile::Basic,
    );
    meta.token_endpoint_auth_method = "private_key_jwt".into();
    meta.jwks = Some(json!({ "keys": [key.public_jwk()] }));
    let reg = clients::register(&t.p.oidc, meta, "operator:test", true)
        .await
        .unwrap();
    (reg.client_id, key)
}

fn assertion(key: &DeviceKey, claims: serde_json::Value) -> String {
    let kid = key.public_jwk().kid.unwrap();
    key.sign_jws("JWT", &kid, claims.to_string().as_bytes())
        .unwrap()
}

fn with_assertion(jwt: String) -> Presented {
    Presented {
        assertion_type: Some(JWT_BEARER.into()),
        assertion: Some(jwt),
        ..Presented::default()
    }
}

async fn refusal(t: &TestPlatform, c: &Presented) -> String {
    authenticate(&t.p.oidc, c, ENDPOINT)
        .await
        .map(|c| c.id)
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn a_secret_authenticates_only_its_client_by_one_method() {
    let t = platform().await;
    let (id, secret) = secret_client(&t).await;
    let (keyed, _) = key_client(&t).await;
    let basic = |id: &str, secret: &str| Presented {
        basic: Some((ClientId::parse(id).unwrap(), secret.into())),
        ..Presented::default()
    };
    let ok = authenticate(&t.p.oidc, &basic(&id, &secret), ENDPOINT)
        .await
        .unwrap();
    assert_eq!(ok.id, id);
    for (c, why) in [
        (basic(&id, "wrong"), "wrong secret"),
        (basic("c_nobody", &secret), "wrong secret"),
        (basic(&keyed, &secret), "wrong secret"),
        (
            Presented {
                client_id: Some(keyed.clone()),
                ..basic(&id, &secret)
            },
            "differs",
        ),
        (
            Presented {
                assertion: Some("a.b.c".into()),
                ..basic(&id, &secret)
            },
            "one client authentication method",
        ),
        (Presented::default(), "required"),
    ] {
        let e = refusal(&t, &c).await;
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[tokio::test]
async fn an_assertion_must_be_the_clients_own_for_this_provider_short_lived_and_new() {
    let t = platform().await;
    let (id, key) = key_client(&t).await;
    let (secret_id, _) = secret_client(&t).await;
    let issuer = t.p.oidc.provider.policy.issuer.clone();
    let skew = t.p.oidc.provider.policy.skew_ms / 1000;
    let now = t.p.clock.now_ms() / 1000;
    let claims =
        |jti: &str| json!({ "iss": id, "sub": id, "aud": issuer, "exp": now + 60, "jti": jti });
    // Accepted: the issuer, the endpoint, the token or PAR endpoint wherever the assertion is
    // sent (RFC 9126 section 2), or a list holding one as audience; once each.
    for (jti, aud) in [
        ("a", json!(issuer)),
        ("b", json!(ENDPOINT)),
        ("c", json!(["x", ENDPOINT])),
        ("p", json!(format!("{issuer}/par"))),
        ("t", json!(format!("{issuer}/token"))),
    ] {
        let mut c = claims(jti);
        c["aud"] = aud;
        let ok = authenticate(&t.p.oidc, &with_assertion(assertion(&key, c)), ENDPOINT)
            .await
            .unwrap();
        assert_eq!(ok.id, id);
    }
    let e = refusal(&t, &with_assertion(assertion(&key, claims("a")))).await;
    assert!(e.contains("already used"), "{e}");
    let mut cases: Vec<(serde_json::Value, &str)> = Vec::new();
    let mut c = claims("d");
    c["sub"] = json!("someone-else");
    cases.push((c, "iss and sub"));
    let mut c = claims("e");
    c["aud"] = json!("https://other.example");
    cases.push((c, "aud"));
    let mut c = claims("f");
    c["exp"] = json!(now - skew);
    cases.push((c, "expired"));
    let mut c = claims("g");
    c["exp"] = json!(now + 3600 + skew + 1);
    cases.push((c, "too long"));
    let mut c = claims("h");
    c["iat"] = json!(now + skew + 1);
    cases.push((c, "not valid yet"));
    let mut c = claims("i");
    c["nbf"] = json!(now + skew + 1);
    cases.push((c, "not valid yet"));
    cases.push((claims(""), "jti"));
    let mut c = claims("j");
    c.as_object_mut().unwrap().remove("exp");
    cases.push((c, "needs iss, sub, aud, exp and jti"));
    for (c, why) in cases {
        let e = refusal(&t, &with_assertion(assertion(&key, c))).await;
        assert!(e.contains(why), "{why}: {e}");
    }
    // Signed by another key, for a client with a secret, or of the wrong type.
    let e = refusal(
        &t,
        &with_assertion(assertion(&DeviceKey::generate().unwrap(), claims("k"))),
    )
    .await;
    assert!(e.contains("client_assertion"), "{e}");
    let mut c = claims("l");
    c["iss"] = json!(secret_id);
    c["sub"] = json!(secret_id);
    let e = refusal(&t, &with_assertion(assertion(&key, c))).await;
    assert!(e.contains("client_secret_basic"), "{e}");
    let wrong_type = Presented {
        assertion_type: Some("urn:other".into()),
        ..with_assertion(assertion(&key, claims("m")))
    };
    let e = authenticate(&t.p.oidc, &wrong_type, ENDPOINT)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("client_assertion_type"), "{e}");
    let e = refusal(
        &t,
        &Presented {
            client_id: Some(secret_id.clone()),
            ..with_assertion(assertion(&key, claims("n")))
        },
    )
    .await;
    assert!(e.contains("differs"), "{e}");
    // An assertion good now has expired once the platform's clock moves past it.
    let late = with_assertion(assertion(&key, claims("o")));
    t.clock.advance((60 + skew) * 1000);
    let e = refusal(&t, &late).await;
    assert!(e.contains("expired"), "{e}");
}

#[tokio::test]
async fn fifty_requests_with_one_assertion_at_once_authenticate_once() {
    let t = platform().await;
    let (id, key) = key_client(&t).await;
    let now = t.p.clock.now_ms() / 1000;
    let issuer = t.p.oidc.provider.policy.issuer.clone();
    let jwt = assertion(
        &key,
        json!({ "iss": id, "sub": id, "aud": issuer, "exp": now + 60, "jti": "shared" }),
    );
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (oidc, presented) = (t.p.oidc.clone(), with_assertion(jwt.clone()));
        callers.spawn(async move { authenticate(&oidc, &presented, ENDPOINT).await.is_ok() });
    }
    let mut accepted = 0;
    while let Some(ok) = callers.join_next().await {
        accepted += usize::from(ok.unwrap());
    }
    assert_eq!(accepted, 1);
}
