//! Browser sessions at the provider (the "Sessions" cases of the standards list): a fresh
//! 256-bit secret at every sign-in, so a cookie planted before it is never adopted (session
//! fixation), and again at step-up; the cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`; revoking
//! the phone that signed in, or closing the account, ends the session and its tokens at once.
mod common;
use common::rp::*;
use common::signing::percent;
use common::*;
use serde_json::Value;
use std::sync::Arc;

const PLANTED: &str = "planted-by-someone-else-before-the-sign-in";

/// The `iamsmart-session` cookie a response sets: (value, attributes).
fn session_set_cookie(r: &reqwest::Response) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("iamsmart-session="))
        .map(|c| {
            let (value, attrs) = c.split_once(';').unwrap_or((c, ""));
            (value.to_string(), attrs.to_string())
        })
}

/// A full sign-in in `b` (the app approves); returns the session cookie it sets.
async fn sign_in_watching_the_cookie(
    b: &reqwest::Client,
    rp: &Rp,
    home: &std::path::Path,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (request_uri, _, _, _) = rp.par("openid", extra).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let page = open_login(b, &url).await;
    let done = ok_json(&app(
        home,
        &["approve", &page.qr, "--match", &page.match_code, "--yes"],
    ));
    assert_eq!(done["status"], "approved");
    let r = b.get(rp.url(&page.continue_url)).send().await.unwrap();
    let set = session_set_cookie(&r).expect("the sign-in sets the session cookie");
    let q = consent_if_asked(b, &rp.base, r, true).await;
    assert!(q.contains_key("code"), "{q:?}");
    set
}

#[tokio::test]
async fn every_sign_in_and_step_up_gets_a_fresh_session_secret_and_a_planted_one_is_ignored() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let base: reqwest::Url = srv.base.parse().unwrap();
    jar.add_cookie_str(&format!("iamsmart-session={PLANTED}; Path=/"), &base);
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (first, attrs) = sign_in_watching_the_cookie(&b, &rp, &home, &[]).await;
    assert_ne!(first, PLANTED, "a planted session id is never adopted");
    let attrs = attrs.to_ascii_lowercase();
    for want in ["httponly", "samesite=lax", "path=/"] {
        assert!(attrs.contains(want), "{want} in {attrs}");
    }
    // 32 random bytes, base64url: at least 128 bits whatever the alphabet.
    assert!(first.len() >= 43, "{first}");
    assert!(first
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    // The planted value names no session.
    let planted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = planted
        .get(rp.url("/account"))
        .header("cookie", format!("iamsmart-session={PLANTED}"))
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("resident-name"));

    // Step-up (a fresh authentication is demanded): another new secret.
    let (second, _) = sign_in_watching_the_cookie(&b, &rp, &home, &[("max_age", "0")]).await;
    assert_ne!(second, first, "the session id is renewed at step-up");
    // And a plain new sign-in in another browser never shares it.
    let other = browser();
    let (third, _) = sign_in_watching_the_cookie(&other, &rp, &home, &[]).await;
    assert!(third != first && third != second);
}

/// Sign in to `rp` in a new browser and return it with its access and refresh tokens.
async fn signed_in_browser(rp: &Rp, home: &std::path::Path) -> (reqwest::Client, String, String) {
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let q = login(&b, home, &url).await;
    let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
    assert!(signed_in(&b, rp).await);
    (
        b,
        t["access_token"].as_str().unwrap().to_string(),
        t["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn refresh_works(rp: &Rp, refresh_token: &str) -> bool {
    rp.post(
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        true,
    )
    .await
    .status()
        == 200
}

#[tokio::test]
async fn revoking_the_phone_or_closing_the_account_ends_sessions_and_tokens_at_once() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let rp = Rp::register(&site, &srv, "fapi2", &[]);

    // The phone that approved is revoked (from itself, as a lost phone is from another).
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (b, at, rt) = signed_in_browser(&rp, &home).await;
    let devices = ok_json(&app(&home, &["devices"]));
    let device = devices.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = app(&home, &["revoke", &device]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!signed_in(&b, &rp).await, "the browser session ended");
    assert!(!live(&rp, &at).await, "the access token ended");
    assert!(!refresh_works(&rp, &rt).await, "the refresh token ended");

    // The account is closed.
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (b, at, rt) = signed_in_browser(&rp, &home).await;
    let o = app(&home, &["close", "--yes"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!signed_in(&b, &rp).await, "the browser session ended");
    assert!(!live(&rp, &at).await, "the access token ended");
    assert!(!refresh_works(&rp, &rt).await, "the refresh token ended");
}
