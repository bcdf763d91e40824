//! Browser sessions at the provider (single sign-on): created at each sign-in with a fresh
//! random secret (so the id is renewed at login and step-up), ended by idle and absolute
//! timeouts, logout, device revocation and account closure. Forms carry a CSRF token derived
//! from the session.
use super::Acr;
use crate::error::DomainError;
use crate::oidc::Oidc;
use iamsmart_store::AnyConnection;

/// A live browser session at the provider.
#[derive(Debug, Clone)]
pub struct Session {
    /// Public session id.
    pub sid: String,
    /// The resident.
    pub resident_id: String,
    /// The device that approved (none for passkeys).
    pub device_id: Option<String>,
    /// Unix ms.
    pub auth_time: i64,
    /// Achieved `acr`.
    pub acr: Acr,
    /// `amr`.
    pub amr: Vec<String>,
}

/// (sid, resident, device, auth time, acr, amr, last seen)
type SessionRow = (String, String, Option<String>, i64, String, String, i64);

fn hash(secret: &str) -> Vec<u8> {
    iamsmart_crypto::hash::sha256(secret.as_bytes()).to_vec()
}

/// The session a cookie names, if live (not revoked, not idle too long, not past its absolute
/// end, account active).
pub async fn session(p: &Oidc, cookie: Option<&str>) -> Result<Option<Session>, DomainError> {
    let Some(c) = cookie.filter(|c| !c.is_empty() && c.len() < 200) else {
        return Ok(None);
    };
    let now = p.clock.now_ms();
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.sid, s.resident_id, s.device_id, s.auth_time, s.acr, s.amr, s.last_seen_at FROM op_sessions s JOIN residents r ON r.id = s.resident_id
         WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3 AND r.status = 'active'",
    )
    .bind(hash(c))
    .bind(now)
    .bind(now - p.provider.policy.session_idle_ms)
    .fetch_optional(p.db.reader())
    .await?;
    let Some((sid, resident_id, device_id, auth_time, acr, amr, seen)) = row else {
        return Ok(None);
    };
    // Kept alive to the minute: one write per session and minute.
    if now - seen > 60_000 {
        sqlx::query("UPDATE op_sessions SET last_seen_at = $1 WHERE sid = $2")
            .bind(now)
            .bind(&sid)
            .execute(p.db.writer())
            .await?;
    }
    Ok(Some(Session {
        sid,
        resident_id,
        device_id,
        auth_time,
        acr: crate::error::stored(&acr)?,
        amr: serde_json::from_str(&amr).unwrap_or_default(),
    }))
}

/// Start a session for a resident who just signed in, on its own; returns (cookie secret,
/// session). The platform stores a session in the commit that signs the browser in
/// ([`prepare`], [`store_in`]); tests start one directly.
#[cfg(test)]
pub(crate) async fn create(
    p: &Oidc,
    resident_id: &str,
    device_id: Option<&str>,
    auth_time: i64,
    acr: Acr,
    amr: Vec<String>,
) -> Result<(String, Session), DomainError> {
    let (secret, s) = prepare(p, resident_id, device_id, auth_time, acr, amr);
    store_in(&mut *p.db.writer().acquire().await?, p, &secret, &s).await?;
    Ok((secret, s))
}

/// A new session and its cookie secret, not stored yet ([`store_in`] stores it in the
/// transaction that signs the browser in).
pub fn prepare(
    p: &Oidc,
    resident_id: &str,
    device_id: Option<&str>,
    auth_time: i64,
    acr: Acr,
    amr: Vec<String>,
) -> (String, Session) {
    let secret = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let s = Session {
        sid: iamsmart_crypto::rng::token(p.rng.as_ref(), 16),
        resident_id: resident_id.into(),
        device_id: device_id.map(str::to_string),
        auth_time,
        acr,
        amr,
    };
    (secret, s)
}

/// Store a prepared session through `conn`.
pub async fn store_in(
    conn: &mut AnyConnection,
    p: &Oidc,
    secret: &str,
    s: &Session,
) -> Result<(), DomainError> {
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO op_sessions (id_hash, sid, resident_id, device_id, auth_time, acr, amr, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(hash(secret))
    .bind(&s.sid)
    .bind(&s.resident_id)
    .bind(&s.device_id)
    .bind(s.auth_time)
    .bind(s.acr.as_str())
    .bind(serde_json::to_string(&s.amr).unwrap_or_default())
    .bind(now)
    .bind(now + p.provider.policy.session_ttl_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The CSRF token of forms shown in a session (derived from the session secret with the
/// platform's index key, so it needs no storage and is useless without the cookie).
pub fn csrf_token(p: &Oidc, session_secret: &str) -> String {
    use base64::Engine;
    let mac = p.vault.blind_index(
        "csrf",
        &hex::encode(iamsmart_crypto::hash::sha256(session_secret.as_bytes())),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..18])
}

/// Whether a submitted CSRF token belongs to the session.
pub fn csrf_ok(p: &Oidc, session_secret: &str, token: &str) -> bool {
    iamsmart_crypto::hash::ct_eq(csrf_token(p, session_secret).as_bytes(), token.as_bytes())
}
