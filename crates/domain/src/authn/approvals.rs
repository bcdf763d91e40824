//! Requests waiting for the resident's approval in the app (login, consent, signing, step-up).
//!
//! A request is created by the service that needs it (the OpenID provider, the signing
//! service, the sandbox's app simulator), either for a known resident (a push to their phone)
//! or unbound (shown as a QR code; the first device that scans it claims it for its resident).
//! It carries a random challenge and a 4-digit match code shown both where it started and in the
//! app, so a resident can tell a phishing page's request from their own. The device signs its
//! decision over the challenge, the match code and what the resident agreed to; the signed
//! decision is kept as evidence. Requests expire quickly, and a resident can have only a few
//! waiting at once (against push bombing).
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::guard::Spent;
use crate::identity::devices::DeviceCaller;
use crate::platform::IdentityPolicy;
use iamsmart_crypto::jose::{self, Alg};
use iamsmart_proto::app::{ApprovalClaims, ApprovalStatus, ApprovalView, APPROVAL_TYP};
use iamsmart_proto::i18n::ServiceDetails;
use iamsmart_proto::ids::ApprovalId;
use iamsmart_store::Row;
use std::sync::Arc;

/// The service that creates requests: built with the `Env` and the identity policy, whose time
/// to answer and caps on waiting requests it applies. Listing, opening and reading requests take
/// the `Env` alone; answering one ([`decide`]) needs the resident's device, presence and face
/// checks, and is handed the identity service for them.
#[derive(Clone)]
pub struct Approvals {
    env: Env,
    policy: Arc<IdentityPolicy>,
}

impl Approvals {
    /// The service on `env`, within `policy`.
    pub fn new(env: Env, policy: Arc<IdentityPolicy>) -> Self {
        Self { env, policy }
    }
}

impl std::ops::Deref for Approvals {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

/// What a new request asks.
#[derive(Debug, Clone)]
pub struct NewApproval<'a> {
    /// The resident, or `None` for a QR code any resident's app may claim.
    pub resident_id: Option<&'a str>,
    /// `login`, `consent`, `sign`, `step_up`, ...
    pub kind: &'a str,
    /// The requesting client's id.
    pub client_id: &'a str,
    /// Its name as shown to people.
    pub client_name: &'a str,
    /// What is asked (names of items, never their values).
    pub details: serde_json::Value,
    /// Whether the operator registered the service (else it registered itself, and the app
    /// says so next to its name).
    pub client_vetted: bool,
    /// Who is asking in every language registered (shown in the reader's language).
    pub service: Option<ServiceDetails>,
}

/// A created request: what the starting page shows.
#[derive(Debug, Clone)]
pub struct Created {
    /// Request id (goes into the QR code).
    pub id: ApprovalId,
    /// The 4-digit match code.
    pub match_code: String,
    /// Unix ms.
    pub expires_at: i64,
}

const COLUMNS: &str =
    "id, kind, client_name, details, match_code, challenge, status, created_at, expires_at";

fn view(r: &iamsmart_store::AnyRow, now: i64) -> Result<ApprovalView> {
    let details: String = r.try_get(3)?;
    let mut status: ApprovalStatus = stored(&r.try_get::<String, _>(6)?)?;
    let expires_at: i64 = r.try_get(8)?;
    if status.is_waiting() && expires_at <= now {
        status = ApprovalStatus::Expired;
    }
    let mut details: serde_json::Value =
        serde_json::from_str(&details).unwrap_or(serde_json::Value::Null);
    let service = details
        .as_object_mut()
        .and_then(|o| o.remove(SERVICE_KEY))
        .and_then(|v| serde_json::from_value(v).ok());
    Ok(ApprovalView {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        client_name: r.try_get(2)?,
        service,
        details,
        match_code: r.try_get(4)?,
        challenge: r.try_get(5)?,
        status,
        created_at: r.try_get(7)?,
        expires_at,
    })
}

