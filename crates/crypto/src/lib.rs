//! Cryptography of the platform. This is the only crate that ever holds private key bytes.
//!
//! - [`rng`]: the random source, passed in everywhere so tests can be deterministic.
//! - [`keystore`]: signing keys and key-encryption keys, in a file store sealed under a master
//!   key or in a PKCS#11 token (an HSM; SoftHSM2 in tests).
//! - [`jose`]: JWS compact serialisation, JWKs, algorithm allow-lists (RFC 7515/7517/7518/8037/8725).
//! - [`jwe`]: ECDH-ES / A256GCM encryption of released data to a service's key.
//! - [`envelope`]: encryption at rest of personal data: AES-256-GCM with a fresh data key per
//!   value, wrapped by a key-encryption key, bound to table/column/row.
//! - [`device`]: the resident's device key (held by the app), sealed under a PIN with Argon2id.
//! - [`webauthn`]: passkey ceremonies (options, registration and assertion checks).
//! - [`merkle`]: RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
//! - [`witness`]: what a witness of the transparency log remembers and checks.
//! - [`file`]: small files written durably (a crash leaves the old or the new one).
//! - [`pki`]: X.509 certificates and CRLs, PKCS#10, OCSP, RFC 3161 time-stamps and CAdES-shaped
//!   CMS signatures, ECDSA P-256 throughout, signed through the key store or an in-memory key.
#![deny(missing_docs)]

pub mod device;
pub mod envelope;
pub mod error;
pub mod file;
pub mod hash;
pub mod jose;
pub mod jwe;
pub mod keystore;
pub mod merkle;
pub mod oprf;
pub mod osp_api;
pub mod pki;
pub mod rng;
pub mod webauthn;
pub mod witness;

pub use error::CryptoError;
