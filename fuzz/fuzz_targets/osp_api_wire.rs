//! The compatible API's wire parsers (`iamsmart_crypto::osp_api`): `open_content` on any
//! envelope under a fixed content key, and `verify` on any signature header value.
//!
//! Input: a selector byte (selector % 3), then the data: 0, the data as a `content` envelope;
//! 1, the data as a signature header value over a fixed message; 2, the data as a plaintext that
//! the harness seals and opens.
//!
//! Properties: an envelope opens only if it is the layout (12 as the IV length, a tag) and
//! authenticates under the key, and what opens re-seals and opens to the same bytes; a header
//! value verifies only if it decodes to the HMAC of the message; sealing round-trips.
#![no_main]
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use iamsmart_crypto::osp_api::{open_content, seal_content, sign, verify};
use iamsmart_crypto::rng::SeededRng;
use iamsmart_fuzz::split;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [9u8; 32];
const SECRET: &[u8] = b"fuzz-secret";
const MESSAGE: &[u8] = b"c_fuzzHmacSHA2561767225600000n{}";

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    let rng = SeededRng::new(1);
    match sel % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if let Ok(plain) = open_content(&KEY, text) {
                let raw = STANDARD.decode(text.trim()).expect("what opened is Base64");
                assert_eq!(&raw[..4], &[0, 0, 0, 12]);
                assert_eq!(raw.len(), 4 + 12 + plain.len() + 16);
                let again = seal_content(&KEY, &plain, &rng).expect("seal");
                assert_eq!(&open_content(&KEY, &again).expect("open")[..], &plain[..]);
            }
        }
        1 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if verify(SECRET, MESSAGE, text) {
                let decoded = percent_encoding::percent_decode_str(text)
                    .decode_utf8()
                    .expect("what verified is UTF-8");
                let expected = percent_encoding::percent_decode_str(&sign(SECRET, MESSAGE))
                    .decode_utf8()
                    .expect("ours is UTF-8")
                    .to_string();
                assert_eq!(decoded.trim(), expected);
            }
        }
        _ => {
            let sealed = seal_content(&KEY, rest, &rng).expect("seal");
            assert_eq!(&open_content(&KEY, &sealed).expect("open")[..], rest);
            assert!(open_content(&[8u8; 32], &sealed).is_err());
        }
    }
});
