//! The online service's side (PAR, private_key_jwt, PKCE, DPoP, token, userinfo) and a minimal
//! browser (a cookie jar, no redirects followed automatically), shared by every target.
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use iamsmart_crypto::device::DeviceKey;

use serde_json::{json, Value};

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    b64(&b)
}

pub fn sha256_b64(s: &str) -> String {
    b64(&iamsmart_crypto::hash::sha256(s.as_bytes()))
}

/// Percent-encode a query or form component.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub issuer: String,
    pub par: String,
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub registration: Option<String>,
}

impl Endpoints {
    pub async fn discover(http: &reqwest::Client, base: &str) -> Result<Endpoints> {
        let url = format!("{base}/.well-known/openid-configuration");
        let m: Value = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .error_for_status()?
            .json()
            .await?;
        let s = |k: &str| -> Result<String> {
            m[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("discovery has no {k}"))
        };
        Ok(Endpoints {
            issuer: s("issuer")?,
            par: s("pushed_authorization_request_endpoint")?,
            authorize: s("authorization_endpoint")?,
            token: s("token_endpoint")?,
            userinfo: s("userinfo_endpoint")?,
            registration: s("registration_endpoint").ok(),
        })
    }
}

/// A signing key of the online service (client authentication and DPoP).
pub struct Key {
    pub key: DeviceKey,
    pub kid: String,
}

impl Key {
    pub fn new(kid: &str) -> Result<Key> {
        Ok(Key {
            key: DeviceKey::generate()?,
            kid: kid.into(),
        })
    }

    pub fn jwks(&self) -> Value {
        let mut j = serde_json::to_value(self.key.public_jwk()).unwrap_or_default();
        j["kid"] = json!(self.kid);
        j["alg"] = json!("ES256");
        j["use"] = json!("sig");
        json!({ "keys": [j] })
    }

    /// A DPoP proof (RFC 9449).
    pub fn dpop(&self, method: &str, url: &str, access_token: Option<&str>) -> Result<String> {
        Ok(self
            .key
            .dpop_proof(method, url, access_token, &random(16), now_s())?)
    }
}

/// The online service: its client id, keys and an HTTP client (keep-alive, no redirects).
#[derive(Clone)]
pub struct Rp {
    pub ep: Endpoints,
    pub client_id: String,
    pub key: std::sync::Arc<Key>,
    pub dpop: std::sync::Arc<Key>,
    /// Send to another process of the same provider: (public origin, origin to send to).
    pub via: Option<(String, String)>,
    pub redirect_uri: String,
    pub scope: String,
    pub http: reqwest::Client,
}

/// One pending authorization: what the service keeps between PAR and the token request.
pub struct Pending {
    pub request_uri: String,
    pub verifier: String,
    pub state: String,
}

/// Tokens from the token endpoint.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

/// A refusal or failure, with a short kind for the error table.
#[derive(Debug)]
pub struct StepError {
    pub kind: String,
    pub detail: String,
}

impl StepError {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> StepError {
        StepError {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
    pub fn net(e: reqwest::Error) -> StepError {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "network"
        };
        StepError::new(kind, e.to_string())
    }
}

pub type StepResult<T> = std::result::Result<T, StepError>;

pub async fn refused(r: reqwest::Response) -> StepError {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    let kind = if code.is_empty() {
        format!("http {status}")
    } else {
        format!("http {status} {code}")
    };
    StepError::new(kind, text.chars().take(300).collect::<String>())
}

impl Rp {
    /// The URL to send a request for `url` to (another process of the provider, if any).
    pub fn send(&self, url: &str) -> String {
        match &self.via {
            Some((public, actual)) if url.starts_with(public.as_str()) => {
                format!("{actual}{}", &url[public.len()..])
            }
            _ => url.to_string(),
        }
    }

    /// A copy that sends to `origin` while naming the public URLs in what it signs.
    pub fn via(&self, origin: &str) -> Rp {
        let mut r = self.clone();
        let public = origin_of(&self.ep.issuer).to_string();
        r.via = (public != origin).then(|| (public, origin.to_string()));
        r
    }

    /// A private_key_jwt assertion (RFC 7523) for the issuer.
    pub fn assertion(&self) -> StepResult<String> {
        let claims = json!({ "iss": self.client_id, "sub": self.client_id, "aud": self.ep.issuer,
                             "exp": now_s() + 60, "iat": now_s(), "jti": random(16) });
        self.key
            .key
            .sign_jws("JWT", &self.key.kid, claims.to_string().as_bytes())
            .map_err(|e| StepError::new("sign", e.to_string()))
    }

