//! Verification of signatures the platform made: integrity, signer, time, and the
//! certificate's status at the time of signing (the timestamp's time when there is one). The
//! same checks back `POST /sign/v1/verify` and `iamsmart verify FILE`.
use super::ca::{self, Authority};
use super::Signing;
use crate::env::Env;
use crate::error::{DomainError, Result};
use iamsmart_crypto::pki::{cert, cms, ocsp, tsp};
use serde::Serialize;

/// What a verifier reports about one signature.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignatureReport {
    /// `signature`, or `document_timestamp` (PAdES B-LTA: the timestamp authority vouches for
    /// the whole revision, validation data included, at `timestamp`).
    pub kind: String,
    /// The signer's name (certificate common name).
    pub signer: String,
    /// The signer's semantics identifier (`PNOHK-...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantics_id: Option<String>,
    /// The certificate's serial (hex).
    pub certificate_serial: String,
    /// The signing time the signer claimed (CAdES), Unix s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_time: Option<u64>,
    /// The timestamp authority's time, Unix s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// The signature and the signed data match (the document is unchanged).
    pub integrity: bool,
    /// The certificate chains to the platform's root.
    pub chain_trusted: bool,
    /// The certificate's status when it signed.
    pub status_at_signing: StatusAtSigning,
    /// When the certificate was revoked, if it was (Unix s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// PDF: whether the signature covers the whole file (later changes are only incremental
    /// updates when it does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covers_whole_document: Option<bool>,
    /// PDF: what a later revision changed that a signature does not allow (anything but
    /// validation data, document timestamps and further signatures); the signature is then not
    /// valid, whatever its cryptography says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_after_signing: Option<String>,
    /// Everything checks out.
    pub valid: bool,
    /// What is wrong, in words.
    pub problems: Vec<String>,
}

iamsmart_proto::text_enum! {
    /// A signer's certificate status at the time of signing, as the report gives it.
    #[derive(Default)]
    pub enum StatusAtSigning {
        /// Not revoked when it signed (it may have been revoked since: `revoked_at`).
        Good = "good",
        /// Revoked before it signed.
        Revoked = "revoked",
        /// Not known (not issued by this platform's CA, or not checked).
        #[default]
        Unknown = "unknown",
    }
}

/// A verification report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `cms` or `pdf`.
    pub kind: String,
    /// Every signature and document timestamp is valid, and at least one is a resident's
    /// signature (a timestamp alone says when a document existed, not that anyone signed it).
    pub valid: bool,
    /// There are document timestamps but no signature.
    pub timestamped_only: bool,
    /// One entry per signature.
    pub signatures: Vec<SignatureReport>,
}

