//! The resident's notifications: the inbox (newest first, unread marked in words and weight,
//! not by colour alone), one notification (opening it marks it read), mark all read, and the
//! choice per service. Works without JavaScript: every change is a form with the session's CSRF
//! token. Each text is shown in the resident's language, or in the other one (marked with its
//! `lang`) when the service wrote only that.
use super::account::{form_action, nav, signed_in, Nav};
use super::common::{Lang, Ui, UiView};
use crate::error::RequestId;
use crate::oauth::one;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use iamsmart_domain::notify::inbox::{self, Notification};
use iamsmart_domain::notify::Bilingual;
use iamsmart_domain::oidc::session;
use iamsmart_proto::ids::NotificationId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/notifications", get(list))
        .route("/account/notifications/read-all", post(read_all))
        .route(
            "/account/notifications/settings",
            get(settings).post(change_setting),
        )
        .route("/account/notifications/{id}", get(show))
}

/// A text in the reader's language, or the other one, with the `lang` it is in.
struct Text {
    text: String,
    lang: &'static str,
}

fn text(lang: Lang, t: &Bilingual) -> Text {
    let zh = lang.is_chinese();
    let has = if zh { &t.zh } else { &t.en };
    let shown_zh = if has.is_some() { zh } else { !zh };
    Text {
        text: t.pick(zh).to_string(),
        lang: match (shown_zh, lang) {
            (false, _) => "en",
            (true, Lang::ZhHans) => Lang::ZhHans.code(),
            (true, _) => Lang::ZhHant.code(),
        },
    }
}

/// Date and time in Hong Kong (UTC+8), and the ISO form for `<time datetime>`.
fn when(lang: Lang, ms: i64) -> (String, String) {
    let shown = super::dealings::when(lang, ms);
    let iso = format!(
        "{}+08:00",
        iamsmart_proto::time::hk_date_time(ms).replacen(' ', "T", 1)
    );
    (shown, iso)
}

struct Item {
    id: iamsmart_proto::ids::NotificationId,
    title: Text,
    service: String,
    when: String,
    datetime: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "pages/notifications.html")]
struct ListTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    csrf: String,
    intro: &'a str,
    items: Vec<Item>,
    unread: usize,
    empty: &'a str,
    unread_label: &'a str,
    from_label: &'a str,
    mark_all_label: &'a str,
    settings_label: &'a str,
    summary: String,
}

#[derive(Template)]
#[template(path = "pages/notification.html")]
struct OneTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    heading: Text,
    body: Text,
    service: String,
    when: String,
    datetime: String,
    from_label: &'a str,
    sent_label: &'a str,
    link: Option<String>,
    link_label: String,
    back_label: &'a str,
}

struct SettingRow {
    client_id: String,
    service: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "pages/notify_settings.html")]
struct SettingsTemplate<'a> {
    ui: UiView,
    title: &'a str,
    nav: Nav,
    csrf: String,
    intro: &'a str,
    services: Vec<SettingRow>,
    empty: &'a str,
    on_label: &'a str,
    off_label: &'a str,
    turn_on: &'a str,
    turn_off: &'a str,
    back_label: &'a str,
}

async fn list(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, cookie) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/notifications");
    let lang = ui.lang;
    let all: Vec<Notification> =
        match inbox::list(&s.platform.notify, &sess.resident_id, false, 200).await {
            Ok(x) => x,
            Err(e) => return crate::error::ApiError::from(e).into_response(),
        };
    let items: Vec<Item> = all
        .iter()
        .map(|n| {
            let (when, datetime) = when(lang, n.created_at);
            Item {
                id: n.id.clone(),
                title: text(lang, &n.title),
                service: n.service_names.get(lang.locale()).to_string(),
                when,
                datetime,
                unread: n.read_at.is_none(),
            }
        })
        .collect();
    let unread = items.iter().filter(|i| i.unread).count();
    let summary = match (lang, items.len()) {
        (_, 0) => String::new(),
        (Lang::En, 1) => format!("1 notification, {unread} unread."),
        (Lang::En, n) => format!("{n} notifications, {unread} unread."),
        (Lang::ZhHant | Lang::ZhHans, n) => format!("共 {n} 則通知，{unread} 則未讀。"),
    };
    ui.render(
        StatusCode::OK,
        &ListTemplate {
            ui: ui.view(),
            title: lang.t("Notifications", "通知"),
            nav: nav(&s, lang, &sess.resident_id).await,
            csrf: session::csrf_token(&s.platform.oidc, &cookie),
            intro: lang.t(
                "Messages from services you use and allowed to notify you. They are kept for 180 days.",
                "你使用並容許向你發出通知的服務所發出的訊息。通知會保留 180 日。",
            ),
            items,
            unread,
            empty: lang.t("You have no notifications.", "你沒有通知。"),
            unread_label: lang.t("Unread", "未讀"),
            from_label: lang.t("From", "來自"),
            mark_all_label: lang.t("Mark all as read", "全部標示為已讀"),
            settings_label: lang.t(
                "Choose which services may notify you",
                "選擇哪些服務可向你發出通知",
            ),
            summary,
        },
    )
}

