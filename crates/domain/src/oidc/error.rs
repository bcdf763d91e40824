//! OAuth 2.0 errors (RFC 6749 section 5.2 and the extensions' codes).
use crate::error::DomainError;

/// An OAuth error: code, description and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC error code.
    pub error: &'static str,
    /// What is wrong, for the developer.
    pub description: String,
    /// HTTP status for endpoints that answer directly.
    pub status: u16,
    /// Seconds to wait (temporarily unavailable, slow down).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl std::error::Error for OAuthError {}

macro_rules! codes {
    ($($name:ident => ($code:literal, $status:literal)),* $(,)?) => {
        impl OAuthError {
            $(
                #[doc = concat!("`", $code, "`")]
                pub fn $name(description: impl Into<String>) -> Self {
                    Self { error: $code, description: description.into(), status: $status, retry_after: None }
                }
            )*
        }
    };
}

codes! {
    invalid_request => ("invalid_request", 400),
    invalid_client => ("invalid_client", 401),
    invalid_grant => ("invalid_grant", 400),
    unauthorized_client => ("unauthorized_client", 400),
    unsupported_grant_type => ("unsupported_grant_type", 400),
    unsupported_response_type => ("unsupported_response_type", 400),
    invalid_scope => ("invalid_scope", 400),
    access_denied => ("access_denied", 403),
    invalid_request_uri => ("invalid_request_uri", 400),
    invalid_request_object => ("invalid_request_object", 400),
    invalid_dpop_proof => ("invalid_dpop_proof", 400),
    invalid_token => ("invalid_token", 401),
    insufficient_scope => ("insufficient_scope", 403),
    insufficient_user_authentication => ("insufficient_user_authentication", 401),
    login_required => ("login_required", 400),
    consent_required => ("consent_required", 400),
    interaction_required => ("interaction_required", 400),
    unmet_authentication_requirements => ("unmet_authentication_requirements", 400),
    invalid_authorization_details => ("invalid_authorization_details", 400),
    authorization_pending => ("authorization_pending", 400),
    slow_down => ("slow_down", 400),
    expired_token => ("expired_token", 400),
    invalid_client_metadata => ("invalid_client_metadata", 400),
    invalid_redirect_uri => ("invalid_redirect_uri", 400),
    unknown_user_id => ("unknown_user_id", 400),
    server_error => ("server_error", 500),
    temporarily_unavailable => ("temporarily_unavailable", 503),
}

impl From<DomainError> for OAuthError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unavailable(_)
            | DomainError::ReadOnly(_)
            | DomainError::Upstream { .. } => {
                tracing::warn!(error = %e, "provider temporarily unavailable");
                let mut o = OAuthError::temporarily_unavailable(
                    "the service is temporarily unavailable; nothing was changed; try again shortly",
                );
                o.status = 503;
                o.retry_after = Some(5);
                o
            }
            DomainError::TooManyAttempts { retry_after_secs } => {
                let mut o = OAuthError::slow_down("too many requests; slow down");
                o.status = 429;
                o.retry_after = Some(retry_after_secs);
                o
            }
            DomainError::LimitReached {
                message,
                retry_after_secs,
            } => {
                let mut o = OAuthError::slow_down(message);
                o.status = 429;
                o.retry_after = Some(retry_after_secs);
                o
            }
            DomainError::Invalid { field, message } => {
                OAuthError::invalid_request(format!("{field}: {message}"))
            }
            other => {
                tracing::error!(error = %other, "provider error");
                OAuthError::server_error("something went wrong on our side")
            }
        }
    }
}

/// Shorthand.
pub type OResult<T> = std::result::Result<T, OAuthError>;
