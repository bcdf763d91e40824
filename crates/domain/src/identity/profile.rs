//! Rules for the fields the resident maintains (the e-ME profile).
use crate::error::{DomainError, Result};
use iamsmart_proto::profile::{Address, Phone, Profile};

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: message.into(),
    }
}

fn one_of(field: &'static str, v: &Option<String>, allowed: &[&str]) -> Result<()> {
    match v {
        Some(x) if !allowed.contains(&x.as_str()) => Err(invalid(
            field,
            format!("expected one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn short_text(field: &'static str, v: &Option<String>, max: usize) -> Result<()> {
    if let Some(x) = v {
        if x.trim().is_empty() || x.chars().count() > max || x.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("must be 1 to {max} characters without control characters"),
            ));
        }
    }
    Ok(())
}

fn phone(field: &'static str, v: &Option<Phone>) -> Result<()> {
    if let Some(p) = v {
        let digits =
            |s: &str, lo, hi| (lo..=hi).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&p.country_code, 1, 3) || !digits(&p.subscriber_number, 4, 15) {
            return Err(invalid(
                field,
                "expected country_code of 1-3 digits and subscriber_number of 4-15 digits",
            ));
        }
        if p.country_code == "852" && p.subscriber_number.len() != 8 {
            return Err(invalid(field, "Hong Kong numbers have 8 digits"));
        }
    }
    Ok(())
}

/// The 18 District Council districts.
pub const DISTRICTS: &[&str] = &[
    "Central and Western",
    "Wan Chai",
    "Eastern",
    "Southern",
    "Yau Tsim Mong",
    "Sham Shui Po",
    "Kowloon City",
    "Wong Tai Sin",
    "Kwun Tong",
    "Kwai Tsing",
    "Tsuen Wan",
    "Tuen Mun",
    "Yuen Long",
    "North",
    "Tai Po",
    "Sha Tin",
    "Sai Kung",
    "Islands",
];

fn address(field: &'static str, v: &Option<Address>) -> Result<()> {
    let Some(a) = v else { return Ok(()) };
    for (part, max) in [
        (&a.flat, 20),
        (&a.floor, 20),
        (&a.block, 40),
        (&a.building, 120),
        (&a.estate, 120),
        (&a.street_number, 20),
        (&a.street, 120),
    ] {
        short_text(field, part, max)?;
    }
    if a.building.is_none() && a.street.is_none() && a.estate.is_none() {
        return Err(invalid(
            field,
            "give at least a building, an estate or a street",
        ));
    }
    one_of(field, &a.district, DISTRICTS)?;
    one_of(field, &a.region, &["HK", "KLN", "NT"])
}

/// Check every field of a profile; the error names the first wrong field.
pub fn check(p: &Profile) -> Result<()> {
    one_of(
        "prefix",
        &p.prefix,
        &["Mr", "Mrs", "Ms", "Miss", "Dr", "Prof"],
    )?;
    one_of(
        "marital_status",
        &p.marital_status,
        &["single", "married", "divorced", "widowed", "separated"],
    )?;
    phone("home_tel", &p.home_tel)?;
    phone("office_tel", &p.office_tel)?;
    phone("mobile", &p.mobile)?;
    if let Some(e) = &p.email {
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            })
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(invalid(
                "email",
                "expected an e-mail address like name@example.hk",
            ));
        }
    }
    address("residential_address", &p.residential_address)?;
    address("postal_address", &p.postal_address)?;
    one_of(
        "education_level",
        &p.education_level,
        &[
            "primary",
            "secondary",
            "post_secondary",
            "degree",
            "postgraduate",
        ],
    )
}

/// Names of the fields that differ between two profiles (for the audit log: names, not values).
pub fn changed_fields(a: &Profile, b: &Profile) -> Vec<&'static str> {
    let mut out = Vec::new();
    if a.prefix != b.prefix {
        out.push("prefix");
    }
    if a.marital_status != b.marital_status {
        out.push("marital_status");
    }
    if a.home_tel != b.home_tel {
        out.push("home_tel");
    }
    if a.office_tel != b.office_tel {
        out.push("office_tel");
    }
    if a.mobile != b.mobile {
        out.push("mobile");
    }
    if a.email != b.email {
        out.push("email");
    }
    if a.residential_address != b.residential_address {
        out.push("residential_address");
    }
    if a.postal_address != b.postal_address {
        out.push("postal_address");
    }
    if a.education_level != b.education_level {
        out.push("education_level");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Profile {
        Profile {
            prefix: Some("Ms".into()),
            mobile: Some(Phone {
                country_code: "852".into(),
                subscriber_number: "91234567".into(),
            }),
            email: Some("chan.tm@example.hk".into()),
            residential_address: Some(Address {
                flat: Some("12A".into()),
                building: Some("Canary Court".into()),
                district: Some("Sha Tin".into()),
                region: Some("NT".into()),
                ..Address::default()
            }),
            ..Profile::default()
        }
    }

    #[test]
    fn good_profiles_pass_and_bad_fields_are_named() {
        check(&good()).unwrap();
        check(&Profile::default()).unwrap();
        let cases: Vec<(&str, Profile)> = vec![
            (
                "prefix",
                Profile {
                    prefix: Some("Sir".into()),
                    ..good()
                },
            ),
            (
                "mobile",
                Profile {
                    mobile: Some(Phone {
                        country_code: "852".into(),
                        subscriber_number: "1234".into(),
                    }),
                    ..good()
                },
            ),
            (
                "email",
                Profile {
                    email: Some("not-an-email".into()),
                    ..good()
                },
            ),
            (
                "residential_address",
                Profile {
                    residential_address: Some(Address {
                        district: Some("Atlantis".into()),
                        ..good().residential_address.unwrap()
                    }),
                    ..good()
                },
            ),
            (
                "postal_address",
                Profile {
                    postal_address: Some(Address::default()),
                    ..good()
                },
            ),
            (
                "education_level",
                Profile {
                    education_level: Some("phd".into()),
                    ..good()
                },
            ),
        ];
        for (field, p) in cases {
            match check(&p) {
                Err(DomainError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn changed_fields_names_only_what_changed() {
        let a = good();
        let mut b = good();
        b.email = None;
        b.education_level = Some("degree".into());
        assert_eq!(changed_fields(&a, &b), ["email", "education_level"]);
        assert!(changed_fields(&a, &a).is_empty());
    }
}
