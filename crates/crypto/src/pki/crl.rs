//! X.509 v2 certificate revocation lists (RFC 5280 §5) with the authorityKeyIdentifier and
//! cRLNumber extensions, and reason codes on entries.
use super::asn1::{self, bad, der_err, enc};
use super::{cert, check_signer, CaSigner};
use crate::CryptoError;
use const_oid::AssociatedOid;
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason, SubjectKeyIdentifier};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Version;

const W: &str = "CRL";
/// Largest CRL accepted by [`parse_crl`].
const MAX: usize = 16 * 1024 * 1024;

/// A revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Its serial (positive big-endian; parsed back minimal).
    pub serial: Vec<u8>,
    /// When it was revoked (unix seconds).
    pub revoked_at: u64,
    /// CRLReason code (0-6, 8-10), if any.
    pub reason: Option<u8>,
}

/// What a verified CRL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlInfo {
    /// thisUpdate (unix seconds).
    pub this_update: u64,
    /// nextUpdate (unix seconds).
    pub next_update: u64,
    /// cRLNumber.
    pub number: u64,
    /// The entries.
    pub revoked: Vec<Revoked>,
}

pub(crate) fn reason(code: u8) -> Result<CrlReason, CryptoError> {
    Ok(match code {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        _ => {
            return Err(bad(
                "revocation reason",
                format!("{code} is not a CRLReason code"),
            ))
        }
    })
}

fn ext<T: Encode>(oid: der::asn1::ObjectIdentifier, v: &T) -> Result<Extension, CryptoError> {
    Ok(Extension {
        extn_id: oid,
        critical: false,
        extn_value: OctetString::new(enc(W, v)?).map_err(|e| bad(W, e.to_string()))?,
    })
}

/// A v2 CRL for the CA of `issuer_cert_der`, signed by `signer` (which must hold its key).
/// An empty `revoked` list leaves out revokedCertificates, as RFC 5280 requires.
pub fn build_crl(
    issuer_cert_der: &[u8],
    signer: &dyn CaSigner,
    this_update: u64,
    next_update: u64,
    crl_number: u64,
    revoked: &[Revoked],
) -> Result<Vec<u8>, CryptoError> {
    check_signer(W, issuer_cert_der, signer)?;
    if next_update <= this_update {
        return Err(bad(W, "nextUpdate must be after thisUpdate"));
    }
    let issuer = cert::decode(issuer_cert_der)?;
    if cert::key_usages(&issuer).is_some_and(|k| !k.crl_sign()) {
        return Err(bad(W, "the issuer certificate lacks the cRLSign key usage"));
    }
    let kid = match issuer.tbs_certificate.get::<SubjectKeyIdentifier>() {
        Ok(Some((_, ski))) => ski.0.as_bytes().to_vec(),
        _ => asn1::key_id(&signer.spki_der())?,
    };
    let mut entries = Vec::new();
    for r in revoked {
        if r.serial.iter().all(|&b| b == 0) {
            return Err(bad(W, "a revoked serial must be a positive number"));
        }
        let exts = match r.reason {
            Some(code) => Some(vec![ext(CrlReason::OID, &reason(code)?)?]),
            None => None,
        };
        entries.push(RevokedCert {
            serial_number: SerialNumber::new(&r.serial).map_err(|e| bad(W, e.to_string()))?,
            revocation_date: asn1::x509_time(r.revoked_at)?,
            crl_entry_extensions: exts,
        });
    }
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(kid).map_err(|e| bad(W, e.to_string()))?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let number = asn1::uint(W, &crl_number.to_be_bytes())?;
    let tbs = TbsCertList {
        version: Version::V2,
        signature: asn1::ecdsa_sha256(),
        issuer: issuer.tbs_certificate.subject.clone(),
        this_update: asn1::x509_time(this_update)?,
        next_update: Some(asn1::x509_time(next_update)?),
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(vec![
            ext(AuthorityKeyIdentifier::OID, &aki)?,
            ext(CrlNumber::OID, &CrlNumber(number))?,
        ]),
    };
    let sig = signer.sign_der(&enc(W, &tbs)?)?;
    enc(
        W,
        &CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: asn1::ecdsa_sha256(),
            signature: BitString::from_bytes(&sig).map_err(|e| bad(W, e.to_string()))?,
        },
    )
}

/// Verify a CRL's signature with the key of `issuer_cert_der` and its issuer name, and read it.
/// nextUpdate and cRLNumber are required; unknown critical extensions are refused.
pub fn parse_crl(der: &[u8], issuer_cert_der: &[u8]) -> Result<CrlInfo, CryptoError> {
    asn1::limit(W, der, MAX)?;
    let crl = CertificateList::from_der(der).map_err(der_err(W))?;
    let s = asn1::signed(W, der)?;
    asn1::require_ecdsa_sha256(W, &s.alg)?;
    let issuer = cert::decode(issuer_cert_der)?;
    let tbs = &crl.tbs_cert_list;
    if tbs.issuer != issuer.tbs_certificate.subject {
        return Err(CryptoError::Verify("the CRL's issuer is not the given CA"));
    }
    let raw = asn1::raw_cert(issuer_cert_der)?;
    super::verify_p256_der(raw.spki, s.tbs, &s.sig)
        .map_err(|_| CryptoError::Verify("the CRL's signature is not the CA's"))?;
    let mut number = None;
    for e in tbs.crl_extensions.iter().flatten() {
        if e.extn_id == CrlNumber::OID {
            let n = CrlNumber::from_der(e.extn_value.as_bytes()).map_err(der_err(W))?;
            let b = n.0.as_bytes();
            if b.len() > 8 {
                return Err(bad(W, "cRLNumber does not fit in 64 bits"));
            }
            number = Some(b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)));
        } else if e.critical && e.extn_id != AuthorityKeyIdentifier::OID {
            return Err(bad(
                W,
                format!("unknown critical extension {}", asn1::name_of(&e.extn_id)),
            ));
        }
    }
    let mut revoked = Vec::new();
    for r in tbs.revoked_certificates.iter().flatten() {
        let mut reason = None;
        for e in r.crl_entry_extensions.iter().flatten() {
            if e.extn_id == CrlReason::OID {
                let code = CrlReason::from_der(e.extn_value.as_bytes()).map_err(der_err(W))?;
                reason = Some(code as u8);
            } else if e.critical {
                return Err(bad(
                    W,
                    format!(
                        "unknown critical entry extension {}",
                        asn1::name_of(&e.extn_id)
                    ),
                ));
            }
        }
        revoked.push(Revoked {
            serial: asn1::minimal(r.serial_number.as_bytes()),
            revoked_at: asn1::unix(&r.revocation_date),
            reason,
        });
    }
    Ok(CrlInfo {
        this_update: asn1::unix(&tbs.this_update),
        next_update: asn1::unix(
            tbs.next_update
                .as_ref()
                .ok_or_else(|| bad(W, "no nextUpdate"))?,
        ),
        number: number.ok_or_else(|| bad(W, "no cRLNumber extension"))?,
        revoked,
    })
}
