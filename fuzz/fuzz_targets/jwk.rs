//! Public JWKs: deserialising `PublicJwk` from JSON, its thumbprint and signature checks with
//! it; `PublicJwk::from_rsa_der`, `from_p256_point` and `from_ed25519` on arbitrary bytes.
//!
//! Input: a selector byte (mode = selector % 3), then the data.
//! - 0: JSON of a JWK. Thumbprint; serialise and parse again (same JWK, same thumbprint);
//!   `verify_signature` with every algorithm on a fixed message and the data as signature.
//! - 1: DER for `from_rsa_der`. On success: an RSA JWK whose `n` and `e` are minimal
//!   big-endian base64url, and `from_rsa` of them gives the same JWK.
//! - 2: bytes for `from_p256_point` and `from_ed25519`: accepted exactly when the length and
//!   form are right, and the coordinates are the input's bytes.
#![no_main]
use iamsmart_crypto::jose::{self, PublicJwk};
use iamsmart_fuzz::{split, ALGS};
use libfuzzer_sys::fuzz_target;

/// No leading zero bytes (a lone zero stays; an empty DER INTEGER gives an empty value).
fn minimal(b: &[u8]) -> bool {
    b.len() <= 1 || b[0] != 0
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    match sel % 3 {
        0 => {
            let Ok(jwk) = serde_json::from_slice::<PublicJwk>(rest) else {
                return;
            };
            let tp = jwk.thumbprint();
            assert_eq!(tp.len(), 43, "a SHA-256 thumbprint is 43 characters");
            let text = serde_json::to_string(&jwk).expect("serialise a JWK");
            let back: PublicJwk = serde_json::from_str(&text).expect("parse what we wrote");
            assert_eq!(back, jwk);
            assert_eq!(back.thumbprint(), tp);
            for alg in ALGS {
                let r = jose::verify_signature(&jwk, alg, b"fuzz message", rest);
                assert!(r.is_err(), "the JWK's own JSON verified as a signature");
            }
        }
        1 => {
            let Ok(jwk) = PublicJwk::from_rsa_der("k", rest) else {
                return;
            };
            assert_eq!(jwk.kty, "RSA");
            let n = jose::b64_decode("n", jwk.n.as_deref().expect("n")).expect("n is base64url");
            let e = jose::b64_decode("e", jwk.e.as_deref().expect("e")).expect("e is base64url");
            assert!(minimal(&n) && minimal(&e), "leading zeros kept");
            assert_eq!(PublicJwk::from_rsa("k", &n, &e), jwk);
            let _ = jwk.thumbprint();
        }
        _ => {
            let point = PublicJwk::from_p256_point("k", rest);
            assert_eq!(point.is_ok(), rest.len() == 65 && rest[0] == 4);
            if let Ok(jwk) = point {
                let x = jose::b64_decode("x", jwk.x.as_deref().unwrap()).unwrap();
                let y = jose::b64_decode("y", jwk.y.as_deref().unwrap()).unwrap();
                assert_eq!((&x[..], &y[..]), (&rest[1..33], &rest[33..]));
            }
            let ed = PublicJwk::from_ed25519("k", rest);
            assert_eq!(ed.is_ok(), rest.len() == 32);
            if let Ok(jwk) = ed {
                let x = jose::b64_decode("x", jwk.x.as_deref().unwrap()).unwrap();
                assert_eq!(x, rest);
            }
        }
    }
});
