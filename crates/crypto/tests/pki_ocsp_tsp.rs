//! OCSP and RFC 3161 time-stamps against OpenSSL's client side (`openssl ocsp`, `openssl ts`),
//! and our own parsers on what we build (the openssl parts are skipped, with a message, only if
//! `openssl` is not on PATH).
mod pki_common;

use iamsmart_crypto::pki::cert;
use iamsmart_crypto::pki::ocsp::{self, CertId, CertStatus, SingleStatus};
use iamsmart_crypto::pki::tsp::{self, TokenParams};
use iamsmart_crypto::pki::{sha256, CaSigner};
use iamsmart_crypto::CryptoError;
use pki_common::*;

fn status(id: &CertId, s: CertStatus) -> SingleStatus {
    SingleStatus {
        id: id.clone(),
        status: s,
        this_update: now() - 60,
        next_update: Some(now() + 3600),
    }
}

#[test]
fn ocsp_requests_and_responses_round_trip_and_are_checked() {
    let c = chain();
    let id = CertId::for_cert(&c.person.der, &c.issuing.der).unwrap();
    assert!(id.hash_alg_sha1 && id.matches_issuer(&c.issuing.der));
    assert!(!id.matches_issuer(&c.root.der));
    assert!(CertId::for_cert(&c.person.der, &c.root.der).is_err());
    let req = ocsp::build_request(std::slice::from_ref(&id), Some(b"nonce-1")).unwrap();
    let r = ocsp::parse_request(&req).unwrap();
    assert_eq!(
        (r.ids, r.nonce.as_deref()),
        (vec![id.clone()], Some(&b"nonce-1"[..]))
    );
    assert!(
        ocsp::parse_request(&ocsp::build_request(&vec![id.clone(); 11], None).unwrap()).is_err()
    );
    assert!(ocsp::build_request(&[], None).is_err());
    assert!(ocsp::parse_request(
        &ocsp::build_request(std::slice::from_ref(&id), Some(&[1; 33])).unwrap()
    )
    .is_err());

    // A delegated responder and the CA itself both sign acceptable responses.
    let revoked = CertStatus::Revoked {
        at: now() - 100,
        reason: Some(1),
    };
    for (cert_der, key) in [(&c.ocsp.der, &c.ocsp.key), (&c.issuing.der, &c.issuing.key)] {
        let resp = ocsp::build_response(cert_der, key, now(), &[status(&id, revoked)], Some(b"n"))
            .unwrap();
        let info = ocsp::parse_response(&resp, &c.issuing.der).unwrap();
        assert_eq!(info.statuses[0].status, revoked);
        assert_eq!(info.statuses[0].id, id);
        assert_eq!(info.nonce.as_deref(), Some(&b"n"[..]));
        let delegated = (cert_der == &c.ocsp.der).then(|| c.ocsp.der.clone());
        assert_eq!(info.responder_cert_der, delegated);
        // Any changed byte is refused; when the CA signs with its own key, the copy of its
        // certificate at the end is not used (the caller gave the issuer).
        let used = if delegated.is_some() {
            resp.len()
        } else {
            resp.len() - cert_der.len()
        };
        for i in (0..used).step_by(3) {
            let mut bad = resp.clone();
            bad[i] ^= 0x01;
            assert!(
                ocsp::parse_response(&bad, &c.issuing.der).is_err(),
                "byte {i}"
            );
        }
        // Not about certificates of another CA.
        assert!(ocsp::parse_response(&resp, &c.root.der).is_err());
    }
    // A responder the issuing CA did not certify for OCSP: the TSA, or the root's key.
    let tsa = ocsp::build_response(
        &c.tsa.der,
        &c.tsa.key,
        now(),
        &[status(&id, CertStatus::Good)],
        None,
    )
    .unwrap();
    let e = ocsp::parse_response(&tsa, &c.issuing.der).unwrap_err();
    assert!(e.to_string().contains("OCSPSigning"), "{e}");
    let root = ocsp::build_response(
        &c.root.der,
        &c.root.key,
        now(),
        &[status(&id, CertStatus::Good)],
        None,
    )
    .unwrap();
    assert!(ocsp::parse_response(&root, &c.issuing.der).is_err());
    assert!(ocsp::build_response(&c.ocsp.der, &c.tsa.key, now(), &[], None).is_err());
    // Error responses carry their status.
    assert_eq!(ocsp::error_response(3), vec![0x30, 3, 0x0a, 1, 3]);
    assert_eq!(ocsp::error_response(4), vec![0x30, 3, 0x0a, 1, 2]);
    let e = ocsp::parse_response(&ocsp::error_response(6), &c.issuing.der).unwrap_err();
    assert!(e.to_string().contains("Unauthorized"), "{e}");
}

