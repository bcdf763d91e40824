use super::*;
use crate::keystore::file::FileKeyStore;
use crate::keystore::{KeyKind, KeyStore};
use zeroize::Zeroizing;

fn store() -> FileKeyStore {
    FileKeyStore::from_master_key(Zeroizing::new([3u8; 32]))
}

fn signed(
    ks: &FileKeyStore,
    kid: &str,
    alg: Alg,
    extra: &[(&str, serde_json::Value)],
) -> (String, PublicJwk) {
    let g = ks.generate(kid, KeyKind::Signing(alg)).unwrap();
    let mut header = JwsHeader {
        alg,
        kid: Some(kid.into()),
        typ: Some("JWT".into()),
        extra: Default::default(),
    };
    for (k, v) in extra {
        header.extra.insert(k.to_string(), v.clone());
    }
    let t = sign_compact(&header, b"{\"sub\":\"x\"}", |i| {
        ks.sign(kid, &g.handle, alg, i)
    })
    .unwrap();
    (t, g.public_jwk.unwrap())
}

#[test]
fn round_trips_for_each_algorithm() {
    let ks = store();
    for (kid, alg) in [("e", Alg::ES256), ("d", Alg::EdDSA), ("r", Alg::RS256)] {
        let (t, jwk) = signed(&ks, kid, alg, &[]);
        let (h, p) = verify_compact(&t, std::slice::from_ref(&jwk), &[alg]).unwrap();
        assert_eq!(h.alg, alg);
        assert_eq!(p, b"{\"sub\":\"x\"}");
        assert_eq!(jwk.thumbprint().len(), 43);
    }
}

fn reheader(token: &str, header: serde_json::Value) -> String {
    let rest: Vec<&str> = token.splitn(2, '.').collect();
    format!("{}.{}", b64(header.to_string().as_bytes()), rest[1])
}

#[test]
fn refuses_what_rfc_8725_forbids() {
    let ks = store();
    let (t, jwk) = signed(&ks, "k1", Alg::ES256, &[]);
    let keys = [jwk.clone()];
    let all = [Alg::ES256, Alg::EdDSA, Alg::RS256];
    // alg none, with and without a signature.
    let none = reheader(&t, serde_json::json!({"alg": "none", "kid": "k1"}));
    assert!(verify_compact(&none, &keys, &all).is_err());
    let parts: Vec<&str> = none.split('.').collect();
    assert!(verify_compact(&format!("{}.{}.", parts[0], parts[1]), &keys, &all).is_err());
    // HS256 "signed" with our public key.
    assert!(verify_compact(
        &reheader(&t, serde_json::json!({"alg": "HS256", "kid": "k1"})),
        &keys,
        &all
    )
    .is_err());
    // Keys or key URLs in the header.
    for f in ["jwk", "jku", "x5u", "x5c", "crit"] {
        let h = serde_json::json!({"alg": "ES256", "kid": "k1", f: serde_json::to_value(&jwk).unwrap()});
        let e = verify_compact(&reheader(&t, h), &keys, &all).unwrap_err();
        assert!(e.to_string().contains(f), "{f}: {e}");
    }
    // r = s = 0.
    let p: Vec<&str> = t.split('.').collect();
    let zero = format!("{}.{}.{}", p[0], p[1], b64(&[0u8; 64]));
    assert!(verify_compact(&zero, &keys, &all).is_err());
    // kid tricks and unknown kids.
    for kid in ["../../k1", "k1\u{0}", "k2"] {
        assert!(verify_compact(
            &reheader(&t, serde_json::json!({"alg": "ES256", "kid": kid})),
            &keys,
            &all
        )
        .is_err());
    }
    // Not in the allow-list.
    assert!(verify_compact(&t, &keys, &[Alg::EdDSA]).is_err());
    // A flipped signature bit, bad base64, wrong shape.
    let mut sig = b64_decode("s", p[2]).unwrap();
    sig[10] ^= 1;
    assert!(verify_compact(&format!("{}.{}.{}", p[0], p[1], b64(&sig)), &keys, &all).is_err());
    assert!(verify_compact(&format!("{}.{}.{}=", p[0], p[1], p[2]), &keys, &all).is_err());
    assert!(verify_compact("a.b", &keys, &all).is_err());
    assert!(verify_compact(&format!("{t}.x"), &keys, &all).is_err());
    // A key of another type cannot verify.
    let (_, ed) = signed(&ks, "k1", Alg::EdDSA, &[]);
    assert!(verify_compact(&t, &[ed], &all).is_err());
    assert!(verify_compact(&t, &keys, &all).is_ok());
}

#[test]
fn ecdsa_scalars_at_or_above_the_order_are_refused() {
    let ks = store();
    let (t, jwk) = signed(&ks, "k1", Alg::ES256, &[]);
    let p: Vec<&str> = t.split('.').collect();
    let sig = b64_decode("s", p[2]).unwrap();
    let input = format!("{}.{}", p[0], p[1]);
    verify_signature(&jwk, Alg::ES256, input.as_bytes(), &sig).unwrap();
    for (r, s) in [
        (P256_N.to_vec(), sig[32..].to_vec()),
        (sig[..32].to_vec(), P256_N.to_vec()),
        (vec![0xff; 32], sig[32..].to_vec()),
        (vec![0; 32], sig[32..].to_vec()),
        (sig[..32].to_vec(), vec![0; 32]),
    ] {
        let bad = [r, s].concat();
        assert!(verify_signature(&jwk, Alg::ES256, input.as_bytes(), &bad).is_err());
    }
    // Not 64 bytes (e.g. DER-encoded).
    assert!(verify_signature(&jwk, Alg::ES256, input.as_bytes(), &sig[..63]).is_err());
    assert!(verify_signature(
        &jwk,
        Alg::ES256,
        input.as_bytes(),
        &[sig.clone(), vec![0]].concat()
    )
    .is_err());
}

#[test]
fn rsa_public_keys_from_pkcs1_or_spki_der() {
    // RSAPublicKey { n = 0x00c5 (2 bytes with a sign byte), e = 65537 }
    let pkcs1 = [
        0x30, 0x09, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x03, 0x01, 0x00, 0x01,
    ];
    let j = PublicJwk::from_rsa_der("r", &pkcs1).unwrap();
    assert_eq!(j.n.as_deref(), Some(b64(&[0xc5]).as_str()));
    assert_eq!(j.e.as_deref(), Some("AQAB"));
    let mut spki = vec![0x30, 0x1d, 0x30, 0x0d, 0x06, 0x09];
    spki.extend([
        0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ]);
    spki.extend([0x03, 0x0c, 0x00]);
    spki.extend(pkcs1);
    assert_eq!(PublicJwk::from_rsa_der("r", &spki).unwrap(), j);
    assert!(PublicJwk::from_rsa_der("r", &pkcs1[..10]).is_err());
    assert!(PublicJwk::from_rsa_der("r", &[pkcs1.as_slice(), &[0]].concat()).is_err());
}

#[test]
fn thumbprint_matches_rfc_7638_example() {
    let j = PublicJwk {
        kty: "RSA".into(),
        crv: None,
        x: None,
        y: None,
        n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
        e: Some("AQAB".into()),
        kid: Some("2011-04-29".into()),
        alg: Some("RS256".into()),
        use_: None,
    };
    assert_eq!(
        j.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}
