//! `identity::profile::check` on arbitrary profiles: parsed from JSON, or built field by field
//! from the input (so that the checks, not JSON syntax, get the mutations).
//!
//! Input: a selector byte (bit 0: 0 = JSON, 1 = built), then the data.
//!
//! Properties: `check` never panics; an accepted profile serialises, parses again to itself and
//! is accepted again; `changed_fields` finds no change against itself and names only fields
//! that differ against the empty profile.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use iamsmart_domain::identity::profile::{changed_fields, check, DISTRICTS};
use iamsmart_fuzz::split;
use iamsmart_proto::profile::{Address, Phone, Profile};
use libfuzzer_sys::fuzz_target;

/// A field: absent, one of the values the rules know, or any text.
#[derive(Debug, Arbitrary)]
enum Field {
    Absent,
    Known(u8),
    Any(String),
}

impl Field {
    fn get(&self, known: &[&str]) -> Option<String> {
        match self {
            Field::Absent => None,
            Field::Known(i) if known.is_empty() => Some(format!("{i}")),
            Field::Known(i) => Some(known[*i as usize % known.len()].to_string()),
            Field::Any(s) => Some(s.clone()),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Tel(Option<(Field, Field)>);

impl Tel {
    fn get(&self) -> Option<Phone> {
        let (c, n) = self.0.as_ref()?;
        Some(Phone {
            country_code: c.get(&["852", "86", "1"]).unwrap_or_default(),
            subscriber_number: n.get(&["91234567", "1234", "123456789012345"])?,
        })
    }
}

#[derive(Debug, Arbitrary)]
struct Addr(Option<[Field; 9]>);

impl Addr {
    fn get(&self) -> Option<Address> {
        let f = self.0.as_ref()?;
        Some(Address {
            flat: f[0].get(&["12A"]),
            floor: f[1].get(&["3"]),
            block: f[2].get(&["Block 2"]),
            building: f[3].get(&["Canary Court"]),
            estate: f[4].get(&["Sha Tin Estate"]),
            street_number: f[5].get(&["8"]),
            street: f[6].get(&["Nathan Road"]),
            district: f[7].get(DISTRICTS),
            region: f[8].get(&["HK", "KLN", "NT"]),
        })
    }
}

#[derive(Debug, Arbitrary)]
struct Built {
    prefix: Field,
    marital_status: Field,
    home_tel: Tel,
    office_tel: Tel,
    mobile: Tel,
    email: Field,
    residential_address: Addr,
    postal_address: Addr,
    education_level: Field,
}

impl Built {
    fn get(&self) -> Profile {
        Profile {
            prefix: self.prefix.get(&["Mr", "Mrs", "Ms", "Miss", "Dr", "Prof"]),
            marital_status: self.marital_status.get(&["single", "married", "widowed"]),
            home_tel: self.home_tel.get(),
            office_tel: self.office_tel.get(),
            mobile: self.mobile.get(),
            email: self.email.get(&["chan.tm@example.hk", "a@b.c"]),
            residential_address: self.residential_address.get(),
            postal_address: self.postal_address.get(),
            education_level: self.education_level.get(&["degree", "primary"]),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (sel, rest) = split(data);
    let p = if sel & 1 == 0 {
        match serde_json::from_slice::<Profile>(rest) {
            Ok(p) => p,
            Err(_) => return,
        }
    } else {
        match Built::arbitrary_take_rest(Unstructured::new(rest)) {
            Ok(b) => b.get(),
            Err(_) => return,
        }
    };
    let empty = Profile::default();
    assert!(changed_fields(&p, &p).is_empty());
    let changed = changed_fields(&p, &empty);
    let json = serde_json::to_value(&p).expect("serialise");
    for field in &changed {
        assert!(json.get(field).is_some(), "{field} named but absent");
    }
    if check(&p).is_err() {
        return;
    }
    let back: Profile = serde_json::from_value(json).expect("parse what we wrote");
    assert!(back == p, "round trip changed the profile");
    assert!(check(&back).is_ok());
});
