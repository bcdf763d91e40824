//! Pages people read: sign-in and consent, the resident's account, error pages; their static
//! files (no external resources: styles and scripts are served from here).
mod account;
mod catalogue_admin;
pub mod common;
mod dealings;
pub(crate) mod login;
mod logout;
mod notifications;
mod portal;
mod public_info;
mod signatures;
mod verify;

pub use verify::upload_routes as verify_upload_routes;

use crate::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(login::routes())
        .merge(logout::routes())
        .merge(account::routes())
        .merge(catalogue_admin::routes())
        .merge(dealings::routes())
        .merge(portal::routes())
        .merge(signatures::routes())
        .merge(notifications::routes())
        .merge(public_info::routes())
        .merge(verify::routes())
        .route(
            "/static/login.js",
            get(|| asset("text/javascript", include_str!("login.js"))),
        )
        .route(
            "/static/account.js",
            get(|| asset("text/javascript", include_str!("account.js"))),
        )
        .route(
            "/static/verify.js",
            get(|| asset("text/javascript", include_str!("verify.js"))),
        )
        .route(
            "/static/webauthn.js",
            get(|| asset("text/javascript", include_str!("webauthn.js"))),
        )
        .route(
            "/static/site.css",
            get(|| asset("text/css", include_str!("site.css"))),
        )
        .route(
            "/docs/integration-guide",
            get(|| {
                asset(
                    "text/markdown",
                    include_str!("../../../../../docs/integration-guide.md"),
                )
            }),
        )
}

async fn asset(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, format!("{kind}; charset=utf-8")),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
        ],
        body,
    )
}

/// Any address the platform does not serve: a browser asking for a page gets a page in its
/// reader's language; everything else gets the plain 404 that becomes problem details.
pub async fn not_found(
    axum::extract::State(s): axum::extract::State<AppState>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
) -> axum::response::Response {
    let wants_page = method == axum::http::Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
    if !wants_page {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    // The language links show this page again, unless its path would make them point elsewhere
    // (`//host` is another site to a browser).
    let path = uri.path();
    let base = if path.starts_with("//") || path.contains('\\') {
        "/"
    } else {
        path
    };
    let ui = common::Ui::new(&s, &headers, &uri, None, base);
    let lang = ui.lang;
    ui.render(
        axum::http::StatusCode::NOT_FOUND,
        &login::MessageTemplate {
            ui: ui.view(),
            title: lang.t("Page not found", "找不到網頁"),
            message: lang
                .t(
                    "There is no page at this address. Check the address, or start again from the iAM Smart home page.",
                    "此網址沒有網頁。請檢查網址，或由「智方便」首頁重新開始。",
                )
                .to_string(),
            detail: None,
            reference: None,
            reference_label: "",
        },
    )
}
