//! The resident's web app through the real server: the app shell under `/app/` (headers,
//! files, service worker, manifest), and the app API as the web app uses it: activation with a
//! passkey made for the device key, the session an unlocked app sends, approvals that carry a
//! passkey assertion over the signed decision, a PIN phone added from the first, locking.
mod common;
use common::*;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::webauthn::soft::SoftPasskey;
use iamsmart_proto::app::{ApprovalClaims, RequestClaims, APPROVAL_TYP, DEVICE_REQUEST_TYP};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

static JTI: AtomicU64 = AtomicU64::new(1);

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A web app: its device key (kid: the thumbprint until bound), and its session.
struct WebApp {
    key: DeviceKey,
    kid: String,
    session: Option<String>,
}

impl WebApp {
    fn new() -> Self {
        let key = DeviceKey::generate().unwrap();
        let kid = key.public_jwk().thumbprint();
        WebApp {
            key,
            kid,
            session: None,
        }
    }

    async fn call(
        &self,
        srv: &Server,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let claims = RequestClaims {
            htm: method.into(),
            htp: path.into(),
            iat: now_s(),
            jti: format!("web-app-jti-{:012}", JTI.fetch_add(1, Ordering::Relaxed)),
            bh: b64(&iamsmart_crypto::hash::sha256(&bytes)),
            aud: None,
            iss: None,
        };
        let sig = self
            .key
            .sign_jws(
                DEVICE_REQUEST_TYP,
                &self.kid,
                &serde_json::to_vec(&claims).unwrap(),
            )
            .unwrap();
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), srv.url(path))
            .header("iamsmart-device-signature", sig);
        if let Some(s) = &self.session {
            req = req.header("iamsmart-app-session", s);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        req.send().await.unwrap()
    }

    fn jwk(&self) -> Value {
        let mut j = serde_json::to_value(self.key.public_jwk()).unwrap();
        j.as_object_mut()
            .unwrap()
            .retain(|k, _| ["kty", "crv", "x", "y"].contains(&k.as_str()));
        j
    }
}

