//! Detached CMS SignedData (RFC 5652) in the CAdES baseline shape (ETSI EN 319 122-1: B-B, and
//! B-T with a signature time-stamp), for "hash signing": the platform builds the signed
//! attributes over a relying party's digest ([`signed_attributes`]), the resident's app signs
//! those bytes with its own key, the platform assembles the signature ([`assemble`]) and adds a
//! time-stamp over the signature value ([`signature_value`], [`add_signature_timestamp`]).
use super::asn1::{self, bad, der_err};
use super::signed_data::{self as sd, RawSignedData};
use super::tsp::{self, TokenInfo};
use crate::CryptoError;
use der::asn1::{OctetString, SetOfVec};
use der::{Decode, Encode};
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::time::Time;

const W: &str = "CMS signature";
/// Upper bound on a CMS signature's size (certificates and a time-stamp included).
const MAX: usize = 256 * 1024;

/// What the signed attributes cover.
#[derive(Debug, Clone)]
pub struct SignedAttrsParams<'a> {
    /// SHA-256 of the signed content (the document, or a PDF's byte ranges).
    pub content_digest: [u8; 32],
    /// The signer's certificate (named in signingCertificateV2).
    pub signer_cert_der: &'a [u8],
    /// signingTime (unix seconds): `Some` for CAdES, `None` for PAdES (which forbids it).
    pub signing_time: Option<u64>,
}

/// The DER `SET OF Attribute` (tag 0x31) the signer signs: contentType id-data,
/// messageDigest, signingCertificateV2 (SHA-256 of the certificate, with issuerSerial), and
/// signingTime if given.
pub fn signed_attributes(p: &SignedAttrsParams<'_>) -> Result<Vec<u8>, CryptoError> {
    let mut attrs = vec![
        sd::attribute(asn1::ID_CONTENT_TYPE, sd::any(&asn1::ID_DATA)?)?,
        sd::attribute(
            asn1::ID_MESSAGE_DIGEST,
            sd::any(
                &OctetString::new(p.content_digest.to_vec()).map_err(|e| bad(W, e.to_string()))?,
            )?,
        )?,
        sd::signing_certificate_v2(p.signer_cert_der)?,
    ];
    if let Some(t) = p.signing_time {
        attrs.push(sd::attribute(
            asn1::ID_SIGNING_TIME,
            sd::any(&asn1::x509_time(t)?)?,
        )?);
    }
    sd::attrs_der(attrs)
}

/// ContentInfo(SignedData), detached (no eContent), version 1, one SignerInfo
/// (issuerAndSerialNumber, SHA-256, ecdsa-with-SHA256) with `signed_attrs_der` as signed, and
/// the signer's certificate and `chain` included. The signature is checked with the
/// certificate's key (and the signed attributes' signingCertificateV2 against the certificate)
/// before anything is returned.
pub fn assemble(
    signed_attrs_der: &[u8],
    signature_der: &[u8],
    signer_cert_der: &[u8],
    chain: &[Vec<u8>],
) -> Result<Vec<u8>, CryptoError> {
    let raw = asn1::raw_cert(signer_cert_der)?;
    super::verify_p256_der(raw.spki, signed_attrs_der, signature_der).map_err(|_| {
        CryptoError::Verify("the signature does not verify over the signed attributes with the signer's certificate")
    })?;
    let attrs = Attributes::from_der(signed_attrs_der).map_err(der_err("signed attributes"))?;
    let attrs: Vec<Attribute> = attrs.iter().cloned().collect();
    sd::check_signing_certificate(&attrs, signer_cert_der)?;
    let ct: der::asn1::ObjectIdentifier = sd::single(&attrs, asn1::ID_CONTENT_TYPE)?
        .ok_or_else(|| bad("signed attributes", "no contentType attribute"))?
        .decode_as()
        .map_err(der_err("signed attributes"))?;
    if ct != asn1::ID_DATA {
        return Err(bad("signed attributes", "contentType must be id-data"));
    }
    if sd::single(&attrs, asn1::ID_MESSAGE_DIGEST)?.is_none() {
        return Err(bad("signed attributes", "no messageDigest attribute"));
    }
    let mut certs: Vec<&[u8]> = vec![signer_cert_der];
    certs.extend(
        chain
            .iter()
            .map(Vec::as_slice)
            .filter(|c| *c != signer_cert_der),
    );
    sd::build(sd::Build {
        content_type: asn1::ID_DATA,
        content: None,
        certs,
        signer_cert_der,
        signed_attrs_der,
        signature_der,
        unsigned: None,
    })
}

/// The SignerInfo's signature value (what a signature time-stamp's imprint covers).
pub fn signature_value(cms_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    asn1::limit(W, cms_der, MAX)?;
    let raw = RawSignedData::parse(W, cms_der)?;
    Ok(raw.si.signature.as_bytes().to_vec())
}

