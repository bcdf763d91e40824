//! Shared pieces of the fuzz targets: the fixed keys and values in `fixtures.json` (written by
//! `cargo run --example seeds`, with the seed corpora that were made with them), a byte reader
//! for the targets' input formats and structure-aware CBOR.
//!
//! Every target reads its first input byte as a selector (mode, allow-list, context ...) and the
//! rest as the data; the seed files are written in the same format by [`seed`].
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use iamsmart_crypto::jose::{Alg, PublicJwk};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

pub mod cbor;
pub mod webauthn;

/// The PIN the sealed device key seeds are sealed under.
pub const DEVICE_PIN: &str = "482915";
/// The relying party of the WebAuthn targets.
pub const RP_ID: &str = "localhost";
/// Its origin.
pub const ORIGIN: &str = "http://localhost:8080";
/// The challenge the WebAuthn targets expect.
pub const CHALLENGE: &str = "fuzz-challenge-0123456789abcdef";
/// Key ids of the three JWS keys.
pub const KIDS: [&str; 3] = ["es256-1", "eddsa-1", "rs256-1"];

/// What `fixtures.json` holds. Test keys made for fuzzing only; they protect nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct Fixtures {
    /// Why these keys are in the repository.
    pub note: String,
    /// PKCS#8 documents (base64url) of the ES256, EdDSA and RS256 keys.
    pub pkcs8: [String; 3],
    /// A credential registered by `SoftPasskey` (its id and public key); the authentication
    /// seeds are its assertions.
    pub soft_credential_id: String,
    /// Its public key.
    pub soft_credential_key: PublicJwk,
    /// The file key store's master key (base64url, 32 bytes).
    pub master_key: String,
    /// File key store handles (base64url) by key id: KEKs `kek-a`, `kek-b` and the ES256
    /// signing key `sig-1` (to exercise a key of the wrong kind).
    pub handles: Vec<(String, String)>,
}

/// Unpadded base64url.
pub fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// Decode unpadded base64url (fixtures only: panics on bad input).
pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("fixture base64url")
}

/// The fixtures compiled into the targets.
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        serde_json::from_str(include_str!("../fixtures.json")).expect("fuzz/fixtures.json")
    })
}

/// The fixed key pairs, parsed once.
pub struct Keys {
    /// ES256 for JWS (fixed-width signatures).
    pub es256: EcdsaKeyPair,
    /// The same key for WebAuthn (DER signatures).
    pub es256_der: EcdsaKeyPair,
    /// Ed25519.
    pub eddsa: Ed25519KeyPair,
    /// RSA 2048.
    pub rs256: RsaKeyPair,
}

impl Keys {
    /// From PKCS#8 documents (ES256, EdDSA, RS256).
    pub fn from_pkcs8(docs: &[Vec<u8>; 3]) -> Self {
        Self {
            es256: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &docs[0])
                .expect("ES256 fixture"),
            es256_der: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &docs[0])
                .expect("ES256 fixture"),
            eddsa: Ed25519KeyPair::from_pkcs8(&docs[1]).expect("EdDSA fixture"),
            rs256: RsaKeyPair::from_pkcs8(&docs[2]).expect("RS256 fixture"),
        }
    }

    /// The public JWKs, in the order ES256, EdDSA, RS256, with `kid`s [`KIDS`].
    pub fn jwks(&self) -> [PublicJwk; 3] {
        [
            PublicJwk::from_p256_point(KIDS[0], self.es256.public_key().as_ref()).expect("point"),
            PublicJwk::from_ed25519(KIDS[1], self.eddsa.public_key().as_ref()).expect("ed25519"),
            PublicJwk::from_rsa_der(KIDS[2], self.rs256.public_key().as_ref()).expect("rsa"),
        ]
    }

    /// Sign a JWS signing input with key `i` (0 ES256, 1 EdDSA, 2 RS256), JWS form.
    pub fn sign_jws(&self, i: usize, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match i {
            0 => self.es256.sign(&rng, msg).expect("sign").as_ref().to_vec(),
            1 => self.eddsa.sign(msg).as_ref().to_vec(),
            _ => self.rsa_sign(msg),
        }
    }

    /// Sign with key `i` as a WebAuthn authenticator does (ECDSA in DER).
    pub fn sign_webauthn(&self, i: usize, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match i {
            0 => self
                .es256_der
                .sign(&rng, msg)
                .expect("sign")
                .as_ref()
                .to_vec(),
            _ => self.sign_jws(i, msg),
        }
    }

    fn rsa_sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.rs256.public_modulus_len()];
        self.rs256
            .sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .expect("sign");
        sig
    }

    /// The raw public key of key `i` as aws-lc-rs verifies it (an uncompressed point, 32
    /// bytes, or a PKCS#1 `RSAPublicKey`).
    pub fn public(&self, i: usize) -> &[u8] {
        match i {
            0 => self.es256.public_key().as_ref(),
            1 => self.eddsa.public_key().as_ref(),
            _ => self.rs256.public_key().as_ref(),
        }
    }
}

/// The key pairs of [`fixtures`].
pub fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys::from_pkcs8(&fixtures().pkcs8.clone().map(|s| unb64(&s))))
}

/// Their public JWKs ([`Keys::jwks`]), made once.
pub fn jwks() -> &'static [PublicJwk; 3] {
    static J: OnceLock<[PublicJwk; 3]> = OnceLock::new();
    J.get_or_init(|| keys().jwks())
}

/// The JWS algorithm of key `i`.
pub const ALGS: [Alg; 3] = [Alg::ES256, Alg::EdDSA, Alg::RS256];

/// Every allow-list: the subsets of {ES256, EdDSA, RS256}, by the low three bits of `sel`.
pub fn allow_list(sel: u8) -> Vec<Alg> {
    (0..3)
        .filter(|i| sel & (1 << i) != 0)
        .map(|i| ALGS[i])
        .collect()
}

/// A seed file: selector byte then data.
pub fn seed(sel: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![sel];
    v.extend_from_slice(data);
    v
}

/// Splits an input into its selector byte and data (an empty input is selector 0).
pub fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => (0, &[]),
    }
}

/// Verify independently of the code under test (straight through aws-lc-rs): does `sig` (JWS
/// form) sign `msg` under fixed key `i`?
pub fn independently_verified(i: usize, msg: &[u8], sig: &[u8]) -> bool {
    use aws_lc_rs::signature::{self as s, UnparsedPublicKey};
    let alg: &'static dyn s::VerificationAlgorithm = match i {
        0 => &s::ECDSA_P256_SHA256_FIXED,
        1 => &s::ED25519,
        _ => &s::RSA_PKCS1_2048_8192_SHA256,
    };
    UnparsedPublicKey::new(alg, keys().public(i))
        .verify(msg, sig)
        .is_ok()
}
