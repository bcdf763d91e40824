//! The pages of the authorization flow: the login page (QR code and match code for the app, an
//! "Open iAM Smart" hand-over link on phones, a passkey on this device), the live status (server-
//! sent events, polling, or the no-JavaScript continue link), the consent page, and error
//! pages that never redirect. English and Traditional Chinese.
use super::common::{cookie, cookie_name, read_cookie, session_of, set_session, Lang, Ui, UiView};
use crate::error::RequestId;
use crate::oauth::{one, parse_form, Form};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_domain::oidc::authorize::{self, ConsentAnswer, ConsentPage, LoginPage, Outcome};
use iamsmart_domain::oidc::{passkeys, OAuthError};
use iamsmart_proto::app::ApprovalStatus;
use iamsmart_proto::i18n::ServiceDetails;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/authorize/continue", get(continue_get))
        .route("/authorize/status", get(status))
        .route("/authorize/events", get(events))
        .route("/authorize/consent", post(consent_post))
        .route("/authorize/passkey/options", post(passkey_options))
        .route("/authorize/passkey", post(passkey_finish))
}

/// A field's name for people.
pub fn field_label(lang: Lang, f: &str) -> &'static str {
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
#[template(path = "pages/login.html")]
struct LoginTemplate<'a> {
    ui: UiView,
    title: &'a str,
    intro: String,
    logo_uri: Option<&'a str>,
    qr_svg: String,
    service_name: &'a str,
    department: Option<&'a str>,
    qr_label: &'a str,
    qr_text_label: &'a str,
    qr_payload: &'a str,
    match_label: &'a str,
    match_code: &'a str,
    match_help: &'a str,
    expires_text: String,
    app_link: String,
    open_app_label: &'a str,
    open_app_here_label: &'a str,
    steps: Vec<&'a str>,
    /// For those without iAM Smart: where to get it.
    no_app_text: &'a str,
    get_app_label: &'a str,
    asks_label: &'a str,
    fields: Vec<&'a str>,
    status_text: &'a str,
    continue_url: String,
    continue_label: &'a str,
    status_url: String,
    events_url: String,
    /// What the status line says as the app answers (read by login.js).
    scanned_text: &'a str,
    answered_text: &'a str,
    expired_text: &'a str,
    passkey_url: &'a str,
    tx: &'a str,
    face: Option<&'a str>,
    self_registered: Option<&'a str>,
    passkey: bool,
    passkey_heading: &'a str,
    passkey_button: &'a str,
    passkey_error: &'a str,
}

#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessageTemplate<'a> {
    pub ui: UiView,
    pub title: &'a str,
    pub message: String,
    pub detail: Option<String>,
    pub reference: Option<String>,
    pub reference_label: &'a str,
}

struct ItemView {
    field: String,
    label: &'static str,
    shown: String,
    required: bool,
    /// Whether the resident has this item (an item without one is not offered as ticked).
    has_value: bool,
}

#[derive(Template)]
#[template(path = "pages/consent.html")]
struct ConsentTemplate<'a> {
    ui: UiView,
    title: &'a str,
    intro: String,
    service_name: &'a str,
    department: Option<&'a str>,
    logo_uri: Option<&'a str>,
    purpose: Option<&'a str>,
    purpose_label: &'a str,
    tx: &'a str,
    csrf: String,
    items_label: &'a str,
    items: Vec<ItemView>,
    has_required: bool,
    has_optional: bool,
    required_heading: &'a str,
    optional_heading: &'a str,
    if_not_text: &'a str,
    statement_heading: &'a str,
    statement: Vec<(&'a str, String)>,
    statement_link: Option<(&'a str, String)>,
    remember_label: &'a str,
    notify_label: String,
    manage_text: &'a str,
    manage_link: &'a str,
    allow_label: &'a str,
    cancel_label: &'a str,
}

/// The modules of a QR code (error correction M) with one fixed mask. Any of the eight masks
/// makes a valid code; choosing the "best" one, as `QrCode::new` does, scores all eight and took
/// 0.9 ms of the login page's CPU, against 20 µs for this.
fn qr_modules(payload: &str) -> Option<(Vec<qrcode::Color>, usize)> {
    use qrcode::canvas::{Canvas, MaskPattern};
    let ec = qrcode::EcLevel::M;
    let bits = qrcode::bits::encode_auto(payload.as_bytes(), ec).ok()?;
    let version = bits.version();
    let data = bits.into_bytes();
    let (codewords, ec_codewords) = qrcode::ec::construct_codewords(&data, version, ec).ok()?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec_codewords);
    canvas.apply_mask(MaskPattern::Checkerboard);
    let width = usize::try_from(version.width()).ok()?;
    Some((canvas.into_colors(), width))
}

