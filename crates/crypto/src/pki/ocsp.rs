//! OCSP (RFC 6960): reading requests, building basic responses (responderID byKey, the
//! responder's certificate included, nonce echoed per RFC 8954), and checking responses.
use super::asn1::{self, bad, der_err, enc};
use super::{cert, check_signer, CaSigner};
use crate::hash::ct_eq;
use crate::CryptoError;
use der::asn1::{BitString, Null, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, OcspRequest, OcspResponse, OcspResponseStatus, Request, ResponderId,
    ResponseBytes, ResponseData, RevokedInfo, SingleResponse, TbsRequest, Version,
};

/// Largest OCSP request accepted.
const MAX_REQUEST: usize = 16 * 1024;
/// Largest OCSP response accepted.
const MAX_RESPONSE: usize = 64 * 1024;
/// Most certificates one request may ask about.
const MAX_IDS: usize = 10;
/// Longest nonce accepted (RFC 8954).
const MAX_NONCE: usize = 32;

/// An OCSP CertID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// SHA-1 (true) or SHA-256 (false) hashes.
    pub hash_alg_sha1: bool,
    /// Hash of the issuer's subject name DER.
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's public key bits.
    pub issuer_key_hash: Vec<u8>,
    /// The certificate's serial (minimal big-endian).
    pub serial: Vec<u8>,
}

fn hash(sha1: bool, b: &[u8]) -> Vec<u8> {
    if sha1 {
        asn1::sha1(b)
    } else {
        super::sha256(b).to_vec()
    }
}

impl CertId {
    /// The SHA-1 CertID of `cert_der` (what OpenSSL and most clients send). The certificate's
    /// issuer name must be `issuer_der`'s subject.
    pub fn for_cert(cert_der: &[u8], issuer_der: &[u8]) -> Result<Self, CryptoError> {
        let c = asn1::raw_cert(cert_der)?;
        let i = asn1::raw_cert(issuer_der)?;
        if c.issuer != i.subject {
            return Err(bad(
                "OCSP CertID",
                "the certificate was not issued under this issuer's name",
            ));
        }
        let serial = cert::decode(cert_der)?.tbs_certificate.serial_number;
        Ok(Self {
            hash_alg_sha1: true,
            issuer_name_hash: hash(true, i.subject),
            issuer_key_hash: hash(true, &asn1::spki_key_bits(i.spki)?),
            serial: asn1::minimal(serial.as_bytes()),
        })
    }

    /// Whether the CertID's hashes are those of `issuer_der` (recomputed with its algorithm).
    pub fn matches_issuer(&self, issuer_der: &[u8]) -> bool {
        let Ok(i) = asn1::raw_cert(issuer_der) else {
            return false;
        };
        let Ok(bits) = asn1::spki_key_bits(i.spki) else {
            return false;
        };
        ct_eq(&self.issuer_name_hash, &hash(self.hash_alg_sha1, i.subject))
            && ct_eq(&self.issuer_key_hash, &hash(self.hash_alg_sha1, &bits))
    }

    fn to_asn1(&self) -> Result<x509_ocsp::CertId, CryptoError> {
        let e = |e: der::Error| bad("OCSP CertID", e.to_string());
        Ok(x509_ocsp::CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: if self.hash_alg_sha1 {
                    asn1::SHA1
                } else {
                    asn1::SHA256
                },
                parameters: Some(Null.into()),
            },
            issuer_name_hash: OctetString::new(self.issuer_name_hash.clone()).map_err(e)?,
            issuer_key_hash: OctetString::new(self.issuer_key_hash.clone()).map_err(e)?,
            serial_number: SerialNumber::new(&self.serial).map_err(e)?,
        })
    }

    fn from_asn1(what: &'static str, id: &x509_ocsp::CertId) -> Result<Self, CryptoError> {
        let a = &id.hash_algorithm;
        let null_or_absent = a
            .parameters
            .as_ref()
            .is_none_or(|p| p.tag() == der::Tag::Null);
        let (sha1, len) = match a.oid {
            o if o == asn1::SHA1 && null_or_absent => (true, 20),
            o if o == asn1::SHA256 && null_or_absent => (false, 32),
            o => {
                return Err(bad(
                    what,
                    format!(
                        "CertID hash algorithm {} is not accepted (SHA-1 or SHA-256)",
                        asn1::name_of(&o)
                    ),
                ))
            }
        };
        if id.issuer_name_hash.as_bytes().len() != len || id.issuer_key_hash.as_bytes().len() != len
        {
            return Err(bad(what, "CertID hashes have the wrong length"));
        }
        let serial = id.serial_number.as_bytes();
        if serial.first().is_none_or(|b| b & 0x80 != 0) || serial.len() > 20 {
            return Err(bad(
                what,
                "the serial must be positive and at most 20 octets",
            ));
        }
        Ok(Self {
            hash_alg_sha1: sha1,
            issuer_name_hash: id.issuer_name_hash.as_bytes().to_vec(),
            issuer_key_hash: id.issuer_key_hash.as_bytes().to_vec(),
            serial: asn1::minimal(id.serial_number.as_bytes()),
        })
    }
}

