//! JOSE: JWS compact serialisation and JWKs (RFC 7515, 7517, 7518, 8037), following the
//! RFC 8725 rules: an algorithm allow-list, no `none`, keys only from the caller, never from
//! the token's header.
use crate::CryptoError;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Signature algorithms the platform uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256 (default).
    ES256,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (only for clients that need it).
    RS256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
            Alg::RS256 => "RS256",
        }
    }
}

impl std::str::FromStr for Alg {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(Alg::ES256),
            // "Ed25519" is the fully-specified name of RFC 9864.
            "EdDSA" | "Ed25519" => Ok(Alg::EdDSA),
            "RS256" => Ok(Alg::RS256),
            other => Err(CryptoError::Alg(other.chars().take(20).collect())),
        }
    }
}

/// A public JWK (RFC 7517).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `EC`, `OKP` or `RSA`.
    pub kty: String,
    /// Curve (`P-256`, `Ed25519`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x / OKP public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Use (`sig`).
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// Strict unpadded base64url.
pub fn b64_decode(what: &'static str, s: &str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| CryptoError::Malformed {
            what,
            why: "not unpadded base64url".into(),
        })
}

/// DER content of the rsaEncryption OID (1.2.840.113549.1.1.1).
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// One DER TLV: `(tag, content, rest)`. Single-byte tags, definite lengths only.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | x as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

impl PublicJwk {
    fn empty(kty: &str, kid: &str, alg: Alg) -> Self {
        Self {
            kty: kty.into(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            kid: Some(kid.into()),
            alg: Some(alg.as_str().into()),
            use_: Some("sig".into()),
        }
    }

    /// From an uncompressed P-256 point (65 bytes, 0x04 || x || y).
    pub fn from_p256_point(kid: &str, point: &[u8]) -> Result<Self, CryptoError> {
        if point.len() != 65 || point[0] != 4 {
            return Err(CryptoError::Malformed {
                what: "P-256 point",
                why: "expected 65 bytes, uncompressed".into(),
            });
        }
        let mut j = Self::empty("EC", kid, Alg::ES256);
        j.crv = Some("P-256".into());
        j.x = Some(b64(&point[1..33]));
        j.y = Some(b64(&point[33..]));
        Ok(j)
    }

    /// From an Ed25519 public key (32 bytes).
    pub fn from_ed25519(kid: &str, public: &[u8]) -> Result<Self, CryptoError> {
        if public.len() != 32 {
            return Err(CryptoError::Malformed {
                what: "Ed25519 key",
                why: "expected 32 bytes".into(),
            });
        }
        let mut j = Self::empty("OKP", kid, Alg::EdDSA);
        j.crv = Some("Ed25519".into());
        j.x = Some(b64(public));
        Ok(j)
    }

    /// From an RSA modulus and exponent (big-endian, no leading zeros).
    pub fn from_rsa(kid: &str, n: &[u8], e: &[u8]) -> Self {
        let strip = |b: &[u8]| {
            let i = b
                .iter()
                .position(|&x| x != 0)
                .unwrap_or(b.len().saturating_sub(1));
            b[i..].to_vec()
        };
        let mut j = Self::empty("RSA", kid, Alg::RS256);
        j.n = Some(b64(&strip(n)));
        j.e = Some(b64(&strip(e)));
        j
    }

    /// From a DER RSA public key: a PKCS#1 `RSAPublicKey` (what aws-lc-rs and most HSMs give)
    /// or an X.509 `SubjectPublicKeyInfo` with the `rsaEncryption` algorithm.
    pub fn from_rsa_der(kid: &str, der: &[u8]) -> Result<Self, CryptoError> {
        let bad = |why: &str| CryptoError::Malformed {
            what: "RSA public key",
            why: why.into(),
        };
        let (tag, body, rest) = der_tlv(der).ok_or_else(|| bad("not DER"))?;
        if tag != 0x30 || !rest.is_empty() {
            return Err(bad("expected a DER SEQUENCE"));
        }
        let (t1, c1, r1) = der_tlv(body).ok_or_else(|| bad("not DER"))?;
        match t1 {
            // SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }
            0x30 => {
                let (oid_tag, oid, _) = der_tlv(c1).ok_or_else(|| bad("not DER"))?;
                if oid_tag != 0x06 || oid != RSA_ENCRYPTION_OID {
                    return Err(bad("not an rsaEncryption key"));
                }
                let (t2, bits, r2) = der_tlv(r1).ok_or_else(|| bad("not DER"))?;
                match (t2, bits.split_first(), r2.is_empty()) {
                    (0x03, Some((0, inner)), true) => Self::from_rsa_der(kid, inner),
                    _ => Err(bad("expected a BIT STRING holding the key")),
                }
            }
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            0x02 => {
                let (t2, e, r2) = der_tlv(r1).ok_or_else(|| bad("not DER"))?;
                if t2 != 0x02 || !r2.is_empty() {
                    return Err(bad("expected modulus and exponent"));
                }
                Ok(Self::from_rsa(kid, c1, e))
            }
            _ => Err(bad("expected RSAPublicKey or SubjectPublicKeyInfo")),
        }
    }

    /// RFC 7638 thumbprint (base64url SHA-256 of the required members in order).
    pub fn thumbprint(&self) -> String {
        let s = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                self.crv.as_deref().unwrap_or(""),
                self.x.as_deref().unwrap_or(""),
                self.y.as_deref().unwrap_or("")
            ),
            "OKP" => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                self.crv.as_deref().unwrap_or(""),
                self.x.as_deref().unwrap_or("")
            ),
            _ => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                self.e.as_deref().unwrap_or(""),
                self.n.as_deref().unwrap_or("")
            ),
        };
        b64(&crate::hash::sha256(s.as_bytes()))
    }

    fn fits(&self, alg: Alg) -> bool {
        match alg {
            Alg::ES256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256"),
            Alg::EdDSA => self.kty == "OKP" && self.crv.as_deref() == Some("Ed25519"),
            Alg::RS256 => self.kty == "RSA",
        }
    }
}

