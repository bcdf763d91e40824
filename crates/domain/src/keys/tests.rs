use super::*;
use crate::clock::Clock;
use crate::testing::platform;
use iamsmart_crypto::jose::verify_compact;

#[tokio::test]
async fn first_start_creates_token_log_kek_and_connector_keys() {
    let t = platform().await;
    let keys = t.p.keys.list().await.unwrap();
    let purposes: Vec<&str> = keys.iter().map(|k| k.purpose.as_str()).collect();
    assert_eq!(purposes, ["connector", "kek", "log", "token"]);
    // Bootstrapping again changes nothing.
    t.p.keys.bootstrap().await.unwrap();
    assert_eq!(t.p.keys.list().await.unwrap().len(), 4);
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_keeps_old_key_until_tokens_expire() {
    let t = platform().await;
    let k = &t.p.keys;
    let old = k.active(Purpose::Token, Some(Alg::ES256)).await.unwrap();
    let old_token = k
        .sign_jws(Purpose::Token, Alg::ES256, Some("JWT"), b"{\"n\":1}")
        .await
        .unwrap();

    let new = k.rotate(Purpose::Token, Alg::ES256, false).await.unwrap();
    // Published at once, not yet signing.
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    let kids: Vec<_> = jwks.iter().filter_map(|j| j.kid.clone()).collect();
    assert!(
        kids.contains(&old.kid) && kids.contains(&new.kid),
        "{kids:?}"
    );
    assert_eq!(
        k.active(Purpose::Token, Some(Alg::ES256))
            .await
            .unwrap()
            .kid,
        old.kid
    );

    // After the publish lead the new key signs; the old one still verifies.
    t.clock.advance(60_000);
    assert_eq!(
        k.active(Purpose::Token, Some(Alg::ES256))
            .await
            .unwrap()
            .kid,
        new.kid
    );
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    assert!(verify_compact(&old_token, &jwks, &[Alg::ES256]).is_ok());
    let new_token = k
        .sign_jws(Purpose::Token, Alg::ES256, None, b"{}")
        .await
        .unwrap();
    assert!(verify_compact(&new_token, &jwks, &[Alg::ES256]).is_ok());

    // Once the longest token lifetime has passed, the old key leaves the JWKS.
    t.clock.advance(3_600_000);
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    assert_eq!(jwks.len(), 1);
    assert!(verify_compact(&old_token, &jwks, &[Alg::ES256]).is_err());
    assert!(verify_compact(&new_token, &jwks, &[Alg::ES256]).is_ok());
    assert_eq!(
        k.by_kid(&old.kid).await.unwrap().state(t.clock.now_ms()),
        "retired"
    );
}

#[tokio::test]
async fn immediate_rotation_and_other_algorithms() {
    let t = platform().await;
    let k = &t.p.keys;
    let ed = k.rotate(Purpose::Token, Alg::EdDSA, true).await.unwrap();
    assert_eq!(
        k.active(Purpose::Token, Some(Alg::EdDSA))
            .await
            .unwrap()
            .kid,
        ed.kid
    );
    let jws = k
        .sign_jws(Purpose::Token, Alg::EdDSA, None, b"x")
        .await
        .unwrap();
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    assert_eq!(verify_compact(&jws, &jwks, &[Alg::EdDSA]).unwrap().1, b"x");
    // The ES256 key is untouched by an EdDSA rotation.
    assert!(k.active(Purpose::Token, Some(Alg::ES256)).await.is_ok());
}
