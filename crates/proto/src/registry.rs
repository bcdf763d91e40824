//! Between the platform and the Immigration Department's registry (the sandbox's stand-in).
//!
//! Both directions are signed: the platform signs each request with its connector key
//! ([`crate::app::RequestClaims`] in the `iamsmart-signature` header, `aud` = the registry), and
//! the registry signs each response ([`ResponseClaims`]) binding it to the request's `jti`.
use serde::{Deserialize, Serialize};

/// Header carrying the JWS that authenticates a request or a response.
pub const SIGNATURE_HEADER: &str = "iamsmart-signature";
/// `typ` of a signed connector request.
pub const REQUEST_TYP: &str = "iamsmart-request+jwt";
/// `typ` of a signed connector response.
pub const RESPONSE_TYP: &str = "iamsmart-response+jwt";

/// What the platform asks: does a record with these card data exist?
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryQuery {
    /// HKID as printed, e.g. `A123456(3)`.
    pub hkid: String,
    /// English name as printed.
    pub name_en: String,
    /// Chinese name as printed, if any.
    #[serde(default)]
    pub name_zh: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Whether to return the reference photo (for a face match).
    #[serde(default)]
    pub include_photo: bool,
}

impl std::fmt::Debug for RegistryQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryQuery { .. }")
    }
}

/// The registry's answer.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegistryAnswer {
    /// `match`, `mismatch` (the HKID exists, other data differ) or `unknown` (no such HKID).
    pub outcome: String,
    /// The record, only on `match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RegistryRecord>,
    /// Reference photo (JPEG or PNG, base64), only on `match` when asked for and on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
}

impl std::fmt::Debug for RegistryAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryAnswer {{ outcome: {}, .. }}", self.outcome)
    }
}

/// A registry record.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegistryRecord {
    /// HKID, display form.
    pub hkid: String,
    /// English name.
    pub name_en: String,
    /// Chinese name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Date of birth.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    pub gender: String,
    /// Issue date of the card in use, `YYYY-MM-DD`.
    pub card_issue_date: String,
}

impl std::fmt::Debug for RegistryRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryRecord { .. }")
    }
}

/// Claims of a signed response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseClaims {
    /// Who answers.
    pub iss: String,
    /// Seconds since the epoch.
    pub iat: i64,
    /// SHA-256 of the response body, base64url.
    pub bh: String,
    /// The `jti` of the request this answers.
    pub req: String,
    /// HTTP status of the response.
    pub status: u16,
}
