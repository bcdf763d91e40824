//! An index that operators' edits replace while residents search.
//!
//! An [`Index`] never changes. [`LiveIndex`] holds the current one behind an `Arc`: a search
//! takes the `Arc` (a read lock held only to clone it) and runs on that index; an edit checks
//! the edited catalogue, builds a whole new index from it (a few tens of milliseconds for the
//! bundled catalogue) and swaps the `Arc`. Searches already running finish on the index they
//! started with; the next ones see the edit. Edits are serialised, so two operators' changes are
//! applied one after the other rather than one overwriting the other. Nothing is restarted, and
//! nothing is written to disk here: the caller stores the edited catalogue
//! ([`Catalogue::to_toml`] or its own database) and builds a `LiveIndex` from it at start-up.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::catalogue::Catalogue;
use crate::error::Result;
use crate::index::Index;
use crate::model::{Lang, Service};
use crate::search::SearchResults;
use crate::synonyms::Synonyms;

/// The current search index, replaceable without a restart.
#[derive(Debug)]
pub struct LiveIndex {
    current: RwLock<Arc<Index>>,
    edits: Mutex<()>,
}

impl LiveIndex {
    /// Starts with `index`.
    pub fn new(index: Index) -> Self {
        Self {
            current: RwLock::new(Arc::new(index)),
            edits: Mutex::new(()),
        }
    }

    /// The index searches use now.
    pub fn current(&self) -> Arc<Index> {
        // A panic while swapping cannot leave the Arc half-written, so a poisoned lock is fine.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Searches the current index (see [`Index::search`]).
    pub fn search(
        &self,
        query: &str,
        lang_hint: Option<Lang>,
        limit: usize,
    ) -> Result<SearchResults> {
        self.current().search(query, lang_hint, limit)
    }

    fn swap(&self, index: Index) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(index);
    }

    /// Replaces the whole index with one the caller built (say, off the async runtime).
    pub fn replace_index(&self, index: Index) {
        let _edit = self.edits.lock().unwrap_or_else(PoisonError::into_inner);
        self.swap(index);
    }

    /// Replaces the whole catalogue, keeping the synonyms.
    pub fn replace_catalogue(&self, catalogue: &Catalogue) -> Result<()> {
        let _edit = self.edits.lock().unwrap_or_else(PoisonError::into_inner);
        let synonyms = self.current().synonyms().clone();
        self.swap(Index::build_with_synonyms(catalogue, synonyms)?);
        Ok(())
    }

    /// Replaces the synonyms, keeping the catalogue.
    pub fn replace_synonyms(&self, synonyms: Synonyms) -> Result<()> {
        let _edit = self.edits.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current();
        self.swap(Index::build_with_synonyms(current.catalogue(), synonyms)?);
        Ok(())
    }

    /// Adds a service, or replaces the one with the same id. A service that fails the
    /// catalogue's checks is refused and the index stays as it was.
    pub fn upsert_service(&self, service: Service) -> Result<()> {
        let _edit = self.edits.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current();
        let catalogue = current.catalogue().with_service(service)?;
        self.swap(Index::build_with_synonyms(
            &catalogue,
            current.synonyms().clone(),
        )?);
        Ok(())
    }

    /// Removes the service `id`; whether it was there.
    pub fn remove_service(&self, id: &str) -> Result<bool> {
        let _edit = self.edits.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current();
        let (catalogue, removed) = current.catalogue().without_service(id);
        if removed {
            self.swap(Index::build_with_synonyms(
                &catalogue,
                current.synonyms().clone(),
            )?);
        }
        Ok(removed)
    }
}
