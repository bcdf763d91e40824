//! Sending: a service's request checked, rate limited, delivered to a resident who agreed (the
//! content sealed) or answered `not_delivered` without saying why beyond that.
use super::Notify;
use super::{check, check_key, check_link, Content, SendRequest, COLUMN, NOT_DELIVERED, TABLE};
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::oidc::claims;
use crate::oidc::clients::{Client, PORTAL};
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_proto::ids::NotificationId;
use serde::Serialize;

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    /// The notification's id (the same for a repeat with the same idempotency key).
    pub id: NotificationId,
    /// `delivered` or `not_delivered`.
    pub status: String,
    /// Why not delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was first sent (Unix ms).
    pub created_at: i64,
}

/// (id, status, request hash, created)
type Existing = (NotificationId, String, Vec<u8>, i64);

async fn existing(
    p: &Env,
    client_id: &iamsmart_proto::ids::ClientId,
    key: &str,
) -> Result<Option<Existing>> {
    Ok(sqlx::query_as(
        "SELECT id, status, request_hash, created_at FROM notifications WHERE client_id = $1 AND idempotency_key = $2",
    )
    .bind(client_id)
    .bind(key)
    .fetch_optional(p.db.writer())
    .await?)
}

fn answer(id: NotificationId, status: String, created_at: i64) -> Sent {
    let reason = (status != "delivered").then(|| NOT_DELIVERED.to_string());
    Sent {
        id,
        status,
        reason,
        created_at,
    }
}

fn replay(e: Existing, hash: &[u8]) -> Result<Sent> {
    let (id, status, h, at) = e;
    if !iamsmart_crypto::hash::ct_eq(&h, hash) {
        return Err(DomainError::Conflict(
            "this Idempotency-Key was used for another notification; use a new key for each notification",
        ));
    }
    Ok(answer(id, status, at))
}

/// The resident to deliver to: the subject is one this service received, the account is active,
/// and the resident agreed to notifications from this service.
async fn recipient(p: &Env, client: &Client, sub: &str) -> Result<Option<String>> {
    let Some(resident) = claims::resident_of_subject(p, &client.subject_sector(), sub).await?
    else {
        return Ok(None);
    };
    if crate::identity::active_level(p, &resident).await?.is_none() {
        return Ok(None);
    }
    let enabled: Option<i64> = sqlx::query_scalar(
        "SELECT enabled FROM notify_prefs WHERE resident_id = $1 AND client_id = $2",
    )
    .bind(&resident)
    .bind(&client.id)
    .fetch_optional(p.db.reader())
    .await?;
    Ok((enabled == Some(1)).then_some(resident))
}

/// Send a notification. Returns the answer and whether this call sent it (false: a repeat).
pub async fn send(
    notify: &Notify,
    client: &Client,
    key: &str,
    req: &SendRequest,
    request_id: Option<&str>,
) -> Result<(Sent, bool)> {
    check_key(key)?;
    check(req)?;
    if let Some(link) = &req.link {
        check_link(link, &client.meta.redirect_uris)?;
    }
    let hash = iamsmart_crypto::hash::sha256(&serde_json::to_vec(req)?).to_vec();
    if let Some(e) = existing(notify, &client.id, key).await? {
        return Ok((replay(e, &hash)?, false));
    }
    let now = notify.clock.now_ms();
    let policy = notify.policy();
    // Per service and subject, whatever becomes of the send: the limit says nothing about the
    // resident.
    let subject_hash = notify
        .vault
        .blind_index("notify-subject", &format!("{}\u{0}{}", client.id, req.sub));
    let recent: Vec<i64> = sqlx::query_scalar(
        "SELECT created_at FROM notifications WHERE client_id = $1 AND subject_hash = $2 AND created_at > $3 ORDER BY created_at LIMIT $4",
    )
    .bind(&client.id)
    .bind(&subject_hash)
    .bind(now - policy.window_ms)
    .bind(policy.max_per_resident)
    .fetch_all(notify.db.reader())
    .await?;
    if recent.len() as i64 >= policy.max_per_resident {
        let oldest = recent.first().copied().unwrap_or(now);
        return Err(DomainError::LimitReached {
            message: "this service has sent this resident as many notifications as allowed for now",
            retry_after_secs: ((oldest + policy.window_ms - now) / 1000).max(1) as u64,
        });
    }
    let resident = recipient(notify, client, &req.sub).await?;
    let id: NotificationId = notify.new_id();
    let (status, content, expires_at) = match &resident {
        Some(_) => {
            let content = Content {
                title: req.title.clone(),
                body: req.body.clone(),
                link: req.link.clone(),
                category: req.category.clone(),
            };
            let sealed = notify
                .vault
                .seal(
                    &FieldContext {
                        table: TABLE,
                        column: COLUMN,
                        row: id.as_str(),
                    },
                    &serde_json::to_vec(&content)?,
                )
                .await?;
            ("delivered", Some(sealed), now + policy.retention_ms)
        }
        None => (
            "not_delivered",
            None,
            now + super::NOT_DELIVERED_TTL_MS.min(policy.retention_ms),
        ),
    };
    let mut tx = notify.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, client_id, idempotency_key, request_hash, subject_hash, resident_id, status, content, read_at, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10)
         ON CONFLICT (client_id, idempotency_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(key)
    .bind(&hash)
    .bind(&subject_hash)
    .bind(resident.as_deref())
    .bind(status)
    .bind(content)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // The same key at the same moment: the other call sent it.
        tx.rollback().await?;
        let e = existing(notify, &client.id, key)
            .await?
            .ok_or(DomainError::NotFound)?;
        return Ok((replay(e, &hash)?, false));
    }
    if let Some(r) = &resident {
        audit::append(
            &mut tx,
            now,
            request_id,
            &Event {
                kind: "notification.sent",
                actor: &format!("client:{}", client.id),
                subject: &format!("resident:{r}"),
                detail: serde_json::json!({ "client": client.id, "notification": id }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok((answer(id, status.to_string(), now), true))
}

/// A notice from the platform itself (sent as the portal) to a resident's inbox, inside the
/// caller's transaction: security events the resident must hear of whatever their preferences,
/// such as sign-ins ended because the account moved to a new phone. Not rate limited (the
/// platform's own events are few); sealed like any other notification.
pub(crate) async fn platform_notice(
    notify: &Notify,
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
    title: super::Bilingual,
    body: super::Bilingual,
    now: i64,
) -> Result<NotificationId> {
    let id: NotificationId = notify.new_id();
    let content = Content {
        title,
        body,
        link: None,
        category: Some("security".into()),
    };
    let sealed = notify
        .vault
        .seal(
            &FieldContext {
                table: TABLE,
                column: COLUMN,
                row: id.as_str(),
            },
            &serde_json::to_vec(&content)?,
        )
        .await?;
    let subject_hash = notify
        .vault
        .blind_index("notify-subject", &format!("{PORTAL}\u{0}{resident_id}"));
    sqlx::query(
        "INSERT INTO notifications (id, client_id, idempotency_key, request_hash, subject_hash, resident_id, status, content, read_at, created_at, expires_at)
         VALUES ($1, $2, $1, $3, $4, $5, 'delivered', $6, NULL, $7, $8)",
    )
    .bind(&id)
    .bind(PORTAL)
    .bind(iamsmart_crypto::hash::sha256(id.as_str().as_bytes()).to_vec())
    .bind(&subject_hash)
    .bind(resident_id)
    .bind(sealed)
    .bind(now)
    .bind(now + notify.policy.retention_ms)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}
