//! Certificates, key store signers, PKCS#10 and CRLs, checked by our own verifier and by
//! OpenSSL (the openssl parts are skipped, with a message, only if `openssl` is not on PATH).
mod pki_common;

use iamsmart_crypto::jose::Alg;
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::{KeyKind, KeyStore};
use iamsmart_crypto::pki::cert::{self, Profile};
use iamsmart_crypto::pki::crl::{self, Revoked};
use iamsmart_crypto::pki::csr;
use iamsmart_crypto::pki::{CaSigner, KeyStoreSigner, SoftSigner};
use iamsmart_crypto::CryptoError;
use pki_common::*;
use zeroize::Zeroizing;

#[test]
fn the_chain_verifies_in_openssl_with_the_right_purposes() {
    let c = chain();
    // Our own checks first.
    cert::verify_issued_by(&c.issuing.der, &c.root.der).unwrap();
    cert::verify_issued_by(&c.root.der, &c.root.der).unwrap();
    for p in [&c.person, &c.ocsp, &c.tsa] {
        cert::verify_issued_by(&p.der, &c.issuing.der).unwrap();
        assert!(cert::verify_issued_by(&p.der, &c.root.der).is_err());
    }
    let info = cert::parse(&c.person.der).unwrap();
    assert_eq!(info.subject_cn, "CHAN Tai Man");
    assert_eq!(info.serial_number_attr.as_deref(), Some("IDCHK-A1234563"));
    assert!(!info.is_ca);
    assert_eq!(info.spki_der, c.person.key.spki_der());
    assert!(
        info.issuer.contains("CN=iAM Smart Test Issuing CA"),
        "{}",
        info.issuer
    );
    assert!(
        info.subject.starts_with("CN=CHAN Tai Man,"),
        "{}",
        info.subject
    );
    assert!(cert::parse(&c.root.der).unwrap().is_ca);
    assert_eq!(
        cert::from_pem(&cert::to_pem(&c.tsa.der)).unwrap(),
        c.tsa.der
    );

    if !have_openssl("chain") {
        return;
    }
    let verify = |purpose: Option<&str>, leaf: &str| {
        let mut args = vec!["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem"];
        if let Some(p) = purpose {
            args.extend(["-purpose", p]);
        }
        args.push(leaf);
        c.openssl(&args)
    };
    for (purpose, leaf) in [
        (None, "person.pem"),
        (Some("smimesign"), "person.pem"),
        (Some("timestampsign"), "tsa.pem"),
        (Some("ocsphelper"), "ocsp.pem"),
        (None, "issuing.pem"),
    ] {
        let (ok, out) = verify(purpose, leaf);
        assert!(ok && out.contains(": OK"), "{purpose:?} {leaf}: {out}");
    }
    // The purposes are real checks: the person's key may not time-stamp, the TSA's may not
    // sign mail.
    assert!(!verify(Some("timestampsign"), "person.pem").0);
    assert!(!verify(Some("smimesign"), "tsa.pem").0);
    // Not without the issuing CA, and not under another root.
    assert!(
        !c.openssl(&["verify", "-CAfile", "root.pem", "person.pem"])
            .0
    );
    let other = chain();
    c.write("other-root.pem", cert::to_pem(&other.root.der).as_bytes());
    let (ok, _) = c.openssl(&[
        "verify",
        "-CAfile",
        "other-root.pem",
        "-untrusted",
        "issuing.pem",
        "person.pem",
    ]);
    assert!(!ok);
    // A changed signature byte is caught by both.
    let mut bad = c.person.der.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x01;
    c.write("bad.pem", cert::to_pem(&bad).as_bytes());
    assert!(!verify(None, "bad.pem").0);
    assert!(cert::verify_issued_by(&bad, &c.issuing.der).is_err());

    let text = c.openssl_ok(&["x509", "-in", "person.pem", "-noout", "-text"]);
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert!(text.contains("Non Repudiation"), "{text}");
    assert!(!text.contains("Digital Signature"), "{text}");
    assert!(text.contains(POLICY), "{text}");
    assert!(
        text.contains("OCSP - URI:http://pki.iamsmart.test/ocsp"),
        "{text}"
    );
    assert!(
        text.contains("URI:http://pki.iamsmart.test/issuing.crl"),
        "{text}"
    );
    assert!(text.contains("serialNumber = IDCHK-A1234563"), "{text}");
    // qcStatements: OpenSSL shows the extension; the statement's OIDs are in its DER.
    assert!(
        text.contains("qcStatements") || text.contains("1.3.6.1.5.5.7.1.3"),
        "{text}"
    );
    let parsed = c.openssl_ok(&["asn1parse", "-in", "person.pem"]);
    let qc = parsed
        .lines()
        .skip_while(|l| !l.contains("qcStatements") && !l.contains(":1.3.6.1.5.5.7.1.3"))
        .nth(1)
        .expect("qcStatements extension value");
    let offset = qc.split(':').next().unwrap().trim().to_string();
    let inner = c.openssl_ok(&["asn1parse", "-in", "person.pem", "-strparse", &offset]);
    assert!(inner.contains("0.4.0.194121.1.1"), "{inner}");
    assert!(inner.contains("1.3.6.1.5.5.7.11.2"), "{inner}");
    let tsa = c.openssl_ok(&["x509", "-in", "tsa.pem", "-noout", "-text"]);
    assert!(tsa.contains("X509v3 Extended Key Usage: critical"), "{tsa}");
    assert!(tsa.contains("Time Stamping"), "{tsa}");
    let ocsp = c.openssl_ok(&["x509", "-in", "ocsp.pem", "-noout", "-text"]);
    assert!(
        ocsp.contains("OCSP Signing") && ocsp.contains("OCSP No Check"),
        "{ocsp}"
    );
    let issuing = c.openssl_ok(&["x509", "-in", "issuing.pem", "-noout", "-text"]);
    assert!(issuing.contains("CA:TRUE, pathlen:0"), "{issuing}");
    assert!(issuing.contains("Certificate Sign, CRL Sign"), "{issuing}");
}

