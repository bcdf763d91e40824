//! The parsers of the public information feeds (`publicinfo::Feed::parse`: HKO JSON, the
//! Transport Department's XML, RSS), on bodies from the network.
//!
//! Input: a selector byte (selector % 8: which feed), then the body.
//!
//! Properties: no panic; what is accepted serialises and reads back the same (the cache stores
//! it as JSON); kept links are `http(s)`; item counts stay within `MAX_ITEMS`.
#![no_main]
use iamsmart_domain::publicinfo::{Feed, Payload, MAX_ITEMS};
use iamsmart_fuzz::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (sel, body) = split(data);
    let feed = Feed::ALL[usize::from(sel) % Feed::ALL.len()];
    let Ok(p) = feed.parse(body) else {
        return;
    };
    let json = serde_json::to_string(&p).expect("serialise");
    let again: Payload = serde_json::from_str(&json).expect("read back");
    assert_eq!(again, p);
    match &p {
        Payload::Rss(r) => {
            assert!(r.items.len() <= MAX_ITEMS);
            for link in std::iter::once(&r.link).chain(r.items.iter().map(|i| &i.link)) {
                let l = link.to_ascii_lowercase();
                assert!(l.is_empty() || l.starts_with("http://") || l.starts_with("https://"));
            }
        }
        Payload::Traffic(t) => assert!(t.items.len() <= MAX_ITEMS),
        Payload::Warnings(w) => assert!(w.items.len() <= MAX_ITEMS),
        _ => {}
    }
});
