//! PKCS#10 certification requests (RFC 2986): built by a key holder to prove possession of its
//! key, checked by the CA before it certifies the key. P-256 and ecdsa-with-SHA256 only.
use super::asn1::{self, bad, der_err, enc};
use super::cert::{to_name, DistinguishedName};
use super::CaSigner;
use crate::CryptoError;
use der::asn1::{BitString, ObjectIdentifier as Oid, SetOfVec};
use der::{Decode, Tag, Tagged};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::request::{CertReq, CertReqInfo, Version};

const W: &str = "certification request";
/// Largest request accepted.
const MAX: usize = 8 * 1024;
const CN: Oid = Oid::new_unwrap("2.5.4.3");

/// A PKCS#10 request for the signer's key with subject CN=`common_name`, signed by that key.
pub fn build_csr(common_name: &str, signer: &dyn CaSigner) -> Result<Vec<u8>, CryptoError> {
    let subject = to_name(&DistinguishedName {
        common_name: common_name.to_string(),
        ..Default::default()
    })?;
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(&signer.spki_der())
            .map_err(der_err("public key"))?,
        attributes: SetOfVec::new(),
    };
    let tbs = enc(W, &info)?;
    let sig = signer.sign_der(&tbs)?;
    enc(
        W,
        &CertReq {
            info,
            algorithm: asn1::ecdsa_sha256(),
            signature: BitString::from_bytes(&sig).map_err(|e| bad(W, e.to_string()))?,
        },
    )
}

/// What a verified request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// The requested key (P-256 SubjectPublicKeyInfo DER, as in the request).
    pub spki_der: Vec<u8>,
    /// The subject's commonName, if any.
    pub common_name: Option<String>,
}

/// Check a request's proof of possession (its self-signature) and its key type; returns the
/// key and the subject's commonName. Everything else in the subject and the attributes is
/// ignored: the CA decides the certificate's content.
pub fn verify_csr(der: &[u8]) -> Result<CsrInfo, CryptoError> {
    asn1::limit(W, der, MAX)?;
    let req = CertReq::from_der(der).map_err(der_err(W))?;
    let s = asn1::signed(W, der)?;
    let parts = asn1::seq(W, s.tbs)?;
    let spki = parts
        .get(2)
        .filter(|t| t.tag == 0x30)
        .ok_or_else(|| bad(W, "no subjectPKInfo"))?
        .raw;
    asn1::p256_point(spki)?;
    asn1::require_ecdsa_sha256(W, &s.alg)?;
    super::verify_p256_der(spki, s.tbs, &s.sig).map_err(|_| {
        CryptoError::Verify(
            "the request's signature does not verify with its own key (no proof of possession)",
        )
    })?;
    let common_name = req
        .info
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|a| a.oid == CN)
        .and_then(|a| match a.value.tag() {
            Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
                std::str::from_utf8(a.value.value())
                    .ok()
                    .map(str::to_string)
            }
            _ => None,
        });
    Ok(CsrInfo {
        spki_der: spki.to_vec(),
        common_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::SoftSigner;

    #[test]
    fn a_request_verifies_and_a_changed_one_does_not() {
        let k = SoftSigner::generate().unwrap();
        let der = build_csr("device 1", &k).unwrap();
        let info = verify_csr(&der).unwrap();
        assert_eq!(info.spki_der, k.spki_der());
        assert_eq!(info.common_name.as_deref(), Some("device 1"));
        // The CN's last byte sits inside the signed part.
        let i = der.windows(8).position(|w| w == b"device 1").unwrap() + 7;
        let mut bad = der.clone();
        bad[i] ^= 1;
        let e = verify_csr(&bad).unwrap_err();
        assert!(matches!(e, CryptoError::Verify(_)), "{e}");
        assert!(verify_csr(&[]).is_err());
        assert!(verify_csr(&vec![0x30; MAX + 1])
            .unwrap_err()
            .to_string()
            .contains("8192"));
    }
}
