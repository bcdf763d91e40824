//! The iAM Smart-compatible API over HTTP, as far as a Rust test reaches it: registration on the
//! command line, getQR's pages and redirects, the envelope with the request's correlation id, and
//! the rate limit in the API's own terms. The whole sign-in and form filling are driven by an
//! independent client in `interop/python/test_iamsmart_api.py`.
mod common;
use common::*;

const REDIRECT: &str = "http://localhost:3000/callback";

fn kek_cert() -> String {
    format!(
        "{}/../crypto/tests/fixtures/osp-kek.cert.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `clients create` for the compatible API with these arguments added.
fn create(site: &Site, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "clients",
        "create",
        "--name",
        name,
        "--redirect-uri",
        REDIRECT,
        "--profile",
        "iamsmart-api",
    ];
    args.extend_from_slice(extra);
    site.run(&args, &[])
}

fn client(site: &Site) -> serde_json::Value {
    let out = create(site, "Compatible service", &["--kek-cert", &kek_cert()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn registration_get_qr_the_envelope_and_the_rate_limit() {
    let site = Site::new().await;
    // The command line: a secret once, the certificate's hash, the scopes in full.
    let created = client(&site);
    assert_eq!(created["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(created["token_endpoint_auth_method"], "iamsmart_hmac");
    assert_eq!(
        created["scope"],
        "eidapi_auth eidapi_profiles eidapi_formFilling eidapi_sign eidapi_fr"
    );
    let id = created["client_id"].as_str().unwrap().to_string();
    let no_cert = create(&site, "No certificate", &[]);
    assert!(!no_cert.status.success());
    assert!(String::from_utf8_lossy(&no_cert.stderr).contains("--kek-cert"));
    // A callback URL: where results that come later go. The platform must be allowed to call
    // it: an internal address only where the operator allows it (here loopback, the sandbox).
    let cert = kek_cert();
    let with_callback = |url: &str| {
        create(
            &site,
            "With callback",
            &["--kek-cert", &cert, "--callback-uri", url],
        )
    };
    let refused = with_callback("https://10.1.2.3/iamsmart/callback");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("may not call this address"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let allowed = with_callback("http://localhost:3000/iamsmart/callback");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let allowed: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(
        allowed["callback_uri"],
        "http://localhost:3000/iamsmart/callback"
    );
    let oidc_callback = site.run(
        &[
            "clients",
            "create",
            "--name",
            "OpenID",
            "--redirect-uri",
            REDIRECT,
            "--profile",
            "basic",
            "--callback-uri",
            "https://osp.example/cb",
        ],
        &[],
    );
    assert!(!oidc_callback.status.success());

    let srv = site
        .serve(&[
            ("IAMSMART_HTTP__RATE_LIMIT_PER_IP_PER_MINUTE", "60"),
            ("IAMSMART_HTTP__RATE_LIMIT_BURST", "12"),
        ])
        .await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get_qr = |query: &str| {
        let url = srv.url(&format!(
            "/api/v1/auth/getQR?clientID={id}&responseType=code&source=PC_Browser&lang=en-US&state=s1&{query}"
        ));
        let c = c.clone();
        async move { c.get(url).send().await.unwrap() }
    };
    let redirect = format!("redirectURI={}", urlencode(REDIRECT));

    // The sign-in page, with its QR code and match code.
    let page = get_qr(&format!("{redirect}&scope=eidapi_auth")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"qr-payload\"") && html.contains("id=\"match-code\""));
    // On a phone, straight to the app on that phone, which returns to this browser's sign-in.
    let phone = c
        .get(srv.url(&format!(
            "/api/v1/auth/getQR?clientID={id}&responseType=code&source=iOS_Safari&{redirect}&scope=eidapi_auth"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(phone.status(), 303);
    let to = phone.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/app/#/approve?id=ar_"), "{to}");
    assert!(
        to.contains("&return=%2Fauthorize%2Fcontinue%3Ftx%3D"),
        "{to}"
    );
    assert!(phone.headers().get("set-cookie").is_some());
    // A refusal after the redirect URI is known goes back there with its code and the state.
    let back = get_qr(&format!("{redirect}&scope=eidapi_auth%20eidapi_nothing")).await;
    assert_eq!(back.status(), 303);
    assert_eq!(
        back.headers()["location"],
        format!("{REDIRECT}?error_code=D10000&state=s1").as_str()
    );
    // Before it is known: a page with the code, never a redirect.
    let elsewhere = get_qr("redirectURI=https%3A%2F%2Fevil.example%2Fcb&scope=eidapi_auth").await;
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.headers().get("location").is_none());
    assert!(elsewhere.text().await.unwrap().contains("D20008"));
    let unknown = c
        .get(srv.url(&format!(
            "/api/v1/auth/getQR?clientID=c_nobody&{redirect}&responseType=code&source=PC_Browser&scope=eidapi_auth"
        )))
        .send()
        .await
        .unwrap();
    assert!(unknown.text().await.unwrap().contains("D10002"));

    // The envelope: HTTP 200, the code, and the request's correlation id as txID.
    let r = c
        .post(srv.url("/api/v1/security/getKey"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "D10001");
    assert_eq!(body["txID"], rid.as_str());
    assert!(body["message"].as_str().unwrap().contains("clientID"));

    // A call with the client's id but a wrong signature: its developers find it in the log,
    // under the txID the answer gave.
    let r = c
        .post(srv.url("/api/v1/auth/getToken"))
        .header("clientID", &id)
        .header("signatureMethod", "HmacSHA256")
        .header("timestamp", srv.now_secs().saturating_mul(1000).to_string())
        .header("nonce", "n-1")
        .header("signature", "bm90IGl0")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "D10003");
    let out = site.run(&["clients", "log", &id], &[]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "calls without a clientID are nobody's: {lines:?}"
    );
    assert_eq!(lines[0]["endpoint"], "/api/v1/auth/getToken");
    assert_eq!(lines[0]["code"], "D10003");
    assert_eq!(lines[0]["txID"], body["txID"]);

    // Over the rate limit: 429 with Retry-After, and the envelope with D10012.
    let mut limited = None;
    for _ in 0..40 {
        let r = c
            .post(srv.url("/api/v1/security/getKey"))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the limit applies to the compatible API");
    assert!(r.headers().get("retry-after").is_some());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "D10012");
    assert!(body["txID"].as_str().is_some_and(|t| !t.is_empty()));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
