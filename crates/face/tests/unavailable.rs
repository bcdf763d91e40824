//! What every build can check: the stand-in matcher refuses, and `load` explains itself.

use std::path::Path;

use iamsmart_face::{
    load, FaceError, FaceMatcher, FaceTemplate, NoFaceMatcher, DEFAULT_THRESHOLD, TEMPLATE_LEN,
};

fn unavailable_message<T>(r: Result<T, FaceError>) -> String {
    match r {
        Err(FaceError::Unavailable(message)) => message,
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("expected Unavailable, got a result"),
    }
}

#[test]
fn no_face_matcher_refuses_everything() {
    let m = NoFaceMatcher;
    assert!(!m.available());
    assert_eq!(m.threshold(), DEFAULT_THRESHOLD);
    for message in [
        unavailable_message(m.template("probe", b"anything")),
        unavailable_message(m.compare(b"a", b"b")),
        unavailable_message(m.compare_template(&FaceTemplate([0.0; TEMPLATE_LEN]), b"b")),
    ] {
        assert!(
            message.contains("self-registration with a selfie is unavailable in this build"),
            "{message}"
        );
        assert!(message.contains("--features face"), "{message}");
    }
    let shown = FaceError::Unavailable("x".into()).to_string();
    assert_eq!(shown, "face matching unavailable: x");
}

#[cfg(not(feature = "dlib"))]
#[test]
fn load_without_the_feature_is_unavailable() {
    let message = unavailable_message(load(Path::new("models"), DEFAULT_THRESHOLD));
    assert!(message.contains("--features face"), "{message}");
}

#[cfg(feature = "dlib")]
#[test]
fn load_without_models_says_how_to_fetch_them() {
    let message = unavailable_message(load(Path::new("no-such-models-dir"), DEFAULT_THRESHOLD));
    assert!(message.contains("scripts/fetch-face-data"), "{message}");
    assert!(
        message.contains("shape_predictor_5_face_landmarks.dat"),
        "{message}"
    );
}

#[test]
fn load_refuses_a_bad_threshold() {
    let message = unavailable_message(load(Path::new("models"), f32::NAN));
    assert!(message.contains("threshold"), "{message}");
}
