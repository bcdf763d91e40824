//! The crypto floor of a login on this CPU: what one ES256 signature and one verification cost
//! (aws-lc-rs through the platform's own JOSE code, as the server runs them), on one thread,
//! and what a login's and a token request's signatures alone allow per core.
use anyhow::Result;
use iamsmart_crypto::device::DeviceKey;
use iamsmart_crypto::jose::{self, Alg};
use std::time::{Duration, Instant};

/// Signature checks and signatures the server makes: a login (client assertion at PAR and at the
/// token endpoint, DPoP proofs at the token endpoint and userinfo, the device's signature on its
/// two requests, the decision, the access token at userinfo; the access token and the ID token)
/// and a token request (its assertion and its DPoP proof; the two tokens).
const LOGIN: (u32, u32) = (8, 2);
const TOKEN_REQUEST: (u32, u32) = (2, 2);

/// Run each operation for `seconds` and print the table.
pub fn run(seconds: u64) -> Result<()> {
    let key = DeviceKey::generate()?;
    let mut public = key.public_jwk();
    public.kid = Some("k".into());
    // A claim set the size of an access token's.
    let payload = serde_json::json!({
        "iss": "http://127.0.0.1:8080", "sub": "x".repeat(43), "aud": "http://127.0.0.1:8080",
        "client_id": "c_0123456789abcdef", "iat": 1_800_000_000, "exp": 1_800_000_300,
        "jti": "0123456789abcdefghijkl", "scope": "openid profile eme.hkid", "auth_time": 1_800_000_000,
        "acr": "http://iamsmart.gov.hk/acr/basic", "gid": "g_0123456789abcdef",
        "cnf": { "jkt": "y".repeat(43) },
    })
    .to_string();
    let jws = key.sign_jws("at+jwt", "k", payload.as_bytes())?;
    let keys = [public];
    let window = Duration::from_secs(seconds.max(1));
    let sign = per_op(window, || {
        key.sign_jws("at+jwt", "k", payload.as_bytes()).map(|_| ())
    })?;
    let verify = per_op(window, || {
        jose::verify_compact(&jws, &keys, &[Alg::ES256]).map(|_| ())
    })?;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("| operation (one thread) | µs each |");
    println!("|---|---:|");
    println!("| ES256 signature (compact JWS) | {:.1} |", us(sign));
    println!("| ES256 verification (compact JWS) | {:.1} |", us(verify));
    for (name, (v, s)) in [("a login", LOGIN), ("a token request", TOKEN_REQUEST)] {
        let floor = verify * v + sign * s;
        println!(
            "| {name}: {v} verifications + {s} signatures | {:.0} (at most {:.0}/s per core from these alone) |",
            us(floor),
            1.0 / floor.as_secs_f64()
        );
    }
    Ok(())
}

/// The mean time of `op`, run repeatedly for `window`.
fn per_op(
    window: Duration,
    mut op: impl FnMut() -> Result<(), iamsmart_crypto::CryptoError>,
) -> Result<Duration> {
    for _ in 0..100 {
        op()?;
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < window {
        for _ in 0..100 {
            op()?;
        }
        n += 100;
    }
    Ok(start.elapsed() / n)
}
