//! The single portal: the catalogue of online services as the platform keeps it, its search,
//! residents' favourites and one-tap entry into services.
//!
//! The catalogue is the bundled one (`iamsmart-catalogue`) with the operator's edits laid over
//! it in order (`catalogue_edits`: the whole service as JSON, or a removal). The search index
//! is built on first use (so that a process which never shows the portal never pays for it)
//! and replaced whole, behind an `Arc`, after every edit; other processes pick edits up at
//! [`Portal::refresh`], which the workers call.
pub mod favourites;

use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::oidc::clients;
use iamsmart_catalogue::{Catalogue, Index, LiveIndex, SearchResults, Service, Synonyms};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub use iamsmart_catalogue as catalogue;

/// The portal's catalogue service: built with the `Env` (the catalogue and its edits are in the
/// database), it keeps this process's live search index and the last edit it includes.
pub struct Portal {
    env: Env,
    live: tokio::sync::OnceCell<LiveIndex>,
    /// `seq` of the last edit in the live index (0: none).
    loaded: AtomicI64,
    /// One rebuild at a time.
    rebuild: tokio::sync::Mutex<()>,
}

impl Portal {
    /// The service on `env`; its index is built at first use.
    pub fn new(env: Env) -> Self {
        Self {
            env,
            live: tokio::sync::OnceCell::new(),
            loaded: AtomicI64::new(0),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }
}

impl std::ops::Deref for Portal {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("loaded_edit", &self.loaded.load(Ordering::Relaxed))
            .finish()
    }
}

fn catalogue_error(e: iamsmart_catalogue::Error) -> DomainError {
    match e {
        // The field as the catalogue names it (`url`, `name`, `requirements.documents`...), so
        // that an editor's form can show the error next to it.
        iamsmart_catalogue::Error::Invalid { field, problem, .. } => DomainError::Invalid {
            field,
            message: problem,
        },
        iamsmart_catalogue::Error::Syntax { .. } | iamsmart_catalogue::Error::DuplicateId(_) => {
            DomainError::Invalid {
                field: "service",
                message: e.to_string(),
            }
        }
        other => DomainError::Store(format!("catalogue: {other}")),
    }
}

/// The bundled catalogue with every stored edit applied; and the last edit's `seq`.
async fn load(p: &Env) -> Result<(Catalogue, i64)> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT seq, service_id, service FROM catalogue_edits ORDER BY seq")
            .fetch_all(p.db.reader())
            .await?;
    let mut catalogue = Catalogue::bundled().map_err(catalogue_error)?;
    let mut last = 0;
    for (seq, id, service) in rows {
        last = seq;
        match service {
            None => catalogue = catalogue.without_service(&id).0,
            Some(json) => {
                let applied = serde_json::from_str::<Service>(&json)
                    .map_err(|e| e.to_string())
                    .and_then(|s| catalogue.with_service(s).map_err(|e| e.to_string()));
                match applied {
                    Ok(c) => catalogue = c,
                    // An edit this version can no longer read is left out, not fatal.
                    Err(e) => {
                        tracing::warn!(seq, service = %id, error = %e, "catalogue edit skipped");
                    }
                }
            }
        }
    }
    Ok((catalogue, last))
}

async fn build(catalogue: Catalogue) -> Result<Index> {
    tokio::task::spawn_blocking(move || {
        let synonyms = Synonyms::bundled().map_err(catalogue_error)?;
        Index::build_with_synonyms(&catalogue, synonyms).map_err(catalogue_error)
    })
    .await
    .map_err(|e| DomainError::Store(format!("catalogue index: {e}")))?
}

impl Portal {
    async fn live(&self) -> Result<&LiveIndex> {
        self.live
            .get_or_try_init(|| async {
                let (catalogue, seq) = load(&self.env).await?;
                let index = build(catalogue).await?;
                self.loaded.store(seq, Ordering::SeqCst);
                Ok(LiveIndex::new(index))
            })
            .await
    }

    /// The current index (and through it the catalogue).
    pub async fn index(&self) -> Result<Arc<Index>> {
        Ok(self.live().await?.current())
    }

    /// Searches the catalogue (see [`Index::search`]): hostile or empty text is answered, never
    /// an error.
    pub async fn search(
        &self,
        query: &str,
        lang: Option<iamsmart_catalogue::Lang>,
        limit: usize,
    ) -> Result<(Arc<Index>, SearchResults)> {
        let index = self.index().await?;
        let results = index
            .search(query, lang, limit)
            .map_err(|e| DomainError::Store(format!("catalogue search: {e}")))?;
        Ok((index, results))
    }

    /// Picks up edits made by other processes. Cheap when there are none.
    pub async fn refresh(&self) -> Result<bool> {
        let Some(live) = self.live.get() else {
            return Ok(false);
        };
        let _one = self.rebuild.lock().await;
        self.catch_up(live).await
    }

