//! X.509 v3 certificates (RFC 5280) for the platform's CA hierarchy: root, issuing CA, natural
//! persons' signing certificates (ETSI EN 319 412-2 shape), the OCSP responder and the TSA.
use super::asn1::{self, bad, der_err, enc};
use super::{check_signer, verify_p256_der, CaSigner};
use crate::CryptoError;
use const_oid::AssociatedOid;
use der::asn1::PrintableStringRef;
use der::asn1::{Any, BitString, Ia5String, Null, ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use spki::SubjectPublicKeyInfoOwned;
use std::str::FromStr;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CertificatePolicies, CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::Certificate;

const CN: Oid = Oid::new_unwrap("2.5.4.3");
const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
const SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
const COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
const ORG: Oid = Oid::new_unwrap("2.5.4.10");
const ORG_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");

/// A subject or issuer name. Encoded in the order C, O, OU, surname, givenName, serialNumber,
/// CN, one attribute per RDN; UTF8String except C and serialNumber (PrintableString).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    /// commonName (required, at most 64 characters).
    pub common_name: String,
    /// organizationName.
    pub organization: Option<String>,
    /// organizationalUnitName.
    pub organizational_unit: Option<String>,
    /// countryName: two upper-case letters (ISO 3166).
    pub country: Option<String>,
    /// givenName.
    pub given_name: Option<String>,
    /// surname.
    pub surname: Option<String>,
    /// serialNumber, e.g. an ETSI EN 319 412-1 semantics identifier form (`IDCHK-...`).
    pub serial_number: Option<String>,
}

/// What a certificate is for; decides its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Self-signed root: basicConstraints CA (critical), keyCertSign + cRLSign (critical), SKI.
    RootCa,
    /// Issuing CA: CA with pathLen 0, keyCertSign + cRLSign, SKI, AKI.
    IssuingCa,
    /// A natural person's signing certificate (ETSI EN 319 412-2): nonRepudiation only
    /// (critical), SKI, AKI, certificatePolicies, qcStatements with the ETSI natural-person
    /// semantics identifier (not a qualified certificate: no QcCompliance), CRL distribution
    /// point and AIA (OCSP, caIssuers) when their URLs are given.
    NaturalPersonSigning,
    /// OCSP responder: EKU id-kp-OCSPSigning, digitalSignature, id-pkix-ocsp-nocheck.
    OcspResponder,
    /// Time-stamping authority: EKU id-kp-timeStamping (critical, RFC 3161), digitalSignature.
    TimeStamping,
}

/// What to certify.
#[derive(Debug, Clone)]
pub struct CertTemplate {
    /// Positive big-endian serial (at most 20 bytes).
    pub serial: Vec<u8>,
    /// The subject.
    pub subject: DistinguishedName,
    /// The subject's P-256 SubjectPublicKeyInfo DER.
    pub subject_spki_der: Vec<u8>,
    /// Start of validity (unix seconds).
    pub not_before: u64,
    /// End of validity (unix seconds).
    pub not_after: u64,
    /// Extensions profile.
    pub profile: Profile,
    /// certificatePolicies OID (dotted), if any.
    pub policy_oid: Option<String>,
    /// CRL distribution point URL.
    pub crl_url: Option<String>,
    /// OCSP responder URL (AIA).
    pub ocsp_url: Option<String>,
    /// Issuer certificate URL (AIA caIssuers).
    pub ca_issuers_url: Option<String>,
}

/// What [`parse`] reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number, minimal big-endian.
    pub serial: Vec<u8>,
    /// The subject's commonName ("" if none).
    pub subject_cn: String,
    /// The subject as an RFC 4514 string.
    pub subject: String,
    /// The issuer as an RFC 4514 string.
    pub issuer: String,
    /// notBefore (unix seconds).
    pub not_before: u64,
    /// notAfter (unix seconds).
    pub not_after: u64,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// The subject's serialNumber attribute.
    pub serial_number_attr: Option<String>,
    /// The subject's organizationName.
    pub subject_organization: Option<String>,
}

/// QCStatement (RFC 3739).
#[derive(Sequence)]
struct QcStatement {
    statement_id: Oid,
    statement_info: Option<Any>,
}