fn qr_svg(payload: &str) -> String {
    match qr_modules(payload) {
        Some((modules, width)) => {
            qrcode::render::Renderer::<qrcode::render::svg::Color>::new(&modules, width, 4)
                .min_dimensions(220, 220)
                .build()
                .replacen("<svg ", "<svg role=\"img\" aria-label=\"QR code\" ", 1)
        }
        None => String::new(),
    }
}

/// A login transaction id, parsed at the edge: 1 to 64 letters, digits, `-` or `_`, so that
/// cutting it for a cookie name and putting it into a URL are safe whatever arrived.
#[derive(Debug, Clone)]
struct TxId(String);

impl TxId {
    fn parse(s: &str) -> Option<TxId> {
        tx_ok(s).then(|| TxId(s.to_string()))
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TxId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TxId::parse(&s)
            .ok_or_else(|| serde::de::Error::custom("tx: 1 to 64 letters, digits, - or _"))
    }
}

fn tx_cookie(s: &AppState, tx: &TxId) -> String {
    let tx = tx.as_str();
    cookie_name(s, &format!("iamsmart-tx-{}", &tx[..tx.len().min(12)]))
}

/// An error page (never a redirect).
pub fn error_page(ui: &Ui, e: &OAuthError, reference: Option<String>) -> Response {
    error_page_with_code(ui, e, reference, None)
}