    /// With the rebuild lock held: reloads when the database has edits this index lacks.
    async fn catch_up(&self, live: &LiveIndex) -> Result<bool> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM catalogue_edits")
            .fetch_one(self.db.reader())
            .await?;
        if last.unwrap_or(0) <= self.loaded.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.reload(live).await?;
        Ok(true)
    }

    async fn reload(&self, live: &LiveIndex) -> Result<()> {
        let (catalogue, seq) = load(&self.env).await?;
        live.replace_index(build(catalogue).await?);
        self.loaded.store(seq, Ordering::SeqCst);
        Ok(())
    }

    /// With the rebuild lock held, after `seq` was stored over `updated`: the new index is
    /// `updated` when no other process slipped an edit in first, else everything reread.
    async fn publish(&self, live: &LiveIndex, updated: Catalogue, seq: i64) -> Result<()> {
        if seq == self.loaded.load(Ordering::SeqCst) + 1 {
            live.replace_index(build(updated).await?);
            self.loaded.store(seq, Ordering::SeqCst);
            Ok(())
        } else {
            self.reload(live).await
        }
    }

    /// Adds a service or replaces the one with its id; checked first (the error names the
    /// field), stored and audited, then searchable at once.
    pub async fn upsert(&self, service: Service, actor: &str) -> Result<()> {
        let live = self.live().await?;
        let _one = self.rebuild.lock().await;
        self.catch_up(live).await?;
        let updated = live
            .current()
            .catalogue()
            .with_service(service.clone())
            .map_err(catalogue_error)?;
        let existed = live.current().catalogue().get(&service.id).is_some();
        let seq = self
            .record(
                &service.id,
                Some(&serde_json::to_string(&service)?),
                actor,
                existed,
            )
            .await?;
        self.publish(live, updated, seq).await
    }

    /// Removes a service; `NotFound` when there is none with that id.
    pub async fn remove(&self, id: &str, actor: &str) -> Result<()> {
        let live = self.live().await?;
        let _one = self.rebuild.lock().await;
        self.catch_up(live).await?;
        let (updated, found) = live.current().catalogue().without_service(id);
        if !found {
            return Err(DomainError::NotFound);
        }
        let seq = self.record(id, None, actor, true).await?;
        self.publish(live, updated, seq).await
    }

    /// Stores one edit under the next number. Two processes editing at the same instant both
    /// read the same `MAX(seq)`: the second insert breaks the primary key (PostgreSQL) or finds
    /// its snapshot stale (SQLite), and is tried again with the new number, so neither edit is
    /// lost and the editor sees no error. Numbers stay dense and commit in order, which is what
    /// `refresh` relies on to find edits it has not applied.
    async fn record(
        &self,
        id: &str,
        service: Option<&str>,
        actor: &str,
        existed: bool,
    ) -> Result<i64> {
        const ATTEMPTS: u32 = 8;
        let mut attempt = 1;
        loop {
            match self.record_once(id, service, actor, existed).await {
                Err(DomainError::Conflict(_) | DomainError::Unavailable(_))
                    if attempt < ATTEMPTS =>
                {
                    tracing::debug!(attempt, service = %id, "catalogue edit raced another; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn record_once(
        &self,
        id: &str,
        service: Option<&str>,
        actor: &str,
        existed: bool,
    ) -> Result<i64> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM catalogue_edits")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO catalogue_edits (seq, service_id, service, edited_by, edited_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(seq)
        .bind(id)
        .bind(service)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let kind = match (service, existed) {
            (None, _) => "catalogue.service_removed",
            (Some(_), true) => "catalogue.service_updated",
            (Some(_), false) => "catalogue.service_added",
        };
        audit::append(
            &mut tx,
            now,
            None,
            &Event {
                kind,
                actor,
                subject: &format!("service:{id}"),
                detail: serde_json::json!({ "edit": seq }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(seq)
    }
}

/// Where one-tap entry into a service starts: the service's `initiate_login_uri` with the
/// platform as issuer and the service's address as target (OpenID Connect Core 4). `None`
/// when the service does not offer one-tap login, is not a client of this platform or has no
/// such address; the portal then links to the service's own address.
pub async fn one_tap_url(p: &crate::oidc::Oidc, service: &Service) -> Result<Option<String>> {
    if !service.features.one_tap_login {
        return Ok(None);
    }
    let Some(client_id) = service.client_id.as_deref() else {
        return Ok(None);
    };
    let Some(client) = clients::named(p, client_id).await? else {
        return Ok(None);
    };
    let Some(start) = client.meta.initiate_login_uri.as_deref() else {
        return Ok(None);
    };
    let mut url = url::Url::parse(start).map_err(|e| DomainError::Invalid {
        field: "initiate_login_uri",
        message: e.to_string(),
    })?;
    url.query_pairs_mut()
        .append_pair("iss", &p.provider.policy.issuer)
        .append_pair("target_link_uri", &service.url);
    Ok(Some(url.into()))
}

#[cfg(test)]
mod tests;