fn attr(oid: Oid, value: &str, printable: bool) -> Result<RelativeDistinguishedName, CryptoError> {
    let name = asn1::name_of(&oid);
    let chars = value.chars().count();
    if chars == 0 || chars > 64 {
        return Err(bad(
            "distinguished name",
            format!("{name} must have 1 to 64 characters"),
        ));
    }
    let value = if printable {
        let p = PrintableStringRef::new(value).map_err(|_| {
            bad(
                "distinguished name",
                format!(
                    "{name} {value:?} is not a PrintableString (A-Z a-z 0-9 space '()+,-./:=?)"
                ),
            )
        })?;
        Any::encode_from(&p)
    } else {
        Any::new(Tag::Utf8String, value.as_bytes())
    }
    .map_err(|e| bad("distinguished name", e.to_string()))?;
    let atv = AttributeTypeAndValue { oid, value };
    RelativeDistinguishedName::try_from(vec![atv])
        .map_err(|e| bad("distinguished name", e.to_string()))
}

/// The X.501 Name of a [`DistinguishedName`].
pub(crate) fn to_name(dn: &DistinguishedName) -> Result<Name, CryptoError> {
    if let Some(c) = &dn.country {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad(
                "distinguished name",
                format!("country {c:?} must be two upper-case letters (ISO 3166)"),
            ));
        }
    }
    let mut rdns = Vec::new();
    let fields: [(Oid, &Option<String>, bool); 6] = [
        (COUNTRY, &dn.country, true),
        (ORG, &dn.organization, false),
        (ORG_UNIT, &dn.organizational_unit, false),
        (SURNAME, &dn.surname, false),
        (GIVEN_NAME, &dn.given_name, false),
        (SERIAL_NUMBER, &dn.serial_number, true),
    ];
    for (oid, v, printable) in fields {
        if let Some(v) = v {
            rdns.push(attr(oid, v, printable)?);
        }
    }
    rdns.push(attr(CN, &dn.common_name, false)?);
    Ok(Name::from(rdns))
}

fn ext<T: Encode>(oid: Oid, critical: bool, v: &T) -> Result<Extension, CryptoError> {
    let value = OctetString::new(enc("certificate extension", v)?)
        .map_err(|e| bad("certificate extension", e.to_string()))?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: value,
    })
}

fn uri(url: &str) -> Result<GeneralName, CryptoError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(bad("URL", format!("{url:?} is not an http(s) URL")));
    }
    Ia5String::new(url)
        .map(GeneralName::UniformResourceIdentifier)
        .map_err(|_| bad("URL", format!("{url:?} is not ASCII")))
}

fn key_usage(flags: impl Into<der::flagset::FlagSet<KeyUsages>>) -> Result<Extension, CryptoError> {
    ext(KeyUsage::OID, true, &KeyUsage(flags.into()))
}

