//! Counter and kiosk staff: accounts with roles, passkey enrolment and login, sessions, and
//! what each role may do. Every staff action is audited with the staff member's id.
//!
//! Roles: `supervisor` (creates and disables officers and kiosks; everything an officer does),
//! `officer` (registers residents at a counter, issues activation codes, upgrades to iAM
//! Smart+ after checking the card in person), `kiosk` (a self-service machine: registers
//! residents after its own card and face checks), `editor` (keeps the portal's catalogue of
//! services; supervisors may too). The first supervisor is created by the platform operator.
use super::Identity;
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use iamsmart_crypto::envelope::FieldContext;
use iamsmart_crypto::jose::PublicJwk;
use iamsmart_crypto::webauthn::{AuthenticationResponse, RegistrationResponse, StoredCredential};
use iamsmart_store::Row;
use serde::Serialize;

/// Staff roles.
pub const ROLES: &[&str] = &["supervisor", "officer", "kiosk", "editor"];

/// The roles that may edit the portal's catalogue.
pub const CATALOGUE_EDITORS: &[&str] = &["editor", "supervisor"];

/// Lifetime of an enrolment code.
const ENROLMENT_TTL_MS: i64 = 7 * 24 * 3_600_000;
/// Lifetime of a WebAuthn ceremony.
const CEREMONY_TTL_MS: i64 = 5 * 60_000;

/// An authenticated staff member.
#[derive(Debug, Clone)]
pub struct StaffCaller {
    /// Staff id.
    pub id: String,
    /// Role.
    pub role: String,
}

impl StaffCaller {
    /// The audit actor name.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.id)
    }
    /// Refuse unless the caller has one of `roles`.
    pub fn require(&self, roles: &[&str]) -> Result<()> {
        if roles.contains(&self.role.as_str()) {
            Ok(())
        } else {
            Err(DomainError::Forbidden("your role does not allow this"))
        }
    }
}

/// A staff account as listed to supervisors.
#[derive(Debug, Clone, Serialize)]
pub struct StaffView {
    /// Id.
    pub id: String,
    /// Name.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// `pending` (no passkey yet), `active` or `disabled`.
    pub status: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

/// A new staff account and the one-time code to enrol its passkey.
#[derive(Debug, Clone, Serialize)]
pub struct NewStaff {
    /// Id.
    pub id: String,
    /// Role.
    pub role: String,
    /// Enrolment code (shown once).
    pub enrolment_code: String,
    /// Unix ms after which the code is refused.
    pub expires_at: i64,
}

fn name_ctx(id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "staff",
        column: "display_name",
        row: id,
    }
}

