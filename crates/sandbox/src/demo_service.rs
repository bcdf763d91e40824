//! A demo online service: "Online Application for International Driving Permit". A government
//! department's web form that signs residents in with iAM Smart (OpenID Connect, authorization
//! code with PKCE and a client secret, ID token checked against the platform's keys) and fills the
//! form in with the data the resident agrees to share. Part of `iamsmart demo`, so that a newcomer
//! sees the whole journey in a browser.
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use iamsmart_crypto::jose::{self, Alg, PublicJwk};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How the service is registered at the platform.
#[derive(Debug, Clone)]
pub struct DemoServiceConfig {
    /// The platform's issuer URL (as browsers reach it).
    pub issuer: String,
    /// The platform as this service reaches it (back channel).
    pub platform_backchannel: String,
    /// This service's public URL.
    pub public_url: String,
    /// Client id.
    pub client_id: String,
    /// The key the service signs with: client assertions (`private_key_jwt`) and DPoP proofs.
    pub client_key: Arc<iamsmart_crypto::device::DeviceKey>,
    /// Its key id in the service's registered JWKS.
    pub client_kid: String,
    /// The key the gateway encrypts data to (registered in the client's JWKS); without it the
    /// form offers no fetch from the Transport Department.
    pub enc_key: Option<Arc<iamsmart_crypto::jwe::EncryptionKey>>,
    /// Where the service keeps what it saw of the platform's transparency log (in memory only
    /// when not given: a restart would then pin the log's keys again).
    pub witness_state: Option<std::path::PathBuf>,
}

struct Pending {
    verifier: String,
    nonce: String,
    /// SHA-256 of the secret set in the browser that started the login (against login CSRF:
    /// an answer brought to another browser is refused).
    browser: [u8; 32],
    created: std::time::Instant,
}

/// The cookie that binds a login to the browser that started it.
const LOGIN_COOKIE: &str = "demo-login";

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

pub(crate) struct Demo {
    pub(crate) cfg: DemoServiceConfig,
    pub(crate) http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    /// What the service saw of the platform's transparency log.
    pub(crate) witness: tokio::sync::Mutex<crate::demo_witness::LogWitness>,
}

/// A signed-in applicant (in memory; an hour at most).
#[derive(Clone)]
pub(crate) struct Session {
    /// The resident's subject at this service.
    pub(crate) sub: String,
    pub(crate) values: [String; 6],
    /// The signing of the application, once submitted.
    pub(crate) signing: Option<crate::demo_sign::Signing>,
    /// The gateway consent asked for, if any.
    pub(crate) consent: Option<String>,
    /// The licence number fetched through the gateway.
    pub(crate) licence: String,
    /// What the fetch said.
    pub(crate) note: Option<String>,
    created: std::time::Instant,
}

const SESSION_COOKIE: &str = "demo_sid";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Demo {
    /// The resident's web app on the platform, at its home screen (where requests wait).
    pub(crate) fn app_url(&self) -> String {
        format!("{}/app/#/home", self.cfg.issuer.trim_end_matches('/'))
    }

    /// A one-time client assertion (`private_key_jwt`) for the platform's token endpoint.
    pub(crate) fn assertion(&self) -> Result<String, String> {
        let claims = serde_json::json!({
            "iss": self.cfg.client_id, "sub": self.cfg.client_id, "aud": self.cfg.issuer,
            "iat": now_s(), "exp": now_s() + 60, "jti": random(),
        });
        self.cfg
            .client_key
            .sign_jws("JWT", &self.cfg.client_kid, claims.to_string().as_bytes())
            .map_err(|e| format!("signing the client assertion: {e}"))
    }

    /// A DPoP proof (RFC 9449) for one request, bound to the access token when there is one.
    /// `url` is as the platform names itself (the issuer), whatever address the call goes to.
    pub(crate) fn dpop(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
    ) -> Result<String, String> {
        self.cfg
            .client_key
            .dpop_proof(method, url, token, &random(), now_s())
            .map_err(|e| format!("signing the DPoP proof: {e}"))
    }

    /// The applicant's session (from the cookie).
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(&format!("{SESSION_COOKIE}=")))?
            .to_string();
        let mut all = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, v| v.created.elapsed().as_secs() < 3600);
        all.get(&id).cloned().map(|s| (id, s))
    }

    /// Change the applicant's session.
    pub(crate) fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)
        {
            f(s);
        }
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub(crate) fn random() -> String {
    let mut b = [0u8; 24];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    b64(&b)
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn zh(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("zh"))
}

/// The platform's language for this reader (`ui_locales`): the service's own pages are in
/// English and Traditional Chinese, the platform's also in Simplified Chinese.
fn ui_locale(headers: &HeaderMap) -> &'static str {
    let first = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split([',', ';']).next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if first.starts_with("zh-hans") || first.starts_with("zh-cn") {
        "zh-Hans"
    } else if first.starts_with("zh") {
        "zh-HK"
    } else {
        "en"
    }
}

