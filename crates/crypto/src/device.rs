//! The resident's device key: a P-256 key pair held by the app (the phone), sealed at rest under a
//! key derived from the user's PIN with Argon2id. The platform only ever sees the public key.
//!
//! Sealed form (JSON): `{"v":1,"kdf":"argon2id","m":<KiB>,"t":<passes>,"p":<lanes>,"salt":b64u,
//! "nonce":b64u,"ct":b64u}`; the PKCS#8 document is encrypted with AES-256-GCM, the Argon2id
//! parameters and salt bound as associated data so they cannot be weakened without detection.
use crate::jose::{self, Alg, JwsHeader, PublicJwk};
use crate::rng::Rng;
use crate::CryptoError;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost: 64 MiB, 3 passes, 1 lane (OWASP's first recommended setting).
pub const DEFAULT_KDF: KdfParams = KdfParams {
    m_kib: 64 * 1024,
    t: 3,
    p: 1,
};

/// Argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// A device key sealed under a PIN.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedDeviceKey {
    /// Format version (1).
    pub v: u32,
    /// Always `argon2id`.
    pub kdf: String,
    /// Memory in KiB.
    pub m: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
    /// Salt (base64url).
    pub salt: String,
    /// AES-GCM nonce (base64url).
    pub nonce: String,
    /// Ciphertext with tag (base64url).
    pub ct: String,
    /// The public key, so that it can be shown without the PIN.
    pub public_jwk: PublicJwk,
}

/// A device signing key in memory.
pub struct DeviceKey {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey { .. }")
    }
}

fn derive(pin: &str, salt: &[u8], k: KdfParams) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if !(8 * 1024..=1024 * 1024).contains(&k.m_kib) || !(1..=10).contains(&k.t) || k.p != 1 {
        return Err(CryptoError::Malformed {
            what: "device key",
            why: "Argon2id parameters out of the accepted range".into(),
        });
    }
    let params = argon2::Params::new(k.m_kib, k.t, k.p, Some(32))
        .map_err(|_| CryptoError::Internal("argon2 parameters"))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(pin.as_bytes(), salt, &mut out[..])
        .map_err(|_| CryptoError::Internal("argon2"))?;
    Ok(out)
}

fn aad(k: KdfParams, salt: &[u8]) -> Vec<u8> {
    let mut a = format!(
        "iamsmart-device-key|v1|argon2id|{}|{}|{}|",
        k.m_kib, k.t, k.p
    )
    .into_bytes();
    a.extend_from_slice(salt);
    a
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// Whether a PIN is acceptable: 6 to 12 digits, not all the same, not a simple run.
pub fn check_pin(pin: &str) -> Result<(), &'static str> {
    let d: Vec<u8> = pin.bytes().collect();
    if !(6..=12).contains(&d.len()) || !d.iter().all(u8::is_ascii_digit) {
        return Err("the PIN must be 6 to 12 digits");
    }
    let same = d.windows(2).all(|w| w[0] == w[1]);
    let up = d.windows(2).all(|w| w[1] == w[0] + 1);
    let down = d.windows(2).all(|w| w[0] == w[1] + 1);
    if same || up || down {
        return Err("the PIN is too easy to guess (repeated or consecutive digits)");
    }
    Ok(())
}

impl DeviceKey {
    /// A new key pair.
    pub fn generate() -> Result<Self, CryptoError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| CryptoError::Internal("P-256 key generation"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| {
                CryptoError::Malformed {
                    what: "device key",
                    why: "not a P-256 PKCS#8 key".into(),
                }
            })?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    /// The public key as a JWK (`kid` is its RFC 7638 thumbprint).
    pub fn public_jwk(&self) -> PublicJwk {
        let point = self.pair.public_key().as_ref();
        let mut jwk = PublicJwk::from_p256_point("", point).expect("a P-256 key has a P-256 point");
        jwk.kid = None;
        let tp = jwk.thumbprint();
        jwk.kid = Some(tp);
        jwk
    }

    /// Sign `payload` as a compact ES256 JWS with the given header (its `alg` must be ES256).
    pub fn sign_with(&self, header: &JwsHeader, payload: &[u8]) -> Result<String, CryptoError> {
        if header.alg != Alg::ES256 {
            return Err(CryptoError::Alg("a device key signs ES256 only".into()));
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        jose::sign_compact(header, payload, |input| {
            self.pair
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::Internal("ECDSA signing"))
        })
    }

