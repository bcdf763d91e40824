//! PAdES (ETSI EN 319 142-1) for the platform's document signing: prepares a PDF for a
//! signature, embeds the CMS made elsewhere, adds the validation data of B-LT, and lists the
//! signatures of a PDF for the verifier.
//!
//! This crate holds no keys and signs nothing. It reads the existing document with lopdf and
//! writes every change as an append-only incremental update (ISO 32000-1 §7.5.6) with a
//! cross-reference section of the same kind as the file's last one, so the original bytes, and
//! with them any earlier signature, stay as they were.
//!
//! The flow of a signature:
//!
//! 1. [`prepare`] checks the document (a PDF, readable, not encrypted, under
//!    [`MAX_PDF_BYTES`], earlier signatures well-formed) and appends an invisible signature field
//!    on page 1 with a signature dictionary whose /Contents is a zeroed placeholder;
//! 2. the caller has the CMS SignedData made over [`Prepared::digest`] (SHA-256 of the two
//!    ranges of [`Prepared::byte_range`]), detached, by the signer's key;
//! 3. [`Prepared::finish`] writes the CMS into the placeholder;
//! 4. for B-LT, [`add_dss`] appends the certificates, OCSP responses and CRLs;
//! 5. for B-LTA, a second [`prepare`] with [`SubFilter::EtsiRfc3161`] and a time-stamp token
//!    over its digest seals the document and its validation data under a document timestamp.
//!
//! Limits on hostile input: the file size, the cross-reference chain (checked before lopdf
//! reads it, so a cross-reference stream cannot make it allocate or loop without bound), the
//! decompressed size of object streams, and the depth and size of the field and page trees.
#![deny(missing_docs)]

mod changes;
mod dss;
mod error;
mod fields;
mod load;
mod parse;
mod prepare;
mod sigs;
mod stored;
mod update;
mod work;
mod write;
mod xref;

pub use error::PdfError;
pub use load::MAX_PDF_BYTES;
pub use prepare::MAX_CONTENTS_CAPACITY;

/// The /SubFilter of a new signature: the format of its CMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubFilter {
    /// `ETSI.CAdES.detached`: PAdES baseline signatures (a CAdES signature with the ESS
    /// signing-certificate-v2 attribute and no signing-time attribute).
    #[default]
    EtsiCadesDetached,
    /// `adbe.pkcs7.detached`: a plain detached CMS (PAdES part 2, legacy readers).
    AdbePkcs7Detached,
    /// `ETSI.RFC3161`: a document timestamp (/Type /DocTimeStamp) whose /Contents is an RFC 3161
    /// time-stamp token over the byte range; added after the validation data it makes PAdES
    /// B-LTA. The signer's name, reason, location, contact and /M are not written.
    EtsiRfc3161,
}

/// What to write into a new signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    /// Name of the new signature field; by default `Signature{n}` with the smallest `n` not in
    /// use. Must not name an existing field, nor contain a period.
    pub field_name: Option<String>,
    /// The signer's name (/Name); any script (Chinese names are written as UTF-16).
    pub signer_name: String,
    /// Why the document is signed (/Reason).
    pub reason: Option<String>,
    /// Where it is signed (/Location).
    pub location: Option<String>,
    /// How to reach the signer (/ContactInfo).
    pub contact_info: Option<String>,
    /// Signing time claimed in /M, in seconds since the Unix epoch (written in UTC).
    pub signing_time: u64,
    /// Bytes reserved for the DER CMS (the PDF holds twice as many hex digits); at most
    /// [`MAX_CONTENTS_CAPACITY`].
    pub contents_capacity: usize,
    /// The signature format.
    pub sub_filter: SubFilter,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            field_name: None,
            signer_name: String::new(),
            reason: None,
            location: None,
            contact_info: None,
            signing_time: 0,
            contents_capacity: 16_384,
            sub_filter: SubFilter::default(),
        }
    }
}

