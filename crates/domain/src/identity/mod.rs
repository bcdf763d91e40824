//! Residents: the identity record, its personal data sealed at rest.
pub mod hkid;

use crate::audit::{self, Event};
use crate::error::{DomainError, Result};
use crate::platform::Platform;
use hkid::Hkid;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_store::Row;
use serde::{Deserialize, Serialize};

/// Account level.
pub const LEVELS: &[&str] = &["basic", "plus"];

/// What is needed to create a resident record.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResident {
    /// HKID as printed on the card.
    pub hkid: String,
    /// English name as on the card.
    pub name_en: String,
    /// Chinese name, if any.
    #[serde(default)]
    pub name_zh: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// `M`, `F` or `X`.
    #[serde(default)]
    pub gender: Option<String>,
    /// Residential address.
    #[serde(default)]
    pub address: Option<String>,
    /// `basic` (default) or `plus`.
    #[serde(default)]
    pub level: Option<String>,
}

impl std::fmt::Debug for NewResident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewResident { .. }")
    }
}

/// A resident as the platform holds them (personal data opened).
#[derive(Clone, Serialize)]
pub struct Resident {
    /// Opaque id (also the pseudonym used in the audit log: `resident:<id>`).
    pub id: String,
    /// HKID, canonical display form.
    pub hkid: String,
    /// English name.
    pub name_en: String,
    /// Chinese name.
    pub name_zh: Option<String>,
    /// Date of birth.
    pub date_of_birth: String,
    /// Gender.
    pub gender: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// `basic` or `plus`.
    pub level: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

impl std::fmt::Debug for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resident {{ id: {}, .. }}", self.id)
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: message.into(),
    }
}

fn check_text(field: &'static str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn check_date(v: &str) -> Result<()> {
    let bad = || {
        invalid(
            "date_of_birth",
            "expected a date as YYYY-MM-DD, e.g. 1980-02-29",
        )
    };
    let parts: Vec<&str> = v.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let y: u32 = parts[0].parse().map_err(|_| bad())?;
    let m: u32 = parts[1].parse().map_err(|_| bad())?;
    let d: u32 = parts[2].parse().map_err(|_| bad())?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1900..=2100).contains(&y) || d == 0 || d > days {
        return Err(bad());
    }
    Ok(())
}

const SEALED: [&str; 6] = [
    "hkid",
    "name_en",
    "name_zh",
    "date_of_birth",
    "gender",
    "address",
];

