//! Back-channel sign-in (CIBA, poll and ping) with the app, and back-channel logout.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciba_poll_mode_with_the_app() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "plus").await;
    point_app(&home, &srv.base);
    let rp = Rp::register(&site, &srv, "fapi2", &["--ciba", "poll"]);
    let b = browser();
    // The service knows the resident's subject from an earlier login.
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
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
    let sub = jwt_claims(t["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_string();

    let r = rp
        .post(
            "/bc-authorize",
            &[
                ("scope", "openid eme.hkid"),
                ("login_hint", &sub),
                ("binding_message", "Tax return 2026"),
            ],
            false,
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let started: Value = r.json().await.unwrap();
    let id = started["auth_req_id"].as_str().unwrap();
    let form = [
        ("grant_type", "urn:openid:params:grant-type:ciba"),
        ("auth_req_id", id),
    ];
    let poll = || rp.post("/token", &form, true);
    assert_eq!(
        poll().await.json::<Value>().await.unwrap()["error"],
        "authorization_pending"
    );
    assert_eq!(
        poll().await.json::<Value>().await.unwrap()["error"],
        "slow_down"
    );
    // The request is in the app, with the binding message.
    let pending = ok_json(&app(&home, &["pending"]));
    let req = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["details"]["binding_message"] == "Tax return 2026")
        .unwrap();
    ok_json(&app(
        &home,
        &["approve", req["id"].as_str().unwrap(), "--yes"],
    ));
    let r = poll().await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        jwt_claims(t["id_token"].as_str().unwrap())["sub"],
        sub.as_str()
    );
    let ui: Value = rp
        .userinfo(t["access_token"].as_str().unwrap(), true)
        .await
        .json()
        .await
        .unwrap();
    assert!(ui["hkid"].is_string());
    // Once only.
    assert_eq!(
        poll().await.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // An unknown subject.
    let r = rp
        .post(
            "/bc-authorize",
            &[("scope", "openid"), ("login_hint", "nobody")],
            false,
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unknown_user_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciba_ping_mode_and_back_channel_logout() {
    let (site, srv) = platform().await;
    let (_, home) = resident_with_app(&site, "basic").await;
    point_app(&home, &srv.base);
    let (base, seen) = receiver().await;
    let (ping, bcl, after) = (
        format!("{base}/ping"),
        format!("{base}/logout"),
        "https://service.example/bye".to_string(),
    );
    let rp = Rp::register(
        &site,
        &srv,
        "fapi2",
        &[
            "--ciba",
            "ping",
            "--ciba-notification-endpoint",
            &ping,
            "--backchannel-logout-uri",
            &bcl,
            "--post-logout-redirect-uri",
            &after,
        ],
    );
    let b = browser();
    let (request_uri, verifier, _, _) = rp.par("openid", &[]).await;
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
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let idc = jwt_claims(&id_token);

    // Ping: the provider tells the service when the resident has answered.
    let r = rp
        .post(
            "/bc-authorize",
            &[
                ("scope", "openid"),
                ("id_token_hint", &id_token),
                ("client_notification_token", "notify-me-0123456789"),
            ],
            false,
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let id = r.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pending = ok_json(&app(&home, &["pending"]));
    ok_json(&app(
        &home,
        &["approve", pending[0]["id"].as_str().unwrap(), "--yes"],
    ));
    wait_for(&seen, 1).await;
    {
        let s = seen.lock().unwrap();
        assert_eq!(s[0].0, "/ping");
        assert_eq!(s[0].1, "Bearer notify-me-0123456789");
        assert!(s[0].2.contains(&id));
    }
    let r = rp
        .post(
            "/token",
            &[
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", &id),
            ],
            true,
        )
        .await;
    assert_eq!(r.status(), 200);

    // RP-initiated logout with id_token_hint: back to the registered URI with state, and a
    // logout token to the service's back channel.
    let r = b
        .get(rp.url(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye1",
            percent(&after)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{after}?state=bye1").as_str()
    );
    wait_for(&seen, 2).await;
    let (path, _, body) = seen.lock().unwrap()[1].clone();
    assert_eq!(path, "/logout");
    let token = percent_decode(body.strip_prefix("logout_token=").unwrap());
    let lt = jwt_claims(&token);
    assert_eq!(lt["sub"], idc["sub"]);
    assert_eq!(lt["sid"], idc["sid"]);
    assert!(lt["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(lt.get("nonce").is_none());
    let jwks: Value = get_json(&rp.http, &srv, "/.well-known/jwks.json").await;
    let keys: Vec<iamsmart_crypto::jose::PublicJwk> =
        serde_json::from_value(jwks["keys"].clone()).unwrap();
    let (h, _) =
        iamsmart_crypto::jose::verify_compact(&token, &keys, &[iamsmart_crypto::jose::Alg::ES256])
            .unwrap();
    assert_eq!(h.typ.as_deref(), Some("logout+jwt"));
    // The session's tokens are gone; an unregistered post-logout URI is refused.
    assert_eq!(
        rp.userinfo(t["access_token"].as_str().unwrap(), true)
            .await
            .status(),
        401
    );
    let r = b
        .get(rp.url(&format!(
            "/logout?client_id={}&post_logout_redirect_uri={}",
            rp.client_id,
            percent("https://evil.example/")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
}
