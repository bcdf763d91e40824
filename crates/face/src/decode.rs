//! Decoding JPEG and PNG bytes in memory, within bounds, into an RGB buffer that is wiped when dropped.

use std::io::Cursor;

use image::imageops::FilterType;
use image::io::{Limits, Reader};
use image::{DynamicImage, ImageFormat, RgbImage};
use zeroize::Zeroize;

use crate::{FaceError, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS};

/// An RGB image whose pixels are wiped when it is dropped.
pub(crate) struct Pixels(Option<RgbImage>);

impl Pixels {
    pub(crate) fn image(&self) -> &RgbImage {
        self.0.as_ref().expect("pixels are present until dropped")
    }

    pub(crate) fn width(&self) -> u32 {
        self.image().width()
    }

    pub(crate) fn height(&self) -> u32 {
        self.image().height()
    }
}

impl Drop for Pixels {
    fn drop(&mut self) {
        if let Some(image) = self.0.take() {
            image.into_raw().zeroize();
        }
    }
}

/// Wipes the pixel buffer of a decoded image, whatever its pixel type.
fn wipe(image: DynamicImage) {
    match image {
        DynamicImage::ImageLuma8(b) => b.into_raw().zeroize(),
        DynamicImage::ImageLumaA8(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgb8(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgba8(b) => b.into_raw().zeroize(),
        DynamicImage::ImageLuma16(b) => b.into_raw().zeroize(),
        DynamicImage::ImageLumaA16(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgb16(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgba16(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgb32F(b) => b.into_raw().zeroize(),
        DynamicImage::ImageRgba32F(b) => b.into_raw().zeroize(),
        // Pixel types added by later versions of `image` (none can come from the JPEG and PNG decoders now).
        other => drop(other),
    }
}

fn bad(which: &'static str, message: impl Into<String>) -> FaceError {
    FaceError::BadImage {
        which,
        message: message.into(),
    }
}

/// Decodes `bytes` (JPEG or PNG) into RGB, refusing inputs over [`MAX_IMAGE_BYTES`] and images over
/// [`MAX_IMAGE_PIXELS`] (read from the header, before decoding), then scales it down so that its longest side is at
/// most `max_side`. Errors never include the bytes.
pub(crate) fn decode(
    which: &'static str,
    bytes: &[u8],
    max_side: u32,
) -> Result<Pixels, FaceError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(bad(
            which,
            format!(
                "{} bytes is more than the {MAX_IMAGE_BYTES} allowed",
                bytes.len()
            ),
        ));
    }
    let Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png)) = image::guess_format(bytes) else {
        return Err(bad(which, "not a JPEG or PNG image"));
    };
    let (width, height) = Reader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| bad(which, format!("unreadable header: {e}")))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(bad(which, "empty image"));
    }
    if pixels > MAX_IMAGE_PIXELS {
        return Err(bad(
            which,
            format!(
                "{width}x{height} is {pixels} pixels, more than the {MAX_IMAGE_PIXELS} allowed"
            ),
        ));
    }

    let mut reader = Reader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // The largest decoded buffer: 16-bit RGBA.
    limits.max_alloc = Some(pixels * 8 + (1 << 20));
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| bad(which, format!("undecodable: {e}")))?;

    let rgb = match decoded {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => {
            let rgb = other.to_rgb8();
            wipe(other);
            rgb
        }
    };
    let rgb = Pixels(Some(rgb));
    let (w, h) = (rgb.width(), rgb.height());
    let longest = w.max(h);
    if longest <= max_side {
        return Ok(rgb);
    }
    let scale = f64::from(max_side) / f64::from(longest);
    #[allow(
        clippy::cast_possible_truncation,
        reason = "scale < 1: each side is below the original's, a u32"
    )]
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_side);
    #[allow(clippy::cast_possible_truncation, reason = "as for the width")]
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_side);
    let small = image::imageops::resize(rgb.image(), nw, nh, FilterType::Triangle);
    Ok(Pixels(Some(small)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{codecs::png::PngEncoder, ImageEncoder};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels = vec![128u8; (width * height * 3) as usize];
        PngEncoder::new(&mut out)
            .write_image(&pixels, width, height, image::ColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn decodes_and_scales_down() {
        let p = decode("probe", &png(300, 100), 150).unwrap();
        assert_eq!((p.width(), p.height()), (150, 50));
        let p = decode("probe", &png(30, 10), 150).unwrap();
        assert_eq!((p.width(), p.height()), (30, 10));
    }

    #[test]
    fn refuses_what_it_should() {
        let e = |r: Result<Pixels, FaceError>| match r {
            Err(FaceError::BadImage { which, message }) => format!("{which}: {message}"),
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => panic!("accepted"),
        };
        assert!(e(decode("probe", b"GIF89a....", 100)).contains("not a JPEG or PNG"));
        assert!(e(decode("probe", &vec![0xff; MAX_IMAGE_BYTES + 1], 100)).contains("more than the"));
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(e(decode("reference", &truncated, 100)).starts_with("reference: "));
    }

    /// CRC-32 (IEEE) of a PNG chunk's type and data.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn refuses_too_many_pixels_from_the_header() {
        // A PNG that claims 6000x6000 pixels (36 megapixels) but holds no image data: refused from its header.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&6000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&6000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        match decode("probe", &bytes, 1024) {
            Err(FaceError::BadImage { message, .. }) => {
                assert!(message.contains("36000000 pixels"), "{message}");
            }
            Err(other) => panic!("unexpected {other}"),
            Ok(_) => panic!("accepted"),
        }
    }
}