async fn problem_type(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (
        status,
        v["type"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string(),
    )
}

fn activation_code(site: &Site, level: &str) -> Value {
    let out = site.run(&["sandbox", "activation-code", "--level", level], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_app_shell_is_served_with_the_strict_policy_and_its_worker_keeps_only_the_shell() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let c = reqwest::Client::new();
    let r = c.get(srv.url("/app/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "manifest-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    let html = r.text().await.unwrap();
    assert!(
        html.contains("/app/static/main.js") && !html.contains("<script>"),
        "no inline script"
    );
    let js = c
        .get(srv.url("/app/static/requests.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        c.get(srv.url("/app/static/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(srv.url("/app/static/nothing.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let sw = c
        .get(srv.url("/app/sw.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sw.contains("iamsmart-app-") && !sw.contains("__VERSION__") && !sw.contains("/app/v1/"),
        "{sw}"
    );
    let manifest: Value = c
        .get(srv.url("/app/manifest.webmanifest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["scope"], "/app/");
    for icon in manifest["icons"].as_array().unwrap() {
        let r = c
            .get(srv.url(icon["src"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(&r.bytes().await.unwrap()[..4], b"\x89PNG");
    }
    let config: Value = c
        .get(srv.url("/app/v1/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["pin_allowed"], true);
    assert_eq!(
        config["self_registration"], false,
        "no face model in this build"
    );
}

#[tokio::test]
async fn a_web_app_with_a_passkey_unlocks_approves_adds_a_pin_phone_and_locks() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let origin = srv.url("").trim_end_matches('/').to_string();
    let code = activation_code(&site, "plus");
    let mut pk = SoftPasskey::new(&origin);
    let mut a = WebApp::new();
    // The passkey is made for this device key.
    let opts: Value = reqwest::Client::new()
        .post(srv.url("/app/v1/devices/passkey-options"))
        .json(&json!({ "public_jwk": a.jwk(), "name": "Phone A" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        opts["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = serde_json::to_value(pk.register(&opts["publicKey"])).unwrap();
    let body = json!({ "code": code["activation_code"], "device": {
        "public_jwk": a.jwk(), "name": "Phone A",
        "user_verification": { "method": "passkey", "credential": credential } } });
    let r = a
        .call(&srv, "POST", "/app/v1/activations", Some(&body))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let enrolled: Value = r.json().await.unwrap();
    a.kid = enrolled["device_id"].as_str().unwrap().to_string();
    let session = enrolled["session"]["session"].as_str().unwrap().to_string();
    // Without the session the app is locked; with it, it works.
    assert_eq!(
        problem_type(a.call(&srv, "GET", "/app/v1/me", None).await).await,
        (401, "app-locked".into())
    );
    a.session = Some(session);
    let r = a.call(&srv, "GET", "/app/v1/me", None).await;
    assert_eq!(r.status(), 200);
    // An approval needs the passkey's assertion over the signed decision.
    let made: Value = reqwest::Client::new()
        .post(srv.url("/admin/v1/approvals"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "kind": "login", "client_name": "Sandbox service" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    let view: Value = a
        .call(&srv, "GET", &format!("/app/v1/requests/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let claims = ApprovalClaims {
        rid: id.parse().unwrap(),
        challenge: view["challenge"].as_str().unwrap().into(),
        match_code: view["match_code"].as_str().unwrap().into(),
        decision: "approve".into(),
        agreed: json!({ "fields": [] }),
        iat: now_s(),
    };
    let signed = a
        .key
        .sign_jws(APPROVAL_TYP, &a.kid, &serde_json::to_vec(&claims).unwrap())
        .unwrap();
    let path = format!("/app/v1/requests/{id}/decision");
    let r = a
        .call(&srv, "POST", &path, Some(&json!({ "signed": signed })))
        .await;
    assert_eq!(
        problem_type(r).await,
        (422, "user-verification-required".into())
    );
    let cred_id = credential["id"].as_str().unwrap();
    let challenge = b64(&iamsmart_crypto::hash::sha256(signed.as_bytes()));
    let rpid = opts["publicKey"]["rp"]["id"].as_str().unwrap();
    let ask = json!({ "rpId": rpid, "challenge": challenge, "allowCredentials": [{ "type": "public-key", "id": cred_id }] });
    pk.user_verified = false;
    let lazy = pk.authenticate(&ask).unwrap();
    pk.user_verified = true;
    let r = a
        .call(&srv, "POST", &path, Some(&json!({ "signed": signed, "user_verification": { "method": "passkey", "assertion": lazy } })))
        .await;
    assert_eq!(
        problem_type(r).await,
        (422, "user-verification-failed".into()),
        "presence without verification"
    );
    let good = pk.authenticate(&ask).unwrap();
    let r = a
        .call(&srv, "POST", &path, Some(&json!({ "signed": signed, "user_verification": { "method": "passkey", "assertion": good } })))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Adding a phone needs a recent unlock; a new unlock gives one.
    let r = a
        .call(&srv, "POST", "/app/v1/devices/link", Some(&json!({})))
        .await;
    assert_eq!(r.status(), 201, "just activated: recent enough");
    let link: Value = r.json().await.unwrap();
    assert!(link["qr"]
        .as_str()
        .unwrap()
        .starts_with("iamsmart:activate?code="));
    assert!(link["qr_image"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    // Phone B joins with a PIN, keeping phone A.
    let mut b = WebApp::new();
    let body = json!({ "code": link["code"], "device": {
        "public_jwk": b.jwk(), "name": "Phone B", "user_verification": { "method": "pin", "pin": "246813" } } });
    let r = b
        .call(&srv, "POST", "/app/v1/activations", Some(&body))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["rebound"], false);
    b.kid = e["device_id"].as_str().unwrap().to_string();
    // B locks and unlocks with a wrong PIN, then the right one.
    b.session = e["session"]["session"].as_str().map(str::to_string);
    assert_eq!(
        b.call(&srv, "POST", "/app/v1/lock", Some(&json!({})))
            .await
            .status(),
        204
    );
    assert_eq!(
        problem_type(b.call(&srv, "GET", "/app/v1/devices", None).await).await,
        (401, "app-locked".into())
    );
    let o: Value = b
        .call(&srv, "POST", "/app/v1/unlock/options", Some(&json!({})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["method"], "pin");
    assert_eq!(o["attempts_left"], 5);
    let wrong = json!({ "challenge": o["challenge"], "user_verification": { "method": "pin", "pin": "135790" } });
    let r = b.call(&srv, "POST", "/app/v1/unlock", Some(&wrong)).await;
    assert_eq!(problem_type(r).await, (422, "wrong-pin".into()));
    let right = json!({ "challenge": o["challenge"], "user_verification": { "method": "pin", "pin": "246813" } });
    let r = b.call(&srv, "POST", "/app/v1/unlock", Some(&right)).await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    b.session = s["session"].as_str().map(str::to_string);
    // Both phones are listed; B removes A, whose next call is refused as revoked.
    let list: Vec<Value> = b
        .call(&srv, "GET", "/app/v1/devices", None)
        .await
        .json()
        .await
        .unwrap();
    let active: Vec<&Value> = list.iter().filter(|d| d["status"] == "active").collect();
    assert_eq!(active.len(), 2, "{list:?}");
    assert!(active.iter().any(|d| d["user_verification"] == "passkey"));
    assert!(active
        .iter()
        .any(|d| d["user_verification"] == "pin" && d["current"] == true));
    let r = b
        .call(
            &srv,
            "POST",
            &format!("/app/v1/devices/{}/revoke", a.kid),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        problem_type(a.call(&srv, "GET", "/app/v1/me", None).await).await,
        (401, "device-revoked".into())
    );
}

#[tokio::test]
async fn the_login_page_hands_over_to_the_web_app_and_back() {
    let site = Site::new().await;
    let srv = site.serve(&[]).await;
    let rp = common::rp::Rp::register(&site, &srv, "basic", &[]);
    let auth = rp.url(&format!(
        "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256",
        rp.client_id,
        iamsmart_domain::oidc::authorize::urlencode(&rp.redirect_uri),
        common::rp::pkce().1
    ));
    let page = common::rp::open_login(&common::rp::browser(), &auth).await;
    let link = common::rp::between(&page.html, "id=\"open-app\" href=\"", "\"")
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let id = page.qr.rsplit("id=").next().unwrap();
    assert!(
        link.starts_with(&format!("/app/#/approve?id={id}&return=")),
        "{link}"
    );
    let back = common::rp::percent_decode(link.rsplit("return=").next().unwrap());
    assert_eq!(
        back, page.continue_url,
        "it comes back to this browser's continue link"
    );
}
