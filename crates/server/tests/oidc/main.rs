//! The OpenID provider end to end, as an online service and a resident's app drive it.
//! Sign-in flows here; `ciba` for back-channel sign-in and logout, `registration` for clients
//! registering and managing themselves.
mod ciba;
#[path = "../common/mod.rs"]
mod common;
mod registration;
use common::rp::*;
use common::*;
use serde_json::{json, Value};

async fn platform() -> (Site, Server) {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    (site, srv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fapi2_login_with_par_dpop_refresh_userinfo_and_revocation() {
    let (site, srv) = platform().await;
    let (resident, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "fapi2", &[]);

    // Discovery is complete and truthful.
    let meta: Value = get_json(&rp.http, &srv, "/.well-known/openid-configuration").await;
    assert_eq!(meta["issuer"], srv.base.as_str());
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        rp.url("/par")
    );
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);

    // A FAPI client must use PAR.
    let b = browser();
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256",
            rp.client_id,
            percent(&rp.redirect_uri),
            pkce().1
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let q = location_params(&r);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(
        q["iss"],
        srv.base.as_str(),
        "iss in every authorization response"
    );

    // PAR, login in the browser with the app, the code back with state and iss.
    let (request_uri, verifier, state, nonce) = rp.par("openid profile eme.hkid email", &[]).await;
    let auth = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let q = login(&b, &home, &auth).await;
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], srv.base.as_str());
    // The request_uri was single use.
    let r = b.get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Tokens: DPoP-bound, ID token with nonce, acr and amr; a pairwise subject.
    let r = rp.token(&q["code"], &verifier).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let idt = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(idt["nonce"], nonce.as_str());
    assert_eq!(idt["aud"], rp.client_id.as_str());
    assert_eq!(idt["acr"], "urn:iamsmart:acr:plus");
    assert!(idt["amr"].as_array().unwrap().contains(&json!("mfa")));
    assert_ne!(
        idt["sub"], resident["resident_id"],
        "pairwise, not the internal id"
    );
    let at = t["access_token"].as_str().unwrap().to_string();
    let atc = jwt_claims(&at);
    assert_eq!(atc["cnf"]["jkt"], rp.dpop.thumbprint().as_str());

    // The code works once; the reuse revokes what it gave.
    let again = rp.token(&q["code"], &verifier).await;
    assert_eq!(again.status(), 400);
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let r = rp.userinfo(&at, true).await;
    assert_eq!(r.status(), 401, "tokens from a reused code are revoked");

    // A fresh login: userinfo releases exactly what was consented.
    let (request_uri, verifier, _, _) = rp.par("openid profile eme.hkid", &[]).await;
    let auth = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    // Signed in already, consent remembered: straight back with a code.
    let r = b.get(&auth).send().await.unwrap();
    assert_eq!(r.status(), 303, "single sign-on with remembered consent");
    let code = location_params(&r)["code"].clone();
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap().to_string();
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let ui: Value = rp.userinfo(&at, true).await.json().await.unwrap();
    assert_eq!(ui["hkid"], resident["hkid"]);
    assert_eq!(ui["name"], resident["name_en"]);
    assert!(
        ui.get("email").is_none(),
        "email was not asked for in this grant"
    );
    // A DPoP-bound token without its proof, or as a Bearer token, is refused.
    let r = rp.userinfo(&at, false).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("DPoP"));

    // Refresh rotates; reusing the old refresh token kills the family.
    let r = rp
        .post(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            true,
        )
        .await;
    assert_eq!(r.status(), 200);
    let t2: Value = r.json().await.unwrap();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt, rt2);
    let r = rp
        .post(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            true,
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = rp
        .post(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
            true,
        )
        .await;
    assert_eq!(r.status(), 400, "the whole family is revoked");

    // Introspection and revocation.
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    let code = location_params(&r)["code"].clone();
    let t: Value = rp.token(&code, &verifier).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let i: Value = rp
        .post("/introspect", &[("token", at)], false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], true);
    assert_eq!(i["cnf"]["jkt"], rp.dpop.thumbprint().as_str());
    let r = rp.post("/revoke", &[("token", at)], false).await;
    assert_eq!(r.status(), 200);
    let i: Value = rp
        .post("/introspect", &[("token", at)], false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], false);

    // Logout (confirmed on the page, as nothing names the session) ends the session: the next
    // authorization needs the app again.
    let r = b.get(rp.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"").expect("a confirmation");
    let r = b
        .post(rp.url("/logout"))
        .form(&[("confirm", "this"), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (request_uri, _, _, _) = rp.par("openid", &[("prompt", "none")]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(location_params(&r)["error"], "login_required");
}

pub fn percent(s: &str) -> String {
    iamsmart_domain::oidc::authorize::urlencode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_client_with_a_secret_and_pkce_in_a_plain_browser_flow() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "basic", &[]);
    assert!(rp.secret.is_some());
    let (verifier, challenge) = pkce();
    let auth = rp.url(&format!(
        "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid%20phone&state=s1&code_challenge={challenge}&code_challenge_method=S256&ui_locales=zh-HK",
        rp.client_id,
        percent(&rp.redirect_uri)
    ));
    let b = browser();
    let page = open_login(&b, &auth).await;
    assert!(page.html.contains("lang=\"zh-HK\""), "follows ui_locales");
    assert!(page.html.contains("配對碼"));
    // The resident declines: the service gets access_denied.
    let o = app(&home, &["deny", &page.qr]);
    assert!(o.status.success());
    let r = b.get(rp.url(&page.continue_url)).send().await.unwrap();
    let q = location_params(&r);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "s1");
    // Approve this time; a Bearer token (not DPoP-bound) for a basic client.
    let q = login(&b, &home, &auth).await;
    let r = rp
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", &rp.redirect_uri),
                ("code_verifier", &verifier),
            ],
            false,
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    let r = rp
        .userinfo(t["access_token"].as_str().unwrap(), false)
        .await;
    assert_eq!(r.status(), 200);
    // The continue link works in the browser that started the login only.
    let other = browser();
    let page = open_login(&browser(), &auth.replace("state=s1", "state=s2")).await;
    let r = other.get(rp.url(&page.continue_url)).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_is_honoured_or_refused_never_downgraded() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    let b = browser();
    let (request_uri, _, _, _) = rp
        .par("openid", &[("acr_values", "urn:iamsmart:acr:plus")])
        .await;
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
    assert_eq!(q["error"], "unmet_authentication_requirements");
    // Unknown acr values only: refused at once.
    let r = rp
        .post(
            "/par",
            &[
                ("response_type", "code"),
                ("client_id", &rp.client_id),
                ("redirect_uri", &rp.redirect_uri),
                ("scope", "openid"),
                ("code_challenge", &pkce().1),
                ("code_challenge_method", "S256"),
                ("acr_values", "urn:other:gold"),
            ],
            false,
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unmet_authentication_requirements"
    );
    // max_age forces a new approval even with a live session.
    let (request_uri, _, _, _) = rp.par("openid", &[]).await;
    let _ = login(
        &b,
        &home,
        &rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    let (request_uri, _, _, _) = rp.par("openid", &[("max_age", "0")]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login page again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_are_remembered_per_field_and_revocable_in_the_app() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid eme.birthdate", &[]).await;
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
    let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap().to_string();
    let list = ok_json(&app(&home, &["consents"]));
    assert_eq!(list[0]["client_id"], rp.client_id.as_str());
    assert_eq!(list[0]["fields"], json!(["birthdate"]));
    assert!(rp.userinfo(&at, true).await.json::<Value>().await.unwrap()["birthdate"].is_string());
    // Withdrawn: the token that carried the data stops at once, and the next login asks again.
    let o = app(&home, &["revoke-consent", &rp.client_id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(rp.userinfo(&at, true).await.status(), 401);
    assert_eq!(ok_json(&app(&home, &["consents"])), json!([]));
    let (request_uri, _, _, _) = rp.par("openid eme.birthdate", &[]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "asked again in the app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_in_the_algorithm_the_client_registered() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let tok = initial_token(&site, 1);
    let c = reqwest::Client::new();
    let reg: Value = c
        .post(srv.url("/register"))
        .bearer_auth(&tok)
        .json(&json!({ "client_name": "EdDSA service", "redirect_uris": ["https://service.example/callback"],
                       "iamsmart_profile": "basic", "token_endpoint_auth_method": "client_secret_basic",
                       "id_token_signed_response_alg": "EdDSA" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rp = Rp {
        base: srv.base.clone(),
        client_id: reg["client_id"].as_str().unwrap().into(),
        secret: reg["client_secret"].as_str().map(str::to_string),
        key: Key::new("unused"),
        dpop: Key::new("unused"),
        redirect_uri: "https://service.example/callback".into(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let (verifier, challenge) = pkce();
    let auth = rp.url(&format!(
        "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&code_challenge={challenge}&code_challenge_method=S256",
        rp.client_id, percent(&rp.redirect_uri)
    ));
    let q = login(&browser(), &home, &auth).await;
    let r = rp
        .post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", &rp.redirect_uri),
                ("code_verifier", &verifier),
            ],
            false,
        )
        .await;
    let t: Value = r.json().await.unwrap();
    let idt = t["id_token"].as_str().unwrap();
    let h = iamsmart_crypto::jose::unverified_header(idt).unwrap();
    assert_eq!(h.alg, iamsmart_crypto::jose::Alg::EdDSA);
    let jwks: Value = get_json(&c, &srv, "/.well-known/jwks.json").await;
    let keys: Vec<iamsmart_crypto::jose::PublicJwk> =
        serde_json::from_value(jwks["keys"].clone()).unwrap();
    iamsmart_crypto::jose::verify_compact(idt, &keys, &[iamsmart_crypto::jose::Alg::EdDSA])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_not_remembered_still_releases_what_was_shared_for_that_sign_in() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "fapi2", &[]);
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid eme.birthdate", &[]).await;
    let auth = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        percent(&request_uri)
    ));
    let page = open_login(&b, &auth).await;
    ok_json(&app(
        &home,
        &["approve", &page.qr, "--match", &page.match_code, "--yes"],
    ));
    let r = b
        .get(format!("{}{}", srv.base, page.continue_url))
        .send()
        .await
        .unwrap();
    let q = consent_if_asked_with(&b, &srv.base, r, true, false).await;
    let t: Value = rp.token(&q["code"], &verifier).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let info: Value = rp.userinfo(at, true).await.json().await.unwrap();
    assert!(
        info["birthdate"].is_string(),
        "released for this sign-in: {info}"
    );
    // Not remembered: nothing listed, and the next sign-in asks again.
    assert_eq!(ok_json(&app(&home, &["consents"])), json!([]));
}
