//! OAuth 2.0 errors (RFC 6749 section 5.2 and the extensions' codes). What an error is, not how
//! it travels: the HTTP status is chosen by `web` alone, from the code and whether the caller
//! was throttled.
use crate::error::DomainError;

/// An OAuth error: code and description, and whether it is a rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC error code.
    pub error: &'static str,
    /// What is wrong, for the developer.
    pub description: String,
    /// The caller sent too much, too fast (HTTP 429), as opposed to a `slow_down` that paces a
    /// CIBA poll (HTTP 400, as the CIBA and device-grant specifications say).
    pub throttled: bool,
    /// Seconds to wait (temporarily unavailable, slow down).
    pub retry_after: Option<u64>,
    /// Why the resident's answer was no, where the sign-in ended without one (the compatible
    /// API tells these apart: `D40001`, `D40003`, `D40000`).
    pub denial: Option<Denial>,
}

/// Why a sign-in ended with `access_denied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The resident declined in the app.
    Declined,
    /// Nobody answered before the request expired.
    Expired,
    /// The resident cancelled on the consent page.
    Cancelled,
}

impl OAuthError {
    /// `access_denied` for a known reason.
    pub fn denied(denial: Denial, description: impl Into<String>) -> Self {
        Self {
            denial: Some(denial),
            ..Self::access_denied(description)
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl std::error::Error for OAuthError {}

macro_rules! codes {
    ($($name:ident => $code:literal),* $(,)?) => {
        impl OAuthError {
            $(
                #[doc = concat!("`", $code, "`")]
                pub fn $name(description: impl Into<String>) -> Self {
                    Self { error: $code, description: description.into(), throttled: false, retry_after: None, denial: None }
                }
            )*
        }
    };
}

codes! {
    invalid_request => "invalid_request",
    invalid_client => "invalid_client",
    invalid_grant => "invalid_grant",
    unauthorized_client => "unauthorized_client",
    unsupported_grant_type => "unsupported_grant_type",
    unsupported_response_type => "unsupported_response_type",
    invalid_scope => "invalid_scope",
    access_denied => "access_denied",
    invalid_request_uri => "invalid_request_uri",
    invalid_request_object => "invalid_request_object",
    invalid_dpop_proof => "invalid_dpop_proof",
    invalid_token => "invalid_token",
    insufficient_scope => "insufficient_scope",
    insufficient_user_authentication => "insufficient_user_authentication",
    login_required => "login_required",
    consent_required => "consent_required",
    interaction_required => "interaction_required",
    unmet_authentication_requirements => "unmet_authentication_requirements",
    invalid_authorization_details => "invalid_authorization_details",
    authorization_pending => "authorization_pending",
    slow_down => "slow_down",
    expired_token => "expired_token",
    invalid_client_metadata => "invalid_client_metadata",
    invalid_redirect_uri => "invalid_redirect_uri",
    unknown_user_id => "unknown_user_id",
    server_error => "server_error",
    temporarily_unavailable => "temporarily_unavailable",
}

impl From<crate::guard::Replayed> for OAuthError {
    fn from(r: crate::guard::Replayed) -> Self {
        use crate::guard::SingleUseKind as K;
        match r.0 {
            K::ClientAssertion => {
                OAuthError::invalid_client("client_assertion was already used (jti replay)")
            }
            K::DpopProof => {
                OAuthError::invalid_dpop_proof("DPoP proof was already used (jti replay)")
            }
            K::DeviceRequest => OAuthError::access_denied("this signed request was already used"),
            K::ApiNonce => OAuthError::invalid_request("nonce was already used"),
        }
    }
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
                o.retry_after = Some(5);
                o
            }
            DomainError::TooManyAttempts { retry_after_secs } => {
                let mut o = OAuthError::slow_down("too many requests; slow down");
                o.throttled = true;
                o.retry_after = Some(retry_after_secs);
                o
            }
            DomainError::LimitReached {
                message,
                retry_after_secs,
            } => {
                let mut o = OAuthError::slow_down(message);
                o.throttled = true;
                o.retry_after = Some(retry_after_secs);
                o
            }
            DomainError::Invalid { field, message } => {
                OAuthError::invalid_request(format!("{field}: {message}"))
            }
            // What the caller asked for is not there, or not theirs, or not now: never a fault
            // of ours (these were answered 500 before).
            DomainError::NotFound => OAuthError::invalid_request("not found"),
            DomainError::Conflict(m) => OAuthError::invalid_request(m),
            DomainError::Forbidden(m)
            | DomainError::Unauthenticated(m)
            | DomainError::AppLocked(m) => OAuthError::access_denied(m),
            DomainError::Refused { message, .. } => OAuthError::access_denied(message),
            DomainError::UnlockAgain
            | DomainError::DeviceRevoked
            | DomainError::WrongPin { .. } => OAuthError::access_denied(e.to_string()),
            DomainError::FeatureUnavailable(m) => OAuthError::invalid_request(m),
            DomainError::Integrity(_) | DomainError::Crypto(_) | DomainError::Store(_) => {
                tracing::error!(error = %e, "provider error");
                OAuthError::server_error("something went wrong on our side")
            }
        }
    }
}

/// Shorthand.
pub type OResult<T> = std::result::Result<T, OAuthError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_has_its_oauth_code() {
        let cases: Vec<(DomainError, &str, bool)> = vec![
            (DomainError::NotFound, "invalid_request", false),
            (DomainError::Conflict("taken"), "invalid_request", false),
            (DomainError::Forbidden("no"), "access_denied", false),
            (DomainError::Unauthenticated("who"), "access_denied", false),
            (DomainError::AppLocked("locked"), "access_denied", false),
            (DomainError::UnlockAgain, "access_denied", false),
            (DomainError::DeviceRevoked, "access_denied", false),
            (
                DomainError::FeatureUnavailable("no face model"),
                "invalid_request",
                false,
            ),
            (
                DomainError::Unavailable("db".into()),
                "temporarily_unavailable",
                false,
            ),
            (
                DomainError::ReadOnly("disk".into()),
                "temporarily_unavailable",
                false,
            ),
            (
                DomainError::TooManyAttempts {
                    retry_after_secs: 7,
                },
                "slow_down",
                true,
            ),
            (
                DomainError::Integrity("chain".into()),
                "server_error",
                false,
            ),
            (DomainError::Store("x".into()), "server_error", false),
        ];
        for (e, code, throttled) in cases {
            let shown = e.to_string();
            let o = OAuthError::from(e);
            assert_eq!((o.error, o.throttled), (code, throttled), "{shown}");
        }
        // A poll that is too fast is paced, not throttled.
        assert!(!OAuthError::slow_down("poll every 5 s").throttled);
    }
}
