//! `iamsmart_pades::signatures_measured` on arbitrary bytes, and on the input amplified as a
//! hostile file would be (issue 16, finding 3b): the work of reading a PDF's signatures must stay
//! in proportion to the file, not only end without a crash.
//!
//! Input: the bytes of a file (the seeds are whole PDFs). Besides the input itself, a second
//! case appends an incremental update that adds up to 50 signature fields, each pointing at one
//! of a few signature dictionaries whose byte ranges cover most of the file (the shape of the
//! attack that made one request cost 23 s).
//!
//! Properties: at most `MAX_SIGNATURES + 1` parses of at most the whole file (the file, and
//! each distinct signed revision once); each distinct byte range hashed once, so at most
//! `MAX_SIGNATURES` times the file; objects compared at most the parses times the objects the
//! file can hold (one per 8 bytes, generously).
#![no_main]
use iamsmart_pades::{signatures_measured, MAX_SIGNATURES};
use libfuzzer_sys::fuzz_target;

fn check(pdf: &[u8]) {
    let (_, work) = signatures_measured(pdf);
    let len = pdf.len() as u64;
    let parses = MAX_SIGNATURES as u64 + 1;
    assert!(
        work.bytes_parsed <= parses * len,
        "{work:?} for {len} bytes"
    );
    assert!(
        work.bytes_hashed <= MAX_SIGNATURES as u64 * len,
        "{work:?} for {len} bytes"
    );
    assert!(
        work.objects_compared <= parses * (len / 8 + 1),
        "{work:?} for {len} bytes"
    );
}

/// The input with an update appended: fields sharing a few signature dictionaries.
fn amplified(data: &[u8]) -> Option<Vec<u8>> {
    let start = data.windows(9).rposition(|w| w == b"startxref")?;
    let prev: usize = std::str::from_utf8(data.get(start + 9..)?)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // The catalog, redefined with the form (its object number and pages, found as text).
    let reference = |key: &[u8]| -> Option<(u32, u16)> {
        let at = data.windows(key.len()).rposition(|w| w == key)? + key.len();
        let mut words = std::str::from_utf8(data.get(at..at + 24)?.split(|b| *b == b'R').next()?)
            .ok()?
            .split_whitespace();
        Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
    };
    let (root, root_gen) = reference(b"/Root")?;
    let (pages, pages_gen) = reference(b"/Pages")?;
    let fields = 1 + usize::from(*data.last()?) % 50;
    let sigs = 1 + fields % 4;
    let mut out = data.to_vec();
    let mut offsets = Vec::new();
    let base = 90_000;
    let end = data.len();
    for i in 0..sigs {
        offsets.push(out.len());
        out.extend_from_slice(
            format!(
                "{} 0 obj\n<< /Type /Sig /ByteRange [0 {} {} {}] /Contents <3003020100> >>\nendobj\n",
                base + i,
                end / 2,
                end / 2 + 10,
                end.saturating_sub(end / 2 + 10)
            )
            .as_bytes(),
        );
    }
    let mut refs = String::new();
    for f in 0..fields {
        offsets.push(out.len());
        let id = base + sigs + f;
        refs.push_str(&format!("{id} 0 R "));
        out.extend_from_slice(
            format!(
                "{id} 0 obj\n<< /FT /Sig /T (S{f}) /V {} 0 R >>\nendobj\n",
                base + f % sigs
            )
            .as_bytes(),
        );
    }
    let form = base + sigs + fields;
    offsets.push(out.len());
    out.extend_from_slice(format!("{form} 0 obj\n<< /Fields [{refs}] >>\nendobj\n").as_bytes());
    let catalog_at = out.len();
    out.extend_from_slice(
        format!(
            "{root} {root_gen} obj\n<< /Type /Catalog /Pages {pages} {pages_gen} R /AcroForm {form} 0 R >>\nendobj\n"
        )
        .as_bytes(),
    );
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n{root} 1\n{catalog_at:010} {root_gen:05} n \n").as_bytes(),
    );
    out.extend_from_slice(format!("{base} {}\n", offsets.len()).as_bytes());
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Prev {prev} /Root {root} {root_gen} R >>\nstartxref\n{xref}\n%%EOF\n",
            form + 1
        )
        .as_bytes(),
    );
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(bigger) = amplified(data) {
        check(&bigger);
    }
});
