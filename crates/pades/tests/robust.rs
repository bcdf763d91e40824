//! Property tests: truncated and mutated versions of valid PDFs never make the crate panic, and
//! whatever `prepare` accepts, it prepares consistently.
mod common;

use common::{data, fake_cms, make_pdf, one_page, opts, signed_bytes, Gen};
use iamsmart_pades::{add_dss, has_dss, prepare, signatures, DssData};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The valid documents that are mutated, made once.
static BASES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(bases);

fn bases() -> Vec<Vec<u8>> {
    let signed = |pdf: &[u8]| {
        prepare(pdf, &opts("A"))
            .unwrap()
            .finish(&fake_cms(3))
            .unwrap()
    };
    let text_field = make_pdf(Gen {
        pages: 2,
        text_field: true,
        ..Gen::default()
    });
    vec![
        one_page(),
        signed(&one_page()),
        signed(&text_field),
        data("xref-stream.pdf"),
        signed(&data("xref-stream.pdf")),
        make_pdf(Gen {
            pages: 2,
            object_streams: true,
            ..Gen::default()
        }),
        data("pyhanko-signed.pdf"),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Set(Vec<(usize, u8)>),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec((any::<usize>(), any::<u8>()), 1..8).prop_map(Mutation::Set),
        (any::<usize>(), 1..64usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

fn apply(pdf: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = pdf.to_vec();
    let n = v.len().max(1);
    match m {
        Mutation::Truncate(at) => v.truncate(at % n),
        Mutation::Set(changes) => {
            for (at, b) in changes {
                let i = at % n;
                if i < v.len() {
                    v[i] = *b;
                }
            }
        }
        Mutation::Delete(at, len) => {
            let a = at % n;
            let b = (a + len).min(v.len());
            v.drain(a..b);
        }
        Mutation::Insert(at, bytes) => {
            let a = at % (v.len() + 1);
            v.splice(a..a, bytes.iter().copied());
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_pdfs_never_panic(base in 0..7usize, m in mutation()) {
        let pdf = apply(&BASES[base], &m);
        let _ = signatures(&pdf);
        let _ = has_dss(&pdf);
        let _ = add_dss(&pdf, &DssData { certs: vec![b"cert".to_vec()], ..DssData::default() });
        if let Ok(prepared) = prepare(&pdf, &opts("陳大文")) {
            // What prepare accepts, it prepares consistently: the range is the whole new file
            // but the placeholder, the digest is over it, and signatures() finds it.
            let br = prepared.byte_range();
            let out = prepared.pdf().to_vec();
            prop_assert!(out.starts_with(&pdf));
            prop_assert_eq!(br[2] + br[3], out.len());
            let digest: [u8; 32] = Sha256::digest(signed_bytes(&out, br)).into();
            prop_assert_eq!(prepared.digest(), digest);
            let signed = prepared.finish(&fake_cms(9)).unwrap();
            let sigs = signatures(&signed).unwrap();
            prop_assert!(sigs.iter().any(|s| s.byte_range == br && s.covers_whole_file && s.digest == digest));
        }
    }
}