/// Create a resident record. `actor` is who registers them (pseudonymous).
pub async fn create(
    p: &Platform,
    new: NewResident,
    actor: &str,
    request_id: Option<&str>,
) -> Result<Resident> {
    let hkid = Hkid::parse(&new.hkid).map_err(|m| invalid("hkid", m))?;
    check_text("name_en", &new.name_en, 200)?;
    if let Some(z) = &new.name_zh {
        check_text("name_zh", z, 100)?;
    }
    check_date(&new.date_of_birth)?;
    if let Some(g) = &new.gender {
        if !["M", "F", "X"].contains(&g.as_str()) {
            return Err(invalid("gender", "expected M, F or X"));
        }
    }
    if let Some(a) = &new.address {
        check_text("address", a, 500)?;
    }
    let level = new.level.clone().unwrap_or_else(|| "basic".into());
    if !LEVELS.contains(&level.as_str()) {
        return Err(invalid("level", "expected basic or plus"));
    }
    let id = format!("r_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 16));
    let now = p.clock.now_ms();
    let index = p.vault.blind_index("hkid", hkid.as_str());
    let values: [Option<&str>; 6] = [
        Some(hkid.as_str()),
        Some(&new.name_en),
        new.name_zh.as_deref(),
        Some(&new.date_of_birth),
        new.gender.as_deref(),
        new.address.as_deref(),
    ];
    let present: Vec<(FieldContext, &[u8])> = SEALED
        .iter()
        .zip(values.iter())
        .filter_map(|(col, v)| {
            v.map(|v| {
                (
                    FieldContext {
                        table: "residents",
                        column: col,
                        row: &id,
                    },
                    v.as_bytes(),
                )
            })
        })
        .collect();
    let mut sealed_iter = p.vault.seal_many(&present).await?.into_iter();
    let sealed: Vec<Option<Vec<u8>>> = values
        .iter()
        .map(|v| v.and_then(|_| sealed_iter.next()))
        .collect();

    let mut tx = p.db.begin().await?;
    let res = sqlx::query(
        "INSERT INTO residents (id, hkid_index, hkid, name_en, name_zh, date_of_birth, gender, address, level, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $10)",
    )
    .bind(&id)
    .bind(&index)
    .bind(&sealed[0])
    .bind(&sealed[1])
    .bind(&sealed[2])
    .bind(&sealed[3])
    .bind(&sealed[4])
    .bind(&sealed[5])
    .bind(&level)
    .bind(now)
    .execute(&mut *tx)
    .await;
    if let Err(e) = res {
        return Err(match DomainError::from(e) {
            DomainError::Conflict(_) => {
                DomainError::Conflict("a resident with this HKID is already registered")
            }
            other => other,
        });
    }
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "resident.registered",
            actor,
            subject: &format!("resident:{id}"),
            detail: serde_json::json!({ "level": level }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Resident {
        id,
        hkid: hkid.display(),
        name_en: new.name_en,
        name_zh: new.name_zh,
        date_of_birth: new.date_of_birth,
        gender: new.gender,
        address: new.address,
        level,
        status: "active".into(),
        created_at: now,
    })
}

fn text(v: Option<zeroize::Zeroizing<Vec<u8>>>) -> Result<Option<String>> {
    v.map(|b| {
        String::from_utf8(b.to_vec())
            .map_err(|_| DomainError::Integrity("sealed text is not UTF-8".into()))
    })
    .transpose()
}

/// Load and open a resident record.
pub async fn get(p: &Platform, id: &str) -> Result<Resident> {
    let row = sqlx::query(
        "SELECT id, hkid, name_en, name_zh, date_of_birth, gender, address, level, status, created_at FROM residents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?
    .ok_or(DomainError::NotFound)?;
    let blobs: Vec<Option<Vec<u8>>> = (1..=6)
        .map(|i| row.try_get(i))
        .collect::<std::result::Result<_, _>>()?;
    let items: Vec<(FieldContext, Option<&[u8]>)> = SEALED
        .iter()
        .zip(blobs.iter())
        .map(|(col, b)| {
            (
                FieldContext {
                    table: "residents",
                    column: col,
                    row: id,
                },
                b.as_deref(),
            )
        })
        .collect();
    let mut opened = p.vault.open_many(&items).await?.into_iter();
    let mut next = || text(opened.next().flatten());
    let hkid = next()?.ok_or_else(|| DomainError::Integrity("resident without HKID".into()))?;
    Ok(Resident {
        id: row.try_get(0)?,
        hkid: Hkid::parse(&hkid).map(|h| h.display()).unwrap_or(hkid),
        name_en: next()?.unwrap_or_default(),
        name_zh: next()?,
        date_of_birth: next()?.unwrap_or_default(),
        gender: next()?,
        address: next()?,
        level: row.try_get(7)?,
        status: row.try_get(8)?,
        created_at: row.try_get(9)?,
    })
}

/// Find a resident's id by HKID (through the blind index; the HKID is never stored in clear).
pub async fn find_by_hkid(p: &Platform, hkid: &str) -> Result<Option<String>> {
    let hkid = Hkid::parse(hkid).map_err(|m| invalid("hkid", m))?;
    let index = p.vault.blind_index("hkid", hkid.as_str());
    Ok(
        sqlx::query_scalar("SELECT id FROM residents WHERE hkid_index = $1")
            .bind(index)
            .fetch_optional(p.db.reader())
            .await?,
    )
}

/// How many residents are registered.
pub async fn count(p: &Platform) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents")
        .fetch_one(p.db.reader())
        .await?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests;
