//! Identifiers that travel and are stored as text, each its own type: a function that wants a
//! request's id cannot be handed a resident's, and an id from outside is checked once, where it
//! arrives (`parse`), not at each use. Serialised as the bare text, so the wire does not change.

/// The text was not an identifier of this kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedId {
    /// Which kind of identifier was expected.
    pub what: &'static str,
}

impl std::fmt::Display for MalformedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a valid {}", self.what)
    }
}

impl std::error::Error for MalformedId {}

/// An identifier the platform mints from fresh randomness.
pub trait RandomId: Sized {
    /// The id made of these random bytes (its prefix and their base64url form).
    fn from_random(random: [u8; RANDOM_BYTES]) -> Self;
}

/// The random bytes in a minted id (128 bits: 22 base64url characters).
pub const RANDOM_BYTES: usize = 16;

/// Whether `s` is `prefix` followed by `len` base64url characters.
fn prefixed_token(s: &str, prefix: &str, len: usize) -> bool {
    let (s, p) = (s.as_bytes(), prefix.as_bytes());
    if s.len() != p.len() + len {
        return false;
    }
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let ok = if i < p.len() {
            c == p[i]
        } else {
            c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `s` is a name an operator may give a client: 1 to [`CLIENT_ID_MAX`] characters, each
/// a letter, a digit or one of `-`, `_`, `.`, `~` (RFC 3986's unreserved characters, so that the
/// id needs no escaping in a URL, a header or a log line).
fn client_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= CLIENT_ID_MAX
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~'))
}

/// The longest client id the platform accepts.
pub const CLIENT_ID_MAX: usize = 64;

/// Declare an identifier: a newtype over `String` whose values are the texts `$valid` accepts.
macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $valid:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The id `s` stands for, if it has the form of one.
            pub fn parse(s: &str) -> Result<Self, MalformedId> {
                let valid: fn(&str) -> bool = $valid;
                if valid(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(MalformedId { what: $what })
                }
            }

            /// The id as text (to store, bind or show).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = MalformedId;

            fn from_str(s: &str) -> Result<Self, MalformedId> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Hashes and compares as its text (a derived `Hash` of the one `String`), so a map keyed
        // by ids can be asked with text.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        // An id reads as the text it is (to bind, format or compare), but text does not become
        // an id without `parse`.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        // Stored as text; read back through `parse`, so a row holding anything else is an error.
        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <String as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(Self::parse(&text)?)
            }
        }
    };
}

