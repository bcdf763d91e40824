//! The cross-reference chain (ISO 32000-1 §7.5.4, §7.5.8), read here before lopdf sees the
//! file: every section is checked (cross-reference streams with sane /W and /Index, data that
//! does not decompress beyond what their entries need), its entries collected, and the object
//! streams they name measured, so that neither a hostile cross-reference stream nor an object
//! stream can make lopdf allocate or work without bound.
use std::collections::{BTreeSet, HashMap, HashSet};

use lopdf::{Dictionary, Object};

use crate::load::{decode_bounded, find, Refused, XrefKind};
use crate::parse::Parser;
use crate::PdfError;

/// Most cross-reference sections (revisions) followed.
const MAX_SECTIONS: usize = 4096;
/// Most cross-reference entries, over all sections.
const MAX_ENTRIES: u64 = 4_000_000;
/// Most bytes that the object streams named by the entries may decompress to, together.
pub(crate) const MAX_OBJSTM_BYTES: u64 = 64 * 1024 * 1024;
/// Most bytes that lopdf may decompress to resolve stream lengths kept in object streams (it
/// decompresses the object stream again for each).
const MAX_LENGTH_WORK: u64 = 256 * 1024 * 1024;

/// Where an object is, by the newest section that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Free,
    Normal { offset: usize, generation: u16 },
    Compressed { container: u32 },
}

/// The newest section's kind and trailer, and the objects the newest section naming them frees.
pub(crate) struct Chain {
    pub(crate) kind: XrefKind,
    pub(crate) trailer: Dictionary,
    /// Object numbers whose newest entry is free: a reader shows nothing for them, whatever
    /// an older section says (lopdf would read the older definition).
    pub(crate) freed: Vec<u32>,
}

/// Reads and checks the chain from `start`, and measures the object streams it names.
pub(crate) fn read_chain(pdf: &[u8], start: usize) -> Result<Chain, PdfError> {
    let mut entries = HashMap::new();
    let mut count = 0u64;
    let mut seen = HashSet::new();
    let mut offset = start;
    let mut first: Option<Chain> = None;
    for _ in 0..MAX_SECTIONS {
        let (kind, trailer) = read_section(pdf, offset, &mut entries, &mut count)?;
        if let Some(x) = trailer.get(b"XRefStm").ok().and_then(|o| o.as_i64().ok()) {
            let x = section_offset(pdf, x, "/XRefStm")?;
            if read_section(pdf, x, &mut entries, &mut count)?.0 != XrefKind::Stream {
                return Err(PdfError::malformed(
                    "/XRefStm does not point at a cross-reference stream",
                ));
            }
        }
        let prev = trailer.get(b"Prev").ok().and_then(|o| o.as_i64().ok());
        seen.insert(offset);
        if first.is_none() {
            first = Some(Chain {
                kind,
                trailer,
                freed: Vec::new(),
            });
        }
        match prev {
            Some(p) => {
                offset = section_offset(pdf, p, "/Prev")?;
                if seen.contains(&offset) {
                    break;
                }
            }
            None => break,
        }
        if seen.len() == MAX_SECTIONS {
            return Err(PdfError::LimitExceeded(format!(
                "more than {MAX_SECTIONS} cross-reference sections"
            )));
        }
    }
    let mut chain = first.ok_or_else(|| PdfError::malformed("no cross-reference section"))?;
    measure_object_streams(pdf, &entries)?;
    chain.freed = entries
        .iter()
        .filter(|(&n, e)| n != 0 && **e == Entry::Free)
        .map(|(&n, _)| n)
        .collect();
    Ok(chain)
}

fn section_offset(pdf: &[u8], value: i64, what: &str) -> Result<usize, PdfError> {
    usize::try_from(value)
        .ok()
        .filter(|&o| o < pdf.len())
        .ok_or_else(|| PdfError::malformed(format!("{what} points outside the file")))
}