async fn check_one(
    p: &Env,
    auth: &Authority,
    cms_der: &[u8],
    digest: &[u8; 32],
) -> Result<SignatureReport> {
    let mut r = SignatureReport {
        kind: "signature".into(),
        status_at_signing: StatusAtSigning::Unknown,
        ..Default::default()
    };
    let signer_cert = match cms::verify_detached(cms_der, digest) {
        Ok(v) => {
            r.integrity = true;
            r.signing_time = v.signing_time;
            if let Some(ts) = &v.timestamp {
                r.timestamp = Some(ts.gen_time);
                let ours = ts.tsa_cert_der.as_deref().is_some_and(|c| {
                    c == auth.tsa.as_slice() || cert::verify_issued_by(c, &auth.issuing).is_ok()
                });
                if !ours {
                    r.problems.push(
                        "the timestamp is not from the platform's timestamp authority".into(),
                    );
                    r.timestamp = None;
                } else if let Some(why) =
                    tsa_problem(p, ts.tsa_cert_der.as_deref(), ts.gen_time).await?
                {
                    r.problems.push(why.into());
                    r.timestamp = None;
                }
            }
            Some(v.signer_cert_der)
        }
        Err(e) => {
            r.problems
                .push(format!("the document or the signature was changed: {e}"));
            cms::parse_signed_data(cms_der).ok().map(|(c, _)| c)
        }
    };
    let Some(signer_cert) = signer_cert else {
        r.problems.push("no signer certificate".into());
        return Ok(r);
    };
    let info = cert::parse(&signer_cert)?;
    r.signer = info.subject_cn.clone();
    r.semantics_id = info.serial_number_attr.clone();
    r.certificate_serial = ca::serial_hex(&info.serial);
    r.chain_trusted = cert::verify_issued_by(&signer_cert, &auth.issuing).is_ok()
        && cert::verify_issued_by(&auth.issuing, &auth.root).is_ok();
    if !r.chain_trusted {
        r.problems
            .push("the certificate was not issued by the platform's CA".into());
    }
    if r.timestamp.is_none() {
        r.problems.push(
            "no trusted timestamp: the time of signing cannot be proved (status checked now)"
                .into(),
        );
    }
    let at = r
        .timestamp
        .unwrap_or_else(|| (p.clock.now_ms() / 1000) as u64);
    if at < info.not_before || at > info.not_after {
        r.problems
            .push("the certificate was not valid at the time of signing".into());
    }
    if r.chain_trusted {
        match ca::status_of(p, &r.certificate_serial).await? {
            Some(ocsp::CertStatus::Good) => r.status_at_signing = StatusAtSigning::Good,
            Some(ocsp::CertStatus::Revoked { at: rev, .. }) => {
                r.revoked_at = Some(rev);
                if rev <= at {
                    r.status_at_signing = StatusAtSigning::Revoked;
                    r.problems
                        .push("the certificate was revoked before the signature was made".into());
                } else {
                    r.status_at_signing = StatusAtSigning::Good;
                }
            }
            _ => r
                .problems
                .push("the platform has no record of this certificate".into()),
        }
    }
    r.valid = r.problems.is_empty() && r.integrity && r.status_at_signing == StatusAtSigning::Good;
    Ok(r)
}

fn report(kind: &str, signatures: Vec<SignatureReport>) -> Report {
    let signed = signatures.iter().any(|s| s.kind == "signature");
    Report {
        kind: kind.into(),
        valid: signed && signatures.iter().all(|s| s.valid),
        timestamped_only: !signed && !signatures.is_empty(),
        signatures,
    }
}

/// Verify a detached CMS signature over a document whose SHA-256 is `digest`.
pub async fn verify_cms(p: &Signing, cms_der: &[u8], digest: &[u8; 32]) -> Result<Report> {
    let auth = ca::load(p).await?;
    let one = check_one(p, &auth, cms_der, digest).await?;
    Ok(report("cms", vec![one]))
}

/// A document timestamp: a token from the platform's timestamp authority whose imprint is the
/// digest of its byte range, made while the authority's certificate was valid.
/// What the authority's certificate status says about a timestamp it made at `gen_time`.
async fn tsa_problem(p: &Env, tsa: Option<&[u8]>, gen_time: u64) -> Result<Option<&'static str>> {
    let Some(info) = tsa.and_then(|c| cert::parse(c).ok()) else {
        return Ok(None);
    };
    ca::timestamp_authority_problem(p, &ca::serial_hex(&info.serial), gen_time).await
}

