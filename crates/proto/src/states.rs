//! States and kinds stored and sent as text: one declaration gives the enum, its names, its
//! parser and its serde form, so that the list the code knows, the list the wire accepts and
//! the list the database allows (`crates/store/migrations/*/0020_typed_states.sql`, held to
//! these by `crates/domain/tests/typed_states.rs`) are written once.

/// Declare an enum whose values are stored and sent as fixed texts.
///
/// ```
/// iamsmart_proto::text_enum! {
///     /// A traffic light.
///     pub enum Light {
///         /// Stop.
///         Red = "red",
///         /// Go.
///         Green = "green",
///     }
/// }
/// assert_eq!(Light::parse("red"), Some(Light::Red));
/// assert_eq!(Light::Green.as_str(), "green");
/// assert_eq!(serde_json::to_string(&Light::Red).unwrap(), "\"red\"");
/// assert!(serde_json::from_str::<Light>("\"amber\"").is_err());
/// ```
///
/// The enum derives `Debug, Clone, Copy, PartialEq, Eq, Hash`; add `PartialOrd, Ord` with a
/// `#[derive]` of its own where the order of declaration means something.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the order of declaration.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The stored and wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text ),+
                }
            }

            /// The value a stored or received name stands for (exact, case included).
            pub fn parse(s: &str) -> ::core::option::Option<Self> {
                match s {
                    $( $text => ::core::option::Option::Some(Self::$variant), )+
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::states::UnknownName;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::states::UnknownName {
                    what: stringify!($name),
                    expected: &[$($text),+],
                })
            }
        }

        impl $crate::states::__private::serde::Serialize for $name {
            fn serialize<S: $crate::states::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::states::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::states::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::states::__private::serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&s).ok_or_else(|| {
                    <D::Error as $crate::states::__private::serde::de::Error>::unknown_variant(
                        &s,
                        &[$($text),+],
                    )
                })
            }
        }
    };
}

/// A name that is none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// The enum.
    pub what: &'static str,
    /// Its names.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not a known {}: expected one of {}",
            self.what,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownName {}

#[doc(hidden)]
pub mod __private {
    pub use serde;
}

#[cfg(test)]
mod tests {
    crate::text_enum! {
        /// A test enum.
        #[derive(PartialOrd, Ord)]
        enum Step {
            /// First.
            One = "one",
            /// Second.
            Two = "two",
        }
    }

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string().parse::<Step>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), s);
        }
        assert_eq!(Step::parse("One"), None);
        let err = "three".parse::<Step>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a known Step: expected one of one, two"
        );
        let err = serde_json::from_str::<Step>("\"three\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant `three`"), "{err}");
        assert!(Step::One < Step::Two);
    }
}