/// A JWS protected header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JwsHeader {
    /// Algorithm.
    pub alg: Alg,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Sign `payload` as a compact JWS; `sign` receives the signing input.
pub fn sign_compact(
    header: &JwsHeader,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, CryptoError>,
) -> Result<String, CryptoError> {
    let h = serde_json::to_vec(header).map_err(|_| CryptoError::Internal("header encoding"))?;
    let input = format!("{}.{}", b64(&h), b64(payload));
    let sig = sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// Header members that would let a token choose its own key or change processing rules.
const FORBIDDEN_HEADERS: &[&str] = &["jwk", "jku", "x5u", "x5c", "crit"];

/// The P-256 group order n, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn scalar_ok(s: &[u8]) -> bool {
    s.iter().any(|&b| b != 0) && s < &P256_N[..]
}

/// Verify one signature with one key.
pub fn verify_signature(
    jwk: &PublicJwk,
    alg: Alg,
    input: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    if !jwk.fits(alg) {
        return Err(CryptoError::Alg(format!(
            "{} key cannot verify {}",
            jwk.kty,
            alg.as_str()
        )));
    }
    if let Some(a) = &jwk.alg {
        if a.parse::<Alg>().ok() != Some(alg) {
            return Err(CryptoError::Alg(format!("key is for {a}")));
        }
    }
    let get = |v: &Option<String>, what: &'static str| -> Result<Vec<u8>, CryptoError> {
        b64_decode(
            what,
            v.as_deref().ok_or(CryptoError::Malformed {
                what,
                why: "missing".into(),
            })?,
        )
    };
    let ok = match alg {
        Alg::ES256 => {
            if sig.len() != 64 || !scalar_ok(&sig[..32]) || !scalar_ok(&sig[32..]) {
                return Err(CryptoError::Verify("ES256 signature out of range"));
            }
            let (x, y) = (get(&jwk.x, "jwk x")?, get(&jwk.y, "jwk y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err(CryptoError::Malformed {
                    what: "jwk",
                    why: "P-256 coordinates must be 32 bytes".into(),
                });
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(input, sig)
        }
        Alg::EdDSA => {
            let x = get(&jwk.x, "jwk x")?;
            UnparsedPublicKey::new(&signature::ED25519, x).verify(input, sig)
        }
        Alg::RS256 => {
            let (n, e) = (get(&jwk.n, "jwk n")?, get(&jwk.e, "jwk e")?);
            let key = signature::RsaPublicKeyComponents { n: &n, e: &e };
            key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, sig)
        }
    };
    ok.map_err(|_| CryptoError::Verify("signature"))
}

/// The header of a compact JWS, NOT verified: only for choosing which stored key to verify
/// with (by `kid`); every decision must wait for [`verify_compact`].
pub fn unverified_header(token: &str) -> Result<JwsHeader, CryptoError> {
    let h = token.split('.').next().unwrap_or_default();
    if h.len() > 4096 {
        return Err(CryptoError::Malformed {
            what: "JWS header",
            why: "too long".into(),
        });
    }
    serde_json::from_slice(&b64_decode("JWS header", h)?).map_err(|_| CryptoError::Malformed {
        what: "JWS header",
        why: "not a JWS header".into(),
    })
}

/// Verify a compact JWS against `keys` with an allow-list of algorithms; returns the header and
/// payload. The key is chosen only from `keys`.
pub fn verify_compact(
    token: &str,
    keys: &[PublicJwk],
    allowed: &[Alg],
) -> Result<(JwsHeader, Vec<u8>), CryptoError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::Malformed {
            what: "JWS",
            why: "expected three dot-separated parts".into(),
        });
    };
    let hb = b64_decode("JWS header", h)?;
    let raw: serde_json::Value =
        serde_json::from_slice(&hb).map_err(|_| CryptoError::Malformed {
            what: "JWS header",
            why: "not JSON".into(),
        })?;
    let obj = raw.as_object().ok_or(CryptoError::Malformed {
        what: "JWS header",
        why: "not an object".into(),
    })?;
    for f in FORBIDDEN_HEADERS {
        if obj.contains_key(*f) {
            return Err(CryptoError::Alg(format!(
                "header member {f} is not accepted"
            )));
        }
    }
    let alg_name = obj.get("alg").and_then(|v| v.as_str()).unwrap_or("none");
    let alg: Alg = alg_name.parse()?;
    if !allowed.contains(&alg) {
        return Err(CryptoError::Alg(alg.as_str().into()));
    }
    let header: JwsHeader =
        serde_json::from_value(raw.clone()).map_err(|_| CryptoError::Malformed {
            what: "JWS header",
            why: "bad members".into(),
        })?;
    let sig = b64_decode("JWS signature", s)?;
    let payload = b64_decode("JWS payload", p)?;
    let candidates: Vec<&PublicJwk> = match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid.as_str()))
            .collect(),
        None => keys.iter().filter(|k| k.fits(alg)).collect(),
    };
    let key = match candidates.as_slice() {
        [k] => *k,
        [] => return Err(CryptoError::Verify("no matching key")),
        _ => return Err(CryptoError::Verify("several keys match; a kid is required")),
    };
    let input_len = h.len() + 1 + p.len();
    verify_signature(key, alg, &token.as_bytes()[..input_len], &sig)?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests;
