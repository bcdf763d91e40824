//! Time-stamp protocol (RFC 3161): requests, tokens (ContentInfo(SignedData(TSTInfo)) with
//! contentType, messageDigest and ESS signingCertificateV2 signed attributes, RFC 5816) and
//! responses. SHA-256 message imprints only.
use super::asn1::{self, bad, der_err, enc};
use super::signed_data::{self as sd, RawSignedData};
use super::{cert, check_signer, CaSigner};
use crate::CryptoError;
use der::asn1::{Any, BitString, Int, Null, ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode, Sequence};
use spki::AlgorithmIdentifier;
use std::str::FromStr;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion, TstInfo};

/// Largest time-stamp request accepted.
const MAX_REQUEST: usize = 8 * 1024;
/// Largest token or response accepted (certificates included).
const MAX_TOKEN: usize = 64 * 1024;
/// Longest nonce accepted, in bytes.
const MAX_NONCE: usize = 32;

/// What a time-stamp request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsRequestInfo {
    /// The SHA-256 message imprint.
    pub imprint_sha256: [u8; 32],
    /// The nonce (positive integer, minimal big-endian bytes).
    pub nonce: Option<Vec<u8>>,
    /// Whether the TSA's certificate must be included in the token.
    pub cert_req: bool,
    /// The requested policy (dotted OID).
    pub policy: Option<String>,
}

fn imprint(digest: &[u8; 32]) -> Result<MessageImprint, CryptoError> {
    Ok(MessageImprint {
        // SHA-256 with NULL parameters, as OpenSSL and most clients send it.
        hash_algorithm: AlgorithmIdentifier {
            oid: asn1::SHA256,
            parameters: Some(Any::from(Null)),
        },
        hashed_message: OctetString::new(digest.to_vec())
            .map_err(|e| bad("message imprint", e.to_string()))?,
    })
}

fn read_imprint(what: &'static str, m: &MessageImprint) -> Result<[u8; 32], CryptoError> {
    let a = &m.hash_algorithm;
    if !asn1::is_sha256(&a.oid, a.parameters.as_ref()) {
        return Err(bad(
            what,
            format!(
                "message imprint algorithm {} is not accepted (only SHA-256)",
                asn1::name_of(&a.oid)
            ),
        ));
    }
    m.hashed_message
        .as_bytes()
        .try_into()
        .map_err(|_| bad(what, "a SHA-256 imprint must be 32 bytes"))
}

/// A positive INTEGER from its magnitude.
fn int(what: &'static str, magnitude: &[u8]) -> Result<Int, CryptoError> {
    let mut v = asn1::minimal(magnitude);
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    Int::new(&v).map_err(|e| bad(what, e.to_string()))
}

fn nonce_of(what: &'static str, n: &Option<Int>) -> Result<Option<Vec<u8>>, CryptoError> {
    let Some(n) = n else { return Ok(None) };
    let m = asn1::int_magnitude(n.as_bytes()).ok_or_else(|| bad(what, "negative nonce"))?;
    if m.len() > MAX_NONCE {
        return Err(bad(what, format!("nonce longer than {MAX_NONCE} bytes")));
    }
    Ok(Some(m))
}

/// Read a time-stamp request. Errors are `Malformed` with `what` = "time-stamp request";
/// their text says when the digest algorithm (→ failInfo badAlg) or an extension
/// (→ unacceptedExtension) is the cause.
pub fn parse_request(der: &[u8]) -> Result<TsRequestInfo, CryptoError> {
    const W: &str = "time-stamp request";
    asn1::limit(W, der, MAX_REQUEST)?;
    let r = TimeStampReq::from_der(der).map_err(der_err(W))?;
    let imprint_sha256 = read_imprint(W, &r.message_imprint)?;
    if r.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(bad(W, "extensions are not supported (unacceptedExtension)"));
    }
    Ok(TsRequestInfo {
        imprint_sha256,
        nonce: nonce_of(W, &r.nonce)?,
        cert_req: r.cert_req,
        policy: r.req_policy.map(|p| p.to_string()),
    })
}

