//! A small parser of PDF direct objects (ISO 32000-1 §7.3), for the parts of the file this crate
//! reads before handing the document to lopdf: the cross-reference chain (trailers and
//! cross-reference stream dictionaries). It never follows references and limits nesting.
use lopdf::{Dictionary, Object, StringFormat};

/// Deepest nesting of arrays and dictionaries accepted.
const MAX_DEPTH: usize = 32;

pub(crate) fn is_white(b: u8) -> bool {
    matches!(b, 0 | 9 | 10 | 12 | 13 | 32)
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_white(b) && !is_delim(b)
}

/// A cursor over the file's bytes.
pub(crate) struct Parser<'a> {
    buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Parser { buf, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Skips white space and comments.
    pub(crate) fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Consumes `kw` if it comes next (after white space) as a whole token.
    pub(crate) fn keyword(&mut self, kw: &[u8]) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with(kw) && rest.get(kw.len()).is_none_or(|&b| !is_regular(b)) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    /// A non-negative integer token.
    pub(crate) fn unsigned(&mut self) -> Option<u64> {
        self.skip_ws();
        let digits = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 18 {
            return None;
        }
        let text = std::str::from_utf8(&self.rest()[..digits]).ok()?;
        let value = text.parse().ok()?;
        if self.rest().get(digits).is_some_and(|&b| is_regular(b)) {
            return None;
        }
        self.pos += digits;
        Some(value)
    }

    /// `N G obj`: the header of an indirect object; returns its number and generation.
    pub(crate) fn object_header(&mut self) -> Option<(u32, u16)> {
        let num = u32::try_from(self.unsigned()?).ok()?;
        let generation = u16::try_from(self.unsigned()?).ok()?;
        self.keyword(b"obj").then_some((num, generation))
    }

    /// A direct object (a reference `N G R` is returned as a reference, not followed).
    #[cfg(test)]
    pub(crate) fn object(&mut self) -> Option<Object> {
        self.object_at_depth(0)
    }

    fn object_at_depth(&mut self, depth: usize) -> Option<Object> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'/' => self.name().map(Object::Name),
            b'(' => self.literal_string(),
            b'<' if self.rest().starts_with(b"<<") => {
                self.dictionary_at_depth(depth).map(Object::Dictionary)
            }
            b'<' => self.hex_string(),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek()? == b']' {
                        self.pos += 1;
                        return Some(Object::Array(items));
                    }
                    items.push(self.object_at_depth(depth + 1)?);
                }
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => self.number_or_reference(),
            _ => {
                if self.keyword(b"true") {
                    Some(Object::Boolean(true))
                } else if self.keyword(b"false") {
                    Some(Object::Boolean(false))
                } else if self.keyword(b"null") {
                    Some(Object::Null)
                } else {
                    None
                }
            }
        }
    }

    /// A dictionary `<< ... >>`.
    pub(crate) fn dictionary(&mut self) -> Option<Dictionary> {
        self.skip_ws();
        self.dictionary_at_depth(0)
    }

    fn dictionary_at_depth(&mut self, depth: usize) -> Option<Dictionary> {
        if !self.rest().starts_with(b"<<") {
            return None;
        }
        self.pos += 2;
        let mut dict = Dictionary::new();
        loop {
            self.skip_ws();
            if self.rest().starts_with(b">>") {
                self.pos += 2;
                return Some(dict);
            }
            let key = self.name()?;
            let value = self.object_at_depth(depth + 1)?;
            dict.set(key, value);
        }
    }

    fn name(&mut self) -> Option<Vec<u8>> {
        if self.peek()? != b'/' {
            return None;
        }
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek().filter(|&b| is_regular(b)) {
            if b == b'#' {
                let hex = self.rest().get(1..3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                self.pos += 3;
            } else {
                out.push(b);
                self.pos += 1;
            }
        }
        Some(out)
    }

    fn number_or_reference(&mut self) -> Option<Object> {
        let len = self
            .rest()
            .iter()
            .take_while(|&&b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        let text = std::str::from_utf8(&self.rest()[..len]).ok()?;
        if text.contains('.') {
            let value: f32 = text.parse().ok()?;
            self.pos += len;
            return value.is_finite().then_some(Object::Real(value));
        }
        let value: i64 = text.parse().ok()?;
        self.pos += len;
        // `N G R`?
        let save = self.pos;
        if let (Ok(num), Some(generation)) = (u32::try_from(value), self.unsigned()) {
            if let Ok(generation) = u16::try_from(generation) {
                if self.keyword(b"R") {
                    return Some(Object::Reference((num, generation)));
                }
            }
        }
        self.pos = save;
        Some(Object::Integer(value))
    }

    fn hex_string(&mut self) -> Option<Object> {
        self.pos += 1;
        let mut nibbles = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'>' => break,
                b if is_white(b) => {}
                b => nibbles.push(u8::try_from(char::from(b).to_digit(16)?).ok()?),
            }
        }
        if nibbles.len() % 2 == 1 {
            nibbles.push(0);
        }
        let bytes = nibbles.chunks(2).map(|p| p[0] << 4 | p[1]).collect();
        Some(Object::String(bytes, StringFormat::Hexadecimal))
    }

    fn literal_string(&mut self) -> Option<Object> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut nesting = 0usize;
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'(' => {
                    nesting += 1;
                    out.push(b);
                }
                b')' if nesting == 0 => break,
                b')' => {
                    nesting -= 1;
                    out.push(b);
                }
                b'\r' => {
                    // An end of line in a string reads as a line feed.
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    out.push(b'\n');
                }
                b'\\' => self.escape(&mut out)?,
                b => out.push(b),
            }
        }
        Some(Object::String(out, StringFormat::Literal))
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let b = self.peek()?;
        self.pos += 1;
        match b {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            b'\n' => {}
            b'0'..=b'7' => {
                let mut value = u32::from(b - b'0');
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            other => out.push(other),
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Object> {
        Parser::new(text.as_bytes(), 0).object()
    }

    #[test]
    fn objects() {
        let dict = parse(
            "<< /Type /XRef /W [1 4 2] /Root 1 0 R /ID [<0a0B> (a\\(b\\)\\101)] /F -1.5 /N null >>",
        )
        .unwrap();
        let dict = dict.as_dict().unwrap();
        assert_eq!(dict.get(b"Type").unwrap().as_name().unwrap(), b"XRef");
        assert_eq!(dict.get(b"Root").unwrap().as_reference().unwrap(), (1, 0));
        let id = dict.get(b"ID").unwrap().as_array().unwrap();
        assert_eq!(id[0].as_str().unwrap(), [0x0a, 0x0b]);
        assert_eq!(id[1].as_str().unwrap(), b"a(b)A");
        assert_eq!(dict.get(b"F").unwrap().as_float().unwrap(), -1.5);
        assert_eq!(parse("/A#20B").unwrap().as_name().unwrap(), b"A B");
        assert_eq!(parse("12 0 obj").unwrap().as_i64().unwrap(), 12);
    }

    #[test]
    fn rejects_deep_nesting_and_garbage() {
        assert!(parse(&"[".repeat(1000)).is_none());
        assert!(parse(&format!("{}{}", "[".repeat(100), "]".repeat(100))).is_none());
        assert!(parse("<< /A >>").is_none());
        assert!(parse("<zz>").is_none());
        assert!(parse("(unterminated").is_none());
        assert!(parse("99999999999999999999999").is_none());
    }

    #[test]
    fn header() {
        let mut p = Parser::new(b"  7 0 obj\n<<>>", 0);
        assert_eq!(p.object_header(), Some((7, 0)));
        assert!(p.dictionary().unwrap().is_empty());
        assert_eq!(Parser::new(b"7 0 objx", 0).object_header(), None);
    }
}
