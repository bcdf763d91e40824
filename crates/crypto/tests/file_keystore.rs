//! The file key store: master key file handling, sealing, key use.
use iamsmart_crypto::jose::{sign_compact, verify_compact, verify_signature, Alg, JwsHeader};
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::keystore::{KeyKind, KeyStore};
use iamsmart_crypto::CryptoError;
use std::os::unix::fs::PermissionsExt;
use zeroize::Zeroizing;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn creates_the_master_key_with_mode_0600_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let a = FileKeyStore::open_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1);
    // Reopening (both ways) gives the same key.
    let b = FileKeyStore::open_or_create(&path).unwrap();
    let c = FileKeyStore::open(&path).unwrap();
    assert_eq!(a.check_value(), b.check_value());
    assert_eq!(a.check_value(), c.check_value());
    let g = a.generate("k", KeyKind::Signing(Alg::ES256)).unwrap();
    let sig = c.sign("k", &g.handle, Alg::ES256, b"m").unwrap();
    verify_signature(&g.public_jwk.unwrap(), Alg::ES256, b"m", &sig).unwrap();
    // Debug never shows key material.
    assert_eq!(format!("{a:?}"), "FileKeyStore { .. }");
}

#[test]
fn open_never_creates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.key");
    let e = FileKeyStore::open(&path).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "master key file {} does not exist",
            path.display()
        )),
        "{e}"
    );
    assert!(!path.exists());
}

#[test]
fn refuses_a_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    FileKeyStore::open_or_create(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    for r in [
        FileKeyStore::open(&path),
        FileKeyStore::open_or_create(&path),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, CryptoError::MasterKey(_)));
        assert!(
            e.to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{e}"
        );
    }
}

#[test]
fn refuses_a_wrong_length_or_non_base64_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let write = |text: &str| {
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    use base64::Engine;
    write(&base64::engine::general_purpose::STANDARD.encode([7u8; 16]));
    let e = FileKeyStore::open_or_create(&path).unwrap_err().to_string();
    assert!(
        e.contains(&format!("{}: expected 32 bytes of base64", path.display())),
        "{e}"
    );
    assert!(e.contains("found 16 bytes"), "{e}");
    assert!(e.contains("restore the original master key file"), "{e}");
    write("not base64 at all!");
    let e = FileKeyStore::open(&path).unwrap_err().to_string();
    assert!(e.contains("expected 32 bytes of base64"), "{e}");
    // The right length opens, with or without the trailing newline.
    write(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let a = FileKeyStore::open(&path).unwrap();
    let b = FileKeyStore::from_master_key(Zeroizing::new([7u8; 32]));
    assert_eq!(a.check_value(), b.check_value());
}

#[test]
fn a_different_master_key_cannot_open_the_keys() {
    let a = FileKeyStore::from_master_key(Zeroizing::new([1u8; 32]));
    let b = FileKeyStore::from_master_key(Zeroizing::new([2u8; 32]));
    assert_ne!(a.check_value(), b.check_value());
    let g = a.generate("sig-1", KeyKind::Signing(Alg::ES256)).unwrap();
    a.sign("sig-1", &g.handle, Alg::ES256, b"m").unwrap();
    let e = b.sign("sig-1", &g.handle, Alg::ES256, b"m").unwrap_err();
    assert!(
        matches!(e, CryptoError::WrongMasterKey { ref kid } if kid == "sig-1"),
        "{e}"
    );
    let kek = a.generate("kek-1", KeyKind::Kek).unwrap();
    let e = b.wrap("kek-1", &kek.handle, &[0; 32], b"aad").unwrap_err();
    assert!(matches!(e, CryptoError::WrongMasterKey { .. }), "{e}");
    // A handle is bound to its key id.
    let e = a.sign("sig-2", &g.handle, Alg::ES256, b"m").unwrap_err();
    assert!(matches!(e, CryptoError::WrongMasterKey { .. }), "{e}");
}

#[test]
fn a_cached_key_is_not_served_for_another_handle() {
    let a = FileKeyStore::from_master_key(Zeroizing::new([1u8; 32]));
    let g = a.generate("k", KeyKind::Signing(Alg::ES256)).unwrap();
    a.sign("k", &g.handle, Alg::ES256, b"m").unwrap();
    let mut bad = g.handle.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(a.sign("k", &bad, Alg::ES256, b"m").is_err());
    a.destroy("k", &g.handle).unwrap();
    a.sign("k", &g.handle, Alg::ES256, b"m").unwrap();
}

#[test]
fn keys_are_used_only_for_what_they_are() {
    let ks = FileKeyStore::from_master_key(Zeroizing::new([9u8; 32]));
    let kek = ks.generate("kek", KeyKind::Kek).unwrap();
    assert!(kek.public_jwk.is_none());
    let e = ks.sign("kek", &kek.handle, Alg::ES256, b"m").unwrap_err();
    assert!(matches!(e, CryptoError::WrongKeyUse { .. }), "{e}");
    let sig = ks.generate("sig", KeyKind::Signing(Alg::EdDSA)).unwrap();
    let e = ks.wrap("sig", &sig.handle, &[1; 32], b"a").unwrap_err();
    assert!(matches!(e, CryptoError::WrongKeyUse { .. }), "{e}");
    let e = ks.sign("sig", &sig.handle, Alg::ES256, b"m").unwrap_err();
    assert!(matches!(e, CryptoError::WrongKeyUse { .. }), "{e}");
    // Wrap / unwrap, and a bad tag or aad.
    let dek = [0x5a; 32];
    let w = ks.wrap("kek", &kek.handle, &dek, b"aad-1").unwrap();
    assert_eq!(w.len(), 12 + 32 + 16);
    assert_eq!(*ks.unwrap("kek", &kek.handle, &w, b"aad-1").unwrap(), dek);
    let e = ks.unwrap("kek", &kek.handle, &w, b"aad-2").unwrap_err();
    assert!(matches!(e, CryptoError::Verify("data key unwrap")), "{e}");
    let mut bad = w.clone();
    bad[20] ^= 1;
    assert!(matches!(
        ks.unwrap("kek", &kek.handle, &bad, b"aad-1"),
        Err(CryptoError::Verify("data key unwrap"))
    ));
}

#[test]
fn jws_round_trip_for_each_algorithm_and_public_jwk_shape() {
    let ks = FileKeyStore::from_master_key(Zeroizing::new([4u8; 32]));
    for (kid, alg, kty) in [
        ("es", Alg::ES256, "EC"),
        ("ed", Alg::EdDSA, "OKP"),
        ("rs", Alg::RS256, "RSA"),
    ] {
        let g = ks.generate(kid, KeyKind::Signing(alg)).unwrap();
        let jwk = g.public_jwk.unwrap();
        assert_eq!(jwk.kty, kty);
        assert_eq!(jwk.kid.as_deref(), Some(kid));
        assert_eq!(jwk.alg.as_deref(), Some(alg.as_str()));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        let json = serde_json::to_value(&jwk).unwrap();
        assert_eq!(json["use"], "sig");
        assert!(json.get("d").is_none());
        let header = JwsHeader {
            alg,
            kid: Some(kid.into()),
            typ: None,
            extra: Default::default(),
        };
        let t = sign_compact(&header, b"hello", |i| ks.sign(kid, &g.handle, alg, i)).unwrap();
        let (h, p) = verify_compact(&t, std::slice::from_ref(&jwk), &[alg]).unwrap();
        assert_eq!((h.alg, p.as_slice()), (alg, &b"hello"[..]));
    }
}