use der::Tagged;

/// What an OCSP request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequestInfo {
    /// The certificates asked about (1 to 10).
    pub ids: Vec<CertId>,
    /// The nonce (the octets inside the extension's OCTET STRING).
    pub nonce: Option<Vec<u8>>,
}

fn nonce_ext(nonce: &[u8]) -> Result<Extension, CryptoError> {
    let e = |e: der::Error| bad("OCSP nonce", e.to_string());
    let inner = OctetString::new(nonce).map_err(e)?.to_der().map_err(e)?;
    Ok(Extension {
        extn_id: asn1::OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(inner).map_err(e)?,
    })
}

fn read_nonce(
    what: &'static str,
    exts: Option<&Vec<Extension>>,
) -> Result<Option<Vec<u8>>, CryptoError> {
    let mut nonce = None;
    for e in exts.into_iter().flatten() {
        if e.extn_id == asn1::OCSP_NONCE {
            // RFC 8954: an OCTET STRING inside extnValue; some old clients put the bytes bare.
            let v = e.extn_value.as_bytes();
            let n = match OctetString::from_der(v) {
                Ok(o) => o.as_bytes().to_vec(),
                Err(_) => v.to_vec(),
            };
            if n.is_empty() || n.len() > MAX_NONCE {
                return Err(bad(
                    what,
                    format!("the nonce must be 1 to {MAX_NONCE} bytes (RFC 8954)"),
                ));
            }
            nonce = Some(n);
        } else if e.critical {
            return Err(bad(
                what,
                format!("unknown critical extension {}", asn1::name_of(&e.extn_id)),
            ));
        }
    }
    Ok(nonce)
}

/// Read an OCSP request (1 to 10 CertIDs, SHA-1 or SHA-256, an optional nonce). A request
/// signature, if any, is ignored: the responder answers anyone.
pub fn parse_request(der: &[u8]) -> Result<OcspRequestInfo, CryptoError> {
    const W: &str = "OCSP request";
    asn1::limit(W, der, MAX_REQUEST)?;
    let req = OcspRequest::from_der(der).map_err(der_err(W))?;
    let list = &req.tbs_request.request_list;
    if list.is_empty() || list.len() > MAX_IDS {
        return Err(bad(
            W,
            format!(
                "{} certificates asked about; 1 to {MAX_IDS} are accepted",
                list.len()
            ),
        ));
    }
    let mut ids = Vec::new();
    for r in list {
        if r.single_request_extensions
            .iter()
            .flatten()
            .any(|e| e.critical)
        {
            return Err(bad(W, "unknown critical single-request extension"));
        }
        ids.push(CertId::from_asn1(W, &r.req_cert)?);
    }
    Ok(OcspRequestInfo {
        ids,
        nonce: read_nonce(W, req.tbs_request.request_extensions.as_ref())?,
    })
}

