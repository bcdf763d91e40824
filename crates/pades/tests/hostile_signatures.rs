//! PDFs built to make the checker work or allocate without bound (issue 16, finding 3b): many
//! signature fields pointing at one signature dictionary, a megabytes-long /Contents, more
//! signatures than any document has. Each is refused, or read once, before the work is done.
mod common;

use common::*;
use iamsmart_pades::{signatures, PdfError, MAX_CONTENTS_CAPACITY, MAX_SIGNATURES};

#[test]
fn five_thousand_fields_sharing_one_signature_are_refused_before_any_is_read() {
    let pdf = with_signature_fields(5_000, true, 4096);
    assert!(matches!(signatures(&pdf), Err(PdfError::LimitExceeded(_))));
}

#[test]
fn fields_sharing_one_signature_are_read_as_one() {
    let pdf = with_signature_fields(MAX_SIGNATURES, true, 64 * 1024);
    let found = signatures(&pdf).unwrap();
    assert_eq!(found.len(), 1, "one signature dictionary, one signature");
}

#[test]
fn a_contents_larger_than_any_signature_is_refused() {
    let pdf = with_signature_fields(1, false, MAX_CONTENTS_CAPACITY + 1);
    match signatures(&pdf) {
        Err(PdfError::LimitExceeded(why)) => assert!(why.contains("/Contents"), "{why}"),
        other => panic!("expected a limit, got {other:?}"),
    }
    // At the limit it is read (and its layout judged).
    let pdf = with_signature_fields(1, false, MAX_CONTENTS_CAPACITY);
    assert_eq!(signatures(&pdf).unwrap().len(), 1);
}

#[test]
fn byte_ranges_that_add_up_to_too_much_hashing_are_refused() {
    // A hundred signatures, each claiming a range of three megabytes of a file a little larger
    // (each range different, so none is hashed for another): 300 MB to hash.
    let mut doc =
        lopdf::Document::load_mem(&with_signature_fields(MAX_SIGNATURES, false, 64)).unwrap();
    doc.add_object(lopdf::Stream::new(
        lopdf::dictionary! {},
        vec![b'x'; 3_200_000],
    ));
    let mut n = 0i64;
    for o in doc.objects.values_mut() {
        if let Ok(d) = o.as_dict_mut() {
            if d.get(b"Type").and_then(lopdf::Object::as_name).ok() == Some(b"Sig") {
                n += 1;
                d.set(
                    "ByteRange",
                    vec![0.into(), (10 + n).into(), (20 + n).into(), 3_000_000.into()],
                );
            }
        }
    }
    assert_eq!(usize::try_from(n).unwrap(), MAX_SIGNATURES);
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    match signatures(&pdf) {
        Err(PdfError::LimitExceeded(why)) => assert!(why.contains("hash"), "{why}"),
        other => panic!("expected a limit, got {other:?}"),
    }
}

#[test]
fn distinct_signatures_sharing_one_byte_range_hash_it_once_and_the_work_is_in_proportion() {
    // A hundred signature dictionaries (not one shared), all claiming the same byte range.
    let pdf = with_signature_fields(MAX_SIGNATURES, false, 64 * 1024);
    let (found, work) = iamsmart_pades::signatures_measured(&pdf);
    assert_eq!(found.unwrap().len(), MAX_SIGNATURES);
    assert_eq!(
        work.bytes_hashed, 20,
        "the one range (10 + 10 bytes) hashed once"
    );
    // The file parsed once, and its signed revision (here: none after) at most once more.
    assert!(work.bytes_parsed <= 2 * pdf.len() as u64, "{work:?}");
}