/// A new request's id, challenge, 4-digit match code and expiry.
fn fresh(p: &Approvals, now: i64) -> (ApprovalId, String, String, i64) {
    let id: ApprovalId = p.new_id();
    let challenge = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let mut n = [0u8; 4];
    p.rng.fill(&mut n);
    let match_code = format!("{:04}", u32::from_be_bytes(n) % 10_000);
    (id, challenge, match_code, now + p.policy.approval_ttl_ms)
}

/// Create a request. For a known resident, refused when too many are already waiting for
/// them, or when this service already has as many waiting as it may (so that one service cannot
/// fill the resident's slots). The count and the insert are serialised per resident, so the caps
/// hold when many requests arrive at once.
pub async fn create(p: &Approvals, new: NewApproval<'_>) -> Result<Created> {
    let mut tx = p.db.begin().await?;
    let created = create_in(&mut tx, p, new).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create`], in the caller's transaction (`conn`).
pub async fn create_in(
    tx: &mut iamsmart_store::AnyConnection,
    p: &Approvals,
    new: NewApproval<'_>,
) -> Result<Created> {
    let now = p.clock.now_ms();
    let (id, challenge, match_code, expires_at) = fresh(p, now);
    if let Some(rid) = new.resident_id {
        sqlx::query(
            "INSERT INTO approval_locks (resident_id, at) VALUES ($1, $2) ON CONFLICT (resident_id) DO UPDATE SET at = $2",
        )
        .bind(rid)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (waiting, of_service): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(CASE WHEN client_id = $3 THEN 1 END) FROM approvals WHERE resident_id = $1 AND status IN ('pending', 'scanned') AND expires_at > $2",
        )
        .bind(rid)
        .bind(now)
        .bind(new.client_id)
        .fetch_one(&mut *tx)
        .await?;
        let retry_after_secs = (p.policy.approval_ttl_ms / 1000).max(1) as u64;
        if of_service >= p.policy.max_pending_per_service {
            return Err(DomainError::LimitReached {
                message: "a request of this service is already waiting for the resident",
                retry_after_secs,
            });
        }
        if waiting >= p.policy.max_pending_approvals {
            return Err(DomainError::TooManyAttempts { retry_after_secs });
        }
    }
    sqlx::query(
        "INSERT INTO approvals (id, resident_id, kind, client_id, client_name, details, challenge, match_code, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
    )
    .bind(id.as_str())
    .bind(new.resident_id)
    .bind(new.kind)
    .bind(new.client_id)
    .bind(new.client_name)
    .bind(details_with_service(new.details, new.client_vetted, new.service.as_ref()).to_string())
    .bind(&challenge)
    .bind(&match_code)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    Ok(Created {
        id,
        match_code,
        expires_at,
    })
}

/// A new request in place of `old_id`, which expired unanswered: the same resident, kind,
/// service and details, with a new id, challenge, match code and time to answer. Written in the
/// caller's transaction (`conn`), so that the caller's own claim on the renewal (a conditional
/// update) decides whether it is kept. `None` when the old request is unknown, answered or not
/// yet expired.
pub async fn renew_expired_in(
    conn: &mut iamsmart_store::AnyConnection,
    p: &Approvals,
    old_id: &ApprovalId,
) -> Result<Option<Created>> {
    let now = p.clock.now_ms();
    let old: Option<(Option<String>, String, String, String, String)> = sqlx::query_as(
        "SELECT resident_id, kind, client_id, client_name, details FROM approvals
         WHERE id = $1 AND status IN ('pending', 'scanned') AND expires_at <= $2",
    )
    .bind(old_id.as_str())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((resident_id, kind, client_id, client_name, details)) = old else {
        return Ok(None);
    };
    let (id, challenge, match_code, expires_at) = fresh(p, now);
    sqlx::query(
        "INSERT INTO approvals (id, resident_id, kind, client_id, client_name, details, challenge, match_code, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)",
    )
    .bind(id.as_str())
    .bind(resident_id)
    .bind(kind)
    .bind(client_id)
    .bind(client_name)
    .bind(details)
    .bind(&challenge)
    .bind(&match_code)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(Some(Created {
        id,
        match_code,
        expires_at,
    }))
}

/// Where the service's details in every language are kept within an approval's details.
const SERVICE_KEY: &str = "service_details";

/// The details the app shows, marked when the service registered itself, with who is asking.
fn details_with_service(
    mut details: serde_json::Value,
    vetted: bool,
    service: Option<&ServiceDetails>,
) -> serde_json::Value {
    if let Some(o) = details.as_object_mut() {
        if !vetted {
            o.insert("self_registered".into(), true.into());
        }
        if let Some(v) = service.and_then(|s| serde_json::to_value(s).ok()) {
            o.insert(SERVICE_KEY.into(), v);
        }
    }
    details
}

/// Requests waiting for a resident.
pub async fn pending(p: &Env, resident_id: &str) -> Result<Vec<ApprovalView>> {
    let now = p.clock.now_ms();
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE resident_id = $1 AND status IN ('pending', 'scanned') AND expires_at > $2 ORDER BY created_at"
    ))
    .bind(resident_id)
    .bind(now)
    .fetch_all(p.db.reader())
    .await?;
    rows.iter().map(|r| view(r, now)).collect()
}

/// Every request a resident was asked, oldest first, for the export of their data: what was
/// asked by whom, where it stands and when it was answered (never the evidence or the codes).
pub async fn history(p: &Env, resident_id: &str) -> Result<Vec<serde_json::Value>> {
    sqlx::query(
        "SELECT id, kind, client_name, status, created_at, decided_at FROM approvals WHERE resident_id = $1 ORDER BY created_at",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?
    .iter()
    .map(|row| {
        Ok(serde_json::json!({
            "id": row.try_get::<String, _>(0)?,
            "kind": row.try_get::<String, _>(1)?,
            "service": row.try_get::<String, _>(2)?,
            "status": row.try_get::<String, _>(3)?,
            "created_at": row.try_get::<i64, _>(4)?,
            "decided_at": row.try_get::<Option<i64>, _>(5)?,
        }))
    })
    .collect()
}

/// Open a request from the app (after scanning its QR code): an unbound request is claimed for
/// the caller's resident; another resident's request is not found.
pub async fn open(
    p: &Env,
    caller: &DeviceCaller,
    id: &ApprovalId,
    spent: Spent,
) -> Result<ApprovalView> {
    let now = p.clock.now_ms();
    // One commit: the device request's single-use value with the claim.
    let mut tx = p.db.begin().await?;
    spent.record(&mut tx).await??;
    sqlx::query(
        "UPDATE approvals SET resident_id = $1, status = 'scanned' WHERE id = $2 AND resident_id IS NULL AND status = 'pending' AND expires_at > $3",
    )
    .bind(&caller.resident_id)
    .bind(id.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE id = $1 AND (resident_id = $2 OR (resident_id IS NULL AND expires_at <= $3))"
    ))
    .bind(id.as_str())
    .bind(&caller.resident_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(DomainError::NotFound)?;
    tx.commit().await?;
    // A QR code scanned too late: nobody claimed it, and the app says it expired (its
    // challenge is worth nothing now), rather than that it does not exist.
    view(&row, now)
}

/// The status of a request, for the page or service that started it.
pub async fn status(p: &Env, id: &ApprovalId) -> Result<ApprovalView> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(p.db.reader())
        .await?
        .ok_or(DomainError::NotFound)?;
    view(&row, p.clock.now_ms())
}

/// An approved request's outcome.
#[derive(Debug, Clone)]
pub struct Decided {
    /// Who approved.
    pub resident_id: String,
    /// With which device.
    pub device_id: String,
    /// When (Unix ms).
    pub decided_at: i64,
    /// The e-ME fields the resident agreed to release.
    pub agreed_fields: Vec<String>,
    /// Whether a fresh face match was checked.
    pub face_verified: bool,
    /// What the resident agreed to, as signed.
    pub agreed: serde_json::Value,
}

/// (resident, device, decided at, agreed, face verified at)
type DecisionRow = (String, String, i64, Option<String>, Option<i64>);

/// A request's status and, if it was approved, its outcome: [`status`] and [`decision`] in one
/// read.
pub async fn outcome(p: &Env, id: &ApprovalId) -> Result<(ApprovalView, Option<Decided>)> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, resident_id, device_id, decided_at, agreed, face_verified_at FROM approvals WHERE id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(p.db.reader())
    .await?
    .ok_or(DomainError::NotFound)?;
    let view = view(&row, p.clock.now_ms())?;
    let n = COLUMNS.split(',').count();
    let decided = if view.status == ApprovalStatus::Approved {
        let (resident_id, device_id, decided_at): (Option<String>, Option<String>, Option<i64>) =
            (row.try_get(n)?, row.try_get(n + 1)?, row.try_get(n + 2)?);
        let agreed: Option<String> = row.try_get(n + 3)?;
        let face: Option<i64> = row.try_get(n + 4)?;
        match (resident_id, device_id, decided_at) {
            (Some(resident_id), Some(device_id), Some(decided_at)) => {
                Some(decided(resident_id, device_id, decided_at, agreed, face))
            }
            _ => {
                return Err(DomainError::Integrity(
                    "an approved request without its resident, device or time".into(),
                ))
            }
        }
    } else {
        None
    };
    Ok((view, decided))
}

fn decided(
    resident_id: String,
    device_id: String,
    decided_at: i64,
    agreed: Option<String>,
    face_verified_at: Option<i64>,
) -> Decided {
    let agreed: serde_json::Value = agreed
        .and_then(|a| serde_json::from_str(&a).ok())
        .unwrap_or(serde_json::Value::Null);
    Decided {
        resident_id,
        device_id,
        decided_at,
        agreed_fields: crate::oidc::claims::agreed_fields(&agreed),
        face_verified: face_verified_at.is_some(),
        agreed,
    }
}

/// The outcome of an approved request (`None` unless approved).
pub async fn decision(p: &Env, id: &ApprovalId) -> Result<Option<Decided>> {
    let row: Option<DecisionRow> = sqlx::query_as(
        "SELECT resident_id, device_id, decided_at, agreed, face_verified_at FROM approvals WHERE id = $1 AND status = 'approved'",
    )
    .bind(id.as_str())
    .fetch_optional(p.db.reader())
    .await?;
    Ok(
        row.map(|(resident_id, device_id, decided_at, agreed, face)| {
            decided(resident_id, device_id, decided_at, agreed, face)
        }),
    )
}

/// Record the device's signed decision. Only a pending or scanned request of the caller's
/// resident, before it expires, and only once; the signature must be by the calling device
/// and cover this request's challenge and match code.
#[expect(
    clippy::too_many_arguments,
    reason = "the device's request, each part of it needed here"
)]
pub async fn decide(
    p: &Approvals,
    identity: &crate::identity::Identity,
    caller: &DeviceCaller,
    id: &ApprovalId,
    decision: &iamsmart_proto::app::Decision,
    client_ip: &str,
    request_id: Option<&str>,
    spent: Spent,
) -> Result<ApprovalView> {
    let signed = decision.signed.as_str();
    // Read, not claimed: the decision below claims a request nobody has opened yet.
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE id = $1 AND (resident_id = $2 OR resident_id IS NULL)"
    ))
    .bind(id.as_str())
    .bind(&caller.resident_id)
    .fetch_optional(p.db.reader())
    .await?
    .ok_or(DomainError::NotFound)?;
    let current = view(&row, p.clock.now_ms())?;
    let jwk = crate::identity::devices::public_key(identity, &caller.device_id).await?;
    let (header, payload) = jose::verify_compact(signed, &[jwk], &[Alg::ES256])
        .map_err(|_| DomainError::Unauthenticated("the decision is not signed by this device"))?;
    let claims: ApprovalClaims =
        serde_json::from_slice(&payload).map_err(|_| DomainError::Invalid {
            field: "signed",
            message: "the signed decision has the wrong shape".into(),
        })?;
    if header.typ.as_deref() != Some(APPROVAL_TYP)
        || claims.rid != *id
        || claims.challenge != current.challenge
        || claims.match_code != current.match_code
    {
        return Err(DomainError::Refused {
            code: "decision-mismatch",
            message: "the decision does not answer this request; scan the code again",
        });
    }
    let status = match claims.decision.as_str() {
        "approve" => ApprovalStatus::Approved,
        "deny" => ApprovalStatus::Denied,
        _ => {
            return Err(DomainError::Invalid {
                field: "decision",
                message: "expected approve or deny".into(),
            })
        }
    };
    // On a device bound with user verification, an approval (not a denial) carries a proof
    // that the resident is present, over this very decision.
    if status == ApprovalStatus::Approved {
        crate::identity::user_verification::verify(
            identity,
            &caller.device_id,
            decision.user_verification.as_ref(),
            &crate::identity::user_verification::decision_challenge(signed),
            request_id,
        )
        .await?;
    }
    // A step-up needs a fresh face match before it counts as approved; any other request may
    // carry one (a bank's data consent needs iAM Smart+ or a face match).
    let mut face_at = None;
    if status == ApprovalStatus::Approved
        && (current.kind == "step_up" || decision.selfie.is_some())
    {
        let selfie = decision.selfie.as_deref().ok_or(DomainError::Invalid {
            field: "selfie",
            message: "this request needs a face match: take a selfie".into(),
        })?;
        crate::identity::registration::face_check_resident(
            identity,
            &caller.resident_id,
            &caller.device_id,
            selfie,
            client_ip,
        )
        .await?;
        face_at = Some(p.clock.now_ms());
    }
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    spent.record(&mut tx).await??;
    let r = sqlx::query(
        "UPDATE approvals SET status = $1, decided_at = $2, device_id = $3, evidence = $4, agreed = $5, face_verified_at = $6, resident_id = $8
         WHERE id = $7 AND (resident_id = $8 OR resident_id IS NULL) AND status IN ('pending', 'scanned') AND expires_at > $2",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(&caller.device_id)
    .bind(signed)
    .bind(claims.agreed.to_string())
    .bind(face_at)
    .bind(id.as_str())
    .bind(&caller.resident_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::Refused {
            code: "request-closed",
            message: "this request has expired or was already answered",
        });
    }
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: if status == ApprovalStatus::Approved { "approval.approved" } else { "approval.denied" },
            actor: &caller.actor(),
            subject: &format!("resident:{}", caller.resident_id),
            detail: serde_json::json!({ "request": id, "kind": current.kind, "device": caller.device_id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ApprovalView { status, ..current })
}

/// Cancel every waiting request of a resident (account closed, devices revoked).
pub(crate) async fn cancel_all(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE approvals SET status = 'cancelled', decided_at = $1 WHERE resident_id = $2 AND status IN ('pending', 'scanned')",
    )
    .bind(now)
    .bind(resident_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM approval_locks WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// This module's tables with a `resident_id` whose rows go when a closed account is erased.
pub(crate) const ERASED_AT_PURGE: &[&str] = &["approvals", "approval_locks"];

/// Erase a purged account's rows from [`ERASED_AT_PURGE`], inside the caller's transaction.
pub(crate) async fn erase_at_purge(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> crate::error::Result<()> {
    sqlx::query("DELETE FROM approvals WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM approval_locks WHERE resident_id = $1")
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many requests a service has made, whatever became of them (tests).
#[cfg(test)]
pub(crate) async fn count_for_client(
    p: &Env,
    client_id: &iamsmart_proto::ids::ClientId,
) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM approvals WHERE client_id = $1")
            .bind(client_id)
            .fetch_one(p.db.reader())
            .await?,
    )
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod decide_tests;
#[cfg(test)]
#[path = "approval_tests.rs"]
mod tests;
