//! Registration: by the operator or by the service itself (RFC 7591 dynamic registration with
//! an initial access token; RFC 7592 reading, updating and disabling with the registration
//! access token); the sector fixed at registration; names that could be mistaken for another.
use super::super::error::{OAuthError, OResult};
use super::metadata::{check_metadata, declared_sector, is_loopback, meta_err};
use super::{named, Client, ClientMetadata};
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::DomainError;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::Alg;
use serde::Serialize;

/// The sector of new metadata, with its `sector_identifier_uri` fetched (through the guarded
/// client) and checked to list every redirect URI.
async fn settle_sector(p: &Oidc, m: &ClientMetadata) -> OResult<String> {
    if let Some(u) = &m.sector_identifier_uri {
        let listed = p.outbound.get_json(u).await.map_err(|_| {
            meta_err("sector_identifier_uri cannot be fetched (an https URL at a public address, answering a JSON array)")
        })?;
        let listed: Vec<&str> = listed
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        if let Some(missing) = m
            .redirect_uris
            .iter()
            .find(|r| !listed.contains(&r.as_str()))
        {
            return Err(meta_err(format!(
                "sector_identifier_uri does not list the redirect URI {missing}"
            )));
        }
    }
    declared_sector(m).ok_or_else(|| meta_err("no sector: give redirect_uris"))
}

async fn ensure_signing_key(p: &Oidc, meta: &ClientMetadata) -> OResult<()> {
    let alg: Alg = meta
        .id_token_signed_response_alg
        .parse()
        .map_err(|_| meta_err("id_token_signed_response_alg"))?;
    p.keys
        .ensure(crate::keys::Purpose::Token, alg)
        .await
        .map_err(OAuthError::from)
}

/// A newly registered client and its one-time secrets.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    /// `client_id`.
    pub client_id: iamsmart_proto::ids::ClientId,
    /// Secret (client_secret_basic only; shown once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// With a secret: when it expires (0: never; RFC 7591 section 3.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// RFC 7592 registration access token (shown once).
    pub registration_access_token: String,
    /// RFC 7592 management URI.
    pub registration_client_uri: String,
    /// Metadata as registered.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
    /// Unix seconds.
    pub client_id_issued_at: i64,
}

fn hash(s: &str) -> Vec<u8> {
    iamsmart_crypto::hash::sha256(s.as_bytes()).to_vec()
}

/// Register a client. `operator` marks creation by the platform operator (CLI, admin API).
pub async fn register(
    p: &Oidc,
    meta: ClientMetadata,
    actor: &str,
    operator: bool,
) -> OResult<Registered> {
    check_metadata(&meta, operator)?;
    if !operator {
        check_name(p, &meta, None).await?;
    }
    let sector = settle_sector(p, &meta).await?;
    // A host that another service already uses is its sector: a self-registered client may not
    // share it (loopback, for development, excepted).
    if !operator
        && meta.subject_type == "pairwise"
        && !is_loopback(&sector)
        && sector_taken(p, &sector).await?
    {
        return Err(meta_err(format!(
            "the sector {sector} (the host of your redirect URIs) belongs to another service; a service of the same organisation is registered by the operator"
        )));
    }
    ensure_signing_key(p, &meta).await?;
    let id = super::ClientId::parse(&format!(
        "c_{}",
        iamsmart_crypto::rng::token(p.rng.as_ref(), 12)
    ))
    .expect("a minted client id has the form of one");
    let secret = (meta.token_endpoint_auth_method == "client_secret_basic")
        .then(|| iamsmart_crypto::rng::token(p.rng.as_ref(), 32));
    let rat = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    let text = serde_json::to_string(&meta).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    sqlx::query(
        "INSERT INTO clients (id, name, profile, metadata, secret_hash, registration_token_hash, status, created_by, created_at, updated_at, sector)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $8, $9)",
    )
    .bind(&id)
    .bind(&meta.client_name)
    .bind(meta.iamsmart_profile.as_str())
    .bind(&text)
    .bind(secret.as_deref().map(hash))
    .bind(hash(&rat))
    .bind(actor)
    .bind(now)
    .bind(&sector)
    .execute(&mut *tx)
    .await
    .map_err(DomainError::from)?;
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.registered",
            actor,
            subject: &format!("client:{id}"),
            detail: serde_json::json!({ "profile": meta.iamsmart_profile, "subject_type": meta.subject_type }),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    Ok(Registered {
        registration_client_uri: p.provider.policy.url(&format!("/register/{id}")),
        client_id: id,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        registration_access_token: rat,
        metadata: meta,
        client_id_issued_at: now / 1000,
    })
}

