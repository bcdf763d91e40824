//! Activation codes: issued at a counter, a kiosk or by a bound phone (to add another), typed or
//! scanned into the app once to bind it. A code is 12 symbols from an alphabet without look-alike
//! characters, kept only as a hash, single-use and short-lived; failures count against the
//! address and the device.
use super::devices::{self, DeviceCaller, SignedRequest};
use super::registration::CodeIssued;
use super::user_verification;
use super::Identity;
use crate::audit::{self, Event};
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::guard;
use iamsmart_proto::app::{Activation, Enrolled};
use iamsmart_store::AnyConnection;

/// Alphabet of activation codes: no 0/O, 1/I/L confusion.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A new activation code: 12 symbols (about 59 bits), shown as `XXXX-XXXX-XXXX`.
fn new_code(p: &Env) -> String {
    let mut raw = [0u8; 12];
    p.rng.fill(&mut raw);
    let symbols: String = raw
        .iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}-{}", &symbols[..4], &symbols[4..8], &symbols[8..])
}

/// The canonical form of a typed or scanned activation code.
pub fn normalise_code(input: &str) -> String {
    let input = iamsmart_proto::app::parse_qr(input)
        .filter(|(a, _)| *a == "activate")
        .map_or(input, |(_, v)| v);
    input
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Issue an activation code for a resident inside the caller's transaction; returns the code
/// (shown once) and its expiry. Earlier unused codes of the resident stop working.
pub(crate) async fn issue_activation_code(
    p: &Identity,
    conn: &mut AnyConnection,
    resident_id: &str,
    issued_by: &str,
    now: i64,
    request_id: Option<&str>,
) -> Result<(String, i64)> {
    issue_code(p, conn, resident_id, issued_by, now, request_id, false).await
}

async fn issue_code(
    p: &Identity,
    conn: &mut AnyConnection,
    resident_id: &str,
    issued_by: &str,
    now: i64,
    request_id: Option<&str>,
    keeps_devices: bool,
) -> Result<(String, i64)> {
    let code = new_code(p);
    let expires = now
        + if keeps_devices {
            p.policy.app.link_code_ttl_ms
        } else {
            p.policy.activation_code_ttl_ms
        };
    sqlx::query("UPDATE activation_codes SET expires_at = $1 WHERE resident_id = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now)
        .bind(resident_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO activation_codes (code_hash, resident_id, issued_by, created_at, expires_at, keeps_devices) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(iamsmart_crypto::hash::sha256(normalise_code(&code).as_bytes()).to_vec())
    .bind(resident_id)
    .bind(issued_by)
    .bind(now)
    .bind(expires)
    .bind(i64::from(keeps_devices))
    .execute(&mut *conn)
    .await?;
    audit::append(
        conn,
        now,
        request_id,
        &Event {
            kind: "activation_code.issued",
            actor: issued_by,
            subject: &format!("resident:{resident_id}"),
            detail: serde_json::json!({ "expires_at": expires, "adds_device": keeps_devices }),
        },
    )
    .await?;
    Ok((code, expires))
}

/// Bind the app with an activation code from a counter or kiosk. The code works once; any
/// earlier device of the resident is revoked (a lost phone replaced after proofing in person).
pub async fn activate(
    p: &Identity,
    act: Activation,
    req: &SignedRequest<'_>,
    client_ip: &str,
    request_id: Option<&str>,
) -> Result<Enrolled> {
    let jwk = devices::check_new_device(&act.device)?;
    devices::verify_new_key_request(p, req, &jwk).await?;
    let uv = user_verification::prepare(p, &jwk, act.device.user_verification.as_ref())?;
    let keys = vec![
        guard::attempt_key(&p.vault, "activate-ip", client_ip),
        guard::attempt_key(
            &p.vault,
            "activate-device",
            jwk.kid.as_deref().unwrap_or(""),
        ),
    ];
    guard::check_attempts(p, &keys).await?;
    let code = normalise_code(&act.code);
    let hash = iamsmart_crypto::hash::sha256(code.as_bytes()).to_vec();
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let resident: Option<(String, i64)> = sqlx::query_as(
        "UPDATE activation_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING resident_id, keeps_devices",
    )
    .bind(now)
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((resident_id, keeps_devices)) = resident else {
        drop(tx);
        guard::record_failure(p, &keys, p.policy.failures).await?;
        return Err(DomainError::Refused {
            code: "activation-code-invalid",
            message:
                "this activation code is not valid or has expired; ask at the counter for a new one",
        });
    };
    let status: String = sqlx::query_scalar("SELECT status FROM residents WHERE id = $1")
        .bind(&resident_id)
        .fetch_one(&mut *tx)
        .await?;
    if status != "active" {
        return Err(DomainError::Refused {
            code: "account-not-active",
            message: "this account is closed or suspended; please ask at a counter",
        });
    }
    let subject = format!("resident:{resident_id}");
    // A code from one of the resident's own phones adds this one; a code from a counter or a
    // kiosk replaces them all (the usual reason is a lost phone).
    let revoked = if keeps_devices == 1 {
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE resident_id = $1 AND status = 'active'",
        )
        .bind(&resident_id)
        .fetch_one(&mut *tx)
        .await?;
        if active >= p.policy.app.max_devices {
            return Err(DomainError::Refused {
                code: "too-many-devices",
                message:
                    "this account has as many phones as it may have; remove one in the app first",
            });
        }
        Vec::new()
    } else {
        devices::replace_all(
            p,
            &mut tx,
            &resident_id,
            "replaced by a new phone activated with a code",
            &audit::Stamp {
                at: now,
                actor: &subject,
                request_id,
            },
        )
        .await?
        .devices
    };
    let device_id = devices::bind(
        p,
        &mut tx,
        &resident_id,
        &jwk,
        &act.device.name,
        uv.as_ref(),
        &audit::Stamp {
            at: now,
            actor: &subject,
            request_id,
        },
    )
    .await?;
    let level: String = sqlx::query_scalar("SELECT level FROM residents WHERE id = $1")
        .bind(&resident_id)
        .fetch_one(&mut *tx)
        .await?;
    let level = crate::error::stored(&level)?;
    let session = match &uv {
        Some(_) => Some(user_verification::open_session(p, &mut tx, &device_id, now).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(Enrolled {
        resident_id,
        device_id,
        level,
        rebound: !revoked.is_empty(),
        session,
        pending_until: None,
    })
}

/// A code with which another phone joins the caller's account, keeping this one (moving to a
/// new phone, or a second device). Issued only to an app unlocked moments ago; short-lived; the
/// new phone activates with it as with a counter's code.
pub async fn issue_device_link_code(
    p: &Identity,
    caller: &DeviceCaller,
    request_id: Option<&str>,
) -> Result<CodeIssued> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let level: String = sqlx::query_scalar("SELECT level FROM residents WHERE id = $1")
        .bind(&caller.resident_id)
        .fetch_one(&mut *tx)
        .await?;
    let level = crate::error::stored(&level)?;
    let (code, expires_at) = issue_code(
        p,
        &mut tx,
        &caller.resident_id,
        &caller.actor(),
        now,
        request_id,
        true,
    )
    .await?;
    tx.commit().await?;
    Ok(CodeIssued {
        resident_id: caller.resident_id.clone(),
        level,
        existing: true,
        activation_code: code,
        expires_at,
    })
}
