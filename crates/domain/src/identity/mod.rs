//! Residents: the identity record, its personal data sealed at rest; registration, devices,
//! staff, and the resident's rights over their data.
pub mod activation;
pub mod devices;
pub mod hkid;
pub mod profile;
pub mod registration;
pub mod registry;
pub mod rights;
pub mod staff;
pub(crate) mod takeover;
pub mod unseal;
pub mod user_verification;

use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::platform::IdentityPolicy;
use hkid::Hkid;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_proto::profile::{AccountStatus, Level, Profile, ResidentView, VerifiedIdentity};
use iamsmart_store::{AnyConnection, Row};
use serde::Deserialize;

/// The identity capability: residents, their devices and app sessions, registration, staff and
/// the resident's rights. Built with the handles it uses (the `Env`, which it dereferences to,
/// the vault for personal data, the keys for re-wrapping, the registry and the face model for
/// proofing, the relying party for passkeys, notifications for notices to the resident, and
/// the approvals service for requests it opens in the app) and nothing else. Cheap to clone.
#[derive(Clone)]
pub struct Identity {
    /// The database, the clock and randomness.
    pub env: Env,
    /// Personal data at rest.
    pub vault: crate::vault::Vault,
    /// Keys and their lifecycle (rotating the vault's key).
    pub keys: crate::keys::KeyService,
    /// Timings and limits.
    pub policy: std::sync::Arc<IdentityPolicy>,
    /// The Immigration Department's registry.
    pub registry: std::sync::Arc<dyn registry::Registry>,
    /// Face matching (unavailable in builds without the model).
    pub face: std::sync::Arc<dyn iamsmart_face::FaceMatcher>,
    /// WebAuthn relying party (passkeys that prove the resident is present).
    pub rp: std::sync::Arc<iamsmart_crypto::webauthn::RelyingParty>,
    /// Notices to the resident (a new device, a takeover).
    pub notify: crate::notify::Notify,
    /// Requests waiting for the resident's answer in the app.
    pub approvals: crate::authn::approvals::Approvals,
}

impl std::ops::Deref for Identity {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// What the operator API needs to create a resident record directly (sandbox and support use;
/// residents normally register through the app, a kiosk or a counter).
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
    /// The fields the resident maintains.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// `basic` (default) or `plus`.
    #[serde(default)]
    pub level: Option<Level>,
}

impl std::fmt::Debug for NewResident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewResident { .. }")
    }
}

/// A resident as the platform holds them (personal data opened).
#[derive(Clone)]
pub struct Resident {
    /// Opaque id (also the pseudonym used in the audit log: `resident:<id>`).
    pub id: String,
    /// Registry-confirmed fields.
    pub verified: VerifiedIdentity,
    /// Fields the resident maintains.
    pub profile: Profile,
    /// iAM Smart or iAM Smart+.
    pub level: Level,
    /// Active, suspended or closed.
    pub status: AccountStatus,
    /// `app`, `counter`, `kiosk`, `sandbox` or `operator`.
    pub channel: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

impl std::fmt::Debug for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resident {{ id: {}, .. }}", self.id)
    }
}

impl Resident {
    /// The resident's own view of the record.
    pub fn view(&self) -> ResidentView {
        ResidentView {
            id: self.id.clone(),
            level: self.level,
            status: self.status,
            channel: self.channel.clone(),
            verified: self.verified.clone(),
            profile: self.profile.clone(),
            created_at: self.created_at,
        }
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
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
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

/// Sealed columns of `residents`, in the order [`sealed_values`] gives them.
pub(crate) const SEALED: [&str; 6] = [
    "hkid",
    "name_en",
    "name_zh",
    "date_of_birth",
    "gender",
    "profile",
];

/// Check card data as typed or read; returns the parsed HKID.
pub fn check_card(
    hkid: &str,
    name_en: &str,
    name_zh: Option<&str>,
    date_of_birth: &str,
) -> Result<Hkid> {
    let hkid = Hkid::parse(hkid).map_err(|m| invalid("hkid", m))?;
    check_text("name_en", name_en, 200)?;
    if let Some(z) = name_zh {
        check_text("name_zh", z, 100)?;
    }
    check_date(date_of_birth)?;
    Ok(hkid)
}

fn check_verified(v: &VerifiedIdentity) -> Result<Hkid> {
    let hkid = check_card(&v.hkid, &v.name_en, v.name_zh.as_deref(), &v.date_of_birth)?;
    if let Some(g) = &v.gender {
        if !["M", "F", "X"].contains(&g.as_str()) {
            return Err(invalid("gender", "expected M, F or X"));
        }
    }
    Ok(hkid)
}

/// Seal a resident's personal data for row `id`.
async fn sealed_values(
    p: &Identity,
    id: &str,
    v: &VerifiedIdentity,
    profile: &Profile,
) -> Result<Vec<Option<Vec<u8>>>> {
    let profile_json = serde_json::to_vec(profile)
        .map_err(|e| DomainError::Integrity(format!("profile encoding: {e}")))?;
    let values: [Option<&[u8]>; 6] = [
        Some(v.hkid.as_bytes()),
        Some(v.name_en.as_bytes()),
        v.name_zh.as_deref().map(str::as_bytes),
        Some(v.date_of_birth.as_bytes()),
        v.gender.as_deref().map(str::as_bytes),
        Some(&profile_json),
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
                        row: id,
                    },
                    v,
                )
            })
        })
        .collect();
    let mut sealed = p.vault.seal_many(&present).await?.into_iter();
    Ok(values
        .iter()
        .map(|v| v.and_then(|_| sealed.next()))
        .collect())
}

