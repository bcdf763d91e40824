//! Personal data at rest: sealing and opening fields, blind indexes, and re-wrapping data keys
//! after a key-encryption-key rotation.
use crate::error::{DomainError, Result};
use crate::keys::{KeyService, Purpose};
use crate::metrics::KeyOpCounters;
use iamsmart_crypto::envelope::{self, FieldContext, KekRef};
use iamsmart_crypto::rng::Rng;
use iamsmart_store::{Db, Row};
use std::collections::HashMap;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where sealed values live: table, key column, sealed columns. The re-wrap walks these.
pub const SEALED_COLUMNS: &[(&str, &str, &[&str])] = &[
    (
        "residents",
        "id",
        &[
            "hkid",
            "name_en",
            "name_zh",
            "date_of_birth",
            "gender",
            "profile",
        ],
    ),
    ("staff", "id", &["display_name"]),
    ("settings", "name", &["value"]),
    ("sign_requests", "id", &["document", "result"]),
    ("notifications", "id", &["content"]),
    ("user_certs", "serial", &["cert"]),
    ("devices", "id", &["oprf_key"]),
    ("osp_api_clients", "client_id", &["secret"]),
    ("osp_api_content_keys", "id", &["content_key"]),
    ("osp_api_tickets", "id", &["body"]),
];

/// Settings rows whose value is sealed start with this prefix.
pub const SEALED_SETTING_PREFIX: &str = "sealed:";

const INDEX_KEY_SETTING: &str = "sealed:blind_index_key";

/// Seals and opens personal data with the platform's key-encryption keys.
#[derive(Clone)]
pub struct Vault {
    db: Db,
    keys: KeyService,
    rng: Arc<dyn Rng>,
    index_key: Arc<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault { .. }")
    }
}

