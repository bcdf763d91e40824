//! Conformance-style negative tests of the authorization and token endpoints, one named test per
//! case of `standards-and-tests.md` ("Protocol"): codes, redirect URIs, PKCE, PAR, `iss`.
mod common;
use common::rp::*;
use common::*;
use serde_json::Value;

fn percent(s: &str) -> String {
    iamsmart_domain::oidc::authorize::urlencode(s)
}

async fn setup(profile: &str, extra_env: &[(&str, &str)]) -> (Site, Server, Rp) {
    let site = Site::new().await;
    let srv = site.serve(extra_env).await;
    let rp = Rp::register(&site, &srv, profile, &[]);
    (site, srv, rp)
}

/// A signed-in resident and a fresh code for `rp`: (code, verifier, browser, app home).
async fn code_for(
    site: &Site,
    srv: &Server,
    rp: &Rp,
) -> (String, String, reqwest::Client, std::path::PathBuf) {
    let (_, home) = resident_with_app(site, "basic").await;
    point_app(&home, &srv.base);
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
    let b = browser();
    let q = login(
        &b,
        &home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    (q["code"].clone(), verifier, b, home)
}

async fn error_of(r: reqwest::Response) -> String {
    r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_code_works_only_once() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (code, verifier, _, _) = code_for(&site, &srv, &rp).await;
    assert_eq!(rp.token(&code, &verifier).await.status(), 200);
    assert_eq!(
        error_of(rp.token(&code, &verifier).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_code_expires_within_sixty_seconds() {
    let (site, srv, rp) = setup("fapi2", &[("IAMSMART_OIDC__CODE_TTL_SECS", "1")]).await;
    let (code, verifier, _, _) = code_for(&site, &srv, &rp).await;
    srv.advance(std::time::Duration::from_millis(1300));
    assert_eq!(
        error_of(rp.token(&code, &verifier).await).await,
        "invalid_grant"
    );
    // Longer than 60 s cannot be configured.
    let o = site.run(
        &["config", "check"],
        &[("IAMSMART_OIDC__CODE_TTL_SECS", "61")],
    );
    assert!(!o.status.success());
}

#[tokio::test]
async fn a_code_is_only_for_the_client_it_was_issued_to() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let other = Rp::register(&site, &srv, "fapi2", &[]);
    let (code, verifier, _, _) = code_for(&site, &srv, &rp).await;
    assert_eq!(
        error_of(other.token(&code, &verifier).await).await,
        "invalid_grant"
    );
    // The rightful client can still use it: a stranger's attempt does not burn it.
    assert_eq!(rp.token(&code, &verifier).await.status(), 200);
}

/// Redirect URI variants that must never be redirected to.
#[tokio::test]
async fn redirect_uris_match_exactly_and_bad_pairs_never_redirect() {
    let (_site, srv, rp) = setup("basic", &[]).await;
    let good = rp.redirect_uri.clone();
    let variants = [
        format!("{good}/extra"),
        good.replace("service", "SERVICE"),
        format!("{good}?x=1"),
        format!("{good}#frag"),
        "https://a@b@evil.example/callback".to_string(),
        "https://service.example/callback/..;/evil".to_string(),
        "https://service.example.evil/callback".to_string(),
        "http://localhost.evil/callback".to_string(),
        "JaVaScRiPt:alert(1)".to_string(),
    ];
    let b = browser();
    for v in variants {
        let url = rp.url(&format!(
            "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256",
            rp.client_id,
            percent(&v),
            pkce().1
        ));
        let r = b.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{v}");
        assert!(
            r.headers().get("location").is_none(),
            "never redirects: {v}"
        );
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    // An unknown client: an error page too; and a client id of a shape never issued is an
    // unknown client, not another kind of error.
    for client_id in ["nobody", "no%20body%2F.."] {
        let r = b
            .get(srv.url(&format!(
                "/authorize?client_id={client_id}&response_type=code&redirect_uri={}",
                percent(&good)
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{client_id}");
        assert!(r.headers().get("location").is_none(), "{client_id}");
    }
}

async fn authorize_error(rp: &Rp, extra: &str) -> std::collections::HashMap<String, String> {
    let url = rp.url(&format!(
        "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&state=st{extra}",
        rp.client_id,
        percent(&rp.redirect_uri)
    ));
    let r = browser().get(&url).send().await.unwrap();
    assert_eq!(
        r.status(),
        303,
        "errors with a good redirect URI go back to it"
    );
    location_params(&r)
}

#[tokio::test]
async fn pkce_missing_challenge_is_refused() {
    let (_s, srv, rp) = setup("basic", &[]).await;
    let q = authorize_error(&rp, "").await;
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["iss"], srv.base.as_str());
}

#[tokio::test]
async fn pkce_plain_is_refused() {
    let (_s, _srv, rp) = setup("basic", &[]).await;
    let (v, _) = pkce();
    let q = authorize_error(
        &rp,
        &format!("&code_challenge={v}&code_challenge_method=plain"),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn pkce_wrong_verifier_is_refused() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (code, _, _, _) = code_for(&site, &srv, &rp).await;
    let (wrong, _) = pkce();
    assert_eq!(
        error_of(rp.token(&code, &wrong).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn pkce_verifier_without_challenge_or_missing_is_refused() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (code, _, _, _) = code_for(&site, &srv, &rp).await;
    let r = rp
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &rp.redirect_uri),
            ],
            true,
        )
        .await;
    assert_eq!(error_of(r).await, "invalid_request");
    // A request without a challenge never gets a code to go with a verifier.
    let r = rp
        .post(
            "/par",
            &[
                ("response_type", "code"),
                ("client_id", &rp.client_id),
                ("redirect_uri", &rp.redirect_uri),
                ("scope", "openid"),
            ],
            false,
        )
        .await;
    assert_eq!(error_of(r).await, "invalid_request");
}

#[tokio::test]
async fn par_request_uri_is_single_use() {
    let (_s, _srv, rp) = setup("fapi2", &[]).await;
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let b = browser();
    assert_eq!(b.get(&url).send().await.unwrap().status(), 200);
    let r = b.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn par_request_uri_expires() {
    let (_s, srv, rp) = setup("fapi2", &[("IAMSMART_OIDC__PAR_TTL_SECS", "5")]).await;
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    srv.advance(std::time::Duration::from_millis(5300));
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    assert_eq!(browser().get(&url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn par_request_uri_is_bound_to_its_client() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let other = Rp::register(&site, &srv, "fapi2", &[]);
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        other.client_id,
        percent(&request_uri)
    ));
    assert_eq!(browser().get(&url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn fapi_clients_must_use_par() {
    let (_s, _srv, rp) = setup("fapi2", &[]).await;
    let q = authorize_error(
        &rp,
        &format!("&code_challenge={}&code_challenge_method=S256", pkce().1),
    )
    .await;
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("PAR"));
}

#[tokio::test]
async fn every_authorization_response_carries_iss() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    // Success.
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let b = browser();
    let q = login(
        &b,
        &home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    assert_eq!(q["iss"], srv.base.as_str());
    // Errors: prompt=none without a session, a denial.
    let (request_uri, _, _, _) = rp.par("openid", &[("prompt", "none")]).await;
    let r = browser()
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["iss"], srv.base.as_str());
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let b2 = browser();
    let page = open_login(
        &b2,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    assert!(app(&home, &["deny", &page.qr]).status.success());
    let r = b2.get(rp.url(&page.continue_url)).send().await.unwrap();
    let q = location_params(&r);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["iss"], srv.base.as_str());
}

#[tokio::test]
async fn prompt_login_forces_the_app_again() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (_, _, b, _) = code_for(&site, &srv, &rp).await;
    let (request_uri, _, _, _) = rp.par("openid", &[("prompt", "login")]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the login page, not a silent redirect");
}

#[tokio::test]
async fn prompt_none_with_missing_consent_is_consent_required() {
    let (site, srv, rp) = setup("fapi2", &[]).await;
    let (_, _, b, _) = code_for(&site, &srv, &rp).await;
    let (request_uri, _, _, _) = rp.par("openid eme.hkid", &[("prompt", "none")]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(location_params(&r)["error"], "consent_required");
}

#[tokio::test]
async fn oversized_and_repeated_parameters_get_a_fast_rfc_error() {
    let (_s, srv, rp) = setup("fapi2", &[]).await;
    let answer = answer_to_declared_body(
        &srv,
        "/par",
        &[("content-type", "application/x-www-form-urlencoded")],
        1024 * 1024 + 1,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"status\":413"), "{answer}");
    let scopes = vec!["openid"; 10_000].join(" ");
    let r = rp
        .post(
            "/par",
            &[
                ("response_type", "code"),
                ("client_id", &rp.client_id),
                ("redirect_uri", &rp.redirect_uri),
                ("scope", &scopes),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
            ],
            false,
        )
        .await;
    assert_eq!(error_of(r).await, "invalid_scope");
    let r = rp
        .post("/par", &[("scope", "openid"), ("scope", "openid")], false)
        .await;
    assert_eq!(error_of(r).await, "invalid_request");
    let r = rp
        .http
        .post(rp.url("/token"))
        .body("grant_type=authorization_code")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r).await,
        "invalid_request",
        "form content type required"
    );
}
