//! The incremental update (ISO 32000-1 §7.5.6): the original bytes unchanged, then the new and
//! changed objects, a cross-reference section of the same kind as the file's last one listing
//! only them, and a trailer whose /Prev points at the previous section.
use std::collections::BTreeMap;

use lopdf::{Dictionary, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};

use crate::load::{Loaded, XrefKind};
use crate::write;
use crate::PdfError;

/// An update being written after the original bytes.
pub(crate) struct Update<'l, 'a> {
    loaded: &'l Loaded<'a>,
    out: Vec<u8>,
    /// Offsets of the objects written, by object number.
    offsets: BTreeMap<u32, (u16, usize)>,
    next_number: u32,
}

impl<'l, 'a> Update<'l, 'a> {
    /// Starts an update of `loaded`: copies its bytes and ends them with an end of line.
    pub(crate) fn new(loaded: &'l Loaded<'a>) -> Result<Self, PdfError> {
        let size = loaded
            .trailer
            .get(b"Size")
            .and_then(Object::as_i64)
            .ok()
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        // Above every number in use, and above every number referred to: a dangling reference
        // must not come to name one of the new objects.
        let next_number = size
            .max(loaded.doc.max_id.saturating_add(1))
            .max(max_reference(loaded).saturating_add(1));
        if next_number > 8_000_000 {
            return Err(PdfError::LimitExceeded("too many objects".into()));
        }
        let mut out = Vec::with_capacity(loaded.bytes.len() + 64 * 1024);
        out.extend_from_slice(loaded.bytes);
        if !matches!(out.last(), Some(b'\n' | b'\r')) {
            out.push(b'\n');
        }
        Ok(Update {
            loaded,
            out,
            offsets: BTreeMap::new(),
            next_number,
        })
    }

    /// A fresh object number.
    pub(crate) fn allocate(&mut self) -> ObjectId {
        let id = (self.next_number, 0);
        self.next_number += 1;
        id
    }

    /// The bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.out.len()
    }

    /// Writes `id` with the body given as raw PDF syntax; returns the offset of the body.
    pub(crate) fn raw_object(&mut self, id: ObjectId, body: &[u8]) -> usize {
        self.offsets.insert(id.0, (id.1, self.out.len()));
        self.out
            .extend_from_slice(format!("{} {} obj\n", id.0, id.1).as_bytes());
        let at = self.out.len();
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
        at
    }

    /// Writes `id` (new, or a new version of an existing object).
    pub(crate) fn object(&mut self, id: ObjectId, obj: &Object) {
        let mut body = Vec::new();
        write::object(&mut body, obj);
        self.raw_object(id, &body);
    }

    /// Writes the cross-reference section and trailer; returns the whole file.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let mut trailer = Dictionary::new();
        for key in [&b"Root"[..], b"Info"] {
            if let Ok(value) = self.loaded.trailer.get(key) {
                trailer.set(key, value.clone());
            }
        }
        let id = match self.loaded.trailer.get(b"ID") {
            Ok(id @ Object::Array(_)) => id.clone(),
            _ => {
                // A file identifier from the original bytes, for the readers that want one.
                let h: [u8; 32] = Sha256::digest(self.loaded.bytes).into();
                let first = Object::String(h[..16].to_vec(), StringFormat::Hexadecimal);
                Object::Array(vec![first.clone(), first])
            }
        };
        trailer.set("ID", id);
        trailer.set("Prev", Object::Integer(self.loaded.startxref as i64));
        let start = match self.loaded.xref_kind {
            XrefKind::Table => self.table(trailer),
            XrefKind::Stream => self.stream(trailer),
        };
        self.out
            .extend_from_slice(format!("startxref\n{start}\n%%EOF\n").as_bytes());
        self.out
    }

    fn table(&mut self, mut trailer: Dictionary) -> usize {
        let start = self.out.len();
        trailer.set("Size", Object::Integer(i64::from(self.next_number)));
        let mut text = String::from("xref\n");
        for run in runs(&self.offsets) {
            text.push_str(&format!("{} {}\n", run[0].0, run.len()));
            for (_, generation, offset) in run {
                text.push_str(&format!("{offset:010} {generation:05} n\r\n"));
            }
        }
        text.push_str("trailer\n");
        self.out.extend_from_slice(text.as_bytes());
        write::dictionary(&mut self.out, &trailer);
        self.out.push(b'\n');
        start
    }

    fn stream(&mut self, trailer: Dictionary) -> usize {
        let id = self.allocate();
        let start = self.out.len();
        self.offsets.insert(id.0, (id.1, start));
        let mut data = Vec::new();
        let mut index = Vec::new();
        for run in runs(&self.offsets) {
            index.push(Object::Integer(i64::from(run[0].0)));
            index.push(Object::Integer(run.len() as i64));
            for (_, generation, offset) in run {
                data.push(1);
                let offset = u32::try_from(offset)
                    .expect("offsets lie within MAX_PDF_BYTES, far below 4 GiB");
                data.extend_from_slice(&offset.to_be_bytes());
                data.extend_from_slice(&generation.to_be_bytes());
            }
        }
        let mut dict = Dictionary::new();
        dict.set("Type", Object::Name(b"XRef".to_vec()));
        dict.set("Size", Object::Integer(i64::from(self.next_number)));
        dict.set("Index", Object::Array(index));
        let widths = [1, 4, 2].map(Object::Integer);
        dict.set("W", Object::Array(widths.to_vec()));
        for (key, value) in trailer.iter() {
            dict.set(key.clone(), value.clone());
        }
        let stream = Object::Stream(lopdf::Stream::new(dict, data).with_compression(false));
        self.object(id, &stream);
        start
    }
}

