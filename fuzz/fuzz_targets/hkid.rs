//! `identity::hkid::Hkid::parse` on arbitrary text.
//!
//! Property: every accepted number is canonical (ASCII, upper case, 1-2 letters, 6 digits and a
//! check digit), parses again from its display and canonical forms to itself, and is what
//! `with_check_digit` makes of its prefix and digits.
#![no_main]
use iamsmart_domain::identity::hkid::Hkid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(h) = Hkid::parse(text) else {
        return;
    };
    let s = h.as_str();
    assert!((8..=9).contains(&s.len()), "{s}");
    let letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
    assert!((1..=2).contains(&letters), "{s}");
    assert_eq!(s.len(), letters + 7, "{s}");
    let (prefix, rest) = s.split_at(letters);
    let (digits, check) = rest.split_at(6);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{s}");
    assert!(
        check == "A" || check.bytes().all(|b| b.is_ascii_digit()),
        "{s}"
    );
    assert_eq!(Hkid::parse(&h.display()).as_ref(), Ok(&h));
    assert_eq!(Hkid::parse(s).as_ref(), Ok(&h));
    assert_eq!(Hkid::with_check_digit(prefix, digits).as_ref(), Some(&h));
    let masked = h.masked();
    assert!(masked.ends_with(&format!("({check})")) && masked.contains("***"));
});
