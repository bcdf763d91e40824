//! User verification the platform checks, for devices bound with it (the resident's web app).
//!
//! A browser can keep a device key that cannot be exported, but a copy of the browser profile
//! carries it along, and a PIN screen drawn by JavaScript proves nothing to the platform. So a
//! device may be bound with one of two proofs that the resident is present, which the platform
//! checks itself:
//!
//! - **passkey**: a WebAuthn credential created for this device with user verification (the
//!   phone's fingerprint, face or screen lock). Its key lives in the authenticator, not in the
//!   browser profile. The creation challenge is derived from the device key's thumbprint, so a
//!   passkey is bound to the one device key it was made for.
//! - **pin**: a 6-digit PIN sent with each proof and compared with a keyed hash (the vault's
//!   index key, so a copy of the database alone cannot be searched for PINs). Wrong PINs in a
//!   row are counted by a conditional update before any comparison, so fifty guesses at once
//!   get no more tries than fifty in turn; the last one allowed revokes the device.
//!
//! Such a device approves and signs only with a proof over the signed decision
//! (`approvals::decide`), and makes its other calls within a short **session** that a proof
//! opens (the app "unlocks"): its token is kept in the app's memory only, its hash here; it
//! ends after a few idle minutes, after half an hour in any case, and with the device.
use super::Identity;
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::guard;
use base64::Engine;
use iamsmart_crypto::jose::PublicJwk;
use iamsmart_crypto::webauthn::{AuthenticationResponse, RegistrationResponse, StoredCredential};
use iamsmart_proto::app::{
    AppSession, Unlock, UnlockOptions, UserVerification, UserVerificationSetup,
};
use iamsmart_store::AnyConnection;

/// How a device proves its resident is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A passkey with user verification.
    Passkey,
    /// A PIN the platform checks.
    Pin,
}

impl Method {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Passkey => "passkey",
            Method::Pin => "pin",
        }
    }

    /// Parse a stored name (`None` for a device without user verification).
    pub fn parse(s: Option<&str>) -> Result<Option<Method>> {
        match s {
            None => Ok(None),
            Some("passkey") => Ok(Some(Method::Passkey)),
            Some("pin") => Ok(Some(Method::Pin)),
            Some(other) => Err(DomainError::Integrity(format!(
                "unknown user verification method {other:?}"
            ))),
        }
    }
}

/// A checked setup, ready to be stored with the device.
#[derive(Clone)]
pub struct Prepared {
    method: Method,
    credential: Option<String>,
    sign_count: i64,
    pin_verifier: Option<Vec<u8>>,
}

impl Prepared {
    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prepared({})", self.method.as_str())
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The WebAuthn challenge of a new device's passkey: it names the device key.
fn creation_challenge(thumbprint: &str) -> String {
    let mut input = b"iamsmart-device-passkey\n".to_vec();
    input.extend_from_slice(thumbprint.as_bytes());
    b64(&iamsmart_crypto::hash::sha256(&input))
}

/// The WebAuthn challenge of an approval's passkey assertion: SHA-256 of the signed decision.
pub fn decision_challenge(signed_decision: &str) -> String {
    b64(&iamsmart_crypto::hash::sha256(signed_decision.as_bytes()))
}

fn pin_verifier(p: &Identity, thumbprint: &str, pin: &str) -> Vec<u8> {
    p.vault
        .blind_index("device-pin", &format!("{thumbprint}\n{pin}"))
}

fn check_pin_shape(pin: &str) -> Result<()> {
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::Invalid {
            field: "user_verification.pin",
            message: "the PIN must be 6 digits".into(),
        });
    }
    let b = pin.as_bytes();
    let same = b.iter().all(|c| *c == b[0]);
    let up = b.windows(2).all(|w| w[1] == w[0] + 1);
    let down = b.windows(2).all(|w| w[0] == w[1] + 1);
    if same || up || down {
        return Err(DomainError::Invalid {
            field: "user_verification.pin",
            message: "choose a PIN that is harder to guess than repeated or consecutive digits"
                .into(),
        });
    }
    Ok(())
}

/// `publicKey` options of `navigator.credentials.create()` for the passkey of the device key
/// `public_jwk` (before it is bound): a platform authenticator with user verification.
pub fn creation_options(
    p: &Identity,
    public_jwk: &serde_json::Value,
    name: &str,
) -> Result<serde_json::Value> {
    let jwk = super::devices::check_new_device(&iamsmart_proto::app::NewDevice {
        public_jwk: public_jwk.clone(),
        name: name.to_string(),
        user_verification: None,
    })?;
    let thumbprint = jwk.kid.unwrap_or_default();
    let handle = &iamsmart_crypto::hash::sha256(thumbprint.as_bytes())[..16];
    let mut o = p.rp.creation_options(
        &creation_challenge(&thumbprint),
        handle,
        &format!("iAM Smart · {}", name.trim()),
        &format!("iAM Smart · {}", name.trim()),
        &[],
    );
    o["authenticatorSelection"] = serde_json::json!({
        "authenticatorAttachment": "platform",
        "residentKey": "discouraged",
        "requireResidentKey": false,
        "userVerification": "required",
    });
    Ok(o)
}

