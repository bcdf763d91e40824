//! Signing requests: a service asks, the resident approves in the app with the app's signing
//! key, the platform assembles and timestamps the signature, the service collects it once.
//!
//! The app builds the CMS signed attributes itself (the digest it was shown, its own
//! certificate, the signing time) and signs them; the platform rebuilds the same attributes,
//! checks the signature against the resident's current certificate and assembles a CAdES-B-T
//! signature (or, for a PDF, PAdES-B-T and then B-LT with the validation data embedded).
use super::ca;
use super::Signing;
use crate::audit::{self, Event};
use crate::authn::approvals;
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::oidc::clients::Client;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_crypto::pki::{self, cms};
use iamsmart_proto::ids::SignRequestId;
use iamsmart_proto::profile::{AccountStatus, Level};
use serde::{Deserialize, Serialize};

/// The kind of the app's request that asks the resident to sign.
pub const APPROVAL_KIND: &str = "sign";

/// The largest PDF accepted, in bytes.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;
/// How far the app's signing time may be from the platform's clock, in seconds.
const SIGNING_TIME_SKEW_S: i64 = 120;

/// The document, as the resident sees it in the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Its name (e.g. "Tenancy agreement, Flat A, 12/F").
    pub name: String,
    /// The department or company responsible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The service it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// What a service asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The resident (the subject the service knows them by); without it, and without a
    /// resident's access token, the service shows the returned QR code (signing without login).
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The document.
    pub document: Document,
    /// Hash signing: the document's SHA-256 (hex, or base64 / base64url of the 32 bytes).
    #[serde(default)]
    pub digest: Option<String>,
    /// PDF signing: the PDF (base64); the platform returns it signed (PAdES-B-LT).
    #[serde(default)]
    pub pdf: Option<String>,
    /// Require a fresh face match on the phone.
    #[serde(default)]
    pub face: bool,
    /// Base64 of SHA-256 of the HKID without its check digit: refused unless it is the signer's.
    #[serde(default)]
    pub hkid_hash: Option<String>,
    /// PDF: the reason shown in the signature.
    #[serde(default)]
    pub reason: Option<String>,
    /// PDF: the place shown in the signature.
    #[serde(default)]
    pub location: Option<String>,
    /// PDF: the PAdES level, `B-LT` (the default: the signature, its timestamp and the
    /// validation data) or `B-LTA` (that, sealed under a document timestamp, for archives that
    /// renew the timestamps before the algorithms age).
    #[serde(default)]
    pub level: Option<String>,
}

/// Whether a request asks for PAdES B-LTA.
fn wants_lta(level: Option<&str>) -> bool {
    level == Some("B-LTA")
}

/// A started request.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Poll `GET /sign/v1/requests/{request_id}` with it.
    pub request_id: SignRequestId,
    /// Show this as a QR code (signing without login).
    pub qr: String,
    /// Show this next to the QR code: the app shows the same digits.
    pub match_code: String,
    /// The SHA-256 that will be signed (hex): for a PDF, of its signed byte range.
    pub digest: String,
    /// Unix ms.
    pub expires_at: i64,
    /// The approval shown in the app (not for the service).
    #[serde(skip)]
    pub approval_id: iamsmart_proto::ids::ApprovalId,
}

/// A collected signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signature {
    /// CMS SignedData (CAdES-B-T, detached), base64.
    pub cms: String,
    /// The raw signature (DER ECDSA-Sig-Value over the signed attributes), base64.
    pub signature: String,
    /// The signer's certificate (DER, base64).
    pub certificate: String,
    /// The issuing CA and the root (DER, base64).
    pub chain: Vec<String>,
    /// The certificate's serial (hex).
    pub certificate_serial: String,
    /// When the timestamp authority saw the signature (Unix s).
    pub timestamp: u64,
    /// PDF requests: the signed PDF (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
}

