//! Devices bound to residents (the phone's key), and the signed requests they make.
use super::user_verification::{check_session, Method as UvMethod, SessionRule, SessionTimes};
use super::Identity;
use crate::audit::{self, Event};
use crate::connector::body_hash;
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::guard::{self, SingleUseKind, Spent};
use iamsmart_crypto::jose::{self, Alg, PublicJwk};
use iamsmart_proto::app::{DeviceStatus, DeviceView, NewDevice, RequestClaims, DEVICE_REQUEST_TYP};
use iamsmart_proto::profile::AccountStatus;
use iamsmart_store::{AnyConnection, Row};

/// Largest clock difference accepted between a device and the platform.
pub const MAX_SKEW_MS: i64 = 60_000;

/// A verified device request: who is calling.
#[derive(Debug, Clone)]
pub struct DeviceCaller {
    /// The device.
    pub device_id: String,
    /// Its resident.
    pub resident_id: String,
}

impl DeviceCaller {
    /// The audit actor name.
    pub fn actor(&self) -> String {
        format!("resident:{}", self.resident_id)
    }
}

/// A request being authenticated: what the signature must cover.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The `iamsmart-device-signature` header, if sent.
    pub signature: Option<&'a str>,
    /// HTTP method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// The body.
    pub body: &'a [u8],
    /// The `iamsmart-app-session` header, if sent (devices bound with user verification).
    pub session: Option<&'a str>,
}

fn unauth(m: &'static str) -> DomainError {
    DomainError::Unauthenticated(m)
}

/// Check a new device's key and name; returns the key with its thumbprint as `kid`.
pub fn check_new_device(d: &NewDevice) -> Result<PublicJwk> {
    let bad = |m: &str| DomainError::Invalid {
        field: "device.public_jwk",
        message: m.into(),
    };
    let jwk: PublicJwk =
        serde_json::from_value(d.public_jwk.clone()).map_err(|_| bad("expected a JWK"))?;
    if jwk.kty != "EC" || jwk.crv.as_deref() != Some("P-256") || jwk.x.is_none() || jwk.y.is_none()
    {
        return Err(bad("the device key must be an EC P-256 public key"));
    }
    if jwk.n.is_some() || jwk.e.is_some() {
        return Err(bad("unexpected members in the device key"));
    }
    let point = {
        let mut v = vec![4u8];
        v.extend(jose::b64_decode(
            "device key x",
            jwk.x.as_deref().unwrap_or(""),
        )?);
        v.extend(jose::b64_decode(
            "device key y",
            jwk.y.as_deref().unwrap_or(""),
        )?);
        v
    };
    let mut clean = PublicJwk::from_p256_point("", &point).map_err(|_| bad("not a P-256 point"))?;
    clean.kid = None;
    clean.alg = None;
    clean.use_ = None;
    let tp = clean.thumbprint();
    clean.kid = Some(tp);
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: "device.name",
            message: "must be 1 to 60 characters".into(),
        });
    }
    Ok(clean)
}

fn check_claims(
    p: &Env,
    req: &SignedRequest<'_>,
    payload: &[u8],
    scope: String,
    spent: &mut Spent,
) -> Result<()> {
    let c: RequestClaims =
        serde_json::from_slice(payload).map_err(|_| unauth("malformed device signature claims"))?;
    if c.htm != req.method || c.htp != req.path {
        return Err(unauth("the device signature is for another request"));
    }
    if c.bh != body_hash(req.body) {
        return Err(unauth("the device signature does not cover this body"));
    }
    let now = p.clock.now_ms();
    if !guard::within(c.iat.saturating_mul(1000), now, MAX_SKEW_MS) {
        return Err(unauth(
            "the device signature is too old or from the future; check the phone's clock",
        ));
    }
    if !(16..=128).contains(&c.jti.len()) {
        return Err(unauth(
            "the device signature needs a jti of 16 to 128 characters",
        ));
    }
    spent.add(
        SingleUseKind::DeviceRequest,
        scope,
        &c.jti,
        now + 3 * MAX_SKEW_MS,
    );
    Ok(())
}

