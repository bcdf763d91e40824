//! Becoming a verified resident: self-registration in the app (card data, card photo and selfie
//! checked against the registry and matched with a face model), activation of the app with a
//! code issued at a counter or kiosk, re-binding a new phone after fresh proofing, and the
//! upgrade to iAM Smart+.
//!
//! Card images and selfies are held in memory only (zeroized buffers), handed to the face model
//! and dropped when the check ends, whatever its outcome; they are never written anywhere.
use super::activation::issue_activation_code;
use super::devices::{self, SignedRequest};
use super::hkid::Hkid;
use super::user_verification;
use super::Identity;
use super::{check_card, NewRecord};
use crate::audit::{self, Event};
use crate::error::{stored, DomainError, Result};
use crate::guard;
use iamsmart_face::{FaceError, FaceMatch};
use iamsmart_proto::app::{CardData, Challenge, Enrolled, SelfRegistration};
use iamsmart_proto::profile::{AccountStatus, Level, Profile, VerifiedIdentity};
use iamsmart_proto::registry::RegistryQuery;
use iamsmart_store::AnyConnection;
use zeroize::Zeroizing;

/// Purpose name of registration challenges.
pub const REGISTRATION: &str = "registration";

/// Shown when this build cannot check faces.
pub const SELFIE_UNAVAILABLE: &str = "self-registration with a selfie is not available on this \
platform (it has no face model); please register at a counter or a kiosk, where an officer checks \
your identity card in person";

const MISMATCH: DomainError = DomainError::Refused {
    code: "details-mismatch",
    message: "the details do not match the records of the Immigration Department; check them \
against your identity card and try again, or register at a counter",
};

const FACE_MISMATCH: DomainError = DomainError::Refused {
    code: "face-mismatch",
    message: "the face check did not succeed; take the selfie again facing the camera in good \
light, or register at a counter",
};

const NO_REFERENCE: DomainError = DomainError::Refused {
    code: "face-check-impossible",
    message: "your face cannot be checked against the records of the Immigration Department; \
please register at a counter",
};

/// Issue a single-use registration challenge.
pub async fn challenge(p: &Identity) -> Result<Challenge> {
    let (challenge, expires_at) =
        guard::issue_challenge(p, REGISTRATION, p.policy.challenge_ttl_ms).await?;
    Ok(Challenge {
        challenge,
        expires_at,
    })
}

