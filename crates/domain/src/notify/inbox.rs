//! The resident's side: the inbox (newest first, read and unread), preferences per service, and
//! erasure (expiry, account closure).
use super::Notify;
use super::{Bilingual, Content, COLUMN, TABLE};
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::oidc::clients::{self, ServiceNames, PORTAL};
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_proto::i18n::Localized;
use iamsmart_proto::ids::NotificationId;
use iamsmart_store::AnyConnection;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// A notification, opened for its resident.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Id.
    pub id: NotificationId,
    /// The service that sent it.
    pub client_id: String,
    /// Its name (English).
    pub service: String,
    /// Its name in every language registered.
    pub service_names: Localized,
    /// Title.
    pub title: Bilingual,
    /// Body.
    pub body: Bilingual,
    /// A link to the service's site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The service's category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Sent (Unix ms).
    pub created_at: i64,
    /// Read (Unix ms), if read.
    pub read_at: Option<i64>,
    /// Erased after (Unix ms).
    pub expires_at: i64,
}

/// (id, client, sealed content, read, created, expires)
type Row = (NotificationId, String, Vec<u8>, Option<i64>, i64, i64);

const SELECT: &str = "SELECT n.id, n.client_id, n.content, n.read_at, n.created_at, n.expires_at FROM notifications n";

async fn open(notify: &Notify, rows: Vec<Row>) -> Result<Vec<Notification>> {
    let items: Vec<(FieldContext<'_>, Option<&[u8]>)> = rows
        .iter()
        .map(|r| {
            (
                FieldContext {
                    table: TABLE,
                    column: COLUMN,
                    row: r.0.as_str(),
                },
                Some(r.2.as_slice()),
            )
        })
        .collect();
    let opened = notify.vault.open_many(&items).await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let services = clients::names_of(notify, &ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, plain) in rows.iter().zip(opened) {
        let plain = plain.ok_or_else(|| DomainError::Integrity("notification content".into()))?;
        let c: Content = serde_json::from_slice(&plain)?;
        let service = ServiceNames::of(&services, &r.1);
        out.push(Notification {
            id: r.0.clone(),
            client_id: r.1.clone(),
            service: service.name,
            service_names: service.names,
            title: c.title,
            body: c.body,
            link: c.link,
            category: c.category,
            read_at: r.3,
            created_at: r.4,
            expires_at: r.5,
        });
    }
    Ok(out)
}

/// The resident's notifications, newest first (only unread ones if asked), at most `limit`.
pub async fn list(
    notify: &Notify,
    resident_id: &str,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>> {
    let unread = if unread_only {
        " AND n.read_at IS NULL"
    } else {
        ""
    };
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE n.resident_id = $1 AND n.status = 'delivered' AND n.expires_at > $2{unread} ORDER BY n.created_at DESC, n.id DESC LIMIT $3"
    ))
    .bind(resident_id)
    .bind(notify.clock.now_ms())
    .bind(limit.clamp(1, 500))
    .fetch_all(notify.db.reader())
    .await?;
    open(notify, rows).await
}

/// One notification of the resident (not found if it is someone else's or expired).
pub async fn get(notify: &Notify, resident_id: &str, id: &NotificationId) -> Result<Notification> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE n.id = $1 AND n.resident_id = $2 AND n.status = 'delivered' AND n.expires_at > $3"
    ))
    .bind(id)
    .bind(resident_id)
    .bind(notify.clock.now_ms())
    .fetch_all(notify.db.reader())
    .await?;
    open(notify, rows).await?.pop().ok_or(DomainError::NotFound)
}

/// Mark one notification read (reading it again changes nothing).
pub async fn mark_read(p: &Env, resident_id: &str, id: &NotificationId) -> Result<()> {
    let now = p.clock.now_ms();
    let n = sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE id = $2 AND resident_id = $3 AND status = 'delivered' AND read_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(id)
    .bind(resident_id)
    .execute(p.db.writer())
    .await?
    .rows_affected();
    if n == 0 {
        let mine: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE id = $1 AND resident_id = $2 AND status = 'delivered' AND expires_at > $3",
        )
        .bind(id)
        .bind(resident_id)
        .bind(now)
        .fetch_one(p.db.writer())
        .await?;
        if mine == 0 {
            return Err(DomainError::NotFound);
        }
    }
    Ok(())
}

