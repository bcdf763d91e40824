//! Things that must hold across every server process, so they live in the database:
//! single-use values (request `jti`s), server-issued challenges, and failure counters.
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::vault::Vault;
use iamsmart_store::AnyConnection;

/// Whether the time `t_ms` is within `max_ms` of `now_ms` (no overflow on hostile values).
pub fn within(t_ms: i64, now_ms: i64, max_ms: i64) -> bool {
    t_ms.checked_sub(now_ms)
        .and_then(i64::checked_abs)
        .is_some_and(|d| d <= max_ms)
}

/// Record `value` as used in `scope` until `expires_at`; `false` if it was used before.
/// Two concurrent callers with the same value: exactly one gets `true`.
pub async fn use_once(p: &Env, scope: &str, value: &str, expires_at: i64) -> Result<bool> {
    let r = sqlx::query(
        "INSERT INTO nonces (scope, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, value) DO NOTHING",
    )
    .bind(scope)
    .bind(value)
    .bind(expires_at)
    .execute(p.db.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Issue a single-use challenge for `purpose`, valid for `ttl_ms`.
pub async fn issue_challenge(p: &Env, purpose: &str, ttl_ms: i64) -> Result<(String, i64)> {
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO challenges (id, purpose, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(&id)
    .bind(purpose)
    .bind(now)
    .bind(now + ttl_ms)
    .execute(p.db.writer())
    .await?;
    Ok((id, now + ttl_ms))
}

/// Consume a challenge inside the caller's transaction: `true` only for an unexpired, unused
/// challenge of `purpose`, and only once.
pub async fn consume_challenge(
    conn: &mut AnyConnection,
    now: i64,
    purpose: &str,
    id: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE challenges SET used_at = $1 WHERE id = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .bind(purpose)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether an unexpired, unused challenge exists (checked before slow work; consumed after).
pub async fn challenge_is_open(p: &Env, purpose: &str, id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM challenges WHERE id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(id)
    .bind(purpose)
    .bind(p.clock.now_ms())
    .fetch_one(p.db.reader())
    .await?;
    Ok(n == 1)
}

/// A failure limit: at most `max_failures` in `window_ms`, then locked for `lock_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Failures allowed in a window.
    pub max_failures: i64,
    /// Window length.
    pub window_ms: i64,
    /// Lock after the limit is reached.
    pub lock_ms: i64,
}

/// The counter key for a value: a keyed hash, so the table holds no identifiers in clear.
pub fn attempt_key(vault: &Vault, kind: &str, value: &str) -> String {
    format!(
        "{kind}:{}",
        hex::encode(&vault.blind_index("attempts", value)[..16])
    )
}

/// Refuse if any of `keys` is locked; returns the seconds to wait.
pub async fn check_attempts(p: &Env, keys: &[String]) -> Result<()> {
    let now = p.clock.now_ms();
    for key in keys {
        let locked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT locked_until FROM attempts WHERE key = $1")
                .bind(key)
                .fetch_optional(p.db.reader())
                .await?;
        if let Some(Some(until)) = locked {
            if until > now {
                return Err(DomainError::TooManyAttempts {
                    retry_after_secs: ((until - now) / 1000).max(1) as u64,
                });
            }
        }
    }
    Ok(())
}

/// Count a failure against each of `keys` (a new window starts when the old one has passed);
/// returns each key's count in its window. One atomic statement per key, so concurrent failures
/// are all counted.
pub async fn record_failure(p: &Env, keys: &[String], limit: Limit) -> Result<Vec<i64>> {
    let now = p.clock.now_ms();
    let mut counts = Vec::with_capacity(keys.len());
    for key in keys {
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO attempts (key, window_start, failures, locked_until) VALUES ($1, $2, 1, NULL)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN $2 - attempts.window_start < $3 THEN attempts.failures + 1 ELSE 1 END,
               window_start = CASE WHEN $2 - attempts.window_start < $3 THEN attempts.window_start ELSE $2 END
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(limit.window_ms)
        .fetch_one(p.db.writer())
        .await?;
        if failures >= limit.max_failures {
            sqlx::query("UPDATE attempts SET locked_until = $1 WHERE key = $2")
                .bind(now + limit.lock_ms)
                .bind(key)
                .execute(p.db.writer())
                .await?;
        }
        counts.push(failures);
    }
    Ok(counts)
}

/// Forget the failures of `keys` (after a success).
pub async fn clear_attempts(p: &Env, keys: &[String]) -> Result<()> {
    for key in keys {
        sqlx::query("DELETE FROM attempts WHERE key = $1")
            .bind(key)
            .execute(p.db.writer())
            .await?;
    }
    Ok(())
}

/// Delete expired single-use values and challenges (a worker calls this).
pub async fn purge_expired(p: &Env) -> Result<u64> {
    let now = p.clock.now_ms();
    let a = sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
        .bind(now)
        .execute(p.db.writer())
        .await?
        .rows_affected();
    let b = sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(now - 60_000)
        .execute(p.db.writer())
        .await?
        .rows_affected();
    let c = sqlx::query("DELETE FROM ceremonies WHERE expires_at < $1")
        .bind(now)
        .execute(p.db.writer())
        .await?
        .rows_affected();
    Ok(a + b + c)
}

/// Keep a ceremony's state (a WebAuthn challenge, an approval waited for) under a new random
/// id until `expires_at`: single use, shared by every process. Returns the id.
pub async fn put_ceremony(
    p: &Env,
    kind: &str,
    subject: Option<&str>,
    state: &str,
    expires_at: i64,
) -> Result<String> {
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 16);
    sqlx::query(
        "INSERT INTO ceremonies (id, kind, subject, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(kind)
    .bind(subject)
    .bind(state)
    .bind(expires_at)
    .execute(p.db.writer())
    .await?;
    Ok(id)
}

/// A live ceremony's (subject, state), left in place.
pub async fn peek_ceremony(
    p: &Env,
    kind: &str,
    id: &str,
) -> Result<Option<(Option<String>, String)>> {
    Ok(sqlx::query_as(
        "SELECT subject, state FROM ceremonies WHERE id = $1 AND kind = $2 AND expires_at > $3",
    )
    .bind(id)
    .bind(kind)
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.writer())
    .await?)
}

/// Take a live ceremony (single use: of callers racing for one, one gets it): its (subject,
/// state).
pub async fn take_ceremony(
    p: &Env,
    kind: &str,
    id: &str,
) -> Result<Option<(Option<String>, String)>> {
    Ok(sqlx::query_as(
        "DELETE FROM ceremonies WHERE id = $1 AND kind = $2 AND expires_at > $3 RETURNING subject, state",
    )
    .bind(id)
    .bind(kind)
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.writer())
    .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn within_handles_hostile_times() {
        assert!(super::within(1_000, 1_500, 600));
        assert!(!super::within(1_000, 2_000, 600));
        assert!(!super::within(i64::MIN, 0, 60_000));
        assert!(!super::within(i64::MAX, -1, 60_000));
        assert!(!super::within(
            i64::MAX.saturating_mul(1000),
            1_767_225_600_000,
            60_000
        ));
    }
}
