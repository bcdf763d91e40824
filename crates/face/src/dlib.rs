//! The real matcher: dlib's HOG frontal face detector, its 5-point landmark model and its ResNet face encoder.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix,
    LandmarkPredictor, LandmarkPredictorTrait, Rectangle,
};

use crate::decode::decode;
use crate::{
    check_threshold, FaceError, FaceMatcher, FaceTemplate, DEFAULT_THRESHOLD, TEMPLATE_LEN,
    WORKING_SIDE,
};

/// The files [`DlibMatcher::load`] reads from the models directory: the 5-point landmark model and the ResNet face
/// encoder.
pub const MODEL_FILES: [&str; 2] = [
    "shape_predictor_5_face_landmarks.dat",
    "dlib_face_recognition_resnet_model_v1.dat",
];

/// Images whose longest side is at most this are looked at again at twice the size when no face is found at first
/// (the HOG detector finds faces of about 80 pixels and more).
const UPSAMPLE_BELOW: u32 = 640;

/// How a [`DlibMatcher`] works.
#[derive(Debug, Clone, Copy)]
pub struct DlibOptions {
    /// Distance at or below which faces match.
    pub threshold: f32,
    /// Number of detector and encoder pairs, each behind a mutex, so that this many photos can be processed at once
    /// (dlib's detector and network keep working state and are not `Sync`). Each costs about 30 MB.
    pub engines: usize,
    /// When the reference photo shows several faces, use the largest instead of refusing it. The probe (selfie) must
    /// always show exactly one face.
    pub reference_picks_largest: bool,
    /// dlib's "jitters": encode this many randomly shifted and scaled copies of the face and average them. 0 or 1:
    /// one pass; more is slower (linearly) and a little more stable.
    pub jitters: u32,
}

impl Default for DlibOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        DlibOptions {
            threshold: DEFAULT_THRESHOLD,
            engines: cores.clamp(1, 4),
            reference_picks_largest: false,
            jitters: 0,
        }
    }
}

struct Engine {
    detector: FaceDetector,
    encoder: FaceEncoderNetwork,
}

/// A face matcher on dlib's models. Shared between threads: the landmark predictor is read-only and shared; each
/// photo takes one of [`DlibOptions::engines`] detector and encoder pairs for the time it is processed.
pub struct DlibMatcher {
    predictor: LandmarkPredictor,
    engines: Vec<Mutex<Engine>>,
    next: AtomicUsize,
    options: DlibOptions,
}

impl std::fmt::Debug for DlibMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DlibMatcher")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn unavailable(message: String) -> FaceError {
    FaceError::Unavailable(message)
}

impl DlibMatcher {
    /// Loads the models named in [`MODEL_FILES`] from `models_dir`.
    pub fn load(models_dir: &Path, options: DlibOptions) -> Result<DlibMatcher, FaceError> {
        check_threshold(options.threshold)?;
        for name in MODEL_FILES {
            if !models_dir.join(name).is_file() {
                return Err(unavailable(format!(
                    "face model {name} not found in {}: run scripts/fetch-face-data, or configure the directory that \
                     holds {} and {}",
                    models_dir.display(),
                    MODEL_FILES[0],
                    MODEL_FILES[1]
                )));
            }
        }
        let predictor = LandmarkPredictor::open(models_dir.join(MODEL_FILES[0]))
            .map_err(|e| unavailable(format!("cannot load the landmark model: {e}")))?;
        let encoder = FaceEncoderNetwork::open(models_dir.join(MODEL_FILES[1]))
            .map_err(|e| unavailable(format!("cannot load the face encoder: {e}")))?;
        let engines = (0..options.engines.max(1))
            .map(|_| {
                Mutex::new(Engine {
                    detector: FaceDetector::new(),
                    encoder: encoder.clone(),
                })
            })
            .collect();
        Ok(DlibMatcher {
            predictor,
            engines,
            next: AtomicUsize::new(0),
            options,
        })
    }

    /// The options this matcher works with.
    pub fn options(&self) -> &DlibOptions {
        &self.options
    }

    /// A free engine if there is one, else the next one in turn (waiting for it).
    fn engine(&self) -> MutexGuard<'_, Engine> {
        let n = self.engines.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            match self.engines[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.engines[start % n]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The one face to encode among those found.
    fn pick(&self, which: &'static str, faces: &[Rectangle]) -> Result<Rectangle, FaceError> {
        match faces {
            [] => Err(FaceError::NoFace { which }),
            [one] => Ok(*one),
            several if which == "reference" && self.options.reference_picks_largest => {
                let area = |r: &Rectangle| r.width().saturating_mul(r.height());
                Ok(*several.iter().max_by_key(|r| area(r)).expect("not empty"))
            }
            _ => Err(FaceError::SeveralFaces { which }),
        }
    }

    /// The faces found in `matrix` (`width` x `height`), looking again at twice the size if none is found in a
    /// small image. Returns the image the faces were found in when that is the enlarged one.
    fn detect(
        &self,
        engine: &Engine,
        matrix: &ImageMatrix,
        width: u32,
        height: u32,
    ) -> (Vec<Rectangle>, Option<ImageMatrix>) {
        let faces = engine.detector.face_locations(matrix).to_vec();
        if !faces.is_empty() || width.max(height) > UPSAMPLE_BELOW {
            return (faces, None);
        }
        let larger = matrix.resize(width as usize * 2, height as usize * 2);
        let faces = engine.detector.face_locations(&larger).to_vec();
        (faces, Some(larger))
    }
}

impl FaceMatcher for DlibMatcher {
    fn available(&self) -> bool {
        true
    }

    fn template(&self, which: &'static str, image: &[u8]) -> Result<FaceTemplate, FaceError> {
        let pixels = decode(which, image, WORKING_SIDE)?;
        let (width, height) = (pixels.width(), pixels.height());
        // dlib copies the pixels into its own matrix (C++ memory, freed but not wiped when dropped); ours are wiped
        // as soon as the copy is made.
        let matrix = ImageMatrix::from_image(pixels.image());
        drop(pixels);

        let engine = self.engine();
        let (faces, larger) = self.detect(&engine, &matrix, width, height);
        let face = self.pick(which, &faces)?;
        let image = larger.as_ref().unwrap_or(&matrix);
        let landmarks = self.predictor.face_landmarks(image, &face);
        if landmarks.len() != 5 {
            return Err(unavailable(format!(
                "the landmark model gives {} points where 5 are expected: use {}",
                landmarks.len(),
                MODEL_FILES[0]
            )));
        }
        let encodings = engine.encoder.get_face_encodings(
            image,
            std::slice::from_ref(&landmarks),
            self.options.jitters,
        );
        drop(engine);
        let values = encodings.first().map(|e| e.as_ref()).unwrap_or(&[]);
        if values.len() != TEMPLATE_LEN {
            return Err(unavailable(format!(
                "the face encoder gives {} values where {TEMPLATE_LEN} are expected: use {}",
                values.len(),
                MODEL_FILES[1]
            )));
        }
        let mut template = FaceTemplate([0.0; TEMPLATE_LEN]);
        for (t, v) in template.0.iter_mut().zip(values) {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "templates are kept in f32; the network's values are well within its range"
            )]
            {
                *t = *v as f32;
            }
        }
        Ok(template)
    }

    fn threshold(&self) -> f32 {
        self.options.threshold
    }
}