/// Mark every notification read; returns how many changed.
pub async fn mark_all_read(p: &Env, resident_id: &str) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE resident_id = $2 AND status = 'delivered' AND read_at IS NULL",
    )
    .bind(p.clock.now_ms())
    .bind(resident_id)
    .execute(p.db.writer())
    .await?
    .rows_affected())
}

/// How many unread notifications the resident has.
pub async fn unread_count(p: &Env, resident_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE resident_id = $1 AND status = 'delivered' AND read_at IS NULL AND expires_at > $2",
    )
    .bind(resident_id)
    .bind(p.clock.now_ms())
    .fetch_one(p.db.reader())
    .await?)
}

/// A service the resident uses, and whether it may send notifications.
#[derive(Debug, Clone, Serialize)]
pub struct ServicePreference {
    /// The service's client id.
    pub client_id: String,
    /// Its name (English).
    pub service: String,
    /// Its name in every language registered.
    pub service_names: Localized,
    /// Whether the resident agreed to its notifications.
    pub enabled: bool,
}

/// The services the resident uses (signed in to, gave a consent to, or chose about before), with
/// their notification choice; the platform's own account pages are not among them.
pub async fn preferences(notify: &Notify, resident_id: &str) -> Result<Vec<ServicePreference>> {
    let chosen: Vec<(String, i64)> =
        sqlx::query_as("SELECT client_id, enabled FROM notify_prefs WHERE resident_id = $1")
            .bind(resident_id)
            .fetch_all(notify.db.reader())
            .await?;
    let chosen: HashMap<String, i64> = chosen.into_iter().collect();
    let mut used: BTreeSet<String> = chosen.keys().cloned().collect();
    used.extend(crate::oidc::claims::clients_used_by(notify, resident_id).await?);
    used.extend(crate::exchange::consents::requesters_of(notify, resident_id).await?);
    used.remove(PORTAL);
    let used: Vec<String> = used.into_iter().collect();
    let mut out: Vec<ServicePreference> = clients::active_among(notify, &used)
        .await?
        .into_iter()
        .map(|c| ServicePreference {
            enabled: chosen.get(c.id.as_str()) == Some(&1),
            service_names: c.meta.names(),
            service: c.meta.client_name,
            client_id: c.id.to_string(),
        })
        .collect();
    out.sort_by(|a, b| (&a.service, &a.client_id).cmp(&(&b.service, &b.client_id)));
    Ok(out)
}

/// Turn a service's notifications on or off. Only for services the resident uses.
pub async fn set_preference(
    notify: &Notify,
    resident_id: &str,
    client_id: &iamsmart_proto::ids::ClientId,
    enabled: bool,
    request_id: Option<&str>,
) -> Result<()> {
    let known = preferences(notify, resident_id)
        .await?
        .into_iter()
        .find(|s| s.client_id == client_id.as_str())
        .ok_or(DomainError::NotFound)?;
    if known.enabled == enabled {
        return Ok(());
    }
    let now = notify.clock.now_ms();
    let subject = format!("resident:{resident_id}");
    let mut tx = notify.db.begin().await?;
    sqlx::query(
        "INSERT INTO notify_prefs (resident_id, client_id, enabled, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (resident_id, client_id) DO UPDATE SET enabled = $3, updated_at = $4",
    )
    .bind(resident_id)
    .bind(client_id)
    .bind(i64::from(enabled))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "notify.preference",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client_id, "enabled": enabled }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Erase a resident's notifications and choices (in the transaction that closes the account).
/// The content and the link to the resident go at once; what the idempotency keys and the rate
/// limit need (service, key, hashes, status, times) stays until `keep_until` at most, so that a
/// service sees the same answers as before and learns nothing of the closure.
pub async fn erase_resident(
    conn: &mut AnyConnection,
    resident_id: &str,
    keep_until: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET resident_id = NULL, content = NULL, read_at = NULL,
         expires_at = CASE WHEN expires_at > $2 THEN $2 ELSE expires_at END
         WHERE resident_id = $1",
    )
    .bind(resident_id)
    .bind(keep_until)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM notify_prefs WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Erase expired notifications (a worker calls this); returns how many.
pub async fn purge(p: &Env) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM notifications WHERE expires_at <= $1")
            .bind(p.clock.now_ms())
            .execute(p.db.writer())
            .await?
            .rows_affected(),
    )
}
