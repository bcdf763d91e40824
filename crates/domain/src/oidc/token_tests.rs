//! The token endpoint's rules for codes and refresh tokens, on a fake clock: PKCE, a code used
//! once by the client it was issued to (a second use ends what the first gave), refresh tokens
//! rotated on each use (reuse ends the family), never a wider scope, and one winner among fifty
//! redeeming the same code at once.
use super::clients::Client;
use super::tokens::{self, pkce_ok, GrantData, TokenResponse};
use super::Acr;
use crate::guard::Spent;
use crate::testing::{platform, TestPlatform};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A grant for `c` and a code for it, as the authorization endpoint leaves them.
async fn code_for(t: &TestPlatform, c: &Client, rid: &str) -> String {
    let now = t.p.clock.now_ms();
    let mut tx = t.p.db.begin().await.unwrap();
    let gid = tokens::create_grant(
        &t.p.oidc,
        &mut tx,
        &GrantData {
            client_id: c.id.clone(),
            resident_id: rid.to_string(),
            device_id: None,
            sid: None,
            scope: "openid profile".into(),
            claims: vec![],
            acr: Acr::Basic,
            amr: vec!["hwk".into()],
            auth_time: now,
            nonce: None,
            authorization_details: None,
        },
        now,
    )
    .await
    .unwrap();
    let code = tokens::issue_code(
        &t.p.oidc,
        &mut tx,
        &gid,
        &c.id,
        &c.meta.redirect_uris[0],
        CHALLENGE,
        None,
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    code
}

async fn redeem(t: &TestPlatform, c: &Client, code: &str) -> Result<TokenResponse, String> {
    tokens::redeem_code(
        &t.p.oidc,
        c,
        code,
        Some(&c.meta.redirect_uris[0]),
        Some(VERIFIER),
        None,
        Spent::new(),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn refresh(
    t: &TestPlatform,
    c: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, String> {
    tokens::refresh(&t.p.oidc, c, token, scope, None, Spent::new())
        .await
        .map_err(|e| e.to_string())
}

#[test]
fn pkce_takes_only_the_s256_of_a_well_formed_verifier() {
    assert!(pkce_ok(VERIFIER, CHALLENGE), "RFC 7636's example");
    assert!(!pkce_ok(VERIFIER, VERIFIER), "plain is not accepted");
    assert!(!pkce_ok(&VERIFIER[1..], CHALLENGE));
    let short = "a".repeat(42);
    let long = "a".repeat(129);
    let odd = format!("{}!", &VERIFIER[..42]);
    for v in [short.as_str(), long.as_str(), odd.as_str(), ""] {
        assert!(!pkce_ok(v, CHALLENGE), "{v:?}");
    }
}

/// A platform with two services (`a.example` and `b.example`) and a resident.
async fn two_services_and_a_resident() -> (TestPlatform, Client, Client, String) {
    let t = platform().await;
    let c = t.service("Service", "a.example").await;
    let other = t.service("Service", "b.example").await;
    let rid = t.resident("A123456(3)").await;
    (t, c, other, rid)
}

#[tokio::test]
async fn a_code_serves_its_client_once_and_a_second_use_ends_what_it_gave() {
    let (t, c, other, rid) = two_services_and_a_resident().await;
    let code = code_for(&t, &c, &rid).await;
    // Only its client, with the same redirect_uri and the verifier.
    let e = redeem(&t, &other, &code).await.unwrap_err();
    assert!(e.contains("another client"), "{e}");
    let code = code_for(&t, &c, &rid).await;
    let e = tokens::redeem_code(
        &t.p.oidc,
        &c,
        &code,
        Some("https://a.example/other"),
        Some(VERIFIER),
        None,
        Spent::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("redirect_uri"), "{e}");
    for (verifier, why) in [
        (Some("x".repeat(43)), "code_verifier does not match"),
        (None, "required"),
    ] {
        let code = code_for(&t, &c, &rid).await;
        let e = tokens::redeem_code(
            &t.p.oidc,
            &c,
            &code,
            Some(&c.meta.redirect_uris[0]),
            verifier.as_deref(),
            None,
            Spent::new(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains(why), "{e}");
    }
    // Too late.
    let code = code_for(&t, &c, &rid).await;
    t.clock
        .advance(t.p.oidc.provider.policy.code_ttl_ms.min(60_000));
    let e = redeem(&t, &c, &code).await.unwrap_err();
    assert!(e.contains("expired"), "{e}");
    // Used twice: the second use fails and the tokens of the first stop working.
    let code = code_for(&t, &c, &rid).await;
    let first = redeem(&t, &c, &code).await.unwrap();
    let rt = first.refresh_token.clone().unwrap();
    assert!(tokens::verify_access_token(&t.p.oidc, &first.access_token)
        .await
        .is_ok());
    let e = redeem(&t, &c, &code).await.unwrap_err();
    assert!(e.contains("already used"), "{e}");
    assert!(tokens::verify_access_token(&t.p.oidc, &first.access_token)
        .await
        .is_err());
    let e = refresh(&t, &c, &rt, None).await.unwrap_err();
    assert!(e.contains("revoked"), "{e}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_family() {
    let (t, c, other, rid) = two_services_and_a_resident().await;
    let code = code_for(&t, &c, &rid).await;
    let r1 = redeem(&t, &c, &code).await.unwrap().refresh_token.unwrap();
    // Another client cannot use it (and does not end it).
    let e = refresh(&t, &other, &r1, None).await.unwrap_err();
    assert!(e.contains("another client"), "{e}");
    let code = code_for(&t, &c, &rid).await;
    let r1 = redeem(&t, &c, &code).await.unwrap().refresh_token.unwrap();
    // Never a wider scope; a narrower one is granted.
    let e = refresh(&t, &c, &r1, Some("openid email"))
        .await
        .unwrap_err();
    assert!(e.contains("widen"), "{e}");
    let code = code_for(&t, &c, &rid).await;
    let r1 = redeem(&t, &c, &code).await.unwrap().refresh_token.unwrap();
    let second = refresh(&t, &c, &r1, Some("openid")).await.unwrap();
    assert_eq!(second.scope, "openid");
    let r2 = second.refresh_token.unwrap();
    assert_ne!(r1, r2, "rotated");
    // The old one again: refused, and the new one with it.
    let e = refresh(&t, &c, &r1, None).await.unwrap_err();
    assert!(e.contains("already used"), "{e}");
    let e = refresh(&t, &c, &r2, None).await.unwrap_err();
    assert!(e.contains("revoked"), "{e}");
    // A family ends at its absolute lifetime, however often it is used.
    let code = code_for(&t, &c, &rid).await;
    let mut rt = redeem(&t, &c, &code).await.unwrap().refresh_token.unwrap();
    let ttl = t.p.oidc.provider.policy.refresh_ttl_ms;
    t.clock.advance(ttl / 2);
    rt = refresh(&t, &c, &rt, None)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    t.clock.advance(ttl / 2);
    assert!(
        refresh(&t, &c, &rt, None).await.is_err(),
        "past the family's end"
    );
}

#[tokio::test]
async fn fifty_redemptions_of_one_code_at_once_give_tokens_once() {
    let t = platform().await;
    let c = t.service("Service", "a.example").await;
    let rid = t.resident("A123456(3)").await;
    let code = code_for(&t, &c, &rid).await;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (oidc, c, code) = (t.p.oidc.clone(), c.clone(), code.clone());
        callers.spawn(async move {
            let redirect = c.meta.redirect_uris[0].clone();
            tokens::redeem_code(
                &oidc,
                &c,
                &code,
                Some(&redirect),
                Some(VERIFIER),
                None,
                Spent::new(),
            )
            .await
            .is_ok()
        });
    }
    let mut issued = 0;
    while let Some(ok) = callers.join_next().await {
        issued += usize::from(ok.unwrap());
    }
    assert_eq!(issued, 1);
}
