//! Fetching data under a consent: checked on every fetch, providers called with signed requests,
//! answers relayed encrypted end to end, a metadata-only message log.
use super::consents::{self, FetchType, ItemRef};
use super::Exchange;
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::oidc::clients::Client;
use iamsmart_proto::ids::DataConsentId;
use serde::Serialize;
use std::collections::BTreeMap;

/// One item's answer.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    /// Provider id.
    pub provider: String,
    /// Item id.
    pub item: String,
    /// `ok` (data in `jwe`), `none` (the provider holds nothing), `error`.
    pub status: String,
    /// The data, encrypted to the requester's key (compact JWE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwe: Option<String>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a fetch returns.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    /// The consent.
    pub consent_id: DataConsentId,
    /// One answer per item.
    pub results: Vec<ItemResult>,
}

/// One line of the message log (metadata only), for one provider's part of a fetch.
struct LogLine {
    provider: Option<String>,
    items: Vec<String>,
    outcome: &'static str,
    detail: Option<String>,
    bytes: usize,
    hash: Option<[u8; 32]>,
    ms: i64,
}

/// Log a refused fetch (its own commit: nothing else is written).
async fn log_refusal(
    p: &Env,
    consent: &DataConsentId,
    client: &str,
    resident: &str,
    items: Vec<String>,
    why: &str,
) -> Result<()> {
    let mut conn = p.db.writer().acquire().await?;
    let line = LogLine {
        provider: None,
        items,
        outcome: "refused",
        detail: Some(why.to_string()),
        bytes: 0,
        hash: None,
        ms: 0,
    };
    insert_log(&mut conn, p, consent, client, resident, &line).await
}

