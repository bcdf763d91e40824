//! The resident's app and the platform.
//!
//! Every call after registration is signed by the device key: the `iamsmart-device-signature`
//! header holds a compact ES256 JWS (`typ` [`DEVICE_REQUEST_TYP`], `kid` = the device id) over
//! [`RequestClaims`]. The platform checks the signature with the device's registered key, that
//! the device is active, the method, path and body hash, the time (within a minute) and that the
//! `jti` was never seen before. Registration and activation, before a device id exists, sign
//! with the new key itself (`kid` = the key's RFC 7638 thumbprint) and carry the public key in
//! the body: the signature proves possession.
use serde::{Deserialize, Serialize};

/// Header carrying the device's request signature.
pub const DEVICE_SIGNATURE_HEADER: &str = "iamsmart-device-signature";
/// `typ` of a device request signature.
pub const DEVICE_REQUEST_TYP: &str = "iamsmart-device+jwt";
/// `typ` of an approval or denial signed by the device.
pub const APPROVAL_TYP: &str = "iamsmart-approval+jwt";
/// Scheme of the payload of a QR code the app scans.
pub const QR_SCHEME: &str = "iamsmart:";
/// Header carrying an unlocked app's session (devices bound with user verification).
pub const APP_SESSION_HEADER: &str = "iamsmart-app-session";

/// Claims of a signed request (device requests and connector requests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestClaims {
    /// HTTP method.
    pub htm: String,
    /// Path and query of the request.
    pub htp: String,
    /// Seconds since the epoch.
    pub iat: i64,
    /// A unique id (at least 16 characters).
    pub jti: String,
    /// SHA-256 of the body, base64url (of the empty string for no body).
    pub bh: String,
    /// Intended recipient (connector requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Sender (connector requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// Card data as read from the HKID card.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardData {
    /// HKID as printed, e.g. `A123456(3)`.
    pub hkid: String,
    /// English name as printed.
    pub name_en: String,
    /// Chinese name as printed, if any.
    #[serde(default)]
    pub name_zh: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
}

impl std::fmt::Debug for CardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardData { .. }")
    }
}

/// A device being bound to an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The device's P-256 public key as a JWK.
    pub public_jwk: serde_json::Value,
    /// A name the resident recognises, e.g. `Pixel 8`.
    pub name: String,
    /// How the platform will check that the resident is present at each approval, signature and
    /// unlock (the web app always sets it; without it the device key's own protection is all
    /// there is, as in `iamsmart-app`, whose key is sealed under the PIN on the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<UserVerificationSetup>,
}

/// The user verification a device is bound with.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum UserVerificationSetup {
    /// A passkey (WebAuthn with user verification: the phone's fingerprint, face or screen lock)
    /// created for this device; `credential` is the registration response
    /// (`PublicKeyCredential.toJSON()`) to the options of `POST /app/v1/devices/passkey-options`.
    Passkey {
        /// The registration response.
        credential: serde_json::Value,
    },
    /// A 6-digit PIN that the platform checks, with a limit on wrong attempts.
    Pin {
        /// The PIN.
        pin: String,
    },
}

impl std::fmt::Debug for UserVerificationSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passkey { .. } => f.write_str("Passkey { .. }"),
            Self::Pin { .. } => f.write_str("Pin { .. }"),
        }
    }
}

/// Proof that the resident is present, for one approval, signature or unlock.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum UserVerification {
    /// A WebAuthn assertion (`PublicKeyCredential.toJSON()`) with user verification, from the
    /// device's passkey. For an approval its challenge is base64url (no padding) of SHA-256
    /// over the compact JWS of the signed decision, which names the request, its single-use
    /// challenge and the match code: the assertion answers exactly one request, once. For an
    /// unlock it is the unlock challenge.
    Passkey {
        /// The authentication response.
        assertion: serde_json::Value,
    },
    /// The device's PIN.
    Pin {
        /// The PIN.
        pin: String,
    },
}

