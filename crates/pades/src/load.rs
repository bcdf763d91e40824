//! Reading a PDF from untrusted bytes: the size limit, the cross-reference chain (checked by
//! [`crate::xref`] before lopdf sees the file), encryption, then lopdf for the objects, and a
//! check that lopdf read the objects the cross-reference sections name.
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::io::Read;

use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::parse::Parser;
use crate::xref::{read_chain, Chain, MAX_OBJSTM_BYTES};
use crate::PdfError;

/// Largest PDF accepted, in bytes.
pub const MAX_PDF_BYTES: usize = 50 * 1024 * 1024;

/// The kind of the file's last cross-reference section; an update adds one of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XrefKind {
    /// `xref` ... `trailer << >>`.
    Table,
    /// A cross-reference stream (PDF 1.5).
    Stream,
}

/// A PDF read and checked.
pub(crate) struct Loaded<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) doc: Document,
    /// Offset of the last cross-reference section (the `/Prev` of an update).
    pub(crate) startxref: usize,
    pub(crate) xref_kind: XrefKind,
    /// The last trailer (for a cross-reference stream, its dictionary).
    pub(crate) trailer: Dictionary,
}

impl Loaded<'_> {
    /// The object `id`, or `None` when the file has no such object.
    pub(crate) fn get(&self, id: ObjectId) -> Option<&Object> {
        self.doc.objects.get(&id)
    }

    /// Follows references (a chain of at most 16) to a direct object; a dangling one reads as
    /// null, as the standard says.
    pub(crate) fn resolve<'o>(&'o self, mut obj: &'o Object) -> Result<&'o Object, PdfError> {
        for _ in 0..16 {
            match obj {
                Object::Reference(id) => match self.get(*id) {
                    Some(next) => obj = next,
                    None => return Ok(&Object::Null),
                },
                direct => return Ok(direct),
            }
        }
        Err(PdfError::malformed(
            "a chain of references that does not end",
        ))
    }

    /// `dict[key]`, resolved; `None` when absent or null.
    pub(crate) fn entry<'o>(
        &'o self,
        dict: &'o Dictionary,
        key: &[u8],
    ) -> Result<Option<&'o Object>, PdfError> {
        match dict.get(key) {
            Ok(obj) => match self.resolve(obj)? {
                Object::Null => Ok(None),
                other => Ok(Some(other)),
            },
            Err(_) => Ok(None),
        }
    }

    /// The document catalog and its object id.
    pub(crate) fn catalog(&self) -> Result<(ObjectId, &Dictionary), PdfError> {
        let id = self
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .map_err(|_| {
                PdfError::malformed("the trailer has no /Root reference to the catalog")
            })?;
        match self.get(id) {
            Some(Object::Dictionary(d)) => Ok((id, d)),
            _ => Err(PdfError::malformed(format!(
                "the catalog (object {} {}) is missing or not a dictionary",
                id.0, id.1
            ))),
        }
    }
}

/// Reads `pdf`: size limit, header, cross-reference chain, encryption, objects.
pub(crate) fn load(pdf: &[u8]) -> Result<Loaded<'_>, PdfError> {
    if pdf.len() > MAX_PDF_BYTES {
        return Err(PdfError::TooLarge);
    }
    if !pdf.starts_with(b"%PDF-") {
        return Err(PdfError::NotPdf);
    }
    crate::work::parsed(pdf.len());
    let startxref = find_startxref(pdf)?;
    let Chain {
        kind: xref_kind,
        trailer,
        freed,
    } = read_chain(pdf, startxref)?;
    if trailer.has(b"Encrypt") {
        return Err(PdfError::Encrypted);
    }
    OBJSTM_BUDGET.with(|b| b.set(MAX_OBJSTM_BYTES));
    OBJSTM_ERROR.with(|e| e.borrow_mut().take());
    let loaded = Document::load_mem_with_options(pdf, LoadOptions::with_filter(objstm_guard));
    if let Some(e) = OBJSTM_ERROR.with(|e| e.borrow_mut().take()) {
        return Err(e);
    }
    let mut doc =
        loaded.map_err(|e| PdfError::malformed(format!("cannot read the document: {e}")))?;
    // What the newest section frees is gone, as every reader sees it (lopdf keeps an older
    // definition): a "hide" update that only frees an object must not pass for no change.
    if !freed.is_empty() {
        let freed: std::collections::HashSet<u32> = freed.into_iter().collect();
        doc.objects.retain(|id, _| !freed.contains(&id.0));
    }
    if doc.encryption_state.is_some() {
        return Err(PdfError::Encrypted);
    }
    check_entries(pdf, &doc)?;
    if doc.xref_start != startxref {
        return Err(PdfError::malformed(
            "the end of the file names two different cross-reference sections",
        ));
    }
    Ok(Loaded {
        bytes: pdf,
        doc,
        startxref,
        xref_kind,
        trailer,
    })
}