#[test]
fn openssl_ocsp_reads_our_responses_and_we_read_its_requests() {
    if !have_openssl("ocsp") {
        return;
    }
    let c = chain();
    c.openssl_ok(&[
        "ocsp",
        "-issuer",
        "issuing.pem",
        "-cert",
        "person.pem",
        "-cert",
        "tsa.pem",
        "-reqout",
        "req.der",
    ]);
    let req = ocsp::parse_request(&std::fs::read(c.path("req.der")).unwrap()).unwrap();
    let nonce = req.nonce.clone().expect("openssl sends a nonce");
    assert_eq!(req.ids.len(), 2);
    assert_eq!(
        req.ids[0],
        CertId::for_cert(&c.person.der, &c.issuing.der).unwrap()
    );
    assert!(req.ids.iter().all(|i| i.matches_issuer(&c.issuing.der)));
    let statuses = [
        status(
            &req.ids[0],
            CertStatus::Revoked {
                at: now() - 3600,
                reason: Some(1),
            },
        ),
        status(&req.ids[1], CertStatus::Good),
    ];
    for (name, cert_der, key) in [
        ("delegated", &c.ocsp.der, &c.ocsp.key),
        ("ca", &c.issuing.der, &c.issuing.key),
    ] {
        let resp = ocsp::build_response(cert_der, key, now(), &statuses, Some(&nonce)).unwrap();
        c.write("resp.der", &resp);
        // Against the request read back (OpenSSL then compares the nonces; -cert would make it
        // build a new request with a new nonce).
        let check = [
            "-issuer",
            "issuing.pem",
            "-CAfile",
            "root.pem",
            "-verify_other",
            "issuing.pem",
        ];
        let mut args = vec![
            "ocsp",
            "-respin",
            "resp.der",
            "-reqin",
            "req.der",
            "-resp_text",
        ];
        args.extend(check);
        let out = c.openssl_ok(&args);
        assert!(out.contains("Response verify OK"), "{name}: {out}");
        assert!(
            !out.contains("WARNING") && !out.contains("Nonce Verify error"),
            "{name}: {out}"
        );
        assert!(out.contains("Cert Status: revoked"), "{name}: {out}");
        assert!(
            out.contains("Revocation Reason: keyCompromise"),
            "{name}: {out}"
        );
        assert!(out.contains("Cert Status: good"), "{name}: {out}");
        // Per certificate, as a client that sends no nonce sees it.
        let mut args = vec!["ocsp", "-respin", "resp.der", "-no_nonce"];
        args.extend(check); // -issuer before -cert
        args.extend(["-cert", "person.pem", "-cert", "tsa.pem"]);
        let out = c.openssl_ok(&args);
        assert!(out.contains("Response verify OK"), "{name}: {out}");
        assert!(out.contains("person.pem: revoked"), "{name}: {out}");
        assert!(out.contains("Reason: keyCompromise"), "{name}: {out}");
        assert!(out.contains("tsa.pem: good"), "{name}: {out}");
        // Another nonce than the request's: OpenSSL notices.
        let other = ocsp::build_response(cert_der, key, now(), &statuses, Some(b"other")).unwrap();
        c.write("other.der", &other);
        let mut args = vec!["ocsp", "-respin", "other.der", "-reqin", "req.der"];
        args.extend(check);
        let (_, out) = c.openssl(&args);
        assert!(out.contains("Nonce Verify error"), "{name}: {out}");
    }
    // A changed signed byte fails OpenSSL's check too.
    let resp =
        ocsp::build_response(&c.ocsp.der, &c.ocsp.key, now(), &statuses, Some(&nonce)).unwrap();
    // producedAt's last seconds digit (the first GeneralizedTime), changed by one second.
    let mut bad = resp.clone();
    let at = resp.windows(2).position(|w| w == [0x18, 0x0f]).unwrap();
    bad[at + 15] ^= 0x01;
    assert!(ocsp::parse_response(&bad, &c.issuing.der).is_err());
    c.write("bad.der", &bad);
    let (ok, out) = c.openssl(&[
        "ocsp",
        "-respin",
        "bad.der",
        "-issuer",
        "issuing.pem",
        "-CAfile",
        "root.pem",
        "-verify_other",
        "issuing.pem",
        "-cert",
        "person.pem",
    ]);
    assert!(!ok || out.contains("Response Verify Failure"), "{out}");
    assert!(!out.contains("Response verify OK"), "{out}");
    c.write("err.der", &ocsp::error_response(3));
    let (_, out) = c.openssl(&["ocsp", "-respin", "err.der", "-resp_text", "-noverify"]);
    assert!(out.contains("trylater (3)"), "{out}");
}

fn token(c: &Chain, imprint: [u8; 32], nonce: Option<Vec<u8>>, include_certs: bool) -> Vec<u8> {
    tsp::build_token(&TokenParams {
        tsa_cert_der: &c.tsa.der,
        chain: std::slice::from_ref(&c.issuing.der),
        signer: &c.tsa.key,
        policy_oid: TSA_POLICY,
        serial: serial(),
        gen_time: now(),
        imprint_sha256: imprint,
        nonce,
        include_certs,
    })
    .unwrap()
}

