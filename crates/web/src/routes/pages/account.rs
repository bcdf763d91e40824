//! The resident's account pages: overview, passkeys (add, rename, remove) and consents (see and
//! withdraw). Signing in goes through the same pages as any service (the platform's own
//! `iamsmart-portal` client). Every form carries the session's CSRF token.
use super::common::{session_of, Lang, Ui, UiView};
use super::login::{error_page, field_label};
use crate::error::RequestId;
use crate::oauth::{one, parse_form};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_domain::oidc::authorize::Session;
use iamsmart_domain::oidc::{claims, clients, passkeys, session, OAuthError};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(overview))
        .route("/account/callback", get(callback))
        .route("/account/passkeys", get(passkey_list).post(passkey_add))
        .route("/account/passkeys/options", post(passkey_options))
        .route("/account/passkeys/rename", post(passkey_rename))
        .route("/account/passkeys/remove", post(passkey_remove))
        .route("/account/consents", get(consent_list))
        .route("/account/consents/revoke", post(consent_revoke))
}

pub(super) struct Nav {
    pub(super) overview: &'static str,
    pub(super) passkeys: &'static str,
    pub(super) consents: &'static str,
    pub(super) dealings: &'static str,
    pub(super) notifications: String,
    pub(super) signatures: &'static str,
    pub(super) sign_out: &'static str,
}

/// The account pages' navigation, with the number of unread notifications (in words, not
/// only a badge colour).
pub(super) async fn nav(s: &AppState, lang: Lang, resident_id: &str) -> Nav {
    let unread = iamsmart_domain::notify::inbox::unread_count(&s.platform, resident_id)
        .await
        .unwrap_or(0);
    Nav {
        overview: lang.t("My account", "我的帳戶"),
        passkeys: lang.t("Passkeys", "通行密匙"),
        consents: lang.t("Consents", "同意"),
        dealings: lang.t("Dealings", "往來紀錄"),
        notifications: notifications_label(lang, unread),
        signatures: lang.t("Signatures", "簽署紀錄"),
        sign_out: lang.t("Sign out", "登出"),
    }
}

#[derive(Template)]
#[template(path = "pages/account.html")]
struct OverviewTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    name: String,
    level: &'a str,
    level_label: &'a str,
    hkid_label: &'a str,
    hkid: String,
}

struct PasskeyRow {
    id: String,
    name: String,
    added: String,
    flagged: bool,
}

#[derive(Template)]
#[template(path = "pages/passkeys.html")]
struct PasskeysTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    csrf: String,
    intro: &'a str,
    passkeys: Vec<PasskeyRow>,
    empty: &'a str,
    add_label: &'a str,
    name_label: &'a str,
    rename_label: &'a str,
    remove_label: &'a str,
    flagged_label: &'a str,
    added_label: &'a str,
    error: &'a str,
    wait_label: &'a str,
    match_label: &'a str,
    denied: &'a str,
    expired: &'a str,
}

struct ConsentRow {
    client_id: String,
    service: String,
    fields: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "pages/consents.html")]
struct ConsentsTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    csrf: String,
    intro: &'a str,
    consents: Vec<ConsentRow>,
    empty: &'a str,
    withdraw_label: &'a str,
}

/// "Notifications", with the number unread in words (not only a badge colour).
pub(super) fn notifications_label(lang: Lang, unread: i64) -> String {
    match (lang, unread) {
        (Lang::En, 0) => "Notifications".into(),
        (Lang::En, n) => format!("Notifications ({n} unread)"),
        (Lang::ZhHant | Lang::ZhHans, 0) => "通知".into(),
        (Lang::ZhHant | Lang::ZhHans, n) => format!("通知（{n} 則未讀）"),
    }
}

pub(super) fn day(ms: i64) -> String {
    iamsmart_proto::time::date(ms)
}