fn decode_image(p: &Identity, field: &'static str, b64: &str) -> Result<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let max = p.policy.max_image_bytes;
    if b64.len() > max / 3 * 4 + 8 {
        return Err(DomainError::Invalid {
            field,
            message: format!("the image is larger than {} MB", max / (1024 * 1024)),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim()))
        .map_err(|_| DomainError::Invalid {
            field,
            message: "expected a JPEG or PNG image in base64".into(),
        })?;
    if bytes.is_empty() {
        return Err(DomainError::Invalid {
            field,
            message: "the image is empty".into(),
        });
    }
    Ok(Zeroizing::new(bytes))
}

/// How many times as many failed proofs an HKID takes from every source together as from one
/// source: enough that nobody who knows a resident's HKID can lock the resident out from
/// elsewhere, still a bound on guessing from many devices and addresses.
const HKID_WIDE_FACTOR: i64 = 4;

/// The attempt counters of a proofing attempt. An HKID is counted per source (this device,
/// this address), and as a whole with a higher limit; the device and the address are counted
/// on their own too.
pub struct ProofKeys {
    per_source: Vec<String>,
    hkid_wide: String,
    hkid: String,
}

impl ProofKeys {
    fn all(&self) -> Vec<String> {
        let mut keys = self.per_source.clone();
        keys.push(self.hkid_wide.clone());
        keys
    }

    /// The counters of this HKID that a successful proof clears (its own, from this source,
    /// and the HKID as a whole).
    fn of_the_hkid(&self) -> Vec<String> {
        vec![
            self.per_source[0].clone(),
            self.per_source[1].clone(),
            self.hkid_wide.clone(),
        ]
    }
}

/// The attempt-counter keys of a proofing attempt from `device` (a device key's thumbprint, or
/// `kiosk:{staff id}`) at address `ip`.
pub fn attempt_keys(p: &Identity, hkid: &Hkid, device: &str, ip: &str) -> ProofKeys {
    let h = hkid.as_str();
    ProofKeys {
        per_source: vec![
            guard::attempt_key(&p.vault, "proof-hkid-device", &format!("{h}\u{0}{device}")),
            guard::attempt_key(&p.vault, "proof-hkid-ip", &format!("{h}\u{0}{ip}")),
            guard::attempt_key(&p.vault, "proof-device", device),
            guard::attempt_key(&p.vault, "proof-ip", ip),
        ],
        hkid_wide: guard::attempt_key(&p.vault, "proof-hkid", h),
        hkid: h.to_string(),
    }
}

/// Count a failed proof; the first failure on an HKID in a window is told to its holder, if
/// the HKID is registered (someone may be trying to pass for them).
async fn record_proof_failure(p: &Identity, keys: &ProofKeys) -> Result<()> {
    guard::record_failure(p, &keys.per_source, p.policy.failures).await?;
    let wide = guard::Limit {
        max_failures: p.policy.failures.max_failures * HKID_WIDE_FACTOR,
        ..p.policy.failures
    };
    let counts = guard::record_failure(p, std::slice::from_ref(&keys.hkid_wide), wide).await?;
    if counts.first() != Some(&1) {
        return Ok(());
    }
    let Some(resident) = super::find_by_hkid(p, &keys.hkid).await? else {
        return Ok(());
    };
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    crate::notify::send::platform_notice(
        &p.notify,
        &mut tx,
        &resident,
        crate::notify::Bilingual {
            en: Some("A check of your identity did not succeed".into()),
            zh: Some("有人以你的身份證進行核實，但未能通過".into()),
        },
        crate::notify::Bilingual {
            en: Some("Someone used your identity card number to set up iAM Smart or to confirm who they are, and the face check did not match. Nothing was changed and nobody got into your account. If this was you, try again in good light. If it was not you, you need do nothing; if it keeps happening, visit an iAM Smart counter.".into()),
            zh: Some("有人以你的身份證號碼登記「智方便」或核實身份，但面容核實未能配對。你的帳戶沒有任何改動，亦沒有人能進入。如這是你本人，請在光線充足的地方再試。如不是你本人，你無須採取任何行動；如情況持續，請前往「智方便」登記服務點。".into()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Run the face model on a blocking thread with a time limit. The images move into the thread
/// and are dropped there when it ends, even if the caller has stopped waiting.
/// A comparison to make: (what, reference image, probe image).
type FacePair = (&'static str, Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>);

async fn face_check(
    p: &Identity,
    pairs: Vec<FacePair>,
) -> Result<Vec<(&'static str, std::result::Result<FaceMatch, FaceError>)>> {
    let face = p.face.clone();
    let job = tokio::task::spawn_blocking(move || {
        pairs
            .into_iter()
            .map(|(what, reference, probe)| {
                let r = face.compare(&reference, &probe);
                drop((reference, probe));
                (what, r)
            })
            .collect::<Vec<_>>()
    });
    let limit = std::time::Duration::from_millis(p.policy.face_timeout_ms);
    match tokio::time::timeout(limit, job).await {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(e)) => Err(DomainError::Upstream {
            service: "the face check",
            cause: format!("face model task failed: {e}"),
        }),
        Err(_) => Err(DomainError::Upstream {
            service: "the face check",
            cause: "timed out".into(),
        }),
    }
}

/// Map a face-model outcome for `what` (`registry`: registry photo vs selfie; `card`: card
/// photo vs selfie) to a decision.
fn face_verdict(what: &str, r: std::result::Result<FaceMatch, FaceError>) -> Result<bool> {
    let (probe_field, reference_field) = ("selfie", "card_image");
    match r {
        Ok(m) => Ok(m.matched),
        Err(FaceError::Unavailable(_)) => Err(DomainError::FeatureUnavailable(SELFIE_UNAVAILABLE)),
        Err(FaceError::NoFace { which: "probe" }) => Err(DomainError::Invalid {
            field: probe_field,
            message: "no face found in the selfie; face the camera in good light".into(),
        }),
        Err(FaceError::SeveralFaces { which: "probe" }) => Err(DomainError::Invalid {
            field: probe_field,
            message: "more than one face in the selfie; make sure you are alone in the picture"
                .into(),
        }),
        Err(FaceError::BadImage {
            which: "probe",
            message,
        }) => Err(DomainError::Invalid {
            field: probe_field,
            message,
        }),
        Err(e) if what == "card" => Err(DomainError::Invalid {
            field: reference_field,
            message: match e {
                FaceError::BadImage { message, .. } => message,
                _ => "the photo on the card cannot be seen; take the card image again, flat and in good light".into(),
            },
        }),
        Err(_) => Err(NO_REFERENCE),
    }
}

/// Prove an identity remotely: the registry confirms the card data, and the selfie matches
/// both the registry's photo and the photo on the card. Returns the registry's record.
pub async fn prove_remotely(
    p: &Identity,
    card: &CardData,
    card_image: Option<&str>,
    selfie: &str,
    keys: &ProofKeys,
) -> Result<VerifiedIdentity> {
    guard::check_attempts(p, &keys.all()).await?;
    if !p.face.available() {
        return Err(DomainError::FeatureUnavailable(SELFIE_UNAVAILABLE));
    }
    let selfie = decode_image(p, "selfie", selfie)?;
    let card_image = card_image
        .map(|c| decode_image(p, "card_image", c))
        .transpose()?;
    let answer = p
        .registry
        .verify(&RegistryQuery {
            hkid: card.hkid.clone(),
            name_en: card.name_en.clone(),
            name_zh: card.name_zh.clone(),
            date_of_birth: card.date_of_birth.clone(),
            include_photo: true,
        })
        .await?;
    let ("match", Some(record)) = (answer.outcome.as_str(), answer.record) else {
        record_proof_failure(p, keys).await?;
        return Err(MISMATCH);
    };
    let photo = match answer.photo {
        Some(b64) => decode_image(p, "registry photo", &b64).map_err(|_| NO_REFERENCE)?,
        None => return Err(NO_REFERENCE),
    };
    let mut pairs = vec![("registry", photo, Zeroizing::new(selfie.to_vec()))];
    if let Some(card_image) = card_image {
        pairs.push(("card", card_image, selfie));
    }
    for (what, r) in face_check(p, pairs).await? {
        if !face_verdict(what, r)? {
            record_proof_failure(p, keys).await?;
            return Err(FACE_MISMATCH);
        }
    }
    Ok(VerifiedIdentity {
        hkid: record.hkid,
        name_en: record.name_en,
        name_zh: record.name_zh,
        date_of_birth: record.date_of_birth,
        gender: Some(record.gender),
    })
}

/// The existing resident with this HKID, if any: (id, status).
async fn existing(
    p: &Identity,
    conn: &mut AnyConnection,
    hkid: &Hkid,
) -> Result<Option<(String, AccountStatus)>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, status FROM residents WHERE hkid_index = $1")
            .bind(p.vault.blind_index("hkid", hkid.as_str()))
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(id, status)| Ok((id, stored(&status)?)))
        .transpose()
}

/// Create the resident, or (same HKID) refresh them from the registry and reopen the account;
/// inside the caller's transaction. Returns (id, level, existed).
async fn create_or_refresh(
    p: &Identity,
    conn: &mut AnyConnection,
    verified: &VerifiedIdentity,
    channel: &str,
    actor: &str,
    now: i64,
    request_id: Option<&str>,
) -> Result<(String, Level, bool)> {
    let hkid = Hkid::parse(&verified.hkid).map_err(|m| DomainError::Invalid {
        field: "hkid",
        message: m.into(),
    })?;
    if let Some((id, status)) = existing(p, conn, &hkid).await? {
        super::refresh_verified(p, conn, &id, verified, now).await?;
        sqlx::query(
            "UPDATE residents SET status = 'active', closed_at = NULL, purge_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
        audit::append(
            conn,
            now,
            request_id,
            &Event {
                kind: "resident.reproofed",
                actor,
                subject: &format!("resident:{id}"),
                detail: serde_json::json!({ "channel": channel, "reopened": status == AccountStatus::Closed }),
            },
        )
        .await?;
        let level: String = sqlx::query_scalar("SELECT level FROM residents WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *conn)
            .await?;
        return Ok((id, stored(&level)?, true));
    }
    let id = super::insert(
        p,
        conn,
        NewRecord {
            verified,
            profile: &Profile::default(),
            level: Level::Basic,
            channel,
        },
        now,
    )
    .await?;
    audit::append(
        conn,
        now,
        request_id,
        &Event {
            kind: "resident.registered",
            actor,
            subject: &format!("resident:{id}"),
            detail: serde_json::json!({ "level": Level::Basic, "channel": channel }),
        },
    )
    .await?;
    Ok((id, Level::Basic, false))
}

/// Self-registration from the app. A second registration with the same HKID moves the account
/// to the new phone after the same fresh proofing: at once if no phone is active, else after the
/// cool-off, during which the current phones are told and can refuse ([`super::takeover`]);
/// either way the account is iAM Smart (basic) until a new face check or a counter visit.
pub async fn register_in_app(
    p: &Identity,
    reg: SelfRegistration,
    req: &SignedRequest<'_>,
    client_ip: &str,
    request_id: Option<&str>,
) -> Result<Enrolled> {
    let hkid = check_card(
        &reg.card.hkid,
        &reg.card.name_en,
        reg.card.name_zh.as_deref(),
        &reg.card.date_of_birth,
    )?;
    let jwk = devices::check_new_device(&reg.device)?;
    devices::verify_new_key_request(p, req, &jwk).await?;
    let uv = user_verification::prepare(p, &jwk, reg.device.user_verification.as_ref())?;
    if !guard::challenge_is_open(p, REGISTRATION, &reg.challenge).await? {
        return Err(expired());
    }
    let thumbprint = jwk.kid.clone().unwrap_or_default();
    let keys = attempt_keys(p, &hkid, &thumbprint, client_ip);
    let verified = prove_remotely(p, &reg.card, Some(&reg.card_image), &reg.selfie, &keys).await?;
    drop(reg.card_image);
    drop(reg.selfie);
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    if !guard::consume_challenge(&mut tx, now, REGISTRATION, &reg.challenge).await? {
        return Err(expired());
    }
    let (id, level, existed) = create_or_refresh(
        p,
        &mut tx,
        &verified,
        "app",
        "system:app-registration",
        now,
        request_id,
    )
    .await?;
    let subject = format!("resident:{id}");
    let stamp = audit::Stamp {
        at: now,
        actor: &subject,
        request_id,
    };
    let phones: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM devices WHERE resident_id = $1 AND status = 'active'",
    )
    .bind(&id)
    .fetch_one(&mut *tx)
    .await?;
    let wait = existed && phones > 0 && p.policy.takeover_cool_off_ms > 0;
    let revoked = if wait {
        Vec::new()
    } else {
        devices::replace_all(
            p,
            &mut tx,
            &id,
            "replaced by a new phone after fresh proofing",
            &stamp,
        )
        .await?
        .devices
    };
    let device_id = devices::bind(
        p,
        &mut tx,
        &id,
        &jwk,
        &reg.device.name,
        uv.as_ref(),
        &audit::Stamp {
            at: now,
            actor: &subject,
            request_id,
        },
    )
    .await?;
    let pending_until = if wait {
        Some(super::takeover::hold(p, &mut tx, &id, &device_id, &reg.device.name, &stamp).await?)
    } else {
        None
    };
    // A move at once leaves the account basic now; one that waits, when it happens.
    let level = if existed && !wait {
        super::takeover::lower_to_basic(&mut tx, &id, &stamp).await?;
        Level::Basic
    } else {
        level
    };
    let session = match &uv {
        Some(_) => Some(user_verification::open_session(p, &mut tx, &device_id, now).await?),
        None => None,
    };
    tx.commit().await?;
    guard::clear_attempts(p, &keys.of_the_hkid()).await?;
    Ok(Enrolled {
        resident_id: id,
        device_id,
        level,
        rebound: existed || !revoked.is_empty(),
        session,
        pending_until,
    })
}

fn expired() -> DomainError {
    DomainError::Refused {
        code: "registration-expired",
        message: "this registration has expired or was already used; please start again",
    }
}

/// Register a resident whose card an officer (or a kiosk's own checks) verified, and issue an
/// activation code for their app. The registry must confirm the card data. For a resident
/// already registered, the record is refreshed and the code re-binds a new phone.
pub async fn register_with_code(
    p: &Identity,
    card: &CardData,
    verified_photo: Option<VerifiedIdentity>,
    channel: &str,
    actor: &str,
    request_id: Option<&str>,
) -> Result<CodeIssued> {
    check_card(
        &card.hkid,
        &card.name_en,
        card.name_zh.as_deref(),
        &card.date_of_birth,
    )?;
    let verified = match verified_photo {
        Some(v) => v,
        None => {
            let answer = p
                .registry
                .verify(&RegistryQuery {
                    hkid: card.hkid.clone(),
                    name_en: card.name_en.clone(),
                    name_zh: card.name_zh.clone(),
                    date_of_birth: card.date_of_birth.clone(),
                    include_photo: false,
                })
                .await?;
            match (answer.outcome.as_str(), answer.record) {
                ("match", Some(r)) => VerifiedIdentity {
                    hkid: r.hkid,
                    name_en: r.name_en,
                    name_zh: r.name_zh,
                    date_of_birth: r.date_of_birth,
                    gender: Some(r.gender),
                },
                _ => return Err(MISMATCH),
            }
        }
    };
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let (id, level, existed) =
        create_or_refresh(p, &mut tx, &verified, channel, actor, now, request_id).await?;
    let (code, expires_at) = issue_activation_code(p, &mut tx, &id, actor, now, request_id).await?;
    tx.commit().await?;
    Ok(CodeIssued {
        resident_id: id,
        level,
        existing: existed,
        activation_code: code,
        expires_at,
    })
}

/// A registration that ends with an activation code.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CodeIssued {
    /// The resident.
    pub resident_id: String,
    /// Their level.
    pub level: Level,
    /// Whether the resident was registered before (the code re-binds a new phone).
    pub existing: bool,
    /// The one-time activation code (show it once; the QR code carries
    /// `iamsmart:activate?code=<code without dashes>`).
    pub activation_code: String,
    /// Unix ms after which the code is refused.
    pub expires_at: i64,
}

/// Set a resident's level to iAM Smart+ inside the caller's transaction.
pub(crate) async fn set_plus(
    conn: &mut AnyConnection,
    resident_id: &str,
    via: &str,
    actor: &str,
    now: i64,
    request_id: Option<&str>,
) -> Result<()> {
    let r = sqlx::query(
        "UPDATE residents SET level = 'plus', updated_at = $1 WHERE id = $2 AND status = 'active' AND level <> 'plus'",
    )
    .bind(now)
    .bind(resident_id)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 1 {
        audit::append(
            conn,
            now,
            request_id,
            &Event {
                kind: "resident.upgraded",
                actor,
                subject: &format!("resident:{resident_id}"),
                detail: serde_json::json!({ "level": Level::Plus, "via": via }),
            },
        )
        .await?;
    }
    Ok(())
}

/// Match a fresh selfie of a registered resident against the registry's photo (upgrades and
/// face step-up). Failures count against the HKID, the device and the address.
pub async fn face_check_resident(
    p: &Identity,
    resident_id: &str,
    device_id: &str,
    selfie: &str,
    client_ip: &str,
) -> Result<()> {
    let r = super::get(p, resident_id).await?;
    let hkid = Hkid::parse(&r.verified.hkid)
        .map_err(|_| DomainError::Integrity("stored HKID does not parse".into()))?;
    let keys = attempt_keys(p, &hkid, device_id, client_ip);
    let card = CardData {
        hkid: r.verified.hkid.clone(),
        name_en: r.verified.name_en.clone(),
        name_zh: r.verified.name_zh.clone(),
        date_of_birth: r.verified.date_of_birth.clone(),
    };
    prove_remotely(p, &card, None, selfie, &keys).await?;
    guard::clear_attempts(p, &keys.of_the_hkid()).await?;
    Ok(())
}

/// Upgrade to iAM Smart+ from the app with a fresh selfie matched against the registry photo.
pub async fn upgrade_in_app(
    p: &Identity,
    caller: &devices::DeviceCaller,
    selfie: &str,
    client_ip: &str,
    request_id: Option<&str>,
) -> Result<Level> {
    let r = super::get(p, &caller.resident_id).await?;
    if r.level == Level::Plus {
        return Ok(r.level);
    }
    face_check_resident(p, &r.id, &caller.device_id, selfie, client_ip).await?;
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    set_plus(&mut tx, &r.id, "face", &caller.actor(), now, request_id).await?;
    tx.commit().await?;
    Ok(Level::Plus)
}

/// Upgrade to iAM Smart+ at a counter, after an officer checked the card in person.
pub async fn upgrade_at_counter(
    p: &Identity,
    staff: &super::staff::StaffCaller,
    resident_id: &str,
    request_id: Option<&str>,
) -> Result<()> {
    staff.require(&["officer", "supervisor"])?;
    let r = super::get(p, resident_id).await?;
    if r.status != AccountStatus::Active {
        return Err(DomainError::Refused {
            code: "account-not-active",
            message: "this account is closed or suspended",
        });
    }
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    set_plus(
        &mut tx,
        resident_id,
        "counter",
        &staff.actor(),
        now,
        request_id,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sandbox only: register a resident with registry-confirmed data and bind a device key
/// directly (the caller holds the key), as `iamsmart sandbox create-resident` does.
pub async fn sandbox_enrol(
    p: &Identity,
    verified: &VerifiedIdentity,
    level: Level,
    device: &iamsmart_proto::app::NewDevice,
) -> Result<Enrolled> {
    let jwk = devices::check_new_device(device)?;
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let (id, existed) = sandbox_record(p, &mut tx, verified, level, now).await?;
    let subject = format!("resident:{id}");
    devices::replace_all(
        p,
        &mut tx,
        &id,
        "replaced by a sandbox device",
        &audit::Stamp {
            at: now,
            actor: &subject,
            request_id: None,
        },
    )
    .await?;
    // The sandbox binds what it is given, whatever the policy says of user verification.
    let uv = match &device.user_verification {
        Some(setup) => user_verification::prepare(p, &jwk, Some(setup))?,
        None => None,
    };
    let device_id = devices::bind(
        p,
        &mut tx,
        &id,
        &jwk,
        &device.name,
        uv.as_ref(),
        &audit::Stamp {
            at: now,
            actor: &subject,
            request_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Enrolled {
        resident_id: id,
        device_id,
        level,
        rebound: existed,
        session: None,
        pending_until: None,
    })
}

/// Sandbox only: register a resident with registry-confirmed data at `level` and issue an
/// activation code for their app, as a counter would (`iamsmart demo` prints it as a link to
/// the web app). An earlier unused code of the resident stops working; activating with this
/// one replaces the resident's phones.
pub async fn sandbox_activation_code(
    p: &Identity,
    verified: &VerifiedIdentity,
    level: Level,
) -> Result<CodeIssued> {
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let (id, existed) = sandbox_record(p, &mut tx, verified, level, now).await?;
    let (code, expires_at) =
        issue_activation_code(p, &mut tx, &id, "operator:sandbox", now, None).await?;
    tx.commit().await?;
    Ok(CodeIssued {
        resident_id: id,
        level,
        existing: existed,
        activation_code: code,
        expires_at,
    })
}

/// Sandbox only: create or refresh a resident from registry-confirmed data at `level`, inside
/// the caller's transaction; returns (id, whether it existed).
async fn sandbox_record(
    p: &Identity,
    conn: &mut AnyConnection,
    verified: &VerifiedIdentity,
    level: Level,
    now: i64,
) -> Result<(String, bool)> {
    let (id, _, existed) =
        create_or_refresh(p, conn, verified, "sandbox", "operator:sandbox", now, None).await?;
    if level == Level::Plus {
        set_plus(conn, &id, "sandbox", "operator:sandbox", now, None).await?;
    }
    Ok((id, existed))
}

#[cfg(test)]
#[path = "proof_limit_tests.rs"]
mod proof_limit_tests;
