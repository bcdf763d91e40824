//! Internal helpers of the PKI formats: object identifiers, times, raw DER walking (signatures
//! are checked over the bytes as received, never over a re-encoding), P-256 keys in
//! SubjectPublicKeyInfo form and the ECDSA algorithm identifier.
use crate::CryptoError;
use der::asn1::{GeneralizedTime, ObjectIdentifier as Oid, UtcTime};
use der::{Decode, Encode, Tagged};
use spki::AlgorithmIdentifierOwned;
use std::time::Duration;
use x509_cert::time::Time;

/// ecdsa-with-SHA256 (RFC 5758).
pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// id-ecPublicKey.
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1.
pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// id-sha256.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha1 (OCSP CertID and ResponderID only).
pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// id-data.
pub const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
/// id-signedData.
pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-ct-TSTInfo.
pub const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-contentType.
pub const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest.
pub const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime.
pub const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-signingCertificate (ESS v1, SHA-1): recognised only to refuse it clearly.
pub const ID_SIGNING_CERT_V1: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
/// id-aa-signingCertificateV2 (RFC 5035).
pub const ID_SIGNING_CERT_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-aa-signatureTimeStampToken (RFC 3161 appendix A).
pub const ID_SIGNATURE_TIMESTAMP: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-kp-OCSPSigning.
pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
/// id-kp-timeStamping.
pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// id-pkix-ocsp-nocheck.
pub const OCSP_NOCHECK: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// id-pkix-ocsp-nonce.
pub const OCSP_NONCE: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-basic.
pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// id-ad-ocsp.
pub const AD_OCSP: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1");
/// id-ad-caIssuers.
pub const AD_CA_ISSUERS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.2");
/// id-pe-qcStatements.
pub const QC_STATEMENTS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.3");
/// id-qcs-pkixQCSyntax-v2 (RFC 3739).
pub const QCS_PKIX_SYNTAX_V2: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.11.2");
/// id-etsi-qcs-semanticsId-Natural (ETSI EN 319 412-1).
pub const SEMANTICS_ID_NATURAL: Oid = Oid::new_unwrap("0.4.0.194121.1.1");

/// A `Malformed` error.
pub fn bad(what: &'static str, why: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what,
        why: why.into(),
    }
}

/// A DER decoding error, with what was being read.
pub fn der_err(what: &'static str) -> impl Fn(der::Error) -> CryptoError {
    move |e| bad(what, format!("not valid DER ({e})"))
}

/// DER encoding of a value we built (cannot fail for well-formed values).
pub fn enc<T: Encode>(what: &'static str, v: &T) -> Result<Vec<u8>, CryptoError> {
    v.to_der()
        .map_err(|e| bad(what, format!("cannot encode ({e})")))
}

/// Refuse input above `max` bytes before parsing it.
pub fn limit(what: &'static str, der: &[u8], max: usize) -> Result<(), CryptoError> {
    if der.is_empty() {
        return Err(bad(what, "empty input"));
    }
    if der.len() > max {
        return Err(bad(
            what,
            format!("{} bytes, more than the {max} accepted", der.len()),
        ));
    }
    Ok(())
}

/// The ecdsa-with-SHA256 AlgorithmIdentifier (parameters absent, RFC 5758).
pub fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_SHA256,
        parameters: None,
    }
}

/// The SHA-256 AlgorithmIdentifier (parameters absent, RFC 5754).
pub fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256,
        parameters: None,
    }
}

/// Whether `alg` is SHA-256 (parameters absent or NULL).
pub fn is_sha256(oid: &Oid, params: Option<&der::Any>) -> bool {
    *oid == SHA256 && params.is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty())
}

