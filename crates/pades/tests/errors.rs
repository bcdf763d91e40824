//! Bad input: what is refused, and with which error.
mod common;

use common::{data, fake_cms, make_pdf, one_page, opts, Gen};
use iamsmart_pades::{add_dss, has_dss, prepare, signatures, DssData, PdfError};
use lopdf::{Document, Object};

fn signed() -> Vec<u8> {
    prepare(&one_page(), &opts("A"))
        .unwrap()
        .finish(&fake_cms(5))
        .unwrap()
}

/// `pdf` with the text of its (first) /ByteRange array replaced by `numbers`, padded to the same
/// width so that no offset moves.
fn with_byte_range(pdf: &[u8], numbers: [i64; 4]) -> Vec<u8> {
    let at = pdf.windows(12).position(|w| w == b"/ByteRange [").unwrap() + 12;
    let end = at + pdf[at..].iter().position(|&b| b == b']').unwrap();
    let text = format!(
        "{} {} {} {}",
        numbers[0], numbers[1], numbers[2], numbers[3]
    );
    assert!(text.len() <= end - at, "{text} does not fit");
    let mut out = pdf.to_vec();
    out[at..end].fill(b' ');
    out[at..at + text.len()].copy_from_slice(text.as_bytes());
    out
}

fn broken(result: Result<impl std::fmt::Debug, PdfError>, needle: &str) {
    match result {
        Err(PdfError::BrokenSignature(why)) => assert!(why.contains(needle), "{why}"),
        other => panic!("expected a broken signature ({needle}), got {other:?}"),
    }
}

#[test]
fn not_a_pdf() {
    for bytes in [
        &b""[..],
        b"%PD",
        b"hello world",
        b"\x00%PDF-1.7\n",
        b"<html>%PDF-1.7",
    ] {
        assert_eq!(prepare(bytes, &opts("A")).unwrap_err(), PdfError::NotPdf);
        assert_eq!(signatures(bytes).unwrap_err(), PdfError::NotPdf);
        assert_eq!(has_dss(bytes).unwrap_err(), PdfError::NotPdf);
        assert_eq!(
            add_dss(bytes, &DssData::default()).unwrap_err(),
            PdfError::NotPdf
        );
    }
}

#[test]
fn too_large() {
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(iamsmart_pades::MAX_PDF_BYTES + 1, b' ');
    assert!(matches!(prepare(&big, &opts("A")), Err(PdfError::TooLarge)));
    assert_eq!(signatures(&big).unwrap_err(), PdfError::TooLarge);
}