#[test]
fn issue_refuses_what_a_ca_must_not_sign() {
    let c = chain();
    let k = SoftSigner::generate().unwrap();
    let t = template(dn("x"), k.spki_der(), Profile::TimeStamping);
    // The signer is not the issuer's key.
    let e = cert::issue(&t, Some(&c.issuing.der), &c.root.key).unwrap_err();
    assert!(
        e.to_string().contains("not the key of the certificate"),
        "{e}"
    );
    // Only a root is self-signed; a root is only self-signed.
    assert!(cert::issue(&t, None, &k).is_err());
    let r = template(dn("r"), k.spki_der(), Profile::RootCa);
    assert!(cert::issue(&r, Some(&c.issuing.der), &c.issuing.key).is_err());
    // A leaf cannot issue; pathLen 0 forbids a CA under the issuing CA.
    let e = cert::issue(&t, Some(&c.person.der), &c.person.key).unwrap_err();
    assert!(e.to_string().contains("not a CA"), "{e}");
    let sub = template(dn("sub"), k.spki_der(), Profile::IssuingCa);
    let e = cert::issue(&sub, Some(&c.issuing.der), &c.issuing.key).unwrap_err();
    assert!(e.to_string().contains("pathLen 0"), "{e}");
    // Validity beyond the issuer's, backwards, bad serials, a non-P-256 key.
    let mut long = t.clone();
    long.not_after = now() + 40 * 365 * DAY;
    assert!(cert::issue(&long, Some(&c.issuing.der), &c.issuing.key).is_err());
    let mut back = t.clone();
    back.not_after = back.not_before;
    assert!(cert::issue(&back, Some(&c.issuing.der), &c.issuing.key).is_err());
    for s in [vec![], vec![0, 0], vec![0xff; 21]] {
        let mut z = t.clone();
        z.serial = s;
        assert!(cert::issue(&z, Some(&c.issuing.der), &c.issuing.key).is_err());
    }
    let mut rsa = t.clone();
    rsa.subject_spki_der = vec![0x30, 0x03, 0x02, 0x01, 0x00];
    assert!(cert::issue(&rsa, Some(&c.issuing.der), &c.issuing.key).is_err());
    // A serial with a leading zero byte comes back minimal.
    let mut lead = t.clone();
    lead.serial = vec![0, 0x42, 0x99];
    let der = cert::issue(&lead, Some(&c.issuing.der), &c.issuing.key).unwrap();
    assert_eq!(cert::parse(&der).unwrap().serial, vec![0x42, 0x99]);
    // After 2049 the times are GeneralizedTime, and read back the same.
    let mut late = template(dn("late"), k.spki_der(), Profile::RootCa);
    late.not_after = 2_600_000_000; // 2052
    let der = cert::issue(&late, None, &k).unwrap();
    assert_eq!(cert::parse(&der).unwrap().not_after, 2_600_000_000);
    assert!(der.windows(2).any(|w| w == [0x18, 0x0f])); // GeneralizedTime, 15 bytes
}

