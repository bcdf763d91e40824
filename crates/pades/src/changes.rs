//! What the revisions after a signature changed, and whether a signature allows it.
//!
//! A signature covers its revision: the bytes up to a `%%EOF`. Incremental updates after it
//! can redefine any object, and a reader shows the newest definition, so a byte range that is
//! intact proves nothing about what the reader sees (the incremental-update and "shadow"
//! attacks). As PAdES (ETSI EN 319 142-1) and the independent checkers (pdfsig, pyHanko) treat
//! them, the only changes allowed after a signature are:
//!
//! - validation data: the catalog's `/DSS` (whatever it holds) and `/Extensions`;
//! - further signatures and document timestamps: new signature fields in `/AcroForm /Fields`,
//!   their widgets added to a page's `/Annots`, an empty signature field filled, and the new
//!   objects they bring (signature dictionaries, appearance streams). A widget added that way
//!   must be signed or have no area, so that an unsigned "signature" cannot paint over the page.
//!
//! Anything else that the signed revision shows (reachable from its catalog, but through
//! `/DSS`) and that a later revision redefines or frees is a modification: a page, its contents,
//! resources, annotations, the page tree, form fields and their values, the catalog's other
//! entries, an earlier signature's dictionary. Objects the signed revision did not show (new
//! objects, unreferenced leftovers, `/Info`) matter only once something shown refers to them,
//! and that reference is itself a change to something shown.
use std::collections::{HashSet, VecDeque};

use lopdf::{Dictionary, Object, ObjectId};

use crate::load::{load, Loaded};
use crate::PdfError;

/// Why the revisions after the one ending at byte `signed_end` are not allowed after a
/// signature, or `None` when they only add validation data and signatures (or there are none).
pub(crate) fn disallowed_change(
    current: &Loaded<'_>,
    signed_end: usize,
) -> Result<Option<String>, PdfError> {
    if signed_end >= current.bytes.len() {
        return Ok(None);
    }
    let Ok(signed) = load(&current.bytes[..signed_end]) else {
        return Ok(Some("the signed revision cannot be read on its own".into()));
    };
    let Ok((root, catalog)) = signed.catalog() else {
        return Ok(Some("the signed revision has no catalog".into()));
    };
    let (new_root, _) = current.catalog()?;
    if new_root != root {
        return Ok(Some(
            "a later revision replaced the document catalog".into(),
        ));
    }
    let shown = shown_objects(&signed, catalog);
    let judge = Judge {
        signed: &signed,
        current,
        root,
        acroform: catalog.get(b"AcroForm").and_then(Object::as_reference).ok(),
        page_annots: signed
            .doc
            .objects
            .values()
            .filter_map(dict)
            .filter(|d| name(d, b"Type") == Some(b"Page"))
            .filter_map(|d| d.get(b"Annots").and_then(Object::as_reference).ok())
            .collect(),
    };
    crate::work::compared(current.doc.objects.len());
    for (id, now) in &current.doc.objects {
        let Some(before) = signed.doc.objects.get(id) else {
            continue;
        };
        if same(before, now) || !shown.contains(id) {
            continue;
        }
        if let Some(why) = judge.change(*id, before, now)? {
            return Ok(Some(why));
        }
    }
    // Freed by a later cross-reference section (the loader drops what the newest section
    // frees, as readers do), or missing altogether.
    if let Some(gone) = signed
        .doc
        .objects
        .keys()
        .find(|id| shown.contains(id) && !current.doc.objects.contains_key(id))
    {
        return Ok(Some(format!(
            "a later revision deleted object {} that the signed revision shows",
            gone.0
        )));
    }
    Ok(None)
}

/// Equal as a reader sees them (a stream read from another offset is the same stream).
fn same(a: &Object, b: &Object) -> bool {
    match (a, b) {
        (Object::Stream(x), Object::Stream(y)) => x.dict == y.dict && x.content == y.content,
        _ => a == b,
    }
}

