//! JWE (RFC 7516) with ECDH-ES key agreement on P-256 and A256GCM content encryption (RFC 7518
//! section 4.6, direct key agreement): how data released to an online service is encrypted to
//! the service's registered encryption key, end to end.
use crate::jose::{b64_decode, PublicJwk};
use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, ECDH_P256};
use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use zeroize::Zeroizing;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn bad(why: &str) -> CryptoError {
    CryptoError::Malformed {
        what: "JWE",
        why: why.into(),
    }
}

/// The Concat KDF of NIST SP 800-56A as RFC 7518 section 4.6.2 uses it, for a 256-bit key.
fn concat_kdf(z: &[u8], enc: &str, apu: &[u8], apv: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut input = Vec::with_capacity(4 + z.len() + 64);
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(z);
    for part in [enc.as_bytes(), apu, apv] {
        let len = u32::try_from(part.len())
            .expect("enc, apu and apv are header values, far below 4 GiB (body limits)");
        input.extend_from_slice(&len.to_be_bytes());
        input.extend_from_slice(part);
    }
    input.extend_from_slice(&256u32.to_be_bytes());
    let d = digest(&SHA256, &input);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(d.as_ref());
    input.iter_mut().for_each(|b| *b = 0);
    out
}

fn point(jwk: &PublicJwk) -> Result<Vec<u8>, CryptoError> {
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") {
        return Err(CryptoError::Alg("ECDH-ES needs a P-256 key".into()));
    }
    let x = b64_decode("jwk x", jwk.x.as_deref().unwrap_or_default())?;
    let y = b64_decode("jwk y", jwk.y.as_deref().unwrap_or_default())?;
    if x.len() != 32 || y.len() != 32 {
        return Err(bad("P-256 coordinates must be 32 bytes"));
    }
    let mut p = vec![4u8];
    p.extend_from_slice(&x);
    p.extend_from_slice(&y);
    Ok(p)
}

fn jwk_of_point(p: &[u8]) -> Result<serde_json::Value, CryptoError> {
    if p.len() != 65 || p[0] != 4 {
        return Err(bad("not an uncompressed P-256 point"));
    }
    Ok(serde_json::json!({ "kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..]) }))
}

/// Encrypt `plaintext` to `recipient` (an EC P-256 public key); `cty` names nested content
/// (`JWT` for a signed token inside).
pub fn encrypt(
    recipient: &PublicJwk,
    plaintext: &[u8],
    cty: Option<&str>,
) -> Result<String, CryptoError> {
    let peer = point(recipient)?;
    let eph = PrivateKey::generate(&ECDH_P256)
        .map_err(|_| CryptoError::Internal("ECDH key generation"))?;
    let eph_pub = eph
        .compute_public_key()
        .map_err(|_| CryptoError::Internal("ECDH public key"))?;
    let mut header = serde_json::json!({
        "alg": "ECDH-ES",
        "enc": "A256GCM",
        "epk": jwk_of_point(eph_pub.as_ref())?,
    });
    if let Some(k) = &recipient.kid {
        header["kid"] = serde_json::Value::String(k.clone());
    }
    if let Some(c) = cty {
        header["cty"] = serde_json::Value::String(c.into());
    }
    let cek = agreement::agree(
        &eph,
        UnparsedPublicKey::new(&ECDH_P256, &peer),
        CryptoError::Verify("ECDH with the recipient's key"),
        |z| Ok(concat_kdf(z, "A256GCM", b"", b"")),
    )?;
    let protected = b64(header.to_string().as_bytes());
    let mut iv = [0u8; 12];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| CryptoError::Internal("random"))?;
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &cek[..]).map_err(|_| CryptoError::Internal("aes"))?,
    );
    let mut buf = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(protected.as_bytes()),
            &mut buf,
        )
        .map_err(|_| CryptoError::Internal("aes-gcm"))?;
    Ok(format!(
        "{protected}..{}.{}.{}",
        b64(&iv),
        b64(&buf),
        b64(tag.as_ref())
    ))
}

/// A recipient's P-256 key-agreement key (services hold theirs; tests and examples use this).
pub struct EncryptionKey {
    key: PrivateKey,
    kid: String,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({})", self.kid)
    }
}

