use crate::error::{classify, StoreError};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections in the read pool (and, on PostgreSQL, in the write pool too).
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for a lock held by another process.
    pub busy_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The database: a writer pool and a reader pool (on SQLite the writer has one connection;
/// on PostgreSQL each pool has `max_connections`).
#[derive(Debug, Clone)]
pub struct Db {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    sync: Option<std::sync::Arc<GroupSync>>,
}

/// Group commit for SQLite: commits do not wait for the disk (`synchronous = NORMAL` in WAL
/// mode); instead, before a request is answered, [`Db::durable`] makes every commit so far
/// durable with one `fsync` of the write-ahead log, shared by every request waiting at that
/// moment. A commit is acknowledged only after it is on disk, and concurrent requests share the
/// cost of the disk's flush instead of queueing one flush each behind the single writer.
#[derive(Debug)]
struct GroupSync {
    wal: std::path::PathBuf,
    requested: std::sync::atomic::AtomicU64,
    completed: std::sync::atomic::AtomicU64,
    flushes: std::sync::atomic::AtomicU64,
    lock: tokio::sync::Mutex<()>,
}

impl GroupSync {
    async fn barrier(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let ticket = self.requested.fetch_add(1, SeqCst) + 1;
        let _one_at_a_time = self.lock.lock().await;
        if self.completed.load(SeqCst) >= ticket {
            return Ok(()); // a flush that started after this commit has finished
        }
        let covers = self.requested.load(SeqCst);
        let wal = self.wal.clone();
        let r = tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        })
        .await
        .map_err(|e| StoreError::Other(format!("flush task: {e}")))?;
        r.map_err(|e| StoreError::ReadOnly(format!("cannot flush the write-ahead log: {e}")))?;
        self.completed.fetch_max(covers, SeqCst);
        self.flushes.fetch_add(1, SeqCst);
        Ok(())
    }
}

/// The file path of a `sqlite://PATH?...` URL.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

impl Db {
    /// Connect to `url` (`sqlite://PATH` or `postgres://...`). Nothing is written to the
    /// database (a SQLite file is created if missing).
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("sqlite:") {
            let base = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            let busy = opts.busy_timeout.as_millis();
            let writer_setup = format!(
                "PRAGMA busy_timeout = {busy}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            );
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .acquire_timeout(opts.acquire_timeout)
                .after_connect(move |conn, _| {
                    let setup = writer_setup.clone();
                    Box::pin(async move {
                        conn.execute(setup.as_str()).await?;
                        Ok(())
                    })
                })
                .connect(&base)
                .await
                .map_err(classify)?;
            // Touch the writer once so that WAL mode is set before readers open the file.
            write.acquire().await.map_err(classify)?;
            let reader_setup = format!(
                "PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON; PRAGMA query_only = ON;"
            );
            let read = AnyPoolOptions::new()
                .max_connections(opts.max_connections.max(1))
                .acquire_timeout(opts.acquire_timeout)
                .after_connect(move |conn, _| {
                    let setup = reader_setup.clone();
                    Box::pin(async move {
                        conn.execute(setup.as_str()).await?;
                        Ok(())
                    })
                })
                .connect_lazy(&base)
                .map_err(classify)?;
            let sync = sqlite_file(url).map(|db| {
                let mut wal = db.into_os_string();
                wal.push("-wal");
                std::sync::Arc::new(GroupSync {
                    wal: wal.into(),
                    requested: 0.into(),
                    completed: 0.into(),
                    flushes: 0.into(),
                    lock: tokio::sync::Mutex::new(()),
                })
            });
            Ok(Db {
                backend: Backend::Sqlite,
                write,
                read,
                sync,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Two pools, as on SQLite: a request holding a write transaction may read through
            // the read pool (the grant, the resident), and nothing holds a read connection
            // while it waits for a write one, so requests can never wait on each other in a
            // circle. With one shared pool, as many concurrent transactions as connections
            // each waited for a second connection until the pool timed out.
            let pool = |n: u32| {
                AnyPoolOptions::new()
                    .max_connections(n.max(2))
                    .acquire_timeout(opts.acquire_timeout)
                    .connect(url)
            };
            let write = pool(opts.max_connections).await.map_err(classify)?;
            let read = pool(opts.max_connections).await.map_err(classify)?;
            Ok(Db {
                backend: Backend::Postgres,
                write,
                read,
                sync: None,
            })
        } else {
            Err(StoreError::Other(
                "database URL must start with sqlite: or postgres://".into(),
            ))
        }
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool to write through (one connection on SQLite).
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// The pool to read through.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Make every commit so far durable before answering (SQLite: one shared flush of the
    /// write-ahead log; PostgreSQL commits are durable already).
    pub async fn durable(&self) -> Result<(), StoreError> {
        match &self.sync {
            Some(s) => s.barrier().await,
            None => Ok(()),
        }
    }

    /// How many group flushes this handle has made (SQLite), for metrics and tests.
    pub fn flushes(&self) -> u64 {
        self.sync
            .as_ref()
            .map_or(0, |s| s.flushes.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Start a write transaction.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        // Counted per request by the statement budget test (SQLite's driver does not log its
        // BEGIN and COMMIT as statements; PostgreSQL's does).
        tracing::debug!(target: "iamsmart_store::transaction", "begin");
        self.write.begin().await.map_err(classify)
    }

    /// Apply the migrations of this engine.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let m = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        m.run(&self.write).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => match classify(inner) {
                StoreError::Other(s) => StoreError::Migrate(s),
                other => other,
            },
            other => StoreError::Migrate(other.to_string()),
        })
    }

    /// Whether the migrations table exists (false on a fresh database).
    pub async fn is_initialised(&self) -> Result<bool, StoreError> {
        let q = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let n: i64 = sqlx::query_scalar(q)
            .fetch_one(&self.read)
            .await
            .map_err(classify)?;
        Ok(n > 0)
    }

    /// A cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: Option<AnyRow> = sqlx::query("SELECT 1")
            .fetch_optional(&self.read)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Pool sizes for metrics: (writer size, writer idle, reader size, reader idle).
    pub fn pool_stats(&self) -> (u32, usize, u32, usize) {
        (
            self.write.size(),
            self.write.num_idle(),
            self.read.size(),
            self.read.num_idle(),
        )
    }

    /// Close both pools (waits for connections in use to be returned), after making every
    /// commit durable.
    pub async fn close(&self) {
        if let Err(e) = self.durable().await {
            tracing::error!(error = %e, "flush before closing failed");
        }
        self.write.close().await;
        self.read.close().await;
    }
}