/// A document with an empty signature, waiting for its CMS.
#[derive(Clone)]
pub struct Prepared {
    pdf: Vec<u8>,
    byte_range: [usize; 4],
    digest: [u8; 32],
    capacity: usize,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("len", &self.pdf.len())
            .field("byte_range", &self.byte_range)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Prepared {
    /// The /ByteRange of the new signature: `[0, a, b, c]` signs bytes `0..a` and `b..b+c`, the
    /// whole file but the /Contents hex string.
    pub fn byte_range(&self) -> [usize; 4] {
        self.byte_range
    }

    /// SHA-256 over the two ranges: the message digest the CMS must sign.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The prepared document, /Contents still zero (for tools that sign the byte range
    /// themselves; the range is the file but `byte_range()[1]..byte_range()[2]`).
    pub fn pdf(&self) -> &[u8] {
        &self.pdf
    }

    /// Writes the DER CMS SignedData into /Contents and returns the signed document. Fails if
    /// `cms_der` is not one DER SEQUENCE ([`PdfError::BadCms`]) or is larger than the space
    /// reserved ([`PdfError::ContentsTooSmall`]).
    pub fn finish(self, cms_der: &[u8]) -> Result<Vec<u8>, PdfError> {
        self.write_cms(cms_der)
    }
}

/// Prepares `pdf` for a new signature (see the crate documentation).
///
/// Refuses a file that is not a PDF, cannot be read, is encrypted or too large; a document
/// with an earlier signature whose byte range is not well-formed (it must start at 0, leave out
/// exactly that signature's /Contents and end at the end of a revision, at a `%%EOF`):
/// [`PdfError::BrokenSignature`]; and one certified with no changes allowed. Whether the earlier
/// signatures are cryptographically valid cannot be judged without their CMS: see
/// [`signatures`].
pub fn prepare(pdf: &[u8], opts: &SignOptions) -> Result<Prepared, PdfError> {
    prepare::prepare(pdf, opts)
}

/// Validation data for PAdES B-LT: DER certificates, OCSP responses and CRLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DssData {
    /// DER X.509 certificates.
    pub certs: Vec<Vec<u8>>,
    /// DER OCSP responses (OCSPResponse).
    pub ocsps: Vec<Vec<u8>>,
    /// DER CRLs.
    pub crls: Vec<Vec<u8>>,
}

/// Appends an incremental update that adds `dss` to the catalog's /DSS (created if absent,
/// merged if present; items already stored are not added twice) and declares the /ESIC
/// extension. Earlier signatures stay valid. If everything is already stored, returns `pdf`
/// unchanged.
pub fn add_dss(pdf: &[u8], dss: &DssData) -> Result<Vec<u8>, PdfError> {
    dss::add_dss(pdf, dss)
}

/// Whether the document has a Document Security Store (/DSS).
pub fn has_dss(pdf: &[u8]) -> Result<bool, PdfError> {
    dss::has_dss(pdf)
}

/// A signature found in a PDF, for the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfSignature {
    /// Fully qualified name of the signature field.
    pub field_name: String,
    /// /SubFilter, e.g. `ETSI.CAdES.detached` (empty when absent).
    pub sub_filter: String,
    /// /ByteRange (checked to lie inside the file).
    pub byte_range: [usize; 4],
    /// /Contents, cut to the length of its outer DER element (the zero padding trimmed); as
    /// stored if it does not start with a DER SEQUENCE.
    pub cms_der: Vec<u8>,
    /// SHA-256 over the byte range, computed here: compare it with the CMS message digest.
    pub digest: [u8; 32],
    /// The byte range is well-formed: it starts at 0, its gap is exactly this signature's
    /// /Contents hex string (inside the signed range), and it ends at the end of a revision
    /// (a `%%EOF`).
    pub covers_revision: bool,
    /// Well-formed and ends at the end of the file: nothing was added after this signature.
    pub covers_whole_file: bool,
    /// What the revisions after this signature's changed that a signature does not allow
    /// (anything but validation data, document timestamps and further signatures), in words;
    /// `None` when nothing was added after it or only what is allowed. A signature whose byte
    /// range is not well-formed is judged by [`Self::covers_revision`] alone.
    pub modified_after: Option<String>,
    /// /M, the signing time claimed in the dictionary, as written (a PDF date).
    pub signing_time_m: Option<String>,
}