/// [`error_page`] with the compatible API's code of the refusal (`D20008`), which is what a
/// service's support desk and its developers look up.
fn error_page_with_code(
    ui: &Ui,
    e: &OAuthError,
    reference: Option<String>,
    code: Option<&str>,
) -> Response {
    let lang = ui.lang;
    let status = crate::oauth::status_of(e);
    let message = match e.error {
        "invalid_client" | "invalid_redirect_uri" => lang.t(
            "You cannot sign in to this service from here: the link that brought you to this page is not valid. Please go back to the service and try again. If this happens again, contact the service and give it the reference number below.",
            "未能登入此服務：引導你到本頁的連結無效。請返回該服務再試。如問題持續，請聯絡該服務，並提供以下參考編號。",
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
    ui.render(
        status,
        &MessageTemplate {
            ui: ui.view(),
            title: lang.t("Sign-in problem", "登入問題"),
            message: message.to_string(),
            // What went wrong in the service's terms (`invalid_client: unknown client_id`) is for
            // its developers, who get it in the error response and the logs; the resident gets
            // what to do and the reference number.
            detail: code.map(|c| format!("{}: {c}", lang.t("Error code", "錯誤代碼"))),
            reference,
            reference_label: lang.t("Reference", "參考編號"),
        },
    )
}

fn login_page(s: &AppState, ui: &Ui, page: &LoginPage) -> Response {
    let lang = ui.lang;
    let continue_url = format!("/authorize/continue?tx={}", page.tx);
    let status_text = match page.status {
        ApprovalStatus::Scanned => lang.t(
            "Scanned. Please approve in the app.",
            "已掃描。請在流動應用程式內確認。",
        ),
        _ => lang.t("Waiting for the app…", "正在等候流動應用程式…"),
    };
    let app_link = app_link(page);
    let t = LoginTemplate {
        ui: ui.view(),
        title: lang.t("Sign in with iAM Smart", "以「智方便」登入"),
        intro: lang
            .t(
                "This service asks you to sign in with iAM Smart.",
                "這項服務要求你以「智方便」登入。",
            )
            .to_string(),
        service_name: page.service.name.get(lang.locale()),
        department: page.service.department.as_ref().map(|d| d.get(lang.locale())),
        logo_uri: page.logo_uri.as_deref(),
        qr_svg: qr_svg(&page.qr),
        qr_label: lang.t(
            "Scan with the iAM Smart app",
            "以「智方便」流動應用程式掃描",
        ),
        qr_text_label: lang.t(
            "The code's content, for a screen reader:",
            "二維碼的內容（供屏幕閱讀器使用）：",
        ),
        qr_payload: &page.qr,
        match_label: lang.t("Match code", "配對碼"),
        match_code: &page.match_code,
        match_help: lang.t(
            "Approve only if the app shows the same code and the same service name.",
            "只在流動應用程式顯示相同的配對碼和服務名稱時才確認。",
        ),
        expires_text: {
            let at = iamsmart_proto::time::hk_clock(page.expires_at, lang.locale());
            match lang {
                Lang::En => {
                    format!("This code works until {at}. If it runs out, a new one appears here.")
                }
                Lang::ZhHant | Lang::ZhHans => format!("此二維碼的有效時間至{at}；逾時後會在此顯示新的二維碼。"),
            }
        },
        app_link,
        open_app_label: lang.t(
            "On this phone? Open iAM Smart",
            "在這部手機上？打開「智方便」",
        ),
        open_app_here_label: lang.t(
            "iAM Smart on this computer? Open it here",
            "在這部電腦使用「智方便」？在此打開",
        ),
        steps: vec![
            lang.t(
                "Open the iAM Smart app on your phone.",
                "在手機打開「智方便」流動應用程式。",
            ),
            lang.t("Scan this QR code.", "掃描此二維碼。"),
            lang.t(
                "Check the match code and the service name, then approve.",
                "核對配對碼和服務名稱，然後確認。",
            ),
        ],
        no_app_text: lang.t("No iAM Smart yet?", "未有「智方便」？"),
        get_app_label: lang.t(
            "Register in a few minutes with your Hong Kong identity card",
            "以香港身份證登記，只需數分鐘",
        ),
        asks_label: lang.t("The service asks for:", "該服務要求以下資料："),
        fields: page
            .fields
            .iter()
            .map(|f| field_label(lang, f))
            .filter(|l| !l.is_empty())
            .collect(),
        status_text,
        continue_label: lang.t(
            "I have approved in the app — continue",
            "我已在流動應用程式確認 — 繼續",
        ),
        status_url: format!("/authorize/status?tx={}", page.tx),
        events_url: format!("/authorize/events?tx={}", page.tx),
        scanned_text: lang.t(
            "Scanned. Please approve in the app.",
            "已掃描，請在流動應用程式內確認。",
        ),
        answered_text: lang.t("Answered, continuing…", "已回覆，正在繼續…"),
        expired_text: lang.t(
            "The QR code has expired; showing a new one…",
            "二維碼已逾時，正在顯示新的二維碼…",
        ),
        passkey_url: "/authorize/passkey",
        tx: &page.tx,
        continue_url,
        face: page.face.then(|| {
            lang.t(
                "This service needs a face check: the app will ask for a selfie.",
                "此服務需要面部核實：流動應用程式會要求你自拍。",
            )
        }),
        self_registered: page.self_registered.then(|| {
            lang.t(
                "This service registered itself with iAM Smart: the operator has not checked who runs it. Continue only if you know the service.",
                "這項服務是自行在「智方便」登記的：營運者並未核實其經營者。請只在你認識這項服務時才繼續。",
            )
        }),
        passkey: page.passkey_allowed,
        passkey_heading: lang.t(
            "Or use a passkey on this device",
            "或使用此裝置上的通行密匙",
        ),
        passkey_button: lang.t("Use a passkey", "使用通行密匙"),
        passkey_error: lang.t(
            "The passkey did not work. Use the app, or try again.",
            "通行密匙無法使用。請使用流動應用程式，或再試一次。",
        ),
    };
    let mut res = ui.render(StatusCode::OK, &t);
    bind_tx(s, &mut res, page);
    res
}

/// The resident's web app on this phone (`/app/`) for a login page's request; it comes back to
/// this browser's continue link once answered. The fragment keeps the request id out of server
/// logs.
fn app_link(page: &LoginPage) -> String {
    let approval = page.qr.split("id=").nth(1).unwrap_or_default();
    let continue_url = format!("/authorize/continue?tx={}", page.tx);
    format!(
        "/app/#/approve?id={approval}&return={}",
        authorize::urlencode(&continue_url)
    )
}

/// Bind the login's transaction to this browser (the cookie its continue link needs).
fn bind_tx(s: &AppState, res: &mut Response, page: &LoginPage) {
    if let (Some(secret), Some(tx)) = (&page.browser_secret, TxId::parse(&page.tx)) {
        let name = tx_cookie(s, &tx);
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie(s, &name, secret, "/authorize", 900, true),
        );
    }
}

/// What the consent page tells the resident about the data asked for (the Personal Data
/// (Privacy) Ordinance's collection statement): why, who receives it, for how long, their rights
/// of access and correction and where to use them, and what iAM Smart itself keeps.
fn collection_statement(lang: Lang, service: &ServiceDetails) -> Vec<(&'static str, String)> {
    let locale = lang.locale();
    let name = service.name.get(locale);
    let receiver = match (&service.department, lang) {
        (Some(d), Lang::En) => format!("{name} ({})", d.get(locale)),
        (Some(d), Lang::ZhHant | Lang::ZhHans) => format!("「{name}」（{}）", d.get(locale)),
        (None, Lang::En) => name.to_string(),
        (None, Lang::ZhHant | Lang::ZhHans) => format!("「{name}」"),
    };
    let holder = service
        .department
        .as_ref()
        .map_or(receiver.clone(), |d| d.get(locale).to_string());
    let mut rows = Vec::new();
    if let Some(p) = &service.purpose {
        rows.push((lang.t("Purpose", "目的"), p.get(locale).to_string()));
    }
    rows.push((
        lang.t("Who receives it", "資料接收者"),
        match lang {
            Lang::En => format!("{receiver} only. iAM Smart passes it on and keeps a record that you agreed, not the data."),
            Lang::ZhHant | Lang::ZhHans => format!("只有{receiver}。「智方便」只負責傳送，並保存你同意的紀錄，不會保存有關資料。"),
        },
    ));
    rows.push((
        lang.t("How long it is kept", "保留期限"),
        match (service.retention_days, lang) {
            (Some(d), Lang::En) => format!("{d} days from when you give it"),
            (Some(d), Lang::ZhHant | Lang::ZhHans) => format!("由你提供當日起計{d}日"),
            (None, Lang::En) => "as the service's statement says".into(),
            (None, Lang::ZhHant | Lang::ZhHans) => "按該服務的聲明".into(),
        },
    ));
    rows.push((
        lang.t("Your rights", "你的權利"),
        match (&service.data_contact, lang) {
            (Some(c), Lang::En) => format!("Under the Personal Data (Privacy) Ordinance you may ask {holder} for access to and correction of your personal data: {c}."),
            (Some(c), Lang::ZhHant | Lang::ZhHans) => format!("根據《個人資料（私隱）條例》，你有權向{holder}要求查閱及改正你的個人資料：{c}。"),
            (None, Lang::En) => format!("Under the Personal Data (Privacy) Ordinance you may ask {holder} for access to and correction of your personal data."),
            (None, Lang::ZhHant | Lang::ZhHans) => format!("根據《個人資料（私隱）條例》，你有權向{holder}要求查閱及改正你的個人資料。"),
        },
    ));
    rows
}

fn consent_page(s: &AppState, ui: &Ui, page: &ConsentPage, session: &str) -> Response {
    let lang = ui.lang;
    let t = ConsentTemplate {
        ui: ui.view(),
        title: lang.t(
            "Do you agree to give the information below?",
            "是否同意提供以下個人資料？",
        ),
        intro: lang
            .t(
                "This service asks for the information below. Nothing is given to it until you agree.",
                "這項服務要求你提供以下個人資料。在你同意前，我們不會向其提供任何資料。",
            )
            .to_string(),
        service_name: page.service.name.get(lang.locale()),
        department: page.service.department.as_ref().map(|d| d.get(lang.locale())),
        logo_uri: page.logo_uri.as_deref(),
        purpose: page.service.purpose.as_ref().map(|p| p.get(lang.locale())),
        purpose_label: lang.t("Purpose:", "目的："),
        tx: &page.tx,
        csrf: iamsmart_domain::oidc::session::csrf_token(&s.platform.oidc, session),
        items_label: lang.t("Information the service asks for", "該服務要求的資料"),
        items: page
            .items
            .iter()
            .map(|i| ItemView {
                field: i.field.clone(),
                label: field_label(lang, &i.field),
                shown: match (i.field.as_str(), i.shown.as_str()) {
                    (_, "") => lang.t("(not given)", "（未提供）").into(),
                    ("gender", "male") => lang.t("Male", "男").into(),
                    ("gender", "female") => lang.t("Female", "女").into(),
                    ("gender", _) => lang.t("Other", "其他").into(),
                    // Exactly what the service will receive, in every language.
                    _ => crate::simplified::verbatim(&i.shown),
                },
                required: i.required,
                has_value: !i.shown.is_empty(),
            })
            .collect(),
        has_required: page.items.iter().any(|i| i.required),
        has_optional: page.items.iter().any(|i| !i.required),
        required_heading: lang.t(
            "Needed by the service:",
            "該服務必需的資料：",
        ),
        optional_heading: lang.t(
            "You may choose whether to give these:",
            "你可選擇是否提供以下資料：",
        ),
        if_not_text: lang.t(
            "If you do not agree, nothing is given: you go back to the service, which will not sign you in.",
            "如你不同意，我們不會提供任何資料；你會返回該服務，而該服務不會讓你登入。",
        ),
        statement_heading: lang.t(
            "Personal Information Collection Statement",
            "收集個人資料聲明",
        ),
        statement: collection_statement(lang, &page.service),
        statement_link: page.service.statement_uri.clone().map(|u| {
            (
                lang.t(
                    "Read the service's full statement",
                    "閱讀該服務的完整聲明",
                ),
                u,
            )
        }),
        remember_label: lang.t(
            "Remember my choice: do not ask me again when this service asks for the same information (you can withdraw it in your account)",
            "記住我的選擇：此服務下次要求相同資料時不再詢問我（可隨時在帳戶中撤回）",
        ),
        notify_label: match lang {
            Lang::En => format!(
                "Let {} send me notifications (you can turn them off in your account)",
                page.service.name.get(lang.locale())
            ),
            Lang::ZhHant | Lang::ZhHans => format!(
                "讓「{}」向我發送通知（你可在帳戶中關閉）",
                page.service.name.get(lang.locale())
            ),
        },
        manage_text: lang.t(
            "You can withdraw your consent at any time:",
            "你可隨時撤回同意：",
        ),
        manage_link: lang.t("manage consents", "管理同意"),
        allow_label: lang.t("Agree and continue", "同意並繼續"),
        cancel_label: lang.t("Do not agree", "不同意"),
    };
    let mut res = ui.render(StatusCode::OK, &t);
    if let (Some(secret), Some(tx)) = (&page.browser_secret, TxId::parse(&page.tx)) {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookie(s, &tx_cookie(s, &tx), secret, "/authorize", 900, true),
        );
    }
    res
}

