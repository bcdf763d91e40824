//! The app's wire types (`iamsmart_proto::app`), what the platform does with them before any
//! database work (`identity::devices::check_new_device`, `activation::normalise_code`), and
//! `app::parse_qr`.
//!
//! Input: a selector byte (selector % 13: one of twelve types, or QR text), then the data.
//!
//! Properties: what parses serialises and parses again to the same JSON; an accepted device key
//! is a P-256 public key whose `kid` is its thumbprint; `parse_qr` accepts only `iamsmart:`
//! payloads and returns non-empty values of URL-safe characters found in the payload;
//! `normalise_code` gives upper-case ASCII letters and digits.
#![no_main]
use iamsmart_crypto::jose::b64_decode;
use iamsmart_domain::identity::devices::check_new_device;
use iamsmart_domain::identity::activation::normalise_code;
use iamsmart_fuzz::split;
use iamsmart_proto::app::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug>(data: &[u8]) -> Option<T> {
    let v = serde_json::from_slice::<T>(data).ok()?;
    let _ = format!("{v:?}");
    let first = serde_json::to_value(&v).expect("serialise");
    let again: T = serde_json::from_value(first.clone()).expect("parse what we wrote");
    assert_eq!(serde_json::to_value(&again).expect("serialise"), first);
    Some(v)
}

fn device(d: &NewDevice) {
    let Ok(jwk) = check_new_device(d) else {
        return;
    };
    assert_eq!(
        (jwk.kty.as_str(), jwk.crv.as_deref()),
        ("EC", Some("P-256"))
    );
    let x = b64_decode("x", jwk.x.as_deref().unwrap()).unwrap();
    let y = b64_decode("y", jwk.y.as_deref().unwrap()).unwrap();
    assert_eq!((x.len(), y.len()), (32, 32));
    let mut bare = jwk.clone();
    bare.kid = None;
    assert_eq!(jwk.kid, Some(bare.thumbprint()));
    let name = d.name.trim();
    assert!(!name.is_empty() && name.chars().count() <= 60);
}

fn qr(text: &str) {
    if let Some((action, value)) = parse_qr(text) {
        assert!(text.starts_with(QR_SCHEME));
        assert!(!value.is_empty());
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "accepted {value:?}"
        );
        assert!(!action.contains('?'));
        assert!(text.contains(value));
    }
    let code = normalise_code(text);
    assert!(code
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    match sel % 13 {
        0 => drop(round_trip::<RequestClaims>(rest)),
        1 => drop(round_trip::<CardData>(rest)),
        2 => {
            if let Some(d) = round_trip::<NewDevice>(rest) {
                device(&d);
            }
        }
        3 => drop(round_trip::<Challenge>(rest)),
        4 => {
            if let Some(r) = round_trip::<SelfRegistration>(rest) {
                device(&r.device);
            }
        }
        5 => {
            if let Some(a) = round_trip::<Activation>(rest) {
                device(&a.device);
                qr(&a.code);
            }
        }
        6 => drop(round_trip::<Upgrade>(rest)),
        7 => drop(round_trip::<Enrolled>(rest)),
        8 => drop(round_trip::<DeviceView>(rest)),
        9 => drop(round_trip::<ApprovalView>(rest)),
        10 => drop(round_trip::<ApprovalClaims>(rest)),
        11 => drop(round_trip::<Decision>(rest)),
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                qr(text);
            }
        }
    }
});
