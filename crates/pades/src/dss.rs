//! The Document Security Store (ETSI EN 319 142-1 §5.4.2, PAdES B-LT): certificates, OCSP
//! responses and CRLs in the catalog's /DSS, added in an incremental update.
use lopdf::{Dictionary, Object, Stream};

use crate::load::{decode_bounded, load, Loaded};
use crate::sigs::check_existing;
use crate::update::{Changes, Update};
use crate::{DssData, PdfError};

/// Most bytes of one certificate, OCSP response or CRL.
const MAX_ITEM_BYTES: usize = 10 * 1024 * 1024;

pub(crate) fn add_dss(pdf: &[u8], dss: &DssData) -> Result<Vec<u8>, PdfError> {
    let items = [
        (&b"Certs"[..], &dss.certs, "certificate"),
        (b"OCSPs", &dss.ocsps, "OCSP response"),
        (b"CRLs", &dss.crls, "CRL"),
    ];
    for (_, list, what) in items {
        if list
            .iter()
            .any(|i| i.is_empty() || i.len() > MAX_ITEM_BYTES)
        {
            return Err(PdfError::InvalidOption(format!(
                "a {what} for the DSS is empty or over {MAX_ITEM_BYTES} bytes"
            )));
        }
    }
    let loaded = load(pdf)?;
    let (catalog_id, catalog) = loaded.catalog()?;
    check_existing(&loaded, catalog)?;
    let (dss_id, existing) = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => match loaded.get(*id) {
            Some(Object::Dictionary(d)) => (Some(*id), d.clone()),
            Some(Object::Null) | None => (None, Dictionary::new()),
            Some(_) => return Err(PdfError::malformed("/DSS is not a dictionary")),
        },
        Ok(Object::Dictionary(d)) => (None, d.clone()),
        Ok(Object::Null) | Err(_) => (None, Dictionary::new()),
        Ok(_) => return Err(PdfError::malformed("/DSS is not a dictionary")),
    };

    let mut update = Update::new(&loaded)?;
    let mut merged = existing.clone();
    let mut added = 0usize;
    for (key, list, _) in items {
        let mut refs = match loaded.entry(&existing, key)? {
            None => Vec::new(),
            Some(Object::Array(a)) => a.clone(),
            Some(_) => {
                return Err(PdfError::malformed(format!(
                    "/DSS /{} is not an array",
                    String::from_utf8_lossy(key)
                )))
            }
        };
        let mut known = stored_items(&loaded, &refs)?;
        for item in list.iter() {
            if known.iter().any(|k| k == item) {
                continue;
            }
            let id = update.allocate();
            update.object(
                id,
                &Object::Stream(Stream::new(Dictionary::new(), item.clone())),
            );
            refs.push(Object::Reference(id));
            known.push(item.clone());
            added += 1;
        }
        if !refs.is_empty() {
            merged.set(key, Object::Array(refs));
        }
    }
    if added == 0 {
        // Everything is there already: no empty revision.
        return Ok(pdf.to_vec());
    }

    let mut changes = Changes::default();
    let dss_ref = match dss_id {
        Some(id) => id,
        None => {
            let id = update.allocate();
            changes
                .dict_mut(&loaded, catalog_id)?
                .set("DSS", Object::Reference(id));
            id
        }
    };
    update.object(dss_ref, &Object::Dictionary(merged));
    add_esic(&loaded, &mut changes, catalog_id, catalog)?;
    if version_below_1_7(&loaded, catalog) {
        // The DSS and the ESIC extension are PDF 1.7 structures (as pyHanko does, too).
        changes
            .dict_mut(&loaded, catalog_id)?
            .set("Version", Object::Name(b"1.7".to_vec()));
    }
    changes.write(&mut update);
    Ok(update.finish())
}

/// The decoded data of the DSS streams already in the document (those that can be decoded),
/// to skip what is there already.
fn stored_items(loaded: &Loaded<'_>, refs: &[Object]) -> Result<Vec<Vec<u8>>, PdfError> {
    let mut out = Vec::new();
    for r in refs {
        if let Object::Stream(s) = loaded.resolve(r)? {
            if let Ok(data) = decode_bounded(&s.dict, &s.content, MAX_ITEM_BYTES as u64) {
                out.push(data.into_owned());
            }
        }
    }
    Ok(out)
}

/// Declares the ETSI extension (ETSI EN 319 142-1 §5.4.1: /Extensions /ESIC, base version 1.7,
/// extension level 1) in the catalog, unless it is declared already.
fn add_esic(
    loaded: &Loaded<'_>,
    changes: &mut Changes,
    catalog_id: lopdf::ObjectId,
    catalog: &Dictionary,
) -> Result<(), PdfError> {
    let mut esic = Dictionary::new();
    esic.set("BaseVersion", Object::Name(b"1.7".to_vec()));
    esic.set("ExtensionLevel", Object::Integer(1));
    match catalog.get(b"Extensions") {
        Ok(Object::Reference(id)) => match loaded.get(*id) {
            Some(Object::Dictionary(ext)) if ext.has(b"ESIC") => {}
            Some(Object::Dictionary(_)) => changes
                .dict_mut(loaded, *id)?
                .set("ESIC", Object::Dictionary(esic)),
            _ => {
                let mut ext = Dictionary::new();
                ext.set("ESIC", Object::Dictionary(esic));
                changes
                    .dict_mut(loaded, catalog_id)?
                    .set("Extensions", Object::Dictionary(ext));
            }
        },
        Ok(Object::Dictionary(ext)) if ext.has(b"ESIC") => {}
        Ok(Object::Dictionary(_)) => {
            if let Ok(Object::Dictionary(ext)) =
                changes.dict_mut(loaded, catalog_id)?.get_mut(b"Extensions")
            {
                ext.set("ESIC", Object::Dictionary(esic));
            }
        }
        _ => {
            let mut ext = Dictionary::new();
            ext.set("ESIC", Object::Dictionary(esic));
            changes
                .dict_mut(loaded, catalog_id)?
                .set("Extensions", Object::Dictionary(ext));
        }
    }
    Ok(())
}

/// Whether both the header and the catalog's /Version say a version below 1.7.
fn version_below_1_7(loaded: &Loaded<'_>, catalog: &Dictionary) -> bool {
    let below = |v: &[u8]| {
        let digits: Vec<u32> = v
            .split(|&b| b == b'.')
            .take(2)
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0)
            })
            .collect();
        matches!(digits.as_slice(), [1, minor] if *minor < 7) || digits.first() == Some(&0)
    };
    let header = loaded.bytes.get(5..8).unwrap_or_default();
    let in_catalog = match catalog.get(b"Version") {
        Ok(Object::Name(v)) => v.as_slice(),
        _ => b"1.0",
    };
    below(header) && below(in_catalog)
}

pub(crate) fn has_dss(pdf: &[u8]) -> Result<bool, PdfError> {
    let loaded = load(pdf)?;
    let (_, catalog) = loaded.catalog()?;
    Ok(matches!(
        loaded.entry(catalog, b"DSS")?,
        Some(Object::Dictionary(_))
    ))
}