fn outcome(
    s: &AppState,
    ui: &Ui,
    o: Outcome,
    rid: Option<String>,
    session: Option<&str>,
) -> Response {
    match o {
        Outcome::ErrorPage(e) => error_page(ui, &e, rid),
        Outcome::Redirect(to) => Redirect::to(&to).into_response(),
        Outcome::Login(page) => login_page(s, ui, &page),
        Outcome::Consent { session: new, page } => {
            let secret = new.as_deref().or(session).unwrap_or_default();
            let mut res = consent_page(s, ui, &page, secret);
            if let Some(n) = &new {
                set_session(s, &mut res, n);
            }
            res
        }
        Outcome::SignedIn {
            session: new,
            redirect,
        } => {
            let mut res = Redirect::to(&redirect).into_response();
            if let Some(n) = &new {
                set_session(s, &mut res, n);
            }
            res
        }
    }
}

async fn authorize_any(
    s: AppState,
    headers: HeaderMap,
    uri: Uri,
    rid: String,
    form: Form,
) -> Response {
    let ui = Ui::new(
        &s,
        &headers,
        &uri,
        one(&form, "ui_locales").ok().flatten(),
        uri.path(),
    );
    if form.len() > 40 || uri.query().is_some_and(|q| q.len() > 16 * 1024) {
        return error_page(
            &ui,
            &OAuthError::invalid_request("too many or too large parameters"),
            Some(rid),
        );
    }
    let session = session_of(&s, &headers).map(str::to_string);
    let o = authorize::authorize(&s.platform.oidc, &form, session.as_deref()).await;
    // Switch links on the login and consent pages go to the transaction's continue link, which
    // shows the page again without using the request twice.
    let base = match &o {
        Outcome::Login(p) => format!("/authorize/continue?tx={}", p.tx),
        Outcome::Consent { page, .. } => format!("/authorize/continue?tx={}", page.tx),
        _ => "/authorize".into(),
    };
    let ui = Ui::new(
        &s,
        &headers,
        &uri,
        one(&form, "ui_locales").ok().flatten(),
        &base,
    );
    outcome(&s, &ui, o, Some(rid), session.as_deref())
}

