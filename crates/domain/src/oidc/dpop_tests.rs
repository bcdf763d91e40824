//! The rules of a DPoP proof (RFC 9449), one by one, on a fake clock: what `verify` accepts,
//! what `parse` refuses before any database is asked, and that a proof is used once however
//! many requests carry it at the same time.
use super::dpop::ath;
use super::error::{OAuthError, OResult};
use crate::guard::Spent;
use crate::testing::platform;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::jose::{Alg, JwsHeader};
use serde_json::json;

const URL: &str = "https://id.example/token";

/// What the token endpoint does with a proof: verify it, then record its `jti` (here on its own;
/// the endpoint records it with the request's effect).
mod dpop {
    use super::*;
    pub async fn verify(
        p: &crate::oidc::Oidc,
        proof: &str,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> OResult<String> {
        let mut spent = Spent::new();
        let jkt = super::super::dpop::verify(p, proof, method, url, access_token, &mut spent)?;
        spent.spend(p).await.map_err(OAuthError::from)??;
        Ok(jkt)
    }
    pub use super::super::dpop::parse;
}

/// The platform's time in Unix seconds, as a proof's `iat`.
fn now_s(t: &crate::testing::TestPlatform) -> i64 {
    t.p.clock.now_ms() / 1000
}

/// A proof signed by `key` with this header and these claims (any of them wrong on purpose).
fn signed(key: &DeviceKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let mut extra = serde_json::Map::new();
    for (k, v) in header.as_object().unwrap() {
        if k != "alg" && k != "typ" {
            extra.insert(k.clone(), v.clone());
        }
    }
    let header = JwsHeader {
        alg: Alg::ES256,
        kid: None,
        typ: header["typ"].as_str().map(str::to_string),
        extra,
    };
    key.sign_with(&header, claims.to_string().as_bytes())
        .unwrap()
}

fn public(key: &DeviceKey) -> serde_json::Value {
    let mut jwk = key.public_jwk();
    jwk.kid = None;
    serde_json::to_value(jwk).unwrap()
}

#[tokio::test]
async fn a_proof_is_accepted_once_for_its_method_and_url_and_names_its_key() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let proof = key
        .dpop_proof("POST", URL, None, "jti-1", now_s(&t))
        .unwrap();
    let mut jwk = key.public_jwk();
    jwk.kid = None;
    let jkt = dpop::verify(&t.p.oidc, &proof, "POST", URL, None)
        .await
        .unwrap();
    assert_eq!(jkt, jwk.thumbprint());
    let e = dpop::verify(&t.p.oidc, &proof, "POST", URL, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already used"), "{e}");
    // The same jti from another key is another proof.
    let other = DeviceKey::generate().unwrap();
    let proof = other
        .dpop_proof("POST", URL, None, "jti-1", now_s(&t))
        .unwrap();
    assert!(dpop::verify(&t.p.oidc, &proof, "POST", URL, None)
        .await
        .is_ok());
    // A query or a fragment is not part of what htu names.
    let proof = key
        .dpop_proof(
            "GET",
            "https://id.example/userinfo?x=1",
            None,
            "jti-2",
            now_s(&t),
        )
        .unwrap();
    assert!(dpop::verify(
        &t.p.oidc,
        &proof,
        "GET",
        "https://id.example/userinfo#f",
        None
    )
    .await
    .is_ok());
}

#[tokio::test]
async fn a_proof_for_another_request_or_time_is_refused() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let skew_s = t.p.oidc.provider.policy.skew_ms / 1000;
    let now = now_s(&t);
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            key.dpop_proof("GET", URL, None, "a", now).unwrap(),
            "POST",
            URL,
            "htm",
        ),
        (
            key.dpop_proof("POST", "https://id.example/par", None, "b", now)
                .unwrap(),
            "POST",
            URL,
            "htu",
        ),
        (
            key.dpop_proof("POST", "https://other.example/token", None, "c", now)
                .unwrap(),
            "POST",
            URL,
            "htu",
        ),
        (
            key.dpop_proof("POST", URL, None, "d", now - skew_s - 1)
                .unwrap(),
            "POST",
            URL,
            "too old",
        ),
        (
            key.dpop_proof("POST", URL, None, "e", now + skew_s + 1)
                .unwrap(),
            "POST",
            URL,
            "future",
        ),
        (
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": public(&key) }),
                json!({ "htm": "POST", "htu": URL, "iat": now }),
            ),
            "POST",
            URL,
            "jti",
        ),
        (
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": public(&key) }),
                json!({ "jti": "f", "htm": "POST", "htu": URL }),
            ),
            "POST",
            URL,
            "iat",
        ),
    ];
    for (proof, method, url, why) in cases {
        let e = dpop::verify(&t.p.oidc, &proof, method, url, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
    // Within the allowed skew either way, it passes.
    for (jti, iat) in [("g", now - skew_s + 1), ("h", now + skew_s - 1)] {
        let proof = key.dpop_proof("POST", URL, None, jti, iat).unwrap();
        assert!(dpop::verify(&t.p.oidc, &proof, "POST", URL, None)
            .await
            .is_ok());
    }
    // A proof made now is too old once the platform's clock has moved past the skew.
    let proof = key.dpop_proof("POST", URL, None, "i", now).unwrap();
    t.clock.advance(t.p.oidc.provider.policy.skew_ms + 1_000);
    let e = dpop::verify(&t.p.oidc, &proof, "POST", URL, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("too old"), "{e}");
}

#[tokio::test]
async fn with_an_access_token_the_proof_must_carry_its_hash() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let now = now_s(&t);
    let good = key
        .dpop_proof("GET", URL, Some("token-1"), "a", now)
        .unwrap();
    assert!(dpop::verify(&t.p.oidc, &good, "GET", URL, Some("token-1"))
        .await
        .is_ok());
    let other = key
        .dpop_proof("GET", URL, Some("token-2"), "b", now)
        .unwrap();
    let none = key.dpop_proof("GET", URL, None, "c", now).unwrap();
    for proof in [other, none] {
        let e = dpop::verify(&t.p.oidc, &proof, "GET", URL, Some("token-1"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("ath"), "{e}");
    }
    assert_eq!(ath("token-1").len(), 43);
}

#[test]
fn proofs_that_choose_their_own_rules_or_do_not_verify_are_refused_unread() {
    let key = DeviceKey::generate().unwrap();
    let claims = json!({ "jti": "a", "htm": "POST", "htu": URL, "iat": 0 });
    let mut private = public(&key);
    private["d"] = json!("AAAA");
    let cases = [
        (
            signed(
                &key,
                json!({ "typ": "JWT", "jwk": public(&key) }),
                claims.clone(),
            ),
            "typ",
        ),
        (
            signed(&key, json!({ "typ": "dpop+jwt" }), claims.clone()),
            "jwk header",
        ),
        (
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": private }),
                claims.clone(),
            ),
            "public key",
        ),
        (
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": public(&key), "jku": "https://evil.example/jwks" }),
                claims.clone(),
            ),
            "jku",
        ),
        (
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": public(&key), "crit": ["exp"] }),
                claims.clone(),
            ),
            "crit",
        ),
        (
            // Signed by one key, naming another.
            signed(
                &key,
                json!({ "typ": "dpop+jwt", "jwk": public(&DeviceKey::generate().unwrap()) }),
                claims.clone(),
            ),
            "does not verify",
        ),
        ("a.b".to_string(), "compact JWS"),
        ("x".repeat(5000), "too long"),
    ];
    for (proof, why) in cases {
        let e = dpop::parse(&proof).unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
    // A payload changed after signing no longer verifies.
    let good = key.dpop_proof("POST", URL, None, "z", 0).unwrap();
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({ "jti": "z", "htm": "GET", "htu": URL, "iat": 0 }).to_string())
    };
    let e = dpop::parse(&parts.join(".")).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    assert!(dpop::parse(&good).is_ok());
}

#[tokio::test]
async fn fifty_requests_carrying_one_proof_at_once_get_one_acceptance() {
    let t = platform().await;
    let key = DeviceKey::generate().unwrap();
    let proof = key
        .dpop_proof("POST", URL, None, "shared", now_s(&t))
        .unwrap();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (oidc, proof) = (t.p.oidc.clone(), proof.clone());
        callers.spawn(async move { dpop::verify(&oidc, &proof, "POST", URL, None).await.is_ok() });
    }
    let mut accepted = 0;
    while let Some(ok) = callers.join_next().await {
        accepted += usize::from(ok.unwrap());
    }
    assert_eq!(accepted, 1);
}
