//! Key lifecycle: which keys exist, which one signs or wraps now, which are published.
//!
//! A key's state is derived from its timestamps, so every process sharing the database agrees
//! without coordination:
//! - published (in the JWKS) from `publish_at` until `retire_at`;
//! - used for new signatures / wrapping from `activate_at` until `retire_at`, the newest
//!   active key of a purpose and algorithm winning.
//!
//! `rotate` inserts the new key with `publish_at = now` and `activate_at = now + publish_lead`,
//! so relying parties can fetch it before it signs anything, and schedules the old key's
//! retirement at `activate_at + token_max_lifetime`, so tokens it signed verify until they expire.

use crate::clock::Clock;
use crate::error::{DomainError, Result};
use crate::metrics::KeyOpCounters;
use iamsmart_crypto::jose::{self, Alg, JwsHeader, PublicJwk};
use iamsmart_crypto::keystore::{KeyKind, KeyStore};
use iamsmart_crypto::rng::Rng;
use iamsmart_store::{Db, Row};
use std::sync::Arc;

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signs tokens (ID tokens, access tokens, responses); published in the JWKS.
    Token,
    /// Signs the transparency log's tree heads.
    Log,
    /// Wraps the data keys of personal data at rest.
    Kek,
    /// Signs requests to other organisations' systems (registry, data providers).
    Connector,
    /// The certificate authority's keys (issuing CA, OCSP responder, timestamp authority):
    /// never published in a JWKS; their certificates say what each one is.
    Pki,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Token => "token",
            Purpose::Log => "log",
            Purpose::Kek => "kek",
            Purpose::Connector => "connector",
            Purpose::Pki => "pki",
        }
    }
}

/// Timing rules for rotation.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// How long a new signing key is published before it signs.
    pub publish_lead_ms: i64,
    /// The longest lifetime of anything a token key signs; an old key stays published this long
    /// after its successor takes over.
    pub token_max_lifetime_ms: i64,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            publish_lead_ms: 10 * 60 * 1000,
            token_max_lifetime_ms: 24 * 60 * 60 * 1000,
        }
    }
}

/// A stored key (never its private bytes in clear).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// Purpose name.
    pub purpose: String,
    /// JOSE algorithm or `A256GCM`.
    pub alg: String,
    /// `file` or `pkcs11`.
    pub backend: String,
    /// Opaque handle for the key store.
    pub handle: Vec<u8>,
    /// Public key (signing keys).
    pub public_jwk: Option<PublicJwk>,
    /// Creation time.
    pub created_at: i64,
    /// In the JWKS from.
    pub publish_at: i64,
    /// Signs / wraps from.
    pub activate_at: i64,
    /// Retired from (not published, not used).
    pub retire_at: Option<i64>,
}

impl KeyRecord {
    /// Whether the key is published at `now`.
    pub fn published(&self, now: i64) -> bool {
        self.publish_at <= now && self.retire_at.is_none_or(|r| r > now)
    }
    /// Whether the key may sign or wrap at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.activate_at <= now && self.retire_at.is_none_or(|r| r > now)
    }
    /// A state name for people.
    pub fn state(&self, now: i64) -> &'static str {
        if self.retire_at.is_some_and(|r| r <= now) {
            "retired"
        } else if self.activate_at > now {
            "published"
        } else if self.retire_at.is_some() {
            "retiring"
        } else {
            "active"
        }
    }
}

const COLUMNS: &str =
    "kid, purpose, alg, backend, handle, public_jwk, created_at, publish_at, activate_at, retire_at";

fn row_to_key(r: &iamsmart_store::AnyRow) -> Result<KeyRecord> {
    let jwk: Option<String> = r.try_get(5)?;
    Ok(KeyRecord {
        kid: r.try_get(0)?,
        purpose: r.try_get(1)?,
        alg: r.try_get(2)?,
        backend: r.try_get(3)?,
        handle: r.try_get(4)?,
        public_jwk: jwk
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(|e| DomainError::Integrity(format!("stored JWK: {e}")))?,
        created_at: r.try_get(6)?,
        publish_at: r.try_get(7)?,
        activate_at: r.try_get(8)?,
        retire_at: r.try_get(9)?,
    })
}

/// The platform's keys: a key store plus the lifecycle kept in the database.
#[derive(Clone)]
pub struct KeyService {
    db: Db,
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    policy: KeyPolicy,
    /// Operation counters.
    pub counters: Arc<KeyOpCounters>,
    cache: Arc<std::sync::RwLock<Option<CachedKeys>>>,
}

/// Key records as loaded, and when.
type CachedKeys = (Vec<KeyRecord>, std::time::Instant);

