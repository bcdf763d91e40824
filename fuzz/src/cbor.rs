//! Structure-aware CBOR: values built from fuzz input with `arbitrary`, so that the WebAuthn
//! targets get well-formed attestation objects and COSE keys with odd contents instead of bytes
//! that rarely parse.
use arbitrary::Arbitrary;
use ciborium::Value;

/// Nesting deeper than this is cut off (the code under test limits recursion itself; this
/// keeps the harness's own recursion bounded).
const MAX_DEPTH: usize = 24;

/// An arbitrary CBOR value.
#[derive(Debug, Arbitrary)]
pub enum Cbor {
    /// A small integer (COSE labels and algorithms are small).
    Small(i8),
    /// Any integer.
    Int(i64),
    /// Past `i64` (ciborium integers reach `-2^64`..`2^64-1`).
    Big(u64, bool),
    /// Bytes.
    Bytes(Vec<u8>),
    /// Text.
    Text(String),
    /// Array.
    Array(Vec<Cbor>),
    /// Map.
    Map(Vec<(Cbor, Cbor)>),
    /// Tagged.
    Tag(u64, Box<Cbor>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// Float.
    Float(f64),
}

impl Cbor {
    /// As a ciborium value.
    pub fn value(&self) -> Value {
        self.at(0)
    }

    fn at(&self, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        match self {
            Cbor::Small(i) => Value::Integer((*i).into()),
            Cbor::Int(i) => Value::Integer((*i).into()),
            Cbor::Big(u, neg) => {
                let i = ciborium::value::Integer::from(*u);
                if *neg {
                    // -1 - u, the CBOR negative integer with argument u.
                    let n = -1i128 - i128::from(*u);
                    Value::Integer(ciborium::value::Integer::try_from(n).unwrap_or(i))
                } else {
                    Value::Integer(i)
                }
            }
            Cbor::Bytes(b) => Value::Bytes(b.clone()),
            Cbor::Text(t) => Value::Text(t.clone()),
            Cbor::Array(a) => Value::Array(a.iter().map(|v| v.at(depth + 1)).collect()),
            Cbor::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.at(depth + 1), v.at(depth + 1)))
                    .collect(),
            ),
            Cbor::Tag(t, v) => Value::Tag(*t, Box::new(v.at(depth + 1))),
            Cbor::Bool(b) => Value::Bool(*b),
            Cbor::Null => Value::Null,
            Cbor::Float(f) => Value::Float(*f),
        }
    }
}

/// Encode a value.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).expect("writing CBOR to memory");
    out
}

/// A text key.
pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// An integer key or value.
pub fn int(i: i64) -> Value {
    Value::Integer(i.into())
}