    fn form(&self, fields: &[(&str, &str)]) -> StepResult<String> {
        let assertion = self.assertion()?;
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            s.append_pair(k, v);
        }
        s.append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        );
        s.append_pair("client_assertion", &assertion);
        Ok(s.finish())
    }

    /// Push an authorization request (PKCE S256, state, nonce).
    pub async fn par(&self) -> StepResult<Pending> {
        let verifier = format!("{}{}", random(24), random(24));
        let challenge = sha256_b64(&verifier);
        let (state, nonce) = (random(12), random(12));
        let body = self.form(&[
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])?;
        let r = self
            .http
            .post(self.send(&self.ep.par))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(StepError::net)?;
        if r.status().as_u16() != 201 {
            return Err(refused(r).await);
        }
        let v: Value = r.json().await.map_err(StepError::net)?;
        let request_uri = v["request_uri"]
            .as_str()
            .ok_or_else(|| StepError::new("bad answer", "no request_uri"))?
            .to_string();
        Ok(Pending {
            request_uri,
            verifier,
            state,
        })
    }

    /// The authorization URL for a pushed request.
    pub fn authorize_url(&self, p: &Pending) -> String {
        self.send(&format!(
            "{}?client_id={}&request_uri={}",
            self.ep.authorize,
            enc(&self.client_id),
            enc(&p.request_uri)
        ))
    }

    /// POST to the token endpoint with client authentication and a DPoP proof.
    async fn token_request(&self, fields: &[(&str, &str)]) -> StepResult<Tokens> {
        let body = self.form(fields)?;
        let proof = self
            .dpop
            .dpop("POST", &self.ep.token, None)
            .map_err(|e| StepError::new("sign", e.to_string()))?;
        let r = self
            .http
            .post(self.send(&self.ep.token))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("DPoP", proof)
            .body(body)
            .send()
            .await
            .map_err(StepError::net)?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        let v: Value = r.json().await.map_err(StepError::net)?;
        if v["token_type"].as_str().map(str::to_ascii_lowercase) != Some("dpop".into()) {
            return Err(StepError::new("not dpop-bound", v.to_string()));
        }
        Ok(Tokens {
            access_token: v["access_token"]
                .as_str()
                .ok_or_else(|| StepError::new("bad answer", "no access_token"))?
                .to_string(),
            refresh_token: v["refresh_token"].as_str().map(str::to_string),
            id_token: v["id_token"].as_str().map(str::to_string),
        })
    }

    /// A client token (`client_credentials` grant, private_key_jwt, DPoP-bound).
    pub async fn client_token(&self, scope: &str) -> StepResult<Tokens> {
        self.token_request(&[("grant_type", "client_credentials"), ("scope", scope)])
            .await
    }

    /// Call an API of the provider with a DPoP-bound client token and a fresh proof; the JSON
    /// answer of a 2xx, a [`StepError`] otherwise. `path` is under the issuer's origin.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> StepResult<Value> {
        let url = format!("{}{path}", origin_of(&self.ep.issuer));
        let proof = self
            .dpop
            .dpop(method.as_str(), &url, Some(token))
            .map_err(|e| StepError::new("sign", e.to_string()))?;
        let mut req = self
            .http
            .request(method, self.send(&url))
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.map_err(StepError::net)?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        r.json().await.map_err(StepError::net)
    }

    /// Redeem a code.
    pub async fn redeem(&self, code: &str, p: &Pending) -> StepResult<Tokens> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", &p.verifier),
        ])
        .await
    }

    /// Use a refresh token (rotated by both providers).
    pub async fn refresh(&self, refresh_token: &str) -> StepResult<Tokens> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// GET userinfo with the DPoP-bound access token.
    pub async fn userinfo(&self, access_token: &str) -> StepResult<Value> {
        let proof = self
            .dpop
            .dpop("GET", &self.ep.userinfo, Some(access_token))
            .map_err(|e| StepError::new("sign", e.to_string()))?;
        let r = self
            .http
            .get(self.send(&self.ep.userinfo))
            .header("Authorization", format!("DPoP {access_token}"))
            .header("DPoP", proof)
            .send()
            .await
            .map_err(StepError::net)?;
        if !r.status().is_success() {
            return Err(refused(r).await);
        }
        let v: Value = r.json().await.map_err(StepError::net)?;
        if v["sub"].as_str().is_none() {
            return Err(StepError::new("bad answer", "userinfo without sub"));
        }
        Ok(v)
    }
}

/// A browser: one per login (a fresh jar, so every login needs the app), over a shared
/// connection pool. Cookies are matched by path prefix.
#[derive(Default)]
pub struct Browser {
    jar: Vec<(String, String, String)>,
}

/// What the login page shows a client without JavaScript.
pub struct LoginPage {
    pub qr: String,
    pub match_code: String,
    pub continue_url: String,
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = text.find(start)? + start.len();
    let j = text[i..].find(end)? + i;
    Some(&text[i..j])
}

