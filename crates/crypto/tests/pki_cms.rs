//! Detached CAdES-shaped CMS signatures made the way the platform makes them ("hash signing":
//! the platform builds the signed attributes, the resident's key signs them, the platform
//! assembles and time-stamps), checked by `verify_detached` and by `openssl cms -verify` (the
//! openssl parts are skipped, with a message, only if `openssl` is not on PATH).
mod pki_common;

use iamsmart_crypto::pki::cert;
use iamsmart_crypto::pki::cms::{self, SignedAttrsParams};
use iamsmart_crypto::pki::tsp::{self, TokenParams};
use iamsmart_crypto::pki::{sha256, CaSigner, SoftSigner};
use iamsmart_crypto::CryptoError;
use pki_common::*;

fn timestamp(c: &Chain, signature: &[u8]) -> Vec<u8> {
    let token = tsp::build_token(&TokenParams {
        tsa_cert_der: &c.tsa.der,
        chain: std::slice::from_ref(&c.issuing.der),
        signer: &c.tsa.key,
        policy_oid: TSA_POLICY,
        serial: serial(),
        gen_time: now(),
        imprint_sha256: sha256(signature),
        nonce: None,
        include_certs: true,
    })
    .unwrap();
    // Through a response and back, as the platform's TSA client gets it.
    tsp::token_from_response(&tsp::granted_response(&token)).unwrap()
}

/// The hash-signing flow for `content`: (CMS without, and with a signature time-stamp).
fn sign(c: &Chain, content: &[u8], signing_time: Option<u64>) -> (Vec<u8>, Vec<u8>) {
    let attrs = cms::signed_attributes(&SignedAttrsParams {
        content_digest: sha256(content),
        signer_cert_der: &c.person.der,
        signing_time,
    })
    .unwrap();
    assert_eq!(attrs[0], 0x31);
    // The resident's app signs the attribute bytes.
    let sig = c.person.key.sign_der(&attrs).unwrap();
    let b_b = cms::assemble(
        &attrs,
        &sig,
        &c.person.der,
        std::slice::from_ref(&c.issuing.der),
    )
    .unwrap();
    let value = cms::signature_value(&b_b).unwrap();
    assert_eq!(value, sig);
    let b_t = cms::add_signature_timestamp(&b_b, &timestamp(c, &value)).unwrap();
    (b_b, b_t)
}

