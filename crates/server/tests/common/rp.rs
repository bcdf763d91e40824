//! A test relying party: an online service as a test drives it (PKCE, PAR, private_key_jwt,
//! DPoP), and the resident's side of a login through the app CLI.
#![allow(dead_code)]
use super::*;
use base64::Engine;
use iamsmart_crypto::device::DeviceKey;
use serde_json::{json, Value};

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client's key (also used for DPoP proofs).
pub struct Key {
    pub key: DeviceKey,
    pub kid: String,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        Key {
            key: DeviceKey::generate().unwrap(),
            kid: kid.into(),
        }
    }
    pub fn jwk(&self) -> Value {
        let mut j = serde_json::to_value(self.key.public_jwk()).unwrap();
        j["kid"] = json!(self.kid);
        j["alg"] = json!("ES256");
        j["use"] = json!("sig");
        j
    }
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        self.key
            .sign_jws(typ, &self.kid, claims.to_string().as_bytes())
            .unwrap()
    }
    /// A DPoP proof (RFC 9449) for a request.
    pub fn dpop(&self, method: &str, url: &str, access_token: Option<&str>) -> String {
        self.key
            .dpop_proof(method, url, access_token, &random(), now_s())
            .unwrap()
    }
    pub fn thumbprint(&self) -> String {
        let mut j = self.key.public_jwk();
        j.kid = None;
        j.thumbprint()
    }
}

pub fn random() -> String {
    let mut b = [0u8; 16];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    b64(&b)
}

/// PKCE: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let v = format!("{}{}{}", random(), random(), random());
    let c = b64(&iamsmart_crypto::hash::sha256(v.as_bytes()));
    (v, c)
}

/// An online service registered on the platform.
pub struct Rp {
    pub base: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub key: Key,
    pub dpop: Key,
    pub redirect_uri: String,
    pub http: reqwest::Client,
}

impl Rp {
    /// Register a client with `iamsmart clients create` on a site.
    pub fn register(site: &Site, srv: &Server, profile: &str, extra: &[&str]) -> Rp {
        Self::register_with_keys(site, srv, profile, extra, &[])
    }

