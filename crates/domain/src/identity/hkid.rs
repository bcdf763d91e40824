//! Hong Kong Identity Card numbers: format and check digit.

/// A valid HKID in canonical form: one or two letters, six digits, check digit (`A123456(7)`
/// is stored as `A1234567`).
#[derive(Clone, PartialEq, Eq)]
pub struct Hkid(String);

impl std::fmt::Debug for Hkid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hkid({})", self.masked())
    }
}

fn char_value(c: char) -> Option<u32> {
    match c {
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '0'..='9' => Some(c as u32 - '0' as u32),
        _ => None,
    }
}

/// The check digit for a prefix (1-2 letters) and 6 digits.
fn check_digit(prefix: &str, digits: &str) -> Option<char> {
    let mut chars: Vec<u32> = Vec::with_capacity(8);
    if prefix.len() == 1 {
        chars.push(36); // a single-letter prefix counts as a space in the first position
    }
    for c in prefix.chars().chain(digits.chars()) {
        chars.push(char_value(c)?);
    }
    if chars.len() != 8 {
        return None;
    }
    let sum: u32 = chars.iter().zip((2..=9).rev()).map(|(v, w)| v * w).sum();
    Some(match (11 - sum % 11) % 11 {
        10 => 'A',
        d => char::from_digit(d, 10)?,
    })
}

impl Hkid {
    /// Parse `A123456(7)`, `a1234567`, `AB 987654 (3)`...; the check digit must be right.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let s: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '(' | ')'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !(8..=9).contains(&s.len()) || !s.is_ascii() {
            return Err("expected 1 or 2 letters, 6 digits and a check digit, e.g. A123456(3)");
        }
        let letters = s.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        if !(1..=2).contains(&letters) || s.len() != letters + 7 {
            return Err("expected 1 or 2 letters, 6 digits and a check digit, e.g. A123456(3)");
        }
        let (prefix, rest) = s.split_at(letters);
        let (digits, check) = rest.split_at(6);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err("expected 6 digits after the letters");
        }
        let expected = check_digit(prefix, digits).ok_or("invalid characters")?;
        if !check.starts_with(expected) {
            return Err("the check digit does not match; please check the number on the card");
        }
        Ok(Self(s))
    }

    /// Build a valid HKID from a prefix and six digits (sandbox data, tests).
    pub fn with_check_digit(prefix: &str, digits: &str) -> Option<Self> {
        let c = check_digit(prefix, digits)?;
        Some(Self(format!("{prefix}{digits}{c}")))
    }

    /// Canonical form, e.g. `A1234563`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Display form with the check digit in brackets: `A123456(3)`.
    pub fn display(&self) -> String {
        let (body, check) = self.0.split_at(self.0.len() - 1);
        format!("{body}({check})")
    }

    /// Masked for showing to the holder: `A123***(3)`.
    pub fn masked(&self) -> String {
        let letters = self
            .0
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let (body, check) = self.0.split_at(self.0.len() - 1);
        format!("{}***({check})", &body[..letters + 3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_numbers() {
        // Worked examples of the published algorithm.
        assert_eq!(Hkid::parse("A123456(3)").unwrap().as_str(), "A1234563");
        assert_eq!(
            Hkid::parse("c668668(e)").map(|h| h.display()),
            Err("the check digit does not match; please check the number on the card")
        );
        assert_eq!(Hkid::parse("C668668(9)").unwrap().display(), "C668668(9)");
        assert!(Hkid::parse("AB987654(3)").is_ok());
        assert_eq!(Hkid::parse("G123456(A)").unwrap().as_str(), "G123456A");
        assert_eq!(Hkid::parse("A123456(3)").unwrap().masked(), "A123***(3)");
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "A12345(3)",
            "123456(7)",
            "ABC123456(1)",
            "A1234567",
            "A12345X(3)",
            "Ａ123456(3)",
        ] {
            assert!(Hkid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_numbers_parse() {
        for (p, d) in [
            ("A", "000000"),
            ("Z", "999999"),
            ("XY", "123456"),
            ("K", "314159"),
        ] {
            let h = Hkid::with_check_digit(p, d).unwrap();
            assert_eq!(Hkid::parse(&h.display()).unwrap(), h);
        }
    }
}