/// Create a staff account. The operator (`by` = None) may create any role; a supervisor may
/// create officers, kiosks and editors.
pub async fn create(
    p: &Identity,
    by: Option<&StaffCaller>,
    actor: &str,
    display_name: &str,
    role: &str,
    request_id: Option<&str>,
) -> Result<NewStaff> {
    if !ROLES.contains(&role) {
        return Err(DomainError::Invalid {
            field: "role",
            message: "expected supervisor, officer, kiosk or editor".into(),
        });
    }
    if let Some(s) = by {
        s.require(&["supervisor"])?;
        if role == "supervisor" {
            return Err(DomainError::Forbidden(
                "supervisors are created by the platform operator",
            ));
        }
    }
    let name = display_name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: "display_name",
            message: "must be 1 to 100 characters".into(),
        });
    }
    let id = format!("s_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 9));
    let code = iamsmart_crypto::rng::token(p.rng.as_ref(), 18);
    let now = p.clock.now_ms();
    let expires = now + ENROLMENT_TTL_MS;
    let sealed = p.vault.seal(&name_ctx(&id), name.as_bytes()).await?;
    let mut tx = p.db.begin().await?;
    sqlx::query(
        "INSERT INTO staff (id, display_name, role, status, enrolment_hash, enrolment_expires_at, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&sealed)
    .bind(role)
    .bind(iamsmart_crypto::hash::sha256(code.as_bytes()).to_vec())
    .bind(expires)
    .bind(actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "staff.created",
            actor,
            subject: &format!("staff:{id}"),
            detail: serde_json::json!({ "role": role }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(NewStaff {
        id,
        role: role.into(),
        enrolment_code: code,
        expires_at: expires,
    })
}

async fn start_ceremony(p: &Env, kind: &str, subject: Option<&str>) -> Result<(String, String)> {
    let challenge = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let expires_at = p.clock.now_ms() + CEREMONY_TTL_MS;
    let id = crate::guard::put_ceremony(p, kind, subject, &challenge, expires_at).await?;
    Ok((id, challenge))
}

/// Take a ceremony (single use): its subject and challenge.
async fn take_ceremony(p: &Env, kind: &str, id: &str) -> Result<(Option<String>, String)> {
    let row = crate::guard::take_ceremony(p, kind, id).await?;
    row.ok_or(DomainError::Unauthenticated(
        "this passkey request has expired or was already used; start again",
    ))
}

/// Start passkey enrolment with the one-time enrolment code: (ceremony id, creation options).
pub async fn enrolment_options(
    p: &Identity,
    staff_id: &str,
    code: &str,
) -> Result<(String, serde_json::Value)> {
    let row = sqlx::query(
        "SELECT display_name, enrolment_hash, enrolment_expires_at, status FROM staff WHERE id = $1",
    )
    .bind(staff_id)
    .fetch_optional(p.db.reader())
    .await?;
    let refused = DomainError::Unauthenticated("the enrolment code is not valid or has expired");
    let Some(row) = row else { return Err(refused) };
    let hash: Option<Vec<u8>> = row.try_get(1)?;
    let expires: Option<i64> = row.try_get(2)?;
    let status: String = row.try_get(3)?;
    let given = iamsmart_crypto::hash::sha256(code.as_bytes());
    let ok = hash.is_some_and(|h| iamsmart_crypto::hash::ct_eq(&h, &given))
        && expires.is_some_and(|e| e > p.clock.now_ms())
        && status != "disabled";
    if !ok {
        return Err(refused);
    }
    let sealed: Vec<u8> = row.try_get(0)?;
    let name = String::from_utf8(
        p.vault
            .open_field(&name_ctx(staff_id), &sealed)
            .await?
            .to_vec(),
    )
    .map_err(|_| DomainError::Integrity("staff name".into()))?;
    let (ceremony, challenge) = start_ceremony(p, "staff-enrol", Some(staff_id)).await?;
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT credential_id FROM staff_passkeys WHERE staff_id = $1")
            .bind(staff_id)
            .fetch_all(p.db.reader())
            .await?;
    let options =
        p.rp.creation_options(&challenge, staff_id.as_bytes(), staff_id, &name, &existing);
    Ok((ceremony, options))
}

/// Finish passkey enrolment: store the passkey, activate the account, spend the code, and
/// open a session. Returns (session token, caller).
pub async fn enrolment_finish(
    p: &Identity,
    ceremony: &str,
    response: &RegistrationResponse,
    request_id: Option<&str>,
) -> Result<(String, StaffCaller)> {
    let (subject, challenge) = take_ceremony(p, "staff-enrol", ceremony).await?;
    let staff_id = subject.unwrap_or_default();
    let cred =
        p.rp.verify_registration(&challenge, response)
            .map_err(|e| passkey_refused(&e))?;
    // Staff passkeys stay on a device the department controls: one that syncs to a personal
    // cloud account (backup eligible) could be used from anywhere that account is signed in.
    if cred.backup_eligible {
        return Err(DomainError::Refused {
            code: "synced-passkey",
            message: "staff accounts need a passkey kept on this device or a security key, not one that syncs to a cloud account; choose another authenticator",
        });
    }
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let role: Option<String> = sqlx::query_scalar(
        "UPDATE staff SET status = 'active', enrolment_hash = NULL, enrolment_expires_at = NULL, updated_at = $1
         WHERE id = $2 AND status <> 'disabled' AND enrolment_expires_at > $1 RETURNING role",
    )
    .bind(now)
    .bind(&staff_id)
    .fetch_optional(&mut *tx)
    .await?;
    let role = role.ok_or(DomainError::Unauthenticated(
        "the enrolment code is not valid or has expired",
    ))?;
    sqlx::query(
        "INSERT INTO staff_passkeys (credential_id, staff_id, public_key, sign_count, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&cred.id)
    .bind(&staff_id)
    .bind(serde_json::to_string(&cred.public_key).map_err(|e| DomainError::Integrity(e.to_string()))?)
    .bind(cred.sign_count as i64)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let actor = format!("staff:{staff_id}");
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "staff.passkey_enrolled",
            actor: &actor,
            subject: &actor,
            detail: serde_json::json!({ "credential": cred.id }),
        },
    )
    .await?;
    tx.commit().await?;
    let caller = StaffCaller { id: staff_id, role };
    let token = open_session(p, &caller, request_id).await?;
    Ok((token, caller))
}

fn passkey_refused(e: &iamsmart_crypto::CryptoError) -> DomainError {
    tracing::info!(error = %e, "passkey refused");
    DomainError::Unauthenticated("the passkey was not accepted")
}

/// Start a passkey login (discoverable credentials): (ceremony id, request options).
pub async fn login_options(p: &Identity) -> Result<(String, serde_json::Value)> {
    let (ceremony, challenge) = start_ceremony(p, "staff-login", None).await?;
    Ok((ceremony, p.rp.request_options(&challenge, &[])))
}

/// Finish a passkey login: (session token, caller). A counter that goes back (a cloned
/// authenticator) is refused and audited.
pub async fn login_finish(
    p: &Identity,
    ceremony: &str,
    response: &AuthenticationResponse,
    request_id: Option<&str>,
) -> Result<(String, StaffCaller)> {
    let (_, challenge) = take_ceremony(p, "staff-login", ceremony).await?;
    let row = sqlx::query(
        "SELECT k.staff_id, k.public_key, k.sign_count, s.role, s.status FROM staff_passkeys k JOIN staff s ON s.id = k.staff_id WHERE k.credential_id = $1",
    )
    .bind(&response.id)
    .fetch_optional(p.db.reader())
    .await?
    .ok_or(DomainError::Unauthenticated("the passkey was not accepted"))?;
    let staff_id: String = row.try_get(0)?;
    let jwk: PublicJwk = serde_json::from_str(&row.try_get::<String, _>(1)?)
        .map_err(|e| DomainError::Integrity(format!("stored passkey: {e}")))?;
    let count: i64 = row.try_get(2)?;
    let role: String = row.try_get(3)?;
    let status: String = row.try_get(4)?;
    if let Some(handle) = &response.response.user_handle {
        use base64::Engine;
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(staff_id.as_bytes());
        if *handle != expected {
            return Err(DomainError::Unauthenticated("the passkey was not accepted"));
        }
    }
    let stored = StoredCredential {
        id: response.id.clone(),
        public_key: jwk,
        sign_count: u32::try_from(count).map_err(|_| {
            DomainError::Integrity("a passkey's stored sign count is out of range".into())
        })?,
    };
    let out = match p.rp.verify_authentication(&challenge, &stored, response) {
        Ok(o) => o,
        Err(e) => {
            if e.to_string().contains("cloned") {
                let now = p.clock.now_ms();
                let mut tx = p.db.begin().await?;
                audit::append(
                    &mut tx,
                    now,
                    request_id,
                    &Event {
                        kind: "security.passkey_clone_suspected",
                        actor: "system",
                        subject: &format!("staff:{staff_id}"),
                        detail: serde_json::json!({ "credential": response.id }),
                    },
                )
                .await?;
                tx.commit().await?;
            }
            return Err(passkey_refused(&e));
        }
    };
    if status != "active" {
        return Err(DomainError::Unauthenticated(
            "this staff account is disabled",
        ));
    }
    // Compare and set: the counter moves forward from the value this check read, so two uses
    // of one assertion (or of a cloned authenticator) at once cannot both pass. Authenticators
    // that keep no counter (always 0) are matched on 0.
    let moved = sqlx::query(
        "UPDATE staff_passkeys SET sign_count = $1, last_used_at = $2 WHERE credential_id = $3 AND sign_count = $4",
    )
    .bind(out.sign_count as i64)
    .bind(p.clock.now_ms())
    .bind(&response.id)
    .bind(count)
    .execute(p.db.writer())
    .await?;
    if moved.rows_affected() == 0 {
        return Err(DomainError::Unauthenticated("the passkey was not accepted"));
    }
    let caller = StaffCaller { id: staff_id, role };
    let token = open_session(p, &caller, request_id).await?;
    Ok((token, caller))
}

async fn open_session(
    p: &Identity,
    caller: &StaffCaller,
    request_id: Option<&str>,
) -> Result<String> {
    let token = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, kind, subject, created_at, expires_at) VALUES ($1, 'staff', $2, $3, $4)",
    )
    .bind(iamsmart_crypto::hash::sha256(token.as_bytes()).to_vec())
    .bind(&caller.id)
    .bind(now)
    .bind(now + p.policy.staff_session_ttl_ms)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "staff.login",
            actor: &caller.actor(),
            subject: &caller.actor(),
            detail: serde_json::json!({ "role": caller.role }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Authenticate a staff session token.
pub async fn authenticate(p: &Env, token: &str) -> Result<StaffCaller> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT s.id, s.role FROM sessions x JOIN staff s ON s.id = x.subject
         WHERE x.id_hash = $1 AND x.kind = 'staff' AND x.revoked_at IS NULL AND x.expires_at > $2 AND s.status = 'active'",
    )
    .bind(iamsmart_crypto::hash::sha256(token.as_bytes()).to_vec())
    .bind(p.clock.now_ms())
    .fetch_optional(p.db.reader())
    .await?;
    let (id, role) = row.ok_or(DomainError::Unauthenticated(
        "staff session missing or expired; log in with your passkey",
    ))?;
    Ok(StaffCaller { id, role })
}