    /// Register a client whose JWKS also holds `extra_keys` (an encryption key, say).
    pub fn register_with_keys(
        site: &Site,
        srv: &Server,
        profile: &str,
        extra: &[&str],
        extra_keys: &[Value],
    ) -> Rp {
        let key = Key::new("rp-key-1");
        let jwks = site.dir.path().join(format!("jwks-{}.json", random()));
        let mut doc = key.jwks();
        for k in extra_keys {
            doc["keys"].as_array_mut().unwrap().push(k.clone());
        }
        std::fs::write(&jwks, doc.to_string()).unwrap();
        let redirect_uri = "https://service.example/callback".to_string();
        let mut args = vec![
            "clients",
            "create",
            "--name",
            "Online Application for International Driving Permit",
            "--redirect-uri",
            &redirect_uri,
            "--profile",
            profile,
        ];
        let jwks_s = jwks.display().to_string();
        if profile == "fapi2" || extra.contains(&"--with-keys") {
            args.extend(["--jwks-file", &jwks_s]);
        }
        args.extend(extra.iter().filter(|a| **a != "--with-keys"));
        let o = site.run(&args, &[("IAMSMART_PUBLIC_URL", &srv.base)]);
        let v = ok_json(&o);
        Rp {
            base: srv.base.clone(),
            client_id: v["client_id"].as_str().unwrap().into(),
            secret: v["client_secret"].as_str().map(str::to_string),
            key,
            dpop: Key::new("dpop"),
            redirect_uri,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A private_key_jwt assertion for this client.
    pub fn assertion(&self) -> String {
        self.key.sign(
            "JWT",
            &json!({ "iss": self.client_id, "sub": self.client_id, "aud": self.base,
                     "exp": now_s() + 60, "iat": now_s(), "jti": random() }),
        )
    }

    /// Client authentication form fields (or none, for a secret client: Basic is added by `post`).
    pub fn auth(&self) -> Vec<(String, String)> {
        match &self.secret {
            Some(_) => vec![],
            None => vec![
                (
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ),
                ("client_assertion".into(), self.assertion()),
            ],
        }
    }

    /// POST a form with client authentication (and a DPoP proof when `dpop`).
    pub async fn post(&self, path: &str, form: &[(&str, &str)], dpop: bool) -> reqwest::Response {
        let mut fields: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        fields.extend(self.auth());
        let mut req = self.http.post(self.url(path)).form(&fields);
        if let Some(s) = &self.secret {
            req = req.basic_auth(&self.client_id, Some(s));
        }
        if dpop {
            req = req.header("DPoP", self.dpop.dpop("POST", &self.url(path), None));
        }
        req.send().await.unwrap()
    }

    /// A client token (`client_credentials`), DPoP-bound for FAPI clients.
    pub async fn client_token(&self, scope: &str) -> String {
        let fapi = self.secret.is_none();
        let r = self
            .post(
                "/token",
                &[("grant_type", "client_credentials"), ("scope", scope)],
                fapi,
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["token_type"], if fapi { "DPoP" } else { "Bearer" });
        t["access_token"].as_str().unwrap().to_string()
    }

    /// Call an API with a client token (DPoP proof when the client has no secret).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let url = self.url(path);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, &url);
        if self.secret.is_none() {
            req = req
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", self.dpop.dpop(method, &url, Some(token)));
        } else {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap()
    }

    /// Push an authorization request; returns (request_uri, verifier, state, nonce).
    pub async fn par(
        &self,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> (String, String, String, String) {
        let (verifier, challenge) = pkce();
        let (state, nonce) = (random(), random());
        let mut form = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", scope),
            ("state", state.as_str()),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        form.extend_from_slice(extra);
        let r = self.post("/par", &form, false).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let v: Value = r.json().await.unwrap();
        (
            v["request_uri"].as_str().unwrap().into(),
            verifier,
            state,
            nonce,
        )
    }

    /// Exchange a code for tokens.
    pub async fn token(&self, code: &str, verifier: &str) -> reqwest::Response {
        self.post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", verifier),
            ],
            true,
        )
        .await
    }

    /// GET userinfo with a DPoP-bound (or Bearer) token.
    pub async fn userinfo(&self, token: &str, dpop: bool) -> reqwest::Response {
        let url = self.url("/userinfo");
        let mut req = self.http.get(&url);
        if dpop {
            req = req
                .header("Authorization", format!("DPoP {token}"))
                .header("DPoP", self.dpop.dpop("GET", &url, Some(token)));
        } else {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }
}

/// A browser: keeps cookies, follows no redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Text between `start` and the next `end`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

/// What the login page gives a client without JavaScript.
pub struct LoginPage {
    pub qr: String,
    pub match_code: String,
    pub continue_url: String,
    pub html: String,
}

/// Load an authorization URL in `browser` and read the login page.
pub async fn open_login(browser: &reqwest::Client, url: &str) -> LoginPage {
    let r = browser.get(url).send().await.unwrap();
    let status = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    LoginPage {
        qr: between(&html, "<code id=\"qr-payload\">", "</code>")
            .expect("qr payload")
            .replace("&amp;", "&"),
        match_code: between(&html, "<p class=\"code\" id=\"match-code\">", "</p>")
            .expect("match code")
            .into(),
        continue_url: between(&html, "<a class=\"button\" id=\"continue\" href=\"", "\"")
            .expect("continue")
            .replace("&amp;", "&"),
        html,
    }
}

/// The query parameters of a redirect's Location.
pub fn location_params(r: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let loc = r.headers()["location"].to_str().unwrap();
    let q = loc.split_once('?').map(|x| x.1).unwrap_or_default();
    url_params(q)
}

pub fn url_params(q: &str) -> std::collections::HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Decode a JWT's payload (no verification).
pub fn jwt_claims(t: &str) -> Value {
    let p = t.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap(),
    )
    .unwrap()
}

/// A site with a sandbox registry and a resident with a working app home; returns the resident
/// json and the app home.
pub async fn resident_with_app(site: &Site, level: &str) -> (Value, std::path::PathBuf) {
    let home = site.dir.path().join(format!("app-{}", random()));
    let o = site.run(
        &[
            "sandbox",
            "create-resident",
            "--app-home",
            home.to_str().unwrap(),
            "--level",
            level,
            "--pin",
            APP_PIN,
            "--kdf-memory-mib",
            TEST_KDF_MEMORY_MIB,
        ],
        &[],
    );
    (ok_json(&o), home)
}

/// Point an app home at a server.
pub fn point_app(home: &std::path::Path, base: &str) {
    let file = home.join("device.json");
    let mut dev: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    dev["platform_url"] = json!(base);
    std::fs::write(&file, serde_json::to_vec(&dev).unwrap()).unwrap();
}

/// Log in through the browser with the app (and agree to everything on the consent page, if
/// one is shown); returns the redirect's parameters.
pub async fn login(
    browser: &reqwest::Client,
    home: &std::path::Path,
    authorize_url: &str,
) -> std::collections::HashMap<String, String> {
    let page = open_login(browser, authorize_url).await;
    let done = ok_json(&app(
        home,
        &["approve", &page.qr, "--match", &page.match_code, "--yes"],
    ));
    assert_eq!(done["status"], "approved");
    let base = authorize_url.split("/authorize").next().unwrap();
    let r = browser
        .get(format!("{base}{}", page.continue_url))
        .send()
        .await
        .unwrap();
    consent_if_asked(browser, base, r, true).await
}

/// A consent page's form: (tx, csrf, fields offered).
pub fn consent_form(html: &str) -> (String, String, Vec<String>) {
    let tx = between(html, "name=\"tx\" value=\"", "\"")
        .expect("tx")
        .to_string();
    let csrf = between(html, "name=\"csrf\" value=\"", "\"")
        .expect("csrf")
        .to_string();
    let mut fields = Vec::new();
    let marker = "name=\"field\" value=\"";
    let mut rest = html;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let v = &rest[..rest.find('"').unwrap()];
        if !fields.iter().any(|f| f == v) {
            fields.push(v.to_string());
        }
    }
    (tx, csrf, fields)
}