/// Declare an identifier: a newtype over `String` whose values are `$prefix` followed by the 22
/// base64url characters of [`RANDOM_BYTES`] random bytes (the form the platform mints them in).
macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $prefix:literal) => {
        text_id!($(#[$meta])* $name, $what, |s| prefixed_token(s, $prefix, 22));

        impl RandomId for $name {
            fn from_random(random: [u8; RANDOM_BYTES]) -> Self {
                use base64::Engine;
                let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
                Self(format!("{}{token}", $prefix))
            }
        }
    };
}

text_id!(
    /// A resident: `r_` and 22 base64url characters (16 random bytes), minted at registration.
    /// The platform finds a resident from a session or a device; the id itself arrives from
    /// outside only in the operator's API, where it is parsed.
    ResidentId,
    "resident id",
    |s| prefixed_token(s, "r_", 22)
);

text_id!(
    /// A resident's bound phone: `d_` and 16 base64url characters (12 random bytes), minted when
    /// the app is bound. Parsed where the app names one of the resident's devices.
    DeviceId,
    "device id",
    |s| prefixed_token(s, "d_", 16)
);

text_id!(
    /// An online service's `client_id`: minted at registration (`c_` and 16 base64url
    /// characters) or a name the platform gives its own clients (`iamsmart-portal`). Any text of
    /// at most [`CLIENT_ID_MAX`] letters, digits, `-`, `_`, `.` or `~`: an id of another shape
    /// was never issued, and is refused where it arrives as an unknown client is.
    ClientId,
    "client id",
    client_name
);

prefixed_id!(
    /// A request waiting for the resident's answer in the app (the "transaction" a login, a
    /// consent, a signature or a step-up waits on): `ar_` and 22 base64url characters.
    ApprovalId,
    "request id",
    "ar_"
);

prefixed_id!(
    /// A service's request to sign (a hash or a PDF): `sg_` and 22 base64url characters.
    SignRequestId,
    "signing request id",
    "sg_"
);

prefixed_id!(
    /// A service's e-ME request (profile data the resident releases): `em_` and 22 base64url
    /// characters.
    EmeRequestId,
    "e-ME request id",
    "em_"
);

prefixed_id!(
    /// A notification in a resident's inbox: `nt_` and 22 base64url characters.
    NotificationId,
    "notification id",
    "nt_"
);

prefixed_id!(
    /// A resident's consent to release data from a provider to a service through the gateway:
    /// `dc_` and 22 base64url characters.
    DataConsentId,
    "data consent id",
    "dc_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_ids_have_one_form() {
        let id = ApprovalId::parse("ar_AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(id.as_str(), "ar_AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(id.to_string(), id.as_str());
        // Minted ids are what `parse` accepts, whatever the random bytes.
        for random in [
            [0u8; RANDOM_BYTES],
            [0xff; RANDOM_BYTES],
            [0xfb; RANDOM_BYTES],
        ] {
            let minted = ApprovalId::from_random(random);
            assert_eq!(ApprovalId::parse(minted.as_str()), Ok(minted.clone()));
            let signing = SignRequestId::from_random(random);
            assert_eq!(SignRequestId::parse(signing.as_str()), Ok(signing.clone()));
            assert!(
                ApprovalId::parse(signing.as_str()).is_err(),
                "another kind's id"
            );
            let consent = DataConsentId::from_random(random);
            assert_eq!(DataConsentId::parse(consent.as_str()), Ok(consent.clone()));
            assert!(consent.as_str().starts_with("dc_"));
        }
        assert_eq!(
            ApprovalId::from_random([0; RANDOM_BYTES]).as_str(),
            "ar_AAAAAAAAAAAAAAAAAAAAAA"
        );
        for bad in [
            "",
            "ar_",
            "ar_AAAAAAAAAAAAAAAAAAAAA",
            "ar_AAAAAAAAAAAAAAAAAAAAAAA",
            "xr_AAAAAAAAAAAAAAAAAAAAAA",
            "ar_AAAAAAAAAAAAAAAAAAAAA=",
            "ar_AAAAAAAAAAAAAAAAAAAA/A",
            "ar_AAAAAAAAAAAAAAAAAAAAÅ",
            "ar_AAAAAAAAAAAAAAAAAAAA'; --",
        ] {
            assert_eq!(
                ApprovalId::parse(bad),
                Err(MalformedId { what: "request id" }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resident_and_device_ids_have_the_forms_they_are_minted_in() {
        assert!(ResidentId::parse("r_0123456789abcdefghij-_").is_ok());
        assert!(DeviceId::parse("d_0123456789ab-_Zz").is_ok());
        for bad in [
            "",
            "r_",
            "r_short",
            "d_0123456789ab-_Zz",
            "r_0123456789abcdefghij-_x",
        ] {
            assert!(ResidentId::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "d_",
            "d_0123456789ab-_Z",
            "r_0123456789abcdefghij-_",
            "d_0123456789ab/_Zz",
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_ids_are_short_unreserved_names() {
        for good in [
            "c_AbC-12_xyz09876543",
            "iamsmart-portal",
            "svc.gov.hk",
            "a",
            "x~1",
        ] {
            assert_eq!(ClientId::parse(good).unwrap().as_str(), good);
        }
        let longest = "a".repeat(CLIENT_ID_MAX);
        assert!(ClientId::parse(&longest).is_ok());
        for bad in [
            "",
            "a".repeat(CLIENT_ID_MAX + 1).as_str(),
            "has space",
            "c_abc/def",
            "c_abc%2F",
            "name\n",
            "客戶",
            "a'; --",
        ] {
            assert_eq!(
                ClientId::parse(bad),
                Err(MalformedId { what: "client id" }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_travel_as_bare_text_and_are_checked_when_read() {
        let id = ApprovalId::parse("ar_0123456789abcdefghijkl").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"ar_0123456789abcdefghijkl\"");
        assert_eq!(serde_json::from_str::<ApprovalId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ApprovalId>("\"ar_short\"").is_err());
        assert!(serde_json::from_str::<ApprovalId>("42").is_err());
    }
}
