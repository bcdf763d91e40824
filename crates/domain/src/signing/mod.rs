//! Digital signing with legal backing, for iAM Smart+ residents.
//!
//! - [`ca`]: the platform's certificate authority. A root (whose key is kept offline, exported
//!   sealed, after it has signed the issuing CA), an issuing CA whose key lives in the key store
//!   (a PKCS#11 HSM in production), an OCSP responder and a timestamp authority with their own
//!   certificates. Residents' signing certificates (ETSI EN 319 412-2 natural person, a
//!   pseudonymous semantics identifier instead of the HKID), their revocation (at once, when a
//!   device is revoked or an account closed), CRLs, OCSP answers and RFC 3161 timestamps.
//! - [`requests`]: a service asks for a signature over a document's SHA-256 (CAdES) or over a
//!   PDF (PAdES); the resident sees the details and a match code in the app, approves with the
//!   app's signing key (a key of its own, separate from the device key), and the service
//!   collects the CMS signature, timestamped, or the signed PDF with the validation data. Every
//!   signature is written to the transparency log (document hash, certificate serial, time),
//!   never the document.
//! - [`verify`]: what anyone can check about a signature: signer, time, integrity and the
//!   certificate's status at signing time.
pub mod ca;
pub mod cache;
pub mod history;
mod pdf;
pub mod requests;
pub mod responders;
pub mod root_crl;
pub mod verify;

/// The signing capability: the certificate authority, signature requests and their checks.
/// Built with the handles it uses (the `Env`, which it dereferences to, the key store for the
/// authority's keys, the vault for stored certificates and blind indexes, the approvals service
/// for the resident's answer, the identity service for the signer's account and HKID, and the
/// issuer URL the certificates point back to) and nothing else. Cheap to clone.
#[derive(Clone)]
pub struct Signing {
    /// The database, the clock and randomness.
    pub env: crate::env::Env,
    /// Keys and their lifecycle (the authority's keys).
    pub keys: crate::keys::KeyService,
    /// Personal data at rest (stored certificates, HKID checks).
    pub vault: crate::vault::Vault,
    /// Settings.
    pub policy: std::sync::Arc<SigningPolicy>,
    /// The per-process caches (the loaded authority, OCSP answers).
    pub pki: std::sync::Arc<cache::PkiCache>,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
    /// The signer's account, device and HKID.
    pub identity: crate::identity::Identity,
    /// The platform's public URL (where CRLs, OCSP and the CA certificates are published).
    pub issuer: String,
}

impl std::ops::Deref for Signing {
    type Target = crate::env::Env;

    fn deref(&self) -> &crate::env::Env {
        &self.env
    }
}

/// Settings of digital signing.
#[derive(Debug, Clone)]
pub struct SigningPolicy {
    /// How long residents' signing certificates are valid, in seconds (capped by the issuing
    /// CA's own validity).
    pub certificate_validity_s: u64,
    /// The arc under which the certificate and timestamp policies are named (`{arc}.1.1`,
    /// `{arc}.1.2`); by default [`OID_ARC`], an example arc that a real operator replaces.
    pub oid_arc: String,
}

impl Default for SigningPolicy {
    fn default() -> Self {
        Self {
            certificate_validity_s: ca::CERT_VALIDITY_S,
            oid_arc: OID_ARC.to_string(),
        }
    }
}

/// The default arc of the platform's object identifiers (certificate and timestamp policies).
/// It is under the enterprise number RFC 5612 sets aside for examples: an operator running the
/// platform for real sets `signing.oid_arc` to an arc of its own. (A UUID-derived `2.25` arc
/// would need no registration, but its 128-bit arc does not fit the 32-bit arcs of the OID
/// library.)
pub const OID_ARC: &str = "1.3.6.1.4.1.32473.4627";

/// Checks an OID arc for [`SigningPolicy::oid_arc`]: the policies under it must be writable.
pub fn check_oid_arc(arc: &str) -> Result<(), String> {
    if iamsmart_crypto::pki::is_object_identifier(&format!("{arc}.1.1")) {
        Ok(())
    } else {
        Err(format!(
            "{arc:?} is not an object identifier arc; write it in dotted decimal, e.g. 1.3.6.1.4.1.<your enterprise number>"
        ))
    }
}

impl SigningPolicy {
    /// The certificate policy of residents' signing certificates.
    pub fn signing_policy_oid(&self) -> String {
        format!("{}.1.1", self.oid_arc)
    }

    /// The timestamp authority's policy.
    pub fn tsa_policy_oid(&self) -> String {
        format!("{}.1.2", self.oid_arc)
    }
}

#[cfg(test)]
mod cert_store_tests;
#[cfg(test)]
mod responder_revocation_tests;