/// If `r` is the consent page, answer it (every field; allow or cancel; "remember" ticked) and
/// return the redirect's parameters; if it is a redirect already, its parameters.
pub async fn consent_if_asked(
    browser: &reqwest::Client,
    base: &str,
    r: reqwest::Response,
    allow: bool,
) -> std::collections::HashMap<String, String> {
    consent_if_asked_with(browser, base, r, allow, true).await
}

/// [`consent_if_asked`], with "remember my choice" ticked or not.
pub async fn consent_if_asked_with(
    browser: &reqwest::Client,
    base: &str,
    r: reqwest::Response,
    allow: bool,
    remember: bool,
) -> std::collections::HashMap<String, String> {
    if r.status().is_redirection() {
        return location_params(&r);
    }
    let status = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    let (tx, csrf, fields) = consent_form(&html);
    let decision = if allow { "allow" } else { "cancel" };
    let mut form: Vec<(&str, &str)> = vec![("tx", &tx), ("csrf", &csrf), ("decision", decision)];
    if remember {
        form.push(("remember", "1"));
    }
    for f in &fields {
        form.push(("field", f));
    }
    let r = browser
        .post(format!("{base}/authorize/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_redirection(),
        "{} {}",
        r.status(),
        r.text().await.unwrap()
    );
    location_params(&r)
}

/// A receiver for the provider's calls to a service (CIBA pings, back-channel logout).
pub async fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        post(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let s = s2.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    s.lock().unwrap().push((uri.path().to_string(), auth, body));
                    "ok"
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, seen)
}

pub async fn wait_for<T>(seen: &std::sync::Mutex<Vec<T>>, n: usize) {
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing arrived");
}

/// Sign in to `rp` in `b`: with the app the first time, silently (prompt=none) after.
/// Returns (id token, access token).
pub async fn sign_in(
    b: &reqwest::Client,
    rp: &Rp,
    home: &std::path::Path,
    silent: bool,
) -> (String, String) {
    let extra: &[(&str, &str)] = if silent { &[("prompt", "none")] } else { &[] };
    let (request_uri, verifier, _, _) = rp.par("openid", extra).await;
    let url = rp.url(&format!(
        "/authorize?client_id={}&request_uri={}",
        rp.client_id,
        super::signing::percent(&request_uri)
    ));
    let q = if silent {
        let r = b.get(&url).send().await.unwrap();
        let base = url.split("/authorize").next().unwrap();
        consent_if_asked(b, base, r, true).await
    } else {
        login(b, home, &url).await
    };
    let code = q.get("code").unwrap_or_else(|| panic!("a code: {q:?}"));
    let t: Value = rp.token(code, &verifier).await.json().await.unwrap();
    (
        t["id_token"].as_str().unwrap().to_string(),
        t["access_token"].as_str().unwrap().to_string(),
    )
}

/// Whether `b` still has a live iAM Smart session (a silent sign-in at `rp` gets a code).
pub async fn signed_in(b: &reqwest::Client, rp: &Rp) -> bool {
    let (request_uri, _, _, _) = rp.par("openid", &[("prompt", "none")]).await;
    let r = b
        .get(rp.url(&format!(
            "/authorize?client_id={}&request_uri={}",
            rp.client_id,
            super::signing::percent(&request_uri)
        )))
        .send()
        .await
        .unwrap();
    let q = location_params(&r);
    match q.get("error").map(String::as_str) {
        None => q.contains_key("code"),
        Some("login_required") => false,
        Some(other) => panic!("unexpected {other}"),
    }
}

pub async fn live(rp: &Rp, access_token: &str) -> bool {
    match rp.userinfo(access_token, true).await.status().as_u16() {
        200 => true,
        401 => false,
        s => panic!("userinfo {s}"),
    }
}

/// An initial access token for dynamic registration that allows `uses` registrations.
pub fn initial_token(site: &Site, uses: u32) -> String {
    let uses = uses.to_string();
    let o = site.run(&["clients", "initial-token", "--uses", &uses], &[]);
    ok_json(&o)["initial_access_token"]
        .as_str()
        .unwrap()
        .to_string()
}
