//! PKI formats: X.509 certificates and CRLs (RFC 5280), PKCS#10 requests (RFC 2986), OCSP
//! (RFC 6960), time-stamps (RFC 3161) and CMS SignedData in the CAdES baseline shape (RFC 5652,
//! ETSI EN 319 122-1).
//!
//! Everything is ECDSA P-256 with SHA-256. The ASN.1 types and DER come from the RustCrypto
//! formats crates (`x509-cert`, `cms`, `x509-ocsp`, `x509-tsp`); every signature is made by a
//! [`CaSigner`] (a key store key through [`KeyStoreSigner`], or an in-memory [`SoftSigner`]) and
//! checked with aws-lc-rs, always over the to-be-signed bytes exactly as received.
//!
//! Conventions: times are unix seconds; serial numbers are positive big-endian byte strings and
//! come back from parsers in minimal form (no leading zero bytes, see [`normalize_serial`]); all
//! DER goes in and out as bytes. These functions check formats and signatures; trust decisions
//! (which roots, revocation, validity at a given time) belong to the caller, except where a
//! function says otherwise.
use crate::jose::{Alg, PublicJwk};
use crate::keystore::KeyStore;
use crate::CryptoError;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use der::asn1::{BitString, Uint};
use der::Encode;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

pub(crate) mod asn1;
pub mod cert;
pub mod cms;
pub mod crl;
pub mod csr;
pub mod ocsp;
pub(crate) mod signed_data;
pub mod tsp;

use asn1::bad;

/// Whether `dotted` is an object identifier this library can write (dotted decimal, at least two
/// arcs, each within the encoder's limits), e.g. a policy OID from configuration.
pub fn is_object_identifier(dotted: &str) -> bool {
    // Each arc checked first: the parser underneath overflows (a panic in debug builds) on an
    // arc beyond 32 bits.
    let arcs_ok = dotted.split('.').all(|arc| {
        !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'))
            && arc.parse::<u32>().is_ok()
    });
    arcs_ok && <der::asn1::ObjectIdentifier as std::str::FromStr>::from_str(dotted).is_ok()
}

/// Unix seconds as a UTC calendar date and time: (year, month, day, hour, minute, second), for
/// showing a certificate's or CRL's times to people and in HTTP dates.
pub fn utc_calendar(secs: u64) -> Result<(u16, u8, u8, u8, u8, u8), CryptoError> {
    let dt = der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(|e| bad("time", e.to_string()))?;
    Ok((
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minutes(),
        dt.seconds(),
    ))
}

/// A signing key for certificates, CRLs, OCSP responses, time-stamps and CMS signatures.
/// ECDSA P-256 with SHA-256 only.
pub trait CaSigner: Send + Sync {
    /// The SubjectPublicKeyInfo DER of the key.
    fn spki_der(&self) -> Vec<u8>;
    /// A DER `ECDSA-Sig-Value` over SHA-256(`msg`).
    fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// A key store key (file store or PKCS#11 token) as a [`CaSigner`]: the store returns r||s,
/// which is converted to DER; every signature is checked against the public key before it is
/// returned, so a handle and a public key that do not belong together fail at once.
pub struct KeyStoreSigner<'a> {
    store: &'a dyn KeyStore,
    kid: String,
    handle: Vec<u8>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for KeyStoreSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStoreSigner")
            .field("backend", &self.store.backend())
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl<'a> KeyStoreSigner<'a> {
    /// Wrap the ES256 key `kid` (with the handle the store returned) and its public key.
    pub fn new(
        store: &'a dyn KeyStore,
        kid: &str,
        handle: &[u8],
        public: &PublicJwk,
    ) -> Result<Self, CryptoError> {
        Ok(Self {
            store,
            kid: kid.to_string(),
            handle: handle.to_vec(),
            spki: spki_from_jwk(public)?,
        })
    }
}

impl CaSigner for KeyStoreSigner<'_> {
    fn spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rs = self.store.sign(&self.kid, &self.handle, Alg::ES256, msg)?;
        let der = raw_to_der(&rs)?;
        verify_p256_der(&self.spki, msg, &der).map_err(|_| {
            CryptoError::Verify("the key store's signature does not match the signer's public key")
        })?;
        Ok(der)
    }
}

/// An in-memory P-256 key (aws-lc-rs): the app's signing key, and tests.
pub struct SoftSigner {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for SoftSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftSigner { .. }")
    }
}

impl SoftSigner {
    /// A new random key.
    pub fn generate() -> Result<Self, CryptoError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| CryptoError::Internal("P-256 key generation"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// A key from its PKCS#8 DER (as [`SoftSigner::pkcs8_der`] gives).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map_err(|_| bad("signing key", "not a P-256 PKCS#8 private key"))?;
        let spki = spki_from_point(pair.public_key().as_ref())?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            spki,
        })
    }

    /// The private key as PKCS#8 DER (for sealing at rest).
    pub fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }
}

impl CaSigner for SoftSigner {
    fn spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), msg)
            .map_err(|_| CryptoError::Internal("ECDSA signing"))?;
        Ok(sig.as_ref().to_vec())
    }
}

/// The SubjectPublicKeyInfo DER of an uncompressed P-256 point.
fn spki_from_point(point: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if point.len() != 65 || point[0] != 4 {
        return Err(bad("P-256 point", "expected 65 bytes, uncompressed"));
    }
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: asn1::EC_PUBLIC_KEY,
            parameters: Some(asn1::P256.into()),
        },
        subject_public_key: BitString::from_bytes(point)
            .map_err(|e| bad("P-256 point", e.to_string()))?,
    };
    asn1::enc("public key", &spki)
}

