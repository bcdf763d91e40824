//! `device::DeviceKey::open` on arbitrary sealed device keys (JSON), with the PIN the seeds are
//! sealed under.
//!
//! Input: the JSON. Argon2id parameters inside the accepted range but costlier than 16 MiB and
//! 2 passes are skipped (each would take seconds); everything outside the range is passed on,
//! so the range check itself is fuzzed.
//!
//! Property: an opened key is the key its file claims (the same public point), and it signs JWSs
//! that verify under that point.
#![no_main]
use iamsmart_crypto::device::{DeviceKey, SealedDeviceKey};
use iamsmart_crypto::jose::{self, Alg, PublicJwk};
use iamsmart_fuzz::DEVICE_PIN;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sealed) = serde_json::from_slice::<SealedDeviceKey>(data) else {
        return;
    };
    let in_range = (8 * 1024..=1024 * 1024).contains(&sealed.m) && (1..=10).contains(&sealed.t);
    if in_range && (sealed.m > 16 * 1024 || sealed.t > 2) {
        return;
    }
    let Ok(key) = DeviceKey::open(&sealed, DEVICE_PIN) else {
        return;
    };
    let jwk = key.public_jwk();
    assert_eq!(jwk.x, sealed.public_jwk.x, "opened another key");
    assert_eq!(jwk.y, sealed.public_jwk.y, "opened another key");
    let kid = jwk.kid.clone().expect("thumbprint kid");
    let jws = key.sign_jws("fuzz+jwt", &kid, b"{}").expect("sign");
    // The file's other JWK members (kty, crv ...) are display only and not checked by `open`:
    // the claim is the point.
    let mut point = vec![4u8];
    point.extend(jose::b64_decode("x", sealed.public_jwk.x.as_deref().unwrap()).unwrap());
    point.extend(jose::b64_decode("y", sealed.public_jwk.y.as_deref().unwrap()).unwrap());
    let claimed = PublicJwk::from_p256_point(&kid, &point).expect("the claimed point");
    jose::verify_compact(&jws, &[claimed], &[Alg::ES256]).expect("the claimed key verifies");
});
