//! CMS SignedData plumbing shared by CAdES signatures ([`super::cms`]) and time-stamp tokens
//! ([`super::tsp`]): ESS signingCertificateV2, building a one-signer SignedData, and checking a
//! SignerInfo over its signed attributes exactly as received.
use super::asn1::{self, bad, der_err, enc};
use super::cert;
use crate::CryptoError;
use ::cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use ::cms::content_info::{CmsVersion, ContentInfo};
use ::cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

/// IssuerSerial (RFC 5035).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct IssuerSerial {
    /// The issuer's names (one directoryName).
    pub issuer: Vec<GeneralName>,
    /// The certificate's serial.
    pub serial_number: SerialNumber,
}

/// ESSCertIDv2 (RFC 5035). hashAlgorithm is `DEFAULT sha256`: absent (`None`) means SHA-256,
/// and DER leaves it out for SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct EssCertIdV2 {
    /// The hash algorithm (`None`: SHA-256).
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the whole certificate DER.
    pub cert_hash: OctetString,
    /// The certificate's issuer and serial.
    pub issuer_serial: Option<IssuerSerial>,
}

/// SigningCertificateV2 (RFC 5035).
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SigningCertificateV2 {
    /// The signer's certificate first.
    pub certs: Vec<EssCertIdV2>,
    /// Policies (unused here).
    pub policies: Option<Vec<PolicyInformation>>,
}

/// An attribute with one value.
pub fn attribute(oid: Oid, value: Any) -> Result<Attribute, CryptoError> {
    let values = SetOfVec::try_from(vec![value]).map_err(|e| bad("attribute", e.to_string()))?;
    Ok(Attribute { oid, values })
}

/// Encode a value as an attribute value.
pub fn any<T: der::Encode>(v: &T) -> Result<Any, CryptoError> {
    let der = v.to_der().map_err(|e| bad("attribute", e.to_string()))?;
    Any::from_der(&der).map_err(|e| bad("attribute", e.to_string()))
}

/// The signingCertificateV2 attribute for a certificate (SHA-256, with issuerSerial).
pub fn signing_certificate_v2(cert_der: &[u8]) -> Result<Attribute, CryptoError> {
    let c = cert::decode(cert_der)?;
    let id = EssCertIdV2 {
        hash_algorithm: None,
        cert_hash: OctetString::new(super::sha256(cert_der).to_vec())
            .map_err(|e| bad("attribute", e.to_string()))?,
        issuer_serial: Some(IssuerSerial {
            issuer: vec![GeneralName::DirectoryName(c.tbs_certificate.issuer.clone())],
            serial_number: c.tbs_certificate.serial_number.clone(),
        }),
    };
    let v = SigningCertificateV2 {
        certs: vec![id],
        policies: None,
    };
    attribute(asn1::ID_SIGNING_CERT_V2, any(&v)?)
}

/// The DER `SET OF Attribute` (tag 0x31) of attributes, in DER order.
pub fn attrs_der(attrs: Vec<Attribute>) -> Result<Vec<u8>, CryptoError> {
    let set: Attributes =
        SetOfVec::try_from(attrs).map_err(|e| bad("signed attributes", e.to_string()))?;
    enc("signed attributes", &set)
}

/// The one value of attribute `oid`; `None` if absent; an error if repeated or multi-valued.
pub fn single(attrs: &[Attribute], oid: Oid) -> Result<Option<&Any>, CryptoError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(a) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || a.values.len() != 1 {
        return Err(bad(
            "signed attributes",
            format!(
                "attribute {} must appear once with one value",
                asn1::name_of(&oid)
            ),
        ));
    }
    Ok(a.values.get(0))
}

/// What the caller gives to build a one-signer SignedData.
pub struct Build<'a> {
    /// eContentType.
    pub content_type: Oid,
    /// eContent (None: detached).
    pub content: Option<Vec<u8>>,
    /// Certificates to include, signer's first.
    pub certs: Vec<&'a [u8]>,
    /// The signer's certificate.
    pub signer_cert_der: &'a [u8],
    /// The signed attributes as signed (tag 0x31).
    pub signed_attrs_der: &'a [u8],
    /// DER ECDSA signature over `signed_attrs_der`.
    pub signature_der: &'a [u8],
    /// Unsigned attributes.
    pub unsigned: Option<Attributes>,
}

