//! `envelope::open` and `envelope::kek_id` on arbitrary sealed values, with a file key store
//! under a fixed master key and fixed key handles (`fixtures.json`): KEKs `kek-a` and `kek-b`,
//! and `sig-1`, a signing key, to exercise a key of the wrong kind.
//!
//! Input: a selector byte (the field context, selector % 4), then the sealed value.
//!
//! Property: `open` succeeds only when `kek_id` does, under a KEK the resolver knows and in the
//! context the seeds were sealed for; what opens re-seals, re-wraps and opens to the same bytes.
#![no_main]
use iamsmart_crypto::envelope::{self, FieldContext, KekRef};
use iamsmart_crypto::keystore::file::FileKeyStore;
use iamsmart_crypto::rng::SeededRng;
use iamsmart_fuzz::{fixtures, split, unb64};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// The context of the seeds, then others a value must not open in.
const CONTEXTS: [FieldContext<'static>; 4] = [
    FieldContext {
        table: "residents",
        column: "name_en",
        row: "r_1",
    },
    FieldContext {
        table: "residents",
        column: "name_en",
        row: "r_2",
    },
    FieldContext {
        table: "residents",
        column: "address",
        row: "r_1",
    },
    FieldContext {
        table: "",
        column: "",
        row: "",
    },
];

fn store() -> &'static FileKeyStore {
    static KS: OnceLock<FileKeyStore> = OnceLock::new();
    KS.get_or_init(|| {
        let key: [u8; 32] = unb64(&fixtures().master_key)
            .try_into()
            .expect("32-byte master key");
        FileKeyStore::from_master_key(Zeroizing::new(key))
    })
}

fn handle(kid: &str) -> Option<Vec<u8>> {
    fixtures()
        .handles
        .iter()
        .find(|(k, _)| k == kid)
        .map(|(_, h)| unb64(h))
}

fuzz_target!(|data: &[u8]| {
    let (sel, sealed) = split(data);
    let ctx = &CONTEXTS[sel as usize % 4];
    let ks = store();
    let kid = envelope::kek_id(sealed).map(str::to_string);
    let Ok(plain) = envelope::open(ks, &handle, ctx, sealed) else {
        return;
    };
    let kid = kid.expect("opened a value whose KEK id does not parse");
    assert!(
        kid == "kek-a" || kid == "kek-b",
        "opened under {kid:?}, which is no KEK"
    );
    assert!(sel % 4 == 0, "opened in another context");
    let other = if kid == "kek-a" { "kek-b" } else { "kek-a" };
    let other_handle = handle(other).unwrap();
    let rng = SeededRng::new(u64::from(sel));
    let resealed = envelope::seal(
        ks,
        KekRef {
            kid: other,
            handle: &other_handle,
        },
        ctx,
        &plain,
        &rng,
    )
    .expect("seal");
    assert_eq!(envelope::open(ks, &handle, ctx, &resealed).unwrap(), plain);
    let own = handle(&kid).unwrap();
    let moved = envelope::rewrap(
        ks,
        &handle,
        KekRef {
            kid: &kid,
            handle: &own,
        },
        ctx,
        sealed,
    )
    .expect("rewrap what opens");
    assert_eq!(envelope::open(ks, &handle, ctx, &moved).unwrap(), plain);
});