fn extensions(
    t: &CertTemplate,
    issuer_key_id: Option<Vec<u8>>,
) -> Result<Vec<Extension>, CryptoError> {
    let mut out = Vec::new();
    let ca = |path_len| BasicConstraints {
        ca: true,
        path_len_constraint: path_len,
    };
    match t.profile {
        Profile::RootCa => {
            out.push(ext(BasicConstraints::OID, true, &ca(None))?);
            out.push(key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?);
        }
        Profile::IssuingCa => {
            out.push(ext(BasicConstraints::OID, true, &ca(Some(0)))?);
            out.push(key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?);
        }
        Profile::NaturalPersonSigning => {
            out.push(key_usage(KeyUsages::NonRepudiation)?);
            // qcStatements: id-qcs-pkixQCSyntax-v2 with SemanticsInformation
            // { semanticsIdentifier id-etsi-qcs-semanticsId-Natural }.
            let semantics = Any::encode_from(&vec![asn1::SEMANTICS_ID_NATURAL])
                .map_err(|e| bad("certificate extension", e.to_string()))?;
            let statements = vec![QcStatement {
                statement_id: asn1::QCS_PKIX_SYNTAX_V2,
                statement_info: Some(semantics),
            }];
            out.push(ext(asn1::QC_STATEMENTS, false, &statements)?);
        }
        Profile::OcspResponder => {
            out.push(key_usage(KeyUsages::DigitalSignature)?);
            let eku = ExtendedKeyUsage(vec![asn1::KP_OCSP_SIGNING]);
            out.push(ext(ExtendedKeyUsage::OID, false, &eku)?);
            out.push(ext(asn1::OCSP_NOCHECK, false, &Null)?);
        }
        Profile::TimeStamping => {
            out.push(key_usage(KeyUsages::DigitalSignature)?);
            let eku = ExtendedKeyUsage(vec![asn1::KP_TIME_STAMPING]);
            out.push(ext(ExtendedKeyUsage::OID, true, &eku)?);
        }
    }
    let ski = asn1::key_id(&t.subject_spki_der)?;
    let ski = OctetString::new(ski).map_err(|e| bad("certificate extension", e.to_string()))?;
    out.push(ext(
        SubjectKeyIdentifier::OID,
        false,
        &SubjectKeyIdentifier(ski),
    )?);
    if let Some(kid) = issuer_key_id {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(
                OctetString::new(kid).map_err(|e| bad("certificate extension", e.to_string()))?,
            ),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        out.push(ext(AuthorityKeyIdentifier::OID, false, &aki)?);
    }
    if let Some(p) = &t.policy_oid {
        let oid =
            Oid::from_str(p).map_err(|_| bad("policy OID", format!("{p:?} is not an OID")))?;
        let policies = CertificatePolicies(vec![PolicyInformation {
            policy_identifier: oid,
            policy_qualifiers: None,
        }]);
        out.push(ext(CertificatePolicies::OID, false, &policies)?);
    }
    if let Some(url) = &t.crl_url {
        let dp = CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        }]);
        out.push(ext(CrlDistributionPoints::OID, false, &dp)?);
    }
    let mut aia = Vec::new();
    for (method, url) in [
        (asn1::AD_OCSP, &t.ocsp_url),
        (asn1::AD_CA_ISSUERS, &t.ca_issuers_url),
    ] {
        if let Some(url) = url {
            aia.push(AccessDescription {
                access_method: method,
                access_location: uri(url)?,
            });
        }
    }
    if !aia.is_empty() {
        let aia = AuthorityInfoAccessSyntax(aia);
        out.push(ext(AuthorityInfoAccessSyntax::OID, false, &aia)?);
    }
    Ok(out)
}

/// Largest certificate accepted.
const MAX_CERT: usize = 64 * 1024;

pub(crate) fn decode(der: &[u8]) -> Result<Certificate, CryptoError> {
    asn1::limit("certificate", der, MAX_CERT)?;
    Certificate::from_der(der).map_err(der_err("certificate"))
}

/// The key identifier an issued certificate's AKI carries: the issuer's SKI, else computed.
fn subject_key_id(c: &Certificate, spki_der: &[u8]) -> Result<Vec<u8>, CryptoError> {
    match c.tbs_certificate.get::<SubjectKeyIdentifier>() {
        Ok(Some((_, ski))) => Ok(ski.0.as_bytes().to_vec()),
        _ => asn1::key_id(spki_der),
    }
}

pub(crate) fn basic_constraints(c: &Certificate) -> Option<BasicConstraints> {
    c.tbs_certificate
        .get::<BasicConstraints>()
        .ok()
        .flatten()
        .map(|(_, b)| b)
}

pub(crate) fn key_usages(c: &Certificate) -> Option<KeyUsage> {
    c.tbs_certificate
        .get::<KeyUsage>()
        .ok()
        .flatten()
        .map(|(_, k)| k)
}

/// Whether the certificate's extended key usage lists `oid`.
pub(crate) fn has_eku(c: &Certificate, oid: Oid) -> bool {
    matches!(c.tbs_certificate.get::<ExtendedKeyUsage>(), Ok(Some((_, e))) if e.0.contains(&oid))
}

fn check_ca(what: &'static str, c: &Certificate) -> Result<(), CryptoError> {
    if !basic_constraints(c).is_some_and(|b| b.ca) {
        return Err(bad(
            what,
            "the issuer certificate is not a CA (basicConstraints cA)",
        ));
    }
    if key_usages(c).is_some_and(|k| !k.key_cert_sign()) {
        return Err(bad(
            what,
            "the issuer certificate lacks the keyCertSign key usage",
        ));
    }
    Ok(())
}