/// A name folded for comparing: lower case, letters and digits only (so "Inland  Revenue
/// Department." and "inland revenue department" are the same name).
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Names a service may not give itself: the government's departments and public bodies (as the
/// portal's catalogue names them, in both languages), and the platform's own name.
fn reserved_names() -> &'static std::collections::BTreeSet<String> {
    static NAMES: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: std::collections::BTreeSet<String> = [
            "iAM Smart",
            "智方便",
            "iAM Smart 智方便",
            "Hong Kong Government",
            "HKSAR Government",
            "香港特別行政區政府",
            "香港政府",
        ]
        .iter()
        .map(|n| folded(n))
        .collect();
        if let Ok(c) = iamsmart_catalogue::Catalogue::bundled() {
            for s in c.services() {
                names.insert(folded(&s.department.en));
                names.insert(folded(&s.department.zh));
            }
        }
        names
    })
}

/// A self-registered service's names (in every language) and organisation: not a
/// department's, not the platform's, and no name another service has in any language
/// (residents are told to check the name on the login page and in the app).
async fn check_name(p: &Env, meta: &ClientMetadata, own_id: Option<&str>) -> OResult<()> {
    let reserved = reserved_names();
    let is_reserved = |f: &String| {
        reserved.contains(f)
            || reserved
                .iter()
                .any(|r| r.len() >= 6 && f.contains(r.as_str()))
    };
    let mine: Vec<String> = meta.names().all().map(folded).collect();
    if mine.iter().any(is_reserved) {
        return Err(meta_err(
            "client_name: that is the name of a government department or of iAM Smart; ask the operator to register a government service",
        ));
    }
    if let Some(d) = meta.service_details().department {
        if d.all().map(folded).any(|f| is_reserved(&f)) {
            return Err(meta_err(
                "iamsmart_department: that is a government department or iAM Smart; a government service is registered by the operator",
            ));
        }
    }
    let others: Vec<(String, String)> =
        sqlx::query_as("SELECT id, metadata FROM clients WHERE status = 'active'")
            .fetch_all(p.db.reader())
            .await
            .map_err(DomainError::from)?;
    for (id, text) in &others {
        if Some(id.as_str()) == own_id {
            continue;
        }
        let Ok(other) = serde_json::from_str::<ClientMetadata>(text) else {
            continue;
        };
        let taken = other.names().all().map(folded).any(|f| mine.contains(&f));
        if taken {
            return Err(meta_err(
                "client_name: another service already has this name; choose one residents can tell apart",
            ));
        }
    }
    Ok(())
}

/// Whether an active client already has `sector` (kept, or computed for older clients).
async fn sector_taken(p: &Env, sector: &str) -> OResult<bool> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, metadata, sector FROM clients WHERE status = 'active'")
            .fetch_all(p.db.reader())
            .await
            .map_err(DomainError::from)?;
    Ok(rows.iter().any(|(_, meta, kept)| {
        let s = kept.clone().or_else(|| {
            serde_json::from_str::<ClientMetadata>(meta)
                .ok()
                .and_then(|m| declared_sector(&m))
        });
        s.as_deref() == Some(sector)
    }))
}

