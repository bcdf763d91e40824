//! The platform's part in unsealing the command-line app's keys (issue 16, finding 3): an RFC
//! 9497 OPRF key per device, kept sealed; the app sends its blinded PIN and gets it evaluated, so
//! that without the platform no PIN can be tried against a stolen app home, and with it each try
//! is counted here. The count is taken before the evaluation by one conditional update (fifty
//! tries at once get no more than the limit); the app proves it unsealed by a signed call, which
//! clears the count; the sixth evaluation in a row without that proof locks the device (revoked,
//! as after five wrong PINs in the web app: the resident recovers from another phone or a
//! counter).
use super::devices::{authenticate_with, SignedRequest};
use super::user_verification::SessionRule;
use super::Identity;
use crate::env::Env;
use crate::error::{DomainError, Result};
use iamsmart_crypto::envelope::FieldContext;
use zeroize::Zeroizing;

fn key_context(device_id: &str) -> FieldContext<'_> {
    FieldContext {
        table: "devices",
        column: "oprf_key",
        row: device_id,
    }
}

/// The device's OPRF key, made on first use (two first uses at once keep the first stored).
async fn device_key(p: &Identity, device_id: &str) -> Result<Zeroizing<Vec<u8>>> {
    let stored: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT oprf_key FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional(p.db.writer())
            .await?;
    let sealed = match stored {
        None => return Err(DomainError::NotFound),
        Some(Some(s)) => s,
        Some(None) => {
            let key = iamsmart_crypto::oprf::new_key(p.rng.as_ref())?;
            let sealed = p.vault.seal(&key_context(device_id), &key).await?;
            sqlx::query("UPDATE devices SET oprf_key = $1 WHERE id = $2 AND oprf_key IS NULL")
                .bind(&sealed)
                .bind(device_id)
                .execute(p.db.writer())
                .await?;
            sqlx::query_scalar("SELECT oprf_key FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_one(p.db.writer())
                .await?
        }
    };
    p.vault.open_field(&key_context(device_id), &sealed).await
}

/// Protect a device's keys with the platform's part (the app holds its key in memory and signs
/// the call, or a sandbox tool does it in process): remember the SHA-256 of the home's unseal
/// token, start the count of tries again, and evaluate the blinded PIN.
pub async fn setup(
    p: &Identity,
    device_id: &str,
    token_hash: &[u8; 32],
    blinded: &[u8],
) -> Result<Vec<u8>> {
    let set = sqlx::query(
        "UPDATE devices SET unseal_token_hash = $1, unseal_attempts = 0 WHERE id = $2 AND status IN ('active', 'pending')",
    )
    .bind(token_hash.as_slice())
    .bind(device_id)
    .execute(p.db.writer())
    .await?
    .rows_affected();
    if set == 0 {
        return Err(DomainError::DeviceRevoked);
    }
    let key = device_key(p, device_id).await?;
    evaluate_with(&key, blinded)
}

/// [`setup`] called by the app: signed by the device key it is about to seal.
pub async fn setup_signed(
    p: &Identity,
    req: &SignedRequest<'_>,
    token_hash: &[u8; 32],
    blinded: &[u8],
) -> Result<Vec<u8>> {
    let device_id = signed_device(p, req).await?;
    setup(p, &device_id, token_hash, blinded).await
}

fn evaluate_with(key: &[u8], blinded: &[u8]) -> Result<Vec<u8>> {
    iamsmart_crypto::oprf::evaluate(key, blinded).map_err(|_| DomainError::Invalid {
        field: "blinded",
        message: "not a blinded element (RFC 9497, ristretto255)".into(),
    })
}

/// Evaluate the app's blinded PIN for `device_id` (no signature: the app cannot sign before it
/// has unsealed its key, so the home's unseal token shows the call comes from the protected
/// home; a wrong token is refused without counting). Counts the try first; the sixth try in a
/// row without the app's proof that it unsealed locks the device.
pub async fn evaluate(
    p: &Identity,
    device_id: &iamsmart_proto::ids::DeviceId,
    token: &[u8],
    blinded: &[u8],
    request_id: Option<&str>,
) -> Result<Vec<u8>> {
    let stored: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT unseal_token_hash FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional(p.db.reader())
            .await?;
    let given = iamsmart_crypto::hash::sha256(token);
    if !stored
        .flatten()
        .is_some_and(|h| iamsmart_crypto::hash::ct_eq(&h, &given))
    {
        return Err(DomainError::Refused {
            code: "unseal-token",
            message: "this is not the app home protected for this device",
        });
    }
    let max = p.policy.app.pin_max_failures;
    let counted: Option<(i64, String)> = sqlx::query_as(
        "UPDATE devices SET unseal_attempts = unseal_attempts + 1 WHERE id = $1 AND status IN ('active', 'pending') AND unseal_attempts < $2 RETURNING unseal_attempts, resident_id",
    )
    .bind(device_id)
    .bind(max)
    .fetch_optional(p.db.writer())
    .await?;
    if counted.is_none() {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT resident_id, status FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_optional(p.db.reader())
                .await?;
        if let Some((resident_id, status)) = row {
            if status == "active" || status == "pending" {
                super::devices::lock_after_wrong_pins(p, &resident_id, device_id, request_id)
                    .await?;
            }
            return Err(DomainError::DeviceRevoked);
        }
        return Err(DomainError::NotFound);
    }
    let key = device_key(p, device_id).await?;
    evaluate_with(&key, blinded)
}

/// The app proves (by a call signed with the key it unsealed) that the PIN was right: the count
/// starts again. A phone still waiting to take an account over proves it too (its signature is
/// checked before it is told to wait).
pub async fn unsealed(p: &Identity, req: &SignedRequest<'_>) -> Result<()> {
    let device_id = signed_device(p, req).await?;
    clear_tries(p, &device_id).await
}

/// The device that signed `req`, active or waiting to take an account over (its signature is
/// checked before it is told to wait).
async fn signed_device(p: &Identity, req: &SignedRequest<'_>) -> Result<String> {
    match authenticate_with(p, req, SessionRule::None).await {
        Ok(caller) => Ok(caller.device_id),
        Err(DomainError::Refused {
            code: "takeover-pending",
            ..
        }) => req
            .signature
            .and_then(|s| iamsmart_crypto::jose::unverified_header(s).ok())
            .and_then(|h| h.kid)
            .ok_or_else(|| DomainError::Integrity("a verified signature without a kid".into())),
        Err(e) => Err(e),
    }
}

/// Start the count of tries again (after the app's proof).
async fn clear_tries(p: &Env, device_id: &str) -> Result<()> {
    sqlx::query("UPDATE devices SET unseal_attempts = 0 WHERE id = $1")
        .bind(device_id)
        .execute(p.db.writer())
        .await?;
    Ok(())
}

/// How many tries the device has left before it locks.
pub async fn tries_left(p: &Identity, device_id: &str) -> Result<i64> {
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT unseal_attempts FROM devices WHERE id = $1 AND status IN ('active', 'pending')",
    )
    .bind(device_id)
    .fetch_optional(p.db.reader())
    .await?;
    Ok(used.map_or(0, |u| (p.policy.app.pin_max_failures - u).max(0)))
}
