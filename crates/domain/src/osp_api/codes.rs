//! The answer codes of the compatible API: the real platform's where one is known (`D00000`,
//! `D20008`, `D40000`, `D40001`, `D40003`, `D40004`), and this platform's own, in ranges the
//! real one does not publish, for every other refusal. `docs/INTEGRATION.md` has the table; a
//! test checks that it lists every code.
use crate::oidc::{Denial, OAuthError};

/// An answer code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiCode {
    /// Success.
    Success,
    /// The body or a parameter is malformed, missing or not allowed.
    InvalidRequest,
    /// A signature header is missing.
    MissingHeader,
    /// `clientID` names no active client of the compatible API.
    UnknownClient,
    /// The signature does not match.
    BadSignature,
    /// `timestamp` is not within the accepted window of the platform's clock.
    StaleTimestamp,
    /// `nonce` was used before by this client.
    NonceReused,
    /// `signatureMethod` is not `HmacSHA256`.
    UnsupportedSignatureMethod,
    /// No content key is valid: call `getKey`.
    NoContentKey,
    /// `content` does not decrypt under any valid content key.
    BadContent,
    /// The client may not ask for this scope or this action.
    ScopeNotAllowed,
    /// The access token is unknown, expired, revoked or not this client's.
    InvalidAccessToken,
    /// The encipherment certificate has expired or is not valid yet.
    CertificateNotValid,
    /// Signing was refused: the resident is not on iAM Smart+, has no signing certificate yet,
    /// or `HKICHash` is not theirs.
    SigningRefused,
    /// `sigAlgo` cannot be honoured with the resident's signing key.
    SigAlgoNotSupported,
    /// Too many calls from this address: wait as `Retry-After` says.
    TooManyRequests,
    /// `redirectURI` is not registered for this client.
    RedirectNotRegistered,
    /// The resident cancelled.
    UserCancelled,
    /// The resident declined.
    UserRejected,
    /// The resident did not answer in time.
    Timeout,
    /// The authorization code is unknown, used, expired or not this client's.
    BadAuthorizationCode,
    /// The platform could not answer; try again.
    ServerError,
}

impl ApiCode {
    /// Every code, in the order of the documented table.
    pub const ALL: [ApiCode; 22] = [
        ApiCode::Success,
        ApiCode::InvalidRequest,
        ApiCode::MissingHeader,
        ApiCode::UnknownClient,
        ApiCode::BadSignature,
        ApiCode::StaleTimestamp,
        ApiCode::NonceReused,
        ApiCode::UnsupportedSignatureMethod,
        ApiCode::NoContentKey,
        ApiCode::BadContent,
        ApiCode::ScopeNotAllowed,
        ApiCode::InvalidAccessToken,
        ApiCode::CertificateNotValid,
        ApiCode::TooManyRequests,
        ApiCode::SigningRefused,
        ApiCode::SigAlgoNotSupported,
        ApiCode::RedirectNotRegistered,
        ApiCode::UserCancelled,
        ApiCode::UserRejected,
        ApiCode::Timeout,
        ApiCode::BadAuthorizationCode,
        ApiCode::ServerError,
    ];

    /// The code as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiCode::Success => "D00000",
            ApiCode::InvalidRequest => "D10000",
            ApiCode::MissingHeader => "D10001",
            ApiCode::UnknownClient => "D10002",
            ApiCode::BadSignature => "D10003",
            ApiCode::StaleTimestamp => "D10004",
            ApiCode::NonceReused => "D10005",
            ApiCode::UnsupportedSignatureMethod => "D10006",
            ApiCode::NoContentKey => "D10007",
            ApiCode::BadContent => "D10008",
            ApiCode::ScopeNotAllowed => "D10009",
            ApiCode::InvalidAccessToken => "D10010",
            ApiCode::CertificateNotValid => "D10011",
            ApiCode::TooManyRequests => "D10012",
            ApiCode::SigningRefused => "D10013",
            ApiCode::SigAlgoNotSupported => "D10014",
            ApiCode::RedirectNotRegistered => "D20008",
            ApiCode::UserCancelled => "D40000",
            ApiCode::UserRejected => "D40001",
            ApiCode::Timeout => "D40003",
            ApiCode::BadAuthorizationCode => "D40004",
            ApiCode::ServerError => "D50000",
        }
    }

    /// The short message that goes with the code when nothing more specific is said.
    pub fn message(self) -> &'static str {
        match self {
            ApiCode::Success => "SUCCESS",
            ApiCode::InvalidRequest => "the request is malformed",
            ApiCode::MissingHeader => "a signature header is missing",
            ApiCode::UnknownClient => "unknown clientID",
            ApiCode::BadSignature => "the signature does not match",
            ApiCode::StaleTimestamp => "timestamp is outside the accepted window",
            ApiCode::NonceReused => "nonce was used before",
            ApiCode::UnsupportedSignatureMethod => "signatureMethod must be HmacSHA256",
            ApiCode::NoContentKey => "no valid content key: call getKey",
            ApiCode::BadContent => "content does not decrypt under a valid content key",
            ApiCode::ScopeNotAllowed => "not allowed for this client",
            ApiCode::InvalidAccessToken => "invalid access token",
            ApiCode::CertificateNotValid => "the encipherment certificate is not valid now",
            ApiCode::TooManyRequests => "too many calls; try again later",
            ApiCode::SigningRefused => "signing was refused",
            ApiCode::SigAlgoNotSupported => "sigAlgo cannot be honoured: use SHA256withECDSA",
            ApiCode::RedirectNotRegistered => "online service URL is not registered",
            ApiCode::UserCancelled => "the user cancelled",
            ApiCode::UserRejected => "the user rejected the request",
            ApiCode::Timeout => "the request timed out",
            ApiCode::BadAuthorizationCode => "invalid authorization code",
            ApiCode::ServerError => "the platform could not answer; try again",
        }
    }

    /// The code for an error of the OpenID provider that a request of this API ran into.
    pub fn from_oauth(e: &OAuthError) -> ApiCode {
        match (e.error, e.denial) {
            (_, Some(Denial::Declined)) => ApiCode::UserRejected,
            (_, Some(Denial::Expired)) => ApiCode::Timeout,
            (_, Some(Denial::Cancelled)) => ApiCode::UserCancelled,
            ("access_denied", None) => ApiCode::UserRejected,
            ("invalid_grant", _) => ApiCode::BadAuthorizationCode,
            ("invalid_redirect_uri", _) => ApiCode::RedirectNotRegistered,
            ("invalid_scope" | "unauthorized_client" | "insufficient_scope", _) => {
                ApiCode::ScopeNotAllowed
            }
            ("invalid_token", _) => ApiCode::InvalidAccessToken,
            ("invalid_client", _) => ApiCode::UnknownClient,
            ("server_error" | "temporarily_unavailable", _) => ApiCode::ServerError,
            _ => ApiCode::InvalidRequest,
        }
    }
}

/// A refusal: its code and what exactly was wrong (for the developer; never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The code.
    pub code: ApiCode,
    /// What was wrong.
    pub message: String,
}

impl ApiError {
    /// A refusal with its own message.
    pub fn new(code: ApiCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ApiCode> for ApiError {
    fn from(code: ApiCode) -> Self {
        Self::new(code, code.message())
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self::new(ApiCode::from_oauth(&e), e.description)
    }
}

impl From<crate::error::DomainError> for ApiError {
    fn from(e: crate::error::DomainError) -> Self {
        OAuthError::from(e).into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}