/// Check an RFC 7592 registration access token for a client.
pub async fn check_registration_token(p: &Oidc, id: &str, token: &str) -> OResult<Client> {
    let stored: Option<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT registration_token_hash FROM clients WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .fetch_optional(p.db.reader())
    .await
    .map_err(DomainError::from)?;
    let ok = stored
        .flatten()
        .is_some_and(|h| iamsmart_crypto::hash::ct_eq(&h, &hash(token)));
    if !ok {
        return Err(OAuthError::invalid_token(
            "unknown client or wrong registration access token",
        ));
    }
    named(p, id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("unknown client"))
}

/// Replace a client's metadata (RFC 7592 PUT). The profile and subject type cannot change.
pub async fn update(p: &Oidc, client: &Client, meta: ClientMetadata) -> OResult<Client> {
    if meta.iamsmart_profile != client.meta.iamsmart_profile
        || meta.subject_type != client.meta.subject_type
        || meta.token_endpoint_auth_method != client.meta.token_endpoint_auth_method
        || meta.iamsmart_requester_type != client.meta.iamsmart_requester_type
    {
        return Err(meta_err(
            "iamsmart_profile, subject_type and token_endpoint_auth_method cannot change; register a new client",
        ));
    }
    check_metadata(&meta, meta.subject_type == "public")?;
    if !client.vetted {
        check_name(p, &meta, Some(&client.id)).await?;
    }
    if settle_sector(p, &meta).await? != client.sector() {
        return Err(meta_err(
            "the redirect URIs (or sector_identifier_uri) would move this client to another sector of pairwise subjects; register a new client, or ask the operator",
        ));
    }
    ensure_signing_key(p, &meta).await?;
    let now = p.clock.now_ms();
    let text = serde_json::to_string(&meta).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    sqlx::query("UPDATE clients SET metadata = $1, name = $2, updated_at = $3 WHERE id = $4")
        .bind(&text)
        .bind(&meta.client_name)
        .bind(now)
        .bind(&client.id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    let actor = format!("client:{}", client.id);
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.updated",
            actor: &actor,
            subject: &actor,
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    p.provider.forget_keys(&client.id);
    Ok(Client {
        meta,
        ..client.clone()
    })
}

/// Disable a client (RFC 7592 DELETE, or the operator): its grants are revoked.
pub async fn disable(p: &Oidc, id: &str, actor: &str) -> OResult<()> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await.map_err(DomainError::from)?;
    let r = sqlx::query("UPDATE clients SET status = 'disabled', updated_at = $1 WHERE id = $2 AND status = 'active'")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    if r.rows_affected() == 0 {
        return Err(OAuthError::invalid_token("unknown client"));
    }
    sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = 'client disabled' WHERE client_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(DomainError::from)?;
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "client.disabled",
            actor,
            subject: &format!("client:{id}"),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await.map_err(DomainError::from)?;
    p.provider.forget_keys(id);
    Ok(())
}

/// Issue an initial access token for dynamic registration (operator).
pub async fn issue_initial_token(
    p: &Env,
    actor: &str,
    ttl_ms: i64,
    uses: i64,
) -> Result<String, DomainError> {
    let token = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    sqlx::query("INSERT INTO initial_access_tokens (token_hash, created_by, created_at, expires_at, uses_left) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash(&token))
        .bind(actor)
        .bind(now)
        .bind(now + ttl_ms)
        .bind(uses)
        .execute(p.db.writer())
        .await?;
    Ok(token)
}

/// Spend one use of an initial access token.
pub async fn use_initial_token(p: &Env, token: &str) -> OResult<()> {
    let r = sqlx::query(
        "UPDATE initial_access_tokens SET uses_left = uses_left - 1 WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2",
    )
    .bind(hash(token))
    .bind(p.clock.now_ms())
    .execute(p.db.writer())
    .await
    .map_err(DomainError::from)?;
    if r.rows_affected() == 1 {
        Ok(())
    } else {
        Err(OAuthError::invalid_token(
            "dynamic registration needs a valid initial access token from the platform operator",
        ))
    }
}
