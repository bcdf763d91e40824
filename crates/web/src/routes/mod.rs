//! All routes.
pub(crate) mod admin;
mod app;
mod catalogue;
mod exchange;
mod health;
mod notify;
pub(crate) mod oidc;
pub(crate) mod osp_api;
pub(crate) mod pages;
mod signing;
mod staff;
mod transparency;
mod webapp;

use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

/// Every route of the platform. Calls that carry images (registration, upgrade, kiosk) may have
/// bodies up to `upload_limit`; every other call up to `body_limit`.
pub fn routes(state: AppState, body_limit: usize, upload_limit: usize) -> Router {
    let small = Router::new()
        .merge(health::routes())
        .merge(transparency::routes())
        .merge(admin::routes())
        .merge(catalogue::routes())
        .merge(app::routes().layer(axum::middleware::from_fn(
            crate::simplified::app_answers_in_simplified_chinese,
        )))
        .merge(exchange::routes())
        .merge(staff::routes())
        .merge(oidc::routes())
        .merge(osp_api::routes())
        .merge(pages::routes())
        .merge(signing::routes())
        .merge(notify::routes())
        .merge(webapp::routes())
        .layer(RequestBodyLimitLayer::new(body_limit))
        // axum's extractors (Bytes, Json, Form, Multipart) cap bodies at 2 MB of their own
        // unless told otherwise: the configured limits are the ones that apply.
        .layer(DefaultBodyLimit::max(body_limit));
    let uploads = Router::new()
        .merge(app::upload_routes())
        .merge(staff::upload_routes())
        .merge(signing::upload_routes())
        .merge(pages::verify_upload_routes())
        .layer(RequestBodyLimitLayer::new(upload_limit))
        .layer(DefaultBodyLimit::max(upload_limit));
    small
        .merge(uploads)
        .fallback(pages::not_found)
        .with_state(state)
}