async fn insert_log(
    conn: &mut iamsmart_store::AnyConnection,
    p: &Env,
    consent: &DataConsentId,
    client: &str,
    resident: &str,
    l: &LogLine,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO exchange_log (id, kind, consent_id, client_id, resident_id, provider_id, items, at, outcome, detail, bytes, payload_hash, duration_ms)
         VALUES ($1, 'fetch', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(format!("x_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 12)))
    .bind(consent)
    .bind(client)
    .bind(resident)
    .bind(&l.provider)
    .bind(serde_json::to_string(&l.items)?)
    .bind(p.clock.now_ms())
    .bind(l.outcome)
    .bind(&l.detail)
    .bind(l.bytes as i64)
    .bind(l.hash.map(|h| h.to_vec()))
    .bind(l.ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn refused(code: &'static str, message: &'static str) -> DomainError {
    DomainError::Refused { code, message }
}

/// Fetch items under a consent for its declared purpose (`requested` empty: every item).
pub async fn fetch(
    p: &Exchange,
    client: &Client,
    consent_id: &DataConsentId,
    purpose_code: &str,
    requested: &[ItemRef],
) -> Result<Fetched> {
    let v = consents::for_client(p, client, consent_id).await?;
    let resident: String =
        sqlx::query_scalar("SELECT resident_id FROM data_consents WHERE id = $1")
            .bind(consent_id)
            .fetch_one(p.db.reader())
            .await?;
    let names = |items: &[ItemRef]| {
        items
            .iter()
            .map(|i| format!("{}/{}", i.provider, i.item))
            .collect::<Vec<_>>()
    };
    let refuse = async |outcome: &str, e: DomainError| -> Result<Fetched> {
        log_refusal(
            p,
            consent_id,
            &client.id,
            &resident,
            names(requested),
            outcome,
        )
        .await?;
        Err(e)
    };
    if v.status != super::consents::ConsentStatus::Active {
        return refuse(
            "consent not active",
            refused(
                "consent-not-active",
                "the consent is not active (pending, paused, revoked, expired or denied)",
            ),
        )
        .await;
    }
    if purpose_code != v.purpose_code {
        return refuse(
            "purpose does not match",
            refused(
                "purpose-mismatch",
                "the purpose_code differs from the purpose the resident consented to",
            ),
        )
        .await;
    }
    let Ok(items) = consents::allowed(&v.items, requested) else {
        return refuse(
            "item outside the consent",
            refused(
                "item-not-consented",
                "an item asked for is not in the consent",
            ),
        )
        .await;
    };
    let now = p.clock.now_ms();
    if v.fetch_type == FetchType::Once && v.fetches >= 1 {
        return refuse("once only", used()).await;
    }
    // Claim a slot before anything is asked of a provider: the limits hold however many
    // fetches arrive at once.
    let slot = match claim_slot(p, &v, now).await? {
        Ok(slot) => slot,
        Err(e) => {
            let outcome = if v.fetch_type == FetchType::Once {
                "once only"
            } else {
                "frequency"
            };
            return refuse(outcome, e).await;
        }
    };
    let fetched = relay(p, client, consent_id, &v, &resident, &items, now).await;
    if !matches!(&fetched, Ok(f) if f.1) {
        release_slot(p, consent_id, slot).await?;
    }
    fetched.map(|(f, _)| f)
}

fn used() -> DomainError {
    refused(
        "consent-used",
        "this consent allowed one fetch, which was made",
    )
}

const DAY: i64 = 86_400_000;

/// Claim one of the consent's fetch slots for now: `Ok(Err(..))` when they are used up.
pub(crate) async fn claim_slot(
    p: &Env,
    v: &consents::ConsentView,
    now: i64,
) -> Result<std::result::Result<i64, DomainError>> {
    let (base, limit, next) = if v.fetch_type == FetchType::Once {
        (0, 1, None)
    } else {
        let start = v.starts_at.unwrap_or(v.created_at);
        let day = (now - start).max(0) / DAY;
        (
            day * 1000,
            v.frequency_per_day.unwrap_or(1).clamp(1, 999),
            Some(start + (day + 1) * DAY),
        )
    };
    for n in 0..limit {
        let r = sqlx::query(
            "INSERT INTO consent_fetch_slots (consent_id, slot, claimed_at) VALUES ($1, $2, $3) ON CONFLICT (consent_id, slot) DO NOTHING",
        )
        .bind(&v.consent_id)
        .bind(base + n)
        .bind(now)
        .execute(p.db.writer())
        .await?;
        if r.rows_affected() == 1 {
            return Ok(Ok(base + n));
        }
    }
    Ok(Err(match next {
        None => used(),
        Some(next) => DomainError::LimitReached {
            message: "this consent's fetches for the day are used up",
            retry_after_secs: ((next - now) / 1000).max(1) as u64,
        },
    }))
}

/// Give a slot back (the fetch brought nothing).
async fn release_slot(p: &Env, consent_id: &DataConsentId, slot: i64) -> Result<()> {
    sqlx::query("DELETE FROM consent_fetch_slots WHERE consent_id = $1 AND slot = $2")
        .bind(consent_id)
        .bind(slot)
        .execute(p.db.writer())
        .await?;
    Ok(())
}

/// Forget a consent's slots, inside the caller's transaction (the consent is being erased).
pub(crate) async fn forget_slots(
    conn: &mut iamsmart_store::AnyConnection,
    consent_id: &DataConsentId,
) -> Result<()> {
    sqlx::query("DELETE FROM consent_fetch_slots WHERE consent_id = $1")
        .bind(consent_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ask the providers for `items` and relay their answers; answers whether any item came back.
async fn relay(
    p: &Exchange,
    client: &Client,
    consent_id: &DataConsentId,
    v: &consents::ConsentView,
    resident: &str,
    items: &[ItemRef],
    now: i64,
) -> Result<(Fetched, bool)> {
    let key = client
        .encryption_key(&p.oidc)
        .await
        .map_err(|e| DomainError::Invalid {
            field: "client",
            message: e.description,
        })?
        .ok_or(DomainError::Invalid {
            field: "client",
            message: "no encryption key registered".into(),
        })?;
    let hkid = crate::identity::get(&p.identity, resident)
        .await?
        .verified
        .hkid;
    let catalogue = super::providers::catalogue(p).await?;
    let mut by_provider: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in items {
        by_provider
            .entry(i.provider.clone())
            .or_default()
            .push(i.item.clone());
    }
    let mut results = Vec::new();
    let mut any_ok = false;
    let mut lines: Vec<LogLine> = Vec::new();
    for (provider, its) in by_provider {
        let Some(base) = catalogue
            .iter()
            .find(|c| c.provider == provider)
            .map(|c| c.base_url.clone())
        else {
            for item in &its {
                results.push(ItemResult {
                    provider: provider.clone(),
                    item: item.clone(),
                    status: "error".into(),
                    jwe: None,
                    detail: Some("the provider is no longer available".into()),
                });
            }
            continue;
        };
        let started = std::time::Instant::now();
        let call = async {
            let client_for = p
                .gateway
                .client(&p.keys, p.outbound.policy(), &provider, &base)?;
            client_for
                .post_json(
                    &format!("{base}/v1/fetch"),
                    &serde_json::json!({
                        "consent_id": consent_id,
                        "hkid": hkid,
                        "items": its,
                        "purpose_code": v.purpose_code,
                        "requester": { "client_id": client.id, "name": client.meta.client_name },
                        "requester_key": key,
                    }),
                )
                .await
        };
        let answer = call.await;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let parsed = match answer {
            Ok((200, body)) => {
                let schemas: Vec<&serde_json::Value> = its
                    .iter()
                    .map(|it| {
                        catalogue
                            .iter()
                            .find(|c| c.provider == provider && &c.def.item == it)
                            .map_or(&serde_json::Value::Null, |c| &c.def.schema)
                    })
                    .collect();
                check_answer(&body, &its, &schemas).map(|r| (r, body.len()))
            }
            Ok((status, _)) => Err(format!("the provider refused ({status})")),
            Err(DomainError::Upstream { cause, .. }) => {
                Err(format!("the provider is not available: {cause}"))
            }
            Err(e) => Err(e.to_string()),
        };
        match parsed {
            Ok((answers, size)) => {
                let relayed: String = answers.iter().filter_map(|a| a.1.clone()).collect();
                let outcome = if answers.iter().any(|a| a.1.is_some()) {
                    "ok"
                } else {
                    "none"
                };
                any_ok |= outcome == "ok";
                lines.push(LogLine {
                    provider: Some(provider.clone()),
                    items: its.clone(),
                    outcome,
                    detail: None,
                    bytes: size,
                    hash: Some(iamsmart_crypto::hash::sha256(relayed.as_bytes())),
                    ms,
                });
                for (item, jwe) in answers {
                    results.push(ItemResult {
                        provider: provider.clone(),
                        status: if jwe.is_some() {
                            "ok".into()
                        } else {
                            "none".into()
                        },
                        item,
                        jwe,
                        detail: None,
                    });
                }
            }
            Err(why) => {
                tracing::warn!(provider = %provider, reason = %why, "provider failed");
                lines.push(LogLine {
                    provider: Some(provider.clone()),
                    items: its.clone(),
                    outcome: "provider_error",
                    detail: Some(why.clone()),
                    bytes: 0,
                    hash: None,
                    ms,
                });
                for item in &its {
                    results.push(ItemResult {
                        provider: provider.clone(),
                        item: item.clone(),
                        status: "error".into(),
                        jwe: None,
                        detail: Some(why.clone()),
                    });
                }
            }
        }
    }
    // The message log of every provider called and the consent's fetch count: one commit.
    let mut tx = p.db.begin().await?;
    for l in &lines {
        insert_log(&mut tx, p, consent_id, &client.id, resident, l).await?;
    }
    if any_ok {
        sqlx::query(
            "UPDATE data_consents SET fetches = fetches + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(consent_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((
        Fetched {
            consent_id: consent_id.clone(),
            results,
        },
        any_ok,
    ))
}

/// Check a provider's answer: every item asked for, once, `ok` with a well-formed JWE (whose
/// content is signed: `cty` `JWT`) and a
/// stated shape that fits the item's registered schema (`schemas`, in the order of `asked`), or
/// `none`; nothing else. Returns (item, JWE or none) in request order.
pub fn check_answer(
    body: &[u8],
    asked: &[String],
    schemas: &[&serde_json::Value],
) -> std::result::Result<Vec<(String, Option<String>)>, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| "the provider's answer is not JSON".to_string())?;
    let results = v["results"]
        .as_array()
        .ok_or("the provider's answer has no results")?;
    if results.len() != asked.len() {
        return Err("the provider's answer does not match the items asked for".into());
    }
    let mut out = Vec::new();
    for (n, item) in asked.iter().enumerate() {
        let found: Vec<&serde_json::Value> = results
            .iter()
            .filter(|r| r["item"] == item.as_str())
            .collect();
        let [r] = found.as_slice() else {
            return Err(format!(
                "the provider's answer has {} entries for {item}",
                found.len()
            ));
        };
        match r["status"].as_str() {
            Some("ok") => {
                let jwe = r["jwe"]
                    .as_str()
                    .ok_or(format!("{item}: no encrypted data"))?;
                let well_formed = jwe.len() < 4 * 1024 * 1024
                    && jwe.split('.').count() == 5
                    && jwe
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
                if !well_formed {
                    return Err(format!("{item}: the encrypted data is malformed"));
                }
                // The provider signs each item inside the encryption, so that the requester can
                // prove its origin end to end; an unsigned item is not relayed.
                let signed =
                    iamsmart_crypto::jwe::protected_header(jwe).is_ok_and(|h| h["cty"] == "JWT");
                if !signed {
                    return Err(format!(
                        "{item}: the data is not signed by the provider (the JWE's cty must be JWT)"
                    ));
                }
                let schema = schemas.get(n).copied().unwrap_or(&serde_json::Value::Null);
                iamsmart_proto::exchange::check_shape(schema, &r["shape"])
                    .map_err(|e| format!("{item}: schema mismatch: {e}"))?;
                out.push((item.clone(), Some(jwe.to_string())));
            }
            Some("none") => out.push((item.clone(), None)),
            _ => return Err(format!("{item}: unknown status")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    const SIGNED_HEADER: &str = "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSIsImN0eSI6IkpXVCJ9";
    const UNSIGNED_HEADER: &str = "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9";

    fn schema() -> serde_json::Value {
        serde_json::json!({ "type": "object", "properties": { "n": { "type": "string" } }, "required": ["n"] })
    }

    #[test]
    fn answers_must_match_the_request() {
        // A JWE's protected header says whether the content is signed (cty JWT).
        let with = |header: &str, body: &str| body.replace("SIGNED", header).into_bytes();
        let signed = |body: &str| with(SIGNED_HEADER, body);
        let asked = vec!["a".to_string(), "b".to_string()];
        let (sa, sb) = (schema(), schema());
        let schemas = [&sa, &sb];
        let ok = signed(
            r#"{"results":[{"item":"b","status":"none"},{"item":"a","status":"ok","jwe":"SIGNED..i.c.t","shape":{"n":"string"}}]}"#,
        );
        assert_eq!(
            super::check_answer(&ok, &asked, &schemas).unwrap()[0].0,
            "a"
        );
        // A shape that does not fit the schema, or none stated: a schema mismatch, nothing relayed.
        for (bad, needle) in [
            (
                signed(
                    r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t","shape":{"n":"integer"}},{"item":"b","status":"none"}]}"#,
                ),
                "\"n\" is integer",
            ),
            (
                signed(
                    r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t","shape":{}},{"item":"b","status":"none"}]}"#,
                ),
                "required field",
            ),
            (
                signed(
                    r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t"},{"item":"b","status":"none"}]}"#,
                ),
                "no shape",
            ),
        ] {
            let e = super::check_answer(&bad, &asked, &schemas).unwrap_err();
            assert!(
                e.contains("a: schema mismatch") && e.contains(needle),
                "{e}"
            );
        }
        for bad in [
            b"garbage".to_vec(),
            signed(r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t"}]}"#),
            signed(
                r#"{"results":[{"item":"a","status":"ok","jwe":"not a jwe"},{"item":"b","status":"none"}]}"#,
            ),
            signed(
                r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t"},{"item":"c","status":"none"}]}"#,
            ),
            signed(r#"{"results":[{"item":"a","status":"maybe"},{"item":"b","status":"none"}]}"#),
        ] {
            assert!(
                super::check_answer(&bad, &asked, &schemas).is_err(),
                "{}",
                String::from_utf8_lossy(&bad)
            );
        }
    }

    /// Issue 16, finding 11: an item whose content is not signed by the provider (the JWE's
    /// `cty` is not `JWT`) is not relayed, whatever its shape.
    #[test]
    fn an_item_the_provider_did_not_sign_is_not_relayed() {
        let asked = vec!["a".to_string()];
        let sa = schema();
        let body = r#"{"results":[{"item":"a","status":"ok","jwe":"SIGNED..i.c.t","shape":{"n":"string"}}]}"#;
        let unsigned = body.replace("SIGNED", UNSIGNED_HEADER);
        let e = super::check_answer(unsigned.as_bytes(), &asked, &[&sa]).unwrap_err();
        assert!(e.contains("not signed by the provider"), "{e}");
        let signed = body.replace("SIGNED", SIGNED_HEADER);
        assert!(super::check_answer(signed.as_bytes(), &asked, &[&sa]).is_ok());
    }
}