    /// A DPoP proof (RFC 9449) for one request: `htm`, `htu` (the URL without query), `iat`
    /// (Unix seconds), the single-use `jti`, and `ath` (the access token's hash) when a token
    /// is sent; the public key in the header. Services and the resident's tools share it.
    pub fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        jti: &str,
        iat: i64,
    ) -> Result<String, CryptoError> {
        let mut jwk = self.public_jwk();
        jwk.kid = None;
        let mut extra = serde_json::Map::new();
        extra.insert(
            "jwk".into(),
            serde_json::to_value(jwk).map_err(|_| CryptoError::Internal("JWK"))?,
        );
        let header = JwsHeader {
            alg: Alg::ES256,
            kid: None,
            typ: Some("dpop+jwt".into()),
            extra,
        };
        let mut claims = serde_json::json!({ "jti": jti, "htm": method, "htu": url, "iat": iat });
        if let Some(t) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(crate::hash::sha256(t.as_bytes()))
                .into();
        }
        self.sign_with(&header, claims.to_string().as_bytes())
    }

    /// Sign `payload` as a compact ES256 JWS with the given `typ` and `kid`.
    pub fn sign_jws(&self, typ: &str, kid: &str, payload: &[u8]) -> Result<String, CryptoError> {
        let header = JwsHeader {
            alg: Alg::ES256,
            kid: Some(kid.to_string()),
            typ: Some(typ.to_string()),
            extra: Default::default(),
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        jose::sign_compact(&header, payload, |input| {
            self.pair
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| CryptoError::Internal("ECDSA signing"))
        })
    }

    /// Seal the key under `pin` with Argon2id parameters `kdf`.
    pub fn seal(
        &self,
        pin: &str,
        kdf: KdfParams,
        rng: &dyn Rng,
    ) -> Result<SealedDeviceKey, CryptoError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce);
        let key = derive(pin, &salt, kdf)?;
        let k = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key[..]).map_err(|_| CryptoError::Internal("aes"))?,
        );
        let mut buf = self.pkcs8.to_vec();
        k.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(kdf, &salt)),
            &mut buf,
        )
        .map_err(|_| CryptoError::Internal("aes-gcm seal"))?;
        Ok(SealedDeviceKey {
            v: 1,
            kdf: "argon2id".into(),
            m: kdf.m_kib,
            t: kdf.t,
            p: kdf.p,
            salt: b64(&salt),
            nonce: b64(&nonce),
            ct: b64(&buf),
            public_jwk: self.public_jwk(),
        })
    }

    /// Open a sealed key with `pin`. A wrong PIN and a tampered file give the same error.
    pub fn open(sealed: &SealedDeviceKey, pin: &str) -> Result<Self, CryptoError> {
        if sealed.v != 1 || sealed.kdf != "argon2id" {
            return Err(CryptoError::Malformed {
                what: "device key",
                why: "unknown format version".into(),
            });
        }
        let kdf = KdfParams {
            m_kib: sealed.m,
            t: sealed.t,
            p: sealed.p,
        };
        let salt = jose::b64_decode("device key salt", &sealed.salt)?;
        let nonce: [u8; 12] = jose::b64_decode("device key nonce", &sealed.nonce)?
            .try_into()
            .map_err(|_| CryptoError::Malformed {
                what: "device key",
                why: "nonce must be 12 bytes".into(),
            })?;
        let mut ct = Zeroizing::new(jose::b64_decode("device key", &sealed.ct)?);
        let key = derive(pin, &salt, kdf)?;
        let k = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key[..]).map_err(|_| CryptoError::Internal("aes"))?,
        );
        let plain = k
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kdf, &salt)),
                &mut ct,
            )
            .map_err(|_| CryptoError::Verify("wrong PIN or damaged device key"))?;
        let key = Self::from_pkcs8(plain)?;
        if key.public_jwk().x != sealed.public_jwk.x || key.public_jwk().y != sealed.public_jwk.y {
            return Err(CryptoError::Verify(
                "device key does not match its public key",
            ));
        }
        Ok(key)
    }
}

/// The device key type also holds the app's signing key (a second P-256 key, sealed the same
/// way): as a [`crate::pki::CaSigner`] it signs CSRs and CMS signed attributes.
impl crate::pki::CaSigner for DeviceKey {
    fn spki_der(&self) -> Vec<u8> {
        crate::pki::spki_from_jwk(&self.public_jwk()).unwrap_or_default()
    }

    fn sign_der(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crate::pki::SoftSigner::from_pkcs8(&self.pkcs8)?.sign_der(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    const CHEAP: KdfParams = KdfParams {
        m_kib: 8 * 1024,
        t: 1,
        p: 1,
    };

    #[test]
    fn seals_opens_and_signs() {
        let k = DeviceKey::generate().unwrap();
        let jwk = k.public_jwk();
        let sealed = k.seal("482915", CHEAP, &SeededRng::new(1)).unwrap();
        let text = serde_json::to_string(&sealed).unwrap();
        let back: SealedDeviceKey = serde_json::from_str(&text).unwrap();
        let k2 = DeviceKey::open(&back, "482915").unwrap();
        let kid = jwk.kid.clone().unwrap();
        let jws = k2.sign_jws("test+jwt", &kid, b"{\"a\":1}").unwrap();
        let (h, p) = jose::verify_compact(&jws, &[jwk], &[Alg::ES256]).unwrap();
        assert_eq!(h.typ.as_deref(), Some("test+jwt"));
        assert_eq!(p, b"{\"a\":1}");
    }

    #[test]
    fn wrong_pin_and_weakened_parameters_are_refused() {
        let k = DeviceKey::generate().unwrap();
        let sealed = k.seal("482915", CHEAP, &SeededRng::new(2)).unwrap();
        assert!(DeviceKey::open(&sealed, "482916").is_err());
        let mut weak = sealed.clone();
        weak.t = 2; // changing the parameters changes the derived key and the bound data
        assert!(DeviceKey::open(&weak, "482915").is_err());
        let mut tiny = sealed;
        tiny.m = 8;
        assert!(matches!(
            DeviceKey::open(&tiny, "482915"),
            Err(CryptoError::Malformed { .. })
        ));
    }

    #[test]
    fn easy_pins_are_refused() {
        for bad in [
            "12345",
            "111111",
            "123456",
            "987654",
            "12a456",
            "1234567890123",
        ] {
            assert!(check_pin(bad).is_err(), "{bad}");
        }
        assert!(check_pin("482915").is_ok());
    }
}