/// Reads the section at `offset` (a table or a stream): its entries go into `entries` where a
/// newer section did not name the object already; returns its kind and trailer dictionary.
fn read_section(
    pdf: &[u8],
    offset: usize,
    entries: &mut HashMap<u32, Entry>,
    count: &mut u64,
) -> Result<(XrefKind, Dictionary), PdfError> {
    let not_here = || PdfError::malformed(format!("no cross-reference section at offset {offset}"));
    let add = |n: u64, count: &mut u64| {
        *count = count.saturating_add(n);
        if *count > MAX_ENTRIES {
            Err(PdfError::LimitExceeded(format!(
                "more than {MAX_ENTRIES} cross-reference entries"
            )))
        } else {
            Ok(())
        }
    };
    let mut p = Parser::new(pdf, offset);
    if p.keyword(b"xref") {
        // Subsections: `first count`, then `count` entries `offset generation n|f`.
        while let Some(first) = p.unsigned() {
            let n = p.unsigned().ok_or_else(not_here)?;
            add(n, count)?;
            for i in 0..n {
                let at = p.unsigned().ok_or_else(not_here)?;
                let generation = p.unsigned().ok_or_else(not_here)?;
                let entry = if p.keyword(b"n") {
                    Entry::Normal {
                        offset: usize::try_from(at).unwrap_or(usize::MAX),
                        generation: u16::try_from(generation).unwrap_or(u16::MAX),
                    }
                } else if p.keyword(b"f") {
                    Entry::Free
                } else {
                    return Err(not_here());
                };
                if let Ok(number) = u32::try_from(first + i) {
                    entries.entry(number).or_insert(entry);
                }
            }
        }
        if !p.keyword(b"trailer") {
            return Err(not_here());
        }
        let trailer = p.dictionary().ok_or_else(|| {
            PdfError::malformed(format!(
                "unreadable trailer after the table at offset {offset}"
            ))
        })?;
        return Ok((XrefKind::Table, trailer));
    }
    p.object_header().ok_or_else(not_here)?;
    let dict = p.dictionary().ok_or_else(not_here)?;
    if !p.keyword(b"stream") || dict.get(b"Type").and_then(Object::as_name).ok() != Some(b"XRef") {
        return Err(not_here());
    }
    let bad = |why: &str| {
        PdfError::malformed(format!("cross-reference stream at offset {offset}: {why}"))
    };
    let ints = |key: &[u8]| -> Option<Vec<i64>> {
        dict.get(key)
            .ok()?
            .as_array()
            .ok()?
            .iter()
            .map(|o| o.as_i64().ok())
            .collect()
    };
    let widths = ints(b"W").ok_or_else(|| bad("no /W array of integers"))?;
    if widths.len() != 3 || widths.iter().any(|w| !(0..=8).contains(w)) || widths[1] == 0 {
        return Err(bad(
            "/W must be three field widths of 0 to 8 bytes, the second not 0",
        ));
    }
    // Each checked to be 0 to 8 above.
    let widths: Vec<usize> = widths
        .iter()
        .map(|&w| usize::try_from(w).unwrap_or(0))
        .collect();
    let size = dict
        .get(b"Size")
        .and_then(Object::as_i64)
        .map_err(|_| bad("no /Size"))?;
    if !(0..=MAX_ENTRIES as i64).contains(&size) {
        return Err(PdfError::LimitExceeded(format!(
            "more than {MAX_ENTRIES} cross-reference entries"
        )));
    }
    let index = match dict.get(b"Index") {
        Ok(_) => ints(b"Index").ok_or_else(|| bad("/Index is not an array of integers"))?,
        Err(_) => vec![0, size],
    };
    if index.len() % 2 != 0
        || index
            .iter()
            .any(|&i| !(0..=MAX_ENTRIES as i64).contains(&i))
    {
        return Err(bad("/Index must be pairs of object number and count"));
    }
    let n: u64 = index.chunks(2).map(|pair| pair[1] as u64).sum();
    add(n, count)?;
    let data = stream_data(pdf, p.pos, &dict)
        .ok_or_else(|| bad("/Length runs past the end of the file"))?;
    let row: usize = widths.iter().sum();
    let limit = n.saturating_mul(row as u64 + 1).saturating_add(1024);
    let decoded = match decode_bounded(&dict, data, limit) {
        Ok(d) => d,
        Err(Refused::TooBig) => {
            return Err(bad("its data decompresses to more than its entries need"))
        }
        Err(Refused::Filter) => return Err(bad("it uses a filter other than FlateDecode")),
    };
    let rows = unpredict(&dict, &decoded, row).ok_or_else(|| bad("unsupported /DecodeParms"))?;
    let mut rows = rows.chunks_exact(row);
    for pair in index.chunks(2) {
        for i in 0..pair[1] {
            let Some(r) = rows.next() else {
                return Err(bad("fewer entries than /Index lists"));
            };
            let field = |k: usize| {
                let start: usize = widths[..k].iter().sum();
                r[start..start + widths[k]]
                    .iter()
                    .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
            };
            let kind = if widths[0] == 0 { 1 } else { field(0) };
            let entry = match kind {
                0 => Entry::Free,
                1 => Entry::Normal {
                    offset: usize::try_from(field(1)).unwrap_or(usize::MAX),
                    generation: u16::try_from(field(2)).unwrap_or(u16::MAX),
                },
                2 => Entry::Compressed {
                    container: u32::try_from(field(1)).unwrap_or(u32::MAX),
                },
                _ => continue, // Reserved types: a reference to a null object.
            };
            if let Ok(number) = u32::try_from(pair[0] + i) {
                entries.entry(number).or_insert(entry);
            }
        }
    }
    Ok((XrefKind::Stream, dict))
}

