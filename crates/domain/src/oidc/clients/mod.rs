//! Clients (online services): registration by an operator or through dynamic registration
//! (RFC 7591/7592), their metadata and rules, and their keys.
//!
//! Profiles: `fapi2` (the default) requires PAR, PKCE S256, `private_key_jwt` and DPoP-bound
//! tokens; `basic` allows `client_secret_basic` or `private_key_jwt` with PKCE S256, for small
//! services. Subjects are pairwise per sector (the redirect URIs' host) unless the operator
//! approved public subjects for a government client that needs them.
mod metadata;
mod registration;

pub use metadata::{
    check_metadata, check_uri, parse_jwks, ClientMetadata, ClientProfile, RequesterType,
    API_AUTH_METHOD,
};
pub use registration::{
    check_registration_token, disable, issue_initial_token, register, update, use_initial_token,
    Registered,
};

use super::error::{OAuthError, OResult};
use crate::env::Env;
use crate::error::{stored, DomainError};
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{Alg, PublicJwk};
use iamsmart_proto::i18n::Localized;
pub use iamsmart_proto::ids::ClientId;
use iamsmart_store::Row;
use metadata::declared_sector;
use std::collections::HashMap;
use std::sync::Mutex;

/// Grant type of CIBA.
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// A registered client that may act (disabled clients are not loaded: [`get`] answers `None`).
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: ClientId,
    /// Metadata.
    pub meta: ClientMetadata,
    /// SHA-256 of the secret (basic clients with `client_secret_basic`).
    pub secret_hash: Option<Vec<u8>>,
    /// Registered by the operator (rather than by the service itself through dynamic
    /// registration, which nobody checked): residents are told when it is not.
    pub vetted: bool,
    /// The sector fixed at registration (`None` for clients registered before it was kept).
    pub fixed_sector: Option<String>,
}

/// A client's names in every language from its stored registration (the `metadata` column of
/// `clients`, read by listings that join it); `fallback` when there is none.
pub fn names_from_stored(metadata: Option<&str>, fallback: &str) -> Localized {
    metadata
        .and_then(|m| serde_json::from_str::<ClientMetadata>(m).ok())
        .map(|m| m.names())
        .unwrap_or_else(|| Localized::en(fallback))
}

impl Client {
    /// The client's requester type at the gateway.
    pub fn requester_type(&self) -> RequesterType {
        self.meta
            .iamsmart_requester_type
            .unwrap_or(RequesterType::Commercial)
    }

    /// The client's encryption key (`use`: `enc`, EC P-256) from its registered keys, if any.
    pub async fn encryption_key(&self, p: &Oidc) -> OResult<Option<PublicJwk>> {
        let has_keys = self.meta.jwks.is_some() || self.meta.jwks_uri.is_some();
        if !has_keys {
            return Ok(None);
        }
        Ok(keys(p, self, false).await?.into_iter().find(|k| {
            k.use_.as_deref() == Some("enc") && k.kty == "EC" && k.crv.as_deref() == Some("P-256")
        }))
    }

    /// Whether this is a FAPI 2.0 client.
    pub fn fapi(&self) -> bool {
        self.meta.iamsmart_profile == ClientProfile::Fapi2
    }
    /// The sector of pairwise subjects: fixed at registration (the host of the redirect URIs,
    /// or of the verified `sector_identifier_uri`).
    pub fn sector(&self) -> String {
        self.fixed_sector
            .clone()
            .unwrap_or_else(|| declared_sector(&self.meta).unwrap_or_else(|| self.id.to_string()))
    }
    /// The sector whose subjects this client receives: its pairwise sector, or
    /// [`crate::oidc::claims::PUBLIC_SECTOR`] for a client with public subjects.
    pub fn subject_sector(&self) -> String {
        if self.meta.subject_type == "pairwise" {
            self.sector()
        } else {
            crate::oidc::claims::PUBLIC_SECTOR.to_string()
        }
    }
    /// The ID token signing algorithm.
    pub fn id_token_alg(&self) -> Alg {
        self.meta
            .id_token_signed_response_alg
            .parse()
            .unwrap_or(Alg::ES256)
    }
    /// Whether the client may use a grant type.
    pub fn has_grant(&self, g: &str) -> bool {
        self.meta.grant_types.iter().any(|x| x == g)
    }
}

/// What a resident's pages call a service: its registered name and its names in every language
/// registered.
#[derive(Debug, Clone)]
pub struct ServiceNames {
    /// The registered name (English).
    pub name: String,
    /// Every language registered.
    pub names: Localized,
}