impl std::fmt::Debug for UserVerification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passkey { .. } => f.write_str("Passkey { .. }"),
            Self::Pin { .. } => f.write_str("Pin { .. }"),
        }
    }
}

/// What an app must do to unlock (`POST /app/v1/unlock/options`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnlockOptions {
    /// `passkey`, `pin`, or `none` (a device bound without user verification needs no unlock).
    pub method: String,
    /// Single-use challenge to send back with the proof (the passkey signs it).
    pub challenge: String,
    /// For `passkey`: the `publicKey` options of `navigator.credentials.get()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<serde_json::Value>,
    /// For `pin`: wrong PINs left before the device is locked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<i64>,
}

/// Unlock the app (`POST /app/v1/unlock`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    /// From the unlock options.
    pub challenge: String,
    /// The proof.
    pub user_verification: UserVerification,
}

/// An unlocked app's session: sent in [`APP_SESSION_HEADER`] with every signed call.
#[derive(Clone, Serialize, Deserialize)]
pub struct AppSession {
    /// The session token (keep it in memory only).
    pub session: String,
    /// Unix ms after which the session ends whatever happens.
    pub expires_at: i64,
    /// Seconds without a call after which the session ends (the app locks).
    pub idle_secs: i64,
}

impl std::fmt::Debug for AppSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSession { .. }")
    }
}

/// A single-use challenge for self-registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    /// The challenge (sign it into the registration).
    pub challenge: String,
    /// Unix ms after which it is refused.
    pub expires_at: i64,
}

/// Self-registration from the app (or a kiosk).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfRegistration {
    /// From `POST /app/v1/registrations/challenge`.
    pub challenge: String,
    /// Card data.
    pub card: CardData,
    /// One photo of the card (JPEG or PNG, base64). Used for the check and dropped.
    pub card_image: String,
    /// A selfie (JPEG or PNG, base64). Used for the face match and dropped.
    pub selfie: String,
    /// The device to bind.
    pub device: NewDevice,
}

impl std::fmt::Debug for SelfRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SelfRegistration { .. }")
    }
}

/// Binding the app after counter or kiosk registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The one-time activation code (as typed, or the QR payload).
    pub code: String,
    /// The device to bind.
    pub device: NewDevice,
}

/// Upgrade to iAM Smart+ with a fresh face match.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upgrade {
    /// A selfie (JPEG or PNG, base64).
    pub selfie: String,
}

impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decision { .. }")
    }
}

impl std::fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upgrade { .. }")
    }
}

/// The outcome of registration or activation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Enrolled {
    /// The resident.
    pub resident_id: String,
    /// The new device.
    pub device_id: String,
    /// iAM Smart or iAM Smart+.
    pub level: crate::profile::Level,
    /// Whether an existing account was re-bound to this device (older devices revoked).
    pub rebound: bool,
    /// For a device bound with user verification: the app is unlocked at once (the setup
    /// verified the resident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<AppSession>,
    /// When the account is on another phone: this one takes over then (Unix ms), unless the
    /// other phone refuses meanwhile; until then nothing it signs is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<i64>,
}

crate::text_enum! {
    /// Where a device stands. Stored and sent as its lower-case name (the database refuses any
    /// other: `devices_status_known`).
    pub enum DeviceStatus {
        /// A new phone waiting to take the account over after the cool-off (removing it refuses).
        Pending = "pending",
        /// In use: what it signs is accepted.
        Active = "active",
        /// Revoked (by the resident, a new phone, too many wrong PINs or account closure); final.
        Revoked = "revoked",
    }
}