/// The objects reachable from the catalog, but through `/DSS`.
fn shown_objects(signed: &Loaded<'_>, catalog: &Dictionary) -> HashSet<ObjectId> {
    let mut seen = HashSet::new();
    let mut queue: VecDeque<&Object> = catalog
        .iter()
        .filter(|(k, _)| k.as_slice() != b"DSS")
        .map(|(_, v)| v)
        .collect();
    while let Some(obj) = queue.pop_front() {
        match obj {
            Object::Reference(id) if seen.insert(*id) => {
                if let Some(next) = signed.get(*id) {
                    queue.push_back(next);
                }
            }
            Object::Array(items) => queue.extend(items.iter()),
            Object::Dictionary(d) => queue.extend(d.iter().map(|(_, v)| v)),
            Object::Stream(s) => queue.extend(s.dict.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    seen
}

struct Judge<'a, 'b> {
    signed: &'a Loaded<'b>,
    current: &'a Loaded<'b>,
    root: ObjectId,
    acroform: Option<ObjectId>,
    /// The arrays that are a page's /Annots in the signed revision (found once, not per change).
    page_annots: HashSet<ObjectId>,
}

/// Longest array compared entry by entry when its entries are not all references.
const MAX_DIRECT_ENTRIES: usize = 1024;

/// What an array of references may gain.
#[derive(Clone, Copy)]
enum Additions {
    /// `/AcroForm /Fields`: signature fields.
    SignatureFields,
    /// A page's `/Annots`: widgets of signature fields.
    SignatureWidgets,
}

fn dict(o: &Object) -> Option<&Dictionary> {
    match o {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

fn name<'o>(d: &'o Dictionary, key: &[u8]) -> Option<&'o [u8]> {
    d.get(key).and_then(Object::as_name).ok()
}

/// `a` and `b` agree on every key but `except`.
fn equal_except(a: &Dictionary, b: &Dictionary, except: &[&[u8]]) -> Option<String> {
    let keys: HashSet<&Vec<u8>> = a.iter().chain(b.iter()).map(|(k, _)| k).collect();
    keys.into_iter()
        .filter(|k| !except.contains(&k.as_slice()))
        .find(|k| match (a.get(k), b.get(k)) {
            (Ok(x), Ok(y)) => !same(x, y),
            (Err(_), Err(_)) => false,
            _ => true,
        })
        .map(|k| String::from_utf8_lossy(k).into_owned())
}

impl Judge<'_, '_> {
    /// Why changing `id` from `before` to `now` is not allowed, if it is not.
    fn change(
        &self,
        id: ObjectId,
        before: &Object,
        now: &Object,
    ) -> Result<Option<String>, PdfError> {
        let what = |kind: &str, detail: &str| {
            Some(format!(
                "a later revision changed {kind} (object {}){detail}",
                id.0
            ))
        };
        let (Some(b), Some(n)) = (dict(before), dict(now)) else {
            if let (Object::Array(b), Object::Array(n)) = (before, now) {
                // The form's fields and a page's annotations may gain signatures; any other
                // array (a page's content streams, a page tree's kids ...) may not change.
                return Ok(match self.list_kind(id)? {
                    Some(kind) => self
                        .list(b, n, kind)?
                        .and_then(|why| what("an array", &format!(": {why}"))),
                    None => what("an array the signed revision shows", ""),
                });
            }
            return Ok(what("an object the signed revision shows", ""));
        };
        if matches!(before, Object::Stream(_)) || matches!(now, Object::Stream(_)) {
            return Ok(what("a stream (page content, an image, a font ...)", ""));
        }
        if id == self.root {
            if let Some(key) = equal_except(b, n, &[b"DSS", b"Extensions", b"AcroForm"]) {
                return Ok(what("the catalog", &format!(": /{key}")));
            }
            return self.acroform_entry(b, n);
        }
        if Some(id) == self.acroform {
            return Ok(self
                .acroform(Some(b), n)?
                .and_then(|why| what("the form", &format!(": {why}"))));
        }
        if name(b, b"Type") == Some(b"Page") {
            if let Some(key) = equal_except(b, n, &[b"Annots"]) {
                return Ok(what("a page", &format!(": /{key}")));
            }
            if b.get(b"Annots").ok() == n.get(b"Annots").ok() {
                return Ok(None);
            }
            let old = self.array_of(self.signed, b.get(b"Annots").ok())?;
            let new = self.array_of(self.current, n.get(b"Annots").ok())?;
            return Ok(self
                .list(&old, &new, Additions::SignatureWidgets)?
                .and_then(|why| what("a page's annotations", &format!(": {why}"))));
        }
        if name(b, b"FT") == Some(b"Sig") && !b.has(b"V") {
            if let Some(key) = equal_except(b, n, &[b"V", b"AP", b"AS"]) {
                return Ok(what("an empty signature field", &format!(": /{key}")));
            }
            return Ok(None);
        }
        Ok(what("an object the signed revision shows", ""))
    }

    /// The catalog's `/AcroForm` changed (or not): judged here unless it is the same indirect
    /// object, which is judged as itself.
    fn acroform_entry(&self, b: &Dictionary, n: &Dictionary) -> Result<Option<String>, PdfError> {
        let (old, new) = (b.get(b"AcroForm").ok(), n.get(b"AcroForm").ok());
        if old == new && matches!(old, Some(Object::Reference(_)) | None) {
            return Ok(None);
        }
        let old = match old {
            Some(o) => dict(self.signed.resolve(o)?),
            None => None,
        };
        let Some(new) = new else {
            return Ok(Some("a later revision removed the form".into()));
        };
        let Some(new) = dict(self.current.resolve(new)?) else {
            return Ok(Some("a later revision made the form unreadable".into()));
        };
        Ok(self
            .acroform(old, new)?
            .map(|why| format!("a later revision changed the form: {why}")))
    }

    /// The form may gain signature fields (and `/SigFlags`) and nothing else.
    fn acroform(
        &self,
        old: Option<&Dictionary>,
        new: &Dictionary,
    ) -> Result<Option<String>, PdfError> {
        if let Some(old) = old {
            if let Some(key) = equal_except(old, new, &[b"Fields", b"SigFlags"]) {
                return Ok(Some(format!("/{key}")));
            }
        }
        let before = old.and_then(|o| o.get(b"Fields").ok());
        let after = new.get(b"Fields").ok();
        if before.is_some() && before == after && matches!(after, Some(Object::Reference(_))) {
            return Ok(None);
        }
        let old_fields = self.array_of(self.signed, before)?;
        let new_fields = self.array_of(self.current, after)?;
        self.list(&old_fields, &new_fields, Additions::SignatureFields)
    }

    /// What the array object `id` holds in the signed revision: the form's fields or a page's
    /// annotations (anything else may not change).
    fn list_kind(&self, id: ObjectId) -> Result<Option<Additions>, PdfError> {
        let reference = Object::Reference(id);
        if let Some(form) = self
            .acroform
            .and_then(|f| self.signed.get(f))
            .and_then(dict)
        {
            if form.get(b"Fields").ok() == Some(&reference) {
                return Ok(Some(Additions::SignatureFields));
            }
        }
        let (_, catalog) = self.signed.catalog()?;
        if let Some(Object::Dictionary(form)) = self.signed.entry(catalog, b"AcroForm")? {
            if form.get(b"Fields").ok() == Some(&reference) {
                return Ok(Some(Additions::SignatureFields));
            }
        }
        Ok(self
            .page_annots
            .contains(&id)
            .then_some(Additions::SignatureWidgets))
    }

    fn array_of(&self, doc: &Loaded<'_>, o: Option<&Object>) -> Result<Vec<Object>, PdfError> {
        Ok(match o {
            None => Vec::new(),
            Some(o) => match doc.resolve(o)? {
                Object::Array(a) => a.clone(),
                _ => Vec::new(),
            },
        })
    }

    /// `new` keeps every entry of `old` and adds only what `kind` allows.
    fn list(
        &self,
        old: &[Object],
        new: &[Object],
        kind: Additions,
    ) -> Result<Option<String>, PdfError> {
        // Entries are references as a rule: compared through a set; direct entries one by one,
        // in arrays of a bounded length.
        let refs = |a: &[Object]| -> Option<HashSet<ObjectId>> {
            a.iter().map(|o| o.as_reference().ok()).collect()
        };
        let (old_refs, new_refs) = (refs(old), refs(new));
        if (old_refs.is_none() || new_refs.is_none())
            && old.len().max(new.len()) > MAX_DIRECT_ENTRIES
        {
            return Ok(Some("an array too long to compare was changed".into()));
        }
        let in_new = |o: &Object| match (&new_refs, o) {
            (Some(set), Object::Reference(id)) => set.contains(id),
            _ => new.contains(o),
        };
        let in_old = |o: &Object| match (&old_refs, o) {
            (Some(set), Object::Reference(id)) => set.contains(id),
            _ => old.contains(o),
        };
        if old.iter().any(|o| !in_new(o)) {
            return Ok(Some("an entry was removed".into()));
        }
        for added in new.iter().filter(|o| !in_old(o)) {
            let ok = match kind {
                Additions::SignatureFields => self.is_signature_field(added)?,
                Additions::SignatureWidgets => self.is_signature_widget(added)?,
            };
            if !ok {
                return Ok(Some(match kind {
                    Additions::SignatureWidgets => {
                        "an annotation was added that is not a signed or invisible signature".into()
                    }
                    Additions::SignatureFields => {
                        "an entry was added that is not a signature field".into()
                    }
                }));
            }
        }
        Ok(None)
    }

    fn is_signature_field(&self, o: &Object) -> Result<bool, PdfError> {
        Ok(dict(self.current.resolve(o)?).is_some_and(|d| name(d, b"FT") == Some(b"Sig")))
    }

    /// A widget of a signature field that is signed or has no area.
    fn is_signature_widget(&self, o: &Object) -> Result<bool, PdfError> {
        let Some(w) = dict(self.current.resolve(o)?) else {
            return Ok(false);
        };
        if name(w, b"Subtype") != Some(b"Widget") {
            return Ok(false);
        }
        let field = match w.get(b"FT") {
            Ok(_) => w,
            Err(_) => match w.get(b"Parent") {
                Ok(p) => match dict(self.current.resolve(p)?) {
                    Some(p) => p,
                    None => return Ok(false),
                },
                Err(_) => return Ok(false),
            },
        };
        if name(field, b"FT") != Some(b"Sig") {
            return Ok(false);
        }
        let signed = match field.get(b"V") {
            Ok(v) => dict(self.current.resolve(v)?).is_some(),
            Err(_) => false,
        };
        Ok(signed || no_area(self.current, w)?)
    }
}

/// Whether an annotation's /Rect has no area (an invisible signature).
fn no_area(doc: &Loaded<'_>, w: &Dictionary) -> Result<bool, PdfError> {
    let Some(Object::Array(r)) = doc.entry(w, b"Rect")? else {
        return Ok(true);
    };
    let n: Vec<f64> = r
        .iter()
        .filter_map(|v| match v {
            Object::Integer(i) => Some(*i as f64),
            Object::Real(f) => Some(f64::from(*f)),
            _ => None,
        })
        .collect();
    Ok(n.len() != 4 || (n[2] - n[0]).abs() * (n[3] - n[1]).abs() == 0.0)
}
