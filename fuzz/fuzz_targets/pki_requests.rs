//! The PKI requests a CA, an OCSP responder and a TSA read from anyone: `pki::csr::verify_csr`,
//! `pki::ocsp::parse_request` and `pki::tsp::parse_request` on arbitrary DER.
//!
//! Input: a selector byte (mode = selector % 3), then the DER.
//! - 0: PKCS#10. An accepted request carries a P-256 SubjectPublicKeyInfo (91 bytes).
//! - 1: OCSP request. 1 to 10 CertIDs whose hashes fit their algorithm, a nonce of 1 to 32
//!   bytes; `build_request` of what was read reads back the same.
//! - 2: time-stamp request. `build_request` of what was read reads back the same (policy
//!   aside, which ours never sets).
#![no_main]
use iamsmart_crypto::pki::{csr, ocsp, tsp};
use iamsmart_fuzz::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (sel, der) = split(data);
    match sel % 3 {
        0 => {
            if let Ok(info) = csr::verify_csr(der) {
                assert_eq!(info.spki_der.len(), 91, "not a P-256 key");
            }
        }
        1 => {
            let Ok(req) = ocsp::parse_request(der) else {
                return;
            };
            assert!((1..=10).contains(&req.ids.len()));
            for id in &req.ids {
                let n = if id.hash_alg_sha1 { 20 } else { 32 };
                assert_eq!(
                    (id.issuer_name_hash.len(), id.issuer_key_hash.len()),
                    (n, n)
                );
            }
            assert!(req
                .nonce
                .as_ref()
                .is_none_or(|n| (1..=32).contains(&n.len())));
            let again = ocsp::build_request(&req.ids, req.nonce.as_deref()).expect("rebuild");
            assert_eq!(ocsp::parse_request(&again).expect("read back"), req);
        }
        _ => {
            let Ok(req) = tsp::parse_request(der) else {
                return;
            };
            let again = tsp::build_request(&req.imprint_sha256, req.nonce.as_deref(), req.cert_req)
                .expect("rebuild");
            let back = tsp::parse_request(&again).expect("read back");
            assert_eq!(
                (back.imprint_sha256, back.nonce, back.cert_req),
                (req.imprint_sha256, req.nonce, req.cert_req)
            );
        }
    }
});
