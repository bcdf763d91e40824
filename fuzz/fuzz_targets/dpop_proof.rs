//! `oidc::dpop::parse` on arbitrary text: the header checks (typ, alg allow-list, a public `jwk`
//! only, no `jku`/`x5u`/`x5c`/`crit`) and the signature check against the proof's own key.
//!
//! Property: an accepted proof carries a public key without private members, a JSON object as
//! claims, and its signature verifies again with that key.
#![no_main]
use iamsmart_crypto::jose;
use iamsmart_domain::oidc::dpop;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(proof) = dpop::parse(text) else {
        return;
    };
    assert!(proof.claims.is_object());
    let jwk = serde_json::to_value(&proof.jwk).unwrap();
    for m in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(jwk.get(m).is_none(), "private member {m} accepted");
    }
    let header = jose::unverified_header(text).expect("an accepted proof has a header");
    let mut parts = text.rsplitn(2, '.');
    let sig = jose::b64_decode("sig", parts.next().unwrap()).unwrap();
    let input = parts.next().unwrap();
    jose::verify_signature(&proof.jwk, header.alg, input.as_bytes(), &sig).expect("re-verifies");
    let _ = proof.jwk.thumbprint();
});
