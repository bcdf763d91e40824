//! Preparing a document for a signature: the signature field, its widget, the signature
//! dictionary with room for the CMS, and the byte range to sign.
use std::collections::HashSet;

use lopdf::{Dictionary, Object, ObjectId};

use crate::fields::{fields, first_page};
use crate::load::{load, Loaded};
use crate::sigs::{check_existing, der_len, digest, no_changes_allowed};
use crate::update::{Changes, Update};
use crate::write::{self, pdf_date, text_string};
use crate::{PdfError, Prepared, SignOptions, SubFilter};

/// Most bytes that may be reserved for a CMS.
pub const MAX_CONTENTS_CAPACITY: usize = 1024 * 1024;
/// Widget annotation flags: Print (4) and Locked (128).
const WIDGET_FLAGS: i64 = 132;
/// AcroForm /SigFlags: SignaturesExist (1) and AppendOnly (2).
const SIG_FLAGS: i64 = 3;
/// 10000-01-01T00:00:00Z: a PDF date has four digits for the year.
const MAX_SIGNING_TIME: u64 = 253_402_300_800;
/// Digits reserved for each number of the /ByteRange.
const BYTE_RANGE_DIGITS: usize = 10;

pub(crate) fn prepare(pdf: &[u8], opts: &SignOptions) -> Result<Prepared, PdfError> {
    check_options(opts)?;
    let loaded = load(pdf)?;
    let (catalog_id, catalog) = loaded.catalog()?;
    check_existing(&loaded, catalog)?;
    if no_changes_allowed(&loaded, catalog)? {
        return Err(PdfError::ChangesNotAllowed);
    }
    let taken: HashSet<String> = fields(&loaded, catalog)?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let field_name = match &opts.field_name {
        Some(name) if taken.contains(name) => return Err(PdfError::FieldExists(name.clone())),
        Some(name) => name.clone(),
        None => (1..)
            .map(|n| format!("Signature{n}"))
            .find(|name| !taken.contains(name))
            .unwrap_or_default(),
    };
    let page = first_page(&loaded, catalog)?;

    let mut update = Update::new(&loaded)?;
    let sig_id = update.allocate();
    let field_id = update.allocate();
    let mut changes = Changes::default();
    add_annotation(&loaded, &mut changes, page, field_id)?;
    let new_form = add_field(&loaded, &mut changes, catalog_id, catalog, field_id)?;

    let (body, byte_range_at, contents_at) = signature_dictionary(opts);
    let body_at = update.raw_object(sig_id, &body);
    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", text_string(&field_name));
    field.set("V", Object::Reference(sig_id));
    field.set("F", Object::Integer(WIDGET_FLAGS));
    field.set("Rect", Object::Array(vec![Object::Integer(0); 4]));
    field.set("P", Object::Reference(page));
    update.object(field_id, &Object::Dictionary(field));
    if let Some(form) = new_form {
        let id = update.allocate();
        update.object(id, &Object::Dictionary(form));
        changes
            .dict_mut(&loaded, catalog_id)?
            .set("AcroForm", Object::Reference(id));
    }
    changes.write(&mut update);
    debug_assert!(update.len() > body_at);
    let mut out = update.finish();

    let contents_start = body_at + contents_at;
    let contents_end = contents_start + 2 + 2 * opts.contents_capacity;
    let byte_range = [0, contents_start, contents_end, out.len() - contents_end];
    let text = format!("0 {} {} {}", byte_range[1], byte_range[2], byte_range[3]);
    let slot = &mut out[body_at + byte_range_at..][..byte_range_placeholder().len()];
    slot.fill(b' ');
    slot[..text.len()].copy_from_slice(text.as_bytes());
    let digest = digest(&out, byte_range);
    Ok(Prepared {
        pdf: out,
        byte_range,
        digest,
        capacity: opts.contents_capacity,
    })
}

