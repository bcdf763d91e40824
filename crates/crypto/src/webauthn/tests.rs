use super::soft::SoftPasskey;
use super::*;

fn rp() -> RelyingParty {
    RelyingParty {
        id: "localhost".into(),
        origin: "http://localhost:8080".into(),
        name: "iamsmart".into(),
    }
}

fn enrol(pk: &SoftPasskey) -> StoredCredential {
    let opts = rp().creation_options("Y2hhbGxlbmdlLTE", b"user-1", "officer1", "Officer 1", &[]);
    let r = pk.register(&opts);
    let c = rp().verify_registration("Y2hhbGxlbmdlLTE", &r).unwrap();
    StoredCredential {
        id: c.id,
        public_key: c.public_key,
        sign_count: c.sign_count,
    }
}

#[test]
fn registration_and_authentication_round_trip() {
    let pk = SoftPasskey::new("http://localhost:8080");
    let stored = enrol(&pk);
    let opts = rp().request_options("Y2hhbGxlbmdlLTI", &[]);
    let a = pk.authenticate(&opts).unwrap();
    let out = rp()
        .verify_authentication("Y2hhbGxlbmdlLTI", &stored, &a)
        .unwrap();
    assert!(out.sign_count > stored.sign_count);
}

#[test]
fn wrong_origin_rp_id_or_challenge_is_refused() {
    let evil = SoftPasskey::new("http://localhost.evil:8080");
    let opts = rp().creation_options("c1", b"u", "n", "d", &[]);
    assert!(rp()
        .verify_registration("c1", &evil.register(&opts))
        .is_err());

    let pk = SoftPasskey::new("http://localhost:8080");
    let mut other = rp().creation_options("c1", b"u", "n", "d", &[]);
    other["rp"]["id"] = "example.org".into();
    assert!(rp()
        .verify_registration("c1", &pk.register(&other))
        .is_err());
    // Answering another challenge.
    let r = pk.register(&rp().creation_options("c1", b"u", "n", "d", &[]));
    assert!(rp().verify_registration("c2", &r).is_err());

    let stored = enrol(&pk);
    let a = pk.authenticate(&rp().request_options("c3", &[])).unwrap();
    assert!(rp().verify_authentication("c4", &stored, &a).is_err());
    // A registration response is not an authentication response and vice versa.
    let mut swapped = a.clone();
    swapped.response.client_data_json = r.response.client_data_json.clone();
    assert!(rp().verify_authentication("c1", &stored, &swapped).is_err());
}

#[test]
fn missing_user_verification_is_refused() {
    let mut pk = SoftPasskey::new("http://localhost:8080");
    pk.user_verified = false;
    let opts = rp().creation_options("c1", b"u", "n", "d", &[]);
    let err = rp()
        .verify_registration("c1", &pk.register(&opts))
        .unwrap_err();
    assert!(err.to_string().contains("user verification"), "{err}");
}

#[test]
fn another_users_credential_or_a_forged_signature_is_refused() {
    let alice = SoftPasskey::new("http://localhost:8080");
    let bob = SoftPasskey::new("http://localhost:8080");
    let alice_cred = enrol(&alice);
    let _bob_cred = enrol(&bob);
    let a = bob.authenticate(&rp().request_options("c", &[])).unwrap();
    assert!(rp().verify_authentication("c", &alice_cred, &a).is_err());
    // Bob's assertion relabelled with Alice's credential id: the signature does not verify.
    let mut forged = a;
    forged.id = alice_cred.id.clone();
    let err = rp()
        .verify_authentication("c", &alice_cred, &forged)
        .unwrap_err();
    assert!(matches!(err, CryptoError::Verify(_)), "{err}");
}

#[test]
fn a_counter_that_goes_back_is_flagged_as_a_clone() {
    let pk = SoftPasskey::new("http://localhost:8080");
    let mut stored = enrol(&pk);
    let a = pk.authenticate(&rp().request_options("c", &[])).unwrap();
    stored.sign_count = rp()
        .verify_authentication("c", &stored, &a)
        .unwrap()
        .sign_count;
    pk.set_counter(0); // a copy of the authenticator from earlier
    let b = pk.authenticate(&rp().request_options("d", &[])).unwrap();
    let err = rp().verify_authentication("d", &stored, &b).unwrap_err();
    assert!(err.to_string().contains("cloned"), "{err}");
    // Synced passkeys that always report 0 are fine.
    let mut synced = SoftPasskey::new("http://localhost:8080");
    synced.counter_step = 0;
    let s = enrol(&synced);
    for ch in ["e", "f"] {
        let r = synced.authenticate(&rp().request_options(ch, &[])).unwrap();
        assert!(rp().verify_authentication(ch, &s, &r).is_ok());
    }
}

#[test]
fn garbage_never_panics() {
    let r = RegistrationResponse {
        id: "AAAA".into(),
        kind: "public-key".into(),
        response: AttestationPart {
            client_data_json: b64(
                br#"{"type":"webauthn.create","challenge":"c","origin":"http://localhost:8080"}"#,
            ),
            attestation_object: b64(&[0xa3, 0x63, 0x66, 0x6d, 0x74, 0xff, 0x00]),
        },
    };
    assert!(rp().verify_registration("c", &r).is_err());
    let mut deep = vec![0x81u8; 10_000];
    deep.push(0x00);
    let mut r2 = r;
    r2.response.attestation_object = b64(&deep);
    assert!(rp().verify_registration("c", &r2).is_err());
}
