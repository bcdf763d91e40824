//! The authorization request's text parameters: `scope` (`oidc::claims::parse_scope`), the
//! `claims` parameter (`oidc::request::optional_fields`), `authorization_details`
//! (`oidc::request::check_details`) and the HKID mask of the consent page.
//!
//! Properties: scopes map only to known e-ME fields, each once; optional fields are among the
//! requested ones; accepted authorization details are a non-empty array of known types.
#![no_main]
use iamsmart_domain::oidc::{authorize, claims, request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((scopes, fields)) = claims::parse_scope(text) {
        assert!(fields.iter().all(|f| claims::FIELDS.contains(f)));
        let mut sorted = fields.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), fields.len(), "a field twice");
        assert!(scopes.len() <= 40);
        if let Ok(optional) = request::optional_fields(text, &fields) {
            assert!(optional.iter().all(|o| fields.iter().any(|f| f == o)));
        }
    }
    let all: Vec<&'static str> = claims::FIELDS.to_vec();
    if let Ok(optional) = request::optional_fields(text, &all) {
        assert!(optional.iter().all(|o| all.contains(&o.as_str())));
    }
    if let Ok(details) = request::check_details(text) {
        let arr = details.as_array().expect("an array");
        assert!(!arr.is_empty() && arr.len() <= 10);
        for d in arr {
            assert!(request::DETAIL_TYPES.contains(&d["type"].as_str().unwrap_or_default()));
        }
    }
    let _ = authorize::mask_hkid(text);
});
