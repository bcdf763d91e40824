//! `webauthn::RelyingParty::verify_authentication` on arbitrary responses, for a stored
//! credential registered by `SoftPasskey` or one of the fixed keys.
//!
//! Input: a selector byte, then the data. Selector bit 0 = mode; bits 1-2: the stored credential
//! (0: the `SoftPasskey` one, 1-3: the fixed ES256, EdDSA, RS256 keys); bits 3-4: its stored
//! counter (0, 1, 1000, `u32::MAX`).
//! - Mode 0: the data is the response JSON (seeds: assertions of `SoftPasskey`).
//! - Mode 1: structure-aware: client data and authenticator data from parts, a signature made
//!   by the harness with the fixed key or arbitrary bytes.
//!
//! Property: a verified assertion is for the stored credential, answered our challenge from our
//! origin for our RP ID with UP and UV, increased the counter (unless both are 0), and its
//! signature verifies, by aws-lc-rs directly, under the stored key. And a well-formed assertion
//! signed by the fixed key with a higher counter is accepted.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use iamsmart_crypto::jose::b64_decode;
use iamsmart_crypto::webauthn::{AssertionPart, AuthenticationResponse, StoredCredential};
use iamsmart_fuzz::webauthn::{
    assert_auth_data, assert_client_data, rp, signed_data, verifies_with_jwk, AuthData, Client, UP,
    UV,
};
use iamsmart_fuzz::{b64, fixtures, jwks, keys, split, CHALLENGE};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Sig {
    Valid,
    Bytes(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Assertion {
    client: Client,
    auth: AuthData,
    extensions: Vec<u8>,
    sig: Sig,
    id: Option<String>,
    kind: Option<String>,
    user_handle: Option<String>,
}

fn stored(sel: u8) -> (StoredCredential, Option<usize>) {
    let count = [0, 1, 1000, u32::MAX][(sel >> 3) as usize & 3];
    match (sel >> 1) & 3 {
        0 => (
            StoredCredential {
                id: fixtures().soft_credential_id.clone(),
                public_key: fixtures().soft_credential_key.clone(),
                sign_count: count,
            },
            None,
        ),
        k => {
            let i = k as usize - 1;
            (
                StoredCredential {
                    id: format!("fixed-key-{i}"),
                    public_key: jwks()[i].clone(),
                    sign_count: count,
                },
                Some(i),
            )
        }
    }
}

fn check(stored: &StoredCredential, resp: &AuthenticationResponse) -> bool {
    let Ok(out) = rp().verify_authentication(CHALLENGE, stored, resp) else {
        return false;
    };
    assert_eq!(resp.id, stored.id, "verified another credential");
    assert_eq!(resp.kind, "public-key");
    let cdj = b64_decode("c", &resp.response.client_data_json).unwrap();
    assert_client_data(&cdj, "webauthn.get");
    let ad = b64_decode("a", &resp.response.authenticator_data).unwrap();
    let count = assert_auth_data(&ad);
    assert_eq!(count, out.sign_count);
    assert!(
        (count == 0 && stored.sign_count == 0) || count > stored.sign_count,
        "verified a counter that did not increase"
    );
    let sig = b64_decode("s", &resp.response.signature).unwrap();
    assert!(
        verifies_with_jwk(&stored.public_key, &signed_data(&ad, &cdj), &sig),
        "verified a signature that does not verify"
    );
    true
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    let (cred, key) = stored(sel);
    if sel & 1 == 0 {
        if let Ok(resp) = serde_json::from_slice::<AuthenticationResponse>(rest) {
            check(&cred, &resp);
        }
        return;
    }
    let Ok(a) = Assertion::arbitrary_take_rest(Unstructured::new(rest)) else {
        return;
    };
    let cdj = a.client.bytes("webauthn.get");
    let ad = a.auth.bytes(&a.extensions);
    let sig = match (&a.sig, key) {
        (Sig::Valid, Some(i)) => keys().sign_webauthn(i, &signed_data(&ad, &cdj)),
        (Sig::Valid, None) => Vec::new(),
        (Sig::Bytes(b), _) => b.clone(),
    };
    let resp = AuthenticationResponse {
        id: a.id.clone().unwrap_or_else(|| cred.id.clone()),
        kind: a.kind.clone().unwrap_or_else(|| "public-key".into()),
        response: AssertionPart {
            client_data_json: b64(&cdj),
            authenticator_data: b64(&ad),
            signature: b64(&sig),
            user_handle: a.user_handle.clone(),
        },
    };
    let ok = check(&cred, &resp);
    let well_formed = a.client.is_right()
        && a.auth.rp_hash.is_none()
        && a.auth.flags & (UP | UV) == UP | UV
        && a.auth
            .truncate
            .is_none_or(|n| n as usize >= 37 + a.extensions.len())
        && matches!(a.sig, Sig::Valid)
        && key.is_some()
        && a.id.is_none()
        && a.kind.is_none()
        && ((a.auth.counter == 0 && cred.sign_count == 0) || a.auth.counter > cred.sign_count);
    if well_formed {
        assert!(
            ok,
            "a well-formed assertion signed by the stored key was refused"
        );
    }
});
