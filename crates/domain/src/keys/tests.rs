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

/// Issue 16, finding 7: after a compromise, `rotate --immediate` and `keys revoke` stop the old
/// key at once, not when its tokens would have expired; a revoked signing key is replaced at
/// once; key-encryption and CA keys are refused with the command that replaces them.
#[tokio::test]
async fn an_emergency_rotation_or_revocation_retires_the_old_key_at_once() {
    let t = platform().await;
    let k = &t.p.keys;
    let old = k.active(Purpose::Token, Some(Alg::ES256)).await.unwrap();
    let old_token = k
        .sign_jws(Purpose::Token, Alg::ES256, None, b"{}")
        .await
        .unwrap();
    // A rotation scheduled before (waiting for its publish lead) does not delay the emergency.
    let pending = k.rotate(Purpose::Token, Alg::ES256, false).await.unwrap();
    let new = k.rotate(Purpose::Token, Alg::ES256, true).await.unwrap();
    // The old keys retire the moment the new one signs: the next millisecond here, as the
    // fake clock stands still and a new key always activates after the one it replaces.
    assert!(new.activate_at <= t.clock.now_ms() + 1);
    t.clock.advance(1);
    assert_eq!(
        k.active(Purpose::Token, Some(Alg::ES256))
            .await
            .unwrap()
            .kid,
        new.kid
    );
    assert_eq!(
        k.by_kid(&pending.kid)
            .await
            .unwrap()
            .state(t.clock.now_ms()),
        "retired"
    );
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    assert!(
        verify_compact(&old_token, &jwks, &[Alg::ES256]).is_err(),
        "the old key verifies nothing from now on"
    );
    assert_eq!(
        k.by_kid(&old.kid).await.unwrap().state(t.clock.now_ms()),
        "retired"
    );

    // `keys revoke` on the key now signing: a new one takes over, the revoked one is gone.
    let new_token = k
        .sign_jws(Purpose::Token, Alg::ES256, None, b"{}")
        .await
        .unwrap();
    t.clock.advance(1);
    let replacement = k.revoke(&new.kid).await.unwrap().expect("a replacement");
    let jwks = k.jwks(Purpose::Token).await.unwrap();
    assert!(verify_compact(&new_token, &jwks, &[Alg::ES256]).is_err());
    assert_eq!(
        k.active(Purpose::Token, Some(Alg::ES256))
            .await
            .unwrap()
            .kid,
        replacement.kid
    );
    assert!(matches!(
        k.revoke(&new.kid).await,
        Err(DomainError::Refused {
            code: "already-retired",
            ..
        })
    ));

    // The connector key too (what other organisations' systems accept).
    let connector = k
        .active(Purpose::Connector, Some(Alg::ES256))
        .await
        .unwrap();
    t.clock.advance(1);
    let next = k.revoke(&connector.kid).await.unwrap().unwrap();
    assert!(k
        .jwks(Purpose::Connector)
        .await
        .unwrap()
        .iter()
        .all(|j| j.kid.as_deref() != Some(connector.kid.as_str())));
    assert_eq!(
        k.active(Purpose::Connector, Some(Alg::ES256))
            .await
            .unwrap()
            .kid,
        next.kid
    );

    // A KEK is replaced by a rotation and a re-wrap, never revoked under the data.
    let kek = k.active(Purpose::Kek, None).await.unwrap();
    assert!(matches!(
        k.revoke(&kek.kid).await,
        Err(DomainError::Refused {
            code: "kek-revoke",
            ..
        })
    ));
    assert!(matches!(
        k.revoke("no-such-key").await,
        Err(DomainError::NotFound)
    ));
}