/// A new resident row to insert.
pub(crate) struct NewRecord<'a> {
    pub verified: &'a VerifiedIdentity,
    pub profile: &'a Profile,
    pub level: Level,
    pub channel: &'a str,
}

/// Insert a resident inside the caller's transaction (sealing done before). Returns the id.
/// A second record for the same HKID is a conflict.
pub(crate) async fn insert(
    p: &Identity,
    conn: &mut AnyConnection,
    rec: NewRecord<'_>,
    now: i64,
) -> Result<String> {
    let hkid = check_verified(rec.verified)?;
    let id = format!("r_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 16));
    let index = p.vault.blind_index("hkid", hkid.as_str());
    let canonical = VerifiedIdentity {
        hkid: hkid.display(),
        ..rec.verified.clone()
    };
    let sealed = sealed_values(p, &id, &canonical, rec.profile).await?;
    let res = sqlx::query(
        "INSERT INTO residents (id, hkid_index, hkid, name_en, name_zh, date_of_birth, gender, profile, level, status, channel, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11, $11)",
    )
    .bind(&id)
    .bind(&index)
    .bind(&sealed[0])
    .bind(&sealed[1])
    .bind(&sealed[2])
    .bind(&sealed[3])
    .bind(&sealed[4])
    .bind(&sealed[5])
    .bind(rec.level.as_str())
    .bind(rec.channel)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match res {
        Ok(_) => Ok(id),
        Err(e) => Err(match DomainError::from(e) {
            DomainError::Conflict(_) => {
                DomainError::Conflict("a resident with this HKID is already registered")
            }
            other => other,
        }),
    }
}

/// Replace the registry-confirmed fields of a resident (after fresh proofing), inside the
/// caller's transaction; the profile is kept.
pub(crate) async fn refresh_verified(
    p: &Identity,
    conn: &mut AnyConnection,
    id: &str,
    v: &VerifiedIdentity,
    now: i64,
) -> Result<()> {
    let current = get(p, id).await?;
    let sealed = sealed_values(p, id, v, &current.profile).await?;
    sqlx::query(
        "UPDATE residents SET hkid = $1, name_en = $2, name_zh = $3, date_of_birth = $4, gender = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(&sealed[0])
    .bind(&sealed[1])
    .bind(&sealed[2])
    .bind(&sealed[3])
    .bind(&sealed[4])
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Create a resident record through the operator API. `actor` is who creates it.
pub async fn create(
    p: &Identity,
    new: NewResident,
    actor: &str,
    request_id: Option<&str>,
) -> Result<Resident> {
    let verified = VerifiedIdentity {
        hkid: new.hkid,
        name_en: new.name_en,
        name_zh: new.name_zh,
        date_of_birth: new.date_of_birth,
        gender: new.gender,
    };
    let hkid = check_verified(&verified)?;
    let profile = new.profile.unwrap_or_default();
    profile::check(&profile)?;
    let level = new.level.unwrap_or(Level::Basic);
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let id = insert(
        p,
        &mut tx,
        NewRecord {
            verified: &verified,
            profile: &profile,
            level,
            channel: "operator",
        },
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "resident.registered",
            actor,
            subject: &format!("resident:{id}"),
            detail: serde_json::json!({ "level": level, "channel": "operator" }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Resident {
        id,
        verified: VerifiedIdentity {
            hkid: hkid.display(),
            ..verified
        },
        profile,
        level,
        status: AccountStatus::Active,
        channel: "operator".into(),
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

/// An account's level and standing, without opening any of its personal data; `None` if there
/// is no such account.
pub async fn standing(p: &Env, id: &str) -> Result<Option<(Level, AccountStatus)>> {
    standing_in(&mut *p.db.reader().acquire().await?, id).await
}

/// [`standing`], read through `conn` (a caller's transaction).
pub async fn standing_in(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<(Level, AccountStatus)>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT level, status FROM residents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(level, status)| Ok((stored(&level)?, stored(&status)?)))
        .transpose()
}

/// The level of an active account; `None` if there is none or it is not active.
pub async fn active_level(p: &Env, id: &str) -> Result<Option<Level>> {
    active_level_in(&mut *p.db.reader().acquire().await?, id).await
}

/// [`active_level`], read through `conn` (a caller's transaction).
pub async fn active_level_in(conn: &mut AnyConnection, id: &str) -> Result<Option<Level>> {
    Ok(standing_in(conn, id)
        .await?
        .and_then(|(level, status)| (status == AccountStatus::Active).then_some(level)))
}

/// When a resident's account last changed (milliseconds since the epoch), if it exists.
pub async fn last_modified(p: &Env, id: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT updated_at FROM residents WHERE id = $1")
            .bind(id)
            .fetch_optional(p.db.reader())
            .await?,
    )
}

/// A resident's HKID as registered, opening that field only.
pub async fn hkid_of(p: &Identity, id: &str) -> Result<String> {
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT hkid FROM residents WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db.reader())
        .await?
        .ok_or(DomainError::NotFound)?;
    let opened = p
        .vault
        .open_field(
            &FieldContext {
                table: "residents",
                column: "hkid",
                row: id,
            },
            &sealed,
        )
        .await?;
    text(Some(opened))?.ok_or_else(|| DomainError::Integrity("resident without HKID".into()))
}

/// Load and open a resident record (any status).
pub async fn get(p: &Identity, id: &str) -> Result<Resident> {
    let row = sqlx::query(
        "SELECT id, hkid, name_en, name_zh, date_of_birth, gender, profile, level, status, channel, created_at FROM residents WHERE id = $1",
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
    let verified = VerifiedIdentity {
        hkid: Hkid::parse(&hkid).map(|h| h.display()).unwrap_or(hkid),
        name_en: next()?.unwrap_or_default(),
        name_zh: next()?,
        date_of_birth: next()?.unwrap_or_default(),
        gender: next()?,
    };
    let profile = match next()? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| DomainError::Integrity(format!("stored profile: {e}")))?,
        None => Profile::default(),
    };
    Ok(Resident {
        id: row.try_get(0)?,
        verified,
        profile,
        level: stored(&row.try_get::<String, _>(7)?)?,
        status: stored(&row.try_get::<String, _>(8)?)?,
        channel: row.try_get(9)?,
        created_at: row.try_get(10)?,
    })
}

/// Replace the fields the resident maintains.
pub async fn update_profile(
    p: &Identity,
    id: &str,
    profile: &Profile,
    request_id: Option<&str>,
) -> Result<Resident> {
    profile::check(profile)?;
    let current = get(p, id).await?;
    if current.status != AccountStatus::Active {
        return Err(DomainError::Forbidden("this account is not active"));
    }
    let sealed = sealed_values(p, id, &current.verified, profile).await?;
    let now = p.clock.now_ms();
    let changed: Vec<&str> = profile::changed_fields(&current.profile, profile);
    let mut tx = p.db.begin().await?;
    sqlx::query("UPDATE residents SET profile = $1, updated_at = $2 WHERE id = $3")
        .bind(&sealed[5])
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let subject = format!("resident:{id}");
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "resident.profile_updated",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "fields": changed }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Resident {
        profile: profile.clone(),
        ..current
    })
}

/// Find a resident's id by HKID (through the blind index; the HKID is never stored in clear).
pub async fn find_by_hkid(p: &Identity, hkid: &str) -> Result<Option<String>> {
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
pub async fn count(p: &Env) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents")
        .fetch_one(p.db.reader())
        .await?;
    Ok(n as u64)
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod staff_tests;
#[cfg(test)]
mod takeover_tests;
#[cfg(test)]
pub(crate) mod test_phone;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod unseal_tests;
#[cfg(test)]
mod uv_tests;