/// Add a signature time-stamp (unsigned attribute id-aa-signatureTimeStampToken) to a
/// signature. The token's imprint must be SHA-256 of the signature value; the signed part of
/// the signature is kept byte for byte.
pub fn add_signature_timestamp(
    cms_der: &[u8],
    timestamp_token_der: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    asn1::limit(W, cms_der, MAX)?;
    let raw = RawSignedData::parse(W, cms_der)?;
    let before = raw.signed_attrs(W)?;
    let imprint = tsp::token_imprint(timestamp_token_der)?;
    if imprint != super::sha256(raw.si.signature.as_bytes()) {
        return Err(bad(
            "signature time-stamp",
            "its imprint is not SHA-256 of this signature's value",
        ));
    }
    let mut si = raw.si.clone();
    let mut unsigned: Vec<Attribute> = si
        .unsigned_attrs
        .take()
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    if unsigned
        .iter()
        .any(|a| a.oid == asn1::ID_SIGNATURE_TIMESTAMP)
    {
        return Err(bad(W, "the signature already has a signature time-stamp"));
    }
    let token =
        der::asn1::Any::from_der(timestamp_token_der).map_err(der_err("time-stamp token"))?;
    unsigned.push(sd::attribute(asn1::ID_SIGNATURE_TIMESTAMP, token)?);
    si.unsigned_attrs = Some(SetOfVec::try_from(unsigned).map_err(|e| bad(W, e.to_string()))?);
    let mut signed = raw.sd.clone();
    signed.signer_infos = ::cms::signed_data::SignerInfos(
        SetOfVec::try_from(vec![si]).map_err(|e| bad(W, e.to_string()))?,
    );
    let ci = ::cms::content_info::ContentInfo {
        content_type: asn1::ID_SIGNED_DATA,
        content: sd::any(&signed)?,
    };
    let out = ci.to_der().map_err(|e| bad(W, e.to_string()))?;
    if RawSignedData::parse(W, &out)?.signed_attrs(W)? != before {
        return Err(bad(
            W,
            "the signed attributes would change (they are not DER)",
        ));
    }
    Ok(out)
}

/// What [`verify_detached`] established.
#[derive(Debug, Clone)]
pub struct VerifiedCms {
    /// The signer's certificate.
    pub signer_cert_der: Vec<u8>,
    /// The other included certificates.
    pub chain: Vec<Vec<u8>>,
    /// signingTime, if present.
    pub signing_time: Option<u64>,
    /// The signature time-stamp, verified, if present.
    pub timestamp: Option<TokenInfo>,
    /// The content digest (messageDigest).
    pub content_digest: [u8; 32],
}

/// Verify a detached signature over content whose SHA-256 is `content_digest`: the signature
/// over the signed attributes with the included signer certificate, contentType id-data,
/// messageDigest, signingCertificateV2, and the signature time-stamp if any (its own signature,
/// and its imprint = SHA-256 of the signature value). Trust in the certificates and their
/// revocation status are not judged here.
pub fn verify_detached(
    cms_der: &[u8],
    content_digest: &[u8; 32],
) -> Result<VerifiedCms, CryptoError> {
    asn1::limit(W, cms_der, MAX)?;
    let raw = RawSignedData::parse(W, cms_der)?;
    let eci = &raw.sd.encap_content_info;
    if eci.econtent_type != asn1::ID_DATA {
        return Err(bad(W, "the encapsulated content type must be id-data"));
    }
    if eci.econtent.is_some() {
        return Err(bad(W, "the signature is not detached (it carries content)"));
    }
    let cert = raw.signer_cert(W, None)?;
    let attrs = raw.verify_signer(W, cert)?;
    sd::check_content(&attrs, asn1::ID_DATA, content_digest)?;
    sd::check_signing_certificate(&attrs, cert)?;
    let signing_time = match sd::single(&attrs, asn1::ID_SIGNING_TIME)? {
        Some(v) => {
            let der = v.to_der().map_err(|e| bad(W, e.to_string()))?;
            Some(asn1::unix(
                &Time::from_der(&der).map_err(der_err("signingTime"))?,
            ))
        }
        None => None,
    };
    let signature = raw.si.signature.as_bytes();
    let unsigned: Vec<Attribute> = raw
        .si
        .unsigned_attrs
        .as_ref()
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    let timestamp = match sd::single(&unsigned, asn1::ID_SIGNATURE_TIMESTAMP)? {
        None => None,
        Some(token) => {
            let token = token.to_der().map_err(|e| bad(W, e.to_string()))?;
            let info = tsp::verify_token(&token, None)?;
            if info.imprint_sha256 != super::sha256(signature) {
                return Err(CryptoError::Verify(
                    "the signature time-stamp does not cover this signature value",
                ));
            }
            Some(info)
        }
    };
    Ok(VerifiedCms {
        signer_cert_der: cert.to_vec(),
        chain: raw
            .certs
            .iter()
            .filter(|c| **c != cert)
            .map(|c| c.to_vec())
            .collect(),
        signing_time,
        timestamp,
        content_digest: *content_digest,
    })
}

/// The signer's certificate and all included certificates of a SignedData (nothing verified).
pub fn parse_signed_data(cms_der: &[u8]) -> Result<(Vec<u8>, Vec<Vec<u8>>), CryptoError> {
    asn1::limit(W, cms_der, MAX)?;
    let raw = RawSignedData::parse(W, cms_der)?;
    let cert = raw.signer_cert(W, None)?;
    Ok((
        cert.to_vec(),
        raw.certs.iter().map(|c| c.to_vec()).collect(),
    ))
}
