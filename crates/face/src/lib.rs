//! Face matching for self-registration: does the selfie show the person in the reference photo?
//!
//! A matcher turns a photo into a [`FaceTemplate`] (128 numbers from dlib's ResNet face encoder) and compares two
//! templates by Euclidean distance: at or below the threshold, the faces match. With the `dlib` feature, [`load`]
//! reads dlib's models from a directory (see `scripts/fetch-face-data`); without it, or without the models, [`load`]
//! says why matching is unavailable and [`NoFaceMatcher`] stands in, refusing every call.
//!
//! Photos are held in memory only, never written anywhere, and the buffers this crate owns are wiped when done.
//! Inputs are bounded ([`MAX_IMAGE_BYTES`], [`MAX_IMAGE_PIXELS`]) before they are decoded. Each photo must show
//! exactly one face. There is no liveness detection: see `docs/FACE.md` for what that means and for the measured
//! error rates behind [`DEFAULT_THRESHOLD`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop};

#[cfg(feature = "dlib")]
mod decode;
#[cfg(feature = "dlib")]
mod dlib;

#[cfg(feature = "dlib")]
pub use crate::dlib::{DlibMatcher, DlibOptions, MODEL_FILES};

/// The `image` crate this one decodes with, for tests and examples that make images (feature `dlib`).
#[cfg(feature = "dlib")]
#[doc(hidden)]
pub use image;

/// The distance at or below which two faces are taken to be the same person. dlib's usual threshold is 0.6; this
/// one is stricter, for identity proofing, where a false match (someone registering as another person) costs more
/// than a false non-match (the resident tries again or goes to a counter). See `docs/FACE.md` for the measurements.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Inputs larger than this are refused before anything is decoded.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;

/// Images with more pixels than this (about 24 megapixels) are refused after reading their header, before decoding.
pub const MAX_IMAGE_PIXELS: u64 = 24_000_000;

/// Images are scaled down so that their longest side is at most this many pixels before faces are looked for.
pub const WORKING_SIDE: u32 = 1024;

/// Number of values in a [`FaceTemplate`].
pub const TEMPLATE_LEN: usize = 128;

/// Result of comparing a probe (selfie) with a reference photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceMatch {
    /// Euclidean distance between the two templates: 0 for identical, usually 0.3–0.5 for two photos of the same
    /// person and 0.7–1.0 for different people.
    pub distance: f32,
    /// The threshold the distance was compared with.
    pub threshold: f32,
    /// `distance <= threshold`.
    pub matched: bool,
}

impl FaceMatch {
    /// The result of comparing `distance` with `threshold`.
    pub fn new(distance: f32, threshold: f32) -> Self {
        FaceMatch {
            distance,
            threshold,
            matched: distance <= threshold,
        }
    }
}

/// A 128-dimension face embedding (template). It is biometric data: its `Debug` shows none of the values, and it is
/// wiped when dropped. Seal it before storing it (see `to_bytes`).
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct FaceTemplate(pub [f32; TEMPLATE_LEN]);

impl fmt::Debug for FaceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FaceTemplate(..)")
    }
}

/// Length of [`FaceTemplate::to_bytes`].
pub const TEMPLATE_BYTES: usize = TEMPLATE_LEN * 4;

impl FaceTemplate {
    /// Euclidean distance to another template.
    pub fn distance(&self, other: &FaceTemplate) -> f32 {
        let sum: f64 = self
            .0
            .iter()
            .zip(other.0.iter())
            .map(|(a, b)| {
                let d = f64::from(*a) - f64::from(*b);
                d * d
            })
            .sum();
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a distance between unit-scale templates, well within f32"
        )]
        let distance = sum.sqrt() as f32;
        distance
    }

    /// The values as little-endian `f32`s, [`TEMPLATE_BYTES`] bytes (to be sealed before storage). The caller owns
    /// the returned buffer and should wipe it.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(TEMPLATE_BYTES));
        for v in &self.0 {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The inverse of [`FaceTemplate::to_bytes`]; `None` unless `bytes` has the right length and every value is
    /// finite.
    pub fn from_bytes(bytes: &[u8]) -> Option<FaceTemplate> {
        if bytes.len() != TEMPLATE_BYTES {
            return None;
        }
        let mut values = [0f32; TEMPLATE_LEN];
        for (v, chunk) in values.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let template = FaceTemplate(values);
        values.zeroize();
        template.0.iter().all(|v| v.is_finite()).then_some(template)
    }
}

