//! Logout (OpenID Connect RP-Initiated Logout 1.0): a service sends the browser here with the ID
//! token of this browser's session and the session ends at once, with that service's grants; any
//! other request (no hint, another session's hint, a page of another site, the account pages'
//! "Sign out") shows a page that asks, with the choice of signing out of every service signed in
//! to with this session too. English and Traditional Chinese.
use super::common::{cookie, session_of, Ui, UiView};
use super::login::{error_page, MessageTemplate};
use crate::error::RequestId;
use crate::oauth::{one, parse_form, Form};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use iamsmart_domain::oidc::logout::{self, Confirmation, Ended, Outcome, Reach};
use iamsmart_domain::oidc::{session, OAuthError};

pub fn routes() -> Router<AppState> {
    Router::new().route("/logout", get(logout_get).post(logout_post))
}

#[derive(Template)]
#[template(path = "pages/logout.html")]
struct ConfirmTemplate<'a> {
    ui: UiView,
    title: &'a str,
    intro: String,
    csrf: String,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    this_label: String,
    this_hint: &'a str,
    everywhere_label: &'a str,
    everywhere_hint: &'a str,
    stay_label: &'a str,
    stay_href: String,
}

fn confirm_page(s: &AppState, ui: &Ui, cookie: &str, c: Confirmation) -> Response {
    let lang = ui.lang;
    let name = c.client.as_ref().map(|(_, n)| n.as_str());
    let intro = match name {
        Some(n) => format!(
            "{}{}{}",
            lang.t("", "「"),
            n,
            lang.t(
                " asks you to sign out of iAM Smart in this browser. Sign out only if you want to.",
                "」要求你在此瀏覽器登出「智方便」。如你想登出，才選擇登出。",
            )
        ),
        None => lang
            .t(
                "Sign out of iAM Smart in this browser?",
                "要在此瀏覽器登出「智方便」嗎？",
            )
            .to_string(),
    };
    let this_label = match name {
        Some(n) => format!(
            "{}{}{}",
            lang.t("Sign out of iAM Smart and ", "登出「智方便」及「"),
            n,
            lang.t("", "」")
        ),
        None => lang.t("Sign out", "登出").to_string(),
    };
    ui.render(
        StatusCode::OK,
        &ConfirmTemplate {
            ui: ui.view(),
            title: lang.t("Sign out?", "登出？"),
            intro,
            csrf: session::csrf_token(&s.platform.oidc, cookie),
            client_id: c.client.as_ref().map(|(id, _)| id.clone()),
            post_logout_redirect_uri: c.post_logout_redirect_uri.clone(),
            state: c.state.clone(),
            this_label,
            this_hint: lang.t(
                "Other services you signed in to stay signed in until you sign out there.",
                "你已登入的其他服務會保持登入，直至你在該處登出。",
            ),
            everywhere_label: lang.t(
                "Sign out of every service too",
                "同時登出所有服務",
            ),
            everywhere_hint: lang.t(
                "Every service you signed in to with iAM Smart in this browser is told to sign you out.",
                "你在此瀏覽器以「智方便」登入的所有服務都會收到登出通知。",
            ),
            stay_label: lang.t("Stay signed in", "保持登入"),
            stay_href: c.return_to.clone().unwrap_or_else(|| "/account".into()),
        },
    )
}

fn finished(s: &AppState, ui: &Ui, ended: Ended) -> Response {
    let lang = ui.lang;
    let mut res = match ended.redirect {
        Some(to) => Redirect::to(&to).into_response(),
        None => ui.render(
            StatusCode::OK,
            &MessageTemplate {
                ui: ui.view(),
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
    if ended.ended {
        let clear = cookie(s, &super::common::session_cookie(s), "", "/", 0, true);
        res.headers_mut().append(header::SET_COOKIE, clear);
    }
    res
}

async fn logout_any(
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
        "/logout",
    );
    let get = |k: &str| one(&form, k).ok().flatten().filter(|v| !v.is_empty());
    let session = session_of(&s, &headers).map(str::to_string);
    let r = logout::end_session(
        &s.platform.oidc,
        get("id_token_hint"),
        get("client_id"),
        get("post_logout_redirect_uri"),
        get("state"),
        session.as_deref(),
    )
    .await;
    match (r, session) {
        (Ok(Outcome::Done(ended)), _) => finished(&s, &ui, ended),
        (Ok(Outcome::Confirm(c)), Some(cookie)) => confirm_page(&s, &ui, &cookie, c),
        (Ok(Outcome::Confirm(_)), None) => error_page(
            &ui,
            &OAuthError::server_error("a confirmation without a session"),
            Some(rid),
        ),
        (Err(e), _) => error_page(&ui, &e, Some(rid)),
    }
}

/// The confirmation page's answer: checked against the session's CSRF token.
async fn confirmed(s: AppState, headers: HeaderMap, uri: Uri, rid: String, form: Form) -> Response {
    let ui = Ui::new(&s, &headers, &uri, None, "/logout");
    let get = |k: &str| one(&form, k).ok().flatten().filter(|v| !v.is_empty());
    let reach = match get("confirm") {
        Some("this") => Reach::ThisService,
        Some("everywhere") => Reach::Everywhere,
        _ => {
            return error_page(
                &ui,
                &OAuthError::invalid_request("confirm: expected this or everywhere"),
                Some(rid),
            )
        }
    };
    let session = session_of(&s, &headers).map(str::to_string);
    if let Some(cookie) = &session {
        if !session::csrf_ok(&s.platform.oidc, cookie, get("csrf").unwrap_or_default()) {
            return error_page(
                &ui,
                &OAuthError::access_denied("the form has expired; open the page again"),
                Some(rid),
            );
        }
    }
    match logout::confirm(
        &s.platform.oidc,
        session.as_deref(),
        get("client_id"),
        get("post_logout_redirect_uri"),
        get("state"),
        reach,
    )
    .await
    {
        Ok(ended) => finished(&s, &ui, ended),
        Err(e) => error_page(&ui, &e, Some(rid)),
    }
}

async fn logout_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
) -> Response {
    let form = parse_form(uri.query().unwrap_or_default().as_bytes());
    logout_any(s, headers, uri, rid.0, form).await
}

async fn logout_post(
    State(s): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Extension(rid): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Response {
    let form = parse_form(&body);
    if one(&form, "confirm").ok().flatten().is_some() {
        confirmed(s, headers, uri, rid.0, form).await
    } else {
        logout_any(s, headers, uri, rid.0, form).await
    }
}
