//! What a resident has signed: one row per signature, for the account pages. The documents
//! themselves are never kept; the document's SHA-256 is, so that the resident can match a file
//! they hold against what they signed.
use super::ca::UserCertStatus;
use crate::env::Env;
use crate::error::Result;
use serde::Serialize;

use super::requests::Document;

iamsmart_proto::text_enum! {
    /// A signing certificate's status now, as the resident's history shows it.
    pub enum CertStatusNow {
        /// Valid.
        Good = "good",
        /// Revoked since (a signature made before stays valid).
        Revoked = "revoked",
        /// Past its end (a signature made before stays valid).
        Expired = "expired",
    }
}

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
    /// A PDF (PAdES) or a hash (CMS over a digest).
    pub kind: super::requests::SignKind,
    /// SHA-256 of the document (PDF: of the signed byte range), hex.
    pub digest_hex: String,
    /// When it was signed (Unix ms).
    pub signed_at: i64,
    /// The signing certificate's serial (hex).
    pub cert_serial: String,
    /// The certificate's status now.
    pub cert_status: CertStatusNow,
    /// When the certificate was revoked, if it was (a signature made before stays valid).
    pub cert_revoked_at: Option<i64>,
}

type Row = (
    String,
    String,
    String,
    Vec<u8>,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// The resident's signatures, newest first.
pub async fn for_resident(p: &Env, resident_id: &str) -> Result<Vec<SignedDocument>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.id, r.client_id, r.kind, r.digest, r.details, r.signed_at, r.cert_serial, u.status, u.revoked_at, u.not_after
         FROM sign_requests r
         LEFT JOIN user_certs u ON u.serial = r.cert_serial
         WHERE r.resident_id = $1 AND r.status IN ('signed', 'collected') AND r.signed_at IS NOT NULL
         ORDER BY r.signed_at DESC, r.id LIMIT $2",
    )
    .bind(resident_id)
    .bind(MAX_LISTED)
    .fetch_all(p.db.reader())
    .await?;
    let now = p.clock.now_ms();
    let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let services = crate::oidc::clients::names_of(p, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let details: serde_json::Value = serde_json::from_str(&r.4)?;
            let document: Document =
                serde_json::from_value(details["document"].clone()).unwrap_or(Document {
                    name: String::new(),
                    department: None,
                    service: None,
                });
            let stored_status: Option<UserCertStatus> =
                r.7.as_deref().map(crate::error::stored).transpose()?;
            let cert_status = match (stored_status, r.9) {
                (Some(UserCertStatus::Revoked), _) => CertStatusNow::Revoked,
                (_, Some(not_after)) if not_after <= now => CertStatusNow::Expired,
                _ => CertStatusNow::Good,
            };
            let service = crate::oidc::clients::ServiceNames::of(&services, &r.1);
            Ok(SignedDocument {
                id: r.0,
                service_names: service.names,
                service: service.name,
                document,
                kind: crate::error::stored(&r.2)?,
                digest_hex: hex::encode(r.3),
                signed_at: r.5.unwrap_or_default(),
                cert_serial: r.6.unwrap_or_default(),
                cert_status,
                cert_revoked_at: r.8,
            })
        })
        .collect()
}