impl EncryptionKey {
    /// A new key with id `kid`.
    pub fn generate(kid: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            key: PrivateKey::generate(&ECDH_P256)
                .map_err(|_| CryptoError::Internal("ECDH key generation"))?,
            kid: kid.into(),
        })
    }

    /// The public key to register (`use`: `enc`, `alg`: `ECDH-ES`).
    pub fn public_jwk(&self) -> Result<serde_json::Value, CryptoError> {
        let p = self
            .key
            .compute_public_key()
            .map_err(|_| CryptoError::Internal("ECDH public key"))?;
        let mut j = jwk_of_point(p.as_ref())?;
        j["kid"] = serde_json::Value::String(self.kid.clone());
        j["use"] = "enc".into();
        j["alg"] = "ECDH-ES".into();
        Ok(j)
    }

    /// Decrypt a JWE whose content is a JWS (`cty` `JWT`) and verify that JWS with one of
    /// `signers` (ES256 or EdDSA) and its `typ`: the content is then proved to come from the
    /// holder of a signer's key, not merely from someone who knew this key's public half.
    /// Returns the signed payload.
    pub fn decrypt_signed(
        &self,
        jwe: &str,
        signers: &[PublicJwk],
        typ: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        let (header, inner) = self.decrypt_with_header(jwe)?;
        if header["cty"] != "JWT" {
            return Err(bad("the content is not signed (cty is not JWT)"));
        }
        let inner = String::from_utf8(inner).map_err(|_| bad("the signed content is not text"))?;
        let (h, payload) = crate::jose::verify_compact(
            &inner,
            signers,
            &[crate::jose::Alg::ES256, crate::jose::Alg::EdDSA],
        )?;
        if h.typ.as_deref() != Some(typ) {
            return Err(CryptoError::Verify("the signed content is of another type"));
        }
        Ok(payload)
    }

    /// Decrypt a compact JWE made by [`encrypt`] for this key.
    pub fn decrypt(&self, jwe: &str) -> Result<Vec<u8>, CryptoError> {
        Ok(self.decrypt_with_header(jwe)?.1)
    }

    /// [`EncryptionKey::decrypt`], with the protected header.
    pub fn decrypt_with_header(
        &self,
        jwe: &str,
    ) -> Result<(serde_json::Value, Vec<u8>), CryptoError> {
        if jwe.len() > 16 * 1024 * 1024 {
            return Err(bad("too large"));
        }
        let parts: Vec<&str> = jwe.split('.').collect();
        let [h, ek, iv, ct, tag] = parts.as_slice() else {
            return Err(bad("expected five parts"));
        };
        if !ek.is_empty() {
            return Err(bad("ECDH-ES direct agreement has no encrypted key"));
        }
        let header: serde_json::Value = serde_json::from_slice(&b64_decode("JWE header", h)?)
            .map_err(|_| bad("header is not JSON"))?;
        if header["alg"] != "ECDH-ES" || header["enc"] != "A256GCM" {
            return Err(CryptoError::Alg("only ECDH-ES with A256GCM".into()));
        }
        let epk: PublicJwk =
            serde_json::from_value(header["epk"].clone()).map_err(|_| bad("epk"))?;
        let peer = point(&epk)?;
        let apu = header["apu"]
            .as_str()
            .map(|a| b64_decode("apu", a))
            .transpose()?
            .unwrap_or_default();
        let apv = header["apv"]
            .as_str()
            .map(|a| b64_decode("apv", a))
            .transpose()?
            .unwrap_or_default();
        let cek = agreement::agree(
            &self.key,
            UnparsedPublicKey::new(&ECDH_P256, &peer),
            CryptoError::Verify("ECDH with the sender's key"),
            |z| Ok(concat_kdf(z, "A256GCM", &apu, &apv)),
        )?;
        let iv: [u8; 12] = b64_decode("JWE iv", iv)?
            .try_into()
            .map_err(|_| bad("iv must be 12 bytes"))?;
        let mut buf = b64_decode("JWE ciphertext", ct)?;
        buf.extend_from_slice(&b64_decode("JWE tag", tag)?);
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &cek[..]).map_err(|_| CryptoError::Internal("aes"))?,
        );
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(h.as_bytes()),
                &mut buf,
            )
            .map_err(|_| CryptoError::Verify("JWE does not decrypt"))?;
        Ok((header, plain.to_vec()))
    }
}

