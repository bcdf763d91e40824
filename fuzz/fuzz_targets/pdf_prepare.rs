//! `iamsmart_pades::prepare`, `signatures`, `has_dss` and `add_dss` on arbitrary bytes (PDFs
//! as uploaded by a resident or a service).
//!
//! Input: the bytes of the file (no selector byte: the seeds are whole PDFs).
//!
//! Properties: nothing panics; whatever `prepare` accepts, it prepares consistently: the new
//! file starts with the input, the byte range is the whole file but the /Contents placeholder,
//! and after `finish` with a stand-in CMS, `signatures` lists a signature with that byte range,
//! that digest and `covers_whole_file`; `add_dss` keeps the input as the start of its output.
#![no_main]
use iamsmart_pades::{add_dss, has_dss, prepare, signatures, DssData, SignOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = signatures(data);
    let _ = has_dss(data);
    let dss = DssData {
        certs: vec![b"certificate".to_vec()],
        ocsps: vec![b"ocsp".to_vec()],
        crls: Vec::new(),
    };
    if let Ok(out) = add_dss(data, &dss) {
        assert!(out.starts_with(data));
    }
    let opts = SignOptions {
        signer_name: "陳大文".into(),
        reason: Some("fuzz".into()),
        contents_capacity: 64,
        signing_time: 1_719_763_200,
        ..SignOptions::default()
    };
    let Ok(prepared) = prepare(data, &opts) else {
        return;
    };
    let br = prepared.byte_range();
    let digest = prepared.digest();
    assert!(prepared.pdf().starts_with(data));
    assert_eq!(br[0], 0);
    assert_eq!(br[2] + br[3], prepared.pdf().len());
    assert_eq!(br[2] - br[1], 2 * 64 + 2);
    let len = prepared.pdf().len();
    let cms = [&[0x30u8, 0x10][..], &[7; 16]].concat();
    let signed = prepared.finish(&cms).expect("a 18-byte DER fits in 64");
    assert_eq!(signed.len(), len);
    let sigs = signatures(&signed).expect("the prepared file reads back");
    assert!(
        sigs.iter()
            .any(|s| s.byte_range == br && s.digest == digest && s.covers_whole_file && s.cms_der == cms),
        "{sigs:?}"
    );
});