async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let (sess, _) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(id) = NotificationId::parse(&id) else {
        return Redirect::to("/account/notifications").into_response();
    };
    // Opening it is reading it.
    if inbox::mark_read(&s.platform, &sess.resident_id, &id)
        .await
        .is_err()
    {
        return Redirect::to("/account/notifications").into_response();
    }
    let Ok(n) = inbox::get(&s.platform.notify, &sess.resident_id, &id).await else {
        return Redirect::to("/account/notifications").into_response();
    };
    let path = format!("/account/notifications/{id}");
    let ui = Ui::new(&s, &headers, &uri, None, &path);
    let lang = ui.lang;
    let (when, datetime) = when(lang, n.created_at);
    ui.render(
        StatusCode::OK,
        &OneTemplate {
            ui: ui.view(),
            title: lang.t("Notification", "通知"),
            nav: nav(&s, lang, &sess.resident_id).await,
            heading: text(lang, &n.title),
            body: text(lang, &n.body),
            when,
            datetime,
            from_label: lang.t("From", "來自"),
            sent_label: lang.t("Sent", "發出時間"),
            link: n.link.clone(),
            link_label: match lang {
                Lang::En => format!("Go to {}", n.service_names.get(lang.locale())),
                Lang::ZhHant | Lang::ZhHans => {
                    format!("前往「{}」", n.service_names.get(lang.locale()))
                }
            },
            service: n.service_names.get(lang.locale()).to_string(),
            back_label: lang.t("Back to notifications", "返回通知"),
        },
    )
}

async fn read_all(
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
        "/account/notifications",
        async move |sess, _| {
            inbox::mark_all_read(&p, &sess.resident_id)
                .await
                .map(|_| ())
        },
    )
    .await
}

async fn settings(State(s): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (sess, cookie) = match signed_in(&s, &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ui = Ui::new(&s, &headers, &uri, None, "/account/notifications/settings");
    let lang = ui.lang;
    let prefs = match inbox::preferences(&s.platform.notify, &sess.resident_id).await {
        Ok(x) => x,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    ui.render(
        StatusCode::OK,
        &SettingsTemplate {
            ui: ui.view(),
            title: lang.t("Notification settings", "通知設定"),
            nav: nav(&s, lang, &sess.resident_id).await,
            csrf: session::csrf_token(&s.platform.oidc, &cookie),
            intro: lang.t(
                "Services you use may send you notifications only if you turn them on here. You can turn them off at any time.",
                "你使用的服務只有在你於此開啟通知後，才可向你發出通知。你可隨時關閉。",
            ),
            services: prefs
                .into_iter()
                .map(|p| SettingRow {
                    client_id: p.client_id,
                    service: p.service_names.get(lang.locale()).to_string(),
                    enabled: p.enabled,
                })
                .collect(),
            empty: lang.t(
                "You have not used any service with iAM Smart yet.",
                "你尚未以「智方便」使用任何服務。",
            ),
            on_label: lang.t("Notifications on", "通知已開啟"),
            off_label: lang.t("Notifications off", "通知已關閉"),
            turn_on: lang.t("Turn on", "開啟"),
            turn_off: lang.t("Turn off", "關閉"),
            back_label: lang.t("Back to notifications", "返回通知"),
        },
    )
}

async fn change_setting(
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
        "/account/notifications/settings",
        async move |sess, f| {
            let get = |k: &str| one(f, k).ok().flatten().unwrap_or_default().to_string();
            let enabled = match get("choice").as_str() {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(iamsmart_domain::DomainError::Invalid {
                        field: "choice",
                        message: "on or off".into(),
                    })
                }
            };
            inbox::set_preference(
                &p.notify,
                &sess.resident_id,
                &crate::ids::named(&get("client_id"))?,
                enabled,
                Some(&r),
            )
            .await
        },
    )
    .await
}