/// The signed-in resident, or a redirect to sign in.
pub(super) async fn signed_in(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<(Session, String), Response> {
    let cookie = session_of(s, headers).unwrap_or_default().to_string();
    match session::session(&s.platform.oidc, Some(&cookie)).await {
        Ok(Some(sess)) => Ok((sess, cookie)),
        Ok(None) => {
            let (_, challenge) = pkce();
            let url = format!(
                "/authorize?client_id={}&response_type=code&scope=openid&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&prompt=login",
                clients::PORTAL,
                iamsmart_domain::oidc::authorize::urlencode(&s.platform.oidc.provider.policy.url("/account/callback")),
            );
            Err(Redirect::to(&url).into_response())
        }
        Err(e) => Err(crate::error::ApiError::from(e).into_response()),
    }
}

fn pkce() -> (String, String) {
    use base64::Engine;
    let mut b = [0u8; 32];
    iamsmart_crypto::rng::Rng::fill(&iamsmart_crypto::rng::SystemRng, &mut b);
    let v = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let c = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(iamsmart_crypto::hash::sha256(v.as_bytes()));
    (v, c)
}

/// Back from signing in: the session cookie is set; the code is not needed.
async fn callback() -> Response {
    Redirect::to("/account").into_response()
}

async fn overview(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, _) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account");
    let lang = ui.lang;
    let r = match iamsmart_domain::identity::get(&s.platform.identity, &sess.resident_id).await {
        Ok(r) => r,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let name = match (lang, &r.verified.name_zh) {
        // The name as on the identity card, in Traditional characters on a Simplified page too.
        (Lang::ZhHant | Lang::ZhHans, Some(zh)) => format!(
            "{}（{}）",
            crate::simplified::verbatim(zh),
            r.verified.name_en
        ),
        _ => r.verified.name_en.clone(),
    };
    ui.render(
        StatusCode::OK,
        &OverviewTemplate {
            ui: ui.view(),
            title: lang.t("My account", "我的帳戶"),
            nav: nav(&s, lang, &sess.resident_id).await,
            name,
            level: if r.level == iamsmart_proto::profile::Level::Plus {
                lang.t("iAM Smart+", "「智方便+」")
            } else {
                lang.t("iAM Smart", "「智方便」")
            },
            level_label: lang.t("Account level", "帳戶級別"),
            hkid_label: field_label(lang, "hkid"),
            hkid: iamsmart_domain::oidc::authorize::mask_hkid(&r.verified.hkid),
        },
    )
}

async fn passkey_list(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, cookie) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/passkeys");
    let lang = ui.lang;
    let list = passkeys::list(&s.platform, &sess.resident_id)
        .await
        .unwrap_or_default();
    ui.render(
        StatusCode::OK,
        &PasskeysTemplate {
            ui: ui.view(),
            title: lang.t("Passkeys", "通行密匙"),
            nav: nav(&s, lang, &sess.resident_id).await,
            csrf: session::csrf_token(&s.platform.oidc, &cookie),
            intro: lang.t(
                "A passkey lets you sign in on this device with its screen lock, without the app.",
                "通行密匙讓你以此裝置的螢幕鎖登入，無需使用流動應用程式。",
            ),
            passkeys: list
                .into_iter()
                .map(|p| PasskeyRow {
                    added: day(p.created_at),
                    id: p.id,
                    name: p.name,
                    flagged: p.flagged,
                })
                .collect(),
            empty: lang.t("You have no passkeys yet.", "你尚未有通行密匙。"),
            add_label: lang.t("Add a passkey on this device", "在此裝置加入通行密匙"),
            name_label: lang.t("Name", "名稱"),
            rename_label: lang.t("Rename", "重新命名"),
            remove_label: lang.t("Remove", "移除"),
            flagged_label: lang.t(
                "Blocked: this passkey may have been copied. Remove it.",
                "已封鎖：此通行密匙可能被複製，請移除。",
            ),
            added_label: lang.t("Added", "加入日期"),
            error: lang.t("The passkey could not be added.", "無法加入通行密匙。"),
            wait_label: lang.t(
                "A passkey signs in without your phone, so your phone must agree first. Open the iAM Smart app and approve the request there.",
                "通行密匙可在不用手機的情況下登入，所以須先經你的手機同意。請開啟「智方便」應用程式並批准要求。",
            ),
            match_label: lang.t(
                "Check that the app shows this code:",
                "請確認應用程式顯示此代碼：",
            ),
            denied: lang.t(
                "The request was declined in the app. No passkey was added.",
                "要求已在應用程式中被拒絕，未有加入通行密匙。",
            ),
            expired: lang.t(
                "The request in the app expired. Try again.",
                "應用程式中的要求已過期，請再試一次。",
            ),
        },
    )
}

fn csrf_refused(ui: &Ui, rid: String) -> Response {
    error_page(
        ui,
        &OAuthError::access_denied("the form has expired; open the page again"),
        Some(rid),
    )
}

/// The session of a call made by the account page's script: 401 without one, 403 unless the
/// call carries the session's CSRF token in `x-csrf-token`.
async fn signed_in_for_script(s: &AppState, headers: &HeaderMap) -> Result<Session, StatusCode> {
    let (sess, cookie) = signed_in(s, headers)
        .await
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    if session::csrf_ok(
        &s.platform.oidc,
        &cookie,
        read_header(headers, "x-csrf-token"),
    ) {
        Ok(sess)
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

/// Adding a passkey, step by step: without a body, the resident's phone is asked (202 with the
/// match code); with `{"pending": ...}`, the page asks again (202 while waiting, then once the
/// creation options).
async fn passkey_options(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let sess = match signed_in_for_script(&s, &headers).await {
        Ok(sess) => sess,
        Err(status) => return status.into_response(),
    };
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pending {
        pending: String,
    }
    let step = if body.iter().all(u8::is_ascii_whitespace) {
        passkeys::request_add(&s.platform.oidc, &sess.resident_id).await
    } else {
        let Ok(b) = serde_json::from_slice::<Pending>(&body) else {
            return crate::oauth::OAuthJson(OAuthError::invalid_request(
                "expected no body, or {\"pending\": \"...\"}",
            ))
            .into_response();
        };
        let name = iamsmart_domain::identity::get(&s.platform.identity, &sess.resident_id)
            .await
            .map(|r| r.verified.name_en)
            .unwrap_or_default();
        passkeys::add_options(&s.platform.oidc, &sess.resident_id, &b.pending, &name).await
    };
    match step {
        Ok(passkeys::AddStep::Waiting {
            pending,
            match_code,
            expires_at,
        }) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "status": "waiting", "pending": pending, "match_code": match_code, "expires_at": expires_at })),
        )
            .into_response(),
        Ok(passkeys::AddStep::Ready { ceremony, options }) => {
            Json(serde_json::json!({ "status": "ready", "ceremony": ceremony, "publicKey": options }))
                .into_response()
        }
        Err(e) => crate::oauth::OAuthJson(e).into_response(),
    }
}

