//! The bottom of the domain: the database, time and randomness that every capability is built
//! on. A function that needs nothing else takes an [`Env`] (and so can be called with a whole
//! [`crate::Platform`], which dereferences to its `Env`); the capabilities above it are
//! assembled in the `Platform`.
use crate::clock::Clock;
use iamsmart_crypto::rng::Rng;
use iamsmart_store::Db;
use std::sync::Arc;

/// The database, the clock and the source of randomness. Cheap to clone.
#[derive(Clone)]
pub struct Env {
    /// The database.
    pub db: Db,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub rng: Arc<dyn Rng>,
}

impl Env {
    /// A new identifier of kind `T`, from fresh randomness.
    pub fn new_id<T: iamsmart_proto::ids::RandomId>(&self) -> T {
        let mut random = [0u8; iamsmart_proto::ids::RANDOM_BYTES];
        self.rng.fill(&mut random);
        T::from_random(random)
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("backend", &self.db.backend())
            .finish()
    }
}
