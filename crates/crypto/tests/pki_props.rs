//! No input panics the PKI parsers: random bytes, and valid documents (certificates, CSR, CRL,
//! OCSP request and response, time-stamp request, token and response, CMS signature) with
//! bytes changed, inserted, removed or cut off. Changed documents that still verify must say
//! what the original said.
mod pki_common;

use iamsmart_crypto::pki::cms::{self, SignedAttrsParams};
use iamsmart_crypto::pki::ocsp::{self, CertId, CertStatus, SingleStatus};
use iamsmart_crypto::pki::tsp::{self, TokenParams};
use iamsmart_crypto::pki::{cert, crl, csr, sha256, CaSigner};
use pki_common::*;
use proptest::prelude::*;
use std::sync::OnceLock;

struct Fixtures {
    c: Chain,
    docs: Vec<Vec<u8>>,
    digest: [u8; 32],
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let c = chain();
        let t = now();
        let digest = sha256(b"content");
        let id = CertId::for_cert(&c.person.der, &c.issuing.der).unwrap();
        let status = SingleStatus {
            id: id.clone(),
            status: CertStatus::Revoked {
                at: t,
                reason: Some(1),
            },
            this_update: t,
            next_update: Some(t + 60),
        };
        let token = tsp::build_token(&TokenParams {
            tsa_cert_der: &c.tsa.der,
            chain: &[],
            signer: &c.tsa.key,
            policy_oid: TSA_POLICY,
            serial: serial(),
            gen_time: t,
            imprint_sha256: digest,
            nonce: Some(vec![1, 2, 3]),
            include_certs: true,
        })
        .unwrap();
        let attrs = cms::signed_attributes(&SignedAttrsParams {
            content_digest: digest,
            signer_cert_der: &c.person.der,
            signing_time: Some(t),
        })
        .unwrap();
        let sig = c.person.key.sign_der(&attrs).unwrap();
        let signed = cms::assemble(&attrs, &sig, &c.person.der, &[]).unwrap();
        let docs = vec![
            c.person.der.clone(),
            csr::build_csr("x", &c.person.key).unwrap(),
            crl::build_crl(
                &c.issuing.der,
                &c.issuing.key,
                t,
                t + 60,
                1,
                &[crl::Revoked {
                    serial: vec![5],
                    revoked_at: t,
                    reason: Some(1),
                }],
            )
            .unwrap(),
            ocsp::build_request(&[id], Some(b"nonce")).unwrap(),
            ocsp::build_response(&c.ocsp.der, &c.ocsp.key, t, &[status], Some(b"nonce")).unwrap(),
            tsp::build_request(&digest, Some(&[9, 9]), true).unwrap(),
            tsp::granted_response(&token),
            token.clone(),
            cms::add_signature_timestamp(&signed, &tsp_over(&c, &sig)).unwrap(),
        ];
        Fixtures { c, docs, digest }
    })
}

fn tsp_over(c: &Chain, sig: &[u8]) -> Vec<u8> {
    tsp::build_token(&TokenParams {
        tsa_cert_der: &c.tsa.der,
        chain: &[],
        signer: &c.tsa.key,
        policy_oid: TSA_POLICY,
        serial: serial(),
        gen_time: now(),
        imprint_sha256: sha256(sig),
        nonce: None,
        include_certs: true,
    })
    .unwrap()
}

/// Every parser on `b`; returns what the verifying ones accepted, to compare.
fn all_parsers(b: &[u8]) -> Vec<String> {
    let f = fixtures();
    let issuing = &f.c.issuing.der;
    let mut ok = Vec::new();
    let _ = cert::parse(b);
    if cert::verify_issued_by(b, issuing).is_ok() {
        ok.push(format!(
            "cert {:?}",
            cert::parse(b).map(|i| (i.serial, i.subject, i.spki_der))
        ));
    }
    let _ = cert::from_pem(&String::from_utf8_lossy(b));
    if let Ok(i) = csr::verify_csr(b) {
        ok.push(format!("csr {i:?}"));
    }
    if let Ok(i) = crl::parse_crl(b, issuing) {
        ok.push(format!("crl {i:?}"));
    }
    let _ = ocsp::parse_request(b);
    if let Ok(i) = ocsp::parse_response(b, issuing) {
        ok.push(format!("ocsp {:?}", (i.statuses, i.nonce, i.produced_at)));
    }
    let _ = tsp::parse_request(b);
    if let Ok(t) = tsp::token_from_response(b) {
        let _ = tsp::verify_token(&t, None);
    }
    if let Ok(i) = tsp::verify_token(b, None) {
        ok.push(format!(
            "token {:?}",
            (i.gen_time, i.imprint_sha256, i.serial)
        ));
    }
    let _ = tsp::verify_token(b, Some(&f.c.tsa.der));
    if let Ok(v) = cms::verify_detached(b, &f.digest) {
        ok.push(format!("cms {:?}", (v.signer_cert_der, v.signing_time)));
        // Unsigned, so it may go missing, but never change.
        if let Some(t) = v.timestamp {
            ok.push(format!(
                "cms timestamp {:?}",
                (t.gen_time, t.imprint_sha256, t.serial)
            ));
        }
    }
    let _ = cms::signature_value(b);
    let _ = cms::parse_signed_data(b);
    let _ = cms::add_signature_timestamp(b, b);
    let _ = CertId::for_cert(b, issuing);
    let _ = CertId::for_cert(&f.c.person.der, b);
    ocsp::parse_request(b)
        .iter()
        .flat_map(|r| r.ids.iter())
        .for_each(|id| {
            let _ = id.matches_issuer(issuing);
        });
    ok
}

#[derive(Debug, Clone)]
enum Edit {
    Xor(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Edit::Xor(i, x)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Insert(i, x)),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(doc: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut d = doc.to_vec();
    for e in edits {
        if d.is_empty() {
            break;
        }
        let n = d.len();
        match *e {
            Edit::Xor(i, x) => d[i % n] ^= x,
            Edit::Insert(i, x) => d.insert(i % (n + 1), x),
            Edit::Remove(i) => {
                d.remove(i % n);
            }
            Edit::Cut(i) => d.truncate(i % n),
        }
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(all_parsers(&b).is_empty());
    }

    #[test]
    fn changed_documents_never_panic_and_never_say_something_else(
        which in 0usize..9,
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let f = fixtures();
        let doc = &f.docs[which];
        let changed = apply(doc, &edits);
        let got = all_parsers(&changed);
        if changed != *doc {
            let original = all_parsers(doc);
            for g in &got {
                prop_assert!(original.contains(g), "a changed document verified as {g}");
            }
        }
    }
}

#[test]
fn the_fixtures_verify() {
    let f = fixtures();
    let accepted: Vec<usize> = (0..f.docs.len())
        .filter(|&i| !all_parsers(&f.docs[i]).is_empty())
        .collect();
    // The certificate, CSR, CRL, OCSP response, token and CMS verify (requests only parse).
    assert_eq!(accepted, vec![0, 1, 2, 4, 7, 8]);
    ocsp::parse_request(&f.docs[3]).unwrap();
    tsp::parse_request(&f.docs[5]).unwrap();
    tsp::verify_token(&tsp::token_from_response(&f.docs[6]).unwrap(), None).unwrap();
}