/// Refuse any signature algorithm but ecdsa-with-SHA256 (parameters must be absent).
pub fn require_ecdsa_sha256(
    what: &'static str,
    alg: &AlgorithmIdentifierOwned,
) -> Result<(), CryptoError> {
    if alg.oid != ECDSA_SHA256 || alg.parameters.is_some() {
        return Err(bad(
            what,
            format!(
                "signature algorithm {} is not accepted (only ecdsa-with-SHA256)",
                alg.oid
            ),
        ));
    }
    Ok(())
}

fn duration(t: u64) -> Result<Duration, CryptoError> {
    // DateTime stops at 9999-12-31.
    if t > 253_402_300_799 {
        return Err(bad("time", format!("{t} is after the year 9999")));
    }
    Ok(Duration::from_secs(t))
}

/// RFC 5280 time: UTCTime up to 2049, GeneralizedTime from 2050.
pub fn x509_time(t: u64) -> Result<Time, CryptoError> {
    let d = duration(t)?;
    let e = |e: der::Error| bad("time", e.to_string());
    let dt = der::DateTime::from_unix_duration(d).map_err(e)?;
    if dt.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(dt).map_err(e)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// GeneralizedTime (OCSP, time-stamps), whole seconds.
pub fn gen_time(t: u64) -> Result<GeneralizedTime, CryptoError> {
    GeneralizedTime::from_unix_duration(duration(t)?).map_err(|e| bad("time", e.to_string()))
}

/// Unix seconds of an X.509 time.
pub fn unix(t: &Time) -> u64 {
    t.to_unix_duration().as_secs()
}

/// One DER element: `(tag, whole element, content)`, and what follows it.
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// Tag, length and content.
    pub raw: &'a [u8],
    /// Content only.
    pub content: &'a [u8],
}

/// Split the first DER element off `b` (single-octet tags, definite minimal lengths).
pub fn tlv(b: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, hdr) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n || rest[0] == 0 {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        if len < 0x80 {
            return None;
        }
        (len, 2 + n)
    };
    let total = hdr.checked_add(len)?;
    if b.len() < total {
        return None;
    }
    Some((
        Tlv {
            tag,
            raw: &b[..total],
            content: &b[hdr..total],
        },
        &b[total..],
    ))
}

/// The elements of a constructed value's content, in order.
pub fn children<'a>(what: &'static str, mut b: &'a [u8]) -> Result<Vec<Tlv<'a>>, CryptoError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (t, rest) = tlv(b).ok_or_else(|| bad(what, "not valid DER"))?;
        out.push(t);
        b = rest;
    }
    Ok(out)
}

/// The elements of `der`, which must be exactly one SEQUENCE.
pub fn seq<'a>(what: &'static str, der: &'a [u8]) -> Result<Vec<Tlv<'a>>, CryptoError> {
    match tlv(der) {
        Some((t, rest)) if t.tag == 0x30 && rest.is_empty() => children(what, t.content),
        _ => Err(bad(what, "expected one DER SEQUENCE")),
    }
}

/// A signed structure `SEQUENCE { tbs, algorithm, signature BIT STRING }` (certificate, CRL,
/// CSR, BasicOCSPResponse): the to-be-signed bytes as received, and the decoded rest.
pub struct Signed<'a> {
    /// The to-be-signed element, raw.
    pub tbs: &'a [u8],
    /// The signature algorithm.
    pub alg: AlgorithmIdentifierOwned,
    /// The signature (DER ECDSA-Sig-Value for ECDSA).
    pub sig: Vec<u8>,
}

/// Split a signed structure; `what` names it in errors.
pub fn signed<'a>(what: &'static str, der: &'a [u8]) -> Result<Signed<'a>, CryptoError> {
    let parts = seq(what, der)?;
    if parts.len() < 3 || parts[0].tag != 0x30 {
        return Err(bad(what, "expected SEQUENCE { tbs, algorithm, signature }"));
    }
    let alg = AlgorithmIdentifierOwned::from_der(parts[1].raw).map_err(der_err(what))?;
    let bits = der::asn1::BitString::from_der(parts[2].raw).map_err(der_err(what))?;
    let sig = bits
        .as_bytes()
        .ok_or_else(|| bad(what, "signature BIT STRING has unused bits"))?
        .to_vec();
    Ok(Signed {
        tbs: parts[0].raw,
        alg,
        sig,
    })
}