/// `GET /api/v1/auth/getQR` of the compatible API: the same pages as `/authorize`.
pub(crate) async fn api_get_qr(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    let lang = one(&form, "lang").ok().flatten().map(|l| match l {
        "zh-HK" => "zh-Hant",
        "zh-CN" => "zh-Hans",
        _ => "en",
    });
    let ui = Ui::new(&s, &headers, &uri, lang, uri.path());
    if form.len() > 20 || uri.query().is_some_and(|q| q.len() > 8 * 1024) {
        return error_page(
            &ui,
            &OAuthError::invalid_request("D10000: too many or too large parameters"),
            Some(rid.0),
        );
    }
    let session = session_of(&s, &headers).map(str::to_string);
    let o = iamsmart_domain::osp_api::get_qr(&s.platform.oidc, &form, session.as_deref()).await;
    if let Outcome::ErrorPage(e) = &o {
        // The service is told nothing (its redirect URI is not trusted yet): the page shows
        // the code, and the log has what exactly was wrong under the page's reference.
        let code = e.description.split(':').next().filter(|c| {
            c.len() == 6 && c.starts_with('D') && c[1..].bytes().all(|b| b.is_ascii_digit())
        });
        tracing::info!(code, reason = %e.description, "getQR refused");
        return error_page_with_code(&ui, e, Some(rid.0), code);
    }
    // A sign-in started on a phone (any `source` but a computer's browser) goes straight to the
    // app on that phone, which comes back to the continue link; a computer shows the QR code.
    let on_phone = one(&form, "source").ok().flatten() != Some("PC_Browser");
    if let (Outcome::Login(page), true) = (&o, on_phone) {
        let mut res = Redirect::to(&app_link(page)).into_response();
        bind_tx(&s, &mut res, page);
        return res;
    }
    let base = match &o {
        Outcome::Login(p) => format!("/authorize/continue?tx={}", p.tx),
        Outcome::Consent { page, .. } => format!("/authorize/continue?tx={}", page.tx),
        _ => uri.path().to_string(),
    };
    let ui = Ui::new(&s, &headers, &uri, lang, &base);
    outcome(&s, &ui, o, Some(rid.0), session.as_deref())
}

