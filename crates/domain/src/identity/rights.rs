//! The resident's rights over their data (Personal Data (Privacy) Ordinance): see and download
//! everything held about them, and close the account. A closed account's devices, sessions and
//! waiting requests end at once; its personal data is erased after the retention period; audit
//! entries stay, since they hold no personal data.
use super::devices::{self, DeviceCaller};
use super::Identity;
use crate::audit::{self, Event};
use crate::authn::approvals;
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::platform::Platform;

/// How many of the resident's newest log entries the export proves (each proof is a few
/// queries; older ones are listed under `activity`).
const PROVEN_ENTRIES: i64 = 1000;

/// Everything the platform holds about the caller, as one JSON document.
pub async fn export(p: &Platform, caller: &DeviceCaller) -> Result<serde_json::Value> {
    let r = super::get(&p.identity, &caller.resident_id).await?;
    let devices = devices::list(p, &r.id, Some(&caller.device_id)).await?;
    let subject = format!("resident:{}", r.id);
    let activity: Vec<serde_json::Value> = crate::audit::about(
        &p.db,
        &subject,
        crate::audit::About::All,
    )
    .await?
    .into_iter()
    .map(|e| {
        serde_json::json!({
            "log_index": e.seq,
            "at": e.at,
            "event": e.kind,
            "by": e.actor,
            "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
        })
    })
    .collect();
    let requests = crate::authn::approvals::history(p, &r.id).await?;
    Ok(serde_json::json!({
        "format": "iamsmart-export/1",
        "exported_at": p.clock.now_ms(),
        "resident": r.view(),
        "devices": devices,
        "requests": requests,
        "activity": activity,
        "transparency_log": audit::proven_entries(&p.db, &p.keys, &subject, PROVEN_ENTRIES).await?,
        "dealings": crate::exchange::dealings::for_resident(&p.exchange, &r.id).await?,
        "signatures": crate::signing::history::for_resident(p, &r.id).await?,
        "notifications": crate::notify::inbox::list(&p.notify, &r.id, false, 500).await?,
        "notification_settings": crate::notify::inbox::preferences(&p.notify, &r.id).await?,
        "favourite_services": crate::portal::favourites::list(p, &r.id).await?,
        "notes": [
            "Card images and selfies are never stored, so none are included.",
            "Activity entries come from the platform's transparency log, which names you only by your account id. The public log shows only a salted hash of each entry: transparency_log gives your newest entries with their salts and proofs, so that you (and anyone you show them to) can check that they are in the log the platform signed.",
        ],
    }))
}