/// How long key records are cached in memory. Another process's rotation is seen within this
/// time; new signing keys are published long before they sign, and a verifier that meets an
/// unknown key id reloads at once ([`KeyService::reload`]).
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("backend", &self.store.backend())
            .field("policy", &self.policy)
            .finish()
    }
}

impl KeyService {
    /// A key service over `store`, recording keys in `db`.
    pub fn new(
        db: Db,
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        policy: KeyPolicy,
    ) -> Self {
        Self {
            db,
            store,
            clock,
            rng,
            policy,
            counters: Arc::new(KeyOpCounters::default()),
            cache: Arc::new(std::sync::RwLock::new(None)),
        }
    }

    /// The key store behind this service.
    pub fn store(&self) -> &dyn KeyStore {
        self.store.as_ref()
    }

    /// Create the first token, log, key-encryption and connector keys if there are none (first start).
    pub async fn bootstrap(&self) -> Result<()> {
        for (purpose, alg) in [
            (Purpose::Token, Some(Alg::ES256)),
            (Purpose::Log, Some(Alg::ES256)),
            (Purpose::Kek, None),
            (Purpose::Connector, Some(Alg::ES256)),
        ] {
            if self.all(purpose).await?.is_empty() {
                self.create(purpose, alg, true).await?;
            }
        }
        Ok(())
    }

    /// Make sure a usable signing key of `purpose` and `alg` exists (created at once if not):
    /// for clients that register EdDSA or RS256 ID tokens.
    pub async fn ensure(&self, purpose: Purpose, alg: Alg) -> Result<()> {
        let now = self.clock.now_ms();
        let have = self
            .all(purpose)
            .await?
            .iter()
            .any(|k| k.alg == alg.as_str() && k.usable(now));
        if !have {
            self.create(purpose, Some(alg), true).await?;
        }
        Ok(())
    }

    /// Every key of a purpose, oldest first.
    pub async fn all(&self, purpose: Purpose) -> Result<Vec<KeyRecord>> {
        let cached = self.cache.read().ok().and_then(|c| {
            c.as_ref()
                .filter(|(_, at)| at.elapsed() < CACHE_TTL)
                .map(|(k, _)| k.clone())
        });
        let keys = match cached {
            Some(k) => k,
            None => {
                let k = self.list().await?;
                if let Ok(mut c) = self.cache.write() {
                    *c = Some((k.clone(), std::time::Instant::now()));
                }
                k
            }
        };
        let mut of: Vec<KeyRecord> = keys
            .into_iter()
            .filter(|k| k.purpose == purpose.as_str())
            .collect();
        of.sort_by(|a, b| {
            (a.activate_at, a.created_at, &a.kid).cmp(&(b.activate_at, b.created_at, &b.kid))
        });
        Ok(of)
    }

    /// Forget cached key records (after a change here, or when a verifier meets an unknown key
    /// id that another process may have just created).
    pub fn reload(&self) {
        if let Ok(mut c) = self.cache.write() {
            *c = None;
        }
    }