iamsmart_proto::text_enum! {
    /// What a signing request signs. Stored as its lower-case name (the database refuses any
    /// other: `sign_requests_kind_known`).
    pub enum SignKind {
        /// A document's SHA-256 hash: a detached CAdES signature.
        Hash = "hash",
        /// A PDF: the signed PDF (PAdES).
        Pdf = "pdf",
    }
}

iamsmart_proto::text_enum! {
    /// Where a signing request stands in the database (the database refuses any other name:
    /// `sign_requests_status_known`).
    pub enum SignRequestStatus {
        /// Waiting for the resident, or for the platform to assemble what they approved.
        Pending = "pending",
        /// Signed; the signature waits for the service, which collects it once.
        Signed = "signed",
        /// Signed and given to the service (the signature is no longer kept).
        Collected = "collected",
        /// The resident declined.
        Denied = "denied",
        /// Nobody answered in time.
        Expired = "expired",
        /// The app's answer could not be made into a signature (the reason is kept).
        Failed = "failed",
    }
}

iamsmart_proto::text_enum! {
    /// Where a signing request stands, as its service is told: the stored states, and while it
    /// is pending, whether the resident's phone has scanned it.
    pub enum OutcomeStatus {
        /// Waiting for the resident.
        Pending = "pending",
        /// A phone scanned the request; waiting for the resident's decision.
        Scanned = "scanned",
        /// The signature is in this answer, the only time it is given out.
        Signed = "signed",
        /// The signature was given out earlier.
        Collected = "collected",
        /// The resident declined.
        Denied = "denied",
        /// Nobody answered in time.
        Expired = "expired",
        /// The app's answer could not be made into a signature.
        Failed = "failed",
    }
}

impl From<SignRequestStatus> for OutcomeStatus {
    fn from(s: SignRequestStatus) -> Self {
        match s {
            SignRequestStatus::Pending => Self::Pending,
            SignRequestStatus::Signed => Self::Signed,
            SignRequestStatus::Collected => Self::Collected,
            SignRequestStatus::Denied => Self::Denied,
            SignRequestStatus::Expired => Self::Expired,
            SignRequestStatus::Failed => Self::Failed,
        }
    }
}

/// What polling returns.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The request.
    pub request_id: SignRequestId,
    /// Where the request stands.
    pub status: OutcomeStatus,
    /// Why, when denied or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The signature, when signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

fn invalid(field: &'static str, m: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: m.into(),
    }
}

/// A text a resident is shown and that may go into the signed data: 1 to `max` characters,
/// none of them a control or a direction override (which would make the text read otherwise
/// on the screen than in the document).
fn text_ok(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            )
    };
    (1..=max).contains(&n) && !s.chars().any(hidden) && !s.trim().is_empty()
}

/// Read a SHA-256 given as hex, base64 or base64url.
pub fn parse_digest(s: &str) -> Result<[u8; 32]> {
    let s = s.trim();
    let bytes = if s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).ok()
    } else {
        STANDARD
            .decode(s)
            .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
            .ok()
    }
    .ok_or_else(|| invalid("digest", "expected the SHA-256 as hex or base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        invalid(
            "digest",
            format!(
                "a SHA-256 digest is 32 bytes; this one is {} bytes",
                bytes.len()
            ),
        )
    })
}

/// Check a request's texts and that it asks for exactly one thing.
pub fn check(req: &SignRequest) -> Result<()> {
    if !text_ok(&req.document.name, 200) {
        return Err(invalid("document.name", "1 to 200 characters"));
    }
    for (field, v) in [
        ("document.department", &req.document.department),
        ("document.service", &req.document.service),
        ("reason", &req.reason),
        ("location", &req.location),
    ] {
        if v.as_deref().is_some_and(|t| !text_ok(t, 200)) {
            return Err(invalid(field, "1 to 200 characters"));
        }
    }
    match (req.level.as_deref(), &req.pdf) {
        (None | Some("B-LT" | "B-LTA"), Some(_)) | (None, None) => {}
        (Some(_), None) => return Err(invalid("level", "level applies to PDF signing only")),
        (Some(_), Some(_)) => return Err(invalid("level", "level is B-LT or B-LTA")),
    }
    match (&req.digest, &req.pdf) {
        (Some(d), None) => parse_digest(d).map(|_| ()),
        (None, Some(_)) => Ok(()),
        _ => Err(invalid(
            "digest",
            "send either digest (hash signing) or pdf (PDF signing), not both",
        )),
    }
}

