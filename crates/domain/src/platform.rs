//! The assembled platform: database, keys, vault, clock and randomness.
use crate::clock::Clock;
use crate::error::{DomainError, Result};
use crate::keys::{KeyPolicy, KeyService};
use crate::vault::Vault;
use iamsmart_crypto::keystore::KeyStore;
use iamsmart_crypto::rng::Rng;
use iamsmart_store::Db;
use std::sync::Arc;

/// Everything a request or a worker needs. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    /// The database.
    pub db: Db,
    /// Keys and their lifecycle.
    pub keys: KeyService,
    /// Personal data at rest.
    pub vault: Vault,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Rng>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("backend", &self.db.backend())
            .finish()
    }
}

/// Name of the settings row holding the master key check value (file key store).
pub const MASTER_CHECK_SETTING: &str = "master_key_check";

impl Platform {
    /// Assemble the platform on a migrated database: create the first keys if needed and open
    /// the vault.
    pub async fn start(
        db: Db,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        policy: KeyPolicy,
    ) -> Result<Self> {
        let keys = KeyService::new(db.clone(), store, clock.clone(), rng.clone(), policy);
        keys.bootstrap().await?;
        let vault = Vault::open(db.clone(), keys.clone(), rng.clone()).await?;
        Ok(Self {
            db,
            keys,
            vault,
            clock,
            rng,
        })
    }

    /// Compare (or on first start record) the file key store's master key check value, so that
    /// a wrong master key is refused before anything is written with it.
    pub async fn check_master_key(db: &Db, check: &[u8]) -> Result<()> {
        let stored: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(MASTER_CHECK_SETTING)
                .fetch_optional(db.reader())
                .await?;
        match stored {
            Some(s) if iamsmart_crypto::hash::ct_eq(&s, check) => Ok(()),
            Some(_) => Err(DomainError::Invalid {
                field: "keys.master_key_file",
                message: "this master key is not the one the database's keys are sealed under; \
                          restore the original master key file (IAMSMART_MASTER_KEY_FILE)"
                    .into(),
            }),
            None => {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(MASTER_CHECK_SETTING)
                    .bind(check)
                    .execute(db.writer())
                    .await?;
                Ok(())
            }
        }
    }
}