async fn authorize_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    authorize_any(s, headers, uri, rid.0, form).await
}

async fn authorize_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let form = parse_form(&body);
    authorize_any(s, headers, uri, rid.0, form).await
}

#[derive(Deserialize)]
struct TxQuery {
    tx: String,
}

/// The query of the login's status calls: a bad `tx` is a 400 before any handler runs.
#[derive(Deserialize)]
struct StatusQuery {
    tx: TxId,
}

fn tx_ok(tx: &str) -> bool {
    !tx.is_empty()
        && tx.len() <= 64
        && tx
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn continue_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    Query(q): Query<TxQuery>,
) -> Response {
    let ui = Ui::new(
        &s,
        &headers,
        &uri,
        None,
        &format!("/authorize/continue?tx={}", q.tx),
    );
    let Some(tx) = TxId::parse(&q.tx) else {
        return error_page(
            &ui,
            &OAuthError::invalid_request("bad transaction"),
            Some(rid.0),
        );
    };
    let secret = read_cookie(&headers, &tx_cookie(&s, &tx)).map(str::to_string);
    let session = session_of(&s, &headers).map(str::to_string);
    let o = authorize::continue_login(
        &s.platform.oidc,
        &q.tx,
        secret.as_deref(),
        session.as_deref(),
    )
    .await;
    // The pages of a login keep the languages the service asked for (`ui_locales`), after the
    // resident's own choice.
    let locales = match &o {
        Outcome::Login(p) => p.ui_locales.clone(),
        Outcome::Consent { page, .. } => page.ui_locales.clone(),
        _ => None,
    };
    let ui = Ui::new(
        &s,
        &headers,
        &uri,
        locales.as_deref(),
        &format!("/authorize/continue?tx={}", q.tx),
    );
    outcome(&s, &ui, o, Some(rid.0), session.as_deref())
}

