//! Issue 17: a login's QR code that runs out before the resident answers is replaced on the same
//! page by a new one (a new request, match code and time), once however many pages of the
//! login ask at once, until the login is [`super::LOGIN_RENEWAL_WINDOW_MS`] old; then the
//! service hears that the request expired.
use super::{authorize, continue_login, Outcome, LOGIN_RENEWAL_WINDOW_MS};
use crate::oidc::clients::{self, ClientMetadata};
use crate::testing;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

fn form(pairs: &[(&str, &str)]) -> super::Form {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_code_is_renewed_once_however_many_pages_ask() {
    let t = testing::platform().await;
    let redirect = "https://renewal.example/cb";
    let meta = ClientMetadata::for_profile(
        "Renewal test",
        vec![redirect.into()],
        crate::oidc::clients::ClientProfile::Basic,
    );
    let client = clients::register(&t.p.oidc, meta, "operator:test", true)
        .await
        .unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(iamsmart_crypto::hash::sha256(
        b"a verifier of enough length, forty-three+",
    ));
    let request = form(&[
        ("client_id", &client.client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", "openid"),
        ("state", "s1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let Outcome::Login(first) = authorize(&t.p.oidc, &request, None).await else {
        panic!("a login page");
    };
    let secret = first
        .browser_secret
        .clone()
        .expect("the page binds the browser");

    // Still waiting: the same code.
    let Outcome::Login(same) = continue_login(&t.p.oidc, &first.tx, Some(&secret), None).await
    else {
        panic!("still the login page");
    };
    assert_eq!(same.qr, first.qr);

    // The code runs out; fifty pages of this login look at once: one new code for all.
    t.clock.advance(t.p.identity.policy.approval_ttl_ms + 1);
    let pages: Vec<_> = (0..50)
        .map(|_| {
            let (p, tx, secret) = (t.p.clone(), first.tx.clone(), secret.clone());
            tokio::spawn(async move { continue_login(&p.oidc, &tx, Some(&secret), None).await })
        })
        .collect();
    let mut shown = std::collections::BTreeSet::new();
    for page in pages {
        match page.await.unwrap() {
            Outcome::Login(p) => {
                assert_ne!(p.qr, first.qr, "a new code");
                assert!(
                    p.expires_at > t.p.clock.now_ms(),
                    "with a new time to answer"
                );
                shown.insert((p.qr, p.match_code));
            }
            _ => panic!("every page shows the new code"),
        }
    }
    assert_eq!(shown.len(), 1, "one renewal: {shown:?}");
    let requests = crate::authn::approvals::count_for_client(&t.p, &client.client_id)
        .await
        .unwrap();
    assert_eq!(requests, 2, "the first request and one renewal");

    // Renewed again while the login is young; once it is older than the window, the service is
    // told that the request expired (and nothing more is created).
    t.clock.advance(t.p.identity.policy.approval_ttl_ms + 1);
    assert!(matches!(
        continue_login(&t.p.oidc, &first.tx, Some(&secret), None).await,
        Outcome::Login(_)
    ));
    t.clock.advance(LOGIN_RENEWAL_WINDOW_MS);
    match continue_login(&t.p.oidc, &first.tx, Some(&secret), None).await {
        Outcome::Redirect(to) => {
            assert!(
                to.starts_with(redirect) && to.contains("error=access_denied"),
                "{to}"
            );
        }
        _ => panic!("back to the service"),
    }
    // Another browser cannot renew someone's login.
    let other = authorize(&t.p.oidc, &request, None).await;
    let Outcome::Login(other) = other else {
        panic!("a login page")
    };
    t.clock.advance(t.p.identity.policy.approval_ttl_ms + 1);
    assert!(matches!(
        continue_login(&t.p.oidc, &other.tx, Some("not the browser"), None).await,
        Outcome::ErrorPage(_)
    ));
}
