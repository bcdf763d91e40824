//! Named values the platform keeps about itself (the `settings` table): the master key's check
//! value, the blind-index key (sealed), the root CA's CRL, markers of one-off migrations. Each is
//! written by one capability and read by few; this module is the only one that queries the table.
use crate::error::Result;
use iamsmart_store::{AnyConnection, Db};

/// A setting's value, if it is set.
pub async fn get(db: &Db, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(db.reader())
            .await?,
    )
}

/// Whether a setting is set.
pub async fn is_set(db: &Db, name: &str) -> Result<bool> {
    Ok(get(db, name).await?.is_some())
}

/// Set a value unless one is set already, and return the one that is set afterwards: of several
/// processes starting at once, one value wins and all of them get it.
pub async fn set_once(db: &Db, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(db.writer())
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(db.writer())
            .await?,
    )
}

/// Set a new value inside the caller's transaction; one already set is a conflict.
pub async fn insert(conn: &mut AnyConnection, name: &str, value: &[u8]) -> Result<()> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
        .bind(name)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Replace a value inside the caller's transaction if it is still `old` (compare and swap);
/// whether it was replaced.
pub async fn replace(conn: &mut AnyConnection, name: &str, old: &[u8], new: &[u8]) -> Result<bool> {
    Ok(
        sqlx::query("UPDATE settings SET value = $1 WHERE name = $2 AND value = $3")
            .bind(new)
            .bind(name)
            .bind(old)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Remove a setting (tests that replay a one-off migration).
#[cfg(any(test, feature = "testing"))]
pub async fn remove(db: &Db, name: &str) -> Result<()> {
    sqlx::query("DELETE FROM settings WHERE name = $1")
        .bind(name)
        .execute(db.writer())
        .await?;
    Ok(())
}
