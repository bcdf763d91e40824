//! Key store: where private keys live and the only place they are used.
//!
//! Two back ends share one trait:
//! - [`file::FileKeyStore`]: key material is generated here and sealed (AES-256-GCM) under a
//!   32-byte master key read from a file (created with mode 0600 on first start). The sealed
//!   bytes are returned as the key's *handle*, which the caller persists (in the database, so
//!   that several server processes share the keys); the master key never leaves this crate.
//! - [`pkcs11::Pkcs11KeyStore`]: keys are generated inside a PKCS#11 token found by label
//!   (non-extractable, sensitive). The handle is the object's CKA_ID. ECDSA is done as raw
//!   `CKM_ECDSA` over a SHA-256 digest computed on the host (SoftHSM lacks ECDSA-SHA256);
//!   key wrapping uses `CKM_AES_GCM` with a token-resident AES-256 key.
use crate::jose::{Alg, PublicJwk};
use crate::CryptoError;
use zeroize::Zeroizing;

pub mod file;
pub mod pkcs11;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A signing key for the given algorithm.
    Signing(Alg),
    /// An AES-256 key-encryption key that wraps data keys.
    Kek,
}

/// A freshly generated key: what the caller must persist.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// Opaque bytes that identify (PKCS#11) or contain sealed (file) key material.
    pub handle: Vec<u8>,
    /// The public key, for signing keys.
    pub public_jwk: Option<PublicJwk>,
}

/// A key store back end.
pub trait KeyStore: Send + Sync {
    /// "file" or "pkcs11".
    fn backend(&self) -> &'static str;
    /// Generate a key with id `kid`.
    fn generate(&self, kid: &str, kind: KeyKind) -> Result<GeneratedKey, CryptoError>;
    /// Sign `msg` with the key; returns the signature in JWS form (ES256: r||s, 64 bytes;
    /// EdDSA: 64 bytes; RS256: PKCS#1 v1.5).
    fn sign(&self, kid: &str, handle: &[u8], alg: Alg, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Wrap a 32-byte data key under the KEK, binding `aad`.
    fn wrap(
        &self,
        kid: &str,
        handle: &[u8],
        dek: &[u8; 32],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;
    /// Unwrap a data key wrapped by [`KeyStore::wrap`] with the same `aad`.
    fn unwrap(
        &self,
        kid: &str,
        handle: &[u8],
        wrapped: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError>;
    /// Destroy a key (PKCS#11: delete the token objects; file: nothing to do).
    fn destroy(&self, kid: &str, handle: &[u8]) -> Result<(), CryptoError>;
}