/// Close the caller's account: devices revoked, sessions and waiting requests ended at once;
/// personal data erased after the retention period.
pub async fn close(p: &Identity, caller: &DeviceCaller, request_id: Option<&str>) -> Result<i64> {
    let now = p.clock.now_ms();
    let purge_at = now + p.policy.closed_retention_ms;
    let actor = caller.actor();
    let mut tx = p.db.begin().await?;
    let r = sqlx::query(
        "UPDATE residents SET status = 'closed', closed_at = $1, purge_at = $2, updated_at = $1 WHERE id = $3 AND status <> 'closed'",
    )
    .bind(now)
    .bind(purge_at)
    .bind(&caller.resident_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::Conflict("the account is already closed"));
    }
    devices::revoke_all(
        &mut tx,
        &caller.resident_id,
        "account closed",
        now,
        &actor,
        request_id,
    )
    .await?;
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE kind = 'resident' AND subject = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(&caller.resident_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE activation_codes SET expires_at = $1 WHERE resident_id = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(&caller.resident_id)
        .execute(&mut *tx)
        .await?;
    approvals::cancel_all(&mut tx, &caller.resident_id, now).await?;
    // Passkeys go at once: a reopened account must not find them again (browser sessions and
    // grants, passkey ones included, end below).
    crate::oidc::passkeys::remove_all(&mut tx, &caller.resident_id).await?;
    // Data consents end with the account: the next fetch is refused.
    crate::exchange::consents::end_at_closure(&mut tx, &caller.resident_id, now).await?;
    crate::oidc::tokens::revoke_resident(&mut tx, &caller.resident_id, None, "account closed", now)
        .await?;
    // Notifications hold what services wrote to the resident: gone with the account.
    let keep = p
        .notify
        .policy()
        .window_ms
        .max(crate::notify::NOT_DELIVERED_TTL_MS);
    crate::notify::inbox::erase_resident(&mut tx, &caller.resident_id, now + keep).await?;
    crate::signing::ca::revoke_certs(
        &mut tx,
        &caller.resident_id,
        None,
        crate::signing::ca::REASON_CESSATION,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "resident.closed",
            actor: &actor,
            subject: &format!("resident:{}", caller.resident_id),
            detail: serde_json::json!({ "purge_at": purge_at }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(purge_at)
}

/// Identity's tables with a `resident_id` whose rows go when a closed account is erased.
const IDENTITY_ERASED_AT_PURGE: &[&str] = &["devices", "activation_codes"];

/// The tables with a `resident_id` whose rows go when a closed account is erased: each owner
/// erases its own ([`purge_closed`] calls them).
pub fn erased_at_purge() -> Vec<&'static str> {
    [
        IDENTITY_ERASED_AT_PURGE,
        crate::authn::approvals::ERASED_AT_PURGE,
        crate::oidc::ERASED_AT_PURGE,
        crate::exchange::ERASED_AT_PURGE,
        crate::portal::favourites::ERASED_AT_PURGE,
        crate::notify::ERASED_AT_PURGE,
        crate::signing::requests::ERASED_AT_PURGE,
    ]
    .concat()
}

/// The tables with a `resident_id` whose rows outlive the account, and why. Every other table
/// with that column must be in [`erased_at_purge`] (a test derives the list from the schema, so
/// a new table cannot be forgotten).
pub const KEPT_AFTER_PURGE: &[(&str, &str)] = &[(
    "user_certs",
    "the resident's signing certificates stay known to the CRL and OCSP (revoked at closure), so that documents signed before stay verifiable: serial, status and dates stay, the certificate itself (which names the resident) is erased",
)];

/// Erase the personal data of closed accounts whose retention period has passed (a worker calls
/// this). The resident row and everything linked to it go; audit entries stay.
pub async fn purge_closed(p: &Env) -> Result<u64> {
    let now = p.clock.now_ms();
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM residents WHERE status = 'closed' AND purge_at IS NOT NULL AND purge_at <= $1 ORDER BY purge_at LIMIT 500",
    )
    .bind(now)
    .fetch_all(p.db.reader())
    .await?;
    let mut n = 0;
    for id in due {
        let mut tx = p.db.begin().await?;
        // What refers to the resident goes first (devices and activation codes have foreign
        // keys to the resident); the resident last, only if still closed and due: when the
        // account was reopened meanwhile, nothing is deleted (the transaction is dropped).
        sqlx::query("DELETE FROM devices WHERE resident_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM activation_codes WHERE resident_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        crate::authn::approvals::erase_at_purge(&mut tx, &id).await?;
        crate::oidc::erase_at_purge(&mut tx, &id).await?;
        crate::exchange::erase_at_purge(&mut tx, &id).await?;
        crate::portal::favourites::erase_at_purge(&mut tx, &id).await?;
        crate::notify::erase_at_purge(&mut tx, &id).await?;
        crate::signing::requests::erase_at_purge(&mut tx, &id).await?;
        let gone = sqlx::query(
            "DELETE FROM residents WHERE id = $1 AND status = 'closed' AND purge_at <= $2",
        )
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if gone == 0 {
            continue; // reopened meanwhile: the deletes above are rolled back
        }
        crate::signing::ca::erase_certificates(&mut tx, &id).await?;
        audit::append(
            &mut tx,
            now,
            None,
            &Event {
                kind: "resident.purged",
                actor: "system",
                subject: &format!("resident:{id}"),
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n)
}