/// The HKID hash the real platform's API uses: base64 of SHA-256 of the HKID without its check
/// digit.
pub fn hkid_hash(hkid: &str) -> String {
    let canonical: String = hkid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let without_check = &canonical[..canonical.len().saturating_sub(1)];
    STANDARD.encode(pki::sha256(without_check.as_bytes()))
}

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &["sign_requests"];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM sign_requests WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hkid_hash_ignores_the_check_digit_and_the_way_the_number_is_written() {
        let h = super::hkid_hash("A123456(3)");
        assert_eq!(h, super::hkid_hash("a1234563"));
        assert_eq!(
            h,
            super::hkid_hash("A1234569"),
            "the check digit is not hashed"
        );
        assert_ne!(h, super::hkid_hash("A1234573"));
        assert_eq!(h.len(), 44);
    }

    #[test]
    fn texts_that_would_read_otherwise_in_the_app_than_in_the_document_are_refused() {
        assert!(super::text_ok("Application 申請", 200));
        for bad in [
            "",
            "   ",
            "Pay\u{202E}001$KH",
            "a\u{2066}b\u{2069}",
            "line\nbreak",
            "mark\u{200F}",
        ] {
            assert!(!super::text_ok(bad, 200), "{bad:?}");
        }
        assert!(!super::text_ok(&"x".repeat(201), 200));
    }

    #[test]
    fn digests_are_32_bytes_in_hex_or_base64() {
        let hex64 = "ab".repeat(32);
        assert_eq!(super::parse_digest(&hex64).unwrap(), [0xab; 32]);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        assert_eq!(super::parse_digest(&b64).unwrap(), [7; 32]);
        assert!(
            format!("{:?}", super::parse_digest(&"ab".repeat(31)).unwrap_err())
                .contains("31 bytes")
        );
        assert!(super::parse_digest("not a digest!").is_err());
        assert!(super::parse_digest("").is_err());
    }
}

