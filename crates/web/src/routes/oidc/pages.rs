//! The pages of the authorization flow: the login page with the QR code and match code, the
//! continue step, logout, and error pages that never redirect. English and Traditional Chinese.
use crate::oauth::{one, parse_form};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use iamsmart_domain::oidc::authorize::{self, LoginPage, Outcome};
use iamsmart_domain::oidc::{logout, OAuthError};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/authorize/continue", get(continue_get))
        .route("/authorize/status", get(status))
        .route("/logout", get(logout_get).post(logout_post))
        .route("/static/login.js", get(login_js))
        .route("/static/site.css", get(site_css))
        .route("/docs/integration-guide", get(guide))
}

/// The integration guide for online services (Markdown).
async fn guide() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../../../docs/integration-guide.md"),
    )
}

/// `en` or `zh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// From `ui_locales`, then `Accept-Language`; English by default.
    pub fn pick(ui_locales: Option<&str>, headers: &HeaderMap) -> Lang {
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        for tag in ui_locales.unwrap_or_default().split(' ').chain(
            accept
                .split(',')
                .map(|t| t.split(';').next().unwrap_or_default().trim()),
        ) {
            let t = tag.to_ascii_lowercase();
            if t.starts_with("zh") {
                return Lang::Zh;
            }
            if t.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-HK",
        }
    }
    fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

fn field_label(lang: Lang, f: &str) -> &'static str {
    match f {
        "hkid" => lang.t("HKID number", "香港身份證號碼"),
        "prefix" => lang.t("Title", "稱謂"),
        "name_en" => lang.t("English name", "英文姓名"),
        "name_zh" => lang.t("Chinese name", "中文姓名"),
        "birthdate" => lang.t("Date of birth", "出生日期"),
        "gender" => lang.t("Gender", "性別"),
        "marital_status" => lang.t("Marital status", "婚姻狀況"),
        "home_tel" => lang.t("Home telephone", "住宅電話"),
        "office_tel" => lang.t("Office telephone", "辦公室電話"),
        "mobile" => lang.t("Mobile number", "流動電話號碼"),
        "email" => lang.t("Email address", "電郵地址"),
        "residential_address" => lang.t("Residential address", "住址"),
        "postal_address" => lang.t("Postal address", "通訊地址"),
        "education_level" => lang.t("Education level", "教育程度"),
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "oidc/login.html")]
struct LoginTemplate<'a> {
    lang: &'a str,
    title: &'a str,
    intro: String,
    client_name: &'a str,
    qr_svg: String,
    qr_payload: &'a str,
    match_label: &'a str,
    match_code: &'a str,
    match_help: &'a str,
    steps: Vec<&'a str>,
    asks_label: &'a str,
    fields: Vec<&'a str>,
    status_text: &'a str,
    continue_url: String,
    continue_label: &'a str,
    status_url: String,
    face: Option<&'a str>,
    other_lang_url: String,
    other_lang_label: &'a str,
}

#[derive(Template)]
#[template(path = "oidc/message.html")]
struct MessageTemplate<'a> {
    lang: &'a str,
    title: &'a str,
    message: String,
    detail: Option<String>,
    reference: Option<String>,
    reference_label: &'a str,
}

