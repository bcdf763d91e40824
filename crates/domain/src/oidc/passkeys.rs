//! Residents' passkeys: added in the account pages after signing in with the app, then usable
//! to sign in on that device (discoverable credentials, user verification required, conditional
//! UI). Counters are checked: a counter that goes back flags the passkey as possibly cloned, and
//! it is refused until the resident removes it.
use super::error::{OAuthError, OResult};
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::DomainError;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::PublicJwk;
use iamsmart_crypto::webauthn::{AuthenticationResponse, RegistrationResponse, StoredCredential};
use serde::Serialize;

const CEREMONY_TTL_MS: i64 = 5 * 60_000;

/// A passkey as the resident sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    /// Credential id.
    pub id: String,
    /// Name given by the resident.
    pub name: String,
    /// Added (Unix ms).
    pub created_at: i64,
    /// Last used (Unix ms).
    pub last_used_at: Option<i64>,
    /// Whether a counter went backwards (possible clone): refused until removed.
    pub flagged: bool,
}

fn dom(e: impl Into<DomainError>) -> OAuthError {
    OAuthError::from(e.into())
}

async fn start(p: &Env, kind: &str, subject: Option<&str>) -> OResult<(String, String)> {
    let challenge = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let expires_at = p.clock.now_ms() + CEREMONY_TTL_MS;
    let id = crate::guard::put_ceremony(p, kind, subject, &challenge, expires_at)
        .await
        .map_err(dom)?;
    Ok((id, challenge))
}

async fn take(p: &Env, kind: &str, id: &str) -> OResult<(Option<String>, String)> {
    let row = crate::guard::take_ceremony(p, kind, id)
        .await
        .map_err(dom)?;
    row.ok_or_else(|| {
        OAuthError::access_denied("this passkey request has expired or was already used; try again")
    })
}

/// Most passkeys a resident may hold.
pub const MAX_PASSKEYS: usize = 10;
/// How long after the phone's approval the browser may still create the passkey.
const APPROVAL_FRESH_MS: i64 = 5 * 60_000;
const APPROVAL_CEREMONY: &str = "resident-passkey-approval";

/// Where adding a passkey stands.
#[derive(Debug, Clone, PartialEq)]
pub enum AddStep {
    /// The resident's phone was asked; the page shows the match code and asks again later.
    Waiting {
        /// What the page sends back to ask again.
        pending: String,
        /// The code the app shows next to the request.
        match_code: String,
        /// When the request in the app expires (Unix ms).
        expires_at: i64,
    },
    /// Approved on the phone: the browser creates the passkey with these options (once).
    Ready {
        /// The registration ceremony.
        ceremony: String,
        /// WebAuthn creation options.
        options: serde_json::Value,
    },
}

async fn existing_credentials(p: &Env, resident_id: &str) -> OResult<Vec<String>> {
    let existing: Vec<String> =
        sqlx::query_scalar("SELECT credential_id FROM resident_passkeys WHERE resident_id = $1")
            .bind(resident_id)
            .fetch_all(p.db.reader())
            .await
            .map_err(dom)?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(OAuthError::invalid_request(
            "at most 10 passkeys; remove one first",
        ));
    }
    Ok(existing)
}

/// Start adding a passkey for a signed-in resident. A passkey signs in without the phone, so
/// the phone must agree, now: the resident's app is asked (a request like a login's, with a match
/// code), and only after it approves does [`add_options`] hand out creation options. A browser
/// session alone (hours old, perhaps itself from a passkey) is not enough.
pub async fn request_add(p: &Oidc, resident_id: &str) -> OResult<AddStep> {
    existing_credentials(p, resident_id).await?;
    let created = crate::authn::approvals::create(
        &p.approvals,
        crate::authn::approvals::NewApproval {
            resident_id: Some(resident_id),
            kind: "passkey_add",
            client_id: super::clients::PORTAL,
            client_name: "iAM Smart",
            details: serde_json::json!({}),
            client_vetted: true,
            service: Some(iamsmart_proto::i18n::ServiceDetails {
                name: iamsmart_proto::i18n::Localized {
                    en: "iAM Smart".into(),
                    zh_hant: Some("智方便".into()),
                    zh_hans: Some("智方便".into()),
                },
                ..Default::default()
            }),
        },
    )
    .await
    .map_err(dom)?;
    let pending = crate::guard::put_ceremony(
        p,
        APPROVAL_CEREMONY,
        Some(resident_id),
        created.id.as_str(),
        created.expires_at + APPROVAL_FRESH_MS,
    )
    .await
    .map_err(dom)?;
    Ok(AddStep::Waiting {
        pending,
        match_code: created.match_code,
        expires_at: created.expires_at,
    })
}