impl ServiceNames {
    /// The names of `names_of`'s answer for `id`; an unknown client is called by its id.
    pub fn of(found: &HashMap<String, ServiceNames>, id: &str) -> Self {
        found.get(id).cloned().unwrap_or_else(|| Self {
            name: id.to_string(),
            names: Localized::en(id),
        })
    }
}

/// The names of these clients, whatever their status (a resident's history names services
/// disabled since); ids that were never registered are absent.
pub async fn names_of(p: &Env, ids: &[&str]) -> Result<HashMap<String, ServiceNames>, DomainError> {
    let mut wanted: Vec<&str> = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = HashMap::with_capacity(wanted.len());
    // In chunks, so that a long list stays within every engine's limit on parameters.
    for chunk in wanted.chunks(100) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, name, metadata FROM clients WHERE id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String, Option<String>)>(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for (id, name, metadata) in q.fetch_all(p.db.reader()).await? {
            let names = names_from_stored(metadata.as_deref(), &name);
            out.insert(id, ServiceNames { name, names });
        }
    }
    Ok(out)
}

/// The active clients among these ids, in the order given, read from the database in one query
/// per hundred ids (for pages that list a resident's services, not for the paths a login takes:
/// those use [`get`] and its cache).
pub async fn active_among(p: &Env, ids: &[String]) -> Result<Vec<Client>, DomainError> {
    let mut found: HashMap<String, Client> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, metadata, secret_hash, status, created_by, sector FROM clients WHERE id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(p.db.reader()).await? {
            let id: ClientId = row.try_get(0)?;
            if let Some(c) = active_from_row(&id, &row, 1)? {
                found.insert(id.to_string(), c);
            }
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Load an active client.
pub async fn get(p: &Oidc, id: &ClientId) -> Result<Option<Client>, DomainError> {
    if let Some(c) = p.provider.clients.get(id) {
        return Ok(Some(c));
    }
    let found = load(p, id).await?;
    if let Some(c) = &found {
        p.provider.clients.put(c);
    }
    Ok(found)
}

/// Load an active client named by text from outside (a form, a header, a token's `iss`): text
/// that is not a client id names no client, as an unknown id does.
pub async fn named(p: &Oidc, text: &str) -> Result<Option<Client>, DomainError> {
    match ClientId::parse(text) {
        Ok(id) => get(p, &id).await,
        Err(_) => Ok(None),
    }
}

async fn load(p: &Env, id: &ClientId) -> Result<Option<Client>, DomainError> {
    let row = sqlx::query(
        "SELECT metadata, secret_hash, status, created_by, sector FROM clients WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    active_from_row(id, &row, 0)
}

/// The client `id` from a row whose columns from `at` on are metadata, secret hash, status,
/// creator and sector; `None` unless it is active (a `Client` is one that may act).
fn active_from_row(
    id: &ClientId,
    row: &iamsmart_store::AnyRow,
    at: usize,
) -> Result<Option<Client>, DomainError> {
    if stored::<ClientStatus>(&row.try_get::<String, _>(at + 2)?)? != ClientStatus::Active {
        return Ok(None);
    }
    let meta: ClientMetadata = serde_json::from_str(&row.try_get::<String, _>(at)?)
        .map_err(|e| DomainError::Integrity(format!("client metadata: {e}")))?;
    let created_by: String = row.try_get(at + 3)?;
    Ok(Some(Client {
        id: id.clone(),
        meta,
        secret_hash: row.try_get(at + 1)?,
        vetted: created_by.starts_with("operator:"),
        fixed_sector: row.try_get(at + 4)?,
    }))
}

/// The client's signing keys (its encryption keys left out).
pub async fn signing_keys(p: &Oidc, client: &Client, refresh: bool) -> OResult<Vec<PublicJwk>> {
    Ok(keys(p, client, refresh)
        .await?
        .into_iter()
        .filter(|k| {
            k.use_.as_deref() != Some("enc")
                && !k.alg.as_deref().is_some_and(|a| a.starts_with("ECDH"))
        })
        .collect())
}

/// How long a client's registration is cached in a process. A change made through this process
/// (update, disable) takes effect at once; one made by another process within this time.
const CLIENT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Per-process cache of active clients' registrations (read four times per login).
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<ClientId, (Client, std::time::Instant)>>,
}

impl ClientCache {
    fn get(&self, id: &str) -> Option<Client> {
        let e = self.entries.lock().ok()?;
        e.get(id)
            .filter(|(_, at)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(c, _)| c.clone())
    }
    fn put(&self, c: &Client) {
        if let Ok(mut e) = self.entries.lock() {
            if e.len() > 10_000 {
                e.clear();
            }
            e.insert(c.id.clone(), (c.clone(), std::time::Instant::now()));
        }
    }
    /// Drop a client's cached registration.
    pub fn forget(&self, id: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(id);
        }
    }
}

/// Per-process cache of clients' keys fetched from their `jwks_uri`.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Vec<PublicJwk>, i64)>>,
}

