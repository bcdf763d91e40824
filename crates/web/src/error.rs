//! The one place where errors become HTTP responses.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iamsmart_domain::DomainError;
use serde::Serialize;

/// The correlation id of the current request (set by the request-id middleware).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The input that was wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The correlation id to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// An error a JSON API handler returns.
#[derive(Debug)]
pub struct ApiError {
    /// Status to send.
    pub status: StatusCode,
    /// Problem type slug (`https://iamsmart.example/problems/<slug>`).
    pub slug: &'static str,
    /// Summary.
    pub title: String,
    /// Detail for the caller.
    pub detail: Option<String>,
    /// The offending input.
    pub field: Option<String>,
    /// Seconds to wait before retrying (503 / 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, slug: &'static str, title: impl Into<String>) -> Self {
        Self {
            status,
            slug,
            title: title.into(),
            detail: None,
            field: None,
            retry_after: None,
        }
    }
    /// With a detail.
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    /// 401 for a missing or wrong credential.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .detail("send a valid bearer token in the Authorization header")
    }
    /// 400 for malformed input.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is not valid",
        )
        .detail(detail)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => {
                let mut a = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-input",
                    "Some input is not valid",
                )
                .detail(format!("{field}: {message}"));
                a.field = Some(field.to_string());
                a
            }
            DomainError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found"),
            DomainError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(m)
            }
            DomainError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                let mut a = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service temporarily unavailable",
                )
                .detail(
                    "the database cannot be reached; nothing was changed; please try again shortly",
                );
                a.retry_after = Some(5);
                a
            }
            DomainError::ReadOnly(cause) => {
                tracing::error!(%cause, "database refuses writes");
                let mut a = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable", "Storage unavailable")
                    .detail("the platform cannot store data right now (storage full or read-only); nothing was saved");
                a.retry_after = Some(30);
                a
            }
            DomainError::TooManyAttempts { retry_after_secs } => {
                let mut a = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    "Too many failed attempts",
                )
                .detail(format!(
                    "for your protection, please wait {} before trying again",
                    human_wait(retry_after_secs)
                ));
                a.retry_after = Some(retry_after_secs);
                a
            }
            DomainError::LimitReached {
                message,
                retry_after_secs,
            } => {
                let mut a = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "limit-reached",
                    "A limit was reached",
                )
                .detail(format!(
                    "{message}; try again in {}",
                    human_wait(retry_after_secs)
                ));
                a.retry_after = Some(retry_after_secs);
                a
            }
            DomainError::Unauthenticated(m) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            )
            .detail(m),
            DomainError::Forbidden(m) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").detail(m)
            }
            DomainError::AppLocked(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "app-locked", "Unlock the app").detail(m)
            }
            DomainError::UnlockAgain => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unlock-again",
                "Confirm it is you again",
            )
            .detail("confirm it is you again (fingerprint, face, screen lock or PIN) to do this"),
            DomainError::DeviceRevoked => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "device-revoked",
                "This device has been revoked",
            )
            .detail("this device has been revoked; set up the app again"),
            DomainError::WrongPin { attempts_left } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "wrong-pin", "Wrong PIN").detail(
                    format!(
                "the PIN is wrong; {attempts_left} attempts left before this phone is locked out"
            ),
                )
            }
            DomainError::Refused { code, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "The request was refused",
            )
            .detail(message),
            DomainError::Upstream { service, cause } => {
                tracing::warn!(service, %cause, "upstream service failed");
                let mut a = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "upstream-unavailable",
                    "A service we depend on is not available",
                )
                .detail(format!(
                    "{service} is not available right now; nothing was changed; please try again in a few minutes"
                ));
                a.retry_after = Some(60);
                a
            }
            DomainError::FeatureUnavailable(m) => ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "unavailable-here",
                "Not available on this platform",
            )
            .detail(m),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side",
                )
                .detail("quote the correlation id when you contact support")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("https://iamsmart.example/problems/{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
            field: self.field,
            correlation_id: None, // filled in by the middleware, which knows the request id
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

fn human_wait(secs: u64) -> String {
    match secs {
        0..=90 => format!("{secs} seconds"),
        91..=5400 => format!("{} minutes", secs.div_ceil(60)),
        _ => format!("{} hours", secs.div_ceil(3600)),
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
