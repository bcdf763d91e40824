//! Errors of the domain, classified by what a caller can do about them.
use iamsmart_crypto::CryptoError;
use iamsmart_store::StoreError;
use thiserror::Error;

/// A domain failure.
#[derive(Debug, Error)]
pub enum DomainError {
    /// Input that breaks a rule; `field` names the input.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending input.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The thing does not exist (or the caller may not know it exists).
    #[error("not found")]
    NotFound,
    /// The thing already exists.
    #[error("{0}")]
    Conflict(&'static str),
    /// The database is unreachable or overloaded.
    #[error("the service is temporarily unavailable; please try again shortly")]
    Unavailable(String),
    /// The database refuses writes (disk full, read-only).
    #[error("the service cannot store data right now; nothing was saved")]
    ReadOnly(String),
    /// Stored data failed an integrity check (tampering or corruption).
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A key problem (missing key, HSM failure).
    #[error("key operation failed: {0}")]
    Crypto(#[from] CryptoError),
    /// Too many failed attempts; try again later.
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// A limit the caller agreed to (such as a consent's fetches per day) is reached; the
    /// request may be made again later.
    #[error("{message}")]
    LimitReached {
        /// Why.
        message: &'static str,
        /// Seconds until the next request can succeed.
        retry_after_secs: u64,
    },
    /// The caller is not authenticated (or its credential is revoked or stale).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The caller is authenticated but may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The calling device is bound with user verification and its app is locked (no session,
    /// or one that ended, or one not recent enough for this action): unlock it and try again.
    #[error("{0}")]
    AppLocked(&'static str),
    /// The action needs the resident's verification just now (closing the account, adding a
    /// phone, downloading all data): unlock again and retry.
    #[error("confirm it is you again (fingerprint, face, screen lock or PIN) to do this")]
    UnlockAgain,
    /// The calling device was revoked (by the resident, a new phone, or too many wrong PINs).
    #[error("this device has been revoked; set up the app again")]
    DeviceRevoked,
    /// A wrong PIN; the device is revoked when none are left.
    #[error("the PIN is wrong; {attempts_left} attempts left before this phone is locked out")]
    WrongPin {
        /// Wrong PINs left before the device is revoked.
        attempts_left: i64,
    },
    /// A request that was understood and refused for a reason the caller is told in general
    /// terms (never which field of someone else's record differs).
    #[error("{message}")]
    Refused {
        /// Stable machine-readable reason.
        code: &'static str,
        /// What happened and what to do.
        message: &'static str,
    },
    /// Another organisation's system (the registry, a data provider) failed or is slow.
    #[error("{service} is not available right now; nothing was changed; please try again in a few minutes")]
    Upstream {
        /// Which service, for people.
        service: &'static str,
        /// What went wrong (logged, not shown).
        cause: String,
    },
    /// This deployment does not offer the capability.
    #[error("{0}")]
    FeatureUnavailable(&'static str),
    /// A database error that is a bug or corruption.
    #[error("internal storage error")]
    Store(String),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(s) => DomainError::Unavailable(s),
            StoreError::ReadOnly(s) => DomainError::ReadOnly(s),
            StoreError::Conflict => DomainError::Conflict("already exists"),
            StoreError::BadText => DomainError::Invalid {
                field: "input",
                message: "contains a NUL character, which no field may hold".into(),
            },
            StoreError::Migrate(s) | StoreError::Other(s) => DomainError::Store(s),
        }
    }
}

impl From<crate::guard::Replayed> for DomainError {
    fn from(r: crate::guard::Replayed) -> Self {
        use crate::guard::SingleUseKind as K;
        DomainError::Unauthenticated(match r.0 {
            K::ClientAssertion => "the client assertion was already used",
            K::DpopProof => "the DPoP proof was already used",
            K::DeviceRequest => "this signed request was already used",
            K::ApiNonce => "nonce was already used",
        })
    }
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        iamsmart_store::classify(e).into()
    }
}

/// Shorthand.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

impl From<serde_json::Error> for DomainError {
    fn from(e: serde_json::Error) -> Self {
        DomainError::Integrity(format!("JSON: {e}"))
    }
}

/// A state or kind read back from the database. A name the program does not know is an
/// integrity error: the database's own check (migration 0020) refuses unknown names, so one
/// means a schema and a program out of step, or a changed file.
pub fn stored<T>(name: &str) -> Result<T>
where
    T: std::str::FromStr<Err = iamsmart_proto::states::UnknownName>,
{
    name.parse()
        .map_err(|e: iamsmart_proto::states::UnknownName| {
            DomainError::Integrity(format!("stored value {name:?}: {e}"))
        })
}