/// `scheme://host:port` of a URL.
pub fn origin_of(url: &str) -> &str {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(url.len());
    &url[..end]
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|x| x.1).unwrap_or(url);
    rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
}

/// Resolve a Location against the origin of `base`.
fn absolute(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    format!("{}{loc}", origin_of(base))
}

impl Browser {
    fn cookie_header(&self, url: &str) -> Option<String> {
        let path = path_of(url);
        let v: Vec<String> = self
            .jar
            .iter()
            .filter(|(_, _, p)| path.starts_with(p.as_str()))
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect();
        (!v.is_empty()).then(|| v.join("; "))
    }

    fn store(&mut self, r: &reqwest::Response) {
        for h in r.headers().get_all("set-cookie") {
            let Ok(s) = h.to_str() else { continue };
            let mut parts = s.split(';');
            let Some((name, value)) = parts.next().and_then(|kv| kv.trim().split_once('=')) else {
                continue;
            };
            let mut path = "/".to_string();
            let mut expired = value.is_empty();
            for a in parts {
                let a = a.trim();
                if let Some(p) = a.strip_prefix("Path=").or_else(|| a.strip_prefix("path=")) {
                    path = p.to_string();
                }
                if a.eq_ignore_ascii_case("max-age=0") {
                    expired = true;
                }
            }
            self.jar.retain(|(n, _, p)| !(n == name && *p == path));
            if !expired {
                self.jar.push((name.to_string(), value.to_string(), path));
            }
        }
    }

    async fn get(&mut self, http: &reqwest::Client, url: &str) -> StepResult<reqwest::Response> {
        let mut req = http.get(url);
        if let Some(c) = self.cookie_header(url) {
            req = req.header("cookie", c);
        }
        let r = req.send().await.map_err(StepError::net)?;
        self.store(&r);
        Ok(r)
    }

    async fn post_form(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        form: &[(String, String)],
    ) -> StepResult<reqwest::Response> {
        let mut req = http.post(url).form(form);
        if let Some(c) = self.cookie_header(url) {
            req = req.header("cookie", c);
        }
        let r = req.send().await.map_err(StepError::net)?;
        self.store(&r);
        Ok(r)
    }

    /// Load `url`, following redirects inside the provider, until a page (200) is shown.
    pub async fn open_login(&mut self, http: &reqwest::Client, url: &str) -> StepResult<LoginPage> {
        let mut url = url.to_string();
        for _ in 0..5 {
            let r = self.get(http, &url).await?;
            let status = r.status().as_u16();
            if r.status().is_redirection() {
                url = absolute(&url, location(&r)?);
                continue;
            }
            let html = r.text().await.map_err(StepError::net)?;
            if status != 200 {
                return Err(StepError::new(
                    format!("http {status}"),
                    html.chars().take(300).collect::<String>(),
                ));
            }
            let field = |s: &str, e: &str, what: &str| {
                between(&html, s, e)
                    .map(|x| x.replace("&amp;", "&"))
                    .ok_or_else(|| StepError::new(format!("page without {what}"), ""))
            };
            return Ok(LoginPage {
                qr: field("<code id=\"qr-payload\">", "</code>", "qr")?,
                match_code: field("<p class=\"code\" id=\"match-code\">", "</p>", "match code")?,
                continue_url: absolute(
                    &url,
                    &field(
                        "<a class=\"button\" id=\"continue\" href=\"",
                        "\"",
                        "continue",
                    )?,
                ),
            });
        }
        Err(StepError::new("redirect loop", url))
    }

    /// Follow the continue link (and redirects inside the provider) until the redirect back to
    /// the service; returns its `code` after checking `state`.
    pub async fn finish(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        redirect_uri: &str,
        state: &str,
    ) -> StepResult<String> {
        let mut url = url.to_string();
        for _ in 0..5 {
            let mut r = self.get(http, &url).await?;
            if r.status().as_u16() == 200 {
                // The consent page (the first sign-in of a resident to the service): share every
                // field offered and remember it, as a returning resident would have.
                let t = r.text().await.unwrap_or_default();
                match consent_form(&t) {
                    Some(form) => {
                        let action = absolute(&url, "/authorize/consent");
                        r = self.post_form(http, &action, &form).await?;
                    }
                    None => {
                        return Err(StepError::new(
                            "http 200 (no redirect)",
                            t.chars().take(300).collect::<String>(),
                        ))
                    }
                }
            }
            if !r.status().is_redirection() {
                let status = r.status().as_u16();
                let t = r.text().await.unwrap_or_default();
                return Err(StepError::new(
                    format!("http {status} (no redirect)"),
                    t.chars().take(300).collect::<String>(),
                ));
            }
            let loc = absolute(&url, location(&r)?);
            if let Some(q) = loc.strip_prefix(redirect_uri) {
                let q = q.trim_start_matches('?');
                let params: std::collections::HashMap<String, String> =
                    form_urlencoded::parse(q.as_bytes()).into_owned().collect();
                if let Some(e) = params.get("error") {
                    return Err(StepError::new(format!("redirect {e}"), q.to_string()));
                }
                if params.get("state").map(String::as_str) != Some(state) {
                    return Err(StepError::new("state mismatch", q.to_string()));
                }
                return params
                    .get("code")
                    .cloned()
                    .ok_or_else(|| StepError::new("no code", q.to_string()));
            }
            url = loc;
        }
        Err(StepError::new("redirect loop", url))
    }
}