#[test]
fn signatures_verify_with_their_timestamp_and_changes_are_refused() {
    let c = chain();
    let content = b"the OSP's document".repeat(50);
    let t = now();
    let (b_b, b_t) = sign(&c, &content, Some(t));
    let v = cms::verify_detached(&b_b, &sha256(&content)).unwrap();
    assert_eq!(v.signer_cert_der, c.person.der);
    assert_eq!(v.chain, vec![c.issuing.der.clone()]);
    assert_eq!(v.signing_time, Some(t));
    assert!(v.timestamp.is_none());
    let v = cms::verify_detached(&b_t, &sha256(&content)).unwrap();
    let ts = v.timestamp.expect("the time-stamp");
    assert_eq!(
        ts.imprint_sha256,
        sha256(&cms::signature_value(&b_t).unwrap())
    );
    assert_eq!(ts.tsa_cert_der.as_deref(), Some(&c.tsa.der[..]));
    let (signer, all) = cms::parse_signed_data(&b_t).unwrap();
    assert_eq!(signer, c.person.der);
    assert_eq!(all.len(), 2);
    // PAdES shape: no signingTime.
    let (pades, _) = sign(&c, &content, None);
    assert_eq!(
        cms::verify_detached(&pades, &sha256(&content))
            .unwrap()
            .signing_time,
        None
    );

    // Other content.
    let e = cms::verify_detached(&b_t, &sha256(b"other")).unwrap_err();
    assert!(
        matches!(e, CryptoError::Verify(m) if m.contains("messageDigest")),
        "{e}"
    );
    // A changed signature byte (the last byte of r, inside the signature value).
    let value = cms::signature_value(&b_b).unwrap();
    let at = b_b.windows(value.len()).position(|w| w == value).unwrap();
    let mut bad = b_b.clone();
    bad[at + 5] ^= 0x01;
    let e = cms::verify_detached(&bad, &sha256(&content)).unwrap_err();
    assert!(matches!(e, CryptoError::Verify(_)), "{e}");
    let value_at = b_t.windows(value.len()).position(|w| w == value).unwrap() + value.len();
    // Every changed byte is refused, except in the copies of the issuing CA's certificate
    // (in the signature's and in the time-stamp token's certificates; trust is the caller's).
    let n = c.issuing.der.len();
    let copies: Vec<usize> = (0..b_t.len() - n)
        .filter(|&i| b_t[i..i + n] == c.issuing.der)
        .collect();
    assert_eq!(copies.len(), 2);
    for i in (0..b_t.len()).step_by(3) {
        if copies.iter().any(|&at| (at..at + n).contains(&i)) {
            continue;
        }
        let mut bad = b_t.clone();
        bad[i] ^= 0x20;
        if let Ok(v) = cms::verify_detached(&bad, &sha256(&content)) {
            // Unsigned attributes (after the signature value) are not protected: a change
            // there may turn the time-stamp attribute into an unknown one, never into another
            // valid time-stamp.
            assert!(i > value_at && v.timestamp.is_none(), "byte {i}");
        }
    }
    // A time-stamp over something else is refused when added.
    let e = cms::add_signature_timestamp(&b_b, &timestamp(&c, b"not this signature")).unwrap_err();
    assert!(e.to_string().contains("imprint"), "{e}");
    assert!(cms::add_signature_timestamp(&b_t, &timestamp(&c, &value)).is_err());
}

#[test]
fn assemble_refuses_what_does_not_belong_together() {
    let c = chain();
    let d = sha256(b"doc");
    let attrs = |cert: &[u8], digest| {
        cms::signed_attributes(&SignedAttrsParams {
            content_digest: digest,
            signer_cert_der: cert,
            signing_time: Some(now()),
        })
        .unwrap()
    };
    let a = attrs(&c.person.der, d);
    // Signed by another key than the certificate's.
    let by_tsa = c.tsa.key.sign_der(&a).unwrap();
    let e = cms::assemble(&a, &by_tsa, &c.person.der, &[]).unwrap_err();
    assert!(matches!(e, CryptoError::Verify(_)), "{e}");
    // Attributes naming the TSA's certificate, signed by the person, assembled with the person's.
    let a_tsa = attrs(&c.tsa.der, d);
    let sig = c.person.key.sign_der(&a_tsa).unwrap();
    let e = cms::assemble(&a_tsa, &sig, &c.person.der, &[]).unwrap_err();
    assert!(e.to_string().contains("signingCertificateV2"), "{e}");
    // A wrong messageDigest: assembles (the platform signs what it is given) but does not
    // verify against the content.
    let wrong = attrs(&c.person.der, sha256(b"another doc"));
    let sig = c.person.key.sign_der(&wrong).unwrap();
    let cms_der = cms::assemble(&wrong, &sig, &c.person.der, &[]).unwrap();
    assert!(cms::verify_detached(&cms_der, &d).is_err());
    // Not DER attributes.
    assert!(cms::assemble(&a[1..], &sig, &c.person.der, &[]).is_err());
}

