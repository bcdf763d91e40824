//! A resident's favourite services, shown first on the portal's home page.
use super::Portal;
use crate::env::Env;
use crate::error::{DomainError, Result};

/// The most favourites one resident keeps.
pub const MAX_FAVOURITES: i64 = 50;

/// Marks a service as a favourite (again is fine). The service must be in the catalogue.
pub async fn add(portal: &Portal, resident_id: &str, service_id: &str) -> Result<()> {
    let index = portal.index().await?;
    if index.catalogue().get(service_id).is_none() {
        return Err(DomainError::NotFound);
    }
    let mut tx = portal.db.begin().await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM favourite_services WHERE resident_id = $1")
            .bind(resident_id)
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_FAVOURITES {
        return Err(DomainError::Refused {
            code: "too-many-favourites",
            message: "You have 50 favourite services; remove one before adding another",
        });
    }
    sqlx::query(
        "INSERT INTO favourite_services (resident_id, service_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (resident_id, service_id) DO NOTHING",
    )
    .bind(resident_id)
    .bind(service_id)
    .bind(portal.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// No longer a favourite (whether it was or not).
pub async fn remove(p: &Env, resident_id: &str, service_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM favourite_services WHERE resident_id = $1 AND service_id = $2")
        .bind(resident_id)
        .bind(service_id)
        .execute(p.db.writer())
        .await?;
    Ok(())
}

/// The resident's favourites, most recently added first (ids; services since removed from
/// the catalogue are left out by the caller).
pub async fn list(p: &Env, resident_id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT service_id FROM favourite_services WHERE resident_id = $1 ORDER BY created_at DESC, service_id",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?)
}

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &["favourite_services"];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM favourite_services WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