/// The data of the stream whose keyword `stream` ends at `pos`: by a direct /Length, else up
/// to `endstream`.
fn stream_data<'p>(pdf: &'p [u8], mut pos: usize, dict: &Dictionary) -> Option<&'p [u8]> {
    if pdf.get(pos) == Some(&b'\r') {
        pos += 1;
    }
    if pdf.get(pos) == Some(&b'\n') {
        pos += 1;
    }
    let data = pdf.get(pos..)?;
    match dict.get(b"Length").and_then(Object::as_i64) {
        Ok(n) => data.get(..usize::try_from(n).ok()?),
        Err(_) => Some(&data[..find(data, b"endstream").unwrap_or(data.len())]),
    }
}

/// Undoes a PNG predictor (/Predictor 10 to 15) on rows of `columns` bytes; data without a
/// predictor as it is; `None` for other predictors.
fn unpredict(dict: &Dictionary, data: &[u8], columns: usize) -> Option<Vec<u8>> {
    let params = match dict.get(b"DecodeParms") {
        Ok(Object::Dictionary(d)) => d,
        Ok(Object::Array(a)) if a.len() == 1 => a[0].as_dict().ok()?,
        Ok(Object::Null) | Err(_) => return Some(data.to_vec()),
        Ok(_) => return None,
    };
    let int =
        |key: &[u8], default: i64| params.get(key).and_then(Object::as_i64).unwrap_or(default);
    match int(b"Predictor", 1) {
        1 => return Some(data.to_vec()),
        10..=15 => {}
        _ => return None,
    }
    if int(b"Columns", 1) != columns as i64
        || int(b"Colors", 1) != 1
        || int(b"BitsPerComponent", 8) != 8
    {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; columns];
    for chunk in data.chunks_exact(columns + 1) {
        let (kind, raw) = (chunk[0], &chunk[1..]);
        let mut row = raw.to_vec();
        for i in 0..columns {
            let left = if i > 0 { row[i - 1] } else { 0 };
            let (up, up_left) = (prev[i], if i > 0 { prev[i - 1] } else { 0 });
            let predicted = match kind {
                0 => 0,
                1 => left,
                2 => up,
                3 => u8::try_from((u16::from(left) + u16::from(up)) / 2).unwrap_or(u8::MAX),
                4 => paeth(left, up, up_left),
                _ => return None,
            };
            row[i] = row[i].wrapping_add(predicted);
        }
        out.extend_from_slice(&row);
        prev = row;
    }
    Some(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Measures the object streams that entries place objects in (FlateDecode or none, under
/// [`MAX_OBJSTM_BYTES`] together), and what lopdf would decompress again to resolve stream
/// lengths kept in them (under [`MAX_LENGTH_WORK`]).
fn measure_object_streams(pdf: &[u8], entries: &HashMap<u32, Entry>) -> Result<(), PdfError> {
    let containers: BTreeSet<u32> = entries
        .values()
        .filter_map(|e| match e {
            Entry::Compressed { container } => Some(*container),
            _ => None,
        })
        .collect();
    if containers.is_empty() {
        return Ok(());
    }
    let too_big = || {
        PdfError::LimitExceeded(format!(
            "object streams decompress to more than {MAX_OBJSTM_BYTES} bytes"
        ))
    };
    let mut budget = MAX_OBJSTM_BYTES;
    let mut sizes = HashMap::new();
    for &c in &containers {
        // An object stream that cannot be found or read here is lopdf's to fail on: the objects
        // in it will be missing, which the load refuses.
        let Some((dict, data)) = stream_at(pdf, entries, c)? else {
            continue;
        };
        match decode_bounded(&dict, data, budget) {
            Ok(d) => {
                budget -= d.len() as u64;
                sizes.insert(c, d.len() as u64);
            }
            Err(Refused::TooBig) => return Err(too_big()),
            Err(Refused::Filter) => {
                return Err(PdfError::malformed(format!(
                    "object stream {c} uses a filter other than FlateDecode"
                )))
            }
        }
    }
    // Streams whose /Length is an object in an object stream.
    let mut work = 0u64;
    for entry in entries.values() {
        let Entry::Normal { offset, .. } = *entry else {
            continue;
        };
        let mut p = Parser::new(pdf, offset);
        if p.object_header().is_none() {
            continue;
        }
        let Some(dict) = p.dictionary() else { continue };
        if let Ok(Object::Reference((n, _))) = dict.get(b"Length") {
            if let Some(Entry::Compressed { container }) = entries.get(n) {
                work = work.saturating_add(sizes.get(container).copied().unwrap_or(0));
                if work > MAX_LENGTH_WORK {
                    return Err(PdfError::LimitExceeded(
                        "too many stream lengths kept in large object streams".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The dictionary and raw data of the stream object `number`, if it is a plain object of the
/// file whose /Length can be told.
type RawStream<'p> = (Dictionary, &'p [u8]);

fn stream_at<'p>(
    pdf: &'p [u8],
    entries: &HashMap<u32, Entry>,
    number: u32,
) -> Result<Option<RawStream<'p>>, PdfError> {
    let Some(Entry::Normal { offset, .. }) = entries.get(&number) else {
        return Ok(None);
    };
    let mut p = Parser::new(pdf, *offset);
    if p.object_header().map(|h| h.0) != Some(number) {
        return Ok(None);
    }
    let Some(mut dict) = p.dictionary() else {
        return Ok(None);
    };
    if !p.keyword(b"stream") {
        return Ok(None);
    }
    if let Ok(Object::Reference((n, _))) = dict.get(b"Length") {
        let length = match entries.get(n) {
            Some(Entry::Normal { offset, .. }) => {
                let mut q = Parser::new(pdf, *offset);
                q.object_header().and_then(|_| q.unsigned())
            }
            Some(Entry::Compressed { .. }) => {
                return Err(PdfError::malformed(format!(
                    "the /Length of object stream {number} is itself in an object stream"
                )))
            }
            _ => None,
        };
        match length.and_then(|l| i64::try_from(l).ok()) {
            Some(l) => dict.set("Length", Object::Integer(l)),
            None => return Ok(None),
        }
    }
    Ok(stream_data(pdf, p.pos, &dict).map(|data| (dict, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_predictors() {
        let mut params = Dictionary::new();
        params.set("Predictor", Object::Integer(12));
        params.set("Columns", Object::Integer(3));
        let mut dict = Dictionary::new();
        dict.set("DecodeParms", Object::Dictionary(params));
        // Row 1 "Up" from zeros, row 2 "Up" adds row 1, row 3 "Sub", row 4 "Paeth".
        let data = [2, 1, 2, 3, 2, 1, 1, 1, 1, 5, 1, 1, 4, 0, 0, 0];
        assert_eq!(
            unpredict(&dict, &data, 3).unwrap(),
            [1, 2, 3, 2, 3, 4, 5, 6, 7, 5, 6, 7]
        );
        assert!(
            unpredict(&dict, &data, 4).is_none(),
            "columns must match /W"
        );
        assert_eq!(paeth(10, 20, 10), 20);
    }
}
