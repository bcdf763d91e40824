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

/// What a single-use value proves, so that a replay is refused with the right error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleUseKind {
    /// A client assertion's `jti` (RFC 7523).
    ClientAssertion,
    /// A DPoP proof's `jti` (RFC 9449).
    DpopProof,
    /// A device-signed request's `jti`.
    DeviceRequest,
    /// The `nonce` of a call to the iAM Smart-compatible API.
    ApiNonce,
}

#[derive(Debug)]
struct SingleUse {
    kind: SingleUseKind,
    scope: String,
    value: String,
    expires_at: i64,
}

/// The single-use values one request presented (its client assertion, its DPoP proof, its
/// device signature), each verified and not yet recorded. They are recorded together, in the
/// transaction of the effect they authorise ([`Spent::record`]), or on their own by a request
/// that writes nothing else ([`Spent::spend`]). So a value authorises at most one effect, and a
/// request refused before its effect (or rolled back) does not use its values up. One statement
/// for all of them, and no commit of its own.
#[derive(Debug, Default)]
#[must_use = "record the values in the transaction of the effect they authorise, or spend them"]
pub struct Spent(Vec<SingleUse>);

/// A single-use value was presented before: the request is a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed(pub SingleUseKind);

impl Spent {
    /// No values yet.
    pub fn new() -> Spent {
        Spent(Vec::new())
    }

    /// Add a verified value: `value` may be used once in `scope` until `expires_at`.
    pub fn add(&mut self, kind: SingleUseKind, scope: String, value: &str, expires_at: i64) {
        self.0.push(SingleUse {
            kind,
            scope,
            value: value.to_string(),
            expires_at,
        });
    }

    /// Whether there is nothing to record.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Record the values through `conn` (inside the caller's transaction): `Ok(Err(Replayed))`
    /// if any was used before, and then the caller must roll back. Of concurrent callers with the
    /// same value, one records it; the others see it used (on PostgreSQL they wait for the
    /// first's transaction to end).
    pub async fn record(
        self,
        conn: &mut AnyConnection,
    ) -> Result<std::result::Result<(), Replayed>> {
        if self.0.is_empty() {
            return Ok(Ok(()));
        }
        let sql = format!(
            "INSERT INTO nonces (scope, value, expires_at) VALUES {} ON CONFLICT (scope, value) DO NOTHING RETURNING scope, value",
            iamsmart_store::value_rows(self.0.len(), 3)
        );
        let mut q = sqlx::query_as::<_, (String, String)>(&sql);
        for v in &self.0 {
            q = q.bind(&v.scope).bind(&v.value).bind(v.expires_at);
        }
        let recorded = q.fetch_all(&mut *conn).await?;
        match self
            .0
            .iter()
            .find(|v| !recorded.iter().any(|(s, x)| *s == v.scope && *x == v.value))
        {
            Some(v) => Ok(Err(Replayed(v.kind))),
            None => Ok(Ok(())),
        }
    }

    /// Record the values on their own (a request with no other write): one statement for one
    /// value; several in a transaction, so that a replay of one uses none of the others up.
    pub async fn spend(self, p: &Env) -> Result<std::result::Result<(), Replayed>> {
        match self.0.len() {
            0 => Ok(Ok(())),
            1 => self.record(&mut *p.db.writer().acquire().await?).await,
            _ => {
                let mut tx = p.db.begin().await?;
                let recorded = self.record(&mut tx).await?;
                if recorded.is_ok() {
                    tx.commit().await?;
                }
                Ok(recorded)
            }
        }
    }
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
    use super::{Replayed, SingleUseKind as K, Spent};
    use crate::testing::platform;

    fn spent(values: &[(K, &str)]) -> Spent {
        let mut s = Spent::new();
        for (kind, v) in values {
            s.add(*kind, format!("test:{kind:?}"), v, i64::MAX);
        }
        s
    }

    #[tokio::test]
    async fn values_recorded_with_an_effect_are_refused_once_it_commits_and_only_then() {
        let t = platform().await;
        let two = [(K::ClientAssertion, "a-1"), (K::DpopProof, "d-1")];
        // Rolled back (the request failed after recording): nothing is used up.
        let mut tx = t.p.db.begin().await.unwrap();
        assert_eq!(spent(&two).record(&mut tx).await.unwrap(), Ok(()));
        tx.rollback().await.unwrap();
        // Committed: each value is now a replay, and names what it was.
        let mut tx = t.p.db.begin().await.unwrap();
        assert_eq!(spent(&two).record(&mut tx).await.unwrap(), Ok(()));
        tx.commit().await.unwrap();
        let again = [(K::ClientAssertion, "a-2"), (K::DpopProof, "d-1")];
        assert_eq!(
            spent(&again).spend(&t.p.oidc).await.unwrap(),
            Err(Replayed(K::DpopProof))
        );
        // The refused request's other value was not used up; the first values stay used.
        assert_eq!(
            spent(&[(K::ClientAssertion, "a-2")])
                .spend(&t.p.oidc)
                .await
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            spent(&[(K::ClientAssertion, "a-1")])
                .spend(&t.p.oidc)
                .await
                .unwrap(),
            Err(Replayed(K::ClientAssertion))
        );
        assert_eq!(Spent::new().spend(&t.p.oidc).await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn fifty_transactions_recording_one_value_at_once_commit_once() {
        let t = platform().await;
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let db = t.p.db.clone();
            callers.spawn(async move {
                let mut tx = db.begin().await.unwrap();
                let r = spent(&[(K::DeviceRequest, "shared")])
                    .record(&mut tx)
                    .await
                    .unwrap();
                if r.is_ok() {
                    tx.commit().await.unwrap();
                }
                r.is_ok()
            });
        }
        let mut won = 0;
        while let Some(ok) = callers.join_next().await {
            won += usize::from(ok.unwrap());
        }
        assert_eq!(won, 1);
    }

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