/// Ask again whether the phone approved adding a passkey: still waiting, or (once only) the
/// creation options. A denial, an expiry or another resident's request is refused.
pub async fn add_options(
    p: &Oidc,
    resident_id: &str,
    pending: &str,
    display_name: &str,
) -> OResult<AddStep> {
    let now = p.clock.now_ms();
    let row = crate::guard::peek_ceremony(p, APPROVAL_CEREMONY, pending)
        .await
        .map_err(dom)?;
    let gone =
        || OAuthError::access_denied("this request has expired or was already used; try again");
    let Some((subject, approval)) = row else {
        return Err(gone());
    };
    if subject.as_deref() != Some(resident_id) {
        return Err(gone());
    }
    // The ceremony's state is the request's id, as put above.
    let approval = iamsmart_proto::ids::ApprovalId::parse(&approval).map_err(|_| gone())?;
    let view = crate::authn::approvals::status(p, &approval)
        .await
        .map_err(dom)?;
    match view.status {
        iamsmart_proto::app::ApprovalStatus::Pending
        | iamsmart_proto::app::ApprovalStatus::Scanned => {
            return Ok(AddStep::Waiting {
                pending: pending.to_string(),
                match_code: view.match_code,
                expires_at: view.expires_at,
            })
        }
        iamsmart_proto::app::ApprovalStatus::Approved => {}
        iamsmart_proto::app::ApprovalStatus::Denied => {
            return Err(OAuthError::access_denied(
                "the request was declined in the app",
            ))
        }
        iamsmart_proto::app::ApprovalStatus::Expired
        | iamsmart_proto::app::ApprovalStatus::Cancelled => return Err(gone()),
    }
    let decided = crate::authn::approvals::decision(p, &approval)
        .await
        .map_err(dom)?
        .ok_or_else(gone)?;
    if decided.resident_id != resident_id || decided.decided_at + APPROVAL_FRESH_MS <= now {
        return Err(gone());
    }
    // Once: the first caller takes the approval, any other finds it gone.
    take(p, APPROVAL_CEREMONY, pending).await?;
    let existing = existing_credentials(p, resident_id).await?;
    let (id, challenge) = start(p, "resident-passkey-add", Some(resident_id)).await?;
    let options = p.identity.rp.creation_options(
        &challenge,
        resident_id.as_bytes(),
        display_name,
        display_name,
        &existing,
    );
    Ok(AddStep::Ready {
        ceremony: id,
        options,
    })
}

/// Store a new passkey after the browser's answer.
pub async fn register(
    p: &Oidc,
    resident_id: &str,
    ceremony: &str,
    response: &RegistrationResponse,
    name: &str,
) -> OResult<PasskeyView> {
    let (subject, challenge) = take(p, "resident-passkey-add", ceremony).await?;
    if subject.as_deref() != Some(resident_id) {
        return Err(OAuthError::access_denied(
            "this passkey request belongs to another session",
        ));
    }
    let cred = p
        .identity
        .rp
        .verify_registration(&challenge, response)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            OAuthError::access_denied("the passkey was not accepted")
        })?;
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    let name = if name.is_empty() {
        "Passkey".to_string()
    } else {
        name
    };
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await.map_err(dom)?;
    sqlx::query(
        "INSERT INTO resident_passkeys (credential_id, resident_id, name, public_key, sign_count, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&cred.id)
    .bind(resident_id)
    .bind(&name)
    .bind(serde_json::to_string(&cred.public_key).map_err(|e| OAuthError::server_error(e.to_string()))?)
    .bind(i64::from(cred.sign_count))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(dom)?;
    let subject = format!("resident:{resident_id}");
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "passkey.added",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "credential": cred.id }),
        },
    )
    .await?;
    tx.commit().await.map_err(dom)?;
    Ok(PasskeyView {
        id: cred.id,
        name,
        created_at: now,
        last_used_at: None,
        flagged: false,
    })
}

/// Options to sign in with a passkey (discoverable: no list of credentials).
pub async fn login_options(p: &Oidc) -> OResult<(String, serde_json::Value)> {
    let (id, challenge) = start(p, "resident-passkey-login", None).await?;
    Ok((id, p.identity.rp.request_options(&challenge, &[])))
}

/// (resident, public key, count, flagged, resident status)
type PasskeyRow = (String, String, i64, Option<i64>, String);

