//! What can be wrong with a PDF, or with what the caller asked for.
use thiserror::Error;

/// Why a PDF could not be prepared, finished, extended or read.
///
/// Every message says what is wrong with the document (or the request) in words a support desk
/// can pass on; none of them carries document content beyond object numbers and offsets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PdfError {
    /// The bytes do not start with a PDF header (`%PDF-`).
    #[error("not a PDF: the file does not start with %PDF-")]
    NotPdf,
    /// The file claims to be a PDF but its structure cannot be read.
    #[error("malformed PDF: {0}")]
    Malformed(String),
    /// The document is encrypted (it has an /Encrypt dictionary); it cannot be signed here.
    #[error("the PDF is encrypted (password-protected); remove the protection before signing")]
    Encrypted,
    /// The file is larger than [`crate::MAX_PDF_BYTES`].
    #[error("the PDF is larger than {} MiB", crate::MAX_PDF_BYTES >> 20)]
    TooLarge,
    /// The document's structure exceeds a limit of this crate (cross-reference entries, what
    /// object streams decompress to, form fields).
    #[error("the PDF exceeds a limit: {0}")]
    LimitExceeded(String),
    /// An existing signature is not laid out as a signature must be, so nobody could tell what
    /// it signed; signing again would hide that.
    #[error("broken existing signature: {0}")]
    BrokenSignature(String),
    /// An existing certification signature (DocMDP, /P 1) forbids any change, a new signature
    /// included.
    #[error("the document is certified with no changes allowed (DocMDP /P 1); it cannot be signed again")]
    ChangesNotAllowed,
    /// The CMS does not fit the space reserved for it by [`crate::SignOptions::contents_capacity`].
    #[error("the CMS signature is {needed} bytes but only {capacity} bytes were reserved; prepare again with a larger contents_capacity")]
    ContentsTooSmall {
        /// Size of the CMS in bytes.
        needed: usize,
        /// Bytes reserved in the prepared document.
        capacity: usize,
    },
    /// The bytes given to [`crate::Prepared::finish`] are not one DER-encoded CMS structure.
    #[error("not a DER-encoded CMS SignedData: {0}")]
    BadCms(String),
    /// A signature field of that name already exists.
    #[error("a form field named {0:?} already exists")]
    FieldExists(String),
    /// An option is out of range (field name, capacity).
    #[error("invalid signing option: {0}")]
    InvalidOption(String),
}

impl PdfError {
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        PdfError::Malformed(what.into())
    }
    pub(crate) fn broken(what: impl Into<String>) -> Self {
        PdfError::BrokenSignature(what.into())
    }
}