/// End a staff session.
pub async fn logout(p: &Env, token: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL")
        .bind(p.clock.now_ms())
        .bind(iamsmart_crypto::hash::sha256(token.as_bytes()).to_vec())
        .execute(p.db.writer())
        .await?;
    Ok(())
}

/// Disable a staff account and end its sessions at once (supervisors and the operator).
pub async fn disable(
    p: &Env,
    by: Option<&StaffCaller>,
    actor: &str,
    staff_id: &str,
    request_id: Option<&str>,
) -> Result<()> {
    if let Some(s) = by {
        s.require(&["supervisor"])?;
    }
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let role: Option<String> = sqlx::query_scalar(
        "UPDATE staff SET status = 'disabled', updated_at = $1 WHERE id = $2 AND status <> 'disabled' RETURNING role",
    )
    .bind(now)
    .bind(staff_id)
    .fetch_optional(&mut *tx)
    .await?;
    let role = role.ok_or(DomainError::NotFound)?;
    if by.is_some() && role == "supervisor" {
        return Err(DomainError::Forbidden(
            "supervisors are disabled by the platform operator",
        ));
    }
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE kind = 'staff' AND subject = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(staff_id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        now,
        request_id,
        &Event {
            kind: "staff.disabled",
            actor,
            subject: &format!("staff:{staff_id}"),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every staff account.
pub async fn list(p: &Identity) -> Result<Vec<StaffView>> {
    let rows = sqlx::query(
        "SELECT id, display_name, role, status, created_at FROM staff ORDER BY created_at, id",
    )
    .fetch_all(p.db.reader())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get(0)?;
        let sealed: Vec<u8> = r.try_get(1)?;
        let name = p.vault.open_field(&name_ctx(&id), &sealed).await?;
        out.push(StaffView {
            display_name: String::from_utf8_lossy(&name).into_owned(),
            id,
            role: r.try_get(2)?,
            status: r.try_get(3)?,
            created_at: r.try_get(4)?,
        });
    }
    Ok(out)
}
