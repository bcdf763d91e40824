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
use iamsmart_domain::osp_api::account::Asked;
use iamsmart_domain::osp_api::signing::{Digest, Flow};
use iamsmart_domain::osp_api::{self, ApiCode, ApiError, ApiResult, ContentKeys, SignatureHeaders};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    let mut router =
        Router::new().route("/api/v1/auth/getQR", get(super::pages::login::api_get_qr));
    for call in Call::ALL {
        router = router.route(
            call.path(),
            post(move |s, r, h, b| signed(s, r, h, b, call)),
        );
    }
    router.route("/api/v1/{*rest}", axum::routing::any(not_offered))
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

/// The signed calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `security/getKey`: a fresh content key wrapped to the service's certificate (the only
    /// answer whose `content` is not encrypted).
    GetKey,
    /// `auth/getToken`: the code of a sign-in for an access token and the resident's `openID`;
    /// the body is plain JSON (as real clients send it), the answer encrypted.
    GetToken,
    /// `account/auth/profile/initiateRequest`: body and answer encrypted; the result goes to
    /// the client's callback.
    ProfileStart,
    /// `account/eme/initiateRequest`: the same with a form.
    EmeStart,
    /// `account/stepup/initiateRequest`: a fresh face match in the app; the result to the
    /// callback.
    StepUp,
    /// `anonymous/eme/initiateRequest`: body and answer encrypted.
    AnonymousEmeStart,
    /// `anonymous/eme/getResult`: body and answer encrypted.
    AnonymousEmeResult,
    /// `{account|anonymous}/{signing|pdfsigning}/initiateRequest`: body and answer encrypted;
    /// after a sign-in the result goes to the callback.
    Sign(Flow, Digest),
    /// `anonymous/{signing|pdfsigning}/getResult`.
    SignResult(Digest),
    /// `account/{signing|pdfsigning}/ackResult`.
    SignAck(Digest),
}

impl Call {
    /// Every signed call, each at its path.
    const ALL: [Call; 15] = [
        Call::GetKey,
        Call::GetToken,
        Call::ProfileStart,
        Call::EmeStart,
        Call::StepUp,
        Call::AnonymousEmeStart,
        Call::AnonymousEmeResult,
        Call::Sign(Flow::Account, Digest::Hash),
        Call::Sign(Flow::Account, Digest::Pdf),
        Call::Sign(Flow::Anonymous, Digest::Hash),
        Call::Sign(Flow::Anonymous, Digest::Pdf),
        Call::SignResult(Digest::Hash),
        Call::SignResult(Digest::Pdf),
        Call::SignAck(Digest::Hash),
        Call::SignAck(Digest::Pdf),
    ];

    fn path(self) -> &'static str {
        match self {
            Call::GetKey => "/api/v1/security/getKey",
            Call::GetToken => "/api/v1/auth/getToken",
            Call::ProfileStart => "/api/v1/account/auth/profile/initiateRequest",
            Call::EmeStart => "/api/v1/account/eme/initiateRequest",
            Call::StepUp => "/api/v1/account/stepup/initiateRequest",
            Call::AnonymousEmeStart => "/api/v1/anonymous/eme/initiateRequest",
            Call::AnonymousEmeResult => "/api/v1/anonymous/eme/getResult",
            Call::Sign(Flow::Account, Digest::Hash) => "/api/v1/account/signing/initiateRequest",
            Call::Sign(Flow::Account, Digest::Pdf) => "/api/v1/account/pdfsigning/initiateRequest",
            Call::Sign(Flow::Anonymous, Digest::Hash) => {
                "/api/v1/anonymous/signing/initiateRequest"
            }
            Call::Sign(Flow::Anonymous, Digest::Pdf) => {
                "/api/v1/anonymous/pdfsigning/initiateRequest"
            }
            Call::SignResult(Digest::Hash) => "/api/v1/anonymous/signing/getResult",
            Call::SignResult(Digest::Pdf) => "/api/v1/anonymous/pdfsigning/getResult",
            Call::SignAck(Digest::Hash) => "/api/v1/account/signing/ackResult",
            Call::SignAck(Digest::Pdf) => "/api/v1/account/pdfsigning/ackResult",
        }
    }
}

/// Every signed call: authenticate it, then answer it, in the envelope.
async fn signed(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
    call: Call,
) -> Response {
    let p = &s.platform.oidc;
    let signed_by = signature_headers(&headers).client_id.map(str::to_string);
    let result: ApiResult<Option<serde_json::Value>> = async {
        let client = osp_api::authenticate(p, &signature_headers(&headers), &body).await?;
        if call == Call::GetKey {
            let key = osp_api::issue_content_key(p, &client).await?;
            return Ok(Some(serde_json::to_value(key).map_err(internal)?));
        }
        // The key first: a service without one learns it before anything is used up.
        let keys = ContentKeys::of(p, &client).await?;
        let x = &s.platform.exchange;
        let answer = match call {
            Call::GetKey | Call::GetToken => {
                serde_json::to_value(osp_api::get_token(p, &client, &body).await?)
                    .map_err(internal)?
            }
            Call::ProfileStart | Call::EmeStart => {
                let kind = if call == Call::ProfileStart {
                    Asked::Profile
                } else {
                    Asked::Eme
                };
                osp_api::account::initiate(x, &client, kind, &keys.open_body(&body)?).await?
            }
            Call::AnonymousEmeStart => {
                osp_api::eme::anonymous_start(x, &client, &keys.open_body(&body)?).await?
            }
            Call::AnonymousEmeResult => {
                osp_api::eme::anonymous_result(x, &client, &keys.open_body(&body)?).await?
            }
            Call::Sign(flow, digest) => {
                let opened = keys.open_body(&body)?;
                osp_api::signing::initiate(&s.platform, &client, flow, digest, &opened).await?
            }
            Call::StepUp => {
                osp_api::stepup::initiate(&s.platform, &client, &keys.open_body(&body)?).await?
            }
            Call::SignResult(_) => {
                osp_api::signing::result(&s.platform, &client, &keys.open_body(&body)?).await?
            }
            Call::SignAck(_) => {
                osp_api::signing::ack(&s.platform, &client, &keys.open_body(&body)?).await?
            }
        };
        let json = serde_json::to_vec(&answer).map_err(internal)?;
        Ok(Some(serde_json::Value::String(keys.seal(p, &json)?)))
    }
    .await;
    // The client's developers see each call's code later (`iamsmart clients log`).
    if let Some(client_id) = signed_by {
        let code = match &result {
            Ok(_) => ApiCode::Success,
            Err(e) => e.code,
        };
        if let Err(e) = osp_api::record_call(p, &client_id, call.path(), code, &rid.0).await {
            tracing::warn!(error = %e, "could not record a call of the compatible API");
        }
    }
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