/// ContentInfo(SignedData) with one SignerInfo (issuerAndSerialNumber, SHA-256,
/// ecdsa-with-SHA256). Fails if the signed attributes would not come out byte for byte.
pub fn build(b: Build<'_>) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "SignedData";
    if b.signed_attrs_der.first() != Some(&0x31) {
        return Err(bad(W, "signed attributes must be a DER SET OF (tag 0x31)"));
    }
    let attrs = Attributes::from_der(b.signed_attrs_der).map_err(der_err("signed attributes"))?;
    let signer = cert::decode(b.signer_cert_der)?;
    let mut certs = Vec::new();
    for c in &b.certs {
        certs.push(CertificateChoices::Certificate(cert::decode(c)?));
    }
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer.tbs_certificate.issuer.clone(),
            serial_number: signer.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: asn1::sha256_alg(),
        signed_attrs: Some(attrs),
        signature_algorithm: asn1::ecdsa_sha256(),
        signature: OctetString::new(b.signature_der).map_err(|e| bad(W, e.to_string()))?,
        unsigned_attrs: b.unsigned,
    };
    let econtent = match b.content {
        Some(c) => Some(any(
            &OctetString::new(c).map_err(|e| bad(W, e.to_string()))?
        )?),
        None => None,
    };
    let version = if b.content_type == asn1::ID_DATA {
        CmsVersion::V1
    } else {
        CmsVersion::V3
    };
    let sd = SignedData {
        version,
        digest_algorithms: SetOfVec::try_from(vec![asn1::sha256_alg()])
            .map_err(|e| bad(W, e.to_string()))?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: b.content_type,
            econtent,
        },
        certificates: if certs.is_empty() {
            None
        } else {
            Some(CertificateSet(
                SetOfVec::try_from(certs).map_err(|e| bad(W, e.to_string()))?,
            ))
        },
        crls: None,
        signer_infos: SignerInfos(
            SetOfVec::try_from(vec![signer_info]).map_err(|e| bad(W, e.to_string()))?,
        ),
    };
    let ci = ContentInfo {
        content_type: asn1::ID_SIGNED_DATA,
        content: any(&sd)?,
    };
    let out = enc(W, &ci)?;
    let raw = RawSignedData::parse(W, &out)?;
    if raw.signed_attrs(W)? != b.signed_attrs_der {
        return Err(bad(
            W,
            "the signed attributes are not in DER form (SET OF order)",
        ));
    }
    Ok(out)
}

/// A ContentInfo(SignedData) with one signer, decoded, with its raw parts.
pub struct RawSignedData<'a> {
    /// The decoded SignedData.
    pub sd: SignedData,
    /// The decoded (only) SignerInfo.
    pub si: SignerInfo,
    /// The certificates as received (X.509 ones only).
    pub certs: Vec<&'a [u8]>,
    /// The SignerInfo as received.
    si_raw: &'a [u8],
}

impl<'a> RawSignedData<'a> {
    /// Parse `der` as ContentInfo(SignedData) with exactly one SignerInfo.
    pub fn parse(what: &'static str, der: &'a [u8]) -> Result<Self, CryptoError> {
        let ci = ContentInfo::from_der(der).map_err(der_err(what))?;
        if ci.content_type != asn1::ID_SIGNED_DATA {
            return Err(bad(
                what,
                format!(
                    "content type {} is not signedData",
                    asn1::name_of(&ci.content_type)
                ),
            ));
        }
        let sd: SignedData = ci.content.decode_as().map_err(der_err(what))?;
        let top = asn1::seq(what, der)?;
        let sd_raw = top
            .get(1)
            .and_then(|t| asn1::tlv(t.content))
            .map(|(t, _)| t)
            .ok_or_else(|| bad(what, "no SignedData"))?;
        let parts = asn1::children(what, sd_raw.content)?;
        let mut certs = Vec::new();
        if let Some(c) = parts.iter().find(|t| t.tag == 0xa0) {
            for t in asn1::children(what, c.content)? {
                if t.tag == 0x30 {
                    certs.push(t.raw);
                }
            }
        }
        let infos = parts
            .last()
            .filter(|t| t.tag == 0x31)
            .ok_or_else(|| bad(what, "no SignerInfos"))?;
        let infos = asn1::children(what, infos.content)?;
        if infos.len() != 1 || sd.signer_infos.0.len() != 1 {
            return Err(bad(
                what,
                format!("{} signers; exactly one is accepted", infos.len()),
            ));
        }
        let si = sd.signer_infos.0.get(0).cloned().expect("one signer");
        Ok(Self {
            si,
            sd,
            certs,
            si_raw: infos[0].raw,
        })
    }

    /// The signed attributes as signed: the SignerInfo's [0] with the SET OF tag (0x31).
    pub fn signed_attrs(&self, what: &'static str) -> Result<Vec<u8>, CryptoError> {
        let f = asn1::seq(what, self.si_raw)?;
        match f.get(3) {
            Some(t) if t.tag == 0xa0 => {
                let mut out = t.raw.to_vec();
                out[0] = 0x31;
                Ok(out)
            }
            _ => Err(bad(what, "the signer has no signed attributes")),
        }
    }