fn location(r: &reqwest::Response) -> StepResult<&str> {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| StepError::new("redirect without location", ""))
}

/// A shared HTTP client: keep-alive, no automatic redirects, bounded time per request.
pub fn http_client(pool: usize) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(Into::into)
}

/// Fail unless `url` is on the loopback interface.
pub fn check_loopback(url: &str) -> Result<()> {
    let host = url
        .split_once("://")
        .map(|x| x.1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if host != "127.0.0.1" {
        bail!("{url}: the load generator only sends to 127.0.0.1");
    }
    Ok(())
}

/// The fields of iamsmart's consent page, answered "allow, remember" with every field offered;
/// `None` when `html` is not that page.
pub fn consent_form(html: &str) -> Option<Vec<(String, String)>> {
    if !html.contains("id=\"consent-form\"") {
        return None;
    }
    let tx = between(html, "name=\"tx\" value=\"", "\"")?;
    let csrf = between(html, "name=\"csrf\" value=\"", "\"")?;
    let mut form = vec![
        ("tx".to_string(), tx.to_string()),
        ("csrf".to_string(), csrf.to_string()),
        ("remember".to_string(), "1".to_string()),
        ("decision".to_string(), "allow".to_string()),
    ];
    let marker = "name=\"field\" value=\"";
    let mut rest = html;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let v = &rest[..rest.find('"')?];
        if !form.iter().any(|(k, x)| k == "field" && x == v) {
            form.push(("field".to_string(), v.to_string()));
        }
    }
    Some(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_resolve_against_their_origin() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/a/b?c"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            absolute(
                "http://127.0.0.1:1/authorize?x=1",
                "/authorize/continue?tx=t"
            ),
            "http://127.0.0.1:1/authorize/continue?tx=t"
        );
        assert_eq!(
            absolute("http://127.0.0.1:1/x", "https://s.example/cb"),
            "https://s.example/cb"
        );
        assert_eq!(path_of("http://127.0.0.1:1/auth/abc?q"), "/auth/abc?q");
    }

    #[test]
    fn cookies_go_to_their_path() {
        let mut b = Browser::default();
        b.jar.push(("a".into(), "1".into(), "/".into()));
        b.jar
            .push(("i".into(), "2".into(), "/interaction/x".into()));
        assert_eq!(
            b.cookie_header("http://127.0.0.1:1/auth").as_deref(),
            Some("a=1")
        );
        assert_eq!(
            b.cookie_header("http://127.0.0.1:1/interaction/x/continue")
                .as_deref(),
            Some("a=1; i=2")
        );
    }

    #[test]
    fn only_loopback_is_a_target() {
        assert!(check_loopback("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "http://10.0.0.1:80",
            "http://example.org/",
            "http://127.0.0.10:1",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_page_fields_are_read() {
        let html = r#"<code id="qr-payload">iamsmart:approve?id=ar_1&amp;x=2</code>
<p class="code" id="match-code">0421</p><a class="button" id="continue" href="/c?tx=1">go</a>"#;
        assert_eq!(
            between(html, "<code id=\"qr-payload\">", "</code>"),
            Some("iamsmart:approve?id=ar_1&amp;x=2")
        );
        assert_eq!(between(html, "id=\"match-code\">", "</p>"), Some("0421"));
        assert_eq!(between(html, "missing", "</p>"), None);
    }

    #[test]
    fn the_consent_page_is_answered_with_every_field() {
        let html = r#"<form method="post" action="/authorize/consent" id="consent-form">
<input type="hidden" name="tx" value="t1"><input type="hidden" name="csrf" value="c1">
<input type="checkbox" name="field" value="name_en" checked disabled><input type="hidden" name="field" value="name_en">
<input type="checkbox" name="field" value="email" checked></form>"#;
        let form = super::consent_form(html).unwrap();
        let fields: Vec<&str> = form
            .iter()
            .filter(|(k, _)| k == "field")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(fields, ["name_en", "email"]);
        assert!(form.contains(&("tx".into(), "t1".into())));
        assert!(form.contains(&("decision".into(), "allow".into())));
        assert!(super::consent_form("<p>a login page</p>").is_none());
    }
}
