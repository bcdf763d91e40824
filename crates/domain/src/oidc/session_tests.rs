//! Browser sessions at the provider, on a fake clock: found by their cookie only, kept alive by
//! use until the idle limit, ended at the absolute limit whatever the use, a fresh secret and id
//! at every sign-in, and CSRF tokens bound to the session.
use super::session::{self, csrf_ok, csrf_token};
use super::Acr;
use crate::testing::{platform, TestPlatform};

async fn live(t: &TestPlatform, cookie: &str) -> bool {
    session::session(&t.p.oidc, Some(cookie))
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_session_is_found_by_its_cookie_alone_with_what_the_sign_in_achieved() {
    let t = platform().await;
    let rid = t.resident("A123456(3)").await;
    let at = t.p.clock.now_ms();
    let (cookie, s) = session::create(
        &t.p.oidc,
        &rid,
        Some("dv_phone"),
        at,
        Acr::Plus,
        vec!["hwk".into(), "face".into()],
    )
    .await
    .unwrap();
    let found = session::session(&t.p.oidc, Some(&cookie))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            found.sid,
            found.resident_id,
            found.device_id,
            found.auth_time,
            found.acr,
            found.amr
        ),
        (
            s.sid.clone(),
            rid.clone(),
            Some("dv_phone".to_string()),
            at,
            Acr::Plus,
            s.amr
        )
    );
    // No cookie, an empty or oversized one, another's: no session.
    let oversized = "x".repeat(300);
    for other in [
        None,
        Some(""),
        Some(oversized.as_str()),
        Some("not-a-session"),
    ] {
        assert!(session::session(&t.p.oidc, other).await.unwrap().is_none());
    }
    // Each sign-in gets a new secret and a new public id.
    let (again, s2) = session::create(&t.p.oidc, &rid, None, at, Acr::Basic, vec![])
        .await
        .unwrap();
    assert_ne!(again, cookie);
    assert_ne!(s2.sid, s.sid);
    assert!(live(&t, &cookie).await && live(&t, &again).await);
}

#[tokio::test]
async fn use_keeps_a_session_alive_until_its_absolute_end_and_idleness_ends_it() {
    let t = platform().await;
    let rid = t.resident("A123456(3)").await;
    let policy = t.p.oidc.provider.policy.clone();
    let now = t.p.clock.now_ms();
    let (used, _) = session::create(&t.p.oidc, &rid, None, now, Acr::Basic, vec![])
        .await
        .unwrap();
    let (idle, _) = session::create(&t.p.oidc, &rid, None, now, Acr::Basic, vec![])
        .await
        .unwrap();
    let (edge, _) = session::create(&t.p.oidc, &rid, None, now, Acr::Basic, vec![])
        .await
        .unwrap();
    // Looking a session up is using it: `used` every half idle period, `edge` once just
    // inside the idle limit, `idle` not until past it.
    let step = policy.session_idle_ms / 2;
    t.clock.advance(step);
    assert!(live(&t, &used).await);
    t.clock.advance(step - 1);
    assert!(live(&t, &edge).await, "just inside the idle limit");
    assert!(live(&t, &used).await);
    t.clock.advance(2);
    assert!(!live(&t, &idle).await, "idle past the limit");
    assert!(live(&t, &used).await, "kept alive by use");
    assert!(live(&t, &edge).await, "used just before the limit");
    // Kept in use, it still ends at its absolute end.
    let mut elapsed = 2 * step + 1;
    while elapsed + step < policy.session_ttl_ms {
        t.clock.advance(step);
        elapsed += step;
        assert!(live(&t, &used).await, "in use at {elapsed} ms");
    }
    t.clock.advance(policy.session_ttl_ms - elapsed);
    assert!(!live(&t, &used).await, "past the absolute end");
}

#[tokio::test]
async fn csrf_tokens_belong_to_one_session() {
    let t = platform().await;
    let rid = t.resident("A123456(3)").await;
    let now = t.p.clock.now_ms();
    let (a, _) = session::create(&t.p.oidc, &rid, None, now, Acr::Basic, vec![])
        .await
        .unwrap();
    let (b, _) = session::create(&t.p.oidc, &rid, None, now, Acr::Basic, vec![])
        .await
        .unwrap();
    let token = csrf_token(&t.p.oidc, &a);
    assert_eq!(token, csrf_token(&t.p.oidc, &a), "derived, not stored");
    assert!(csrf_ok(&t.p.oidc, &a, &token));
    assert!(!csrf_ok(&t.p.oidc, &b, &token), "another session's");
    assert!(!csrf_ok(&t.p.oidc, &a, ""));
    assert!(!csrf_ok(&t.p.oidc, &a, &token[1..]));
}
