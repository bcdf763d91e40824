//! Liveness, readiness, metrics and the token signing keys.
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use iamsmart_domain::keys::Purpose;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/connectors/v1/jwks.json", get(connector_jwks))
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), s.platform.db.ping()).await;
    match check {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({ "status": "not ready", "reason": "the database is unreachable" }),
            ),
        ),
    }
}

/// The platform's figures, for the operator's monitoring only (route counts, error rates, pool
/// use, key operations tell an attacker much): the operator's token is needed.
async fn metrics(
    State(s): State<AppState>,
    _operator: crate::routes::admin::Operator,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(&s.platform.db, &s.platform.keys),
    )
}

/// How long others may cache the platform's public keys: a key retired after a compromise
/// (`iamsmart keys revoke`) stops being accepted by them within this time.
const JWKS_CACHE_CONTROL: &str = "public, max-age=60";

/// The public keys that verify tokens now (RFC 7517).
async fn jwks(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    // Always from the database: another process may have just published a key.
    s.platform.keys.reload();
    let keys = s.platform.keys.jwks(Purpose::Token).await?;
    Ok((
        [(header::CACHE_CONTROL, JWKS_CACHE_CONTROL)],
        Json(serde_json::json!({ "keys": keys })),
    ))
}

/// The keys other organisations' systems verify the platform's signed requests with.
async fn connector_jwks(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    s.platform.keys.reload();
    let keys = s.platform.keys.jwks(Purpose::Connector).await?;
    Ok((
        [(header::CACHE_CONTROL, JWKS_CACHE_CONTROL)],
        Json(serde_json::json!({ "keys": keys })),
    ))
}