/// Verify a request signed by a key not yet bound (registration, activation): proof that the
/// caller holds the private key of `jwk`.
pub async fn verify_new_key_request(
    p: &Env,
    req: &SignedRequest<'_>,
    jwk: &PublicJwk,
) -> Result<()> {
    let sig = req
        .signature
        .ok_or_else(|| unauth("sign the request with the new device key"))?;
    let (header, payload) = jose::verify_compact(sig, std::slice::from_ref(jwk), &[Alg::ES256])
        .map_err(|_| unauth("the request is not signed by the device key it presents"))?;
    if header.typ.as_deref() != Some(DEVICE_REQUEST_TYP) {
        return Err(unauth("wrong signature type"));
    }
    let scope = format!("newkey:{}", jwk.kid.as_deref().unwrap_or(""));
    let mut spent = Spent::new();
    check_claims(p, req, &payload, scope, &mut spent)?;
    Ok(spent.spend(p).await??)
}

/// A bound device's public key, with the device id as its `kid`: what checks the decisions it
/// signs.
pub async fn public_key(p: &Env, device_id: &str) -> Result<PublicJwk> {
    let text: String = sqlx::query_scalar("SELECT public_jwk FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(p.db.reader())
        .await?
        .ok_or(DomainError::NotFound)?;
    let mut jwk: PublicJwk = serde_json::from_str(&text)
        .map_err(|e| DomainError::Integrity(format!("stored device key: {e}")))?;
    jwk.kid = Some(device_id.to_string());
    Ok(jwk)
}

/// Authenticate a request signed by a bound device. Revoked devices and closed or suspended
/// accounts are refused at once; a device bound with user verification must also be unlocked.
pub async fn authenticate(p: &Identity, req: &SignedRequest<'_>) -> Result<DeviceCaller> {
    authenticate_with(p, req, SessionRule::Unlocked).await
}

/// [`authenticate`], with what the call needs of the app's session (for a device bound with
/// user verification; others need none). The request's `jti` is recorded at once.
pub async fn authenticate_with(
    p: &Identity,
    req: &SignedRequest<'_>,
    rule: SessionRule,
) -> Result<DeviceCaller> {
    let (caller, spent) = authenticate_deferred(p, req, rule).await?;
    spent.spend(p).await??;
    Ok(caller)
}

/// [`authenticate_with`], leaving the request's `jti` to the caller, who records it in the
/// transaction of the request's effect ([`Spent::record`]).
pub async fn authenticate_deferred(
    p: &Identity,
    req: &SignedRequest<'_>,
    rule: SessionRule,
) -> Result<(DeviceCaller, Spent)> {
    let sig = req
        .signature
        .ok_or_else(|| unauth("this call must be signed by the app's device key"))?;
    let header = jose::unverified_header(sig).map_err(|_| unauth("malformed device signature"))?;
    let device_id = header
        .kid
        .filter(|k| k.len() <= 64)
        .ok_or_else(|| unauth("the device signature names no device"))?;
    let session_hash = req
        .session
        .map(|s| iamsmart_crypto::hash::sha256(s.as_bytes()).to_vec())
        .unwrap_or_default();
    let row = sqlx::query(
        "SELECT d.resident_id, d.public_jwk, d.status, r.status, d.last_used_at, d.uv_method, s.created_at, s.idle_until, s.expires_at, d.activates_at
         FROM devices d JOIN residents r ON r.id = d.resident_id
         LEFT JOIN app_sessions s ON s.token_hash = $2 AND s.device_id = d.id
         WHERE d.id = $1",
    )
    .bind(&device_id)
    .bind(&session_hash)
    .fetch_optional(p.db.reader())
    .await?
    .ok_or_else(|| unauth("unknown device; register the app again"))?;
    let resident_id: String = row.try_get(0)?;
    let jwk_text: String = row.try_get(1)?;
    let device_status: DeviceStatus = stored(&row.try_get::<String, _>(2)?)?;
    let resident_status: AccountStatus = stored(&row.try_get::<String, _>(3)?)?;
    let last_used: Option<i64> = row.try_get(4)?;
    let uv_method: Option<String> = row.try_get(5)?;
    let session: SessionTimes = (row.try_get(6)?, row.try_get(7)?, row.try_get(8)?);
    let activates_at: Option<i64> = row.try_get(9)?;
    let mut jwk: PublicJwk = serde_json::from_str(&jwk_text)
        .map_err(|e| DomainError::Integrity(format!("stored device key: {e}")))?;
    jwk.kid = Some(device_id.clone());
    let (header, payload) = jose::verify_compact(sig, &[jwk], &[Alg::ES256])
        .map_err(|_| unauth("the device signature does not verify"))?;
    if header.typ.as_deref() != Some(DEVICE_REQUEST_TYP) {
        return Err(unauth("wrong signature type"));
    }
    // Checked after the signature, so that an unsigned probe learns nothing about the device.
    match device_status {
        DeviceStatus::Active => {}
        // A new phone waiting to take the account over: its cool-off may just have ended.
        DeviceStatus::Pending => {
            super::takeover::complete_if_due(p, &resident_id, &device_id, activates_at).await?;
        }
        DeviceStatus::Revoked => return Err(DomainError::DeviceRevoked),
    }
    if resident_status != AccountStatus::Active {
        return Err(unauth("this account is closed or suspended"));
    }
    let mut spent = Spent::new();
    check_claims(p, req, &payload, format!("device:{device_id}"), &mut spent)?;
    if UvMethod::parse(uv_method.as_deref())?.is_some() {
        check_session(p, &session_hash, session, rule).await?;
    }
    // Recorded to the minute: one write per device and minute, not per request.
    let now = p.clock.now_ms();
    if last_used.is_none_or(|t| now - t > 60_000) {
        sqlx::query("UPDATE devices SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&device_id)
            .execute(p.db.writer())
            .await?;
    }
    Ok((
        DeviceCaller {
            device_id,
            resident_id,
        },
        spent,
    ))
}

/// Bind a device inside the caller's transaction, with its user verification if it has one;
/// returns its id.
pub(crate) async fn bind(
    p: &Env,
    conn: &mut AnyConnection,
    resident_id: &str,
    jwk: &PublicJwk,
    name: &str,
    uv: Option<&super::user_verification::Prepared>,
    stamp: &audit::Stamp<'_>,
) -> Result<String> {
    let (now, actor, request_id) = (stamp.at, stamp.actor, stamp.request_id);
    let id = format!("d_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 12));
    let jwk_text = serde_json::to_string(jwk).map_err(|e| DomainError::Integrity(e.to_string()))?;
    let r = sqlx::query(
        "INSERT INTO devices (id, resident_id, thumbprint, public_jwk, name, status, created_at) VALUES ($1, $2, $3, $4, $5, 'active', $6)",
    )
    .bind(&id)
    .bind(resident_id)
    .bind(jwk.kid.as_deref().unwrap_or(""))
    .bind(&jwk_text)
    .bind(name.trim())
    .bind(now)
    .execute(&mut *conn)
    .await;
    if let Err(e) = r {
        return Err(match DomainError::from(e) {
            DomainError::Conflict(_) => DomainError::Conflict(
                "this device key is already bound to an account; generate a new key",
            ),
            other => other,
        });
    }
    if let Some(uv) = uv {
        super::user_verification::store(conn, &id, uv).await?;
    }
    audit::append(
        conn,
        now,
        request_id,
        &Event {
            kind: "device.bound",
            actor,
            subject: &format!("resident:{resident_id}"),
            detail: serde_json::json!({
                "device": id,
                "user_verification": uv.map(|u| u.method().as_str()),
            }),
        },
    )
    .await?;
    Ok(id)
}

/// Revoke every active device of a resident inside the caller's transaction.
pub(crate) async fn revoke_all(
    conn: &mut AnyConnection,
    resident_id: &str,
    reason: &str,
    now: i64,
    actor: &str,
    request_id: Option<&str>,
) -> Result<Vec<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE devices SET status = 'revoked', revoked_at = $1, revoked_reason = $2 WHERE resident_id = $3 AND status = 'active' RETURNING id",
    )
    .bind(now)
    .bind(reason)
    .bind(resident_id)
    .fetch_all(&mut *conn)
    .await?;
    for d in &ids {
        sqlx::query("DELETE FROM app_sessions WHERE device_id = $1")
            .bind(d)
            .execute(&mut *conn)
            .await?;
        crate::oidc::tokens::revoke_resident(conn, resident_id, Some(d), reason, now).await?;
        crate::signing::ca::revoke_certs(
            conn,
            resident_id,
            Some(d),
            crate::signing::ca::REASON_KEY_COMPROMISE,
            now,
        )
        .await?;
    }
    if !ids.is_empty() {
        audit::append(
            conn,
            now,
            request_id,
            &Event {
                kind: "device.revoked",
                actor,
                subject: &format!("resident:{resident_id}"),
                detail: serde_json::json!({ "devices": ids, "reason": reason }),
            },
        )
        .await?;
    }
    Ok(ids)
}

/// What moving an account to a new phone ended.
#[derive(Debug, Default)]
pub(crate) struct Replaced {
    /// The phones revoked.
    pub devices: Vec<String>,
    /// Passkeys removed.
    pub passkeys: u64,
    /// Browser sessions (single sign-on) ended, passkey ones included.
    pub sessions: usize,
}

/// The account moves to a new phone (a counter's code, fresh proofing, the sandbox): every
/// phone, passkey, browser session and grant of the resident ends, whatever it was bound to (a
/// passkey added from a lost phone must not outlive it), inside the caller's transaction. If
/// anything ended, the resident finds a notice in their inbox and the audit log says what.
pub(crate) async fn replace_all(
    p: &Identity,
    conn: &mut AnyConnection,
    resident_id: &str,
    reason: &str,
    stamp: &audit::Stamp<'_>,
) -> Result<Replaced> {
    let now = stamp.at;
    let devices = revoke_all(
        conn,
        resident_id,
        reason,
        now,
        stamp.actor,
        stamp.request_id,
    )
    .await?;
    let passkeys = crate::oidc::passkeys::remove_all(conn, resident_id).await?;
    let sessions = crate::oidc::tokens::revoke_resident(conn, resident_id, None, reason, now)
        .await?
        .len();
    let replaced = Replaced {
        devices,
        passkeys,
        sessions,
    };
    if replaced.devices.is_empty() && replaced.passkeys == 0 && replaced.sessions == 0 {
        return Ok(replaced);
    }
    if replaced.passkeys > 0 || replaced.sessions > 0 {
        audit::append(
            conn,
            now,
            stamp.request_id,
            &Event {
                kind: "account.moved",
                actor: stamp.actor,
                subject: &format!("resident:{resident_id}"),
                detail: serde_json::json!({
                    "reason": reason,
                    "passkeys_removed": replaced.passkeys,
                    "browser_sessions_ended": replaced.sessions,
                }),
            },
        )
        .await?;
    }
    crate::notify::send::platform_notice(
        &p.notify,
        conn,
        resident_id,
        crate::notify::Bilingual {
            en: Some("Your account moved to a new phone".into()),
            zh: Some("你的帳戶已轉到新手機".into()),
        },
        crate::notify::Bilingual {
            en: Some(format!(
                "Your iAM Smart account was set up on a new phone. For your safety, we ended everything the old one had started: {} phone(s), {} passkey(s) and {} browser sign-in(s). Sign in to services again with the new phone, and add passkeys again from it if you want them. If you did not do this, call the iAM Smart hotline at once.",
                replaced.devices.len(),
                replaced.passkeys,
                replaced.sessions
            )),
            zh: Some(format!(
                "你的「智方便」帳戶已在新手機上設定。為保障你的安全，我們已結束舊手機所開始的一切：{} 部手機、{} 個通行密匙及 {} 個瀏覽器登入。請用新手機重新登入各項服務；如需通行密匙，請在新手機上重新加入。如這並非你本人所為，請立即致電「智方便」熱線。",
                replaced.devices.len(),
                replaced.passkeys,
                replaced.sessions
            )),
        },
        now,
    )
    .await?;
    Ok(replaced)
}

/// A resident's devices, newest first.
pub async fn list(p: &Env, resident_id: &str, current: Option<&str>) -> Result<Vec<DeviceView>> {
    let rows = sqlx::query(
        "SELECT id, name, status, created_at, last_used_at, revoked_at, uv_method, activates_at FROM devices WHERE resident_id = $1 ORDER BY created_at DESC, id",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            Ok(DeviceView {
                current: current == Some(id.as_str()),
                id,
                name: r.try_get(1)?,
                status: stored(&r.try_get::<String, _>(2)?)?,
                created_at: r.try_get(3)?,
                last_used_at: r.try_get(4)?,
                revoked_at: r.try_get(5)?,
                user_verification: r.try_get(6)?,
                activates_at: r.try_get(7)?,
            })
        })
        .collect()
}