    /// Every key, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM keys ORDER BY purpose, activate_at, created_at, kid"
        ))
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(row_to_key).collect()
    }

    /// The key that signs or wraps now for `purpose` (and `alg`, for signing keys).
    /// Signing keys are read from the database every time, so that an emergency rotation in
    /// another process takes effect at once; key-encryption keys come from the cache.
    pub async fn active(&self, purpose: Purpose, alg: Option<Alg>) -> Result<KeyRecord> {
        let now = self.clock.now_ms();
        let keys = if purpose == Purpose::Kek {
            self.all(purpose).await?
        } else {
            self.reload();
            self.all(purpose).await?
        };
        keys.into_iter()
            .rfind(|k| k.usable(now) && alg.is_none_or(|a| k.alg == a.as_str()))
            .ok_or_else(|| {
                DomainError::Integrity(format!(
                    "no active {} key{}: run `iamsmart keys rotate`",
                    purpose.as_str(),
                    alg.map(|a| format!(" for {}", a.as_str()))
                        .unwrap_or_default()
                ))
            })
    }

    /// The public keys relying parties should accept now (the JWKS).
    pub async fn jwks(&self, purpose: Purpose) -> Result<Vec<PublicJwk>> {
        let now = self.clock.now_ms();
        Ok(self
            .all(purpose)
            .await?
            .into_iter()
            .filter(|k| k.published(now))
            .filter_map(|k| k.public_jwk)
            .collect())
    }

    /// Sign `payload` as a compact JWS with the active key of `purpose`.
    pub async fn sign_jws(
        &self,
        purpose: Purpose,
        alg: Alg,
        typ: Option<&str>,
        payload: &[u8],
    ) -> Result<String> {
        let key = self.active(purpose, Some(alg)).await?;
        let header = JwsHeader {
            alg,
            kid: Some(key.kid.clone()),
            typ: typ.map(str::to_string),
            extra: Default::default(),
        };
        let res = jose::sign_compact(&header, payload, |input| {
            self.store.sign(&key.kid, &key.handle, alg, input)
        });
        match &res {
            Ok(_) => KeyOpCounters::inc(&self.counters.sign),
            Err(_) => KeyOpCounters::inc(&self.counters.errors),
        }
        Ok(res?)
    }

    /// Generate and record a new key. `immediate` makes it active at once (first start, or an
    /// emergency rotation after a compromise); otherwise it is published first.
    async fn create(
        &self,
        purpose: Purpose,
        alg: Option<Alg>,
        immediate: bool,
    ) -> Result<KeyRecord> {
        let now = self.clock.now_ms();
        let kind = match (purpose, alg) {
            (Purpose::Kek, _) => KeyKind::Kek,
            (_, Some(a)) => KeyKind::Signing(a),
            (_, None) => KeyKind::Signing(Alg::ES256),
        };
        let alg_name = match kind {
            KeyKind::Kek => "A256GCM".to_string(),
            KeyKind::Signing(a) => a.as_str().to_string(),
        };
        let kid = format!(
            "{}-{}-{}",
            purpose.as_str(),
            alg_name.to_ascii_lowercase(),
            iamsmart_crypto::rng::token(self.rng.as_ref(), 9)
        );
        let generated = self.store.generate(&kid, kind)?;
        let wanted = if immediate || purpose == Purpose::Kek {
            now
        } else {
            now + self.policy.publish_lead_ms
        };
        // A newer key must win over an older one even within the same millisecond. (A key
        // still waiting to activate does not hold an immediate one back: a rotation retires it.)
        let latest = self
            .all(purpose)
            .await?
            .iter()
            .filter(|k| k.alg == alg_name && k.activate_at <= wanted)
            .map(|k| k.activate_at)
            .max();
        let activate_at = latest.map_or(wanted, |l| wanted.max(l + 1));
        let jwk = generated
            .public_jwk
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DomainError::Integrity(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"
        ))
        .bind(&kid)
        .bind(purpose.as_str())
        .bind(&alg_name)
        .bind(self.store.backend())
        .bind(&generated.handle)
        .bind(&jwk)
        .bind(now)
        .bind(now)
        .bind(activate_at)
        .execute(&mut *tx)
        .await?;
        crate::audit::append(
            &mut tx,
            now,
            None,
            &crate::audit::Event {
                kind: "key.created",
                actor: "system",
                subject: &format!("key:{kid}"),
                detail: serde_json::json!({
                    "purpose": purpose.as_str(), "alg": alg_name,
                    "backend": self.store.backend(), "activate_at": activate_at
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.reload();
        Ok(KeyRecord {
            kid,
            purpose: purpose.as_str().into(),
            alg: alg_name,
            backend: self.store.backend().into(),
            handle: generated.handle,
            public_jwk: generated.public_jwk,
            created_at: now,
            publish_at: now,
            activate_at,
            retire_at: None,
        })
    }

    /// Rotate the signing key of `purpose` and `alg`: publish a new key now, let it sign after
    /// the publish lead (at once with `immediate`), retire the old ones once what they signed
    /// has expired. KEK rotation is [`KeyService::rotate_kek`].
    pub async fn rotate(&self, purpose: Purpose, alg: Alg, immediate: bool) -> Result<KeyRecord> {
        if purpose == Purpose::Kek {
            return self.rotate_kek().await;
        }
        let old: Vec<KeyRecord> = self
            .all(purpose)
            .await?
            .into_iter()
            .filter(|k| k.alg == alg.as_str())
            .collect();
        let new = self.create(purpose, Some(alg), immediate).await?;
        // Tree heads must stay verifiable forever: a log key stops signing but is never unpublished
        // from the log's key list; the retirement time only ends its use. An immediate rotation is
        // for a compromise: the old key is trusted no more from now on, everywhere (what it signed
        // stops verifying; residents and services sign in again).
        let retire_at = if purpose == Purpose::Log || immediate {
            new.activate_at
        } else {
            new.activate_at + self.policy.token_max_lifetime_ms
        };
        // Keys already due to retire later (an earlier rotation) retire no later than this.
        for k in old
            .iter()
            .filter(|k| k.retire_at.is_none_or(|r| r > retire_at))
        {
            self.schedule_retirement(&k.kid, retire_at).await?;
        }
        Ok(new)
    }

    /// Retire one signing key at once, everywhere it is accepted (after a compromise): it leaves
    /// the JWKS and the verifiers of every process (within the two-second cache), and signs
    /// nothing more. If it was the key that signs for its purpose and algorithm, a new one takes
    /// over at once. Key-encryption keys are retired by `rotate_kek` and a re-wrap, never
    /// while data is wrapped under them; the certificate authority's keys by renewing the
    /// responder (`iamsmart ca renew ... --compromised`).
    pub async fn revoke(&self, kid: &str) -> Result<Option<KeyRecord>> {
        let now = self.clock.now_ms();
        let key = self.by_kid(kid).await?;
        let purpose = match key.purpose.as_str() {
            "token" => Purpose::Token,
            "log" => Purpose::Log,
            "connector" => Purpose::Connector,
            "kek" => {
                return Err(DomainError::Refused {
                    code: "kek-revoke",
                    message: "a key-encryption key is replaced by `iamsmart keys rotate --kek`, which re-wraps every data key and then retires it",
                })
            }
            _ => {
                return Err(DomainError::Refused {
                    code: "pki-revoke",
                    message: "a certificate authority key is replaced by `iamsmart ca renew ocsp|tsa --compromised`, which also revokes its certificate",
                })
            }
        };
        if key.retire_at.is_some_and(|r| r <= now) {
            return Err(DomainError::Refused {
                code: "already-retired",
                message: "this key is retired already: nothing accepts it",
            });
        }
        let alg: Alg = key.alg.parse().map_err(|_| {
            DomainError::Integrity(format!("key {kid} has an unknown algorithm {}", key.alg))
        })?;
        let was_active = self
            .active(purpose, Some(alg))
            .await
            .is_ok_and(|a| a.kid == key.kid);
        let replacement = if was_active {
            Some(self.create(purpose, Some(alg), true).await?)
        } else {
            None
        };
        self.set_retirement(
            kid,
            now,
            "key.revoked",
            "operator",
            serde_json::json!({
                "purpose": key.purpose,
                "replacement": replacement.as_ref().map(|k| k.kid.clone()),
            }),
        )
        .await?;
        Ok(replacement)
    }

    /// Create a new key-encryption key, active at once. Old KEKs keep opening data until
    /// [`crate::vault::Vault::rewrap_all`] has moved every data key to the new one.
    pub async fn rotate_kek(&self) -> Result<KeyRecord> {
        self.create(Purpose::Kek, None, true).await
    }

    /// A new ES256 key for the certificate authority (issuing CA, OCSP responder, timestamp
    /// authority), usable at once.
    pub async fn create_pki_key(&self) -> Result<KeyRecord> {
        self.create(Purpose::Pki, Some(Alg::ES256), true).await
    }

    /// Set a key's retirement time (and log it).
    pub async fn schedule_retirement(&self, kid: &str, at: i64) -> Result<()> {
        self.set_retirement(
            kid,
            at,
            "key.retirement_scheduled",
            "system",
            serde_json::json!({ "retire_at": at }),
        )
        .await
    }

    /// Set a key's retirement time and audit it as `kind` by `actor`.
    async fn set_retirement(
        &self,
        kid: &str,
        at: i64,
        kind: &str,
        actor: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE keys SET retire_at = $1 WHERE kid = $2")
            .bind(at)
            .bind(kid)
            .execute(&mut *tx)
            .await?;
        crate::audit::append(
            &mut tx,
            now,
            None,
            &crate::audit::Event {
                kind,
                actor,
                subject: &format!("key:{kid}"),
                detail,
            },
        )
        .await?;
        tx.commit().await?;
        self.reload();
        Ok(())
    }

    /// Whether the key store holds the private half of `key`'s published public key: a fresh
    /// challenge signed with its handle verifies with its `public_jwk`. A key row written into
    /// the database by someone without the master key or the HSM fails this.
    pub fn holds(&self, key: &KeyRecord) -> bool {
        let (Some(jwk), Ok(alg)) = (key.public_jwk.clone(), key.alg.parse::<Alg>()) else {
            return false;
        };
        let mut challenge = [0u8; 32];
        self.rng.fill(&mut challenge);
        let header = JwsHeader {
            alg,
            kid: jwk.kid.clone(),
            typ: None,
            extra: Default::default(),
        };
        jose::sign_compact(&header, &challenge, |input| {
            self.store.sign(&key.kid, &key.handle, alg, input)
        })
        .and_then(|jws| jose::verify_compact(&jws, &[jwk], &[alg]))
        .is_ok_and(|(_, p)| p == challenge)
    }

    /// Find any key by id (for verifying old signatures).
    pub async fn by_kid(&self, kid: &str) -> Result<KeyRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM keys WHERE kid = $1"))
            .bind(kid)
            .fetch_optional(self.db.reader())
            .await?
            .ok_or(DomainError::NotFound)?;
        row_to_key(&row)
    }

    /// The time now, by the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

#[cfg(test)]
mod tests;
