//! Pieces of the two WebAuthn targets: the relying party, structure-aware client data and
//! authenticator data, and the independent checks of what a successful verification must mean.
use crate::{CHALLENGE, ORIGIN, RP_ID};
use arbitrary::Arbitrary;
use aws_lc_rs::digest::{digest, SHA256};
use iamsmart_crypto::jose::{b64_decode, PublicJwk};
use iamsmart_crypto::webauthn::RelyingParty;

/// Flags of the authenticator data.
pub const UP: u8 = 0x01;
/// User verified.
pub const UV: u8 = 0x04;
/// Attested credential data present.
pub const AT: u8 = 0x40;

/// The relying party under test.
pub fn rp() -> RelyingParty {
    RelyingParty {
        id: RP_ID.into(),
        origin: ORIGIN.into(),
        name: "iamsmart fuzz".into(),
    }
}

/// The right value, or another one.
#[derive(Debug, Arbitrary)]
pub enum Pick {
    /// What the relying party expects.
    Right,
    /// Something else.
    Other(String),
}

impl Pick {
    fn or<'a>(&'a self, right: &'a str) -> &'a str {
        match self {
            Pick::Right => right,
            Pick::Other(s) => s,
        }
    }
}

/// Client data JSON, built from parts or raw.
#[derive(Debug, Arbitrary)]
pub struct Client {
    kind: Pick,
    challenge: Pick,
    origin: Pick,
    cross_origin: Option<bool>,
    extra: Option<(String, String)>,
    raw: Option<Vec<u8>>,
}

impl Client {
    /// Whether these parts make the client data the relying party expects.
    pub fn is_right(&self) -> bool {
        matches!(
            (&self.kind, &self.challenge, &self.origin),
            (Pick::Right, Pick::Right, Pick::Right)
        ) && self.cross_origin != Some(true)
            && self.extra.is_none()
            && self.raw.is_none()
    }

    /// The bytes of `clientDataJSON` for a ceremony of `kind` (`webauthn.create` / `.get`).
    pub fn bytes(&self, kind: &str) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let mut v = serde_json::json!({
            "type": self.kind.or(kind),
            "challenge": self.challenge.or(CHALLENGE),
            "origin": self.origin.or(ORIGIN),
        });
        if let Some(c) = self.cross_origin {
            v["crossOrigin"] = c.into();
        }
        if let Some((k, x)) = &self.extra {
            v[k.as_str()] = x.as_str().into();
        }
        serde_json::to_vec(&v).expect("JSON to memory")
    }
}

/// The fixed part of authenticator data (RP ID hash, flags, counter), then `tail`.
#[derive(Debug, Arbitrary)]
pub struct AuthData {
    /// The right RP ID hash, or 32 other bytes.
    pub rp_hash: Option<[u8; 32]>,
    /// Flags.
    pub flags: u8,
    /// Signature counter.
    pub counter: u32,
    /// Cut the result to this length.
    pub truncate: Option<u16>,
}

impl AuthData {
    /// Assemble with `tail` (attested credential data and extensions).
    pub fn bytes(&self, tail: &[u8]) -> Vec<u8> {
        let mut ad = match self.rp_hash {
            Some(h) => h.to_vec(),
            None => digest(&SHA256, RP_ID.as_bytes()).as_ref().to_vec(),
        };
        ad.push(self.flags);
        ad.extend_from_slice(&self.counter.to_be_bytes());
        ad.extend_from_slice(tail);
        if let Some(n) = self.truncate {
            ad.truncate(n as usize);
        }
        ad
    }
}

/// Client data that a verified response must have had.
pub fn assert_client_data(cdj: &[u8], kind: &str) {
    let v: serde_json::Value = serde_json::from_slice(cdj).expect("verified client data is JSON");
    assert_eq!(v["type"], kind, "verified client data of another type");
    assert_eq!(v["challenge"], CHALLENGE, "verified another challenge");
    assert_eq!(v["origin"], ORIGIN, "verified another origin");
    assert_ne!(v["crossOrigin"], true, "verified a cross-origin response");
}

/// Authenticator data that a verified response must have had; returns its counter.
pub fn assert_auth_data(ad: &[u8]) -> u32 {
    assert!(ad.len() >= 37, "verified short authenticator data");
    assert_eq!(
        &ad[..32],
        digest(&SHA256, RP_ID.as_bytes()).as_ref(),
        "verified another RP ID"
    );
    assert_eq!(ad[32] & (UP | UV), UP | UV, "verified without UP and UV");
    u32::from_be_bytes([ad[33], ad[34], ad[35], ad[36]])
}

/// `authData || SHA-256(clientDataJSON)`, what WebAuthn signatures cover.
pub fn signed_data(ad: &[u8], cdj: &[u8]) -> Vec<u8> {
    let mut m = ad.to_vec();
    m.extend_from_slice(digest(&SHA256, cdj).as_ref());
    m
}

/// Does `sig` (WebAuthn form: ECDSA in DER) sign `msg` under `jwk`? Straight through aws-lc-rs.
pub fn verifies_with_jwk(jwk: &PublicJwk, msg: &[u8], sig: &[u8]) -> bool {
    use aws_lc_rs::signature::{self as s, UnparsedPublicKey};
    let get = |v: &Option<String>| b64_decode("k", v.as_deref().unwrap_or("")).unwrap_or_default();
    match jwk.kty.as_str() {
        "EC" => {
            let mut p = vec![4u8];
            p.extend(get(&jwk.x));
            p.extend(get(&jwk.y));
            UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_ASN1, p)
                .verify(msg, sig)
                .is_ok()
        }
        "OKP" => UnparsedPublicKey::new(&s::ED25519, get(&jwk.x))
            .verify(msg, sig)
            .is_ok(),
        "RSA" => {
            let (n, e) = (get(&jwk.n), get(&jwk.e));
            s::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&s::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok()
        }
        _ => false,
    }
}