#[test]
fn time_stamp_tokens_verify_and_changes_are_refused() {
    let c = chain();
    let d = sha256(b"document");
    let t = token(&c, d, Some(vec![0x81, 2]), true);
    let info = tsp::verify_token(&t, None).unwrap();
    assert_eq!(info.imprint_sha256, d);
    assert!(info.gen_time.abs_diff(now()) < 5);
    assert_eq!(info.tsa_cert_der.as_deref(), Some(&c.tsa.der[..]));
    assert_eq!(tsp::verify_token(&t, Some(&c.tsa.der)).unwrap(), info);
    // The signer is not the certificate given; a token without certificates needs one.
    let e = tsp::verify_token(&t, Some(&c.ocsp.der)).unwrap_err();
    assert!(matches!(e, CryptoError::Verify(_)), "{e}");
    let bare = token(&c, d, None, false);
    assert!(tsp::verify_token(&bare, None)
        .unwrap_err()
        .to_string()
        .contains("not included"));
    tsp::verify_token(&bare, Some(&c.tsa.der)).unwrap();
    for i in (0..t.len()).step_by(5) {
        let mut bad = t.clone();
        bad[i] ^= 0x02;
        if let Ok(i2) = tsp::verify_token(&bad, None) {
            // Only bytes outside the signed parts may change, and then nothing we report does.
            assert_eq!(i2, info, "byte {i}");
        }
    }
    // Round trip through a response.
    assert_eq!(
        tsp::token_from_response(&tsp::granted_response(&t)).unwrap(),
        t
    );
    // Only a TSA certificate with its key can make tokens.
    let mut p = TokenParams {
        tsa_cert_der: &c.person.der,
        chain: &[],
        signer: &c.person.key,
        policy_oid: TSA_POLICY,
        serial: serial(),
        gen_time: now(),
        imprint_sha256: d,
        nonce: None,
        include_certs: true,
    };
    assert!(tsp::build_token(&p)
        .unwrap_err()
        .to_string()
        .contains("timeStamping"));
    p.tsa_cert_der = &c.tsa.der;
    assert!(tsp::build_token(&p).is_err());
    p.signer = &c.tsa.key;
    p.policy_oid = "not an oid";
    assert!(tsp::build_token(&p).is_err());
    assert!(c.tsa.key.spki_der() != c.person.key.spki_der());
}

#[test]
fn openssl_ts_queries_parse_and_our_responses_verify() {
    if !have_openssl("tsp") {
        return;
    }
    let c = chain();
    let data = b"a document to time-stamp\n".repeat(100);
    c.write("f", &data);
    c.write("chain.pem", cert::to_pem(&c.issuing.der).as_bytes());
    c.openssl_ok(&[
        "ts", "-query", "-data", "f", "-sha256", "-cert", "-out", "q.tsq",
    ]);
    let q = tsp::parse_request(&std::fs::read(c.path("q.tsq")).unwrap()).unwrap();
    assert_eq!(q.imprint_sha256, sha256(&data));
    assert!(q.cert_req);
    let nonce = q.nonce.clone().expect("openssl sends a nonce");
    c.openssl_ok(&["ts", "-query", "-data", "f", "-sha1", "-out", "q1.tsq"]);
    let e = tsp::parse_request(&std::fs::read(c.path("q1.tsq")).unwrap()).unwrap_err();
    assert!(e.to_string().contains("only SHA-256"), "{e}");
    c.openssl_ok(&[
        "ts",
        "-query",
        "-data",
        "f",
        "-sha256",
        "-no_nonce",
        "-tspolicy",
        "1.2.3.4",
        "-out",
        "q2.tsq",
    ]);
    let q2 = tsp::parse_request(&std::fs::read(c.path("q2.tsq")).unwrap()).unwrap();
    assert_eq!(
        (q2.nonce, q2.policy.as_deref(), q2.cert_req),
        (None, Some("1.2.3.4"), false)
    );

    let resp = tsp::granted_response(&token(&c, q.imprint_sha256, Some(nonce), q.cert_req));
    c.write("r.tsr", &resp);
    for against in [["-data", "f"], ["-queryfile", "q.tsq"]] {
        let mut args = vec![
            "ts",
            "-verify",
            "-in",
            "r.tsr",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
        ];
        args.extend(against);
        let out = c.openssl_ok(&args);
        assert!(out.contains("Verification: OK"), "{against:?}: {out}");
    }
    let text = c.openssl_ok(&["ts", "-reply", "-in", "r.tsr", "-text"]);
    assert!(
        text.contains("Status: Granted") && text.contains(TSA_POLICY),
        "{text}"
    );
    // Other data does not verify.
    c.write("g", b"another document");
    let (ok, out) = c.openssl(&[
        "ts",
        "-verify",
        "-in",
        "r.tsr",
        "-data",
        "g",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "chain.pem",
    ]);
    assert!(!ok && !out.contains("Verification: OK"), "{out}");
    // A rejection reads as one.
    c.write(
        "rej.tsr",
        &tsp::rejection_response(0, "only SHA-256 imprints"),
    );
    let text = c.openssl_ok(&["ts", "-reply", "-in", "rej.tsr", "-text"]);
    assert!(
        text.contains("Rejected") && text.contains("only SHA-256 imprints"),
        "{text}"
    );
    assert!(
        text.contains("unrecognized or unsupported algorithm identifier"),
        "{text}"
    );
}
