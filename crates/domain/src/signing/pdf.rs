//! PDF requests (PAdES): the platform prepares the PDF (an incremental update with an empty
//! signature field), the resident signs the byte range's digest like any hash, and the platform
//! embeds the CAdES signature (B-T), then adds the validation data (B-LT: certificates, an OCSP
//! answer and the CRL in the document security store), and where asked a document timestamp
//! over all of it (B-LTA). The prepared PDF is kept sealed only until the request ends.
use super::ca;
use super::requests::{SignRequest, MAX_PDF_BYTES};
use super::Signing;
use crate::env::Env;
use crate::error::{DomainError, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_pades as pades;

/// Room for the CMS inside the PDF (certificate chain, timestamp with its certificates).
const CONTENTS_CAPACITY: usize = 24 * 1024;
/// Room for a document timestamp's token (with the TSA's certificate and the issuing CA).
const TIMESTAMP_CAPACITY: usize = 8 * 1024;
/// The /SubFilter of a document timestamp.
pub(crate) const DOC_TIMESTAMP: &str = "ETSI.RFC3161";

fn invalid(m: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field: "pdf",
        message: m.into(),
    }
}

fn pdf_error(e: pades::PdfError) -> DomainError {
    invalid(format!("{e}; nothing was signed"))
}

/// Prepare a PDF from a request: the digest to sign and the stored form of the prepared PDF.
pub(crate) fn prepare(
    p: &Env,
    _id: &str,
    req: &SignRequest,
    pdf_b64: &str,
) -> Result<([u8; 32], Vec<u8>)> {
    if pdf_b64.len() > MAX_PDF_BYTES / 3 * 4 + 4 {
        return Err(invalid(format!(
            "the PDF is larger than {} MiB",
            MAX_PDF_BYTES / 1024 / 1024
        )));
    }
    let bytes = STANDARD
        .decode(pdf_b64.trim())
        .map_err(|_| invalid("pdf is not base64"))?;
    let prepared = pades::prepare(
        &bytes,
        &pades::SignOptions {
            field_name: None,
            signer_name: String::new(),
            reason: req.reason.clone(),
            location: req.location.clone(),
            contact_info: None,
            signing_time: (p.clock.now_ms() / 1000) as u64,
            contents_capacity: CONTENTS_CAPACITY,
            sub_filter: pades::SubFilter::EtsiCadesDetached,
        },
    )
    .map_err(pdf_error)?;
    let digest = prepared.digest();
    Ok((digest, prepared.to_stored()))
}

/// Embed the signature into the prepared PDF of request `id` and add the validation data; with
/// `lta`, seal it all under a document timestamp.
pub(crate) async fn finish(
    p: &Signing,
    id: &str,
    cms_der: &[u8],
    cert: &[u8],
    lta: bool,
) -> Result<Vec<u8>> {
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT document FROM sign_requests WHERE id = $1")
            .bind(id)
            .fetch_one(p.db.reader())
            .await?;
    let sealed = sealed.ok_or_else(|| DomainError::Integrity("the prepared PDF is gone".into()))?;
    let stored = p
        .vault
        .open_field(
            &FieldContext {
                table: "sign_requests",
                column: "document",
                row: id,
            },
            &sealed,
        )
        .await?;
    let prepared = pades::Prepared::from_stored(&stored).map_err(pdf_error)?;
    let signed = prepared.finish(cms_der).map_err(pdf_error)?;
    let auth = ca::load(p).await?;
    let dss = pades::DssData {
        certs: vec![
            cert.to_vec(),
            auth.issuing.clone(),
            auth.root.clone(),
            auth.tsa.clone(),
        ],
        ocsps: vec![ca::ocsp_for(p, cert).await?],
        // The issuing CA's CRL (the resident's, the TSA's and the OCSP responder's status) and
        // the root's (the issuing CA's status): a validator needs both, offline.
        crls: vec![ca::crl(p).await?, ca::root_crl(p).await?],
    };
    let long_term = pades::add_dss(&signed, &dss).map_err(pdf_error)?;
    if !lta {
        return Ok(long_term);
    }
    // B-LTA: the timestamp authority's certificate and its status (the issuing CA's CRL) are in
    // the store already, so the document timestamp needs no validation data of its own.
    let prepared = pades::prepare(
        &long_term,
        &pades::SignOptions {
            sub_filter: pades::SubFilter::EtsiRfc3161,
            contents_capacity: TIMESTAMP_CAPACITY,
            ..pades::SignOptions::default()
        },
    )
    .map_err(pdf_error)?;
    let token = ca::stamp(p, prepared.digest(), None, true).await?;
    prepared.finish(&token).map_err(pdf_error)
}

/// Every signature of a PDF (for the verifier).
pub(crate) fn signatures(pdf: &[u8]) -> Result<Vec<pades::PdfSignature>> {
    pades::signatures(pdf).map_err(|e| match e {
        pades::PdfError::LimitExceeded(_) | pades::PdfError::TooLarge => DomainError::Invalid {
            field: super::verify::PDF_LIMITS,
            message: e.to_string(),
        },
        e => invalid(e.to_string()),
    })
}

/// The CMS of the last signature in a signed PDF (document timestamps left out).
pub(crate) fn last_cms(pdf: &[u8]) -> Result<Vec<u8>> {
    pades::signatures(pdf)
        .map_err(pdf_error)?
        .into_iter()
        .rfind(|s| s.sub_filter != DOC_TIMESTAMP)
        .map(|s| s.cms_der)
        .ok_or_else(|| DomainError::Integrity("the signed PDF has no signature".into()))
}