/// Fields of a certificate as they appear in its DER (for hashes over exact bytes).
pub struct RawCert<'a> {
    /// The issuer Name.
    pub issuer: &'a [u8],
    /// The subject Name.
    pub subject: &'a [u8],
    /// SubjectPublicKeyInfo.
    pub spki: &'a [u8],
}

/// Locate the raw fields of a certificate.
pub fn raw_cert(der: &[u8]) -> Result<RawCert<'_>, CryptoError> {
    const W: &str = "certificate";
    let s = signed(W, der)?;
    let f = seq(W, s.tbs)?;
    // [0] version is optional; serial, signature, issuer, validity, subject, spki follow.
    let i = usize::from(f.first().map(|t| t.tag) == Some(0xa0));
    if f.len() < i + 6 {
        return Err(bad(W, "tbsCertificate is too short"));
    }
    Ok(RawCert {
        issuer: f[i + 2].raw,
        subject: f[i + 4].raw,
        spki: f[i + 5].raw,
    })
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (what key hashes are taken over).
pub fn spki_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let s = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(der_err("public key"))?;
    Ok(s.subject_public_key.raw_bytes().to_vec())
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo; refuses every other key.
pub fn p256_point(spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "public key";
    let s = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(der_err(W))?;
    if s.algorithm.oid != EC_PUBLIC_KEY {
        return Err(bad(
            W,
            format!(
                "algorithm {} is not accepted (only EC P-256)",
                name_of(&s.algorithm.oid)
            ),
        ));
    }
    let curve = s
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<Oid>().ok());
    if curve != Some(P256) {
        let c = curve.map_or("no named curve".to_string(), |c| name_of(&c));
        return Err(bad(W, format!("EC curve {c} is not accepted (only P-256)")));
    }
    let point = s
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| bad(W, "key BIT STRING has unused bits"))?;
    if point.len() != 65 || point[0] != 4 {
        return Err(bad(W, "expected an uncompressed P-256 point (65 bytes)"));
    }
    Ok(point.to_vec())
}

/// A readable name for an OID: the registered short name and the dotted form.
pub fn name_of(oid: &Oid) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(n) => format!("{n} ({oid})"),
        None => oid.to_string(),
    }
}

/// The key identifier of a public key: RFC 7093 method 1, the leftmost 160 bits of the
/// SHA-256 of the subjectPublicKey bits.
pub fn key_id(spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    Ok(crate::hash::sha256(&spki_key_bits(spki_der)?)[..20].to_vec())
}

/// SHA-1 (OCSP CertID and ResponderID byKey only, as RFC 6960 and its clients require).
pub fn sha1(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, b)
        .as_ref()
        .to_vec()
}

/// An unsigned big-endian integer without leading zero bytes (zero stays one byte).
pub fn minimal(b: &[u8]) -> Vec<u8> {
    let i = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    if i == b.len() {
        vec![0]
    } else {
        b[i..].to_vec()
    }
}

/// The magnitude of a DER INTEGER's content octets; `None` if negative.
pub fn int_magnitude(content: &[u8]) -> Option<Vec<u8>> {
    match content.first() {
        Some(&b) if b & 0x80 == 0 => Some(minimal(content)),
        _ => None,
    }
}

/// A DER INTEGER from an unsigned magnitude.
pub fn uint(what: &'static str, b: &[u8]) -> Result<der::asn1::Uint, CryptoError> {
    der::asn1::Uint::new(b).map_err(|e| bad(what, e.to_string()))
}

/// Whether two byte strings are the same number (ignoring leading zero bytes).
pub fn same_number(a: &[u8], b: &[u8]) -> bool {
    minimal(a) == minimal(b)
}
