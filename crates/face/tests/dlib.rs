//! The real matcher on real photos (feature `dlib`). The models and photos come from scripts/fetch-face-data, in
//! $IAMSMART_FACE_DATA (default: target/face-data under the repository root); without them these tests fail.
#![cfg(feature = "dlib")]

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use iamsmart_face::image::{self, GenericImage, ImageFormat, RgbImage};
use iamsmart_face::{
    load, DlibMatcher, DlibOptions, FaceError, FaceMatch, FaceMatcher, FaceTemplate,
    DEFAULT_THRESHOLD, MAX_IMAGE_BYTES,
};

fn data_dir() -> PathBuf {
    match std::env::var_os("IAMSMART_FACE_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/face-data"),
    }
}

fn photo(name: &str) -> Vec<u8> {
    let path = data_dir().join("images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}. Run scripts/fetch-face-data (or set IAMSMART_FACE_DATA)",
            path.display()
        )
    })
}

fn matcher() -> Arc<dyn FaceMatcher> {
    static MATCHER: OnceLock<Arc<dyn FaceMatcher>> = OnceLock::new();
    MATCHER
        .get_or_init(|| {
            load(&data_dir().join("models"), DEFAULT_THRESHOLD).unwrap_or_else(|e| {
                panic!("{e}. Run scripts/fetch-face-data (or set IAMSMART_FACE_DATA)")
            })
        })
        .clone()
}

fn compare(reference: &str, probe: &str) -> FaceMatch {
    matcher()
        .compare(&photo(reference), &photo(probe))
        .unwrap_or_else(|e| panic!("{reference} / {probe}: {e}"))
}

fn bad_image_message<T: std::fmt::Debug>(r: Result<T, FaceError>, expected_which: &str) -> String {
    match r {
        Err(FaceError::BadImage { which, message }) => {
            assert_eq!(which, expected_which);
            message
        }
        other => panic!("expected BadImage, got {other:?}"),
    }
}

#[test]
fn same_person_matches() {
    let m = matcher();
    assert!(m.available());
    assert_eq!(m.threshold(), DEFAULT_THRESHOLD);
    let r = compare("obama.jpg", "obama2.jpg");
    assert!(r.matched, "{r:?}");
    assert_eq!(r.threshold, DEFAULT_THRESHOLD);
    assert!(r.distance > 0.0 && r.distance <= DEFAULT_THRESHOLD, "{r:?}");
    // A PNG with an alpha channel.
    assert!(compare("obama3.jpg", "obama_32bit.png").matched);
}

#[test]
fn different_people_do_not_match() {
    for (a, b) in [
        ("obama.jpg", "biden.jpg"),
        ("astronaut.png", "obama.jpg"),
        ("biden.jpg", "astronaut.png"),
    ] {
        let r = compare(a, b);
        assert!(!r.matched, "{a} / {b}: {r:?}");
        assert!(r.distance > 0.7, "{a} / {b}: {r:?}");
    }
}

#[test]
fn an_image_without_a_face_is_refused() {
    let m = matcher();
    for name in ["coffee.png", "rocket.jpg"] {
        assert!(
            matches!(
                m.template("probe", &photo(name)),
                Err(FaceError::NoFace { which: "probe" })
            ),
            "{name}"
        );
    }
    let r = m.compare(&photo("chelsea.png"), &photo("obama.jpg"));
    assert!(
        matches!(r, Err(FaceError::NoFace { which: "reference" })),
        "{r:?}"
    );
    let r = m.compare(&photo("obama.jpg"), &photo("chelsea.png"));
    assert!(
        matches!(r, Err(FaceError::NoFace { which: "probe" })),
        "{r:?}"
    );
}