/// The issuing CA's key in the file key store, signing through `KeyStoreSigner`.
#[test]
fn a_file_store_key_signs_as_issuing_ca() {
    let store = FileKeyStore::from_master_key(Zeroizing::new([7u8; 32]));
    let g = store
        .generate("issuing-ca", KeyKind::Signing(Alg::ES256))
        .unwrap();
    let jwk = g.public_jwk.clone().unwrap();
    let signer = KeyStoreSigner::new(&store, "issuing-ca", &g.handle, &jwk).unwrap();
    let root = party(None, |k| template(dn("File Root"), k, Profile::RootCa));
    let issuing_der = issue_under(
        &root,
        &template(dn("File Issuing CA"), signer.spki_der(), Profile::IssuingCa),
    );
    let leaf_key = SoftSigner::generate().unwrap();
    let leaf = cert::issue(
        &person_template(leaf_key.spki_der()),
        Some(&issuing_der),
        &signer,
    )
    .unwrap();
    cert::verify_issued_by(&leaf, &issuing_der).unwrap();
    let crl_der = crl::build_crl(&issuing_der, &signer, now(), now() + DAY, 1, &[]).unwrap();
    assert!(crl::parse_crl(&crl_der, &issuing_der)
        .unwrap()
        .revoked
        .is_empty());
    // A public key that is not the handle's: every signature is refused.
    let other = store
        .generate("other", KeyKind::Signing(Alg::ES256))
        .unwrap();
    let wrong =
        KeyStoreSigner::new(&store, "issuing-ca", &g.handle, &other.public_jwk.unwrap()).unwrap();
    let e = wrong.sign_der(b"x").unwrap_err();
    assert!(matches!(e, CryptoError::Verify(_)), "{e}");
    if !have_openssl("file store") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.pem"), cert::to_pem(&root.der)).unwrap();
    std::fs::write(dir.path().join("issuing.pem"), cert::to_pem(&issuing_der)).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), cert::to_pem(&leaf)).unwrap();
    let (ok, out) = openssl_in(
        dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "{out}");
}

#[test]
fn csrs_prove_possession_and_only_p256_is_accepted() {
    let k = SoftSigner::generate().unwrap();
    let der = csr::build_csr("resident signing key", &k).unwrap();
    let info = csr::verify_csr(&der).unwrap();
    assert_eq!(info.spki_der, k.spki_der());
    assert_eq!(info.common_name.as_deref(), Some("resident signing key"));
    // Any changed byte of the request is refused (as a bad signature or bad DER).
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x04;
        assert!(
            csr::verify_csr(&bad).is_err(),
            "byte {i} changed and accepted"
        );
    }
    let mut bad = der.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x01;
    let e = csr::verify_csr(&bad).unwrap_err();
    assert!(e.to_string().contains("proof of possession"), "{e}");

    if !have_openssl("csr") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| openssl_in(dir.path(), args);
    std::fs::write(dir.path().join("ours.der"), &der).unwrap();
    let (ok, out) = run(&[
        "req", "-verify", "-in", "ours.der", "-inform", "DER", "-noout",
    ]);
    assert!(ok && out.contains("verify OK"), "{out}");
    std::fs::write(dir.path().join("bad.der"), &bad).unwrap();
    // OpenSSL 3.0 exits 0 here even when the check fails: read what it says.
    let (_, out) = run(&[
        "req", "-verify", "-in", "bad.der", "-inform", "DER", "-noout",
    ]);
    assert!(
        out.contains("verify failure") && !out.contains("verify OK"),
        "{out}"
    );
    // Requests made by OpenSSL: P-256 accepted; RSA and P-384 refused, saying why.
    for (name, newkey, expect) in [
        (
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            None,
        ),
        ("rsa", &["-newkey", "rsa:2048"][..], Some("only EC P-256")),
        (
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            Some("only P-256"),
        ),
    ] {
        let out_file = format!("{name}.der");
        let mut args = vec![
            "req",
            "-new",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-subj",
            "/CN=openssl-made",
        ];
        args.extend(newkey);
        args.extend(["-outform", "DER", "-out", &out_file]);
        let (ok, out) = run(&args);
        assert!(ok, "{out}");
        let made = std::fs::read(dir.path().join(&out_file)).unwrap();
        match (csr::verify_csr(&made), expect) {
            (Ok(i), None) => assert_eq!(i.common_name.as_deref(), Some("openssl-made")),
            (Err(e), Some(why)) => assert!(e.to_string().contains(why), "{name}: {e}"),
            (r, _) => panic!("{name}: {r:?}"),
        }
    }
}