/// A device as the resident sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceView {
    /// Device id.
    pub id: String,
    /// Name given at binding.
    pub name: String,
    /// Where it stands.
    pub status: DeviceStatus,
    /// For a `pending` phone: when it takes over (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activates_at: Option<i64>,
    /// Bound at (Unix ms).
    pub created_at: i64,
    /// Last signed request (Unix ms).
    pub last_used_at: Option<i64>,
    /// Revoked at (Unix ms).
    pub revoked_at: Option<i64>,
    /// Whether this is the device making the call.
    pub current: bool,
    /// `passkey` or `pin` when the platform checks the resident's presence on it; absent for a
    /// device whose key is protected on the device only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// A request waiting for the resident's approval in the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalView {
    /// Request id.
    pub id: crate::ids::ApprovalId,
    /// `login`, `consent`, `sign`, `step_up`, ...
    pub kind: String,
    /// The online service asking (English).
    pub client_name: String,
    /// Who is asking in every language registered: name, department, purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<crate::i18n::ServiceDetails>,
    /// What the resident is asked to agree to (shown in the app).
    pub details: serde_json::Value,
    /// The 4-digit code also shown where the request started.
    pub match_code: String,
    /// The challenge to sign.
    pub challenge: String,
    /// Where the request stands.
    pub status: ApprovalStatus,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Expires (Unix ms).
    pub expires_at: i64,
}

crate::text_enum! {
    /// Where a request for the resident's approval stands. Stored as its lower-case name (the
    /// database refuses any other: `approvals_status_known`).
    pub enum ApprovalStatus {
        /// Waiting; shown as a QR code or pushed to the resident's phone.
        Pending = "pending",
        /// A device scanned the QR code and claimed it for its resident; waiting for the decision.
        Scanned = "scanned",
        /// The resident approved it on a device.
        Approved = "approved",
        /// The resident declined it.
        Denied = "denied",
        /// Nobody answered in time.
        Expired = "expired",
        /// Withdrawn before an answer (the account closed, the devices revoked).
        Cancelled = "cancelled",
    }
}

impl ApprovalStatus {
    /// Still waiting for the resident (pending or scanned).
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Pending | Self::Scanned)
    }
}

/// What the device signs to approve or deny (typ [`APPROVAL_TYP`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalClaims {
    /// Request id.
    pub rid: crate::ids::ApprovalId,
    /// The request's challenge.
    pub challenge: String,
    /// The match code the app showed.
    pub match_code: String,
    /// `approve` or `deny`.
    pub decision: String,
    /// What the resident agreed to (for consent: the items released).
    pub agreed: serde_json::Value,
    /// Seconds since the epoch.
    pub iat: i64,
}

/// Body of an approve / deny call.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Compact JWS over [`ApprovalClaims`], signed by the device key.
    pub signed: String,
    /// A selfie (JPEG or PNG, base64) for requests that need a face match (`step_up`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selfie: Option<String>,
    /// The resident's verification, required to approve on a device bound with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<UserVerification>,
}

/// The app asks for a signing certificate (iAM Smart+): a PKCS#10 request for the app's signing
/// key, which is separate from the device key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The CSR (DER, base64url): its signature proves the app holds the key.
    pub csr: String,
}

/// A signing certificate issued to the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// Serial (hex).
    pub serial: String,
    /// The certificate (DER, base64url).
    pub certificate: String,
    /// The issuing CA and the root (DER, base64url).
    pub chain: Vec<String>,
}

/// Parse a QR payload `iamsmart:approve?id=<request id>` or `iamsmart:activate?code=<code>`:
/// returns (action, value).
pub fn parse_qr(payload: &str) -> Option<(&str, &str)> {
    let rest = payload.strip_prefix(QR_SCHEME)?;
    let (action, query) = rest.split_once('?')?;
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("id=").or_else(|| kv.strip_prefix("code=")))?;
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some((action, value))
}

#[cfg(test)]
mod tests {
    #[test]
    fn qr_payloads() {
        assert_eq!(
            super::parse_qr("iamsmart:approve?id=ar_abc-1"),
            Some(("approve", "ar_abc-1"))
        );
        assert_eq!(
            super::parse_qr("iamsmart:activate?code=K7Q2"),
            Some(("activate", "K7Q2"))
        );
        assert_eq!(super::parse_qr("https://evil/approve?id=x"), None);
        assert_eq!(super::parse_qr("iamsmart:approve?id=a/b"), None);
        assert_eq!(super::parse_qr("iamsmart:approve?x=1"), None);
    }
}