/// The login's status for the page's script (polling fallback).
async fn status(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Response {
    let secret = read_cookie(&headers, &tx_cookie(&s, &q.tx)).unwrap_or_default();
    match authorize::login_status(&s.platform, q.tx.as_str(), secret).await {
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

/// Live-status streams one login may have open (a reload overlaps the old one briefly).
const STREAMS_PER_LOGIN: u32 = 2;
/// Live-status streams one address may have open.
const STREAMS_PER_ADDRESS: u32 = 20;

/// The login's status pushed as server-sent events until it is answered (at most 3 minutes).
/// Capped per login and per address: past the cap the page polls `/authorize/status` instead.
async fn events(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
    req: axum::extract::Request,
) -> Response {
    let secret = read_cookie(&headers, &tx_cookie(&s, &q.tx))
        .unwrap_or_default()
        .to_string();
    if !matches!(
        authorize::login_status(&s.platform, q.tx.as_str(), &secret).await,
        Ok(Some(_))
    ) {
        return (StatusCode::NOT_FOUND, "unknown sign-in").into_response();
    }
    let address = crate::middleware::limit_key(&crate::middleware::client_ip(&s, &req));
    let Some(place) = crate::limit::StreamCounts::open(
        &s.streams,
        q.tx.as_str(),
        &address,
        STREAMS_PER_LOGIN,
        STREAMS_PER_ADDRESS,
    ) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "5")],
            "too many live streams; poll /authorize/status",
        )
            .into_response();
    };
    // The stream ends once the request is answered, expired or withdrawn, or unknown.
    let state = (s, q.tx.0, secret, false, 0u32);
    let stream = futures::stream::unfold(state, move |(s, tx, secret, ended, n)| async move {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        }
        if n > 260 || ended {
            return None;
        }
        let st = authorize::login_status(&s.platform, &tx, &secret)
            .await
            .ok()
            .flatten();
        let ended = !st.is_some_and(ApprovalStatus::is_waiting);
        let ev = Event::default()
            .event("status")
            .data(st.map_or("unknown", ApprovalStatus::as_str));
        Some((
            Ok::<_, std::convert::Infallible>(ev),
            (s, tx, secret, ended, n + 1),
        ))
    });
    // The place is freed when the stream ends or the browser goes away (the stream is dropped).
    let stream = {
        use futures::StreamExt;
        stream.map(move |ev| {
            let _held = &place;
            ev
        })
    };
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn consent_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| one(&form, k).ok().flatten().unwrap_or_default();
    let tx = get("tx").to_string();
    let ui = Ui::new(
        &s,
        &headers,
        &uri,
        None,
        &format!("/authorize/continue?tx={tx}"),
    );
    let Some(txid) = TxId::parse(&tx) else {
        return error_page(
            &ui,
            &OAuthError::invalid_request("bad transaction"),
            Some(rid.0),
        );
    };
    let answer = ConsentAnswer {
        tx: &tx,
        csrf: get("csrf"),
        allow: get("decision") == "allow",
        fields: form.get("field").cloned().unwrap_or_default(),
        remember: get("remember") == "1",
        notify: get("notify") == "1",
    };
    let secret = read_cookie(&headers, &tx_cookie(&s, &txid)).map(str::to_string);
    let session = session_of(&s, &headers).map(str::to_string);
    let o = authorize::consent(
        &s.platform.oidc,
        answer,
        secret.as_deref(),
        session.as_deref(),
    )
    .await;
    outcome(&s, &ui, o, Some(rid.0), session.as_deref())
}