/// The objects read must be the ones the cross-reference sections name: lopdf files an object
/// under the number in its `N G obj` header, so an entry pointing at another object's header
/// would show two different documents to two different readers. And every object placed in an
/// object stream must have been read (an object stream that lopdf could not parse, or that the
/// guard refused, loses them).
fn check_entries(pdf: &[u8], doc: &Document) -> Result<(), PdfError> {
    for (&number, entry) in &doc.reference_table.entries {
        match *entry {
            XrefEntry::Normal { offset, generation } => {
                let header = Parser::new(pdf, offset as usize).object_header();
                if header != Some((number, generation)) {
                    return Err(PdfError::malformed(format!(
                        "the cross-reference entry of object {number} {generation} points at \
                         offset {offset}, where that object is not"
                    )));
                }
            }
            XrefEntry::Compressed { container, .. } => {
                if !doc.objects.contains_key(&(number, 0)) {
                    return Err(PdfError::malformed(format!(
                        "object {number} in object stream {container} cannot be read"
                    )));
                }
            }
            XrefEntry::Free | XrefEntry::UnusableFree => {}
        }
    }
    Ok(())
}

/// The offset after the last `startxref` (which must be followed by `%%EOF` near the end).
fn find_startxref(pdf: &[u8]) -> Result<usize, PdfError> {
    let missing =
        || PdfError::malformed("no startxref and %%EOF at the end of the file (is it truncated?)");
    let tail_start = pdf.len().saturating_sub(1024);
    let eof = rfind(&pdf[tail_start..], b"%%EOF").ok_or_else(missing)? + tail_start;
    let near = eof.saturating_sub(64);
    let kw = rfind(&pdf[near..eof], b"startxref").ok_or_else(missing)? + near;
    let mut p = Parser::new(pdf, kw + b"startxref".len());
    let offset = p.unsigned().ok_or_else(missing)?;
    usize::try_from(offset)
        .ok()
        .filter(|&o| o < pdf.len())
        .ok_or_else(|| PdfError::malformed("startxref points past the end of the file"))
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// Why a stream's data was refused.
pub(crate) enum Refused {
    /// It decodes to more than the limit.
    TooBig,
    /// It uses a filter other than FlateDecode.
    Filter,
}

/// A stream's data decoded, if the stream is unfiltered or FlateDecode and its data decodes to
/// at most `limit` bytes.
pub(crate) fn decode_bounded<'d>(
    dict: &Dictionary,
    data: &'d [u8],
    limit: u64,
) -> Result<Cow<'d, [u8]>, Refused> {
    let filters: Vec<&[u8]> = match dict.get(b"Filter") {
        Err(_) => Vec::new(),
        Ok(Object::Name(n)) => vec![n.as_slice()],
        Ok(Object::Array(a)) => a
            .iter()
            .map(|o| o.as_name().ok())
            .collect::<Option<_>>()
            .ok_or(Refused::Filter)?,
        Ok(_) => return Err(Refused::Filter),
    };
    let decoded = match filters.as_slice() {
        [] => Cow::Borrowed(data),
        [b"FlateDecode"] => {
            let mut sink = Vec::new();
            // A corrupt stream is lopdf's to report; only the size matters here.
            let _ = flate2::read::ZlibDecoder::new(data)
                .take(limit.saturating_add(1))
                .read_to_end(&mut sink);
            Cow::Owned(sink)
        }
        _ => return Err(Refused::Filter),
    };
    if decoded.len() as u64 <= limit {
        Ok(decoded)
    } else {
        Err(Refused::TooBig)
    }
}

thread_local! {
    /// Bytes that object streams may still decompress to in the load under way on this thread
    /// (lopdf calls the filter on the loading thread: its `rayon` feature is off; were it on, the
    /// budget of the other threads would be 0, every object stream refused, and the load would
    /// fail on the objects missing).
    static OBJSTM_BUDGET: Cell<u64> = const { Cell::new(0) };
    static OBJSTM_ERROR: RefCell<Option<PdfError>> = const { RefCell::new(None) };
}

/// lopdf's load filter: before lopdf decompresses an object stream, checks that it uses
/// FlateDecode and that all object streams together stay under [`MAX_OBJSTM_BYTES`].
fn objstm_guard(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = obj {
        if stream.dict.has_type(b"ObjStm") {
            let budget = OBJSTM_BUDGET.with(Cell::get);
            match decode_bounded(&stream.dict, &stream.content, budget) {
                Ok(data) => OBJSTM_BUDGET.with(|b| b.set(budget - data.len() as u64)),
                Err(refused) => {
                    let err = match refused {
                        Refused::TooBig => PdfError::LimitExceeded(format!(
                            "object streams decompress to more than {MAX_OBJSTM_BYTES} bytes"
                        )),
                        Refused::Filter => PdfError::malformed(format!(
                            "object stream {} uses a filter other than FlateDecode",
                            id.0
                        )),
                    };
                    OBJSTM_ERROR.with(|e| {
                        e.borrow_mut().get_or_insert(err);
                    });
                    return None;
                }
            }
        }
    }
    Some((id, obj.clone()))
}