/// The service's routes.
pub fn router(cfg: DemoServiceConfig) -> Router {
    let state = Arc::new(Demo {
        cfg,
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_default(),
        pending: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
        witness: Default::default(),
    });
    Router::new()
        .route("/", get(start))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/form", get(form))
        .route(
            "/licence",
            get(crate::demo_licence::progress).post(crate::demo_licence::request),
        )
        .route("/licence/state", get(crate::demo_licence::state))
        .route("/submit", post(crate::demo_sign::submit))
        .route("/signing", get(crate::demo_sign::progress))
        .route("/application.pdf", get(crate::demo_sign::download))
        .route("/log-witness", get(crate::demo_witness::status))
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/service.css", get(css))
        .with_state(state)
}

/// Serve the demo service on `listener`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: DemoServiceConfig,
) -> anyhow::Result<()> {
    axum::serve(listener, router(cfg)).await?;
    Ok(())
}

pub(crate) struct Text {
    pub(crate) lang: &'static str,
    pub(crate) title: &'static str,
    pub(crate) department: &'static str,
}

pub(crate) fn text(zh: bool) -> Text {
    if zh {
        Text {
            lang: "zh-HK",
            title: "網上申請國際駕駛許可證",
            department: "運輸署（示範）",
        }
    } else {
        Text {
            lang: "en",
            title: "Online Application for International Driving Permit",
            department: "Transport Department (demonstration)",
        }
    }
}

#[derive(Template)]
#[template(path = "demo/start.html")]
struct StartPage {
    t: Text,
    intro: &'static str,
    button: &'static str,
}

#[derive(Template)]
#[template(path = "demo/form.html")]
struct FormPage {
    t: Text,
    intro: &'static str,
    labels: [&'static str; 6],
    values: [String; 6],
    licence_label: &'static str,
    licence: String,
    /// Whether the fetch from the Transport Department is offered (the service has a key).
    can_fetch: bool,
    licence_note: Option<String>,
    fetch_intro: &'static str,
    fetch_button: &'static str,
    submit: &'static str,
}

#[derive(Template)]
#[template(path = "demo/message.html")]
struct MessagePage {
    t: Text,
    heading: &'static str,
    message: String,
    again: &'static str,
    error: bool,
}

pub(crate) fn page<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(h) => (status, [(header::CACHE_CONTROL, "no-store")], Html(h)).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response(),
    }
}

async fn start(headers: HeaderMap) -> Response {
    let z = zh(&headers);
    page(
        StatusCode::OK,
        &StartPage {
            t: text(z),
            intro: if z {
                "以「智方便」登入，申請表格會自動填上你同意分享的資料。"
            } else {
                "Sign in with iAM Smart and the form fills itself in with the information you agree to give."
            },
            button: if z {
                "以「智方便」登入"
            } else {
                "Sign in with iAM Smart"
            },
        },
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    more: Option<String>,
    /// Third-party-initiated login (one tap from the portal): the issuer that sent the
    /// resident here, which must be the platform this service trusts.
    #[serde(default)]
    iss: Option<String>,
}

async fn login(
    State(s): State<Arc<Demo>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    if q.iss.as_deref().is_some_and(|iss| iss != s.cfg.issuer) {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "This login was started by an issuer this service does not use.",
        )
            .into_response();
    }
    let (state, nonce, verifier) = (random(), random(), random() + &random());
    let challenge = b64(&iamsmart_crypto::hash::sha256(verifier.as_bytes()));
    let browser = random();
    {
        let mut p = s.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.retain(|_, v| v.created.elapsed().as_secs() < 900);
        p.insert(
            state.clone(),
            Pending {
                verifier,
                nonce: nonce.clone(),
                browser: iamsmart_crypto::hash::sha256(browser.as_bytes()),
                created: std::time::Instant::now(),
            },
        );
    }
    let mut scope = "openid profile eme.hkid eme.residential_address eme.mobile".to_string();
    if q.more.is_some() {
        scope.push_str(" eme.email eme.education_level");
    }
    let claims = r#"{"userinfo":{"phone_number":{"essential":false},"email":{"essential":false},"education_level":{"essential":false}}}"#;
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256&claims={}&ui_locales={}",
        s.cfg.issuer,
        enc(&s.cfg.client_id),
        enc(&format!("{}/callback", s.cfg.public_url)),
        enc(&scope),
        enc(claims),
        // The platform's pages open in the language of this page; the purpose the login and
        // consent pages show is the one registered in each language.
        ui_locale(&headers),
    );
    // The answer is accepted only in this browser: the state is bound to a secret kept here
    // (SameSite=Lax: it comes back with the platform's redirect, a top-level navigation).
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "{LOGIN_COOKIE}={browser}; Path=/callback; Max-Age=900; HttpOnly; SameSite=Lax"
                ),
            ),
            (header::LOCATION, url),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub(crate) fn failure(z: bool, message: String) -> Response {
    page(
        StatusCode::OK,
        &MessagePage {
            t: text(z),
            heading: if z {
                "未能登入"
            } else {
                "We could not log you in"
            },
            message,
            again: if z { "再試一次" } else { "Try again" },
            error: true,
        },
    )
}

