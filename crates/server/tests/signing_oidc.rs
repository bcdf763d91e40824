//! Signing through OpenID Connect: a signature asked for in the authorization request (RFC 9396
//! `authorization_details` of type `iamsmart_signing`) and the step-up challenge (RFC 9470) of
//! the signing API for a resident's access token that is not a recent iAM Smart+ login.
mod common;
use common::rp::*;
use common::signing::*;
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_with_a_residents_token_needs_a_recent_iam_smart_plus_login_rfc_9470() {
    let site = Site::new().await;
    let srv = site
        .serve(&[("IAMSMART_OIDC__SIGNING_LOGIN_MAX_AGE_SECS", "20")])
        .await;
    ca_init(&site, &srv);
    let (_, basic_home) = resident_with_app(&site, "basic").await;
    point_app(&basic_home, &srv.base);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["signing-cert"]));
    let body = json!({
        "document": { "name": "Tender No. 2026/117" },
        "digest": sha256_hex(b"tender"),
    });

    // An iAM Smart (basic) login is not enough: the challenge names the acr to ask for.
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let (_, basic_token) = login_with(&svc, &basic_home, &[]).await;
    let r = svc
        .api("POST", "/sign/v1/requests", &basic_token, Some(&body))
        .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("acr_values=\"urn:iamsmart:acr:plus\""),
        "{challenge}"
    );
    assert!(challenge.contains("max_age=\"20\""), "{challenge}");

    // An iAM Smart+ login is; the request goes to that resident.
    let svc2 = Rp::register(&site, &srv, "fapi2", &[]);
    let (_, token) = login_with(&svc2, &home, &[]).await;
    let r = svc2
        .api("POST", "/sign/v1/requests", &token, Some(&body))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let first: Value = r.json().await.unwrap();
    let waiting = pending_sign(&home);
    ok_json(&app(&home, &["deny", waiting["id"].as_str().unwrap()]));
    let out: Value = svc2
        .api(
            "GET",
            &format!(
                "/sign/v1/requests/{}",
                first["request_id"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["status"], "denied");

    // Once the login is older than the limit, the service is told to ask for a fresh one ...
    srv.advance(std::time::Duration::from_secs(21));
    let r = svc2
        .api("POST", "/sign/v1/requests", &token, Some(&body))
        .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("insufficient_user_authentication"),
        "{challenge}"
    );
    assert!(challenge.contains("max_age=\"20\""), "{challenge}");
    // ... and after signing the resident in again with those parameters, it goes through.
    let (_, fresh) = login_with(
        &svc2,
        &home,
        &[("max_age", "20"), ("acr_values", "urn:iamsmart:acr:plus")],
    )
    .await;
    let claims = jwt_claims(&fresh);
    assert_eq!(claims["acr"], "urn:iamsmart:acr:plus");
    let r = svc2
        .api("POST", "/sign/v1/requests", &fresh, Some(&body))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_asked_for_with_the_authorization_rfc_9396() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    ca_init(&site, &srv);
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    ok_json(&app(&home, &["signing-cert"]));
    let (_, basic_home) = resident_with_app(&site, "basic").await;
    point_app(&basic_home, &srv.base);
    let svc = Rp::register(&site, &srv, "fapi2", &[]);
    let digest = sha256_hex(b"loan agreement");
    let detail = |digest: &str| {
        json!([{ "type": "iamsmart_signing",
                 "document": { "name": "Loan agreement 貸款協議", "department": "Example Bank" },
                 "digest": digest }])
        .to_string()
    };

    // A malformed detail is refused when the request is pushed.
    let (_, challenge) = pkce();
    let bad = detail(&"ab".repeat(31));
    let r = svc
        .post(
            "/par",
            &[
                ("response_type", "code"),
                ("client_id", svc.client_id.as_str()),
                ("redirect_uri", svc.redirect_uri.as_str()),
                ("scope", "openid"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("authorization_details", bad.as_str()),
            ],
            false,
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_authorization_details", "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("32 bytes"),
        "{e}"
    );

    // Signed in with the detail: the token response says where the signature will be.
    let good = detail(&digest);
    let b = browser();
    let (request_uri, verifier, _, _) = svc
        .par("openid", &[("authorization_details", good.as_str())])
        .await;
    let q = login(
        &b,
        &home,
        &svc.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            svc.client_id,
            percent(&request_uri)
        )),
    )
    .await;
    let t: Value = svc.token(&q["code"], &verifier).await.json().await.unwrap();
    let d = &t["authorization_details"][0];
    assert_eq!(d["type"], "iamsmart_signing", "{t}");
    assert_eq!(d["digest"], digest.as_str());
    let id = d["signing_request_id"].as_str().unwrap().to_string();
    let token = t["access_token"].as_str().unwrap().to_string();
    // The resident approves the signature in the app (the same match code as the service shows).
    let waiting = pending_sign(&home);
    assert_eq!(
        waiting["details"]["document"]["name"],
        "Loan agreement 貸款協議"
    );
    approve_waiting_signature(&home, d["match_code"].as_str().unwrap());
    let out = poll_signature(&svc, &token, &id).await;
    assert_eq!(out["status"], "signed", "{out}");
    assert!(out["signature"]["cms"].as_str().unwrap().len() > 500);

    // A resident who cannot sign ends the authorization with access_denied, at the redirect.
    let b2 = browser();
    let page2 = open_login(
        &b2,
        &svc.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            svc.client_id,
            percent(
                &svc.par("openid", &[("authorization_details", good.as_str())])
                    .await
                    .0
            )
        )),
    )
    .await;
    ok_json(&app(
        &basic_home,
        &["approve", &page2.qr, "--match", &page2.match_code, "--yes"],
    ));
    let r = b2.get(svc.url(&page2.continue_url)).send().await.unwrap();
    let params = location_params(&r);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied"),
        "{params:?}"
    );
    assert!(
        params["error_description"].contains("iAM Smart+"),
        "{params:?}"
    );
}