/// Issue a certificate signed by `signer`. `issuer_cert_der` is the issuer's certificate, or
/// `None` for a self-signed root (subject = issuer; `Profile::RootCa` only). The signer's key
/// must be the issuer certificate's key; the issuer must be a CA whose validity covers the new
/// certificate's.
pub fn issue(
    t: &CertTemplate,
    issuer_cert_der: Option<&[u8]>,
    signer: &dyn CaSigner,
) -> Result<Vec<u8>, CryptoError> {
    const W: &str = "certificate template";
    if t.not_before >= t.not_after {
        return Err(bad(W, "notBefore must be before notAfter"));
    }
    if t.serial.iter().all(|&b| b == 0) || t.serial.len() > 20 {
        return Err(bad(
            W,
            "the serial must be a positive number of at most 20 bytes",
        ));
    }
    if t.serial.first().is_some_and(|&b| b & 0x80 != 0) && t.serial.len() == 20 {
        return Err(bad(W, "a 20-byte serial must have its top bit clear"));
    }
    asn1::p256_point(&t.subject_spki_der)?;
    let subject = to_name(&t.subject)?;
    let (issuer, issuer_key_id) = match issuer_cert_der {
        None => {
            if t.profile != Profile::RootCa {
                return Err(bad(W, "only Profile::RootCa can be self-signed"));
            }
            if signer.spki_der() != t.subject_spki_der {
                return Err(bad(
                    W,
                    "a self-signed certificate must be signed by its own key",
                ));
            }
            (subject.clone(), None)
        }
        Some(der) => {
            if t.profile == Profile::RootCa {
                return Err(bad(W, "Profile::RootCa is for self-signed certificates"));
            }
            check_signer(W, der, signer)?;
            let ic = decode(der)?;
            check_ca(W, &ic)?;
            if t.profile == Profile::IssuingCa
                && basic_constraints(&ic).and_then(|b| b.path_len_constraint) == Some(0)
            {
                return Err(bad(
                    W,
                    "the issuer's pathLen 0 forbids issuing a CA under it",
                ));
            }
            let v = &ic.tbs_certificate.validity;
            if t.not_after > asn1::unix(&v.not_after) || t.not_before < asn1::unix(&v.not_before) {
                return Err(bad(
                    W,
                    "the certificate's validity must lie within the issuer's",
                ));
            }
            let kid = subject_key_id(&ic, &signer.spki_der())?;
            (ic.tbs_certificate.subject, Some(kid))
        }
    };
    let spki =
        SubjectPublicKeyInfoOwned::from_der(&t.subject_spki_der).map_err(der_err("public key"))?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&t.serial).map_err(|e| bad(W, e.to_string()))?,
        signature: asn1::ecdsa_sha256(),
        issuer,
        validity: Validity {
            not_before: asn1::x509_time(t.not_before)?,
            not_after: asn1::x509_time(t.not_after)?,
        },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions(t, issuer_key_id)?),
    };
    let tbs_der = enc("certificate", &tbs)?;
    let sig = signer.sign_der(&tbs_der)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: asn1::ecdsa_sha256(),
        signature: BitString::from_bytes(&sig).map_err(|e| bad("certificate", e.to_string()))?,
    };
    enc("certificate", &cert)
}

fn text(v: &Any) -> Option<String> {
    match v.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
            std::str::from_utf8(v.value()).ok().map(str::to_string)
        }
        _ => None,
    }
}

fn first_attr(name: &Name, oid: Oid) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == oid)
        .and_then(|atv| text(&atv.value))
}

/// Read a certificate (any key type; nothing is verified).
pub fn parse(der: &[u8]) -> Result<CertInfo, CryptoError> {
    let c = decode(der)?;
    let raw = asn1::raw_cert(der)?;
    let t = &c.tbs_certificate;
    Ok(CertInfo {
        serial: asn1::minimal(t.serial_number.as_bytes()),
        subject_cn: first_attr(&t.subject, CN).unwrap_or_default(),
        subject: t.subject.to_string(),
        issuer: t.issuer.to_string(),
        not_before: asn1::unix(&t.validity.not_before),
        not_after: asn1::unix(&t.validity.not_after),
        spki_der: raw.spki.to_vec(),
        is_ca: basic_constraints(&c).is_some_and(|b| b.ca),
        serial_number_attr: first_attr(&t.subject, SERIAL_NUMBER),
        subject_organization: first_attr(&t.subject, ORG),
    })
}

