//! Errors of the crypto crate. Messages name the cause and the fix; they never contain key bytes.
use thiserror::Error;

/// Everything that can go wrong in this crate.
#[derive(Debug, Error)]
pub enum CryptoError {
    /// The master key file is missing, unreadable or malformed.
    #[error("master key: {0}")]
    MasterKey(String),
    /// The master key does not open the sealed keys (a different master key was given).
    #[error("the master key does not open the stored keys (was IAMSMART_MASTER_KEY_FILE changed?): key {kid}")]
    WrongMasterKey {
        /// The key that failed to open.
        kid: String,
    },
    /// A PKCS#11 module, token, PIN or object problem.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// A key was used for something it cannot do (e.g. signing with a KEK).
    #[error("key {kid} cannot be used for {op}")]
    WrongKeyUse {
        /// The key.
        kid: String,
        /// The operation attempted.
        op: &'static str,
    },
    /// An unsupported or disallowed algorithm.
    #[error("algorithm not allowed: {0}")]
    Alg(String),
    /// Malformed input (a JWS, a JWK, a sealed value, a proof ...).
    #[error("malformed {what}: {why}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// Why it was rejected.
        why: String,
    },
    /// A signature or authentication tag did not verify.
    #[error("verification failed: {0}")]
    Verify(&'static str),
    /// The underlying library failed (no details: they could leak).
    #[error("cryptographic operation failed: {0}")]
    Internal(&'static str),
}