/// A certificate swapped for another with the same issuer, serial and length: the signature
/// (and signingCertificateV2) no longer match.
#[test]
fn a_swapped_signer_certificate_is_refused() {
    let c = chain();
    let content = b"content";
    let (b_b, _) = sign(&c, content, Some(now()));
    let info = cert::parse(&c.person.der).unwrap();
    let twin = loop {
        let k = SoftSigner::generate().unwrap();
        let mut t = person_template(k.spki_der());
        t.serial = info.serial.clone();
        (t.not_before, t.not_after) = (info.not_before, info.not_after);
        let der = issue_under(&c.issuing, &t);
        if der.len() == c.person.der.len() {
            break der;
        }
    };
    let at = b_b
        .windows(c.person.der.len())
        .position(|w| w == c.person.der)
        .unwrap();
    let mut swapped = b_b.clone();
    swapped[at..at + twin.len()].copy_from_slice(&twin);
    assert_eq!(cms::parse_signed_data(&swapped).unwrap().0, twin);
    let e = cms::verify_detached(&swapped, &sha256(content)).unwrap_err();
    assert!(matches!(e, CryptoError::Verify(_)), "{e}");
}

#[test]
fn openssl_cms_verifies_our_detached_signatures() {
    if !have_openssl("cms") {
        return;
    }
    let c = chain();
    let content = b"%PDF-1.7 pretend\n".repeat(200);
    c.write("content.bin", &content);
    let (_, b_t) = sign(&c, &content, Some(now()));
    c.write("sig.der", &b_t);
    let verify = |content: &str, purpose_any: bool| {
        let mut args = vec![
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "sig.der",
            "-content",
            content,
            "-CAfile",
            "root.pem",
            "-certfile",
            "issuing.pem",
            "-out",
            "/dev/null",
        ];
        if purpose_any {
            args.extend(["-purpose", "any"]);
        }
        c.openssl(&args)
    };
    let (ok, out) = verify("content.bin", true);
    assert!(ok && out.contains("Verification successful"), "{out}");
    // OpenSSL's default purpose for cms -verify is smimesign, which accepts a key usage of
    // nonRepudiation alone.
    let (ok, out) = verify("content.bin", false);
    eprintln!(
        "openssl cms -verify without -purpose any: ok={ok}: {}",
        out.trim()
    );
    assert!(ok && out.contains("Verification successful"), "{out}");
    let mut changed = content.clone();
    changed[100] ^= 1;
    c.write("changed.bin", &changed);
    let (ok, out) = verify("changed.bin", true);
    assert!(!ok && !out.contains("Verification successful"), "{out}");
    assert!(cms::verify_detached(&b_t, &sha256(&changed)).is_err());
    // OpenSSL sees the signature time-stamp as an unsigned attribute, and the token inside it
    // verifies as a time-stamp over the signature value.
    let text = c.openssl_ok(&[
        "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.der",
    ]);
    assert!(text.contains("id-smime-aa-timeStampToken"), "{text}");
    assert!(text.contains("id-smime-aa-signingCertificateV2"), "{text}");
    let value = cms::signature_value(&b_t).unwrap();
    c.write("value.bin", &value);
    let v = cms::verify_detached(&b_t, &sha256(&content)).unwrap();
    assert!(v.timestamp.is_some());
    let token = extract_token(&b_t);
    c.write("token.der", &token);
    let out = c.openssl_ok(&[
        "ts",
        "-verify",
        "-token_in",
        "-in",
        "token.der",
        "-data",
        "value.bin",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
    ]);
    assert!(out.contains("Verification: OK"), "{out}");
}

/// The token inside the unsigned attribute (the last ContentInfo in the DER).
fn extract_token(cms_der: &[u8]) -> Vec<u8> {
    let oid = [
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e,
    ];
    let at = cms_der.windows(oid.len()).position(|w| w == oid).unwrap() + oid.len();
    // SET { token }: 0x31 with a long-form length, then the token SEQUENCE.
    let set = &cms_der[at..];
    assert_eq!(set[0], 0x31);
    let skip = if set[1] < 0x80 {
        2
    } else {
        2 + (set[1] & 0x7f) as usize
    };
    let token = &set[skip..];
    let len = match token[1] {
        l if l < 0x80 => 2 + l as usize,
        0x81 => 3 + token[2] as usize,
        0x82 => 4 + ((token[2] as usize) << 8 | token[3] as usize),
        _ => panic!("token too long"),
    };
    token[..len].to_vec()
}
