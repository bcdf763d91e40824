//! Storage for the platform: one query set for SQLite (embedded default) and PostgreSQL
//! (scale-out), through sqlx's `Any` driver.
//!
//! Every query is written once with `$1`-style parameters, which both databases accept, and only
//! uses column types both share: `BIGINT`, `TEXT` and bytes (`BLOB` / `BYTEA`). Timestamps are
//! Unix milliseconds. The two migration folders (`migrations/sqlite`, `migrations/postgres`) must
//! describe the same schema; a test compares them.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL` plus group commit (a response waits for one shared flush of the WAL), one writer connection and a pool of
//! read-only connections; PostgreSQL has a write pool and a read pool too.

mod db;
mod error;
pub mod schema;

pub use db::{Backend, Db, DbOptions};
pub use error::{classify, StoreError};
pub use sqlx;
pub use sqlx::any::AnyRow;
pub use sqlx::AnyConnection;
pub use sqlx::{Any, Row, Transaction};

/// The `VALUES` rows of a multi-row insert: `rows` rows of `columns` parameters each, numbered
/// from `$1` (`($1, $2), ($3, $4)` for two rows of two), for one statement instead of one per row.
pub fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_rows_number_every_parameter_once() {
        assert_eq!(super::value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::value_rows(1, 1), "($1)");
        assert_eq!(super::value_rows(0, 3), "");
    }
}