async fn check_doc_timestamp(
    p: &Env,
    auth: &Authority,
    token: &[u8],
    digest: &[u8; 32],
) -> Result<SignatureReport> {
    let mut r = SignatureReport {
        kind: "document_timestamp".into(),
        status_at_signing: StatusAtSigning::Unknown,
        ..Default::default()
    };
    match tsp::verify_token(token, None) {
        Ok(t) if &t.imprint_sha256 == digest => {
            r.integrity = true;
            r.timestamp = Some(t.gen_time);
            let tsa = t.tsa_cert_der.unwrap_or_default();
            r.chain_trusted = (tsa == auth.tsa
                || cert::verify_issued_by(&tsa, &auth.issuing).is_ok())
                && cert::verify_issued_by(&auth.issuing, &auth.root).is_ok();
            if !r.chain_trusted {
                r.problems.push(
                    "the document timestamp is not from the platform's timestamp authority".into(),
                );
            }
            match cert::parse(&tsa) {
                Ok(info) => {
                    r.signer = info.subject_cn;
                    r.certificate_serial = ca::serial_hex(&info.serial);
                    if t.gen_time < info.not_before || t.gen_time > info.not_after {
                        r.problems.push(
                            "the timestamp authority's certificate was not valid at that time"
                                .into(),
                        );
                    } else if let Some(why) =
                        ca::timestamp_authority_problem(p, &r.certificate_serial, t.gen_time)
                            .await?
                    {
                        r.status_at_signing = StatusAtSigning::Revoked;
                        r.problems.push(why.into());
                    } else {
                        r.status_at_signing = StatusAtSigning::Good;
                    }
                }
                Err(e) => r
                    .problems
                    .push(format!("the timestamp authority's certificate: {e}")),
            }
        }
        Ok(_) => r.problems.push(
            "the document was changed after its document timestamp (the imprint differs)".into(),
        ),
        Err(e) => r
            .problems
            .push(format!("the document timestamp does not verify: {e}")),
    }
    r.valid = r.problems.is_empty() && r.integrity && r.chain_trusted;
    Ok(r)
}

/// The field of the error when a PDF is beyond the reader's limits (too many signatures,
/// revisions or bytes to check, or too long to read), apart from one that cannot be read.
pub const PDF_LIMITS: &str = "pdf_limits";

/// PDFs read at once (anyone may send one, without an account): the rest wait their turn.
static PDF_READERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// The longest a PDF's reading may take (its work is bounded by `pades`' limits; this is the
/// backstop), and the longest a request waits for its turn.
const PDF_READ_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// `pades::signatures` on the blocking pool, two at a time, within [`PDF_READ_BUDGET`]: a
/// hostile PDF costs one blocking thread for a while, never the async workers that answer
/// everyone else.
async fn read_signatures(pdf: &[u8]) -> Result<Vec<iamsmart_pades::PdfSignature>> {
    let busy = || DomainError::Unavailable("every PDF reader is busy".into());
    let permit = tokio::time::timeout(PDF_READ_BUDGET, PDF_READERS.acquire())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let pdf = pdf.to_vec();
    let job = tokio::task::spawn_blocking(move || {
        // The permit is released when the reading ends, even after the caller gave up.
        let _permit = permit;
        super::pdf::signatures(&pdf)
    });
    match tokio::time::timeout(PDF_READ_BUDGET, job).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => Err(DomainError::Store(format!("the PDF reader failed: {e}"))),
        Err(_) => Err(DomainError::Invalid {
            field: PDF_LIMITS,
            message: "the document takes too long to check".into(),
        }),
    }
}

/// Verify every signature and document timestamp of a PDF.
pub async fn verify_pdf(p: &Signing, pdf: &[u8]) -> Result<Report> {
    let auth = ca::load(p).await?;
    let sigs = read_signatures(pdf).await?;
    let mut out = Vec::with_capacity(sigs.len());
    for s in sigs {
        let mut r = if s.sub_filter == super::pdf::DOC_TIMESTAMP {
            check_doc_timestamp(p, &auth, &s.cms_der, &s.digest).await?
        } else {
            check_one(p, &auth, &s.cms_der, &s.digest).await?
        };
        r.covers_whole_document = Some(s.covers_whole_file);
        if let Some(why) = s.modified_after {
            r.problems.push(format!(
                "the document was modified after this signature: {why}"
            ));
            r.modified_after_signing = Some(why);
            r.valid = false;
        }
        if !s.covers_revision {
            r.problems
                .push("the signature's byte range does not cover its revision".into());
            r.valid = false;
        }
        out.push(r);
    }
    Ok(report("pdf", out))
}