/// A time-stamp request for a SHA-256 imprint (the nonce is an unsigned big-endian number).
pub fn build_request(
    imprint_sha256: &[u8; 32],
    nonce: Option<&[u8]>,
    cert_req: bool,
) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "time-stamp request";
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: imprint(imprint_sha256)?,
        req_policy: None,
        nonce: nonce.map(|n| int(W, n)).transpose()?,
        cert_req,
        extensions: None,
    };
    enc(W, &req)
}

/// What a time-stamp token is made of.
pub struct TokenParams<'a> {
    /// The TSA's certificate (EKU id-kp-timeStamping).
    pub tsa_cert_der: &'a [u8],
    /// Certificates to include after the TSA's (issuing CA ...), when `include_certs`.
    pub chain: &'a [Vec<u8>],
    /// The TSA's key.
    pub signer: &'a dyn CaSigner,
    /// The TSA policy (dotted OID).
    pub policy_oid: &'a str,
    /// The token's serial (positive big-endian, unique per TSA).
    pub serial: Vec<u8>,
    /// genTime (unix seconds).
    pub gen_time: u64,
    /// The SHA-256 imprint to time-stamp.
    pub imprint_sha256: [u8; 32],
    /// The request's nonce, echoed.
    pub nonce: Option<Vec<u8>>,
    /// Include the TSA's certificate and `chain` (the request's certReq).
    pub include_certs: bool,
}

/// A TimeStampToken: ContentInfo(SignedData) over a TSTInfo, signed attributes contentType
/// id-ct-TSTInfo, messageDigest and signingCertificateV2.
pub fn build_token(p: &TokenParams<'_>) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "time-stamp token";
    check_signer(W, p.tsa_cert_der, p.signer)?;
    let tsa = cert::decode(p.tsa_cert_der)?;
    if !cert::has_eku(&tsa, asn1::KP_TIME_STAMPING) {
        return Err(bad(
            W,
            "the TSA certificate lacks the id-kp-timeStamping EKU",
        ));
    }
    if p.serial.iter().all(|&b| b == 0) || asn1::minimal(&p.serial).len() > 20 {
        return Err(bad(
            W,
            "the serial must be a positive number of at most 20 bytes",
        ));
    }
    let policy = Oid::from_str(p.policy_oid)
        .map_err(|_| bad(W, format!("policy {:?} is not an OID", p.policy_oid)))?;
    let tst = TstInfo {
        version: TspVersion::V1,
        policy,
        message_imprint: imprint(&p.imprint_sha256)?,
        serial_number: int(W, &p.serial)?,
        gen_time: asn1::gen_time(p.gen_time)?,
        accuracy: None,
        ordering: false,
        nonce: p.nonce.as_deref().map(|n| int(W, n)).transpose()?,
        tsa: Some(GeneralName::DirectoryName(
            tsa.tbs_certificate.subject.clone(),
        )),
        extensions: None,
    };
    let tst_der = enc(W, &tst)?;
    let attrs = sd::attrs_der(vec![
        sd::attribute(asn1::ID_CONTENT_TYPE, sd::any(&asn1::ID_CT_TST_INFO)?)?,
        sd::attribute(
            asn1::ID_MESSAGE_DIGEST,
            sd::any(
                &OctetString::new(super::sha256(&tst_der).to_vec())
                    .map_err(|e| bad(W, e.to_string()))?,
            )?,
        )?,
        sd::signing_certificate_v2(p.tsa_cert_der)?,
    ])?;
    let sig = p.signer.sign_der(&attrs)?;
    let mut certs = Vec::new();
    if p.include_certs {
        certs.push(p.tsa_cert_der);
        certs.extend(
            p.chain
                .iter()
                .map(Vec::as_slice)
                .filter(|c| *c != p.tsa_cert_der),
        );
    }
    sd::build(sd::Build {
        content_type: asn1::ID_CT_TST_INFO,
        content: Some(tst_der),
        certs,
        signer_cert_der: p.tsa_cert_der,
        signed_attrs_der: &attrs,
        signature_der: &sig,
        unsigned: None,
    })
}