/// An unsigned OCSP request (for our own checks and tests).
pub fn build_request(ids: &[CertId], nonce: Option<&[u8]>) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "OCSP request";
    if ids.is_empty() {
        return Err(bad(W, "no CertID"));
    }
    let request_list = ids
        .iter()
        .map(|id| {
            Ok(Request {
                req_cert: id.to_asn1()?,
                single_request_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, CryptoError>>()?;
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list,
            request_extensions: nonce.map(nonce_ext).transpose()?.map(|e| vec![e]),
        },
        optional_signature: None,
    };
    enc(W, &req)
}

/// A certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked.
    Good,
    /// Revoked at `at` (unix seconds), with a CRLReason code.
    Revoked {
        /// Revocation time.
        at: u64,
        /// CRLReason code.
        reason: Option<u8>,
    },
    /// Not known to this responder.
    Unknown,
}

/// One answer of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleStatus {
    /// The certificate (as the request named it).
    pub id: CertId,
    /// Its status.
    pub status: CertStatus,
    /// thisUpdate (unix seconds).
    pub this_update: u64,
    /// nextUpdate (unix seconds).
    pub next_update: Option<u64>,
}

/// A successful response with a BasicOCSPResponse signed by `signer` (the key of
/// `responder_cert_der`: a delegated responder's, or the CA's own), responderID byKey, the
/// responder's certificate included, and the nonce echoed when given.
pub fn build_response(
    responder_cert_der: &[u8],
    signer: &dyn CaSigner,
    produced_at: u64,
    statuses: &[SingleStatus],
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "OCSP response";
    check_signer(W, responder_cert_der, signer)?;
    let raw = asn1::raw_cert(responder_cert_der)?;
    let key_hash = asn1::sha1(&asn1::spki_key_bits(raw.spki)?);
    let mut responses = Vec::new();
    for s in statuses {
        let cert_status = match s.status {
            CertStatus::Good => x509_ocsp::CertStatus::good(),
            CertStatus::Unknown => x509_ocsp::CertStatus::unknown(),
            CertStatus::Revoked { at, reason } => x509_ocsp::CertStatus::revoked(RevokedInfo {
                revocation_time: asn1::gen_time(at)?.into(),
                revocation_reason: reason.map(super::crl::reason).transpose()?,
            }),
        };
        responses.push(SingleResponse {
            cert_id: s.id.to_asn1()?,
            cert_status,
            this_update: asn1::gen_time(s.this_update)?.into(),
            next_update: s
                .next_update
                .map(asn1::gen_time)
                .transpose()?
                .map(Into::into),
            single_extensions: None,
        });
    }
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(
            OctetString::new(key_hash).map_err(|e| bad(W, e.to_string()))?,
        ),
        produced_at: asn1::gen_time(produced_at)?.into(),
        responses,
        response_extensions: nonce.map(nonce_ext).transpose()?.map(|e| vec![e]),
    };
    let sig = signer.sign_der(&enc(W, &data)?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: asn1::ecdsa_sha256(),
        signature: BitString::from_bytes(&sig).map_err(|e| bad(W, e.to_string()))?,
        certs: Some(vec![cert::decode(responder_cert_der)?]),
    };
    let resp = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: asn1::OCSP_BASIC,
            response: OctetString::new(enc(W, &basic)?).map_err(|e| bad(W, e.to_string()))?,
        }),
    };
    enc(W, &resp)
}

/// An unsuccessful response: 1 malformedRequest, 2 internalError, 3 tryLater, 5 sigRequired,
/// 6 unauthorized (any other value gives internalError).
pub fn error_response(status: u8) -> Vec<u8> {
    let s = match status {
        1 | 2 | 3 | 5 | 6 => status,
        _ => 2,
    };
    vec![0x30, 0x03, 0x0a, 0x01, s]
}

/// What a verified response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResponseInfo {
    /// producedAt (unix seconds).
    pub produced_at: u64,
    /// The answers.
    pub statuses: Vec<SingleStatus>,
    /// The echoed nonce.
    pub nonce: Option<Vec<u8>>,
    /// The delegated responder's certificate that signed, if it was not the issuer itself.
    pub responder_cert_der: Option<Vec<u8>>,
}

fn responder_is(id: &ResponderId, cert_der: &[u8]) -> Result<bool, CryptoError> {
    let raw = asn1::raw_cert(cert_der)?;
    Ok(match id {
        ResponderId::ByKey(h) => h.as_bytes() == asn1::sha1(&asn1::spki_key_bits(raw.spki)?),
        ResponderId::ByName(n) => cert::decode(cert_der)?.tbs_certificate.subject == *n,
    })
}