/// The protected header of a compact JWE, without decrypting (what a relay may check).
pub fn protected_header(jwe: &str) -> Result<serde_json::Value, CryptoError> {
    let h = jwe.split('.').next().unwrap_or_default();
    serde_json::from_slice(&b64_decode("JWE header", h)?).map_err(|_| bad("header is not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let k = EncryptionKey::generate("enc-1").unwrap();
        let jwk: PublicJwk = serde_json::from_value(k.public_jwk().unwrap()).unwrap();
        let jwe = encrypt(&jwk, b"{\"salary\":420000}", Some("JWT")).unwrap();
        assert_eq!(k.decrypt(&jwe).unwrap(), b"{\"salary\":420000}");
        assert!(!jwe.contains("420000"));
        // Another recipient cannot read it; a flipped ciphertext byte or header is refused.
        let other = EncryptionKey::generate("enc-2").unwrap();
        assert!(other.decrypt(&jwe).is_err());
        let mut parts: Vec<String> = jwe.split('.').map(str::to_string).collect();
        let mut ct = b64_decode("ct", &parts[3]).unwrap();
        ct[0] ^= 1;
        parts[3] = b64(&ct);
        assert!(k.decrypt(&parts.join(".")).is_err());
        let mut parts: Vec<String> = jwe.split('.').map(str::to_string).collect();
        parts[0] = b64(br#"{"alg":"ECDH-ES","enc":"A256GCM","epk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}"#);
        assert!(k.decrypt(&parts.join(".")).is_err());
    }

    #[test]
    fn signed_content_is_checked_against_the_signers_keys() {
        use crate::device::DeviceKey;
        let k = EncryptionKey::generate("enc-1").unwrap();
        let jwk: PublicJwk = serde_json::from_value(k.public_jwk().unwrap()).unwrap();
        let provider = DeviceKey::generate().unwrap();
        let mut provider_jwk = provider.public_jwk();
        provider_jwk.kid = Some("p-1".into());
        let jws = provider.sign_jws("item+jwt", "p-1", b"{\"n\":1}").unwrap();
        let jwe = encrypt(&jwk, jws.as_bytes(), Some("JWT")).unwrap();
        assert_eq!(
            k.decrypt_signed(&jwe, std::slice::from_ref(&provider_jwk), "item+jwt")
                .unwrap(),
            b"{\"n\":1}"
        );
        assert_eq!(protected_header(&jwe).unwrap()["cty"], "JWT");
        // Someone else's signature, another type, or no signature at all is refused.
        let forger = DeviceKey::generate().unwrap();
        let forged = forger.sign_jws("item+jwt", "p-1", b"{\"n\":2}").unwrap();
        let jwe2 = encrypt(&jwk, forged.as_bytes(), Some("JWT")).unwrap();
        assert!(k
            .decrypt_signed(&jwe2, std::slice::from_ref(&provider_jwk), "item+jwt")
            .is_err());
        assert!(k
            .decrypt_signed(&jwe, std::slice::from_ref(&provider_jwk), "other+jwt")
            .is_err());
        let plain = encrypt(&jwk, b"{\"n\":3}", None).unwrap();
        assert!(k
            .decrypt_signed(&plain, std::slice::from_ref(&provider_jwk), "item+jwt")
            .is_err());
    }

    #[test]
    fn concat_kdf_matches_rfc_7518_appendix_c() {
        // RFC 7518 Appendix C: Z, "A128GCM", apu "Alice", apv "Bob", 128-bit key. Our KDF
        // derives 256 bits for A256GCM; check the construction with the RFC's inputs by
        // computing the 128-bit variant by hand.
        let z: [u8; 32] = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        let mut input = vec![0, 0, 0, 1];
        input.extend_from_slice(&z);
        for part in [&b"A128GCM"[..], b"Alice", b"Bob"] {
            input.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            input.extend_from_slice(part);
        }
        input.extend_from_slice(&128u32.to_be_bytes());
        let d = digest(&SHA256, &input);
        assert_eq!(b64(&d.as_ref()[..16]), "VqqN6vgjbSBcIijNcacQGg");
    }
}
