//! The resident's side: the inbox (newest first, read and unread), preferences per service, and
//! erasure (expiry, account closure).
use super::{Bilingual, Content, COLUMN, TABLE};
use crate::audit::{self, Event};
use crate::error::{DomainError, Result};
use crate::oidc::clients::names_from_stored;
use crate::oidc::clients::PORTAL;
use crate::platform::Platform;
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_proto::i18n::Localized;
use iamsmart_store::AnyConnection;
use serde::Serialize;

/// A notification, opened for its resident.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// Id.
    pub id: String,
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

/// (id, client, service name, sealed content, read, created, expires, service registration)
type Row = (
    String,
    String,
    Option<String>,
    Vec<u8>,
    Option<i64>,
    i64,
    i64,
    Option<String>,
);

const SELECT: &str = "SELECT n.id, n.client_id, c.name, n.content, n.read_at, n.created_at, n.expires_at, c.metadata FROM notifications n LEFT JOIN clients c ON c.id = n.client_id";

async fn open(p: &Platform, rows: Vec<Row>) -> Result<Vec<Notification>> {
    let items: Vec<(FieldContext<'_>, Option<&[u8]>)> = rows
        .iter()
        .map(|r| {
            (
                FieldContext {
                    table: TABLE,
                    column: COLUMN,
                    row: &r.0,
                },
                Some(r.3.as_slice()),
            )
        })
        .collect();
    let opened = p.vault.open_many(&items).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (r, plain) in rows.iter().zip(opened) {
        let plain = plain.ok_or_else(|| DomainError::Integrity("notification content".into()))?;
        let c: Content = serde_json::from_slice(&plain)?;
        out.push(Notification {
            id: r.0.clone(),
            client_id: r.1.clone(),
            service: r.2.clone().unwrap_or_else(|| r.1.clone()),
            service_names: names_from_stored(r.7.as_deref(), r.2.as_deref().unwrap_or(&r.1)),
            title: c.title,
            body: c.body,
            link: c.link,
            category: c.category,
            read_at: r.4,
            created_at: r.5,
            expires_at: r.6,
        });
    }
    Ok(out)
}

/// The resident's notifications, newest first (only unread ones if asked), at most `limit`.
pub async fn list(
    p: &Platform,
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
    .bind(p.clock.now_ms())
    .bind(limit.clamp(1, 500))
    .fetch_all(p.db.reader())
    .await?;
    open(p, rows).await
}

/// One notification of the resident (not found if it is someone else's or expired).
pub async fn get(p: &Platform, resident_id: &str, id: &str) -> Result<Notification> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE n.id = $1 AND n.resident_id = $2 AND n.status = 'delivered' AND n.expires_at > $3"
    ))
    .bind(id)
    .bind(resident_id)
    .bind(p.clock.now_ms())
    .fetch_all(p.db.reader())
    .await?;
    open(p, rows).await?.pop().ok_or(DomainError::NotFound)
}

/// Mark one notification read (reading it again changes nothing).
pub async fn mark_read(p: &Platform, resident_id: &str, id: &str) -> Result<()> {
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
pub async fn mark_all_read(p: &Platform, resident_id: &str) -> Result<u64> {
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
pub async fn unread_count(p: &Platform, resident_id: &str) -> Result<i64> {
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
pub async fn preferences(p: &Platform, resident_id: &str) -> Result<Vec<ServicePreference>> {
    let rows: Vec<(String, String, Option<i64>, String)> = sqlx::query_as(
        "SELECT c.id, c.name, n.enabled, c.metadata FROM clients c
         LEFT JOIN notify_prefs n ON n.client_id = c.id AND n.resident_id = $1
         WHERE c.status = 'active' AND c.id <> $2 AND (
            n.resident_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id AND g.resident_id = $1)
            OR EXISTS (SELECT 1 FROM consents k WHERE k.client_id = c.id AND k.resident_id = $1)
            OR EXISTS (SELECT 1 FROM data_consents d WHERE d.client_id = c.id AND d.resident_id = $1))
         ORDER BY c.name, c.id",
    )
    .bind(resident_id)
    .bind(PORTAL)
    .fetch_all(p.db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(client_id, service, enabled, metadata)| ServicePreference {
                client_id,
                service_names: names_from_stored(Some(&metadata), &service),
                service,
                enabled: enabled == Some(1),
            },
        )
        .collect())
}

/// Turn a service's notifications on or off. Only for services the resident uses.
pub async fn set_preference(
    p: &Platform,
    resident_id: &str,
    client_id: &str,
    enabled: bool,
    request_id: Option<&str>,
) -> Result<()> {
    let known = preferences(p, resident_id)
        .await?
        .into_iter()
        .find(|s| s.client_id == client_id)
        .ok_or(DomainError::NotFound)?;
    if known.enabled == enabled {
        return Ok(());
    }
    let now = p.clock.now_ms();
    let subject = format!("resident:{resident_id}");
    let mut tx = p.db.begin().await?;
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
pub async fn purge(p: &Platform) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM notifications WHERE expires_at <= $1")
            .bind(p.clock.now_ms())
            .execute(p.db.writer())
            .await?
            .rows_affected(),
    )
}
