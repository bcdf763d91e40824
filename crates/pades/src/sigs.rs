//! Existing signatures: where they are, what their byte ranges cover, and whether those ranges
//! are laid out as ISO 32000-1 §12.8.1 and ETSI EN 319 142-1 §5.1 require.
use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Object, ObjectId};
use sha2::{Digest, Sha256};

use crate::fields::fields;
use crate::load::Loaded;
use crate::write::decode_text;
use crate::{PdfError, PdfSignature};

/// A signature dictionary reached from a signature field's /V.
pub(crate) struct SigRef<'a> {
    pub(crate) field_name: String,
    /// The signature dictionary's object, when /V is a reference (as it should be).
    pub(crate) id: Option<ObjectId>,
    pub(crate) dict: &'a Dictionary,
}

/// The signed signature fields of the document, in field order.
pub(crate) fn signature_dicts<'a>(
    loaded: &'a Loaded<'_>,
    catalog: &'a Dictionary,
) -> Result<Vec<SigRef<'a>>, PdfError> {
    let mut out = Vec::new();
    for field in fields(loaded, catalog)? {
        if field.field_type.as_deref() != Some(b"Sig") {
            continue;
        }
        let Some(value) = field.value else { continue };
        let id = value.as_reference().ok();
        match loaded.resolve(value)? {
            Object::Null => {}
            Object::Dictionary(dict) => out.push(SigRef {
                field_name: field.name,
                id,
                dict,
            }),
            _ => {
                return Err(PdfError::broken(format!(
                    "field {:?}: /V is not a signature dictionary",
                    field.name
                )))
            }
        }
    }
    Ok(out)
}

/// The /ByteRange of `sig`, checked to be four non-negative integers naming two ranges in
/// order inside the file.
pub(crate) fn byte_range(loaded: &Loaded<'_>, sig: &SigRef<'_>) -> Result<[usize; 4], PdfError> {
    let bad =
        |why: &str| PdfError::broken(format!("signature {:?}: /ByteRange {why}", sig.field_name));
    let Some(Object::Array(items)) = loaded.entry(sig.dict, b"ByteRange")? else {
        return Err(bad("is missing"));
    };
    let mut br = [0usize; 4];
    if items.len() != 4 {
        return Err(bad("does not have four numbers"));
    }
    for (slot, item) in br.iter_mut().zip(items) {
        *slot = item
            .as_i64()
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad("has an entry that is not a non-negative integer"))?;
    }
    let first_end = br[0].checked_add(br[1]);
    let second_end = br[2].checked_add(br[3]);
    match (first_end, second_end) {
        (Some(a), Some(b)) if a <= br[2] && b <= loaded.bytes.len() => Ok(br),
        _ => Err(bad("points outside the file or its ranges overlap")),
    }
}

/// Whether the byte range of `sig` is laid out as it must be: from the start of the file, the
/// gap exactly the hexadecimal /Contents string of this signature dictionary (which lies in the
/// signed part), to the end of a revision. The error says what is wrong.
pub(crate) fn check_layout(
    loaded: &Loaded<'_>,
    sig: &SigRef<'_>,
    br: [usize; 4],
) -> Result<(), String> {
    let bytes = loaded.bytes;
    if br[0] != 0 {
        return Err("the signed range does not start at the beginning of the file".into());
    }
    let (gap_start, gap_end) = (br[1], br[2]);
    let gap = bytes.get(gap_start..gap_end).unwrap_or_default();
    let hex_digits = gap.get(1..gap.len().saturating_sub(1)).unwrap_or_default();
    if gap.len() < 2
        || gap.first() != Some(&b'<')
        || gap.last() != Some(&b'>')
        || hex_digits.len() % 2 != 0
        || !hex_digits.iter().all(u8::is_ascii_hexdigit)
    {
        return Err("the unsigned gap is not exactly a hexadecimal string".into());
    }
    let Ok(Some(Object::String(contents, _))) = loaded.entry(sig.dict, b"Contents") else {
        return Err("the signature dictionary has no /Contents string".into());
    };
    if hex_decode(hex_digits).as_deref() != Some(contents.as_slice()) {
        return Err("the unsigned gap is not this signature's /Contents".into());
    }
    if let Some(id) = sig.id {
        match loaded.doc.reference_table.get(id.0) {
            Some(XrefEntry::Normal { offset, .. }) if (*offset as usize) < gap_start => {}
            Some(XrefEntry::Normal { .. }) => {
                return Err("the signature dictionary was rewritten after the signed range".into())
            }
            _ => {
                return Err(
                    "the signature dictionary is not a plain indirect object of the file".into(),
                )
            }
        }
    }
    if !ends_revision(bytes, br[2] + br[3]) {
        return Err("the signed range does not end at the end of a revision (%%EOF)".into());
    }
    Ok(())
}

/// Whether `bytes[..end]` ends with `%%EOF` and at most one end of line.
pub(crate) fn ends_revision(bytes: &[u8], end: usize) -> bool {
    let Some(mut head) = bytes.get(..end) else {
        return false;
    };
    if let Some(rest) = head.strip_suffix(b"\r\n") {
        head = rest;
    } else if let Some(rest) = head
        .strip_suffix(b"\n")
        .or_else(|| head.strip_suffix(b"\r"))
    {
        head = rest;
    }
    head.ends_with(b"%%EOF")
}