/// PKIStatusInfo (RFC 3161 / RFC 4210).
#[derive(Sequence)]
struct StatusInfo {
    status: u8,
    status_string: Option<Vec<String>>,
    fail_info: Option<BitString>,
}

/// TimeStampResp.
#[derive(Sequence)]
struct TsResp {
    status: StatusInfo,
    token: Option<Any>,
}

fn resp_der(status: StatusInfo, token: Option<Any>) -> Vec<u8> {
    TsResp { status, token }
        .to_der()
        .expect("a small in-memory TimeStampResp always encodes")
}

/// A granted TimeStampResp (status 0) carrying `token_der` (bytes that are not one DER element
/// give a systemFailure rejection instead).
pub fn granted_response(token_der: &[u8]) -> Vec<u8> {
    let status = StatusInfo {
        status: 0,
        status_string: None,
        fail_info: None,
    };
    match Any::from_der(token_der) {
        Ok(t) => resp_der(status, Some(t)),
        Err(_) => rejection_response(25, "internal error: the token is not DER"),
    }
}

/// A rejection (status 2) with failInfo bit `fail_info_bit` (0 badAlg, 2 badRequest,
/// 5 badDataFormat, 14 timeNotAvailable, 15 unacceptedPolicy, 16 unacceptedExtension,
/// 17 addInfoNotAvailable, 25 systemFailure; anything above 25 becomes 25) and a status text
/// (cut to 200 characters; none if empty).
pub fn rejection_response(fail_info_bit: u8, text: &str) -> Vec<u8> {
    let bit = usize::from(fail_info_bit.min(25));
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    let unused = u8::try_from(7 - bit % 8).expect("below 8");
    let fail_info = BitString::new(unused, bytes).ok();
    let text: String = text.chars().take(200).collect();
    let status = StatusInfo {
        status: 2,
        status_string: (!text.is_empty()).then(|| vec![text]),
        fail_info,
    };
    resp_der(status, None)
}

/// The token of a granted (status 0 or 1) response; otherwise an error with the status, its
/// text and failInfo bits.
pub fn token_from_response(resp_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "time-stamp response";
    asn1::limit(W, resp_der, MAX_TOKEN)?;
    let r = TsResp::from_der(resp_der).map_err(der_err(W))?;
    let s = &r.status;
    if s.status > 1 {
        let text = s
            .status_string
            .as_ref()
            .map(|t| t.join(" "))
            .unwrap_or_default();
        let bits: Vec<String> = s
            .fail_info
            .as_ref()
            .map(|b| {
                b.bits()
                    .enumerate()
                    .filter(|(_, set)| *set)
                    .map(|(i, _)| i.to_string())
                    .collect()
            })
            .unwrap_or_default();
        return Err(bad(
            W,
            format!(
                "the TSA refused (status {}, failInfo bits [{}]): {text}",
                s.status,
                bits.join(",")
            ),
        ));
    }
    r.token
        .ok_or_else(|| bad(W, "granted but carries no token"))?
        .to_der()
        .map_err(|e| bad(W, e.to_string()))
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// genTime (unix seconds, fractions dropped).
    pub gen_time: u64,
    /// The SHA-256 imprint time-stamped.
    pub imprint_sha256: [u8; 32],
    /// The token's serial (minimal big-endian).
    pub serial: Vec<u8>,
    /// The TSA certificate that verified the token.
    pub tsa_cert_der: Option<Vec<u8>>,
}