fn check_options(opts: &SignOptions) -> Result<(), PdfError> {
    if !(1..=MAX_CONTENTS_CAPACITY).contains(&opts.contents_capacity) {
        return Err(PdfError::InvalidOption(format!(
            "contents_capacity must be 1 to {MAX_CONTENTS_CAPACITY} bytes"
        )));
    }
    if opts.signing_time >= MAX_SIGNING_TIME {
        return Err(PdfError::InvalidOption(
            "signing_time must be before the year 10000".into(),
        ));
    }
    if let Some(name) = &opts.field_name {
        if name.is_empty() || name.contains('.') || name.chars().count() > 127 {
            return Err(PdfError::InvalidOption(
                "field_name must be 1 to 127 characters without a period".into(),
            ));
        }
    }
    Ok(())
}

fn byte_range_placeholder() -> String {
    let zeros = "0".repeat(BYTE_RANGE_DIGITS);
    format!("0 {zeros} {zeros} {zeros}")
}

/// The signature dictionary with a placeholder /ByteRange and zeroed /Contents; returns it with
/// the offsets (in it) of the byte range numbers and of the `<` of /Contents.
fn signature_dictionary(opts: &SignOptions) -> (Vec<u8>, usize, usize) {
    let mut d = Vec::new();
    let timestamp = opts.sub_filter == SubFilter::EtsiRfc3161;
    d.extend_from_slice(if timestamp {
        b"<</Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter ".as_slice()
    } else {
        b"<</Type /Sig /Filter /Adobe.PPKLite /SubFilter ".as_slice()
    });
    write::name(&mut d, opts.sub_filter.name().as_bytes());
    let texts = [
        ("Name", Some(&opts.signer_name)),
        ("Reason", opts.reason.as_ref()),
        ("Location", opts.location.as_ref()),
        ("ContactInfo", opts.contact_info.as_ref()),
    ];
    // ISO 32000-2 12.8.5: a document timestamp carries only what its token proves.
    if !timestamp {
        d.extend_from_slice(b" /M ");
        write::object(&mut d, &text_string(&pdf_date(opts.signing_time)));
    }
    for (key, value) in texts.into_iter().filter(|_| !timestamp) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            d.push(b' ');
            write::name(&mut d, key.as_bytes());
            d.push(b' ');
            write::object(&mut d, &text_string(value));
        }
    }
    d.extend_from_slice(b" /ByteRange [");
    let byte_range_at = d.len();
    d.extend_from_slice(byte_range_placeholder().as_bytes());
    d.extend_from_slice(b"] /Contents ");
    let contents_at = d.len();
    d.push(b'<');
    d.resize(d.len() + 2 * opts.contents_capacity, b'0');
    d.extend_from_slice(b">>>");
    (d, byte_range_at, contents_at)
}

/// Adds the widget to page 1's /Annots, be it absent, a direct array or a reference to one.
fn add_annotation(
    loaded: &Loaded<'_>,
    changes: &mut Changes,
    page: ObjectId,
    widget: ObjectId,
) -> Result<(), PdfError> {
    let Some(Object::Dictionary(page_dict)) = loaded.get(page) else {
        return Err(PdfError::malformed("page 1 is not a dictionary"));
    };
    if let Ok(Object::Reference(annots)) = page_dict.get(b"Annots") {
        if let Some(Object::Array(_)) = loaded.get(*annots) {
            if let Object::Array(a) = changes.get_mut(loaded, *annots)? {
                a.push(Object::Reference(widget));
            }
            return Ok(());
        }
    }
    let page_dict = changes.dict_mut(loaded, page)?;
    match page_dict.get_mut(b"Annots") {
        Ok(Object::Array(a)) => a.push(Object::Reference(widget)),
        Ok(Object::Null) | Ok(Object::Reference(_)) | Err(_) => {
            page_dict.set("Annots", Object::Array(vec![Object::Reference(widget)]));
        }
        Ok(_) => return Err(PdfError::malformed("/Annots of page 1 is not an array")),
    }
    Ok(())
}