/// Check a new device's user verification before it is bound (`jwk` carries the key's
/// thumbprint as `kid`). `None` is allowed unless the policy requires verification.
pub fn prepare(
    p: &Identity,
    jwk: &PublicJwk,
    setup: Option<&UserVerificationSetup>,
) -> Result<Option<Prepared>> {
    let thumbprint = jwk.kid.as_deref().unwrap_or_default();
    match setup {
        None if p.policy.app.require_user_verification => Err(DomainError::Refused {
            code: "user-verification-required",
            message: "this platform binds only apps that verify the resident with a passkey or a PIN",
        }),
        None => Ok(None),
        Some(UserVerificationSetup::Pin { .. }) if !p.policy.app.pin_allowed => {
            Err(DomainError::Refused {
                code: "pin-not-allowed",
                message: "this platform accepts only passkeys (the phone's fingerprint, face or screen lock)",
            })
        }
        Some(UserVerificationSetup::Pin { pin }) => {
            check_pin_shape(pin)?;
            Ok(Some(Prepared {
                method: Method::Pin,
                credential: None,
                sign_count: 0,
                pin_verifier: Some(pin_verifier(p, thumbprint, pin)),
            }))
        }
        Some(UserVerificationSetup::Passkey { credential }) => {
            let response: RegistrationResponse = serde_json::from_value(credential.clone())
                .map_err(|_| DomainError::Invalid {
                    field: "user_verification.credential",
                    message: "expected a WebAuthn registration response".into(),
                })?;
            let new = p
                .rp
                .verify_registration(&creation_challenge(thumbprint), &response)
                .map_err(|e| {
                    tracing::info!(error = %e, "device passkey refused");
                    DomainError::Refused {
                        code: "passkey-refused",
                        message: "the passkey could not be set up (it must verify you, for example with a fingerprint); try again or choose a PIN",
                    }
                })?;
            let stored = serde_json::json!({ "id": new.id, "public_jwk": new.public_key });
            Ok(Some(Prepared {
                method: Method::Passkey,
                credential: Some(stored.to_string()),
                sign_count: i64::from(new.sign_count),
                pin_verifier: None,
            }))
        }
    }
}

