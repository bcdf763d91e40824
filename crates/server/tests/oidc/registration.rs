//! Clients that register and manage themselves (RFC 7591 / 7592), and the names and sectors they may not take.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_registration_and_management() {
    let (site, srv) = platform().await;
    let tok = initial_token(&site, 1);
    let c = reqwest::Client::new();
    let key = Key::new("k1");
    let meta = json!({
        "client_name": "Sandbox Service",
        "redirect_uris": ["http://127.0.0.1:9999/cb"],
        "jwks": key.jwks(),
        "dpop_bound_access_tokens": true,
        "require_pushed_authorization_requests": true,
    });
    let r = c
        .post(srv.url("/register"))
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "needs the initial access token");
    let r = c
        .post(srv.url("/register"))
        .bearer_auth(&tok)
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let reg: Value = r.json().await.unwrap();
    assert!(
        reg.get("client_secret").is_none(),
        "fapi2 clients have no secret"
    );
    let r = c
        .post(srv.url("/register"))
        .bearer_auth(&tok)
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the token had one use");
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let got: Value = c
        .get(uri)
        .bearer_auth(rat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["client_name"], "Sandbox Service");
    let mut changed = got.clone();
    changed["client_name"] = json!("Sandbox Service 2");
    let r = c
        .put(uri)
        .bearer_auth(rat)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    changed["subject_type"] = json!("public");
    let r = c
        .put(uri)
        .bearer_auth(rat)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        c.get(uri)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.delete(uri)
            .bearer_auth(rat)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(uri).bearer_auth(rat).send().await.unwrap().status(),
        401
    );
    // Metadata a public registration may not have.
    let tok = initial_token(&site, 1);
    let mut bad = meta.clone();
    bad["subject_type"] = json!("public");
    let r = c
        .post(srv.url("/register"))
        .bearer_auth(&tok)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registered_services_cannot_take_a_department_s_or_another_service_s_name() {
    let (site, srv) = platform().await;
    let tok = initial_token(&site, 20);
    let c = reqwest::Client::new();
    let register = |name: &str| {
        let key = Key::new("k1");
        // A host of its own per service (a host another service uses is its sector).
        let host: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let body = json!({
            "client_name": name, "redirect_uris": [format!("https://{host}x.example/cb")], "jwks": key.jwks(),
            "dpop_bound_access_tokens": true, "require_pushed_authorization_requests": true,
        });
        let req = c.post(srv.url("/register")).bearer_auth(&tok).json(&body);
        async move { req.send().await.unwrap() }
    };
    for name in [
        "Inland Revenue Department",
        "inland  revenue department.",
        "稅務局",
        "Inland Revenue Department refunds",
        "iAM Smart",
        "智方便 登入",
    ] {
        let r = register(name).await;
        assert_eq!(r.status(), 400, "{name}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "invalid_client_metadata", "{name}: {e}");
    }
    let r = register("Kowloon Tea House").await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(
        register("kowloon tea-house").await.status(),
        400,
        "another service's name"
    );
    let r = register("Sham Shui Po Bakery").await;
    assert_eq!(r.status(), 201);
    let second: Value = r.json().await.unwrap();
    // Nor by an update.
    let uri = second["registration_client_uri"].as_str().unwrap();
    let rat = second["registration_access_token"].as_str().unwrap();
    let mut changed: Value = c
        .get(uri)
        .bearer_auth(rat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for name in ["Kowloon Tea House", "Transport Department"] {
        changed["client_name"] = json!(name);
        let r = c
            .put(uri)
            .bearer_auth(rat)
            .json(&changed)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
    }
    // Its own name again is fine.
    changed["client_name"] = json!("Sham Shui Po Bakery");
    assert_eq!(
        c.put(uri)
            .bearer_auth(rat)
            .json(&changed)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(first["client_id"].is_string());
    // Residents are told that a self-registered service was not checked; not so for one the
    // operator registered.
    let reg: Value = c
        .post(srv.url("/register"))
        .bearer_auth(&tok)
        .json(&json!({ "client_name": "Tai Po Noodles", "redirect_uris": ["https://noodles.example/cb"],
                       "iamsmart_profile": "basic", "token_endpoint_auth_method": "client_secret_basic" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page_of = |client_id: &str, redirect: &str| {
        srv.url(&format!(
            "/authorize?client_id={client_id}&response_type=code&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256",
            percent(redirect),
            pkce().1
        ))
    };
    let page = open_login(
        &browser(),
        &page_of(
            reg["client_id"].as_str().unwrap(),
            "https://noodles.example/cb",
        ),
    )
    .await;
    assert!(
        page.html.contains("id=\"self-registered\""),
        "told on the login page"
    );
    let vetted = Rp::register(&site, &srv, "basic", &[]);
    let page = open_login(
        &browser(),
        &page_of(&vetted.client_id, &vetted.redirect_uri),
    )
    .await;
    assert!(
        !page.html.contains("self-registered"),
        "not for an operator's service"
    );
}

/// A JSON document on a local server (for a `sector_identifier_uri`).
async fn serve_json(doc: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/sector.json",
        listener.local_addr().unwrap().port()
    );
    let body = doc.to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
                .await;
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_registered_client_cannot_take_or_move_into_another_service_s_sector() {
    let (site, srv) = platform().await;
    let tok = initial_token(&site, 20);
    let c = reqwest::Client::new();
    let register = |name: &str, redirects: Value, extra: Value| {
        let mut body = json!({ "client_name": name, "redirect_uris": redirects,
                               "iamsmart_profile": "basic", "token_endpoint_auth_method": "client_secret_basic" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let req = c.post(srv.url("/register")).bearer_auth(&tok).json(&body);
        async move { req.send().await.unwrap() }
    };
    let r = register(
        "Cheap Loans",
        json!(["https://loans.example/cb"]),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 201, "a new host is a new sector");
    let loans: Value = r.json().await.unwrap();
    // Another self-registered client on that host would get Cheap Loans' subjects: refused.
    let r = register(
        "Loan Shark",
        json!(["https://loans.example/other"]),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    // Nor can Cheap Loans move to another host by an update.
    let uri = loans["registration_client_uri"].as_str().unwrap();
    let rat = loans["registration_access_token"].as_str().unwrap();
    let mut changed: Value = c
        .get(uri)
        .bearer_auth(rat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    changed["redirect_uris"] = json!(["https://elsewhere.example/cb"]);
    let r = c
        .put(uri)
        .bearer_auth(rat)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    // Redirect URIs on two hosts need a sector_identifier_uri that lists them all.
    let both = json!(["https://a.tea.example/cb", "https://b.tea.example/cb"]);
    assert_eq!(
        register("Tea Two Sites", both.clone(), json!({}))
            .await
            .status(),
        400
    );
    let partial = serve_json(json!(["https://a.tea.example/cb"])).await;
    let r = register(
        "Tea Two Sites",
        both.clone(),
        json!({ "sector_identifier_uri": partial }),
    )
    .await;
    assert_eq!(r.status(), 400, "a redirect URI missing from the list");
    let full = serve_json(both.clone()).await;
    let r = register(
        "Tea Two Sites",
        both,
        json!({ "sector_identifier_uri": full }),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}