impl KeyCache {
    fn get(&self, client: &str, now: i64, max_age: i64) -> Option<Vec<PublicJwk>> {
        let e = self.entries.lock().ok()?;
        e.get(client)
            .filter(|(_, at)| now - at < max_age)
            .map(|(k, _)| k.clone())
    }
    fn put(&self, client: &str, keys: Vec<PublicJwk>, now: i64) {
        if let Ok(mut e) = self.entries.lock() {
            if e.len() > 10_000 {
                e.clear();
            }
            e.insert(client.into(), (keys, now));
        }
    }
    /// Drop a client's cached keys.
    pub fn forget(&self, client: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(client);
        }
    }
}

/// The client's public keys: registered inline, or fetched from its `jwks_uri` (cached five
/// minutes; `refresh` fetches again, at most every ten seconds).
pub async fn keys(p: &Oidc, client: &Client, refresh: bool) -> OResult<Vec<PublicJwk>> {
    if let Some(j) = &client.meta.jwks {
        return parse_jwks(j).map_err(OAuthError::invalid_client);
    }
    let Some(uri) = &client.meta.jwks_uri else {
        return Err(OAuthError::invalid_client(
            "the client has no registered keys",
        ));
    };
    let now = p.clock.now_ms();
    let max_age = if refresh { 10_000 } else { 300_000 };
    if let Some(k) = p.provider.keys.get(&client.id, now, max_age) {
        return Ok(k);
    }
    // Through the guarded client: a public address only, a size and time limit, failures
    // remembered a while, and no detail of what went wrong in the answer (it would map the
    // platform's network for whoever registered the URL).
    let fetched = p.outbound.get_json(uri).await.map_err(|e| {
        tracing::info!(client = %client.id, error = %e, "client keys unavailable");
        OAuthError::invalid_client("the client's keys cannot be fetched from its jwks_uri")
    })?;
    let keys = parse_jwks(&fetched).map_err(OAuthError::invalid_client)?;
    p.provider.keys.put(&client.id, keys.clone(), now);
    Ok(keys)
}

iamsmart_proto::text_enum! {
    /// Whether a client may act. Stored as its lower-case name (the database refuses any other:
    /// `clients_status_known`).
    pub enum ClientStatus {
        /// Registered and in use.
        Active = "active",
        /// Disabled by the operator or by the client itself (RFC 7592); its grants are revoked.
        Disabled = "disabled",
    }
}

/// The client id of the platform's own account pages.
pub const PORTAL: &str = "iamsmart-portal";

/// [`PORTAL`] as a client id.
pub fn portal_id() -> ClientId {
    ClientId::parse(PORTAL).expect("the portal's client id is a valid client id")
}

/// Register (or update) the platform's own account pages as a client, so that residents sign in
/// to them through the same pages as to any service. Public subjects, no personal data.
pub async fn ensure_portal(p: &Oidc) -> Result<(), DomainError> {
    let mut meta = ClientMetadata::for_profile(
        "iAM Smart account",
        vec![p.provider.policy.url("/account/callback")],
        ClientProfile::Basic,
    );
    meta.subject_type = "public".into();
    meta.scope = Some("openid".into());
    meta.grant_types = vec!["authorization_code".into()];
    let text = serde_json::to_string(&meta).map_err(|e| DomainError::Integrity(e.to_string()))?;
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO clients (id, name, profile, metadata, status, created_by, created_at, updated_at) VALUES ($1, $2, 'basic', $3, 'active', 'system', $4, $4)
         ON CONFLICT (id) DO UPDATE SET metadata = $3, updated_at = $4",
    )
    .bind(PORTAL)
    .bind(&meta.client_name)
    .bind(&text)
    .bind(now)
    .execute(p.db.writer())
    .await?;
    p.provider.forget_keys(PORTAL);
    Ok(())
}
