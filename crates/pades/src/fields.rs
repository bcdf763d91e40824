//! The form fields (AcroForm) and the page tree, read with limits on depth and size so that a
//! cyclic or absurd document is refused rather than followed.
use std::collections::HashSet;

use lopdf::{Dictionary, Object, ObjectId};

use crate::load::Loaded;
use crate::write::decode_text;
use crate::PdfError;

/// Deepest field or page tree followed.
const MAX_TREE_DEPTH: usize = 64;
/// Most form fields (and widgets) visited.
const MAX_FIELDS: usize = 50_000;
/// Longest fully qualified field name, in bytes.
const MAX_NAME_BYTES: usize = 512;

/// A node of the field tree that has a partial name (/T): a field.
pub(crate) struct Field<'a> {
    /// Fully qualified name: the partial names from the root, joined with periods.
    pub(crate) name: String,
    /// The field type, inherited from an ancestor when not set on the field itself.
    pub(crate) field_type: Option<Vec<u8>>,
    /// The value (/V) set on the field itself (not inherited), unresolved.
    pub(crate) value: Option<&'a Object>,
}

/// The catalog's /AcroForm dictionary, if any.
pub(crate) fn acroform<'a>(
    loaded: &'a Loaded<'_>,
    catalog: &'a Dictionary,
) -> Result<Option<&'a Dictionary>, PdfError> {
    match loaded.entry(catalog, b"AcroForm")? {
        None => Ok(None),
        Some(Object::Dictionary(d)) => Ok(Some(d)),
        Some(_) => Err(PdfError::malformed("/AcroForm is not a dictionary")),
    }
}

/// Every field of the document, depth first, in the order of /Fields and /Kids.
pub(crate) fn fields<'a>(
    loaded: &'a Loaded<'_>,
    catalog: &'a Dictionary,
) -> Result<Vec<Field<'a>>, PdfError> {
    let Some(form) = acroform(loaded, catalog)? else {
        return Ok(Vec::new());
    };
    let roots = match loaded.entry(form, b"Fields")? {
        None => return Ok(Vec::new()),
        Some(Object::Array(a)) => a,
        Some(_) => return Err(PdfError::malformed("/AcroForm /Fields is not an array")),
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut visited = 0usize;
    // (node, depth, parent's name, inherited field type)
    let mut stack: Vec<(&Object, usize, String, Option<Vec<u8>>)> = roots
        .iter()
        .rev()
        .map(|o| (o, 0, String::new(), None))
        .collect();
    while let Some((node, depth, parent, inherited)) = stack.pop() {
        visited += 1;
        if visited > MAX_FIELDS || depth > MAX_TREE_DEPTH {
            return Err(PdfError::LimitExceeded(
                "the form field tree is too large or too deep".into(),
            ));
        }
        if let Object::Reference(id) = node {
            if !seen.insert(*id) {
                return Err(PdfError::malformed(format!(
                    "form field {} {} appears twice in the field tree",
                    id.0, id.1
                )));
            }
        }
        let Object::Dictionary(dict) = loaded.resolve(node)? else {
            continue; // A null or dangling entry: nothing there.
        };
        let field_type = match dict.get(b"FT") {
            Ok(Object::Name(n)) => Some(n.clone()),
            _ => inherited,
        };
        let partial = match loaded.entry(dict, b"T")? {
            Some(Object::String(s, _)) => Some(decode_text(s)),
            _ => None,
        };
        let name = match &partial {
            Some(p) if parent.is_empty() => p.clone(),
            Some(p) => format!("{parent}.{p}"),
            None => parent.clone(),
        };
        if name.len() > MAX_NAME_BYTES {
            return Err(PdfError::malformed(format!(
                "a form field name is longer than {MAX_NAME_BYTES} bytes"
            )));
        }
        if partial.is_some() || depth == 0 {
            out.push(Field {
                name: name.clone(),
                field_type: field_type.clone(),
                value: dict.get(b"V").ok(),
            });
        }
        if let Some(Object::Array(kids)) = loaded.entry(dict, b"Kids")? {
            if stack.len() + kids.len() > MAX_FIELDS {
                return Err(PdfError::LimitExceeded(
                    "the form has too many fields".into(),
                ));
            }
            for kid in kids.iter().rev() {
                stack.push((kid, depth + 1, name.clone(), field_type.clone()));
            }
        }
    }
    Ok(out)
}

/// The first page of the document (the first leaf of the page tree).
pub(crate) fn first_page(loaded: &Loaded<'_>, catalog: &Dictionary) -> Result<ObjectId, PdfError> {
    let root = catalog
        .get(b"Pages")
        .and_then(Object::as_reference)
        .map_err(|_| PdfError::malformed("the catalog has no /Pages reference"))?;
    let mut seen = HashSet::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if depth > MAX_TREE_DEPTH || seen.len() > MAX_FIELDS || !seen.insert(id) {
            return Err(PdfError::malformed("the page tree is cyclic or too deep"));
        }
        let Some(Object::Dictionary(node)) = loaded.get(id) else {
            continue;
        };
        let node_type = node.get(b"Type").and_then(Object::as_name).ok();
        let kids = loaded.entry(node, b"Kids")?;
        let is_leaf = node_type == Some(b"Page") || (node_type != Some(b"Pages") && kids.is_none());
        if is_leaf {
            return Ok(id);
        }
        if let Some(Object::Array(kids)) = kids {
            for kid in kids.iter().rev() {
                if let Object::Reference(kid) = kid {
                    stack.push((*kid, depth + 1));
                }
            }
        }
    }
    Err(PdfError::malformed("the document has no pages"))
}