/// obama.jpg and biden.jpg side by side, as a PNG.
fn two_faces() -> Vec<u8> {
    let a = image::load_from_memory(&photo("obama.jpg"))
        .unwrap()
        .to_rgb8();
    let b = image::load_from_memory(&photo("biden.jpg"))
        .unwrap()
        .to_rgb8();
    let b = image::imageops::resize(
        &b,
        b.width() * a.height() / b.height(),
        a.height(),
        image::imageops::Triangle,
    );
    let mut both = RgbImage::new(a.width() + b.width(), a.height());
    both.copy_from(&a, 0, 0).unwrap();
    both.copy_from(&b, a.width(), 0).unwrap();
    let mut out = Vec::new();
    both.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn several_faces_are_refused_unless_the_reference_may_use_the_largest() {
    let two = two_faces();
    let m = matcher();
    assert!(matches!(
        m.template("probe", &two),
        Err(FaceError::SeveralFaces { which: "probe" })
    ));
    assert!(matches!(
        m.template("reference", &two),
        Err(FaceError::SeveralFaces { which: "reference" })
    ));

    let lenient = DlibMatcher::load(
        &data_dir().join("models"),
        DlibOptions {
            engines: 1,
            reference_picks_largest: true,
            ..DlibOptions::default()
        },
    )
    .unwrap();
    let reference = lenient
        .template("reference", &two)
        .expect("the largest face");
    assert!(matches!(
        lenient.template("probe", &two),
        Err(FaceError::SeveralFaces { which: "probe" })
    ));
    // Whichever face is the larger, it is one of the two people and matches only that person's own photo.
    let to_obama = lenient
        .compare_template(&reference, &photo("obama2.jpg"))
        .unwrap();
    let to_biden = lenient
        .compare_template(&reference, &photo("biden.jpg"))
        .unwrap();
    assert!(
        to_obama.matched != to_biden.matched,
        "{to_obama:?} {to_biden:?}"
    );
}

#[test]
fn garbage_and_truncated_images_are_bad() {
    let m = matcher();
    let message = bad_image_message(m.template("probe", b"this is not an image at all"), "probe");
    assert!(message.contains("not a JPEG or PNG"), "{message}");
    let mut truncated = photo("obama.jpg");
    truncated.truncate(2000);
    bad_image_message(m.compare(&truncated, &photo("obama2.jpg")), "reference");
    let mut noise = vec![0xff, 0xd8, 0xff, 0xe0];
    noise.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0]));
    bad_image_message(m.template("probe", &noise), "probe");
}

#[test]
fn oversized_inputs_are_bad() {
    let m = matcher();
    let huge = vec![0u8; MAX_IMAGE_BYTES + 1];
    let message = bad_image_message(m.template("probe", &huge), "probe");
    assert!(message.contains("bytes"), "{message}");

    // A real JPEG whose frame header claims 6000x6000 pixels: refused from the header, before decoding.
    let mut jpeg = photo("obama.jpg");
    let mut i = 2;
    loop {
        assert!(i + 9 < jpeg.len(), "no frame header");
        let (marker, len) = (
            jpeg[i + 1],
            usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])),
        );
        if (0xc0..=0xc2).contains(&marker) {
            jpeg[i + 5..i + 7].copy_from_slice(&6000u16.to_be_bytes());
            jpeg[i + 7..i + 9].copy_from_slice(&6000u16.to_be_bytes());
            break;
        }
        i += 2 + len;
    }
    let message = bad_image_message(m.template("probe", &jpeg), "probe");
    assert!(message.contains("36000000 pixels"), "{message}");
}

#[test]
fn a_stored_template_gives_the_same_result_as_the_photo() {
    let m = matcher();
    let (reference, probe) = (photo("obama.jpg"), photo("obama2.jpg"));
    let direct = m.compare(&reference, &probe).unwrap();
    let template = m.template("reference", &reference).unwrap();
    let stored = FaceTemplate::from_bytes(&template.to_bytes()).expect("round trip");
    assert_eq!(stored, template);
    let via_template = m.compare_template(&stored, &probe).unwrap();
    assert!(
        (direct.distance - via_template.distance).abs() < 1e-5,
        "{direct:?} {via_template:?}"
    );
    assert_eq!(direct.matched, via_template.matched);
    assert_eq!(format!("{stored:?}"), "FaceTemplate(..)");
}

#[test]
fn threads_share_one_matcher() {
    let m = matcher();
    let (reference, probe) = (photo("obama.jpg"), photo("biden.jpg"));
    let alone = m.compare(&reference, &probe).unwrap();
    let results: Vec<FaceMatch> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (m, reference, probe) = (m.clone(), &reference, &probe);
                s.spawn(move || m.compare(reference, probe).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert!(
            (r.distance - alone.distance).abs() < 1e-5,
            "{r:?} {alone:?}"
        );
        assert!(!r.matched);
    }
}
