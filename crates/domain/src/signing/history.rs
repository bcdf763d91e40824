//! What a resident has signed: one row per signature, for the account pages. The documents
//! themselves are never kept; the document's SHA-256 is, so that the resident can match a file
//! they hold against what they signed.
use crate::error::Result;
use crate::platform::Platform;
use serde::Serialize;

use super::requests::Document;

/// The most signatures listed.
pub const MAX_LISTED: i64 = 200;

/// One signature the resident made.
#[derive(Debug, Clone, Serialize)]
pub struct SignedDocument {
    /// The request's id.
    pub id: String,
    /// The service that asked (English).
    pub service: String,
    /// Its name in every language registered.
    pub service_names: iamsmart_proto::i18n::Localized,
    /// The document as the service named it.
    pub document: Document,
    /// `pdf` (PAdES) or `hash` (CMS over a digest).
    pub kind: String,
    /// SHA-256 of the document (PDF: of the signed byte range), hex.
    pub digest_hex: String,
    /// When it was signed (Unix ms).
    pub signed_at: i64,
    /// The signing certificate's serial (hex).
    pub cert_serial: String,
    /// The certificate's status now: `good`, `revoked` or `expired`.
    pub cert_status: String,
    /// When the certificate was revoked, if it was (a signature made before stays valid).
    pub cert_revoked_at: Option<i64>,
}

type Row = (
    String,
    Option<String>,
    String,
    Vec<u8>,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The resident's signatures, newest first.
pub async fn for_resident(p: &Platform, resident_id: &str) -> Result<Vec<SignedDocument>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, c.name, r.kind, r.digest, r.details, r.signed_at, r.cert_serial, u.status, u.revoked_at, u.not_after, c.metadata
         FROM sign_requests r
         LEFT JOIN clients c ON c.id = r.client_id
         LEFT JOIN user_certs u ON u.serial = r.cert_serial
         WHERE r.resident_id = $1 AND r.status IN ('signed', 'collected') AND r.signed_at IS NOT NULL
         ORDER BY r.signed_at DESC, r.id LIMIT $2",
    )
    .bind(resident_id)
    .bind(MAX_LISTED)
    .fetch_all(p.db.reader())
    .await?;
    let now = p.clock.now_ms();
    rows.into_iter()
        .map(|r| {
            let details: serde_json::Value = serde_json::from_str(&r.4)?;
            let document: Document =
                serde_json::from_value(details["document"].clone()).unwrap_or(Document {
                    name: String::new(),
                    department: None,
                    service: None,
                });
            let cert_status = match (r.7.as_deref(), r.9) {
                (Some("revoked"), _) => "revoked",
                (_, Some(not_after)) if not_after <= now => "expired",
                _ => "good",
            };
            Ok(SignedDocument {
                id: r.0,
                service_names: crate::oidc::clients::names_from_stored(
                    r.10.as_deref(),
                    r.1.as_deref().unwrap_or_default(),
                ),
                service: r.1.unwrap_or_default(),
                document,
                kind: r.2,
                digest_hex: hex::encode(r.3),
                signed_at: r.5.unwrap_or_default(),
                cert_serial: r.6.unwrap_or_default(),
                cert_status: cert_status.to_string(),
                cert_revoked_at: r.8,
            })
        })
        .collect()
}
