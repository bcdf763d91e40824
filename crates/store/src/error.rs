use thiserror::Error;

/// A storage failure, classified by what the caller should do about it.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached or is overloaded: try again later (HTTP 503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (the thing already exists).
    #[error("already exists")]
    Conflict,
    /// The database file or directory cannot be written.
    #[error("the database cannot be written: {0}")]
    ReadOnly(String),
    /// Text the database cannot hold (PostgreSQL refuses a NUL character in text): bad input,
    /// never a fault of the platform (HTTP 400).
    #[error("the text contains a character that cannot be stored (a NUL character)")]
    BadText,
    /// The stored schema is not one this program understands.
    #[error("migration failed: {0}")]
    Migrate(String),
    /// Any other database error (a bug or corruption).
    #[error("database error: {0}")]
    Other(String),
}

/// Classify a sqlx error.
pub fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict;
            }
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let msg = db.message().to_string();
            // PostgreSQL: class 08 connection exceptions, 57P01-03 admin shutdown / cannot connect now,
            // 53xxx insufficient resources. SQLite: SQLITE_BUSY(5), SQLITE_LOCKED(6), SQLITE_READONLY(8),
            // SQLITE_IOERR(10), SQLITE_FULL(13), SQLITE_CANTOPEN(14).
            match code.as_str() {
                c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => {
                    StoreError::Unavailable(msg)
                }
                // character_not_in_repertoire (a NUL byte in text), untranslatable_character.
                "22021" | "22P05" => StoreError::BadText,
                "5" | "6" | "261" | "517" => StoreError::Unavailable(msg),
                "8" | "1032" | "13" | "14" => StoreError::ReadOnly(msg),
                c if c == "10" || c.parse::<i64>().map(|n| n & 0xff == 10).unwrap_or(false) => {
                    StoreError::ReadOnly(msg)
                }
                _ => StoreError::Other(format!("{code} {msg}")),
            }
        }
        _ => StoreError::Other(e.to_string()),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}