/// Adds the field to the AcroForm's /Fields and sets /SigFlags. Returns the new AcroForm
/// dictionary when the document has none (the caller writes it and links it from the catalog).
fn add_field(
    loaded: &Loaded<'_>,
    changes: &mut Changes,
    catalog_id: ObjectId,
    catalog: &Dictionary,
    field: ObjectId,
) -> Result<Option<Dictionary>, PdfError> {
    let field_ref = Object::Reference(field);
    // Where the AcroForm dictionary lives: its own object, or inside the catalog.
    let form_id = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => match loaded.get(*id) {
            Some(Object::Dictionary(_)) => *id,
            Some(Object::Null) | None => return Ok(Some(new_form(field_ref))),
            Some(_) => return Err(PdfError::malformed("/AcroForm is not a dictionary")),
        },
        Ok(Object::Dictionary(_)) => catalog_id,
        Ok(Object::Null) | Err(_) => return Ok(Some(new_form(field_ref))),
        Ok(_) => return Err(PdfError::malformed("/AcroForm is not a dictionary")),
    };
    let ((true, Ok(Object::Dictionary(current)), _)
    | (false, _, Some(Object::Dictionary(current)))) = (
        form_id == catalog_id,
        catalog.get(b"AcroForm"),
        loaded.get(form_id),
    )
    else {
        return Err(PdfError::malformed("/AcroForm is not a dictionary"));
    };
    // /Fields: a reference to an array is changed where it is.
    let fields_in_place = match current.get(b"Fields") {
        Ok(Object::Reference(id)) if matches!(loaded.get(*id), Some(Object::Array(_))) => Some(*id),
        _ => None,
    };
    match fields_in_place {
        Some(id) => {
            if let Object::Array(a) = changes.get_mut(loaded, id)? {
                a.push(field_ref);
            }
        }
        None => {
            let form = form_mut(loaded, changes, form_id, catalog_id)?;
            match form.get_mut(b"Fields") {
                Ok(Object::Array(a)) => a.push(field_ref),
                Ok(Object::Null) | Ok(Object::Reference(_)) | Err(_) => {
                    form.set("Fields", Object::Array(vec![field_ref]));
                }
                Ok(_) => return Err(PdfError::malformed("/AcroForm /Fields is not an array")),
            }
        }
    }
    let flags = match loaded.entry(current, b"SigFlags")? {
        Some(Object::Integer(f)) => *f,
        _ => 0,
    };
    if flags & SIG_FLAGS != SIG_FLAGS {
        form_mut(loaded, changes, form_id, catalog_id)?
            .set("SigFlags", Object::Integer(flags | SIG_FLAGS));
    }
    Ok(None)
}

/// The AcroForm dictionary to change: its own object (`form_id`), or the one inside the catalog.
fn form_mut<'c>(
    loaded: &Loaded<'_>,
    changes: &'c mut Changes,
    form_id: ObjectId,
    catalog_id: ObjectId,
) -> Result<&'c mut Dictionary, PdfError> {
    let holder = changes.dict_mut(loaded, form_id)?;
    if form_id != catalog_id {
        return Ok(holder);
    }
    match holder.get_mut(b"AcroForm") {
        Ok(Object::Dictionary(d)) => Ok(d),
        _ => Err(PdfError::malformed("/AcroForm is not a dictionary")),
    }
}

fn new_form(field: Object) -> Dictionary {
    let mut form = Dictionary::new();
    form.set("Fields", Object::Array(vec![field]));
    form.set("SigFlags", Object::Integer(SIG_FLAGS));
    form
}

impl Prepared {
    pub(crate) fn write_cms(mut self, cms_der: &[u8]) -> Result<Vec<u8>, PdfError> {
        if der_len(cms_der) != Some(cms_der.len()) {
            return Err(PdfError::BadCms(
                "expected one definite-length DER SEQUENCE and nothing after it".into(),
            ));
        }
        if cms_der.len() > self.capacity {
            return Err(PdfError::ContentsTooSmall {
                needed: cms_der.len(),
                capacity: self.capacity,
            });
        }
        let hex = write::hex_upper(cms_der);
        let start = self.byte_range[1] + 1;
        self.pdf[start..start + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(self.pdf)
    }
}

/// The name of a /SubFilter value.
impl SubFilter {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SubFilter::EtsiCadesDetached => "ETSI.CAdES.detached",
            SubFilter::AdbePkcs7Detached => "adbe.pkcs7.detached",
            SubFilter::EtsiRfc3161 => "ETSI.RFC3161",
        }
    }
}
