//! Serialisation of PDF objects (ISO 32000-1 §7.3), text strings and dates, for the objects that
//! an incremental update writes.
use lopdf::{Dictionary, Object, StringFormat};

/// Appends the PDF syntax of `obj` to `out`.
pub(crate) fn object(out: &mut Vec<u8>, obj: &Object) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => real(out, *r),
        Object::Name(n) => name(out, n),
        Object::String(s, StringFormat::Hexadecimal) => hex_string(out, s),
        Object::String(s, StringFormat::Literal) => literal_string(out, s),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                object(out, item);
            }
            out.push(b']');
        }
        Object::Dictionary(dict) => dictionary(out, dict),
        Object::Stream(stream) => {
            let mut dict = stream.dict.clone();
            dict.set("Length", Object::Integer(stream.content.len() as i64));
            dictionary(out, &dict);
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&stream.content);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Reference((num, generation)) => {
            out.extend_from_slice(format!("{num} {generation} R").as_bytes());
        }
    }
}

/// Appends `<< /Key value ... >>`.
pub(crate) fn dictionary(out: &mut Vec<u8>, dict: &Dictionary) {
    out.extend_from_slice(b"<<");
    for (key, value) in dict.iter() {
        name(out, key);
        out.push(b' ');
        object(out, value);
    }
    out.extend_from_slice(b">>");
}

fn real(out: &mut Vec<u8>, r: f32) {
    if !r.is_finite() {
        out.push(b'0');
        return;
    }
    // Rust prints the shortest decimal that reads back as the same f32, never in exponent form.
    let text = r.to_string();
    out.extend_from_slice(text.as_bytes());
}

/// Appends `/Name`, with `#xx` escapes for bytes that a name cannot hold as they are.
pub(crate) fn name(out: &mut Vec<u8>, n: &[u8]) {
    out.push(b'/');
    for &b in n {
        let plain = (0x21..=0x7e).contains(&b)
            && !matches!(
                b,
                b'#' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
            );
        if plain {
            out.push(b);
        } else {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        }
    }
}

/// Appends `<hex>`.
pub(crate) fn hex_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'<');
    out.extend_from_slice(hex_upper(s).as_bytes());
    out.push(b'>');
}

/// Appends `(literal)` with `\`, `(`, `)` and end-of-line characters escaped.
pub(crate) fn literal_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'(');
    for &b in s {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b')');
}

/// Upper-case hexadecimal of `bytes`.
pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A PDF text string (§7.9.2.2): printable ASCII as a literal string, anything else (Chinese
/// names, accents) as UTF-16BE with a byte order mark, written in hexadecimal.
pub(crate) fn text_string(s: &str) -> Object {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xfe, 0xff];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// Decodes a PDF text string: UTF-16BE (with its byte order mark), UTF-8 (PDF 2.0, with its
/// mark), or else PDFDocEncoding, read here as Latin-1 (the two agree on printable ASCII and
/// on 0xA1-0xFF except 0xAD).
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// A PDF date (§7.9.4) in UTC for a Unix time: `D:YYYYMMDDHHmmSS+00'00'` (times past the year
/// 9999, which a PDF date cannot write, as its last second).
pub(crate) fn pdf_date(unix_secs: u64) -> String {
    let at = i64::try_from(unix_secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .filter(|t| t.year() <= 9999)
        .unwrap_or_else(|| {
            time::PrimitiveDateTime::new(
                time::Date::from_calendar_date(9999, time::Month::December, 31)
                    .unwrap_or(time::Date::MAX),
                time::Time::from_hms(23, 59, 59).unwrap_or(time::Time::MIDNIGHT),
            )
            .assume_utc()
        });
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Parser;

    #[test]
    fn dates() {
        assert_eq!(pdf_date(0), "D:19700101000000+00'00'");
        assert_eq!(pdf_date(951_782_400), "D:20000229000000+00'00'");
        // 2024-07-01 00:00:00 Hong Kong time is 2024-06-30 16:00:00 UTC.
        assert_eq!(pdf_date(1_719_763_200), "D:20240630160000+00'00'");
        assert_eq!(pdf_date(4_102_444_799), "D:20991231235959+00'00'");
        assert_eq!(pdf_date(253_402_300_799), "D:99991231235959+00'00'");
        assert_eq!(pdf_date(253_402_300_800), "D:99991231235959+00'00'");
        assert_eq!(pdf_date(u64::MAX), "D:99991231235959+00'00'");
    }

    #[test]
    fn text_strings_round_trip() {
        for s in ["Chan Tai Man", "陳大文", "Zoë (x) \\", ""] {
            let obj = text_string(s);
            assert_eq!(decode_text(obj.as_str().unwrap()), s);
            let mut out = Vec::new();
            object(&mut out, &obj);
            let back = Parser::new(&out, 0).object().unwrap();
            assert_eq!(decode_text(back.as_str().unwrap()), s);
        }
        assert!(matches!(
            text_string("陳大文"),
            Object::String(ref b, StringFormat::Hexadecimal) if b.starts_with(&[0xfe, 0xff])
        ));
    }

    #[test]
    fn objects_round_trip() {
        let text = "<</A [1 -2 3.5 true null] /B#20C (x\\)\\r) /D 4 0 R /E <00FF>>>";
        let obj = Parser::new(text.as_bytes(), 0).object().unwrap();
        let mut out = Vec::new();
        object(&mut out, &obj);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "<</A [1 -2 3.5 true null]/B#20C (x\\)\\r)/D 4 0 R/E <00FF>>>"
        );
        assert_eq!(Parser::new(&out, 0).object().unwrap(), obj);
    }
}
