//! The cryptography of the iAM Smart-compatible API for online services (the transport that
//! services built for the real platform use): the HMAC-SHA256 request signature, the content key
//! wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256) to the service's encipherment certificate, and
//! the AES-256-GCM `content` envelope.
//!
//! Written here rather than taken from a crate because it is one fixed layout that no crate
//! implements; each part is a single call into aws-lc-rs. One rule per choice that public
//! clients disagree on, documented in the integration guide and refused otherwise:
//! - signature: Base64 (standard alphabet, padded) of HMAC-SHA256 under the UTF-8 bytes of the
//!   client secret, over `clientID + signatureMethod + timestamp + nonce + body`, URL-encoded in
//!   the header (percent-escapes are decoded before comparing, so unescaped Base64 reads the
//!   same);
//! - key wrapping: RSA-OAEP with SHA-256 and MGF1-SHA-256, no label, keys of 2048 to 4096 bits;
//! - content: Base64 of `IV length (4 bytes, big-endian, always 12) || IV || ciphertext || tag
//!   (16 bytes)`, no associated data.
use crate::error::CryptoError;
use crate::hash::{ct_eq, hmac_sha256};
use crate::rng::Rng;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

/// The only `signatureMethod`.
pub const SIGNATURE_METHOD: &str = "HmacSHA256";
/// Length of a content key (AES-256).
pub const CONTENT_KEY_LEN: usize = 32;
const IV_LEN: usize = 12;
/// The envelope's first four bytes: the IV's length, big-endian.
const IV_LEN_PREFIX: [u8; 4] = [0, 0, 0, 12];
const TAG_LEN: usize = 16;
/// Largest `content` accepted (Base64 characters): bodies of this API are small JSON.
pub const MAX_CONTENT_CHARS: usize = 1 << 20;

fn malformed(what: &'static str, why: impl Into<String>) -> CryptoError {
    CryptoError::Malformed {
        what,
        why: why.into(),
    }
}

/// The message a request's signature covers.
pub fn signed_message(
    client_id: &str,
    signature_method: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        client_id.len() + signature_method.len() + timestamp.len() + nonce.len() + body.len(),
    );
    for part in [client_id, signature_method, timestamp, nonce] {
        m.extend_from_slice(part.as_bytes());
    }
    m.extend_from_slice(body);
    m
}

