//! Notifications over HTTP for services: `POST /notify/v1/notifications` with a client token
//! (scope `notify`; DPoP-bound for FAPI clients) and an `Idempotency-Key` header. The content is
//! never logged: the access log has the method, path and status only.
use super::exchange::Service;
use crate::error::{ApiError, RequestId};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use iamsmart_domain::notify::{send, SendRequest};

pub fn routes() -> Router<AppState> {
    Router::new().route("/notify/v1/notifications", post(send_notification))
}

/// 201 for a new send (delivered or not), 200 with the same answer for a repeat.
async fn send_notification(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    svc: Service,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Response> {
    svc.need("notify").map_err(IntoResponse::into_response)?;
    let req: SendRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body is not the expected JSON: {e}")).into_response()
    })?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (sent, new) = send::send(&s.platform.notify, &svc.client, key, &req, Some(&rid.0))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Json(sent)).into_response())
}
