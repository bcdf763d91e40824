//! Face matching (placeholder API until the dlib implementation lands): without a real model
//! every call says the check is unavailable; nothing ever passes a check it did not perform.
use std::sync::Arc;

/// Result of comparing a probe (selfie) with a reference photo.
#[derive(Debug, Clone, Copy)]
pub struct FaceMatch {
    /// Euclidean distance between the embeddings.
    pub distance: f32,
    /// The threshold applied.
    pub threshold: f32,
    /// `distance <= threshold`.
    pub matched: bool,
}

/// A 128-dimension face embedding.
pub struct FaceTemplate(pub [f32; 128]);

impl std::fmt::Debug for FaceTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceTemplate(..)")
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// No model in this build or no model files.
    #[error("face matching is unavailable: {0}")]
    Unavailable(String),
    /// No face found.
    #[error("no face found in the {which} image")]
    NoFace {
        /// `reference` or `probe`.
        which: &'static str,
    },
    /// More than one face.
    #[error("more than one face in the {which} image")]
    SeveralFaces {
        /// `reference` or `probe`.
        which: &'static str,
    },
    /// Not an image we accept.
    #[error("the {which} image cannot be used: {message}")]
    BadImage {
        /// `reference` or `probe`.
        which: &'static str,
        /// Why.
        message: String,
    },
}

/// A face matcher.
pub trait FaceMatcher: Send + Sync {
    /// Whether real matching is available.
    fn available(&self) -> bool;
    /// The embedding of the one face in `image`.
    fn template(&self, which: &'static str, image: &[u8]) -> Result<FaceTemplate, FaceError>;
    /// Compare a probe image with a reference image.
    fn compare(&self, reference: &[u8], probe: &[u8]) -> Result<FaceMatch, FaceError>;
    /// Compare a probe image with a stored template.
    fn compare_template(
        &self,
        reference: &FaceTemplate,
        probe: &[u8],
    ) -> Result<FaceMatch, FaceError>;
    /// The distance threshold.
    fn threshold(&self) -> f32;
}

const UNAVAILABLE: &str = "this build has no face model (build with `--features face`)";

/// The matcher of a build without the model: refuses every check.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFaceMatcher;

impl FaceMatcher for NoFaceMatcher {
    fn available(&self) -> bool {
        false
    }
    fn template(&self, _: &'static str, _: &[u8]) -> Result<FaceTemplate, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE.into()))
    }
    fn compare(&self, _: &[u8], _: &[u8]) -> Result<FaceMatch, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE.into()))
    }
    fn compare_template(&self, _: &FaceTemplate, _: &[u8]) -> Result<FaceMatch, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE.into()))
    }
    fn threshold(&self) -> f32 {
        DEFAULT_THRESHOLD
    }
}

/// Default distance threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Load the real matcher, or say why it is unavailable.
pub fn load(
    _models_dir: &std::path::Path,
    _threshold: f32,
) -> Result<Arc<dyn FaceMatcher>, FaceError> {
    Err(FaceError::Unavailable(UNAVAILABLE.into()))
}