    /// The signer's certificate: `given` if any (it must be the one the SignerInfo names),
    /// else the included certificate it names.
    pub fn signer_cert(
        &self,
        what: &'static str,
        given: Option<&'a [u8]>,
    ) -> Result<&'a [u8], CryptoError> {
        let names = |der: &[u8]| -> Result<bool, CryptoError> {
            let c: Certificate = cert::decode(der)?;
            Ok(match &self.si.sid {
                SignerIdentifier::IssuerAndSerialNumber(is) => {
                    is.issuer == c.tbs_certificate.issuer
                        && asn1::same_number(
                            is.serial_number.as_bytes(),
                            c.tbs_certificate.serial_number.as_bytes(),
                        )
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    matches!(c.tbs_certificate.get::<SubjectKeyIdentifier>(),
                        Ok(Some((_, s))) if s == *ski)
                }
            })
        };
        if let Some(g) = given {
            if !names(g)? {
                return Err(CryptoError::Verify(
                    "the signer is not the certificate given to verify with",
                ));
            }
            return Ok(g);
        }
        for c in &self.certs {
            if names(c)? {
                return Ok(c);
            }
        }
        Err(bad(what, "the signer's certificate is not included"))
    }

    /// Check the SignerInfo's algorithms and its signature over the signed attributes with the
    /// key of `cert_der`; returns the decoded signed attributes.
    pub fn verify_signer(
        &self,
        what: &'static str,
        cert_der: &[u8],
    ) -> Result<Vec<Attribute>, CryptoError> {
        let si = &self.si;
        if !asn1::is_sha256(&si.digest_alg.oid, si.digest_alg.parameters.as_ref()) {
            return Err(bad(
                what,
                format!(
                    "digest algorithm {} is not accepted (only SHA-256)",
                    asn1::name_of(&si.digest_alg.oid)
                ),
            ));
        }
        if !self
            .sd
            .digest_algorithms
            .iter()
            .any(|a| asn1::is_sha256(&a.oid, a.parameters.as_ref()))
        {
            return Err(bad(
                what,
                "SHA-256 is not among the SignedData's digest algorithms",
            ));
        }
        asn1::require_ecdsa_sha256(what, &si.signature_algorithm)?;
        let attrs_der = self.signed_attrs(what)?;
        let raw = asn1::raw_cert(cert_der)?;
        super::verify_p256_der(raw.spki, &attrs_der, si.signature.as_bytes())
            .map_err(|_| CryptoError::Verify("the signature over the signed attributes"))?;
        Ok(si
            .signed_attrs
            .as_ref()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default())
    }
}

/// Check contentType and messageDigest (SHA-256) in signed attributes.
pub fn check_content(
    attrs: &[Attribute],
    content_type: Oid,
    digest: &[u8; 32],
) -> Result<(), CryptoError> {
    const W: &str = "signed attributes";
    let ct =
        single(attrs, asn1::ID_CONTENT_TYPE)?.ok_or_else(|| bad(W, "no contentType attribute"))?;
    let ct: Oid = ct.decode_as().map_err(der_err(W))?;
    if ct != content_type {
        return Err(bad(
            W,
            format!(
                "contentType is {}, expected {}",
                asn1::name_of(&ct),
                asn1::name_of(&content_type)
            ),
        ));
    }
    let md = single(attrs, asn1::ID_MESSAGE_DIGEST)?
        .ok_or_else(|| bad(W, "no messageDigest attribute"))?;
    let md: OctetString = md.decode_as().map_err(der_err(W))?;
    if !crate::hash::ct_eq(md.as_bytes(), digest) {
        return Err(CryptoError::Verify(
            "the messageDigest attribute does not match the content",
        ));
    }
    Ok(())
}

/// Check that signingCertificateV2 is present and names `cert_der` (SHA-256 hash; issuer and
/// serial if given). The ESS v1 attribute (SHA-1) is refused.
pub fn check_signing_certificate(attrs: &[Attribute], cert_der: &[u8]) -> Result<(), CryptoError> {
    const W: &str = "signed attributes";
    if attrs.iter().any(|a| a.oid == asn1::ID_SIGNING_CERT_V1) {
        return Err(bad(
            W,
            "signingCertificate (ESS v1, SHA-1) is not accepted; use v2",
        ));
    }
    let v = single(attrs, asn1::ID_SIGNING_CERT_V2)?
        .ok_or_else(|| bad(W, "no signingCertificateV2 attribute"))?;
    let v: SigningCertificateV2 = v.decode_as().map_err(der_err(W))?;
    let id = v
        .certs
        .first()
        .ok_or_else(|| bad(W, "signingCertificateV2 lists no certificate"))?;
    let sha256 = |a: &AlgorithmIdentifierOwned| asn1::is_sha256(&a.oid, a.parameters.as_ref());
    if !id.hash_algorithm.as_ref().is_none_or(sha256) {
        return Err(bad(W, "signingCertificateV2 must use SHA-256"));
    }
    if id.cert_hash.as_bytes() != super::sha256(cert_der) {
        return Err(CryptoError::Verify(
            "signingCertificateV2 names another certificate than the signer's",
        ));
    }
    if let Some(is) = &id.issuer_serial {
        let c = cert::decode(cert_der)?;
        let issuer_ok = is
            .issuer
            .iter()
            .any(|g| matches!(g, GeneralName::DirectoryName(n) if *n == c.tbs_certificate.issuer));
        let serial_ok = asn1::same_number(
            is.serial_number.as_bytes(),
            c.tbs_certificate.serial_number.as_bytes(),
        );
        if !issuer_ok || !serial_ok {
            return Err(CryptoError::Verify(
                "signingCertificateV2 issuerSerial is not the signer certificate's",
            ));
        }
    }
    Ok(())
}