/// The highest object number referred to in the document (its objects and trailer).
fn max_reference(loaded: &Loaded<'_>) -> u32 {
    let mut max = 0;
    let mut stack: Vec<&Object> = loaded.doc.objects.values().collect();
    stack.extend(loaded.trailer.iter().map(|(_, v)| v));
    while let Some(obj) = stack.pop() {
        match obj {
            Object::Reference((number, _)) => max = max.max(*number),
            Object::Array(items) => stack.extend(items),
            Object::Dictionary(d) => stack.extend(d.iter().map(|(_, v)| v)),
            Object::Stream(s) => stack.extend(s.dict.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    max
}

/// The written objects grouped into runs of consecutive numbers (cross-reference subsections).
fn runs(offsets: &BTreeMap<u32, (u16, usize)>) -> Vec<Vec<(u32, u16, usize)>> {
    let mut out: Vec<Vec<(u32, u16, usize)>> = Vec::new();
    for (&number, &(generation, offset)) in offsets {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|last| last.0 + 1 == number) => {
                run.push((number, generation, offset));
            }
            _ => out.push(vec![(number, generation, offset)]),
        }
    }
    out
}

/// Objects of the document to be written again with changes, each once whatever the number of
/// changes made to it.
#[derive(Default)]
pub(crate) struct Changes {
    objects: BTreeMap<ObjectId, Object>,
}

impl Changes {
    /// The object `id` as it will be written: the pending copy, else a copy of the current one.
    pub(crate) fn get_mut<'c>(
        &'c mut self,
        loaded: &Loaded<'_>,
        id: ObjectId,
    ) -> Result<&'c mut Object, PdfError> {
        match self.objects.entry(id) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let current = loaded.get(id).ok_or_else(|| {
                    PdfError::malformed(format!("object {} {} is missing", id.0, id.1))
                })?;
                if matches!(current, Object::Stream(_)) {
                    return Err(PdfError::malformed(format!(
                        "object {} {} is a stream where a dictionary or array belongs",
                        id.0, id.1
                    )));
                }
                Ok(e.insert(current.clone()))
            }
        }
    }

    /// The dictionary `id`, to change.
    pub(crate) fn dict_mut<'c>(
        &'c mut self,
        loaded: &Loaded<'_>,
        id: ObjectId,
    ) -> Result<&'c mut Dictionary, PdfError> {
        match self.get_mut(loaded, id)? {
            Object::Dictionary(d) => Ok(d),
            _ => Err(PdfError::malformed(format!(
                "object {} {} is not a dictionary",
                id.0, id.1
            ))),
        }
    }

    /// Writes every changed object into `update`.
    pub(crate) fn write(self, update: &mut Update<'_, '_>) {
        for (id, obj) in &self.objects {
            update.object(*id, obj);
        }
    }
}
