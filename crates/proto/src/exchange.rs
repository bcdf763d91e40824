//! The data exchange gateway's contract with data providers about the *shape* of an answer.
//!
//! Payloads travel end to end encrypted from the provider to the requester, so the gateway
//! cannot read them. Beside each encrypted item the provider states its shape: the names and
//! JSON types of the item's top-level fields, never a value. The gateway compares the shape
//! with the schema the provider registered for the item and relays nothing when they differ,
//! so a provider's mistake becomes a clear error instead of data the requester cannot use. (A
//! requester still checks what it decrypts: only it can see the values.)
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `typ` of the JWS a provider signs each item with, inside the encryption to the requester.
pub const ITEM_TYP: &str = "iamsmart-item+jwt";

/// What a provider signs for each item: who made it, for which requester, consent and item,
/// when, and the data. The requester checks every claim after it has verified the signature
/// with the provider's key, so the data's origin is proved end to end (the gateway, which only
/// relays the encrypted item, could not have made it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemClaims {
    /// The provider's id.
    pub iss: String,
    /// The requester's client id.
    pub aud: String,
    /// The consent the item was released under.
    pub consent_id: String,
    /// The item id.
    pub item: String,
    /// When it was signed (unix seconds).
    pub iat: i64,
    /// The record.
    pub data: Value,
}

/// The JSON type of a value, as JSON Schema names it (`integer` for whole numbers).
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The shape of an item's data: `{field: type}` for an object, or `{"": type}` otherwise.
pub fn shape_of(data: &Value) -> Value {
    let mut m = Map::new();
    match data {
        Value::Object(o) => {
            for (k, v) in o {
                m.insert(k.clone(), Value::String(json_type(v).into()));
            }
        }
        other => {
            m.insert(String::new(), Value::String(json_type(other).into()));
        }
    }
    Value::Object(m)
}

/// Whether a stated shape fits a registered schema (an object schema with `properties`, their
/// `type`s and `required`): every required field present, no field the schema does not name,
/// each of the schema's type (an `integer` is also a `number`). Says what differs.
pub fn check_shape(schema: &Value, shape: &Value) -> Result<(), String> {
    let shape = shape
        .as_object()
        .ok_or("the answer states no shape for the data")?;
    let props = schema["properties"].as_object();
    for req in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = req.as_str() {
            if !shape.contains_key(name) {
                return Err(format!("the data lacks the required field {name:?}"));
            }
        }
    }
    for (field, ty) in shape {
        let ty = ty.as_str().unwrap_or("?");
        let Some(declared) = props.and_then(|p| p.get(field)) else {
            return Err(format!(
                "the data has a field the schema does not name: {:?}",
                field.chars().take(40).collect::<String>()
            ));
        };
        let expected: Vec<&str> = match &declared["type"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let fits = expected
            .iter()
            .any(|e| *e == ty || (*e == "number" && ty == "integer"));
        if !fits {
            return Err(format!(
                "the field {field:?} is {ty}, the schema says {}",
                expected.join(" or ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({ "type": "object", "properties": {
            "year": { "type": "integer" }, "income": { "type": "number" }, "note": { "type": ["string", "null"] }
        }, "required": ["year", "income"] })
    }

    #[test]
    fn shapes_fit_or_say_what_differs() {
        let ok = shape_of(&json!({ "year": 2025, "income": 360000.5, "note": null }));
        assert_eq!(check_shape(&schema(), &ok), Ok(()));
        assert!(check_shape(&schema(), &shape_of(&json!({ "year": 2025, "income": 1 }))).is_ok());
        for (data, needle) in [
            (json!({ "year": 2025 }), "required field \"income\""),
            (json!({ "year": "2025", "income": 1 }), "\"year\" is string"),
            (
                json!({ "year": 2025, "income": 1, "hkid": "A123" }),
                "does not name",
            ),
            (json!(["year"]), "required field"),
        ] {
            let e = check_shape(&schema(), &shape_of(&data)).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        assert!(check_shape(&schema(), &json!("x")).is_err());
    }
}
