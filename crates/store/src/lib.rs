//! Storage for the platform: one query set for SQLite (embedded default) and PostgreSQL
//! (scale-out), through sqlx's `Any` driver.
//!
//! Every query is written once with `$1`-style parameters, which both databases accept, and only
//! uses column types both share: `BIGINT`, `TEXT` and bytes (`BLOB` / `BYTEA`). Timestamps are
//! Unix milliseconds. The two migration folders (`migrations/sqlite`, `migrations/postgres`) must
//! describe the same schema; a test compares them.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL` plus group commit (a response waits for one shared flush of the WAL), one writer connection and a pool of
//! read-only connections; PostgreSQL uses one pool for both.

mod db;
mod error;
pub mod schema;

pub use db::{Backend, Db, DbOptions};
pub use error::{classify, StoreError};
pub use sqlx;
pub use sqlx::any::AnyRow;
pub use sqlx::AnyConnection;
pub use sqlx::{Any, Row, Transaction};
