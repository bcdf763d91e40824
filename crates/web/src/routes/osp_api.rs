//! The iAM Smart-compatible API over HTTP (`/api/v1/`). Every answer of a POST is
//! `{txID, code, message, content}` with HTTP 200, as clients built for the real platform read
//! it (they look at `code`; some libraries throw on another status before reading the body);
//! `txID` is the request's correlation id, which the platform's logs carry too. The headers and
//! bodies of these calls are never logged: they hold signatures and tokens.
use crate::error::RequestId;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use iamsmart_domain::osp_api::{self, ApiCode, ApiError, ApiResult, ContentKeys, SignatureHeaders};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/getQR", get(super::pages::login::api_get_qr))
        .route("/api/v1/security/getKey", post(get_key))
        .route("/api/v1/auth/getToken", post(get_token))
        .route(
            "/api/v1/anonymous/eme/initiateRequest",
            post(|s, r, h, b| encrypted(s, r, h, b, Call::AnonymousEmeStart)),
        )
        .route(
            "/api/v1/anonymous/eme/getResult",
            post(|s, r, h, b| encrypted(s, r, h, b, Call::AnonymousEmeResult)),
        )
        .route("/api/v1/{*rest}", axum::routing::any(not_offered))
}

/// The envelope of every answer.
#[derive(Debug, Serialize)]
struct Envelope {
    #[serde(rename = "txID")]
    tx_id: String,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<serde_json::Value>,
}

fn answer(rid: &RequestId, result: ApiResult<Option<serde_json::Value>>) -> Response {
    let (code, message, content) = match result {
        Ok(content) => (
            ApiCode::Success,
            ApiCode::Success.message().to_string(),
            content,
        ),
        Err(e) => {
            tracing::info!(code = e.code.as_str(), "compatible API call refused");
            (e.code, e.message, None)
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Envelope {
            tx_id: rid.0.clone(),
            code: code.as_str(),
            message,
            content,
        }),
    )
        .into_response()
}

fn signature_headers(h: &HeaderMap) -> SignatureHeaders<'_> {
    // Header names are case-insensitive in HTTP; the real platform writes them in camel case.
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    SignatureHeaders {
        client_id: get("clientid"),
        signature_method: get("signaturemethod"),
        timestamp: get("timestamp"),
        nonce: get("nonce"),
        signature: get("signature"),
    }
}

/// `POST /api/v1/security/getKey`: a fresh content key wrapped to the service's certificate
/// (the only answer whose `content` is not encrypted).
async fn get_key(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.platform.oidc;
    let result = async {
        let client = osp_api::authenticate(p, &signature_headers(&headers), &body).await?;
        let key = osp_api::issue_content_key(p, &client).await?;
        Ok(Some(serde_json::to_value(key).map_err(internal)?))
    }
    .await;
    answer(&rid, result)
}

/// `POST /api/v1/auth/getToken`: the code of a sign-in for an access token and the resident's
/// `openID`; the body is plain JSON, the answer's `content` is encrypted.
async fn get_token(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.platform.oidc;
    let result = async {
        let client = osp_api::authenticate(p, &signature_headers(&headers), &body).await?;
        // The key first: a service without one learns it before its code is used up.
        let keys = ContentKeys::of(p, &client).await?;
        let token = osp_api::get_token(p, &client, &body).await?;
        let json = serde_json::to_vec(&token).map_err(internal)?;
        Ok(Some(serde_json::Value::String(keys.seal(p, &json)?)))
    }
    .await;
    answer(&rid, result)
}

/// The answer to a call over the rate limit: HTTP 429 with `Retry-After` for clients that look
/// at the status, and the envelope with `D10012` for those that read only the body.
pub(crate) fn rate_limited(rid: Option<RequestId>, wait: u64) -> Response {
    let rid = rid.unwrap_or_else(|| RequestId(String::new()));
    let mut res = answer(
        &rid,
        Err(ApiError::new(
            ApiCode::TooManyRequests,
            format!("slow down; try again in {wait} s"),
        )),
    );
    *res.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// The calls whose body and answer travel as `content`, encrypted under the client's content key.
#[derive(Debug, Clone, Copy)]
enum Call {
    AnonymousEmeStart,
    AnonymousEmeResult,
}

async fn encrypted(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    let p = &s.platform.oidc;
    let result = async {
        let client = osp_api::authenticate(p, &signature_headers(&headers), &body).await?;
        let keys = ContentKeys::of(p, &client).await?;
        let envelope: osp_api::EncryptedBody = serde_json::from_slice(&body).map_err(|_| {
            ApiError::new(
                ApiCode::InvalidRequest,
                "the body must be {\"content\": ...}, encrypted under your content key",
            )
        })?;
        let plain = keys.open(&envelope.content)?;
        let x = &s.platform.exchange;
        let answer = match call {
            Call::AnonymousEmeStart => osp_api::eme::anonymous_start(x, &client, &plain).await?,
            Call::AnonymousEmeResult => osp_api::eme::anonymous_result(x, &client, &plain).await?,
        };
        let json = serde_json::to_vec(&answer).map_err(internal)?;
        Ok(Some(serde_json::Value::String(keys.seal(p, &json)?)))
    }
    .await;
    answer(&rid, result)
}

fn internal(e: serde_json::Error) -> ApiError {
    ApiError::new(
        ApiCode::ServerError,
        format!("cannot encode the answer: {e}"),
    )
}

async fn not_offered(Extension(rid): Extension<RequestId>, uri: axum::http::Uri) -> Response {
    answer(
        &rid,
        Err(ApiError::new(
            ApiCode::InvalidRequest,
            format!(
                "{} is not an endpoint of this platform's compatible API (see the integration guide)",
                uri.path()
            ),
        )),
    )
}
