//! Digital signing over HTTP: signing requests and their outcome (services), verification
//! (anyone), and the certificate authority's public face: certificates, CRLs, OCSP (RFC 6960,
//! POST and GET) and timestamps (RFC 3161).
//!
//! A service starts a request with its client token (scope `sign`; naming the resident with
//! `login_hint`, or none for a QR code) or with a resident's access token from a login. The
//! latter must come from a recent iAM Smart+ login (15 minutes by default); otherwise the answer is a
//! step-up challenge (RFC 9470: 401 `insufficient_user_authentication` with the `acr_values` and
//! `max_age` to ask for).
use super::exchange::Service;
use crate::error::{ApiError, ApiResult};
use crate::ids::PathId;
use crate::oauth::ResourceError;
use crate::resource::UserAccess;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use iamsmart_domain::oidc::clients::{self, Client};
use iamsmart_domain::oidc::{Acr, AuthRequirement, OAuthError};
use iamsmart_domain::signing::{ca, requests, verify};
use iamsmart_proto::ids::SignRequestId;
use serde::Deserialize;

/// What a signing request made with a resident's access token needs: an iAM Smart+ login no
/// older than `oidc.signing_login_max_age_secs` (15 minutes by default).
fn signing_login(s: &AppState) -> AuthRequirement {
    AuthRequirement {
        min_acr: Acr::Plus,
        max_age_s: Some(s.platform.oidc.provider.policy.signing_login_max_age_s),
    }
}

/// Routes with small bodies.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sign/v1/requests/{id}", get(outcome))
        .route("/pki/root.cer", get(root_cert))
        .route("/pki/issuing.cer", get(issuing_cert))
        .route("/pki/tsa.cer", get(tsa_cert))
        .route("/pki/ocsp.cer", get(ocsp_cert))
        .route("/pki/crl", get(crl))
        .route("/pki/root.crl", get(root_crl))
        .route("/pki/ocsp", post(ocsp_post))
        .route("/pki/ocsp/{request}", get(ocsp_get))
        .route("/pki/tsa", post(tsa))
}

/// Routes that carry documents.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route("/sign/v1/requests", post(start))
        .route("/sign/v1/verify", post(verify_route))
}

/// A service calling with its own client token, or with a resident's access token.
enum Caller {
    Service(Box<Service>),
    Resident(Box<UserAccess>, Box<Client>),
}

/// Whether the bearer token is a client token (`token_use` `client`): only to choose which
/// check runs; both verify the token in full.
fn is_client_token(parts: &Parts) -> bool {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split_once(' '))
        .map(|(_, t)| t.trim())
        .unwrap_or_default();
    let Some(payload) = token.split('.').nth(1) else {
        return true;
    };
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_none_or(|v| v["token_use"] == "client")
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ResourceError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        if is_client_token(parts) {
            let svc = Service::from_request_parts(parts, s).await?;
            svc.need("sign")?;
            return Ok(Self::Service(Box::new(svc)));
        }
        let user = UserAccess::from_request_parts(parts, s).await?;
        let client = clients::get(&s.platform.oidc, &user.grant.data.client_id)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| ResourceError {
                error: OAuthError::invalid_token("the client is not active"),
                scheme: user.scheme,
                step_up: None,
            })?;
        Ok(Self::Resident(Box::new(user), Box::new(client)))
    }
}

fn no_store(status: StatusCode, body: impl serde::Serialize) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn start(
    State(s): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Response> {
    let (client, resident) = match caller {
        Caller::Service(svc) => (svc.client, None),
        Caller::Resident(user, client) => {
            user.require(signing_login(&s), s.platform.clock.now_ms() / 1000)
                .map_err(IntoResponse::into_response)?;
            (*client, Some(user.grant.data.resident_id))
        }
    };
    let req: requests::SignRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body is not the expected JSON: {e}")).into_response()
    })?;
    let started = requests::start(&s.platform.signing, &client, req, resident)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::CREATED, started))
}