fn hex_decode(digits: &[u8]) -> Option<Vec<u8>> {
    digits
        .chunks_exact(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// SHA-256 over the two ranges of `br` (which [`byte_range`] checked to be inside `bytes`).
pub(crate) fn digest(bytes: &[u8], br: [usize; 4]) -> [u8; 32] {
    crate::work::hashed(br[1] + br[3]);
    let mut h = Sha256::new();
    h.update(&bytes[br[0]..br[0] + br[1]]);
    h.update(&bytes[br[2]..br[2] + br[3]]);
    h.finalize().into()
}

/// The DER length of the outermost element of `der` (tag and length octets included), if it is
/// a definite-length SEQUENCE that fits in `der`.
pub(crate) fn der_len(der: &[u8]) -> Option<usize> {
    if der.first() != Some(&0x30) {
        return None;
    }
    let first = *der.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let octets = der.get(2..2 + n)?;
        let len = octets
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (2 + n, len)
    };
    let total = header.checked_add(len)?;
    (total <= der.len()).then_some(total)
}

/// Reads one signature for [`crate::signatures`]; `digests` holds each distinct byte range's
/// digest once hashed, so that signatures sharing a range hash it once.
pub(crate) fn describe(
    loaded: &Loaded<'_>,
    sig: &SigRef<'_>,
    digests: &mut std::collections::HashMap<[usize; 4], [u8; 32]>,
) -> Result<PdfSignature, PdfError> {
    let br = byte_range(loaded, sig)?;
    let contents = match loaded.entry(sig.dict, b"Contents")? {
        Some(Object::String(s, _)) if s.len() > crate::MAX_CONTENTS_CAPACITY => {
            return Err(PdfError::LimitExceeded(format!(
                "signature {:?}: /Contents is larger than {} KiB",
                sig.field_name,
                crate::MAX_CONTENTS_CAPACITY / 1024
            )))
        }
        Some(Object::String(s, _)) => s.clone(),
        _ => Vec::new(),
    };
    let cms_der = match der_len(&contents) {
        Some(n) => contents[..n].to_vec(),
        None => contents,
    };
    let covers_revision = check_layout(loaded, sig, br).is_ok();
    let name_of = |key: &[u8]| -> Result<Option<String>, PdfError> {
        Ok(match loaded.entry(sig.dict, key)? {
            Some(Object::Name(n)) => Some(String::from_utf8_lossy(n).into_owned()),
            Some(Object::String(s, _)) => Some(decode_text(s)),
            _ => None,
        })
    };
    Ok(PdfSignature {
        field_name: sig.field_name.clone(),
        sub_filter: name_of(b"SubFilter")?.unwrap_or_default(),
        byte_range: br,
        cms_der,
        digest: *digests
            .entry(br)
            .or_insert_with(|| digest(loaded.bytes, br)),
        covers_revision,
        covers_whole_file: covers_revision && br[2] + br[3] == loaded.bytes.len(),
        modified_after: None,
        signing_time_m: name_of(b"M")?,
    })
}

/// Refuses a document whose existing signatures are not well-formed, or whose certification
/// signature forbids any change.
pub(crate) fn check_existing(loaded: &Loaded<'_>, catalog: &Dictionary) -> Result<(), PdfError> {
    for sig in signature_dicts(loaded, catalog)? {
        let br = byte_range(loaded, &sig)?;
        check_layout(loaded, &sig, br)
            .map_err(|why| PdfError::broken(format!("signature {:?}: {why}", sig.field_name)))?;
    }
    Ok(())
}

/// Whether a certification signature (catalog /Perms /DocMDP) allows no change at all (/P 1).
pub(crate) fn no_changes_allowed(
    loaded: &Loaded<'_>,
    catalog: &Dictionary,
) -> Result<bool, PdfError> {
    let Some(Object::Dictionary(perms)) = loaded.entry(catalog, b"Perms")? else {
        return Ok(false);
    };
    let Some(Object::Dictionary(sig)) = loaded.entry(perms, b"DocMDP")? else {
        return Ok(false);
    };
    let Some(Object::Array(refs)) = loaded.entry(sig, b"Reference")? else {
        return Ok(false);
    };
    for r in refs {
        let Object::Dictionary(r) = loaded.resolve(r)? else {
            continue;
        };
        if r.get(b"TransformMethod").and_then(Object::as_name).ok() != Some(b"DocMDP") {
            continue;
        }
        let p = match loaded.entry(r, b"TransformParams")? {
            Some(Object::Dictionary(params)) => {
                params.get(b"P").and_then(Object::as_i64).unwrap_or(2)
            }
            _ => 2,
        };
        if p == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der_len(&[0x30, 0x03, 1, 2, 3, 0, 0]), Some(5));
        assert_eq!(der_len(&[0x30, 0x82, 0x01, 0x00]), None);
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(vec![7; 0x100 + 10]);
        assert_eq!(der_len(&long), Some(0x104));
        assert_eq!(der_len(&[0x31, 0x00]), None);
        assert_eq!(der_len(&[0x30, 0x80, 0, 0]), None);
        assert_eq!(der_len(&[]), None);
    }

    #[test]
    fn revision_ends() {
        assert!(ends_revision(b"x%%EOF", 6));
        assert!(ends_revision(b"x%%EOF\r\n", 8));
        assert!(ends_revision(b"x%%EOF\n", 7));
        assert!(!ends_revision(b"x%%EOF\n\n", 8));
        assert!(!ends_revision(b"x%%EOF", 5));
        assert!(!ends_revision(b"x%%EOF", 7));
    }
}