/// Most signatures a document may carry for [`signatures`] (each is checked, and the changes
/// after each signed revision compared: far more than any real document has).
pub const MAX_SIGNATURES: usize = 100;

/// Most bytes [`signatures`] hashes (the distinct byte ranges together) and, apart, most bytes
/// of signed revisions it reads again to judge what followed them: far more than real
/// documents need, little enough to bound the work a hostile one causes.
pub const MAX_REVISION_BYTES: usize = 256 * 1024 * 1024;

pub use work::Work;

/// [`signatures`], with what it cost: bytes parsed and hashed, objects compared. Hostile input
/// must not make these grow faster than the file: at most [`MAX_SIGNATURES`] + 1 parses of at
/// most the file each, and as many hashes.
pub fn signatures_measured(pdf: &[u8]) -> (Result<Vec<PdfSignature>, PdfError>, Work) {
    work::measure(|| signatures(pdf))
}

/// The signed signature fields of `pdf`, in field order, each with what was changed after it.
/// Fails if the file cannot be read, a signature's /ByteRange is not four numbers inside the
/// file, or there are more than [`MAX_SIGNATURES`].
pub fn signatures(pdf: &[u8]) -> Result<Vec<PdfSignature>, PdfError> {
    let loaded = load::load(pdf)?;
    let (_, catalog) = loaded.catalog()?;
    let mut dicts = sigs::signature_dicts(&loaded, catalog)?;
    if dicts.len() > MAX_SIGNATURES {
        return Err(PdfError::LimitExceeded(format!(
            "more than {MAX_SIGNATURES} signatures"
        )));
    }
    // Each signature dictionary once, however many fields point at it (one huge signature
    // behind many fields must not be copied and hashed for each).
    let mut seen = std::collections::HashSet::new();
    dicts.retain(|sig| sig.id.is_none_or(|id| seen.insert(id)));
    // What hashing every distinct byte range costs, before any is hashed.
    let mut ranges = std::collections::HashSet::new();
    for sig in &dicts {
        ranges.insert(sigs::byte_range(&loaded, sig)?);
    }
    if ranges.iter().map(|br| br[1] + br[3]).sum::<usize>() > MAX_REVISION_BYTES {
        return Err(PdfError::LimitExceeded(format!(
            "the signatures' byte ranges add up to more than {} MiB to hash",
            MAX_REVISION_BYTES / 1024 / 1024
        )));
    }
    let mut digests = std::collections::HashMap::new();
    let mut found: Vec<PdfSignature> = dicts
        .iter()
        .map(|sig| sigs::describe(&loaded, sig, &mut digests))
        .collect::<Result<_, _>>()?;
    // The changes after each signed revision, judged once per revision, within a budget of
    // bytes read again (each judgement reads its revision anew).
    let mut ends: Vec<usize> = found
        .iter()
        .filter(|s| s.covers_revision)
        .map(|s| s.byte_range[2] + s.byte_range[3])
        .collect();
    ends.sort_unstable();
    ends.dedup();
    if ends.iter().sum::<usize>() > MAX_REVISION_BYTES {
        return Err(PdfError::LimitExceeded(format!(
            "the signed revisions add up to more than {} MiB to check",
            MAX_REVISION_BYTES / 1024 / 1024
        )));
    }
    let mut judged: std::collections::HashMap<usize, Option<String>> = Default::default();
    for s in found.iter_mut().filter(|s| s.covers_revision) {
        let end = s.byte_range[2] + s.byte_range[3];
        let why = match judged.entry(end) {
            std::collections::hash_map::Entry::Occupied(known) => known.get().clone(),
            std::collections::hash_map::Entry::Vacant(slot) => slot
                .insert(changes::disallowed_change(&loaded, end)?)
                .clone(),
        };
        s.modified_after = why;
    }
    Ok(found)
}