#[test]
fn crls_verify_in_openssl_and_revoke() {
    let c = chain();
    let t = now();
    let person_serial = cert::parse(&c.person.der).unwrap().serial;
    let revoked = [
        Revoked {
            serial: person_serial.clone(),
            revoked_at: t - 60,
            reason: Some(1),
        },
        Revoked {
            serial: vec![0, 0x77],
            revoked_at: t - 120,
            reason: None,
        },
    ];
    let der = crl::build_crl(
        &c.issuing.der,
        &c.issuing.key,
        t - 60,
        t + DAY,
        42,
        &revoked,
    )
    .unwrap();
    let info = crl::parse_crl(&der, &c.issuing.der).unwrap();
    assert_eq!(
        (info.this_update, info.next_update, info.number),
        (t - 60, t + DAY, 42)
    );
    assert_eq!(info.revoked[0], revoked[0]);
    assert_eq!(info.revoked[1].serial, vec![0x77]);
    assert_eq!(info.revoked[1].reason, None);
    // Not the issuer's CRL; a changed byte; a signer that is not the CA; a bad reason.
    assert!(crl::parse_crl(&der, &c.root.der).is_err());
    for i in (0..der.len()).step_by(7) {
        let mut bad = der.clone();
        bad[i] ^= 0x10;
        assert!(crl::parse_crl(&bad, &c.issuing.der).is_err(), "byte {i}");
    }
    assert!(crl::build_crl(&c.issuing.der, &c.root.key, t, t + DAY, 1, &[]).is_err());
    assert!(crl::build_crl(&c.person.der, &c.person.key, t, t + DAY, 1, &[]).is_err());
    let seven = [Revoked {
        serial: vec![1],
        revoked_at: t,
        reason: Some(7),
    }];
    assert!(crl::build_crl(&c.issuing.der, &c.issuing.key, t, t + DAY, 1, &seven).is_err());

    if !have_openssl("crl") {
        return;
    }
    let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der).unwrap();
    c.write("issuing.crl.pem", pem.as_bytes());
    c.write("issuing.crl", &der);
    c.write(
        "cas.pem",
        format!(
            "{}{}",
            cert::to_pem(&c.root.der),
            cert::to_pem(&c.issuing.der)
        )
        .as_bytes(),
    );
    let out = c.openssl_ok(&[
        "crl",
        "-in",
        "issuing.crl",
        "-inform",
        "DER",
        "-CAfile",
        "cas.pem",
        "-noout",
    ]);
    assert!(out.contains("verify OK"), "{out}");
    let text = c.openssl_ok(&[
        "crl",
        "-in",
        "issuing.crl",
        "-inform",
        "DER",
        "-noout",
        "-text",
    ]);
    assert!(
        text.contains("X509v3 CRL Number") && text.contains("42"),
        "{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    let check = |leaf: &str| {
        c.openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-CRLfile",
            "issuing.crl.pem",
            leaf,
        ])
    };
    let (ok, out) = check("person.pem");
    assert!(!ok && out.contains("certificate revoked"), "{out}");
    let (ok, out) = check("tsa.pem");
    assert!(ok, "{out}");
    // A changed signature is not accepted by OpenSSL either (which exits 0: read its words).
    let mut bad = der.clone();
    let n = bad.len();
    bad[n - 2] ^= 0x01;
    c.write("bad.crl", &bad);
    let (_, out) = c.openssl(&[
        "crl", "-in", "bad.crl", "-inform", "DER", "-CAfile", "cas.pem", "-noout",
    ]);
    assert!(
        out.contains("verify failure") && !out.contains("verify OK"),
        "{out}"
    );
}