#[derive(Deserialize)]
struct PasskeyStart {
    tx: String,
}

async fn passkey_options(State(s): State<AppState>, Json(b): Json<PasskeyStart>) -> Response {
    if !tx_ok(&b.tx) {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "bad transaction" })),
        )
            .into_response();
    }
    match passkeys::login_options(&s.platform.oidc).await {
        Ok((ceremony, options)) => {
            Json(serde_json::json!({ "ceremony": ceremony, "publicKey": options })).into_response()
        }
        Err(e) => crate::oauth::OAuthJson(e).into_response(),
    }
}

#[derive(Deserialize)]
struct PasskeyFinish {
    tx: String,
    ceremony: String,
    credential: iamsmart_crypto::webauthn::AuthenticationResponse,
}

/// A passkey answer for a login: sign the browser in and tell the page where to go next.
async fn passkey_finish(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(b): Json<PasskeyFinish>,
) -> Response {
    let Some(tx) = TxId::parse(&b.tx) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "bad transaction" })),
        )
            .into_response();
    };
    let secret = read_cookie(&headers, &tx_cookie(&s, &tx)).map(str::to_string);
    match authorize::sign_in_with_passkey(
        &s.platform.oidc,
        &b.tx,
        secret.as_deref(),
        &b.ceremony,
        &b.credential,
    )
    .await
    {
        Ok(session) => {
            let mut res =
                Json(serde_json::json!({ "next": format!("/authorize/continue?tx={}", b.tx) }))
                    .into_response();
            set_session(&s, &mut res, &session);
            res
        }
        Err(e) => crate::oauth::OAuthJson(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::qr_modules;

    /// The fixed-mask code reads back (with an independent decoder) as the payload.
    #[test]
    fn the_login_qr_code_decodes_to_its_payload() {
        for payload in [
            "iamsmart:approve?id=ar_0123456789abcdefghijkl",
            "iamsmart:approve?id=ar_Zz9-_x",
            &format!("iamsmart:approve?id=ar_{}", "a".repeat(200)),
        ] {
            let (modules, width) = qr_modules(payload).unwrap();
            // Draw it at 4 pixels a module with a quiet zone, as a camera would see it.
            let scale = 4;
            let side = (width + 8) * scale;
            let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
                let (mx, my) = ((x / scale) as isize - 4, (y / scale) as isize - 4);
                let dark = mx >= 0
                    && my >= 0
                    && (mx as usize) < width
                    && (my as usize) < width
                    && modules[my as usize * width + mx as usize] == qrcode::Color::Dark;
                if dark {
                    0
                } else {
                    255
                }
            });
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1, "one code found");
            let (_, text) = grids[0].decode().unwrap();
            assert_eq!(text, payload);
        }
    }
}