/// Revoke one of the caller's own devices (also the calling one). Its signatures are refused
/// from the next request on.
pub async fn revoke(
    p: &Env,
    caller: &DeviceCaller,
    device_id: &iamsmart_proto::ids::DeviceId,
    request_id: Option<&str>,
) -> Result<()> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    if !revoke_one(
        &mut tx,
        &caller.resident_id,
        device_id,
        "revoked by the resident",
        now,
        &caller.actor(),
        request_id,
    )
    .await?
    {
        return Err(DomainError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// Lock a device after too many wrong PINs (the web app's, or the tries to unseal the command-line
/// app's keys): revoked, with its tokens, certificates and sessions, in a transaction of its own.
pub(crate) async fn lock_after_wrong_pins(
    p: &Env,
    resident_id: &str,
    device_id: &str,
    request_id: Option<&str>,
) -> Result<()> {
    let mut tx = p.db.begin().await?;
    revoke_one(
        &mut tx,
        resident_id,
        device_id,
        "too many wrong PINs",
        p.clock.now_ms(),
        "system",
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revoke one active device of a resident (or refuse a phone waiting to take the account over)
/// inside the caller's transaction, with its tokens, certificates and app sessions; `false` if
/// there was no such device.
pub(crate) async fn revoke_one(
    conn: &mut AnyConnection,
    resident_id: &str,
    device_id: &str,
    reason: &str,
    now: i64,
    actor: &str,
    request_id: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE devices SET status = 'revoked', revoked_at = $1, revoked_reason = $2, activates_at = NULL WHERE id = $3 AND resident_id = $4 AND status IN ('active', 'pending')",
    )
    .bind(now)
    .bind(reason)
    .bind(device_id)
    .bind(resident_id)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    crate::oidc::tokens::revoke_resident(conn, resident_id, Some(device_id), "device revoked", now)
        .await?;
    crate::signing::ca::revoke_certs(
        conn,
        resident_id,
        Some(device_id),
        crate::signing::ca::REASON_KEY_COMPROMISE,
        now,
    )
    .await?;
    sqlx::query("DELETE FROM app_sessions WHERE device_id = $1")
        .bind(device_id)
        .execute(&mut *conn)
        .await?;
    audit::append(
        conn,
        now,
        request_id,
        &Event {
            kind: "device.revoked",
            actor,
            subject: &format!("resident:{resident_id}"),
            detail: serde_json::json!({ "devices": [device_id], "reason": reason }),
        },
    )
    .await?;
    Ok(true)
}
