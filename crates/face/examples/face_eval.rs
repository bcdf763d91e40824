//! Measures the face matcher on the photos that scripts/fetch-face-data provides: every pairwise distance, the
//! false match and false non-match rates at several thresholds, and the time per template and per comparison.
//!
//!   scripts/fetch-face-data
//!   cargo run --release -p iamsmart-face --features dlib --example face_eval [-- THRESHOLD]
//!
//! The data directory is $IAMSMART_FACE_DATA, by default target/face-data under the repository root.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iamsmart_face::image::codecs::jpeg::JpegEncoder;
use iamsmart_face::image::{self, imageops, DynamicImage, ImageFormat, RgbImage};
use iamsmart_face::{
    DlibMatcher, DlibOptions, FaceError, FaceMatcher, FaceTemplate, DEFAULT_THRESHOLD,
};

fn data_dir() -> PathBuf {
    match std::env::var_os("IAMSMART_FACE_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/face-data"),
    }
}

/// Who a photo shows, from its file name.
fn person(name: &str) -> String {
    let stem = name.split('.').next().unwrap_or(name);
    if stem.starts_with("obama") {
        "obama".to_owned()
    } else {
        stem.trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned()
    }
}

/// The variants of a photo, encoded: mirrored (PNG), longest side 320 px (JPEG), JPEG quality 20, grey (PNG).
fn variants_of(original: &RgbImage) -> Vec<(&'static str, Vec<u8>)> {
    let png = |img: &DynamicImage| {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("PNG");
        out
    };
    let jpeg = |img: &RgbImage, quality: u8| {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(img)
            .expect("JPEG");
        out
    };
    let (w, h) = original.dimensions();
    let scale = 320.0 / f64::from(w.max(h));
    #[allow(
        clippy::cast_possible_truncation,
        reason = "scaled down to at most 320 pixels a side"
    )]
    let small = imageops::resize(
        original,
        (f64::from(w) * scale).round() as u32,
        (f64::from(h) * scale).round() as u32,
        imageops::FilterType::Triangle,
    );
    vec![
        (
            "mirrored",
            png(&DynamicImage::ImageRgb8(imageops::flip_horizontal(
                original,
            ))),
        ),
        ("320 px", jpeg(&small, 90)),
        ("JPEG q20", jpeg(original, 20)),
        (
            "grey",
            png(&DynamicImage::ImageLuma8(
                DynamicImage::ImageRgb8(original.clone()).to_luma8(),
            )),
        ),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let chosen: f32 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("threshold"))
        .unwrap_or(DEFAULT_THRESHOLD);
    let data = data_dir();
    let models = data.join("models");
    let images_dir = data.join("images");
    let mut names: Vec<String> = match std::fs::read_dir(&images_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) => panic!(
            "cannot read {}: {e}; run scripts/fetch-face-data",
            images_dir.display()
        ),
    };
    names.sort();

    let before = rss_mib();
    let load_start = Instant::now();
    let matcher = DlibMatcher::load(
        &models,
        DlibOptions {
            threshold: chosen,
            engines: 2,
            ..DlibOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "models loaded in {}, 2 engines; resident memory {} MiB -> {} MiB",
        ms(load_start.elapsed()),
        before,
        rss_mib()
    );
    let lenient = DlibMatcher::load(
        &models,
        DlibOptions {
            threshold: chosen,
            engines: 1,
            reference_picks_largest: true,
            ..DlibOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Templates, timed (median of 3 runs per image, after one warm-up run).
    println!("\n## Templates\n\n| image | size | result as probe | as reference (largest face) | time |\n|---|---|---|---|---|");
    let mut templates: Vec<(String, FaceTemplate)> = Vec::new();
    let mut template_times = Vec::new();
    for name in &names {
        let bytes = std::fs::read(images_dir.join(name)).expect("read image");
        let _ = matcher.template("probe", &bytes);
        let mut times = Vec::new();
        let mut result = Err(FaceError::NoFace { which: "probe" });
        for _ in 0..3 {
            let t = Instant::now();
            result = matcher.template("probe", &bytes);
            times.push(t.elapsed());
        }
        let time = median(times);
        template_times.push(time);
        let as_reference = match lenient.template("reference", &bytes) {
            Ok(_) => "face".to_owned(),
            Err(e) => e.to_string(),
        };
        let shown = match &result {
            Ok(_) => "one face".to_owned(),
            Err(e) => e.to_string(),
        };
        println!(
            "| {name} | {} KiB | {shown} | {as_reference} | {} |",
            bytes.len() / 1024,
            ms(time)
        );
        let template = match result {
            Ok(t) => Some(t),
            Err(FaceError::SeveralFaces { .. }) => lenient.template("reference", &bytes).ok(),
            Err(_) => None,
        };
        if let Some(t) = template {
            templates.push((name.clone(), t));
        }
    }

    // Every pair.
    println!("\n## Pairs\n\n| a | b | same person | distance |\n|---|---|---|---|");
    let mut same = Vec::new();
    let mut different = Vec::new();
    for (i, (a, ta)) in templates.iter().enumerate() {
        for (b, tb) in &templates[i + 1..] {
            let d = ta.distance(tb);
            let is_same = person(a) == person(b);
            println!(
                "| {a} | {b} | {} | {d:.3} |",
                if is_same { "yes" } else { "no" }
            );
            if is_same {
                same.push(d);
            } else {
                different.push(d);
            }
        }
    }
    let max = |v: &[f32]| v.iter().cloned().fold(f32::NAN, f32::max);
    let min = |v: &[f32]| v.iter().cloned().fold(f32::NAN, f32::min);
    println!(
        "\nsame person: {} pairs, distance {:.3}..{:.3}; different people: {} pairs, distance {:.3}..{:.3}",
        same.len(),
        min(&same),
        max(&same),
        different.len(),
        min(&different),
        max(&different)
    );

    // Error rates.
    println!("\n## Error rates\n\n| threshold | false matches | FMR | false non-matches | FNMR |\n|---|---|---|---|---|");
    let mut thresholds: Vec<f32> = (6..=14).map(|i| i as f32 * 0.05).collect();
    if !thresholds.iter().any(|t| (t - chosen).abs() < 1e-6) {
        thresholds.push(chosen);
        thresholds.sort_by(f32::total_cmp);
    }
    for t in thresholds {
        let fm = different.iter().filter(|d| **d <= t).count();
        let fnm = same.iter().filter(|d| **d > t).count();
        let mark = if (t - chosen).abs() < 1e-6 {
            " (chosen)"
        } else {
            ""
        };
        println!(
            "| {t:.2}{mark} | {fm}/{} | {:.1}% | {fnm}/{} | {:.1}% |",
            different.len(),
            100.0 * fm as f64 / different.len().max(1) as f64,
            same.len(),
            100.0 * fnm as f64 / same.len().max(1) as f64
        );
    }

    // Synthetic variants of each photo with a face: the same picture mirrored, shrunk, recompressed hard, in grey.
    // Each is compared with the templates of every photo above: same person or not. These pairs are not independent
    // photos; they show how capture conditions move the distance, not how well people are told apart.
    println!("\n## Synthetic variants\n\n| variant | of | nearest same-person distance | farthest same-person | nearest other person |\n|---|---|---|---|---|");
    let mut variant_same = Vec::new();
    let mut variant_different = Vec::new();
    let mut variant_failures = 0;
    for (name, _) in &templates {
        let bytes = std::fs::read(images_dir.join(name)).expect("read image");
        let original = image::load_from_memory(&bytes).expect("decode").to_rgb8();
        for (label, encoded) in variants_of(&original) {
            let t = match matcher.template("probe", &encoded) {
                Ok(t) => t,
                Err(e) => {
                    variant_failures += 1;
                    println!("| {label} | {name} | {e} | | |");
                    continue;
                }
            };
            let (mut near, mut far, mut other) = (f32::INFINITY, 0f32, f32::INFINITY);
            for (b, tb) in &templates {
                let d = t.distance(tb);
                if person(b) == person(name) {
                    near = near.min(d);
                    far = far.max(d);
                    variant_same.push(d);
                } else {
                    other = other.min(d);
                    variant_different.push(d);
                }
            }
            println!("| {label} | {name} | {near:.3} | {far:.3} | {other:.3} |");
        }
    }
    println!(
        "\nvariants: {variant_failures} without a usable face; same-person distances up to {:.3} ({} pairs, FNMR at \
         {chosen:.2}: {}); other-person distances from {:.3} ({} pairs, FMR at {chosen:.2}: {})",
        max(&variant_same),
        variant_same.len(),
        variant_same.iter().filter(|d| **d > chosen).count(),
        min(&variant_different),
        variant_different.len(),
        variant_different.iter().filter(|d| **d <= chosen).count(),
    );

    // Timing of a comparison (template of the probe against a stored reference template), one thread.
    let read = |n: &str| std::fs::read(images_dir.join(n)).expect("read image");
    let (reference, probe) = (read("obama.jpg"), read("obama2.jpg"));
    let stored = matcher
        .template("reference", &reference)
        .expect("reference");
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let m = matcher.compare_template(&stored, &probe).expect("compare");
        times.push(t.elapsed());
        assert!(m.matched);
    }
    let compare_template = median(times);
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        matcher.compare(&reference, &probe).expect("compare");
        times.push(t.elapsed());
    }
    println!(
        "\n## Time\n\ntemplate: median {} over the images (longest side scaled to at most 1024 px)\n\
         compare_template (obama2.jpg against a stored template): median {}\n\
         compare (obama.jpg and obama2.jpg): median {}",
        ms(median(template_times)),
        ms(compare_template),
        ms(median(times))
    );

    // Throughput of compare_template with 1 and 2 threads sharing one matcher of 1 or 2 engines.
    drop(matcher);
    drop(lenient);
    println!();
    for engines in [1usize, 2] {
        let matcher = DlibMatcher::load(
            &models,
            DlibOptions {
                threshold: chosen,
                engines,
                ..DlibOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let matcher = Arc::new(matcher);
        for threads in [1usize, 2] {
            let per_thread = 8;
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    let m = Arc::clone(&matcher);
                    let (stored, probe) = (&stored, &probe);
                    s.spawn(move || {
                        for _ in 0..per_thread {
                            m.compare_template(stored, probe).expect("compare");
                        }
                    });
                }
            });
            let total = start.elapsed();
            let n = threads * per_thread;
            println!(
                "{threads} thread(s), {engines} engine(s): {n} compare_template in {} = {:.1} per second",
                ms(total),
                n as f64 / total.as_secs_f64()
            );
        }
    }
}

/// Resident memory of this process in MiB (Linux), 0 elsewhere.
fn rss_mib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<i64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
