//! Test support shared by the crates' tests.
//!
//! - [`TestDb`]: a fresh, migrated database per test, on the engine that
//!   `IAMSMART_TEST_DATABASE_URL` names (`sqlite` by default, or a `postgres://` server URL under
//!   which a new database is created for each test).
//! - [`free_port`]: a free TCP port on 127.0.0.1.

use iamsmart_store::{Db, DbOptions};
use std::path::PathBuf;

/// A fresh database for one test. The SQLite file lives in a temporary directory removed on drop;
/// PostgreSQL databases are named `iamsmart_t_*` and dropped by `scripts/test`.
pub struct TestDb {
    /// The connected, migrated database.
    pub db: Db,
    /// Its URL (to hand to a server process).
    pub url: String,
    /// The temporary directory (SQLite file, or nothing for PostgreSQL).
    pub dir: tempfile::TempDir,
}

/// The engine the test run is for: `"sqlite"` or a PostgreSQL server URL.
pub fn engine() -> String {
    std::env::var("IAMSMART_TEST_DATABASE_URL").unwrap_or_else(|_| "sqlite".into())
}

/// Whether this run is against PostgreSQL.
pub fn is_postgres() -> bool {
    engine().starts_with("postgres")
}

fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "iamsmart_t_{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Create an empty database on the test engine and return its URL (not migrated).
pub async fn create_database(dir: &std::path::Path) -> anyhow::Result<String> {
    create_database_on(&engine(), dir).await
}

/// Create an empty database on `engine` (`sqlite` or a PostgreSQL server URL) and return its URL.
pub async fn create_database_on(engine: &str, dir: &std::path::Path) -> anyhow::Result<String> {
    if engine.starts_with("postgres") {
        let name = unique_name();
        let admin = Db::connect(engine, &DbOptions::default()).await?;
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .execute(admin.writer())
            .await?;
        admin.close().await;
        let base = engine.trim_end_matches('/');
        let base = match base.rfind('/') {
            Some(i) if base[..i].ends_with('/') => base.to_string(),
            Some(i) => base[..i].to_string(),
            None => base.to_string(),
        };
        Ok(format!("{base}/{name}"))
    } else {
        let path: PathBuf = dir.join("iamsmart.db");
        Ok(format!("sqlite://{}", path.display()))
    }
}

impl TestDb {
    /// A new migrated database.
    pub async fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = create_database(dir.path()).await?;
        let db = Db::connect(&url, &DbOptions::default()).await?;
        db.migrate().await?;
        Ok(Self { db, url, dir })
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; race-prone only in theory).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}