impl Vault {
    /// Open the vault: load (or on first start create) the blind-index key, sealed like any
    /// personal data.
    pub async fn open(db: Db, keys: KeyService, rng: Arc<dyn Rng>) -> Result<Self> {
        let mut vault = Self {
            db: db.clone(),
            keys,
            rng,
            index_key: Arc::new(Zeroizing::new([0u8; 32])),
        };
        let ctx = FieldContext {
            table: "settings",
            column: "value",
            row: INDEX_KEY_SETTING,
        };
        let sealed = match crate::settings::get(&db, INDEX_KEY_SETTING).await? {
            Some(s) => s,
            None => {
                let mut k = Zeroizing::new([0u8; 32]);
                vault.rng.fill(&mut k[..]);
                let sealed = vault.seal(&ctx, &k[..]).await?;
                // Another process may have won the race: what is stored is used.
                crate::settings::set_once(&db, INDEX_KEY_SETTING, &sealed).await?
            }
        };
        let key = vault.open_field(&ctx, &sealed).await?;
        let key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| DomainError::Integrity("blind index key is not 32 bytes".into()))?;
        vault.index_key = Arc::new(Zeroizing::new(key));
        Ok(vault)
    }

    async fn kek_handles(&self) -> Result<HashMap<String, Vec<u8>>> {
        Ok(self
            .keys
            .all(Purpose::Kek)
            .await?
            .into_iter()
            .map(|k| (k.kid, k.handle))
            .collect())
    }

    /// Seal `plaintext` for the given table, column and row under the active KEK.
    pub async fn seal(&self, ctx: &FieldContext<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut sealed = self.seal_many(&[(*ctx, plaintext)]).await?;
        sealed
            .pop()
            .ok_or_else(|| DomainError::Integrity("nothing sealed".into()))
    }

    /// Seal several values at once (one KEK lookup).
    pub async fn seal_many(&self, items: &[(FieldContext<'_>, &[u8])]) -> Result<Vec<Vec<u8>>> {
        let kek = self.keys.active(Purpose::Kek, None).await?;
        items
            .iter()
            .map(|(ctx, pt)| {
                let r = envelope::seal(
                    self.keys.store(),
                    KekRef {
                        kid: &kek.kid,
                        handle: &kek.handle,
                    },
                    ctx,
                    pt,
                    self.rng.as_ref(),
                );
                self.count(r.is_ok(), &self.keys.counters.wrap);
                Ok(r?)
            })
            .collect()
    }

    /// Open a sealed value; fails if it was moved to another table, column or row, or altered.
    pub async fn open_field(
        &self,
        ctx: &FieldContext<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let handles = self.kek_handles().await?;
        self.open_with(&handles, ctx, sealed)
    }

    /// Open several sealed values of one row (one KEK lookup). `None` stays `None`.
    pub async fn open_many(
        &self,
        items: &[(FieldContext<'_>, Option<&[u8]>)],
    ) -> Result<Vec<Option<Zeroizing<Vec<u8>>>>> {
        let handles = self.kek_handles().await?;
        items
            .iter()
            .map(|(ctx, s)| s.map(|s| self.open_with(&handles, ctx, s)).transpose())
            .collect()
    }

    fn open_with(
        &self,
        handles: &HashMap<String, Vec<u8>>,
        ctx: &FieldContext<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let r = envelope::open(
            self.keys.store(),
            &|kid| handles.get(kid).cloned(),
            ctx,
            sealed,
        );
        self.count(r.is_ok(), &self.keys.counters.unwrap);
        r.map_err(|e| match e {
            iamsmart_crypto::CryptoError::Verify(_) => DomainError::Integrity(format!(
                "sealed value {}.{} of {} does not open (altered or moved)",
                ctx.table, ctx.column, ctx.row
            )),
            other => other.into(),
        })
    }

    fn count(&self, ok: bool, c: &std::sync::atomic::AtomicU64) {
        KeyOpCounters::inc(if ok { c } else { &self.keys.counters.errors });
    }

    /// A keyed hash for looking up a value without storing it in clear (e.g. an HKID).
    pub fn blind_index(&self, domain: &str, value: &str) -> Vec<u8> {
        let mut input = domain.as_bytes().to_vec();
        input.push(0);
        input.extend_from_slice(value.as_bytes());
        iamsmart_crypto::hash::hmac_sha256(&self.index_key[..], &input).to_vec()
    }

    /// Re-wrap every data key not under the active KEK, in batches, while the platform runs.
    /// Each value is updated only if it has not changed meanwhile. Returns how many were
    /// re-wrapped; once none remain under an older KEK, that KEK is retired.
    pub async fn rewrap_all(&self) -> Result<u64> {
        let active = self.keys.active(Purpose::Kek, None).await?;
        let handles = self.kek_handles().await?;
        let mut moved = 0u64;
        for (table, key_col, cols) in SEALED_COLUMNS {
            for col in *cols {
                let mut after = String::new();
                loop {
                    let filter = if *table == "settings" {
                        format!(" AND {key_col} LIKE '{SEALED_SETTING_PREFIX}%'")
                    } else {
                        String::new()
                    };
                    let rows = sqlx::query(&format!(
                        "SELECT {key_col}, {col} FROM {table} WHERE {key_col} > $1 AND {col} IS NOT NULL{filter}
                         ORDER BY {key_col} LIMIT 500"
                    ))
                    .bind(&after)
                    .fetch_all(self.db.reader())
                    .await?;
                    if rows.is_empty() {
                        break;
                    }
                    for row in &rows {
                        let id: String = row.try_get(0)?;
                        let sealed: Vec<u8> = row.try_get(1)?;
                        after.clone_from(&id);
                        if envelope::kek_id(&sealed)? == active.kid {
                            continue;
                        }
                        let ctx = FieldContext {
                            table,
                            column: col,
                            row: &id,
                        };
                        let new = envelope::rewrap(
                            self.keys.store(),
                            &|kid| handles.get(kid).cloned(),
                            KekRef {
                                kid: &active.kid,
                                handle: &active.handle,
                            },
                            &ctx,
                            &sealed,
                        )?;
                        let done = sqlx::query(&format!(
                            "UPDATE {table} SET {col} = $1 WHERE {key_col} = $2 AND {col} = $3"
                        ))
                        .bind(&new)
                        .bind(&id)
                        .bind(&sealed)
                        .execute(self.db.writer())
                        .await?;
                        moved += done.rows_affected();
                    }
                }
            }
        }
        // Retire older KEKs that no longer wrap anything.
        if self.count_not_under(&active.kid).await? == 0 {
            let now = self.keys.now_ms();
            for k in self.keys.all(Purpose::Kek).await? {
                if k.kid != active.kid
                    && k.retire_at.is_none()
                    && k.activate_at <= active.activate_at
                {
                    self.keys.schedule_retirement(&k.kid, now).await?;
                }
            }
        }
        Ok(moved)
    }

    /// How many sealed values are wrapped under a KEK other than `kid`.
    pub async fn count_not_under(&self, kid: &str) -> Result<u64> {
        let mut n = 0;
        for (table, key_col, cols) in SEALED_COLUMNS {
            for col in *cols {
                let filter = if *table == "settings" {
                    format!(" AND {key_col} LIKE '{SEALED_SETTING_PREFIX}%'")
                } else {
                    String::new()
                };
                let rows: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
                    "SELECT {col} FROM {table} WHERE {col} IS NOT NULL{filter}"
                ))
                .fetch_all(self.db.reader())
                .await?;
                for s in rows {
                    if envelope::kek_id(&s)? != kid {
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::platform;

    fn at<'a>(table: &'a str, column: &'a str, row: &'a str) -> FieldContext<'a> {
        FieldContext { table, column, row }
    }

    #[tokio::test]
    async fn a_sealed_value_opens_only_where_it_was_sealed() {
        let t = platform().await;
        let v = &t.p.vault;
        let here = at("residents", "name_en", "res_1");
        let sealed = v.seal(&here, b"CHAN Tai Man").await.unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"CHAN"), "no clear text");
        assert_eq!(
            &v.open_field(&here, &sealed).await.unwrap()[..],
            b"CHAN Tai Man"
        );
        // Moved to another row, column or table, or altered: refused as an integrity failure.
        for elsewhere in [
            at("residents", "name_en", "res_2"),
            at("residents", "name_zh", "res_1"),
            at("staff", "name_en", "res_1"),
        ] {
            assert!(matches!(
                v.open_field(&elsewhere, &sealed).await,
                Err(DomainError::Integrity(_))
            ));
        }
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(matches!(
            v.open_field(&here, &altered).await,
            Err(DomainError::Integrity(_))
        ));
        // The same value sealed twice is two different ciphertexts (a fresh data key each time).
        assert_ne!(v.seal(&here, b"CHAN Tai Man").await.unwrap(), sealed);
        // Several at once, and None stays None.
        let both = v
            .open_many(&[
                (here, Some(&sealed[..])),
                (at("residents", "gender", "res_1"), None),
            ])
            .await
            .unwrap();
        assert_eq!(&both[0].as_deref().unwrap()[..], b"CHAN Tai Man");
        assert!(both[1].is_none());
    }

    #[tokio::test]
    async fn the_blind_index_is_keyed_stable_and_separated_by_domain() {
        let t = platform().await;
        let v = &t.p.vault;
        let a = v.blind_index("hkid", "A1234563");
        assert_eq!(a.len(), 32);
        assert_eq!(a, v.blind_index("hkid", "A1234563"), "stable");
        assert_ne!(a, v.blind_index("hkid", "A1234564"));
        assert_ne!(
            a,
            v.blind_index("phone", "A1234563"),
            "domains are separate"
        );
        // Not a plain hash of the value: without the sealed key nobody can compute it.
        assert_ne!(a, iamsmart_crypto::hash::sha256(b"hkid\0A1234563").to_vec());
        // Its key is stored sealed like personal data; reopening the vault gives the same index.
        let stored = crate::settings::get(&t.p.db, INDEX_KEY_SETTING)
            .await
            .unwrap()
            .unwrap();
        assert!(envelope::kek_id(&stored).is_ok(), "sealed under a KEK");
        let reopened = Vault::open(t.p.db.clone(), t.p.keys.clone(), t.p.rng.clone())
            .await
            .unwrap();
        assert_eq!(a, reopened.blind_index("hkid", "A1234563"));
    }

    #[tokio::test]
    async fn a_new_kek_rewraps_every_data_key_and_the_old_one_retires() {
        let t = platform().await;
        let v = &t.p.vault;
        let ctx = at("settings", "value", "sealed:test");
        let sealed = v.seal(&ctx, b"secret").await.unwrap();
        crate::settings::set_once(&t.p.db, "sealed:test", &sealed)
            .await
            .unwrap();
        let old = t.p.keys.active(Purpose::Kek, None).await.unwrap();
        let new = t.p.keys.rotate_kek().await.unwrap();
        t.clock.advance(1);
        // Still opens under the old KEK; at least this value and the index key to move.
        assert_eq!(&v.open_field(&ctx, &sealed).await.unwrap()[..], b"secret");
        let before = v.count_not_under(&new.kid).await.unwrap();
        assert!(before >= 2, "{before}");
        assert_eq!(v.rewrap_all().await.unwrap(), before);
        assert_eq!(v.count_not_under(&new.kid).await.unwrap(), 0);
        assert_eq!(v.rewrap_all().await.unwrap(), 0, "nothing left to move");
        let stored = crate::settings::get(&t.p.db, "sealed:test")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(envelope::kek_id(&stored).unwrap(), new.kid);
        assert_eq!(&v.open_field(&ctx, &stored).await.unwrap()[..], b"secret");
        let retired =
            t.p.keys
                .all(Purpose::Kek)
                .await
                .unwrap()
                .into_iter()
                .find(|k| k.kid == old.kid)
                .unwrap();
        assert!(retired.retire_at.is_some(), "the old KEK is retired");
    }
}