async fn callback(
    State(s): State<Arc<Demo>>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let z = zh(&headers);
    if q.iss.as_deref() != Some(s.cfg.issuer.as_str()) {
        return failure(z, "the answer did not come from iAM Smart (iss)".into());
    }
    let pending = q
        .state
        .as_ref()
        .and_then(|st| s.pending.lock().ok().and_then(|mut p| p.remove(st)));
    let Some(pending) = pending else {
        return failure(
            z,
            "this login is unknown or was already used; start again".into(),
        );
    };
    let here = cookie(&headers, LOGIN_COOKIE).map(|b| iamsmart_crypto::hash::sha256(b.as_bytes()));
    if !here.is_some_and(|h| iamsmart_crypto::hash::ct_eq(&h, &pending.browser)) {
        return failure(
            z,
            if z {
                "這個登入是在另一個瀏覽器開始的；請在這裏重新開始。".into()
            } else {
                "this login was started in another browser; start again here".into()
            },
        );
    }
    if let Some(e) = q.error {
        let why = match e.as_str() {
            "access_denied" if z => "你在「智方便」拒絕了登入，或登入要求已過期。".to_string(),
            "access_denied" => {
                "You declined in iAM Smart, or the login request expired.".to_string()
            }
            _ => format!("{e}: {}", q.error_description.unwrap_or_default()),
        };
        return failure(z, why);
    }
    let Some(code) = q.code else {
        return failure(z, "no code".into());
    };
    // The platform's public log must still extend what this service saw before it believes
    // the platform's answer.
    if let crate::demo_witness::Look::Alarm(_) = s.witness_log().await {
        return failure(
            z,
            if z {
                "「智方便」的公開紀錄未能通過本服務的核對（紀錄被刪減或改寫），所以本服務暫停以「智方便」登入。我們已通知本服務的管理人員。".into()
            } else {
                "iAM Smart's public record failed this service's check (entries were cut off or rewritten), so this service does not accept logins with iAM Smart for now. Its operators have been told.".into()
            },
        );
    }
    match fetch_profile(&s, &code, &pending).await {
        Ok(info) => {
            let get = |k: &str| {
                info.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let address = info
                .get("address")
                .and_then(|a| a.get("formatted"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let id = random();
            s.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(
                id.clone(),
                Session {
                    sub: get("sub"),
                    values: [
                        get("name"),
                        get("name#zh-Hant-HK"),
                        get("hkid"),
                        get("birthdate"),
                        address,
                        get("phone_number"),
                    ],
                    consent: None,
                    signing: None,
                    licence: String::new(),
                    note: None,
                    created: std::time::Instant::now(),
                },
            );
            (
                StatusCode::SEE_OTHER,
                axum::response::AppendHeaders([
                    (
                        header::SET_COOKIE,
                        format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
                    ),
                    (
                        header::SET_COOKIE,
                        format!(
                            "{LOGIN_COOKIE}=; Path=/callback; Max-Age=0; HttpOnly; SameSite=Lax"
                        ),
                    ),
                    (header::LOCATION, "/form".to_string()),
                ]),
            )
                .into_response()
        }
        Err(e) => failure(z, e),
    }
}

/// The application form of a signed-in applicant.
async fn form(State(s): State<Arc<Demo>>, headers: HeaderMap) -> Response {
    let z = zh(&headers);
    match s.session(&headers) {
        Some((_, sess)) => form_page(z, &sess, s.cfg.enc_key.is_some()),
        None => Redirect::to("/").into_response(),
    }
}

/// The form, filled in from the session.
pub(crate) fn form_page(z: bool, sess: &Session, can_fetch: bool) -> Response {
    let labels = if z {
        [
            "英文姓名",
            "中文姓名",
            "香港身份證號碼",
            "出生日期",
            "住址",
            "流動電話號碼",
        ]
    } else {
        [
            "Name in English",
            "Name in Chinese",
            "HKID number",
            "Date of birth",
            "Residential address",
            "Mobile number",
        ]
    };
    page(
        StatusCode::OK,
        &FormPage {
            t: text(z),
            intro: if z {
                "以下資料由「智方便」填上。請核對，然後填寫駕駛執照號碼。"
            } else {
                "iAM Smart filled in the details below. Check them, then give your driving licence number."
            },
            labels,
            values: sess.values.clone(),
            licence_label: if z {
                "駕駛執照號碼"
            } else {
                "Driving licence number"
            },
            licence: sess.licence.clone(),
            can_fetch,
            licence_note: sess.note.clone(),
            fetch_intro: if z {
                "可由運輸署的紀錄取得你的駕駛執照資料：你會在「智方便」看到要求，經你同意後才會傳送。"
            } else {
                "We can get your driving licence details from the Transport Department's records: you will see the request in iAM Smart, and nothing is passed on unless you agree."
            },
            fetch_button: if z {
                "向運輸署取得我的駕駛執照資料"
            } else {
                "Get my driving licence details from the Transport Department"
            },
            submit: if z {
                "遞交申請"
            } else {
                "Submit application"
            },
        },
    )
}

/// Exchange the code, check the ID token, and read userinfo.
async fn fetch_profile(
    s: &Demo,
    code: &str,
    p: &Pending,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let back = &s.cfg.platform_backchannel;
    let token: serde_json::Value = s
        .http
        .post(format!("{back}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &format!("{}/callback", s.cfg.public_url)),
            ("code_verifier", &p.verifier),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &s.assertion()?),
        ])
        .send()
        .await
        .map_err(|e| format!("token request: {e}"))?
        .json()
        .await
        .map_err(|e| format!("token answer: {e}"))?;
    let id_token = token["id_token"]
        .as_str()
        .ok_or_else(|| format!("no ID token: {token}"))?;
    let jwks: serde_json::Value = s
        .http
        .get(format!("{back}/.well-known/jwks.json"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let keys: Vec<PublicJwk> =
        serde_json::from_value(jwks["keys"].clone()).map_err(|e| e.to_string())?;
    let (_, claims) = jose::verify_compact(id_token, &keys, &[Alg::ES256, Alg::EdDSA, Alg::RS256])
        .map_err(|e| format!("ID token: {e}"))?;
    let claims: serde_json::Value = serde_json::from_slice(&claims).map_err(|e| e.to_string())?;
    if claims["iss"] != s.cfg.issuer.as_str()
        || claims["aud"] != s.cfg.client_id.as_str()
        || claims["nonce"] != p.nonce.as_str()
    {
        return Err("the ID token is not for this login".into());
    }
    let info: serde_json::Value = s
        .http
        .get(format!("{back}/userinfo"))
        .bearer_auth(token["access_token"].as_str().unwrap_or_default())
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if info["sub"] != claims["sub"] {
        return Err("userinfo is for another person".into());
    }
    info.as_object()
        .cloned()
        .ok_or_else(|| "userinfo is not an object".into())
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../templates/demo/service.css"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn service() -> Router {
        router(DemoServiceConfig {
            issuer: "http://localhost:8080".into(),
            platform_backchannel: "http://127.0.0.1:9".into(),
            public_url: "http://localhost:8081".into(),
            client_id: "c_demo".into(),
            client_key: Arc::new(iamsmart_crypto::device::DeviceKey::generate().unwrap()),
            client_kid: "demo-sig-1".into(),
            enc_key: None,
            witness_state: None,
        })
    }

    async fn get(app: &Router, path: &str, cookie: Option<&str>) -> Response {
        let mut req = axum::http::Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        app.clone()
            .oneshot(req.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn text(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Login CSRF: an attacker starts a login, then brings the platform's answer (their code
    /// and state) to the victim's browser, which would be signed in as the attacker.
    #[tokio::test]
    async fn an_answer_brought_to_another_browser_is_refused() {
        let app = service();
        let started = get(&app, "/login", None).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let location = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        let state = location
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let set = started.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        let binding = set.split(';').next().unwrap().to_string();
        let answer = format!(
            "/callback?code=attackers-code&state={state}&iss=http%3A%2F%2Flocalhost%3A8080"
        );
        // The victim's browser has no such cookie (or another one): refused, and the state is used up.
        let res = get(&app, &answer, Some("demo-login=someone-elses")).await;
        assert!(text(res).await.contains("started in another browser"));
        let res = get(&app, &answer, Some(&binding)).await;
        assert!(
            text(res).await.contains("unknown or was already used"),
            "the state works once"
        );
        // In the browser that started it, the answer goes on to the code exchange.
        let started = get(&app, "/login", None).await;
        let location = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_string();
        let state = location
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let binding = started.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let answer = format!("/callback?code=c&state={state}&iss=http%3A%2F%2Flocalhost%3A8080");
        let body = text(get(&app, &answer, Some(&binding)).await).await;
        assert!(
            !body.contains("another browser") && !body.contains("unknown or was already used"),
            "{body}"
        );
    }
}
