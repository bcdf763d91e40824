//! Data providers (departments) and the items they publish through the gateway.
use super::Exchange;
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use serde::{Deserialize, Serialize};

/// Who may ask for an item.
pub const REQUESTER_TYPES: [&str; 3] = ["government", "bank", "commercial"];

/// An item a provider publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDef {
    /// Item id (unique per provider).
    pub item: String,
    /// Title (English).
    pub title_en: String,
    /// Title (Traditional Chinese).
    pub title_zh: String,
    /// Description (English).
    pub description_en: String,
    /// Description (Traditional Chinese).
    pub description_zh: String,
    /// The legal basis of the disclosure.
    pub legal_basis: String,
    /// Requester types that may ask for it.
    pub requesters: Vec<String>,
    /// JSON Schema of the data.
    pub schema: serde_json::Value,
}

/// A provider and its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDef {
    /// Provider id (`ird`, `hd`, ...).
    pub id: String,
    /// Name (English).
    pub name_en: String,
    /// Name (Traditional Chinese).
    pub name_zh: String,
    /// Base URL of its service (`{base_url}/v1/fetch`, `{base_url}/v1/jwks.json`).
    pub base_url: String,
    /// Its items.
    pub items: Vec<ItemDef>,
}

fn invalid(field: &'static str, m: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: m.into(),
    }
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Check a provider definition.
pub fn check(def: &ProviderDef) -> Result<()> {
    if !ident_ok(&def.id) {
        return Err(invalid(
            "id",
            "lower-case letters, digits and _, at most 40",
        ));
    }
    if def.name_en.trim().is_empty() || def.name_zh.trim().is_empty() {
        return Err(invalid("name", "give the name in English and in Chinese"));
    }
    crate::oidc::clients::check_uri("base_url", &def.base_url)
        .map_err(|m| invalid("base_url", m))?;
    if def.items.is_empty() || def.items.len() > 50 {
        return Err(invalid("items", "1 to 50 items"));
    }
    for i in &def.items {
        if !ident_ok(&i.item) {
            return Err(invalid(
                "items.item",
                "lower-case letters, digits and _, at most 40",
            ));
        }
        if [
            &i.title_en,
            &i.title_zh,
            &i.description_en,
            &i.description_zh,
            &i.legal_basis,
        ]
        .iter()
        .any(|t| t.trim().is_empty())
        {
            return Err(invalid(
                "items",
                format!(
                    "{}: titles, descriptions (both languages) and the legal basis are required",
                    i.item
                ),
            ));
        }
        if i.requesters.is_empty()
            || i.requesters
                .iter()
                .any(|r| !REQUESTER_TYPES.contains(&r.as_str()))
        {
            return Err(invalid(
                "items.requesters",
                "government, bank or commercial",
            ));
        }
        if !i.schema.is_object() {
            return Err(invalid("items.schema", "a JSON Schema object"));
        }
    }
    Ok(())
}

/// Register (or update) a provider and replace its items.
pub async fn register(p: &Exchange, def: &ProviderDef, actor: &str) -> Result<()> {
    check(def)?;
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    sqlx::query(
        "INSERT INTO data_providers (id, name_en, name_zh, base_url, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $5)
         ON CONFLICT (id) DO UPDATE SET name_en = $2, name_zh = $3, base_url = $4, status = 'active', updated_at = $5",
    )
    .bind(&def.id)
    .bind(&def.name_en)
    .bind(&def.name_zh)
    .bind(def.base_url.trim_end_matches('/'))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM data_items WHERE provider_id = $1")
        .bind(&def.id)
        .execute(&mut *tx)
        .await?;
    for i in &def.items {
        sqlx::query(
            "INSERT INTO data_items (provider_id, item, title_en, title_zh, description_en, description_zh, legal_basis, requesters, schema)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&def.id)
        .bind(&i.item)
        .bind(&i.title_en)
        .bind(&i.title_zh)
        .bind(&i.description_en)
        .bind(&i.description_zh)
        .bind(&i.legal_basis)
        .bind(serde_json::to_string(&i.requesters)?)
        .bind(i.schema.to_string())
        .execute(&mut *tx)
        .await?;
    }
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "provider.registered",
            actor,
            subject: &format!("provider:{}", def.id),
            detail: serde_json::json!({ "items": def.items.iter().map(|i| &i.item).collect::<Vec<_>>() }),
        },
    )
    .await?;
    tx.commit().await?;
    p.gateway.forget(&def.id);
    Ok(())
}

/// A published item with its provider's names.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// Provider id.
    pub provider: String,
    /// Provider name (English).
    pub provider_en: String,
    /// Provider name (Chinese).
    pub provider_zh: String,
    /// The provider's base URL.
    #[serde(skip)]
    pub base_url: String,
    /// Where the provider publishes the keys it signs items with (`{base_url}/v1/jwks.json`):
    /// a requester verifies each item's signature with them, end to end.
    pub provider_jwks_uri: String,
    /// The item.
    #[serde(flatten)]
    pub def: ItemDef,
}

/// (provider, names, base url, item columns...)
type ItemRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

/// Every published item of active providers.
pub async fn catalogue(p: &Env) -> Result<Vec<Published>> {
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT d.id, d.name_en, d.name_zh, d.base_url, i.item, i.title_en, i.title_zh, i.description_en, i.description_zh, i.legal_basis, i.requesters, i.schema
         FROM data_items i JOIN data_providers d ON d.id = i.provider_id WHERE d.status = 'active' ORDER BY d.id, i.item",
    )
    .fetch_all(p.db.reader())
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Published {
                provider: r.0,
                provider_en: r.1,
                provider_zh: r.2,
                provider_jwks_uri: format!("{}/v1/jwks.json", r.3.trim_end_matches('/')),
                base_url: r.3,
                def: ItemDef {
                    item: r.4,
                    title_en: r.5,
                    title_zh: r.6,
                    description_en: r.7,
                    description_zh: r.8,
                    legal_basis: r.9,
                    requesters: serde_json::from_str(&r.10)?,
                    schema: serde_json::from_str(&r.11)?,
                },
            })
        })
        .collect()
}