/// Check a response about certificates of `issuer_der`: successful status, basic response
/// signed with ecdsa-with-SHA256 either by the issuer itself or by an included responder
/// certificate issued by it with the id-kp-OCSPSigning EKU and valid at producedAt; every
/// answer must name a certificate of this issuer. Freshness (thisUpdate, nextUpdate) and the
/// nonce are the caller's to compare.
pub fn parse_response(der: &[u8], issuer_der: &[u8]) -> Result<OcspResponseInfo, CryptoError> {
    const W: &str = "OCSP response";
    asn1::limit(W, der, MAX_RESPONSE)?;
    let resp = OcspResponse::from_der(der).map_err(der_err(W))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(bad(
            W,
            format!("the responder answered {:?}", resp.response_status),
        ));
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| bad(W, "successful but no response bytes"))?;
    if bytes.response_type != asn1::OCSP_BASIC {
        return Err(bad(W, "not a basic OCSP response"));
    }
    let basic_der = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(basic_der).map_err(der_err(W))?;
    let s = asn1::signed(W, basic_der)?;
    asn1::require_ecdsa_sha256(W, &s.alg)?;
    let data = &basic.tbs_response_data;
    let produced_at = data.produced_at.0.to_unix_duration().as_secs();
    // The raw included certificates: [0] EXPLICIT SEQUENCE OF Certificate, after the signature.
    let parts = asn1::seq(W, basic_der)?;
    let included: Vec<&[u8]> = match parts.get(3) {
        Some(t) if t.tag == 0xa0 => match asn1::tlv(t.content) {
            Some((list, _)) => asn1::children(W, list.content)?
                .into_iter()
                .map(|c| c.raw)
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    let (signer_der, delegated) = if responder_is(&data.responder_id, issuer_der)? {
        (issuer_der, None)
    } else {
        let mut found = None;
        for c in &included {
            if responder_is(&data.responder_id, c)? {
                found = Some(*c);
                break;
            }
        }
        let c = found.ok_or_else(|| bad(W, "the responder's certificate is not included"))?;
        cert::verify_issued_by(c, issuer_der).map_err(|_| {
            CryptoError::Verify("the responder's certificate was not issued by the CA in question")
        })?;
        let rc = cert::decode(c)?;
        if !cert::has_eku(&rc, asn1::KP_OCSP_SIGNING) {
            return Err(bad(
                W,
                "the responder's certificate lacks the id-kp-OCSPSigning EKU",
            ));
        }
        let v = &rc.tbs_certificate.validity;
        if produced_at < asn1::unix(&v.not_before) || produced_at > asn1::unix(&v.not_after) {
            return Err(CryptoError::Verify(
                "the responder's certificate was not valid when the response was produced",
            ));
        }
        (c, Some(c.to_vec()))
    };
    let raw = asn1::raw_cert(signer_der)?;
    super::verify_p256_der(raw.spki, s.tbs, &s.sig)
        .map_err(|_| CryptoError::Verify("the OCSP response's signature"))?;
    let mut statuses = Vec::new();
    for r in &data.responses {
        let id = CertId::from_asn1(W, &r.cert_id)?;
        if !id.matches_issuer(issuer_der) {
            return Err(bad(W, "an answer is about a certificate of another issuer"));
        }
        let status = match &r.cert_status {
            x509_ocsp::CertStatus::Good(_) => CertStatus::Good,
            x509_ocsp::CertStatus::Unknown(_) => CertStatus::Unknown,
            x509_ocsp::CertStatus::Revoked(info) => CertStatus::Revoked {
                at: info.revocation_time.0.to_unix_duration().as_secs(),
                reason: info.revocation_reason.map(|r| r as u8),
            },
        };
        statuses.push(SingleStatus {
            id,
            status,
            this_update: r.this_update.0.to_unix_duration().as_secs(),
            next_update: r.next_update.map(|t| t.0.to_unix_duration().as_secs()),
        });
    }
    Ok(OcspResponseInfo {
        produced_at,
        statuses,
        nonce: read_nonce(W, data.response_extensions.as_ref())?,
        responder_cert_der: delegated,
    })
}