#[test]
fn truncated_files_are_malformed() {
    for pdf in [one_page(), signed(), data("xref-stream.pdf")] {
        // A cut before the first %%EOF leaves no complete revision. (A cut after it leaves an
        // earlier revision and some bytes after its end, which readers accept as that revision.)
        let first_eof = pdf.windows(5).position(|w| w == b"%%EOF").unwrap() + 5;
        for cut in (0..first_eof).step_by(5).chain([first_eof - 1]) {
            let r = prepare(&pdf[..cut], &opts("A"));
            assert!(
                matches!(r, Err(PdfError::Malformed(_) | PdfError::NotPdf)),
                "cut at {cut}: {r:?}"
            );
            assert!(signatures(&pdf[..cut]).is_err());
        }
        for cut in first_eof..pdf.len() {
            let _ = prepare(&pdf[..cut], &opts("A"));
            let _ = signatures(&pdf[..cut]);
        }
    }
    // The last signature of a file cut after its first revision is gone or broken, never whole.
    let two = prepare(&signed(), &opts("B"))
        .unwrap()
        .finish(&fake_cms(6))
        .unwrap();
    let first_len = signed().len();
    for cut in (first_len + 1..two.len() - 1).step_by(11) {
        if let Ok(sigs) = signatures(&two[..cut]) {
            assert!(
                sigs.iter()
                    .all(|s| s.byte_range[2] + s.byte_range[3] <= first_len),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn encrypted_files_are_refused_clearly() {
    let encrypted = data("encrypted.pdf");
    assert_eq!(
        prepare(&encrypted, &opts("A")).unwrap_err(),
        PdfError::Encrypted
    );
    assert_eq!(signatures(&encrypted).unwrap_err(), PdfError::Encrypted);
    assert_eq!(
        add_dss(&encrypted, &DssData::default()).unwrap_err(),
        PdfError::Encrypted
    );
    assert!(PdfError::Encrypted.to_string().contains("encrypted"));
    // A classic trailer with /Encrypt (written by lopdf).
    let mut doc = Document::load_mem(&one_page()).unwrap();
    let enc = doc.add_object(lopdf::dictionary! { "Filter" => "Standard", "V" => 1, "R" => 2 });
    doc.trailer.set("Encrypt", Object::Reference(enc));
    doc.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    assert_eq!(prepare(&pdf, &opts("A")).unwrap_err(), PdfError::Encrypted);
}

#[test]
fn a_byte_range_that_does_not_cover_its_revision_is_a_broken_signature() {
    let pdf = signed();
    let good = signatures(&pdf).unwrap().remove(0);
    assert!(good.covers_revision);
    let [_, a, b, c] = good.byte_range.map(|n| n as i64);

    // Ends before the %%EOF of its revision.
    let short = with_byte_range(&pdf, [0, a, b, c - 20]);
    broken(
        prepare(&short, &opts("B")),
        "does not end at the end of a revision",
    );
    let s = signatures(&short).unwrap().remove(0);
    assert!(!s.covers_revision && !s.covers_whole_file);
    assert!(add_dss(
        &short,
        &DssData {
            certs: vec![b"x".to_vec()],
            ..DssData::default()
        }
    )
    .is_err());

    // Does not start at the beginning.
    let late = with_byte_range(&pdf, [1, a - 1, b, c]);
    broken(
        prepare(&late, &opts("B")),
        "does not start at the beginning",
    );
    assert!(!signatures(&late).unwrap()[0].covers_revision);

    // The gap is not the /Contents string: it leaves signed bytes out.
    let wide = with_byte_range(&pdf, [0, a - 10, b, c]);
    broken(
        prepare(&wide, &opts("B")),
        "not exactly a hexadecimal string",
    );
    let narrow = with_byte_range(&pdf, [0, a + 2, b - 2, c + 2]);
    broken(
        prepare(&narrow, &opts("B")),
        "not exactly a hexadecimal string",
    );

    // Past the end of the file, or overlapping: refused by signatures() too.
    for numbers in [[0, a, b, c + 1], [0, b + 1, b, c], [-1, a, b, c]] {
        let bad = with_byte_range(&pdf, numbers);
        broken(prepare(&bad, &opts("B")), "/ByteRange");
        broken(signatures(&bad), "/ByteRange");
    }
}

#[test]
fn a_signature_dictionary_changed_after_signing_is_broken() {
    // A later revision rewrites the signature dictionary (same /Contents, other /Name): the
    // signed range no longer holds the dictionary that the file now shows.
    let pdf = signed();
    let doc = Document::load_mem(&pdf).unwrap();
    let (id, sig) = doc
        .objects
        .iter()
        .find(|(_, o)| o.as_dict().is_ok_and(|d| d.has(b"ByteRange")))
        .unwrap();
    let mut update = pdf.clone();
    let offset = update.len();
    let body = String::from_utf8_lossy(
        &pdf[doc
            .reference_table
            .entries
            .get(&id.0)
            .map(|e| match e {
                lopdf::xref::XrefEntry::Normal { offset, .. } => *offset as usize,
                _ => unreachable!(),
            })
            .unwrap()..],
    )
    .split("endobj")
    .next()
    .unwrap()
    .replace("/Name (A)", "/Name (Z)");
    assert!(sig.as_dict().unwrap().has(b"Name"));
    update.extend_from_slice(body.as_bytes());
    update.extend_from_slice(b"endobj\n");
    let xref = update.len();
    update.extend_from_slice(
        format!(
            "xref\n{} 1\n{offset:010} 00000 n\r\ntrailer\n<</Size {} /Root {} 0 R /Prev {}>>\nstartxref\n{xref}\n%%EOF\n",
            id.0,
            doc.max_id + 1,
            doc.trailer.get(b"Root").unwrap().as_reference().unwrap().0,
            doc.xref_start
        )
        .as_bytes(),
    );
    broken(
        prepare(&update, &opts("B")),
        "rewritten after the signed range",
    );
    assert!(!signatures(&update).unwrap()[0].covers_revision);
}

#[test]
fn malformed_structures_are_reported_not_panicked_on() {
    let cases: [(&str, &[u8]); 5] = [
        ("header only", b"%PDF-1.7\n%%EOF\n"),
        ("startxref past the end", b"%PDF-1.7\nstartxref\n99999\n%%EOF\n"),
        ("no trailer", b"%PDF-1.7\nxref\n0 1\n0000000000 65535 f \nstartxref\n9\n%%EOF\n"),
        (
            "xref stream with absurd /W",
            b"%PDF-1.7\n1 0 obj\n<</Type/XRef/Size 1/W [1 99999999999 2]/Length 0>>stream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n",
        ),
        (
            "xref stream with a huge /Index",
            b"%PDF-1.7\n1 0 obj\n<</Type/XRef/Size 1/W [0 0 0]/Index [0 9000000000]/Length 0>>stream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n",
        ),
    ];
    for (what, pdf) in cases {
        let r = prepare(pdf, &opts("A"));
        assert!(
            matches!(r, Err(PdfError::Malformed(_) | PdfError::LimitExceeded(_))),
            "{what}: {r:?}"
        );
        assert!(signatures(pdf).is_err(), "{what}");
    }
}

#[test]
fn a_decompression_bomb_in_an_object_stream_is_too_large() {
    use std::io::Write;
    // 65 MB of spaces compress to about 65 KB: over the budget for object streams.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..65 {
        z.write_all(&chunk).unwrap();
    }
    let bomb = z.finish().unwrap();
    let mut pdf = make_pdf(Gen {
        pages: 1,
        ..Gen::default()
    });
    // Append a revision holding an object stream whose data is the bomb.
    let doc = Document::load_mem(&pdf).unwrap();
    let n = doc.max_id + 1;
    let offset = pdf.len();
    pdf.extend_from_slice(
        format!(
            "{n} 0 obj\n<</Type/ObjStm/N 1/First 4/Filter/FlateDecode/Length {}>>stream\n",
            bomb.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&bomb);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!(
            "xref\n{n} 1\n{offset:010} 00000 n\r\ntrailer\n<</Size {} /Root {} 0 R /Prev {}>>\nstartxref\n{xref}\n%%EOF\n",
            n + 1,
            doc.trailer.get(b"Root").unwrap().as_reference().unwrap().0,
            doc.xref_start
        )
        .as_bytes(),
    );
    match prepare(&pdf, &opts("A")) {
        Err(PdfError::LimitExceeded(why)) => assert!(why.contains("object streams"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cross_reference_entry_pointing_at_another_object_is_malformed() {
    // Found by fuzzing: lopdf files an object under the number of its `N G obj` header, so an
    // entry pointing at another object's header made two readings of one file.
    let pdf = data("classic.pdf");
    let table = pdf.windows(5).position(|w| w == b"xref\n").unwrap() + b"xref\n0 9\n".len();
    let (first, second) = (table + 20, table + 40);
    let mut swapped = pdf.clone();
    swapped[first..first + 20].copy_from_slice(&pdf[second..second + 20]);
    swapped[second..second + 20].copy_from_slice(&pdf[first..first + 20]);
    for r in [
        prepare(&swapped, &opts("A")).map(|_| ()),
        signatures(&swapped).map(|_| ()),
    ] {
        match r {
            Err(PdfError::Malformed(why)) => {
                assert!(why.contains("where that object is not"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn new_objects_do_not_take_the_number_of_a_dangling_reference() {
    // Found by fuzzing: /Fields named an object that the file no longer had; the new field got
    // that number and was listed twice.
    let mut doc = Document::load_mem(&one_page()).unwrap();
    let dangling = (doc.max_id + 2, 0);
    let form = doc.add_object(lopdf::dictionary! { "Fields" => vec![Object::Reference(dangling)] });
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_dictionary_mut(root).unwrap().set("AcroForm", form);
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    let signed = prepare(&pdf, &opts("A"))
        .unwrap()
        .finish(&fake_cms(1))
        .unwrap();
    let sigs = signatures(&signed).unwrap();
    assert_eq!(sigs.len(), 1);
    assert!(sigs[0].covers_whole_file);
    let after = Document::load_mem(&signed).unwrap();
    assert!(
        !after.objects.contains_key(&dangling),
        "the dangling reference still names nothing"
    );
}

/// `base` with a revision appended whose cross-reference stream lists `objects` (number, body
/// after `N 0 obj`) as plain objects and `compressed` (number, object stream, index) as objects
/// in object streams.
fn append_xref_stream_revision(
    base: &[u8],
    objects: &[(u32, Vec<u8>)],
    compressed: &[(u32, u32, u16)],
) -> Vec<u8> {
    let doc = Document::load_mem(base).unwrap();
    let mut pdf = base.to_vec();
    let mut rows: Vec<(u32, [u8; 7])> = Vec::new();
    for (n, body) in objects {
        let offset = u32::try_from(pdf.len()).unwrap();
        pdf.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
        let o = offset.to_be_bytes();
        rows.push((*n, [1, o[0], o[1], o[2], o[3], 0, 0]));
    }
    for (n, container, index) in compressed {
        let c = container.to_be_bytes();
        let i = index.to_be_bytes();
        rows.push((*n, [2, c[0], c[1], c[2], c[3], i[0], i[1]]));
    }
    let xref_number = rows.iter().map(|r| r.0).max().unwrap() + 1;
    let xref_offset = u32::try_from(pdf.len()).unwrap();
    let o = xref_offset.to_be_bytes();
    rows.push((xref_number, [1, o[0], o[1], o[2], o[3], 0, 0]));
    rows.sort();
    let mut index = String::new();
    let mut data = Vec::new();
    for (n, row) in &rows {
        index.push_str(&format!("{n} 1 "));
        data.extend_from_slice(row);
    }
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap().0;
    pdf.extend_from_slice(
        format!(
            "{xref_number} 0 obj\n<</Type/XRef/Size {}/W [1 4 2]/Index [{index}]/Root {root} 0 R/Prev {}/Length {}>>stream\n",
            xref_number + 1,
            doc.xref_start,
            data.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&data);
    pdf.extend_from_slice(
        format!("\nendstream\nendobj\nstartxref\n{xref_offset}\n%%EOF\n").as_bytes(),
    );
    pdf
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// An object stream holding one integer (object `inner`), padded with `padding` spaces.
fn object_stream(inner: u32, padding: usize) -> Vec<u8> {
    let mut plain = format!("{inner} 0 ").into_bytes();
    let first = plain.len();
    plain.extend_from_slice(b"42");
    plain.resize(plain.len() + padding, b' ');
    let z = deflate(&plain);
    let mut body = format!(
        "<</Type/ObjStm/N 1/First {first}/Filter/FlateDecode/Length {}>>stream\n",
        z.len()
    )
    .into_bytes();
    body.extend_from_slice(&z);
    body.extend_from_slice(b"\nendstream");
    body
}

#[test]
fn object_streams_are_measured_before_lopdf_reads_them() {
    let base = make_pdf(Gen {
        pages: 1,
        xref_stream: true,
        ..Gen::default()
    });
    let n = Document::load_mem(&base).unwrap().max_id + 1;
    // A well-formed object stream with a small integer object in it reads.
    let ok = append_xref_stream_revision(&base, &[(n, object_stream(n + 1, 10))], &[(n + 1, n, 0)]);
    let doc_ok = Document::load_mem(&ok).unwrap();
    assert_eq!(doc_ok.get_object((n + 1, 0)).unwrap().as_i64().unwrap(), 42);
    assert!(prepare(&ok, &opts("A")).is_ok());

    // 65 MB of padding: refused before lopdf would decompress it.
    let bomb = append_xref_stream_revision(
        &base,
        &[(n, object_stream(n + 1, 65 << 20))],
        &[(n + 1, n, 0)],
    );
    match prepare(&bomb, &opts("A")) {
        Err(PdfError::LimitExceeded(why)) => {
            assert!(why.contains("object streams decompress"), "{why}");
        }
        other => panic!("{other:?}"),
    }

    // 4 MB of padding, and 70 streams whose /Length is the integer in it: lopdf would decompress
    // the object stream 70 times (280 MB).
    let mut objects = vec![(n, object_stream(n + 1, 4 << 20))];
    for i in 0..70 {
        objects.push((
            n + 2 + i,
            format!(
                "<</Length {} 0 R>>stream\n{}\nendstream",
                n + 1,
                "x".repeat(42)
            )
            .into_bytes(),
        ));
    }
    let amplified = append_xref_stream_revision(&base, &objects, &[(n + 1, n, 0)]);
    match prepare(&amplified, &opts("A")) {
        Err(PdfError::LimitExceeded(why)) => assert!(why.contains("stream lengths"), "{why}"),
        other => panic!("{other:?}"),
    }
    // With 10 such streams (40 MB) it is still read.
    objects.truncate(11);
    assert!(prepare(
        &append_xref_stream_revision(&base, &objects, &[(n + 1, n, 0)]),
        &opts("A")
    )
    .is_ok());
}