/// Why a face could not be matched. No variant carries image data or template values.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// Matching is not possible in this process: built without the `dlib` feature, or the models are missing. The
    /// message says what to do.
    #[error("face matching unavailable: {0}")]
    Unavailable(String),
    /// No face was found in the image (`which` is "reference" or "probe").
    #[error("no face found in the {which} image")]
    NoFace { which: &'static str },
    /// More than one face was found where exactly one is required.
    #[error("several faces found in the {which} image: exactly one is required")]
    SeveralFaces { which: &'static str },
    /// The image could not be used: not a JPEG or PNG, undecodable, too large or too many pixels.
    #[error("unusable {which} image: {message}")]
    BadImage {
        which: &'static str,
        message: String,
    },
}

/// Compares faces. Implementations are shared between threads.
pub trait FaceMatcher: Send + Sync {
    /// Whether this matcher can match at all (false for [`NoFaceMatcher`]).
    fn available(&self) -> bool;
    /// The template of the single face in `image` (JPEG or PNG bytes). `which` names the image in errors:
    /// "reference" or "probe".
    fn template(&self, which: &'static str, image: &[u8]) -> Result<FaceTemplate, FaceError>;
    /// Compares the face in `probe` with the face in `reference` (both JPEG or PNG bytes).
    fn compare(&self, reference: &[u8], probe: &[u8]) -> Result<FaceMatch, FaceError> {
        let reference = self.template("reference", reference)?;
        self.compare_template(&reference, probe)
    }
    /// Compares the face in `probe` with a reference template computed earlier by [`FaceMatcher::template`].
    fn compare_template(
        &self,
        reference: &FaceTemplate,
        probe: &[u8],
    ) -> Result<FaceMatch, FaceError> {
        let probe = self.template("probe", probe)?;
        Ok(FaceMatch::new(reference.distance(&probe), self.threshold()))
    }
    /// The distance at or below which faces match.
    fn threshold(&self) -> f32;
}

/// The message of [`NoFaceMatcher`]'s errors.
pub const UNAVAILABLE_IN_BUILD: &str = "self-registration with a selfie is unavailable in this build: \
     build with `--features face` (which needs libdlib-dev, libopenblas-dev and liblapack-dev) and fetch the models \
     with scripts/fetch-face-data";

/// Always-unavailable matcher, used when the feature is off or the models are missing: every call returns
/// [`FaceError::Unavailable`] saying that self-registration with a selfie is unavailable in this build.
#[derive(Debug, Clone, Default)]
pub struct NoFaceMatcher;

impl FaceMatcher for NoFaceMatcher {
    fn available(&self) -> bool {
        false
    }
    fn template(&self, _which: &'static str, _image: &[u8]) -> Result<FaceTemplate, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE_IN_BUILD.to_owned()))
    }
    fn compare(&self, _reference: &[u8], _probe: &[u8]) -> Result<FaceMatch, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE_IN_BUILD.to_owned()))
    }
    fn compare_template(
        &self,
        _reference: &FaceTemplate,
        _probe: &[u8],
    ) -> Result<FaceMatch, FaceError> {
        Err(FaceError::Unavailable(UNAVAILABLE_IN_BUILD.to_owned()))
    }
    fn threshold(&self) -> f32 {
        DEFAULT_THRESHOLD
    }
}

/// Checks a threshold: finite and within (0, 2], the range of distances between unit-length templates.
pub fn check_threshold(threshold: f32) -> Result<(), FaceError> {
    if threshold.is_finite() && threshold > 0.0 && threshold <= 2.0 {
        Ok(())
    } else {
        Err(FaceError::Unavailable(format!(
            "face match threshold {threshold} is not within (0, 2]"
        )))
    }
}

/// Loads the real matcher from `models_dir` (feature `dlib`), or says why it cannot: built without the feature,
/// models missing or unreadable, or a threshold out of range.
pub fn load(models_dir: &Path, threshold: f32) -> Result<Arc<dyn FaceMatcher>, FaceError> {
    check_threshold(threshold)?;
    #[cfg(feature = "dlib")]
    {
        let matcher = DlibMatcher::load(
            models_dir,
            DlibOptions {
                threshold,
                ..DlibOptions::default()
            },
        )?;
        Ok(Arc::new(matcher))
    }
    #[cfg(not(feature = "dlib"))]
    {
        let _ = models_dir;
        Err(FaceError::Unavailable(UNAVAILABLE_IN_BUILD.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_debug_hides_values() {
        let t = FaceTemplate([0.125; TEMPLATE_LEN]);
        assert_eq!(format!("{t:?}"), "FaceTemplate(..)");
    }

    #[test]
    fn template_bytes_round_trip() {
        let mut values = [0f32; TEMPLATE_LEN];
        for (i, v) in values.iter_mut().enumerate() {
            *v = (i as f32 - 64.0) / 300.0;
        }
        let t = FaceTemplate(values);
        let bytes = t.to_bytes();
        assert_eq!(bytes.len(), TEMPLATE_BYTES);
        assert_eq!(FaceTemplate::from_bytes(&bytes), Some(t.clone()));
        assert_eq!(FaceTemplate::from_bytes(&bytes[1..]), None);
        let mut nan = bytes.to_vec();
        nan[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(FaceTemplate::from_bytes(&nan), None);
        assert_eq!(t.distance(&t), 0.0);
    }

    #[test]
    fn distance_is_euclidean() {
        let a = FaceTemplate([0.0; TEMPLATE_LEN]);
        let mut v = [0.0; TEMPLATE_LEN];
        v[0] = 0.3;
        v[5] = 0.4;
        let m = FaceMatch::new(a.distance(&FaceTemplate(v)), 0.5);
        assert!((m.distance - 0.5).abs() < 1e-6);
        assert!(m.matched);
        assert!(!FaceMatch::new(0.51, 0.5).matched);
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(check_threshold(DEFAULT_THRESHOLD).is_ok());
        for bad in [0.0, -0.1, 2.5, f32::NAN, f32::INFINITY] {
            assert!(
                matches!(check_threshold(bad), Err(FaceError::Unavailable(_))),
                "{bad}"
            );
        }
    }
}
