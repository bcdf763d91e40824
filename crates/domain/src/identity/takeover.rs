//! A self-registration with an HKID whose account is already on a phone: the account moves to
//! the new phone only after a cool-off, during which the resident's current phones are told and
//! can refuse (by removing the waiting phone, as they remove any phone); the account is iAM Smart
//! (basic) after the move until a new face check or a counter visit. A counter's re-registration
//! stays immediate: an officer has seen the resident.
//!
//! The waiting phone is a device with status `pending` and `activates_at`; nothing it signs is
//! accepted until then. Its first call after that completes the move (every other phone,
//! passkey, browser sign-in and grant ends, as after a counter's re-registration), in one
//! transaction whose first statement claims the move, so two calls at once move it once.
use super::Identity;
use crate::audit::{self, Event};
use crate::error::{DomainError, Result};
use crate::notify::Bilingual;
use iamsmart_store::AnyConnection;

/// Put a newly bound phone on hold until `now + cool-off`, tell the resident (their current
/// phones read it in the inbox) and audit it, inside the caller's transaction. Returns when it
/// takes over.
pub(crate) async fn hold(
    p: &Identity,
    conn: &mut AnyConnection,
    resident_id: &str,
    device_id: &str,
    device_name: &str,
    stamp: &audit::Stamp<'_>,
) -> Result<i64> {
    let cool_off = p.policy.takeover_cool_off_ms;
    let at = stamp.at + cool_off;
    sqlx::query("UPDATE devices SET status = 'pending', activates_at = $1 WHERE id = $2")
        .bind(at)
        .bind(device_id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        conn,
        stamp.at,
        stamp.request_id,
        &Event {
            kind: "device.takeover_requested",
            actor: stamp.actor,
            subject: &format!("resident:{resident_id}"),
            detail: serde_json::json!({ "device": device_id, "activates_at": at }),
        },
    )
    .await?;
    let hours = cool_off / 3_600_000;
    let name = device_name.trim();
    crate::notify::send::platform_notice(
        &p.notify,
        conn,
        resident_id,
        Bilingual {
            en: Some("A new phone asks to take over your account".into()),
            zh: Some("有新手機要求接管你的帳戶".into()),
        },
        Bilingual {
            en: Some(format!(
                "Someone registered iAM Smart with your HKID on a new phone (\"{name}\"), after a face check. In {hours} hours your account moves to it, and this phone stops working. If this was not you, open My phones and remove \"{name}\" now: nothing moves. If it was you, you need do nothing, or visit a registration counter to move at once."
            )),
            zh: Some(format!(
                "有人以你的身份證號碼在新手機（「{name}」）登記「智方便」，並已通過面容核對。{hours} 小時後你的帳戶會轉到該手機，這部手機將不能再使用。如這並非你本人所為，請即打開「我的手機」並移除「{name}」，帳戶便不會轉移。如是你本人，你無須做任何事，或可親臨登記服務處即時轉移。"
            )),
        },
        stamp.at,
    )
    .await?;
    Ok(at)
}

/// A waiting phone calls: complete the move if its cool-off is over (`Ok`), else say when it
/// will be (`takeover-pending`). A phone that was refused meanwhile is revoked.
pub(crate) async fn complete_if_due(
    p: &Identity,
    resident_id: &str,
    device_id: &str,
    activates_at: Option<i64>,
) -> Result<()> {
    let now = p.clock.now_ms();
    if activates_at.is_none_or(|at| at > now) {
        return Err(DomainError::Refused {
            code: "takeover-pending",
            message: "this phone takes over the account when the waiting time ends, unless the resident's current phone refuses; a registration counter can move the account at once",
        });
    }
    let mut tx = p.db.begin().await?;
    let claimed = sqlx::query(
        "UPDATE devices SET activates_at = NULL WHERE id = $1 AND status = 'pending' AND activates_at <= $2",
    )
    .bind(device_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        // Completed by a call at the same moment, or refused: the caller reads the status again.
        drop(tx);
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional(p.db.writer())
            .await?;
        return match status.as_deref() {
            Some("active") => Ok(()),
            _ => Err(DomainError::DeviceRevoked),
        };
    }
    let subject = format!("resident:{resident_id}");
    let stamp = audit::Stamp {
        at: now,
        actor: &subject,
        request_id: None,
    };
    super::devices::replace_all(
        p,
        &mut tx,
        resident_id,
        "replaced by a new phone after fresh proofing and the waiting time",
        &stamp,
    )
    .await?;
    sqlx::query("UPDATE devices SET status = 'active' WHERE id = $1")
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
    lower_to_basic(&mut tx, resident_id, &stamp).await?;
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "device.takeover_completed",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "device": device_id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An account moved to a new phone by self-registration is iAM Smart (basic) until a new face
/// check in the app or a counter visit makes it iAM Smart+ again.
pub(crate) async fn lower_to_basic(
    conn: &mut AnyConnection,
    resident_id: &str,
    stamp: &audit::Stamp<'_>,
) -> Result<()> {
    let lowered = sqlx::query(
        "UPDATE residents SET level = 'basic', updated_at = $1 WHERE id = $2 AND level = 'plus'",
    )
    .bind(stamp.at)
    .bind(resident_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if lowered > 0 {
        audit::append(
            conn,
            stamp.at,
            stamp.request_id,
            &Event {
                kind: "resident.level_lowered",
                actor: stamp.actor,
                subject: &format!("resident:{resident_id}"),
                detail: serde_json::json!({
                    "level": "basic",
                    "reason": "moved to a new phone by self-registration",
                }),
            },
        )
        .await?;
    }
    Ok(())
}