/// The HKID a service says the signer must have.
#[derive(Clone, Copy)]
enum HkidCheck<'a> {
    /// The service's hash, as sent ([`hkid_hash`]): checked when the request arrives.
    Sent(&'a str),
    /// What is kept of it until the resident answers: the platform's keyed hash of the
    /// service's hash, hex (an unkeyed hash of an HKID is found by trying every HKID).
    Kept(&'a str),
}

const HKID_CHECK_DOMAIN: &str = "sign-hkid";

/// What a request keeps of the service's HKID hash.
fn kept_hkid_check(p: &Signing, sent: &str) -> String {
    hex::encode(p.vault.blind_index(HKID_CHECK_DOMAIN, sent.trim()))
}

fn hkid_matches(p: &Signing, check: HkidCheck<'_>, hkid: &str) -> bool {
    match check {
        HkidCheck::Sent(asked) => {
            iamsmart_crypto::hash::ct_eq(asked.trim().as_bytes(), hkid_hash(hkid).as_bytes())
        }
        HkidCheck::Kept(kept) => iamsmart_crypto::hash::ct_eq(
            kept.as_bytes(),
            kept_hkid_check(p, &hkid_hash(hkid)).as_bytes(),
        ),
    }
}

/// Who may sign: an active iAM Smart+ resident with a current signing certificate, whose HKID
/// matches the service's hash when it sent one.
async fn check_signer(
    p: &Signing,
    resident_id: &str,
    device_id: Option<&str>,
    hkid_check: Option<HkidCheck<'_>>,
) -> Result<(String, Vec<u8>)> {
    // Only the status, the level and (when the service sent a hash) the HKID: the other
    // personal data stays sealed.
    let standing = crate::identity::standing(p, resident_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if standing != (Level::Plus, AccountStatus::Active) {
        return Err(DomainError::Refused {
            code: "not-plus",
            message: "signing needs an active iAM Smart+ account; nothing was signed",
        });
    }
    if let Some(check) = hkid_check {
        let hkid = crate::identity::hkid_of(&p.identity, resident_id).await?;
        if !hkid_matches(p, check, &hkid) {
            return Err(DomainError::Refused {
                code: "hkid-mismatch",
                message: "the HKID the service gave is not the signer's; nothing was signed",
            });
        }
    }
    ca::current_cert(p, resident_id, device_id)
        .await?
        .ok_or(DomainError::Refused {
            code: "no-certificate",
            message: "the resident's app has no signing certificate yet: open the app to get one",
        })
}

/// Start a request for a named resident (by `login_hint`, or `resident` from a resident's
/// access token), or a QR code any iAM Smart+ resident may scan.
pub async fn start(
    p: &Signing,
    client: &Client,
    req: SignRequest,
    resident: Option<String>,
) -> Result<Started> {
    check(&req)?;
    ca::load(p).await?;
    let resident = match (resident, &req.login_hint) {
        (Some(r), _) => Some(r),
        (None, Some(hint)) => Some(
            crate::oidc::claims::resident_of_subject(p, &client.subject_sector(), hint)
                .await?
                .ok_or(DomainError::NotFound)?,
        ),
        (None, None) => None,
    };
    if let Some(r) = &resident {
        check_signer(p, r, None, req.hkid_hash.as_deref().map(HkidCheck::Sent)).await?;
    }
    let id: SignRequestId = p.new_id();
    let (kind, digest, prepared) = match (&req.digest, &req.pdf) {
        (Some(d), _) => (SignKind::Hash, parse_digest(d)?, None),
        (None, Some(pdf)) => {
            let (digest, sealed) = super::pdf::prepare(p, id.as_str(), &req, pdf)?;
            (SignKind::Pdf, digest, Some(sealed))
        }
        (None, None) => return Err(invalid("digest", "send digest or pdf")),
    };
    let mut details = serde_json::json!({
        "service": client.meta.client_name,
        "document": req.document,
        "digest": hex::encode(digest),
        "format": match kind { SignKind::Pdf => "pades", SignKind::Hash => "cades" },
        "face": req.face,
    });
    // Everything the service puts into the signed data is shown to the resident before they
    // sign: a PDF's /Reason and /Location are written into the signature dictionary.
    if kind == SignKind::Pdf {
        for (key, value) in [("reason", &req.reason), ("location", &req.location)] {
            if let Some(v) = value {
                details[key] = serde_json::json!(v);
            }
        }
    }
    let created = approvals::create(
        &p.approvals,
        approvals::NewApproval {
            resident_id: resident.as_deref(),
            kind: APPROVAL_KIND,
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details: details.clone(),
            client_vetted: client.vetted,
            service: Some(client.meta.service_details()),
        },
    )
    .await?;
    let document = match prepared {
        Some(bytes) => Some(
            p.vault
                .seal(
                    &FieldContext {
                        table: "sign_requests",
                        column: "document",
                        row: id.as_str(),
                    },
                    &bytes,
                )
                .await?,
        ),
        None => None,
    };
    let mut stored = details;
    if let Some(sent) = &req.hkid_hash {
        stored["hkid_check"] = serde_json::json!(kept_hkid_check(p, sent));
    }
    if kind == SignKind::Pdf {
        let lta = wants_lta(req.level.as_deref());
        stored["level"] = serde_json::json!(if lta { "B-LTA" } else { "B-LT" });
    }
    stored["reason"] = serde_json::json!(req.reason);
    stored["location"] = serde_json::json!(req.location);
    sqlx::query(
        "INSERT INTO sign_requests (id, client_id, approval_id, resident_id, kind, digest, details, document, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(&created.id)
    .bind(&resident)
    .bind(kind.as_str())
    .bind(digest.to_vec())
    .bind(stored.to_string())
    .bind(document)
    .bind(p.clock.now_ms())
    .bind(created.expires_at)
    .execute(p.db.writer())
    .await?;
    Ok(Started {
        request_id: id,
        qr: format!(
            "{}approve?id={}",
            iamsmart_proto::app::QR_SCHEME,
            created.id
        ),
        match_code: created.match_code,
        digest: hex::encode(digest),
        expires_at: created.expires_at,
        approval_id: created.id,
    })
}

/// What the app sends as `agreed` when it approves a signing request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSignature {
    /// DER ECDSA signature over the signed attributes, base64url.
    pub signature: String,
    /// The serial (hex) of the certificate the app signed with.
    pub certificate_serial: String,
    /// The signing time the app put in the attributes (CAdES; absent for PAdES), Unix s.
    #[serde(default)]
    pub signing_time: Option<u64>,
}

/// The signed attributes for a request: what the app signs and the platform rebuilds.
pub fn attributes(
    digest: &[u8; 32],
    cert_der: &[u8],
    signing_time: Option<u64>,
) -> Result<Vec<u8>> {
    Ok(cms::signed_attributes(&cms::SignedAttrsParams {
        content_digest: *digest,
        signer_cert_der: cert_der,
        signing_time,
    })?)
}

type OutcomeRow = (
    iamsmart_proto::ids::ApprovalId,
    String,
    Option<String>,
    Option<Vec<u8>>,
    String,
    Vec<u8>,
);
type RequestRow = (
    SignRequestId,
    iamsmart_proto::ids::ClientId,
    Option<String>,
    String,
    Vec<u8>,
    String,
    String,
);

async fn set_status(
    p: &Env,
    id: &SignRequestId,
    status: SignRequestStatus,
    reason: Option<&str>,
) -> Result<()> {
    let details: Option<String> = sqlx::query_scalar(
        "SELECT details FROM sign_requests WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some(details) = details else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE sign_requests SET status = $1, reason = $2, document = NULL, details = $3 WHERE id = $4 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(finished_details(&serde_json::from_str(&details)?))
    .bind(id)
    .execute(p.db.writer())
    .await?;
    Ok(())
}

/// A request's details once it is answered: the check of the signer's HKID is needed no
/// longer, so it goes (the rest is the resident's signing history).
fn finished_details(details: &serde_json::Value) -> String {
    let mut v = details.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("hkid_check");
        o.remove("hkid_hash");
    }
    v.to_string()
}

/// Called after every decision in the app: for a signing request, check the app's signature
/// and assemble, timestamp, record and keep the result for the service. Nothing for other
/// requests. A signature that cannot be used fails the request (the service is told why) and
/// is reported to the app.
pub async fn answered(
    p: &Signing,
    approval_id: &iamsmart_proto::ids::ApprovalId,
    request_id: Option<&str>,
) -> Result<()> {
    let row: Option<RequestRow> = sqlx::query_as(
        "SELECT id, client_id, resident_id, kind, digest, details, status FROM sign_requests WHERE approval_id = $1",
    )
    .bind(approval_id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some((id, client_id, _, kind, digest, details, status)) = row else {
        return Ok(());
    };
    let kind: SignKind = stored(&kind)?;
    if stored::<SignRequestStatus>(&status)? != SignRequestStatus::Pending {
        return Ok(());
    }
    let a = approvals::status(p, approval_id).await?;
    if a.status == iamsmart_proto::app::ApprovalStatus::Denied {
        return set_status(
            p,
            &id,
            SignRequestStatus::Denied,
            Some("the resident declined"),
        )
        .await;
    }
    let Some(d) = approvals::decision(p, approval_id).await? else {
        return Ok(());
    };
    let details: serde_json::Value = serde_json::from_str(&details)?;
    let digest = <[u8; 32]>::try_from(digest.as_slice())
        .map_err(|_| DomainError::Integrity("stored digest is not 32 bytes".into()))?;
    match assemble(p, &id, kind, &digest, &details, &d).await {
        Ok((serial, result)) => {
            record(
                p,
                &id,
                &client_id,
                &d.resident_id,
                &serial,
                &digest,
                kind,
                &details,
                &result,
                request_id,
            )
            .await
        }
        Err(e) => {
            let reason = match &e {
                DomainError::Refused { message, .. } => (*message).to_string(),
                DomainError::Invalid { message, .. } => message.clone(),
                _ => "the signature could not be completed".to_string(),
            };
            set_status(p, &id, SignRequestStatus::Failed, Some(&reason)).await?;
            Err(e)
        }
    }
}

async fn assemble(
    p: &Signing,
    id: &SignRequestId,
    kind: SignKind,
    digest: &[u8; 32],
    details: &serde_json::Value,
    d: &approvals::Decided,
) -> Result<(String, Vec<u8>)> {
    if details["face"].as_bool() == Some(true) && !d.face_verified {
        return Err(DomainError::Refused {
            code: "face-required",
            message: "this signature needs a fresh face match; nothing was signed",
        });
    }
    let hkid_check = match (
        details["hkid_check"].as_str(),
        details["hkid_hash"].as_str(),
    ) {
        (Some(kept), _) => Some(HkidCheck::Kept(kept)),
        // A request stored before the hash was kept keyed (pending for minutes at most).
        (None, Some(sent)) => Some(HkidCheck::Sent(sent)),
        (None, None) => None,
    };
    let (serial, cert) = check_signer(p, &d.resident_id, Some(&d.device_id), hkid_check).await?;
    let answer: AppSignature = serde_json::from_value(d.agreed.clone())
        .map_err(|_| invalid("agreed", "a signing approval carries the app's signature"))?;
    if answer.certificate_serial != serial {
        return Err(DomainError::Refused {
            code: "stale-certificate",
            message:
                "the app signed with a certificate that is not its current one; nothing was signed",
        });
    }
    let signing_time = match kind {
        SignKind::Hash => {
            let t = answer.signing_time.ok_or_else(|| {
                invalid("signing_time", "CAdES signatures carry the signing time")
            })?;
            let now = p.clock.now_ms() / 1000;
            if (t as i64 - now).abs() > SIGNING_TIME_SKEW_S {
                return Err(invalid("signing_time", "the phone's clock is wrong"));
            }
            Some(t)
        }
        SignKind::Pdf => None,
    };
    let signature = URL_SAFE_NO_PAD
        .decode(answer.signature.trim_end_matches('='))
        .map_err(|_| invalid("signature", "not base64url"))?;
    let attrs = attributes(digest, &cert, signing_time)?;
    let auth = ca::load(p).await?;
    let signed = cms::assemble(&attrs, &signature, &cert, &auth.chain()).map_err(|_| {
        DomainError::Refused {
            code: "bad-signature",
            message: "the app's signature does not verify with its certificate; nothing was signed",
        }
    })?;
    let value = cms::signature_value(&signed)?;
    let token = ca::stamp(p, pki::sha256(&value), None, true).await?;
    let stamped = cms::add_signature_timestamp(&signed, &token)?;
    let result = if kind == SignKind::Pdf {
        let lta = wants_lta(details["level"].as_str());
        super::pdf::finish(p, id.as_str(), &stamped, &cert, lta).await?
    } else {
        stamped
    };
    Ok((serial, result))
}

#[allow(clippy::too_many_arguments)]
async fn record(
    p: &Signing,
    id: &SignRequestId,
    client_id: &iamsmart_proto::ids::ClientId,
    resident_id: &str,
    serial: &str,
    digest: &[u8; 32],
    kind: SignKind,
    details: &serde_json::Value,
    result: &[u8],
    request_id: Option<&str>,
) -> Result<()> {
    let sealed = p
        .vault
        .seal(
            &FieldContext {
                table: "sign_requests",
                column: "result",
                row: id.as_str(),
            },
            result,
        )
        .await?;
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let r = sqlx::query(
        "UPDATE sign_requests SET status = 'signed', resident_id = $1, cert_serial = $2, result = $3, document = NULL, signed_at = $4, details = $5 WHERE id = $6 AND status = 'pending'",
    )
    .bind(resident_id)
    .bind(serial)
    .bind(sealed)
    .bind(now)
    .bind(finished_details(details))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(());
    }
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "signature.created",
            actor: &format!("resident:{resident_id}"),
            subject: &format!("client:{client_id}"),
            detail: serde_json::json!({
                "request": id, "format": kind,
                "document_sha256": hex::encode(digest), "certificate_serial": serial,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A request's outcome for the service that made it; a signature is given out once.
pub async fn outcome(p: &Signing, client: &Client, id: &SignRequestId) -> Result<Outcome> {
    let row: Option<OutcomeRow> = sqlx::query_as(
        "SELECT approval_id, status, reason, result, kind, digest FROM sign_requests WHERE id = $1 AND client_id = $2",
    )
    .bind(id)
    .bind(&client.id)
    .fetch_optional(p.db.reader())
    .await?;
    let (approval_id, status, mut reason, result, kind, digest) =
        row.ok_or(DomainError::NotFound)?;
    let mut status: SignRequestStatus = stored(&status)?;
    let kind: SignKind = stored(&kind)?;
    let out = |status: OutcomeStatus, reason: Option<String>| Outcome {
        request_id: id.clone(),
        status,
        reason,
        signature: None,
    };
    if status == SignRequestStatus::Pending {
        let a = approvals::status(p, &approval_id).await?;
        match a.status {
            iamsmart_proto::app::ApprovalStatus::Denied => {
                let why = "the resident declined";
                set_status(p, id, SignRequestStatus::Denied, Some(why)).await?;
                (status, reason) = (SignRequestStatus::Denied, Some(why.into()));
            }
            iamsmart_proto::app::ApprovalStatus::Expired
            | iamsmart_proto::app::ApprovalStatus::Cancelled => {
                let why = "the resident did not answer in time";
                set_status(p, id, SignRequestStatus::Expired, Some(why)).await?;
                (status, reason) = (SignRequestStatus::Expired, Some(why.into()));
            }
            iamsmart_proto::app::ApprovalStatus::Approved => {
                // The app's answer is being assembled (or failed): report what is stored.
                return Ok(out(OutcomeStatus::Pending, None));
            }
            iamsmart_proto::app::ApprovalStatus::Pending => {
                return Ok(out(OutcomeStatus::Pending, None))
            }
            iamsmart_proto::app::ApprovalStatus::Scanned => {
                return Ok(out(OutcomeStatus::Scanned, None))
            }
        }
    }
    if status != SignRequestStatus::Signed {
        return Ok(out(status.into(), reason));
    }
    let result = result.ok_or_else(|| DomainError::Integrity("signed without a result".into()))?;
    let bytes = p
        .vault
        .open_field(
            &FieldContext {
                table: "sign_requests",
                column: "result",
                row: id.as_str(),
            },
            &result,
        )
        .await?;
    let r = sqlx::query(
        "UPDATE sign_requests SET status = 'collected', result = NULL, collected_at = $1 WHERE id = $2 AND status = 'signed'",
    )
    .bind(p.clock.now_ms())
    .bind(id)
    .execute(p.db.writer())
    .await?;
    if r.rows_affected() == 0 {
        return Ok(out(OutcomeStatus::Collected, None));
    }
    let (cms_der, pdf) = if kind == SignKind::Pdf {
        let sig = super::pdf::last_cms(&bytes)?;
        (sig, Some(STANDARD.encode(&bytes)))
    } else {
        (bytes.to_vec(), None)
    };
    let digest = <[u8; 32]>::try_from(digest.as_slice())
        .map_err(|_| DomainError::Integrity("stored digest is not 32 bytes".into()))?;
    let v = cms::verify_detached(&cms_der, &digest)?;
    let timestamp = v
        .timestamp
        .as_ref()
        .map(|t| t.gen_time)
        .ok_or_else(|| DomainError::Integrity("signature without a timestamp".into()))?;
    Ok(Outcome {
        request_id: id.clone(),
        status: OutcomeStatus::Signed,
        reason: None,
        signature: Some(Signature {
            cms: STANDARD.encode(&cms_der),
            signature: STANDARD.encode(cms::signature_value(&cms_der)?),
            certificate: STANDARD.encode(&v.signer_cert_der),
            chain: v.chain.iter().map(|c| STANDARD.encode(c)).collect(),
            certificate_serial: ca::serial_hex(&pki::cert::parse(&v.signer_cert_der)?.serial),
            timestamp,
            pdf,
        }),
    })
}

/// The RFC 9396 type of a signature asked for in an authorization request.
pub const DETAIL_TYPE: &str = "iamsmart_signing";

fn detail_error(m: impl Into<String>) -> crate::oidc::OAuthError {
    crate::oidc::OAuthError::invalid_authorization_details(m)
}

/// Read an `iamsmart_signing` authorization detail (RFC 9396) as a signing request:
/// `{"type": "iamsmart_signing", "document": {"name": ...}, "digest": ..., "face": bool,
/// "hkid_hash": ...}`. Checked when the authorization request arrives, so that a bad one is
/// refused before the resident is asked anything.
pub fn from_detail(item: &serde_json::Value) -> Result<SignRequest, crate::oidc::OAuthError> {
    let mut v = item.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
        o.remove("locations");
        o.remove("actions");
    }
    let req: SignRequest =
        serde_json::from_value(v).map_err(|e| detail_error(format!("{DETAIL_TYPE}: {e}")))?;
    if req.login_hint.is_some() || req.pdf.is_some() || req.digest.is_none() {
        return Err(detail_error(format!(
            "{DETAIL_TYPE}: give the document and its digest (PDFs and login_hint go to POST /sign/v1/requests)"
        )));
    }
    check(&req).map_err(|e| match e {
        DomainError::Invalid { field, message } => {
            detail_error(format!("{DETAIL_TYPE}: {field}: {message}"))
        }
        other => crate::oidc::OAuthError::from(other),
    })?;
    Ok(req)
}

/// When an authorization with `iamsmart_signing` details completes, the signatures are asked of
/// the resident who signed in (pushed to the app, with a match code), and each detail is
/// enriched with its `signing_request_id`, `match_code` and `digest`: the service shows the code
/// and collects the signature at `GET /sign/v1/requests/{id}` (with the access token or a client
/// token). A resident who cannot sign (not iAM Smart+, no certificate, another HKID) ends the
/// authorization with `access_denied` and the reason.
pub async fn from_authorization(
    p: &Signing,
    client: &Client,
    resident_id: &str,
    details: &serde_json::Value,
) -> Result<serde_json::Value, crate::oidc::OAuthError> {
    let mut out = details.clone();
    let Some(items) = out.as_array_mut() else {
        return Ok(out);
    };
    for item in items.iter_mut() {
        if item["type"] != DETAIL_TYPE {
            continue;
        }
        let req = from_detail(item)?;
        let started = start(p, client, req, Some(resident_id.to_string()))
            .await
            .map_err(|e| match e {
                DomainError::Refused { message, .. } => {
                    crate::oidc::OAuthError::access_denied(message)
                }
                other => crate::oidc::OAuthError::from(other),
            })?;
        item["signing_request_id"] = started.request_id.as_str().into();
        item["match_code"] = started.match_code.into();
        item["digest"] = started.digest.into();
        item["expires_at"] = started.expires_at.into();
    }
    Ok(out)
}