/// Check that `cert_der` was signed by the key of `issuer_der` (ecdsa-with-SHA256, P-256), that
/// its issuer name is the issuer's subject, and that the issuer is a CA. Validity periods and
/// revocation are the caller's to judge.
pub fn verify_issued_by(cert_der: &[u8], issuer_der: &[u8]) -> Result<(), CryptoError> {
    const W: &str = "certificate";
    let c = decode(cert_der)?;
    let ic = decode(issuer_der)?;
    let s = asn1::signed(W, cert_der)?;
    asn1::require_ecdsa_sha256(W, &s.alg)?;
    if c.tbs_certificate.signature != s.alg {
        return Err(bad(W, "the inner and outer signature algorithms differ"));
    }
    if c.tbs_certificate.issuer != ic.tbs_certificate.subject {
        return Err(CryptoError::Verify(
            "the certificate's issuer name is not the issuer certificate's subject",
        ));
    }
    check_ca(W, &ic)?;
    let raw = asn1::raw_cert(issuer_der)?;
    verify_p256_der(raw.spki, s.tbs, &s.sig)
        .map_err(|_| CryptoError::Verify("the certificate's signature is not the issuer's"))
}

/// PEM (`CERTIFICATE`, LF line ends) of a certificate's DER.
pub fn to_pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .expect("base64 of a byte string always encodes")
}

/// The DER of a PEM `CERTIFICATE` (the first one, if several).
pub fn from_pem(pem: &str) -> Result<Vec<u8>, CryptoError> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or_else(|| bad("PEM", "no -----BEGIN CERTIFICATE----- line"))?;
    let end = pem[start..]
        .find(END)
        .ok_or_else(|| bad("PEM", "no -----END CERTIFICATE----- line"))?;
    let block = &pem[start..start + end + END.len()];
    let (label, der) = der::pem::decode_vec(block.as_bytes())
        .map_err(|e| bad("PEM", format!("cannot decode ({e})")))?;
    if label != "CERTIFICATE" {
        return Err(bad("PEM", format!("expected a CERTIFICATE, got {label}")));
    }
    decode(&der)?;
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_encoded_in_order() {
        let dn = DistinguishedName {
            common_name: "CHAN Tai Man".into(),
            country: Some("HK".into()),
            given_name: Some("Tai Man".into()),
            surname: Some("CHAN".into()),
            serial_number: Some("IDCHK-A1234563".into()),
            ..Default::default()
        };
        let n = to_name(&dn).unwrap();
        let s = n.to_string();
        assert!(s.starts_with("CN=CHAN Tai Man,"), "{s}");
        assert!(s.ends_with("C=HK"), "{s}");
        assert_eq!(
            first_attr(&n, SERIAL_NUMBER).as_deref(),
            Some("IDCHK-A1234563")
        );
        let c = n.0[0].0.get(0).unwrap();
        assert_eq!(c.value.tag(), Tag::PrintableString);
        let bad_c = DistinguishedName {
            country: Some("hk".into()),
            ..dn.clone()
        };
        assert!(to_name(&bad_c)
            .unwrap_err()
            .to_string()
            .contains("two upper-case"));
        let bad_sn = DistinguishedName {
            serial_number: Some("IDC_HK".into()),
            ..dn.clone()
        };
        assert!(to_name(&bad_sn)
            .unwrap_err()
            .to_string()
            .contains("PrintableString"));
        let empty = DistinguishedName::default();
        assert!(to_name(&empty).is_err());
        let chinese = DistinguishedName {
            common_name: "陳大文".into(),
            ..Default::default()
        };
        assert_eq!(
            first_attr(&to_name(&chinese).unwrap(), CN).as_deref(),
            Some("陳大文")
        );
    }

    #[test]
    fn pem_round_trips_and_refuses_other_labels() {
        assert!(
            from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
        );
        assert!(from_pem("nothing").is_err());
    }
}