/// Verify a passkey sign-in; returns the resident. A counter that goes back flags the passkey.
pub async fn authenticate(
    p: &Oidc,
    ceremony: &str,
    response: &AuthenticationResponse,
) -> OResult<String> {
    let (_, challenge) = take(p, "resident-passkey-login", ceremony).await?;
    let refused = || OAuthError::access_denied("the passkey was not accepted");
    let row: Option<PasskeyRow> = sqlx::query_as(
        "SELECT k.resident_id, k.public_key, k.sign_count, k.flagged_at, r.status FROM resident_passkeys k JOIN residents r ON r.id = k.resident_id WHERE k.credential_id = $1",
    )
    .bind(&response.id)
    .fetch_optional(p.db.reader())
    .await
    .map_err(dom)?;
    let (resident, key, count, flagged, status) = row.ok_or_else(refused)?;
    if let Some(handle) = &response.response.user_handle {
        use base64::Engine;
        if *handle != base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(resident.as_bytes()) {
            return Err(refused());
        }
    }
    let jwk: PublicJwk =
        serde_json::from_str(&key).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let stored = StoredCredential {
        id: response.id.clone(),
        public_key: jwk,
        sign_count: u32::try_from(count).map_err(|_| {
            OAuthError::server_error("a passkey's stored sign count is out of range")
        })?,
    };
    let now = p.clock.now_ms();
    match p
        .identity
        .rp
        .verify_authentication(&challenge, &stored, response)
    {
        Ok(out) => {
            if flagged.is_some() || status != "active" {
                return Err(refused());
            }
            // Compare and set from the counter read: one assertion signs in once, however
            // many times it is sent at once.
            let moved = sqlx::query("UPDATE resident_passkeys SET sign_count = $1, last_used_at = $2 WHERE credential_id = $3 AND sign_count = $4")
                .bind(i64::from(out.sign_count))
                .bind(now)
                .bind(&response.id)
                .bind(count)
                .execute(p.db.writer())
                .await
                .map_err(dom)?;
            if moved.rows_affected() == 0 {
                return Err(refused());
            }
            Ok(resident)
        }
        Err(e) => {
            if e.to_string().contains("cloned") {
                let mut tx = p.db.begin().await.map_err(dom)?;
                sqlx::query("UPDATE resident_passkeys SET flagged_at = $1 WHERE credential_id = $2 AND flagged_at IS NULL")
                    .bind(now)
                    .bind(&response.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(dom)?;
                audit::append(
                    &mut tx,
                    now,
                    None,
                    &Event {
                        kind: "security.passkey_clone_suspected",
                        actor: "system",
                        subject: &format!("resident:{resident}"),
                        detail: serde_json::json!({ "credential": response.id }),
                    },
                )
                .await?;
                tx.commit().await.map_err(dom)?;
            }
            tracing::info!(error = %e, "passkey sign-in refused");
            Err(refused())
        }
    }
}

/// (credential, name, created, last used, flagged)
type ListRow = (String, String, i64, Option<i64>, Option<i64>);

/// A resident's passkeys.
pub async fn list(p: &Env, resident_id: &str) -> Result<Vec<PasskeyView>, DomainError> {
    let rows: Vec<ListRow> = sqlx::query_as(
        "SELECT credential_id, name, created_at, last_used_at, flagged_at FROM resident_passkeys WHERE resident_id = $1 ORDER BY created_at",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, created_at, last_used_at, flagged)| PasskeyView {
                id,
                name,
                created_at,
                last_used_at,
                flagged: flagged.is_some(),
            },
        )
        .collect())
}

/// Rename one of the resident's passkeys.
pub async fn rename(p: &Env, resident_id: &str, id: &str, name: &str) -> Result<(), DomainError> {
    let name: String = name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    if name.is_empty() {
        return Err(DomainError::Invalid {
            field: "name",
            message: "give the passkey a name".into(),
        });
    }
    let r = sqlx::query(
        "UPDATE resident_passkeys SET name = $1 WHERE credential_id = $2 AND resident_id = $3",
    )
    .bind(&name)
    .bind(id)
    .bind(resident_id)
    .execute(p.db.writer())
    .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// Remove one of the resident's passkeys: it cannot sign in any more.
pub async fn remove(p: &Env, resident_id: &str, id: &str) -> Result<(), DomainError> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let r =
        sqlx::query("DELETE FROM resident_passkeys WHERE credential_id = $1 AND resident_id = $2")
            .bind(id)
            .bind(resident_id)
            .execute(&mut *tx)
            .await?;
    if r.rows_affected() == 0 {
        return Err(DomainError::NotFound);
    }
    let subject = format!("resident:{resident_id}");
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "passkey.removed",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "credential": id }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Remove every passkey of a resident, inside the caller's transaction (the account closed, or
/// moved to a new phone after proofing: a passkey added from the old one must not outlive it).
/// Returns how many there were.
pub(crate) async fn remove_all(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
) -> Result<u64, DomainError> {
    Ok(
        sqlx::query("DELETE FROM resident_passkeys WHERE resident_id = $1")
            .bind(resident_id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}