/// The SubjectPublicKeyInfo DER of a P-256 JWK (any other key type is refused).
pub fn spki_from_jwk(jwk: &PublicJwk) -> Result<Vec<u8>, CryptoError> {
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
        return Err(bad(
            "public key",
            format!(
                "a {} {} key cannot be used here (only EC P-256)",
                jwk.kty,
                jwk.crv.as_deref().unwrap_or("")
            ),
        ));
    }
    let coord = |c: &Option<String>, name: &'static str| -> Result<Vec<u8>, CryptoError> {
        let v = crate::jose::b64_decode(name, c.as_deref().unwrap_or(""))?;
        if v.len() != 32 {
            return Err(bad("public key", format!("P-256 {name} must be 32 bytes")));
        }
        Ok(v)
    };
    let mut point = vec![4u8];
    point.extend(coord(&jwk.x, "x")?);
    point.extend(coord(&jwk.y, "y")?);
    spki_from_point(&point)
}

/// Check a DER ECDSA P-256 / SHA-256 signature over `msg` with the key in `spki_der`.
pub fn verify_p256_der(spki_der: &[u8], msg: &[u8], sig_der: &[u8]) -> Result<(), CryptoError> {
    let point = asn1::p256_point(spki_der)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(msg, sig_der)
        .map_err(|_| CryptoError::Verify("ECDSA P-256 signature"))
}

/// SHA-256 of `b`.
pub fn sha256(b: &[u8]) -> [u8; 32] {
    crate::hash::sha256(b)
}

/// A serial number (or other unsigned big-endian integer) without leading zero bytes: the form
/// the parsers of this module return. Compare serials through it.
pub fn normalize_serial(serial: &[u8]) -> Vec<u8> {
    asn1::minimal(serial)
}

/// r||s (64 bytes) to a DER `ECDSA-Sig-Value`.
fn raw_to_der(rs: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if rs.len() != 64 {
        return Err(bad("ECDSA signature", "expected 64 bytes r||s"));
    }
    let r = Uint::new(&rs[..32]).map_err(|e| bad("ECDSA signature", e.to_string()))?;
    let s = Uint::new(&rs[32..]).map_err(|e| bad("ECDSA signature", e.to_string()))?;
    let mut body = Vec::new();
    r.encode_to_vec(&mut body)
        .and_then(|_| s.encode_to_vec(&mut body))
        .map_err(|e| bad("ECDSA signature", e.to_string()))?;
    let mut out = vec![0x30];
    // At most 2 * 35 bytes: a one-byte length.
    out.push(u8::try_from(body.len()).map_err(|_| bad("ECDSA signature", "too long"))?);
    out.extend(body);
    Ok(out)
}

/// Refuse a signer whose key is not the one in `cert_der`.
pub(crate) fn check_signer(
    what: &'static str,
    cert_der: &[u8],
    signer: &dyn CaSigner,
) -> Result<(), CryptoError> {
    let raw = asn1::raw_cert(cert_der)?;
    if raw.spki != signer.spki_der().as_slice() {
        return Err(bad(
            what,
            "the signing key is not the key of the certificate given for it",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_signature_converts_to_der_that_verifies() {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let fixed = EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            doc.as_ref(),
        )
        .unwrap();
        let spki = spki_from_point(fixed.public_key().as_ref()).unwrap();
        for i in 0..50u8 {
            let msg = [i; 7];
            let rs = fixed.sign(&rng, &msg).unwrap();
            let der = raw_to_der(rs.as_ref()).unwrap();
            verify_p256_der(&spki, &msg, &der).unwrap();
            assert!(verify_p256_der(&spki, b"other", &der).is_err());
        }
        // r and s with high bits and leading zeros encode minimally.
        let mut rs = [0u8; 64];
        rs[0] = 0x80;
        rs[33] = 0x01;
        let der = raw_to_der(&rs).unwrap();
        // r: 02 21 00 80 .. (35 bytes); s: 02 1f 01 .. (33 bytes).
        assert_eq!(&der[..4], &[0x30, 68, 0x02, 0x21]);
        assert!(raw_to_der(&[1u8; 63]).is_err());
    }

    #[test]
    fn soft_signer_round_trips_through_pkcs8_and_jwk() {
        let s = SoftSigner::generate().unwrap();
        let again = SoftSigner::from_pkcs8(&s.pkcs8_der()).unwrap();
        assert_eq!(s.spki_der(), again.spki_der());
        let sig = again.sign_der(b"m").unwrap();
        verify_p256_der(&s.spki_der(), b"m", &sig).unwrap();
        let point = asn1::p256_point(&s.spki_der()).unwrap();
        let jwk = PublicJwk::from_p256_point("k", &point).unwrap();
        assert_eq!(spki_from_jwk(&jwk).unwrap(), s.spki_der());
        let ed = PublicJwk::from_ed25519("k", &[1; 32]).unwrap();
        let e = spki_from_jwk(&ed).unwrap_err().to_string();
        assert!(e.contains("only EC P-256"), "{e}");
        assert!(SoftSigner::from_pkcs8(b"junk").is_err());
        assert_eq!(format!("{s:?}"), "SoftSigner { .. }");
    }

    #[test]
    fn serials_normalize() {
        assert_eq!(normalize_serial(&[0, 0, 5]), vec![5]);
        assert_eq!(normalize_serial(&[0x80]), vec![0x80]);
        assert_eq!(normalize_serial(&[]), vec![0]);
    }
}
