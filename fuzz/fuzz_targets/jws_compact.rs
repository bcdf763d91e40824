//! `jose::verify_compact` and `jose::unverified_header` on arbitrary tokens, with the fixed
//! ES256, EdDSA and RS256 keys and every algorithm allow-list.
//!
//! Input: a selector byte, then the data. Selector bits 0-2: the allow-list (every subset);
//! bits 3-4: the key set (with kids, without kids, none, two keys sharing a kid); bit 7: mode.
//! - Mode 0: the data is the token.
//! - Mode 1: the harness signs: data = key index byte, header length byte, header JSON, payload.
//!   An empty header means the canonical `{"alg":..,"kid":..}` of that key, which must verify
//!   whenever its algorithm is allowed and the key set names it once.
//!
//! Property: every successful verification used an allowed algorithm, a header without the
//! members that would let a token choose its key, and a signature that verifies, by aws-lc-rs
//! directly, under the one key the header designates.
#![no_main]
use iamsmart_crypto::jose::{self, PublicJwk};
use iamsmart_fuzz::{allow_list, b64, independently_verified, jwks, keys, split, ALGS, KIDS};
use libfuzzer_sys::fuzz_target;

fn key_set(sel: u8) -> Vec<(usize, PublicJwk)> {
    let jwks = jwks();
    let all = jwks.iter().cloned().enumerate();
    match (sel >> 3) & 3 {
        0 => all.collect(),
        1 => all
            .map(|(i, mut k)| {
                k.kid = None;
                (i, k)
            })
            .collect(),
        2 => Vec::new(),
        _ => {
            // Two keys under one kid: the verifier must refuse to choose.
            let mut ed = jwks[1].clone();
            ed.kid = Some(KIDS[0].into());
            vec![(0, jwks[0].clone()), (1, ed)]
        }
    }
}

fn check(token: &str, set: &[(usize, PublicJwk)], sel: u8) -> bool {
    let allowed = allow_list(sel);
    let jwks: Vec<PublicJwk> = set.iter().map(|(_, k)| k.clone()).collect();
    let _ = jose::unverified_header(token);
    let Ok((header, payload)) = jose::verify_compact(token, &jwks, &allowed) else {
        return false;
    };
    assert!(
        allowed.contains(&header.alg),
        "algorithm outside the allow-list"
    );
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let raw: serde_json::Value = serde_json::from_slice(&jose::b64_decode("h", parts[0]).unwrap())
        .expect("a verified header is JSON");
    for f in ["jwk", "jku", "x5u", "x5c", "crit"] {
        assert!(raw.get(f).is_none(), "verified a header with {f}");
    }
    assert_eq!(payload, jose::b64_decode("p", parts[1]).unwrap());
    let sig = jose::b64_decode("s", parts[2]).unwrap();
    let input = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
    let candidates: Vec<usize> = set
        .iter()
        .filter(|(i, k)| match &header.kid {
            Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
            None => ALGS[*i] == header.alg,
        })
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(candidates.len(), 1, "verified without one designated key");
    let i = candidates[0];
    assert_eq!(ALGS[i], header.alg, "verified with a key of another type");
    assert!(
        independently_verified(i, input, &sig),
        "verified a signature that does not verify"
    );
    true
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    let set = key_set(sel);
    if sel & 0x80 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            check(token, &set, sel);
        }
        return;
    }
    let (Some(&k), Some(&hl)) = (rest.first(), rest.get(1)) else {
        return;
    };
    let k = k as usize % 3;
    let rest = &rest[2..];
    let hl = (hl as usize).min(rest.len());
    let (header, payload) = rest.split_at(hl);
    let canonical = header.is_empty();
    let header = if canonical {
        format!(r#"{{"alg":"{}","kid":"{}"}}"#, ALGS[k].as_str(), KIDS[k]).into_bytes()
    } else {
        header.to_vec()
    };
    let input = format!("{}.{}", b64(&header), b64(payload));
    let sig = keys().sign_jws(k, input.as_bytes());
    let token = format!("{input}.{}", b64(&sig));
    let ok = check(&token, &set, sel);
    let named_once = set
        .iter()
        .filter(|(_, key)| key.kid.as_deref() == Some(KIDS[k]))
        .count()
        == 1;
    if canonical && allow_list(sel).contains(&ALGS[k]) && named_once {
        assert!(ok, "a well-formed token signed by a known key was refused");
    }
});
