//! Serde parsing of the registry's wire types (`iamsmart_proto::registry`): what the platform
//! reads from the Immigration Department's registry and what the sandbox registry reads from
//! the platform.
//!
//! Input: a selector byte (the type, selector % 4), then the JSON.
//!
//! Property: what parses serialises, and parses again to the same JSON; `Debug` does not panic.
#![no_main]
use iamsmart_fuzz::split;
use iamsmart_proto::registry::{RegistryAnswer, RegistryQuery, RegistryRecord, ResponseClaims};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + std::fmt::Debug>(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let _ = format!("{v:?}");
    let first = serde_json::to_value(&v).expect("serialise");
    let again: T = serde_json::from_value(first.clone()).expect("parse what we wrote");
    assert_eq!(serde_json::to_value(&again).expect("serialise"), first);
}

fuzz_target!(|data: &[u8]| {
    let (sel, json) = split(data);
    match sel % 4 {
        0 => round_trip::<RegistryAnswer>(json),
        1 => round_trip::<RegistryQuery>(json),
        2 => round_trip::<RegistryRecord>(json),
        _ => round_trip::<ResponseClaims>(json),
    }
});
