//! Configuration from the environment: `IAMSMART_*` names to key paths, typed values.
use super::Config;

/// Environment variables that are not configuration keys.
pub(super) const NOT_CONFIG: &[&str] = &["IAMSMART_CONFIG", "IAMSMART_LOG", "IAMSMART_FACE_DATA"];
pub(super) const NOT_CONFIG_PREFIXES: &[&str] = &["IAMSMART_TEST_", "IAMSMART_SKIP_"];
/// Secrets that may be given as `<KEY>_FILE`.
pub(super) const SECRETS: &[&str] = &["database_url", "keys.pkcs11.pin", "admin.token"];

pub(super) fn env_to_path(name: &str) -> Option<String> {
    let rest = name.strip_prefix("IAMSMART_")?;
    if rest == "MASTER_KEY_FILE" {
        return Some("keys.master_key_file".into());
    }
    Some(rest.to_ascii_lowercase().replace("__", "."))
}

pub(super) fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut table = root;
    for p in parts {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.to_string(), value);
}

pub(super) fn known_paths() -> Vec<(String, &'static str)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, &'static str)>) {
        if let Some(map) = v.as_object() {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.is_object() {
                    walk(&p, v, out);
                } else {
                    let kind = match v {
                        serde_json::Value::Bool(_) => "bool",
                        serde_json::Value::Number(_) => "number",
                        serde_json::Value::Array(_) => "list",
                        _ => "string",
                    };
                    out.push((p, kind));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(Config::default()).unwrap_or_default(),
        &mut out,
    );
    out
}

/// A typed value from an environment string.
pub(super) fn env_value(kind: &str, raw: &str) -> toml::Value {
    match kind {
        "bool" => match raw {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => toml::Value::String(raw.into()),
        },
        "number" => raw
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| raw.parse::<f64>().map(toml::Value::Float))
            .unwrap_or_else(|_| toml::Value::String(raw.into())),
        // A list from the environment: comma-separated (`10.0.0.0/8,192.168.1.5`).
        "list" => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.into()))
                .collect(),
        ),
        _ => toml::Value::String(raw.into()),
    }
}