fn read_header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct AddPasskey {
    ceremony: String,
    credential: iamsmart_crypto::webauthn::RegistrationResponse,
    #[serde(default)]
    name: String,
}

async fn passkey_add(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(b): Json<AddPasskey>,
) -> Response {
    let sess = match signed_in_for_script(&s, &headers).await {
        Ok(sess) => sess,
        Err(status) => return status.into_response(),
    };
    match passkeys::register(
        &s.platform.oidc,
        &sess.resident_id,
        &b.ceremony,
        &b.credential,
        &b.name,
    )
    .await
    {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => crate::oauth::OAuthJson(e).into_response(),
    }
}

pub(super) async fn form_action(
    s: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    rid: String,
    body: &[u8],
    back: &str,
    act: impl AsyncFnOnce(&Session, &crate::oauth::Form) -> Result<(), iamsmart_domain::DomainError>,
) -> Response {
    let (sess, cookie) = match signed_in(s, headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(s, headers, uri, None, back);
    let form = parse_form(body);
    if !session::csrf_ok(
        &s.platform.oidc,
        &cookie,
        one(&form, "csrf").ok().flatten().unwrap_or_default(),
    ) {
        return csrf_refused(&ui, rid);
    }
    match act(&sess, &form).await {
        Ok(()) => Redirect::to(back).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn passkey_rename(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let p = s.platform.clone();
    form_action(
        &s,
        &headers,
        &uri,
        rid.0,
        &body,
        "/account/passkeys",
        async move |sess, f| {
            let get = |k: &str| one(f, k).ok().flatten().unwrap_or_default().to_string();
            passkeys::rename(&p, &sess.resident_id, &get("id"), &get("name")).await
        },
    )
    .await
}

async fn passkey_remove(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let p = s.platform.clone();
    form_action(
        &s,
        &headers,
        &uri,
        rid.0,
        &body,
        "/account/passkeys",
        async move |sess, f| {
            let id = one(f, "id").ok().flatten().unwrap_or_default().to_string();
            passkeys::remove(&p, &sess.resident_id, &id).await
        },
    )
    .await
}

async fn consent_list(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, cookie) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/consents");
    let lang = ui.lang;
    let list = claims::list_consents(&s.platform, &sess.resident_id)
        .await
        .unwrap_or_default();
    ui.render(
        StatusCode::OK,
        &ConsentsTemplate {
            ui: ui.view(),
            title: lang.t("Consents", "同意"),
            nav: nav(&s, lang, &sess.resident_id).await,
            csrf: session::csrf_token(&s.platform.oidc, &cookie),
            intro: lang.t(
                "Services you allowed to receive your information. Withdrawing stops their access at once; they will ask again next time.",
                "你已容許接收你資料的服務。撤回後會即時停止其存取；該服務下次會再次徵求你的同意。",
            ),
            consents: list
                .iter()
                .map(|c| ConsentRow {
                    client_id: c["client_id"].as_str().unwrap_or_default().into(),
                    service: serde_json::from_value::<iamsmart_proto::i18n::Localized>(
                        c["service_names"].clone(),
                    )
                    .map(|n| n.get(lang.locale()).to_string())
                    .unwrap_or_else(|_| c["service"].as_str().unwrap_or_default().into()),
                    fields: c["fields"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|f| f.as_str()).map(|f| field_label(lang, f)).collect())
                        .unwrap_or_default(),
                })
                .collect(),
            empty: lang.t("You have not given any consent.", "你未有給予任何同意。"),
            withdraw_label: lang.t("Withdraw", "撤回"),
        },
    )
}

async fn consent_revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let p = s.platform.clone();
    let r = rid.0.clone();
    form_action(
        &s,
        &headers,
        &uri,
        rid.0,
        &body,
        "/account/consents",
        async move |sess, f| {
            let client = one(f, "client_id").ok().flatten().unwrap_or_default();
            let client = crate::ids::named::<iamsmart_domain::oidc::clients::ClientId>(client)?;
            claims::revoke_consent(&p, &sess.resident_id, &client, None, Some(&r))
                .await
                .map(|_| ())
        },
    )
    .await
}