fn qr_svg(payload: &str) -> String {
    match qrcode::QrCode::new(payload.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

fn cookie_name(s: &AppState, base: &str) -> String {
    if s.config.public_url.starts_with("https://") {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

fn cookie(s: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if s.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let path = if name.starts_with("__Host-") {
        "/"
    } else {
        path
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn tx_cookie(s: &AppState, tx: &str) -> String {
    cookie_name(s, &format!("iamsmart-tx-{}", &tx[..tx.len().min(12)]))
}

fn session_cookie(s: &AppState) -> String {
    cookie_name(s, "iamsmart-session")
}

fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(html) => (
            status,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            ],
            Html(html),
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response(),
    }
}

/// An error page (never a redirect).
pub fn error_page(lang: Lang, e: &OAuthError, reference: Option<String>) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let message = match e.error {
        "invalid_client" | "invalid_redirect_uri" => lang.t(
            "We cannot sign you in to this service: the link that brought you here is not valid. Please go back to the service and try again; if it happens again, contact the service.",
            "我們無法讓你登入這項服務：帶你來這裏的連結無效。請返回該服務再試；如問題持續，請聯絡該服務。",
        ),
        "access_denied" => lang.t(
            "This sign-in cannot continue here. Please start again from the service.",
            "此登入無法在這裏繼續。請返回該服務重新開始。",
        ),
        _ => lang.t(
            "Something is wrong with this sign-in request. Please go back to the service and try again.",
            "此登入要求有問題。請返回該服務再試。",
        ),
    };
    render(
        status,
        &MessageTemplate {
            lang: lang.code(),
            title: lang.t("Sign-in problem", "登入問題"),
            message: message.to_string(),
            detail: Some(format!("{}: {}", e.error, e.description)),
            reference,
            reference_label: lang.t("Reference", "參考編號"),
        },
    )
}

fn login_page(s: &AppState, lang: Lang, page: &LoginPage, uri: &Uri) -> Response {
    let continue_url = format!("/authorize/continue?tx={}", page.tx);
    let status_text = match page.status.as_str() {
        "scanned" => lang.t(
            "Scanned. Please approve in the app.",
            "已掃描。請在流動應用程式內確認。",
        ),
        _ => lang.t("Waiting for the app…", "正在等候流動應用程式…"),
    };
    let fields: Vec<&str> = page
        .fields
        .iter()
        .map(|f| field_label(lang, f))
        .filter(|l| !l.is_empty())
        .collect();
    let other = if lang == Lang::En { "zh-HK" } else { "en" };
    let path_q = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/authorize");
    let base = if page.browser_secret.is_some() {
        continue_url.clone()
    } else {
        path_q.to_string()
    };
    let other_lang_url = format!(
        "{base}{}ui_locales={other}",
        if base.contains('?') { '&' } else { '?' }
    );
    let t = LoginTemplate {
        lang: lang.code(),
        title: lang.t("Sign in with iAM Smart", "以「智方便」登入"),
        intro: match lang {
            Lang::En => format!("{} asks you to sign in with iAM Smart.", page.client_name),
            Lang::Zh => format!("{} 請你以「智方便」登入。", page.client_name),
        },
        client_name: &page.client_name,
        qr_svg: qr_svg(&page.qr),
        qr_payload: &page.qr,
        match_label: lang.t("Match code", "配對碼"),
        match_code: &page.match_code,
        match_help: lang.t(
            "Approve only if the app shows the same code.",
            "只在流動應用程式顯示相同配對碼時才確認。",
        ),
        steps: vec![
            lang.t(
                "Open the iAM Smart app on your phone.",
                "在手機打開「智方便」流動應用程式。",
            ),
            lang.t("Scan this QR code.", "掃描此二維碼。"),
            lang.t("Check the match code and approve.", "核對配對碼後確認。"),
        ],
        asks_label: lang.t("The service asks for:", "該服務要求以下資料："),
        fields,
        status_text,
        continue_label: lang.t(
            "I have approved in the app — continue",
            "我已在流動應用程式確認 — 繼續",
        ),
        status_url: format!("/authorize/status?tx={}", page.tx),
        continue_url,
        face: page.face.then(|| {
            lang.t(
                "This service needs a face check: the app will ask for a selfie.",
                "此服務需要面部核實：流動應用程式會要求你自拍。",
            )
        }),
        other_lang_url,
        other_lang_label: lang.t("中文", "English"),
    };
    let mut res = render(StatusCode::OK, &t);
    if let Some(secret) = &page.browser_secret {
        let name = tx_cookie(s, &page.tx);
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie(s, &name, secret, "/authorize", 900),
        );
    }
    res
}

fn outcome(s: &AppState, lang: Lang, o: Outcome, rid: Option<String>, uri: &Uri) -> Response {
    match o {
        Outcome::ErrorPage(e) => error_page(lang, &e, rid),
        Outcome::Redirect(to) => Redirect::to(&to).into_response(),
        Outcome::Login(page) => login_page(s, lang, &page, uri),
        Outcome::SignedIn { session, redirect } => {
            let mut res = Redirect::to(&redirect).into_response();
            let ttl = s.platform.oidc.policy.session_ttl_ms / 1000;
            res.headers_mut().append(
                header::SET_COOKIE,
                cookie(s, &session_cookie(s), &session, "/", ttl),
            );
            res
        }
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn authorize_any(
    s: AppState,
    headers: HeaderMap,
    uri: Uri,
    form: crate::oauth::Form,
) -> Response {
    let lang = Lang::pick(one(&form, "ui_locales").ok().flatten(), &headers);
    if form.len() > 40 || uri.query().is_some_and(|q| q.len() > 16 * 1024) {
        return error_page(
            lang,
            &OAuthError::invalid_request("too many or too large parameters"),
            request_id(&headers),
        );
    }
    let cookie = read_cookie(&headers, &session_cookie(&s)).map(str::to_string);
    let o = authorize::authorize(&s.platform, &form, cookie.as_deref()).await;
    outcome(&s, lang, o, request_id(&headers), &uri)
}

async fn authorize_get(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    authorize_any(s, headers, uri, form).await
}

async fn authorize_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let form = parse_form(&body);
    authorize_any(s, headers, uri, form).await
}

#[derive(Deserialize)]
struct TxQuery {
    tx: String,
    #[serde(default)]
    ui_locales: Option<String>,
}

async fn continue_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<TxQuery>,
) -> Response {
    let lang = Lang::pick(q.ui_locales.as_deref(), &headers);
    if q.tx.len() > 64 {
        return error_page(
            lang,
            &OAuthError::invalid_request("bad transaction"),
            request_id(&headers),
        );
    }
    let secret = read_cookie(&headers, &tx_cookie(&s, &q.tx)).map(str::to_string);
    let o = authorize::continue_login(&s.platform, &q.tx, secret.as_deref()).await;
    outcome(&s, lang, o, request_id(&headers), &uri)
}

/// The login's status for the page's script: `pending`, `scanned`, `approved`, `denied`,
/// `expired`. Only the browser that started the login may ask.
async fn status(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TxQuery>,
) -> Response {
    let secret = read_cookie(&headers, &tx_cookie(&s, &q.tx)).unwrap_or_default();
    match authorize::login_status(&s.platform, &q.tx, secret).await {
        Ok(Some(st)) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "status": st })),
        )
            .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "status": "unknown" })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "unknown" })),
        )
            .into_response(),
    }
}