fn tst_info(
    what: &'static str,
    raw: &RawSignedData<'_>,
) -> Result<(Vec<u8>, TstInfo), CryptoError> {
    let eci = &raw.sd.encap_content_info;
    if eci.econtent_type != asn1::ID_CT_TST_INFO {
        return Err(bad(what, "the content is not a TSTInfo"));
    }
    let content = eci
        .econtent
        .as_ref()
        .ok_or_else(|| bad(what, "no TSTInfo content"))?;
    let octets: OctetString = content.decode_as().map_err(der_err(what))?;
    let tst = TstInfo::from_der(octets.as_bytes()).map_err(der_err(what))?;
    Ok((octets.as_bytes().to_vec(), tst))
}

/// The imprint of a token, unverified (to match it to a signature before adding it).
pub(crate) fn token_imprint(token_der: &[u8]) -> Result<[u8; 32], CryptoError> {
    const W: &str = "time-stamp token";
    asn1::limit(W, token_der, MAX_TOKEN)?;
    let raw = RawSignedData::parse(W, token_der)?;
    read_imprint(W, &tst_info(W, &raw)?.1.message_imprint)
}

/// Verify a token: its signature with `tsa_cert_der` (or the included certificate the signer
/// names when `None`), contentType, messageDigest, signingCertificateV2, and the TSA
/// certificate's id-kp-timeStamping EKU. Trust in the TSA certificate is the caller's.
pub fn verify_token(
    token_der: &[u8],
    tsa_cert_der: Option<&[u8]>,
) -> Result<TokenInfo, CryptoError> {
    const W: &str = "time-stamp token";
    asn1::limit(W, token_der, MAX_TOKEN)?;
    let raw = RawSignedData::parse(W, token_der)?;
    let (tst_der, tst) = tst_info(W, &raw)?;
    let cert_der = raw.signer_cert(W, tsa_cert_der)?;
    let attrs = raw.verify_signer(W, cert_der)?;
    sd::check_content(&attrs, asn1::ID_CT_TST_INFO, &super::sha256(&tst_der))?;
    sd::check_signing_certificate(&attrs, cert_der)?;
    if !cert::has_eku(&cert::decode(cert_der)?, asn1::KP_TIME_STAMPING) {
        return Err(bad(
            W,
            "the signer's certificate lacks the id-kp-timeStamping EKU",
        ));
    }
    Ok(TokenInfo {
        gen_time: tst.gen_time.to_unix_duration().as_secs(),
        imprint_sha256: read_imprint(W, &tst.message_imprint)?,
        serial: asn1::int_magnitude(tst.serial_number.as_bytes())
            .ok_or_else(|| bad(W, "negative serial"))?,
        tsa_cert_der: Some(cert_der.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let d = [7u8; 32];
        let der = build_request(&d, Some(&[0x80, 1]), true).unwrap();
        let r = parse_request(&der).unwrap();
        assert_eq!(r.imprint_sha256, d);
        assert_eq!(r.nonce.as_deref(), Some(&[0x80, 1][..]));
        assert!(r.cert_req);
        assert_eq!(r.policy, None);
        let der = build_request(&d, None, false).unwrap();
        assert_eq!(parse_request(&der).unwrap().nonce, None);
        assert!(parse_request(&der[..der.len() - 1]).is_err());
    }

    #[test]
    fn rejections_carry_the_bit_and_text() {
        let r = rejection_response(0, "SHA-1 is not accepted");
        let e = token_from_response(&r).unwrap_err().to_string();
        assert!(e.contains("status 2, failInfo bits [0]"), "{e}");
        assert!(e.contains("SHA-1 is not accepted"), "{e}");
        let r = rejection_response(16, "");
        let e = token_from_response(&r).unwrap_err().to_string();
        assert!(e.contains("failInfo bits [16]"), "{e}");
        assert!(granted_response(b"junk").len() > 5);
        assert!(token_from_response(&granted_response(b"junk")).is_err());
    }
}