/// The signature header's value for `message` under `secret`: URL-encoded Base64 of the HMAC.
pub fn sign(secret: &[u8], message: &[u8]) -> String {
    let b64 = STANDARD.encode(hmac_sha256(secret, message));
    percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Whether `presented` (the header's value) is the signature of `message` under `secret`.
/// Constant time in the MAC.
pub fn verify(secret: &[u8], message: &[u8], presented: &str) -> bool {
    let Ok(decoded) = percent_encoding::percent_decode_str(presented).decode_utf8() else {
        return false;
    };
    let Ok(mac) = STANDARD.decode(decoded.trim().as_bytes()) else {
        return false;
    };
    ct_eq(&mac, &hmac_sha256(secret, message))
}

/// A service's encipherment key, read from its certificate.
#[derive(Debug, Clone)]
pub struct EnciphermentKey {
    spki_der: Vec<u8>,
    /// Key size in bits.
    pub bits: usize,
    /// SHA-256 of the certificate's DER: which certificate a key was wrapped to.
    pub cert_sha256: [u8; 32],
    /// notAfter of the certificate (unix seconds).
    pub not_after: u64,
    /// notBefore of the certificate (unix seconds).
    pub not_before: u64,
}

impl EnciphermentKey {
    /// Read the RSA public key of a certificate (DER). Refuses other key types, and keys under
    /// 2048 or over 4096 bits. Validity is the caller's to judge ([`Self::not_after`]).
    pub fn from_cert(cert_der: &[u8]) -> Result<Self, CryptoError> {
        let info = crate::pki::cert::parse(cert_der)?;
        let key = PublicEncryptingKey::from_der(&info.spki_der).map_err(|_| {
            malformed(
                "encipherment certificate",
                "its key is not an RSA key of 2048 to 4096 bits (RSA-OAEP needs one)",
            )
        })?;
        let bits = key.key_size_bits();
        if !(2048..=4096).contains(&bits) {
            return Err(malformed(
                "encipherment certificate",
                format!("its RSA key has {bits} bits; use 2048 to 4096"),
            ));
        }
        Ok(Self {
            spki_der: info.spki_der,
            bits,
            cert_sha256: crate::hash::sha256(cert_der),
            not_after: info.not_after,
            not_before: info.not_before,
        })
    }

    /// Wrap `content_key` (RSA-OAEP, SHA-256): the ciphertext.
    pub fn wrap(&self, content_key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = PublicEncryptingKey::from_der(&self.spki_der)
            .ok()
            .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
            .ok_or_else(|| malformed("encipherment key", "not an RSA public key"))?;
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key
            .encrypt(&OAEP_SHA256_MGF1SHA256, content_key, &mut out, None)
            .map_err(|_| malformed("content key", "RSA-OAEP encryption failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }
}

/// A fresh content key.
pub fn new_content_key(rng: &dyn Rng) -> Zeroizing<[u8; CONTENT_KEY_LEN]> {
    let mut k = Zeroizing::new([0u8; CONTENT_KEY_LEN]);
    rng.fill(k.as_mut());
    k
}

fn aead(key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| malformed("content key", "not 32 bytes"))
}

/// Encrypt `plaintext` under `key` into the `content` envelope (Base64).
pub fn seal_content(key: &[u8], plaintext: &[u8], rng: &dyn Rng) -> Result<String, CryptoError> {
    let k = aead(key)?;
    let mut iv = [0u8; IV_LEN];
    rng.fill(&mut iv);
    let mut body = plaintext.to_vec();
    k.seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut body)
        .map_err(|_| malformed("content", "encryption failed"))?;
    let mut out = Vec::with_capacity(4 + IV_LEN + body.len());
    out.extend_from_slice(&IV_LEN_PREFIX);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&body);
    Ok(STANDARD.encode(out))
}

/// Decrypt a `content` envelope under `key`. Fails on any other layout, a wrong key or an
/// altered byte.
pub fn open_content(key: &[u8], content: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    const W: &str = "content";
    if content.len() > MAX_CONTENT_CHARS {
        return Err(malformed(W, "too large"));
    }
    let raw = STANDARD
        .decode(content.trim().as_bytes())
        .map_err(|_| malformed(W, "not Base64"))?;
    if raw.len() < 4 + IV_LEN + TAG_LEN {
        return Err(malformed(W, "too short"));
    }
    let (len, rest) = raw.split_at(4);
    if len != IV_LEN_PREFIX {
        return Err(malformed(
            W,
            "the IV length must be 12 (first 4 bytes, big-endian)",
        ));
    }
    let (iv, sealed) = rest.split_at(IV_LEN);
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| malformed(W, "bad IV"))?;
    let mut body = Zeroizing::new(sealed.to_vec());
    let n = aead(key)?
        .open_in_place(nonce, Aad::empty(), body.as_mut())
        .map_err(|_| CryptoError::Verify("the content does not decrypt under the content key"))?
        .len();
    body.truncate(n);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn a_signature_verifies_escaped_or_not_and_nothing_else_does() {
        let m = signed_message("c_1", SIGNATURE_METHOD, "1700000000000", "n1", b"{}");
        assert_eq!(m, b"c_1HmacSHA2561700000000000n1{}");
        let sig = sign(b"secret", &m);
        assert!(verify(b"secret", &m, &sig));
        let unescaped = percent_encoding::percent_decode_str(&sig)
            .decode_utf8()
            .unwrap()
            .to_string();
        assert!(verify(b"secret", &m, &unescaped));
        assert!(!verify(b"other", &m, &sig));
        assert!(!verify(b"secret", b"c_1HmacSHA2561700000000000n1{ }", &sig));
        assert!(!verify(b"secret", &m, "not base64 %%"));
        assert!(!verify(b"secret", &m, ""));
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let pem = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".cert.pem") {
            crate::pki::cert::from_pem(&pem).unwrap()
        } else {
            der::pem::decode_vec(pem.as_bytes()).unwrap().1
        }
    }

    #[test]
    fn a_wrapped_key_opens_with_the_certificate_s_private_key_only() {
        use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey};
        let cert = fixture("osp-kek.cert.pem");
        let key = EnciphermentKey::from_cert(&cert).unwrap();
        assert_eq!(key.bits, 2048);
        assert_eq!(key.cert_sha256, crate::hash::sha256(&cert));
        let content_key = new_content_key(&SeededRng::new(1));
        let wrapped = key.wrap(content_key.as_ref()).unwrap();
        assert_eq!(wrapped.len(), 256);
        // OAEP is randomised: the same key wraps differently each time.
        assert_ne!(wrapped, key.wrap(content_key.as_ref()).unwrap());
        let private = OaepPrivateDecryptingKey::new(
            PrivateDecryptingKey::from_pkcs8(&fixture("osp-kek-TEST-ONLY.key.pem")).unwrap(),
        )
        .unwrap();
        let mut out = vec![0u8; private.min_output_size()];
        let opened = private
            .decrypt(&OAEP_SHA256_MGF1SHA256, &wrapped, &mut out, None)
            .unwrap();
        assert_eq!(opened, content_key.as_ref());
        let mut changed = wrapped.clone();
        changed[100] ^= 1;
        assert!(private
            .decrypt(&OAEP_SHA256_MGF1SHA256, &changed, &mut out, None)
            .is_err());
    }

    #[test]
    fn certificates_without_a_usable_rsa_key_are_refused_with_the_reason() {
        let ec = EnciphermentKey::from_cert(&fixture("osp-kek-ec.cert.pem")).unwrap_err();
        assert!(ec.to_string().contains("not an RSA key of 2048"), "{ec}");
        let small = EnciphermentKey::from_cert(&fixture("osp-kek-1024.cert.pem")).unwrap_err();
        assert!(small.to_string().contains("2048 to 4096 bits"), "{small}");
        assert!(EnciphermentKey::from_cert(b"not a certificate").is_err());
    }

    #[test]
    fn content_round_trips_and_refuses_a_changed_byte_a_wrong_key_and_another_layout() {
        let rng = SeededRng::new(7);
        let key = new_content_key(&rng);
        let sealed = seal_content(key.as_ref(), br#"{"a":1}"#, &rng).unwrap();
        let raw = STANDARD.decode(&sealed).unwrap();
        assert_eq!(&raw[..4], &[0, 0, 0, 12]);
        assert_eq!(raw.len(), 4 + 12 + 7 + 16);
        assert_eq!(
            &open_content(key.as_ref(), &sealed).unwrap()[..],
            br#"{"a":1}"#
        );
        let other = new_content_key(&rng);
        assert!(open_content(other.as_ref(), &sealed).is_err());
        for i in [0, 5, 20, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[i] ^= 1;
            assert!(
                open_content(key.as_ref(), &STANDARD.encode(&bad)).is_err(),
                "{i}"
            );
        }
        assert!(open_content(key.as_ref(), "AAAA").is_err());
        assert!(open_content(key.as_ref(), "***").is_err());
    }
}