/// Store a prepared setup with a device just bound, inside the binding transaction.
pub(crate) async fn store(
    conn: &mut AnyConnection,
    device_id: &str,
    prepared: &Prepared,
) -> Result<()> {
    sqlx::query(
        "UPDATE devices SET uv_method = $1, uv_credential = $2, uv_sign_count = $3, pin_verifier = $4, uv_failures = 0 WHERE id = $5",
    )
    .bind(prepared.method.as_str())
    .bind(prepared.credential.as_deref())
    .bind(prepared.sign_count)
    .bind(prepared.pin_verifier.as_deref())
    .bind(device_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (method, credential, sign count, thumbprint, resident)
type UvRow = (Option<String>, Option<String>, i64, String, String);

async fn load(p: &Env, device_id: &str) -> Result<(Option<Method>, UvRow)> {
    let row: UvRow = sqlx::query_as(
        "SELECT uv_method, uv_credential, uv_sign_count, thumbprint, resident_id FROM devices WHERE id = $1",
    )
    .bind(device_id)
    .fetch_optional(p.db.reader())
    .await?
    .ok_or(DomainError::DeviceRevoked)?;
    Ok((Method::parse(row.0.as_deref())?, row))
}

/// The device's user verification method (`None`: the device has none).
pub async fn method_of(p: &Env, device_id: &str) -> Result<Option<Method>> {
    Ok(load(p, device_id).await?.0)
}

fn stored_credential(text: Option<&str>, sign_count: i64) -> Result<StoredCredential> {
    #[derive(serde::Deserialize)]
    struct Stored {
        id: String,
        public_jwk: PublicJwk,
    }
    let s: Stored = serde_json::from_str(text.unwrap_or_default())
        .map_err(|e| DomainError::Integrity(format!("stored device passkey: {e}")))?;
    Ok(StoredCredential {
        id: s.id,
        public_key: s.public_jwk,
        sign_count: u32::try_from(sign_count).unwrap_or(0),
    })
}

const MISSING: DomainError = DomainError::Refused {
    code: "user-verification-required",
    message: "confirm it is you (fingerprint, face, screen lock or PIN) to approve on this phone",
};

/// Check a proof that the resident is present on `device_id`, answering `challenge` (for an
/// approval: [`decision_challenge`] of the signed decision). A device bound without user
/// verification needs none. Wrong PINs count towards revoking the device.
pub async fn verify(
    p: &Identity,
    device_id: &str,
    proof: Option<&UserVerification>,
    challenge: &str,
    request_id: Option<&str>,
) -> Result<()> {
    let (method, (_, credential, sign_count, thumbprint, resident_id)) = load(p, device_id).await?;
    let Some(method) = method else {
        return Ok(());
    };
    match (method, proof) {
        (Method::Passkey, Some(UserVerification::Passkey { assertion })) => {
            let response: AuthenticationResponse = serde_json::from_value(assertion.clone())
                .map_err(|_| DomainError::Invalid {
                    field: "user_verification.assertion",
                    message: "expected a WebAuthn authentication response".into(),
                })?;
            let stored = stored_credential(credential.as_deref(), sign_count)?;
            let out = p
                .rp
                .verify_authentication(challenge, &stored, &response)
                .map_err(|e| {
                    tracing::info!(error = %e, "device passkey assertion refused");
                    DomainError::Refused {
                        code: "user-verification-failed",
                        message: "your fingerprint, face or screen lock could not be confirmed; try again",
                    }
                })?;
            // The counter moves only forward, once per assertion: two uses of one assertion
            // at once cannot both pass.
            if out.sign_count != 0 || sign_count != 0 {
                let r = sqlx::query(
                    "UPDATE devices SET uv_sign_count = $1 WHERE id = $2 AND uv_sign_count = $3",
                )
                .bind(i64::from(out.sign_count))
                .bind(device_id)
                .bind(sign_count)
                .execute(p.db.writer())
                .await?;
                if r.rows_affected() == 0 {
                    return Err(DomainError::Refused {
                        code: "user-verification-failed",
                        message: "your confirmation was used already; try again",
                    });
                }
            }
            Ok(())
        }
        (Method::Pin, Some(UserVerification::Pin { pin })) => {
            check_pin(p, device_id, &thumbprint, &resident_id, pin, request_id).await
        }
        _ => Err(MISSING),
    }
}

async fn check_pin(
    p: &Identity,
    device_id: &str,
    thumbprint: &str,
    resident_id: &str,
    pin: &str,
    request_id: Option<&str>,
) -> Result<()> {
    let max = p.policy.app.pin_max_failures;
    // Count the attempt before comparing, in one conditional statement: concurrent guesses
    // cannot exceed the limit.
    let used: Option<i64> = sqlx::query_scalar(
        "UPDATE devices SET uv_failures = uv_failures + 1 WHERE id = $1 AND status = 'active' AND uv_failures < $2 RETURNING uv_failures",
    )
    .bind(device_id)
    .bind(max)
    .fetch_optional(p.db.writer())
    .await?;
    let Some(used) = used else {
        return Err(DomainError::DeviceRevoked);
    };
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT pin_verifier FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_one(p.db.reader())
            .await?;
    let given = pin_verifier(p, thumbprint, pin);
    if stored.is_some_and(|s| iamsmart_crypto::hash::ct_eq(&s, &given)) {
        sqlx::query("UPDATE devices SET uv_failures = 0 WHERE id = $1")
            .bind(device_id)
            .execute(p.db.writer())
            .await?;
        return Ok(());
    }
    if used >= max {
        super::devices::lock_after_wrong_pins(p, resident_id, device_id, request_id).await?;
        return Err(DomainError::DeviceRevoked);
    }
    Err(DomainError::WrongPin {
        attempts_left: max - used,
    })
}

/// What the app must send to unlock: a fresh challenge, and for a passkey the request options.
pub async fn unlock_options(p: &Identity, device_id: &str) -> Result<UnlockOptions> {
    let (method, (_, credential, sign_count, _, _)) = load(p, device_id).await?;
    let (challenge, _) = guard::issue_challenge(p, &unlock_purpose(device_id), 120_000).await?;
    Ok(match method {
        None => UnlockOptions {
            method: "none".into(),
            challenge,
            public_key: None,
            attempts_left: None,
        },
        Some(Method::Passkey) => {
            let stored = stored_credential(credential.as_deref(), sign_count)?;
            UnlockOptions {
                method: "passkey".into(),
                public_key: Some(p.rp.request_options(&challenge, &[stored.id])),
                challenge,
                attempts_left: None,
            }
        }
        Some(Method::Pin) => {
            let failures: i64 = sqlx::query_scalar("SELECT uv_failures FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_one(p.db.reader())
                .await?;
            UnlockOptions {
                method: "pin".into(),
                challenge,
                public_key: None,
                attempts_left: Some(p.policy.app.pin_max_failures - failures),
            }
        }
    })
}

fn unlock_purpose(device_id: &str) -> String {
    format!("app-unlock:{device_id}")
}

/// Unlock the app: check the proof over the unlock challenge and open a session.
pub async fn unlock(
    p: &Identity,
    device_id: &str,
    body: &Unlock,
    request_id: Option<&str>,
) -> Result<AppSession> {
    let purpose = unlock_purpose(device_id);
    if !guard::challenge_is_open(p, &purpose, &body.challenge).await? {
        return Err(DomainError::Refused {
            code: "challenge-invalid",
            message: "this unlock has expired; try again",
        });
    }
    verify(
        p,
        device_id,
        Some(&body.user_verification),
        &body.challenge,
        request_id,
    )
    .await?;
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    if !guard::consume_challenge(&mut tx, now, &purpose, &body.challenge).await? {
        return Err(DomainError::Refused {
            code: "challenge-invalid",
            message: "this unlock was used already; try again",
        });
    }
    let session = open_session(p, &mut tx, device_id, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// Open a session for a device whose resident was just verified, in the caller's transaction.
pub(crate) async fn open_session(
    p: &Identity,
    conn: &mut AnyConnection,
    device_id: &str,
    now: i64,
) -> Result<AppSession> {
    let token = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
    let policy = &p.policy.app;
    sqlx::query(
        "INSERT INTO app_sessions (token_hash, device_id, created_at, idle_until, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(iamsmart_crypto::hash::sha256(token.as_bytes()).to_vec())
    .bind(device_id)
    .bind(now)
    .bind(now + policy.session_idle_ms)
    .bind(now + policy.session_max_ms)
    .execute(&mut *conn)
    .await?;
    Ok(AppSession {
        session: token,
        expires_at: now + policy.session_max_ms,
        idle_secs: policy.session_idle_ms / 1000,
    })
}

/// End a session (the app locks now).
pub async fn lock(p: &Env, device_id: &str, token: Option<&str>) -> Result<()> {
    if let Some(t) = token {
        sqlx::query("DELETE FROM app_sessions WHERE token_hash = $1 AND device_id = $2")
            .bind(iamsmart_crypto::hash::sha256(t.as_bytes()).to_vec())
            .bind(device_id)
            .execute(p.db.writer())
            .await?;
    }
    Ok(())
}

/// What a call needs of the app's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRule {
    /// Nothing (unlocking itself; devices without user verification).
    None,
    /// An unlocked app.
    Unlocked,
    /// An app unlocked within the last `fresh_ms` (closing the account, adding a device).
    Fresh,
}

/// A session as read with the device: (created, idle until, expires).
pub(crate) type SessionTimes = (Option<i64>, Option<i64>, Option<i64>);

/// Check a session read with the device against `rule`, and move its idle limit on (at most
/// one write a minute).
pub(crate) async fn check_session(
    p: &Identity,
    token_hash: &[u8],
    times: SessionTimes,
    rule: SessionRule,
) -> Result<()> {
    if rule == SessionRule::None {
        return Ok(());
    }
    let now = p.clock.now_ms();
    let (Some(created), Some(idle_until), Some(expires)) = times else {
        return Err(DomainError::AppLocked(
            "the app is locked: unlock it to continue",
        ));
    };
    if idle_until <= now || expires <= now {
        return Err(DomainError::AppLocked(
            "the app locked itself after a while without use: unlock it to continue",
        ));
    }
    if rule == SessionRule::Fresh && now - created > p.policy.app.fresh_ms {
        return Err(DomainError::UnlockAgain);
    }
    let next = (now + p.policy.app.session_idle_ms).min(expires);
    if next - idle_until >= (p.policy.app.session_idle_ms / 5).min(60_000) {
        sqlx::query("UPDATE app_sessions SET idle_until = $1 WHERE token_hash = $2")
            .bind(next)
            .bind(token_hash)
            .execute(p.db.writer())
            .await?;
    }
    Ok(())
}

/// Delete ended sessions (a worker calls this).
pub async fn purge_sessions(p: &Env) -> Result<u64> {
    let now = p.clock.now_ms();
    Ok(
        sqlx::query("DELETE FROM app_sessions WHERE expires_at < $1 OR idle_until < $1")
            .bind(now)
            .execute(p.db.writer())
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pins_that_are_easy_to_guess_are_refused() {
        for bad in [
            "12345",
            "1234567",
            "12a456",
            "111111",
            "123456",
            "987654",
            "３４５６７８",
        ] {
            assert!(super::check_pin_shape(bad).is_err(), "{bad}");
        }
        for good in ["246813", "135790", "904512"] {
            assert!(super::check_pin_shape(good).is_ok(), "{good}");
        }
    }
}