async fn logout_any(s: AppState, headers: HeaderMap, form: crate::oauth::Form) -> Response {
    let lang = Lang::pick(one(&form, "ui_locales").ok().flatten(), &headers);
    let get = |k: &str| one(&form, k).ok().flatten();
    let cookie = read_cookie(&headers, &session_cookie(&s)).map(str::to_string);
    let r = logout::end_session(
        &s.platform,
        get("id_token_hint"),
        get("client_id"),
        get("post_logout_redirect_uri"),
        get("state"),
        cookie.as_deref(),
    )
    .await;
    let clear = cookie_header_clear(&s);
    match r {
        Ok(ended) => {
            let mut res = match ended.redirect {
                Some(to) => Redirect::to(&to).into_response(),
                None => render(
                    StatusCode::OK,
                    &MessageTemplate {
                        lang: lang.code(),
                        title: lang.t("Signed out", "已登出"),
                        message: lang
                            .t(
                                "You have signed out of iAM Smart. You can close this window.",
                                "你已登出「智方便」。你可關閉此視窗。",
                            )
                            .into(),
                        detail: None,
                        reference: None,
                        reference_label: "",
                    },
                ),
            };
            res.headers_mut().append(header::SET_COOKIE, clear);
            res
        }
        Err(e) => error_page(lang, &e, request_id(&headers)),
    }
}

fn cookie_header_clear(s: &AppState) -> HeaderValue {
    cookie(s, &session_cookie(s), "", "/", 0)
}

async fn logout_get(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    logout_any(s, headers, form).await
}

async fn logout_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    logout_any(s, headers, parse_form(&body)).await
}

async fn login_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("login.js"),
    )
}

async fn site_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("site.css"),
    )
}