async fn outcome(
    State(s): State<AppState>,
    caller: Caller,
    PathId(id): PathId<SignRequestId>,
) -> Result<Response, Response> {
    let client = match caller {
        Caller::Service(svc) => svc.client,
        Caller::Resident(_, client) => *client,
    };
    let out = requests::outcome(&s.platform.signing, &client, &id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    Ok(no_store(StatusCode::OK, out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    /// A detached CMS signature (base64) ...
    #[serde(default)]
    cms: Option<String>,
    /// ... with the SHA-256 of the document (hex or base64) ...
    #[serde(default)]
    digest: Option<String>,
    /// ... or the document itself (base64).
    #[serde(default)]
    document: Option<String>,
    /// Or a signed PDF (base64).
    #[serde(default)]
    pdf: Option<String>,
}

fn b64(field: &'static str, v: &str) -> ApiResult<Vec<u8>> {
    STANDARD
        .decode(v.trim())
        .map_err(|_| ApiError::bad_request(format!("{field} is not base64")))
}

async fn verify_route(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let b: VerifyBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))?;
    let report = match (b.pdf, b.cms) {
        (Some(pdf), None) => verify::verify_pdf(&s.platform.signing, &b64("pdf", &pdf)?).await?,
        (None, Some(cms)) => {
            let digest = match (b.digest, b.document) {
                (Some(d), None) => requests::parse_digest(&d)?,
                (None, Some(doc)) => iamsmart_crypto::pki::sha256(&b64("document", &doc)?),
                _ => {
                    return Err(ApiError::bad_request(
                        "with cms, send the document's digest or the document",
                    ))
                }
            };
            verify::verify_cms(&s.platform.signing, &b64("cms", &cms)?, &digest).await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "send pdf, or cms with digest or document",
            ))
        }
    };
    Ok(no_store(StatusCode::OK, report))
}

fn der(content_type: &'static str, body: Vec<u8>, max_age: u32) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, format!("public, max-age={max_age}")),
        ],
        body,
    )
        .into_response()
}

async fn root_cert(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-cert",
        ca::load(&s.platform.signing).await?.root,
        86_400,
    ))
}

async fn issuing_cert(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-cert",
        ca::load(&s.platform.signing).await?.issuing,
        86_400,
    ))
}

async fn tsa_cert(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-cert",
        ca::load(&s.platform.signing).await?.tsa,
        86_400,
    ))
}

async fn ocsp_cert(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-cert",
        ca::load(&s.platform.signing).await?.ocsp,
        86_400,
    ))
}

async fn crl(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-crl",
        ca::crl(&s.platform.signing).await?,
        60,
    ))
}

async fn root_crl(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(der(
        "application/pkix-crl",
        ca::root_crl(&s.platform).await?,
        3_600,
    ))
}

async fn ocsp_post(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let answer = ca::ocsp_respond(&s.platform.signing, &body, true).await?;
    let cache = if answer.cacheable.is_some() {
        "public, max-age=0"
    } else {
        "no-store"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/ocsp-response"),
            (header::CACHE_CONTROL, cache),
        ],
        answer.der,
    )
        .into_response())
}

/// RFC 6960 appendix A.1: the request, base64 and URL-encoded, in the path (the router has
/// already decoded the percent-escapes). A nonce-free answer carries the RFC 5019 §6 caching
/// headers, so that HTTP caches can serve it until shortly before its nextUpdate: `max-age`,
/// `Last-Modified` (producedAt), `Expires` (nextUpdate) and an `ETag` (a hash of the response;
/// `If-None-Match` with it gets 304). Answers echoing a nonce, and error answers, are `no-store`.
async fn ocsp_get(
    State(s): State<AppState>,
    Path(request): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let answer = match STANDARD.decode(request.trim()) {
        Ok(req) => ca::ocsp_respond(&s.platform.signing, &req, true).await?,
        Err(_) => ca::OcspAnswer {
            der: iamsmart_crypto::pki::ocsp::error_response(1),
            cacheable: None,
            from_cache: false,
        },
    };
    let Some((produced_at, next_update)) = answer.cacheable else {
        return Ok((
            [
                (header::CONTENT_TYPE, "application/ocsp-response"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            answer.der,
        )
            .into_response());
    };
    let now = (s.platform.clock.now_ms() / 1000) as u64;
    let max_age = next_update
        .saturating_sub(now)
        .saturating_sub(ca::OCSP_HTTP_MARGIN_S);
    let etag = format!(
        "\"{}\"",
        hex::encode(&iamsmart_crypto::pki::sha256(&answer.der)[..20])
    );
    let caching = [
        (
            header::CONTENT_TYPE,
            "application/ocsp-response".to_string(),
        ),
        (
            header::CACHE_CONTROL,
            format!("public, max-age={max_age}, no-transform, must-revalidate"),
        ),
        (header::LAST_MODIFIED, http_date(produced_at)),
        (header::EXPIRES, http_date(next_update)),
        (header::ETAG, etag.clone()),
    ];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, caching).into_response());
    }
    Ok((caching, answer.der).into_response())
}

/// An HTTP date (RFC 9110 IMF-fixdate) of unix seconds.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Ok((y, mo, d, h, mi, s)) = iamsmart_crypto::pki::utc_calendar(secs) else {
        return "Thu, 01 Jan 1970 00:00:00 GMT".into();
    };
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[((secs / 86_400) % 7) as usize],
        MONTHS[usize::from(mo.clamp(1, 12)) - 1]
    )
}

async fn tsa(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let answer = ca::timestamp_answer(&s.platform.signing, &body).await?;
    Ok(der("application/timestamp-reply", answer, 0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(
            super::http_date(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(super::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
