//! Consent artefacts of the Consented Data Exchange Gateway (after the DEPA consent artefact and
//! ISO/IEC TS 27560): who requests, from which providers, which items, for what purpose, from
//! when to when, once or recurring, how long the requester may keep the data; status ACTIVE,
//! PAUSED, REVOKED, EXPIRED (and PENDING or DENIED around the approval). Signed by the platform;
//! its hash is in the transparency log; the resident can download it as a receipt.
//!
//! Transitions are taken when a consent is read (lazily), so every process agrees without
//! coordination: an approved request becomes ACTIVE, a denied or unanswered one DENIED, and an
//! active one past its end EXPIRED.
use super::providers::{self, Published};
use super::Exchange;
use crate::audit::{self, Event};
use crate::authn::approvals;
use crate::env::Env;
use crate::error::{stored, DomainError, Result};
use crate::keys::Purpose;
use crate::oidc::clients::{Client, RequesterType};
use iamsmart_crypto::jose::Alg;
use iamsmart_proto::ids::ApprovalId;
use iamsmart_proto::ids::DataConsentId;
use serde::{Deserialize, Serialize};

/// One item of a consent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRef {
    /// Provider id.
    pub provider: String,
    /// Item id.
    pub item: String,
}

/// What a requester asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The resident: the subject identifier the requester knows them by.
    pub login_hint: String,
    /// The items, possibly from several providers.
    pub items: Vec<ItemRef>,
    /// Purpose code (e.g. `credit-assessment`).
    pub purpose_code: String,
    /// Purpose as shown to the resident.
    pub purpose_text: String,
    /// Once, or recurring (at most `frequency_per_day` a day).
    #[serde(default = "once")]
    pub fetch_type: FetchType,
    /// Recurring: at most this many fetches a day.
    #[serde(default)]
    pub frequency_per_day: Option<i64>,
    /// Days the consent lasts once given.
    #[serde(default = "thirty")]
    pub valid_days: i64,
    /// Days the requester may keep the data it fetched.
    #[serde(default = "thirty")]
    pub data_life_days: i64,
}

fn once() -> FetchType {
    FetchType::Once
}

iamsmart_proto::text_enum! {
    /// How often a requester may fetch under a consent. Stored and sent as its lower-case name
    /// (the database refuses any other: `data_consents_fetch_type_known`).
    pub enum FetchType {
        /// One fetch, then the consent is used up.
        Once = "once",
        /// At most `frequency_per_day` fetches a day while the consent lasts.
        Recurring = "recurring",
    }
}
fn thirty() -> i64 {
    30
}

iamsmart_proto::text_enum! {
    /// Where a data consent stands. Stored and sent as its upper-case name (the database refuses
    /// any other: `data_consents_status_known`).
    pub enum ConsentStatus {
        /// Asked; waiting for the resident's answer in the app.
        Pending = "PENDING",
        /// Approved and within its dates: the requester may fetch.
        Active = "ACTIVE",
        /// Paused by the resident; may be resumed.
        Paused = "PAUSED",
        /// Withdrawn by the resident; final.
        Revoked = "REVOKED",
        /// Past its end; final.
        Expired = "EXPIRED",
        /// Declined, or not answered in time; final.
        Denied = "DENIED",
    }
}

impl ConsentStatus {
    /// The resident may pause it (it is active).
    pub fn can_pause(self) -> bool {
        self == Self::Active
    }

    /// The resident may resume it (it is paused).
    pub fn can_resume(self) -> bool {
        self == Self::Paused
    }

    /// The resident may withdraw it (it is not yet over).
    pub fn can_revoke(self) -> bool {
        matches!(self, Self::Active | Self::Paused | Self::Pending)
    }
}

/// A consent as requesters and residents see it.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    /// Id.
    pub consent_id: DataConsentId,
    /// The requester.
    pub client_id: iamsmart_proto::ids::ClientId,
    /// Its name (English).
    pub service: String,
    /// Its name in every language registered.
    pub service_names: iamsmart_proto::i18n::Localized,
    /// Where it stands.
    pub status: ConsentStatus,
    /// Why, when denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// The items.
    pub items: Vec<ItemRef>,
    /// Purpose code.
    pub purpose_code: String,
    /// Purpose text.
    pub purpose_text: String,
    /// Once or recurring.
    pub fetch_type: FetchType,
    /// Recurring: fetches a day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_per_day: Option<i64>,
    /// From (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// To (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Days the requester may keep the data.
    pub data_life_days: i64,
    /// Successful fetches so far.
    pub fetches: i64,
    /// The signed artefact (JWS), once active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artefact: Option<String>,
    /// The request shown in the app (while pending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
    /// Created (Unix ms).
    pub created_at: i64,
}

fn invalid(field: &'static str, m: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: m.into(),
    }
}

/// Which requested items a consent allows: every requested item must be in the consent (an
/// empty request means every item of the consent). Never more than the consent.
pub fn allowed(
    consented: &[ItemRef],
    requested: &[ItemRef],
) -> std::result::Result<Vec<ItemRef>, ItemRef> {
    if requested.is_empty() {
        return Ok(consented.to_vec());
    }
    let mut out = Vec::new();
    for r in requested {
        if !consented.contains(r) {
            return Err(r.clone());
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// Ask a resident for consent. The requester must have registered an encryption key (data are
/// encrypted to it end to end); banks (HKMA CDI) must be FAPI clients, and the resident must be
/// iAM Smart+ (checked when the consent is given).
pub async fn request(p: &Exchange, client: &Client, req: ConsentRequest) -> Result<ConsentView> {
    let kind = client.requester_type();
    if kind == RequesterType::Bank && !client.fapi() {
        return Err(DomainError::Forbidden("banks use a FAPI 2.0 client"));
    }
    if client
        .encryption_key(&p.oidc)
        .await
        .map_err(|e| invalid("client", e.description))?
        .is_none()
    {
        return Err(invalid(
            "client",
            "register an encryption key (EC P-256, \"use\": \"enc\") in your JWKS: data are encrypted to it end to end",
        ));
    }
    if req.items.is_empty() || req.items.len() > 20 {
        return Err(invalid("items", "ask for 1 to 20 items"));
    }
    let catalogue = providers::catalogue(p).await?;
    let mut items: Vec<ItemRef> = Vec::new();
    for i in &req.items {
        let Some(found) = catalogue
            .iter()
            .find(|c| c.provider == i.provider && c.def.item == i.item)
        else {
            return Err(invalid(
                "items",
                format!(
                    "unknown item {}/{}",
                    i.provider.chars().take(40).collect::<String>(),
                    i.item.chars().take(40).collect::<String>()
                ),
            ));
        };
        if !found.def.requesters.iter().any(|r| r == kind.as_str()) {
            return Err(DomainError::Forbidden(
                "this item is not available to requesters of your type",
            ));
        }
        if !items.contains(i) {
            items.push(i.clone());
        }
    }
    let code_ok = (1..=40).contains(&req.purpose_code.len())
        && req.purpose_code.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        });
    if !code_ok {
        return Err(invalid("purpose_code", "1 to 40 of a-z, 0-9, - _ ."));
    }
    if !(3..=300).contains(&req.purpose_text.chars().count())
        || req.purpose_text.chars().any(char::is_control)
    {
        return Err(invalid("purpose_text", "3 to 300 characters"));
    }
    match (req.fetch_type, req.frequency_per_day) {
        (FetchType::Once, None) => {}
        (FetchType::Recurring, Some(f)) if (1..=24).contains(&f) => {}
        _ => {
            return Err(invalid(
                "fetch_type",
                "once, or recurring with frequency_per_day 1 to 24",
            ))
        }
    }
    if !(1..=365).contains(&req.valid_days) {
        return Err(invalid("valid_days", "1 to 365"));
    }
    if !(0..=3650).contains(&req.data_life_days) {
        return Err(invalid("data_life_days", "0 to 3650"));
    }
    let resident =
        crate::oidc::claims::resident_of_subject(p, &client.subject_sector(), &req.login_hint)
            .await?
            .ok_or(DomainError::NotFound)?;
    let details = serde_json::json!({
        "service": client.meta.client_name,
        "purpose": req.purpose_text,
        "items": items.iter().map(|i| {
            let c = catalogue.iter().find(|c| c.provider == i.provider && c.def.item == i.item);
            serde_json::json!({
                "provider": i.provider, "item": i.item,
                "provider_en": c.map(|c| c.provider_en.clone()), "provider_zh": c.map(|c| c.provider_zh.clone()),
                "title_en": c.map(|c| c.def.title_en.clone()), "title_zh": c.map(|c| c.def.title_zh.clone()),
            })
        }).collect::<Vec<_>>(),
        "fetch_type": req.fetch_type,
        "valid_days": req.valid_days,
        "data_life_days": req.data_life_days,
    });
    let created = approvals::create(
        &p.approvals,
        approvals::NewApproval {
            resident_id: Some(&resident),
            kind: "data_consent",
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details,
            client_vetted: client.vetted,
            service: Some(client.meta.service_details()),
        },
    )
    .await?;
    let id: DataConsentId = p.new_id();
    let now = p.clock.now_ms();
    sqlx::query(
        "INSERT INTO data_consents (id, resident_id, client_id, approval_id, items, purpose_code, purpose_text, fetch_type, frequency_per_day, valid_days, data_life_days, status, fetches, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'PENDING', 0, $12, $12)",
    )
    .bind(&id)
    .bind(&resident)
    .bind(&client.id)
    .bind(&created.id)
    .bind(serde_json::to_string(&items)?)
    .bind(&req.purpose_code)
    .bind(&req.purpose_text)
    .bind(req.fetch_type.as_str())
    .bind(req.frequency_per_day)
    .bind(req.valid_days)
    .bind(req.data_life_days)
    .bind(now)
    .execute(p.db.writer())
    .await?;
    get(p, &id).await
}

/// The columns of a consent, in the order [`row_to_view`] reads them.
const COLUMNS: &str = "c.id, c.client_id, c.status, c.status_reason, c.items, c.purpose_code, c.purpose_text, c.fetch_type, c.frequency_per_day, c.starts_at, c.expires_at, c.data_life_days, c.fetches, c.artefact, c.approval_id, c.created_at, c.resident_id, c.valid_days";

fn row_to_view(
    r: &iamsmart_store::AnyRow,
    service: crate::oidc::clients::ServiceNames,
) -> Result<(ConsentView, String, i64)> {
    use iamsmart_store::Row;
    let items: String = r.try_get(4)?;
    let status: ConsentStatus = stored(&r.try_get::<String, _>(2)?)?;
    Ok((
        ConsentView {
            consent_id: r.try_get(0)?,
            client_id: r.try_get(1)?,
            service: service.name,
            service_names: service.names,
            approval_id: (status == ConsentStatus::Pending)
                .then(|| r.try_get(14))
                .transpose()?,
            status,
            status_reason: r.try_get(3)?,
            items: serde_json::from_str(&items)?,
            purpose_code: r.try_get(5)?,
            purpose_text: r.try_get(6)?,
            fetch_type: stored(&r.try_get::<String, _>(7)?)?,
            frequency_per_day: r.try_get(8)?,
            starts_at: r.try_get(9)?,
            expires_at: r.try_get(10)?,
            data_life_days: r.try_get(11)?,
            fetches: r.try_get(12)?,
            artefact: r.try_get(13)?,
            created_at: r.try_get(15)?,
        },
        r.try_get(16)?,
        r.try_get(17)?,
    ))
}

/// End every live consent of a resident whose account closes, inside the caller's transaction:
/// the next fetch is refused, and what requesters fetched is theirs to erase after its data life.
pub async fn end_at_closure(
    conn: &mut iamsmart_store::AnyConnection,
    resident_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE data_consents SET status = $1, status_reason = 'the account was closed', updated_at = $2, purge_at = $2 + data_life_days * 86400000
         WHERE resident_id = $3 AND status IN ($4, $5, $6)",
    )
    .bind(ConsentStatus::Revoked.as_str())
    .bind(now)
    .bind(resident_id)
    .bind(ConsentStatus::Active.as_str())
    .bind(ConsentStatus::Paused.as_str())
    .bind(ConsentStatus::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The requesters a resident was ever asked for a data consent by, by client id.
pub async fn requesters_of(p: &Env, resident_id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT client_id FROM data_consents WHERE resident_id = $1")
            .bind(resident_id)
            .fetch_all(p.db.reader())
            .await?,
    )
}

async fn load(
    p: &Env,
    id: &DataConsentId,
) -> Result<Option<(ConsentView, String, i64, ApprovalId)>> {
    use iamsmart_store::Row;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, c.approval_id FROM data_consents c WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(p.db.reader())
    .await?;
    let Some(r) = row else { return Ok(None) };
    let client_id: String = r.try_get(1)?;
    let services = crate::oidc::clients::names_of(p, &[client_id.as_str()]).await?;
    let service = crate::oidc::clients::ServiceNames::of(&services, &client_id);
    let (v, resident, valid) = row_to_view(&r, service)?;
    Ok(Some((v, resident, valid, r.try_get(18)?)))
}

/// A consent, with its pending transitions taken.
pub async fn get(p: &Exchange, id: &DataConsentId) -> Result<ConsentView> {
    let (v, resident, valid_days, approval_id) = load(p, id).await?.ok_or(DomainError::NotFound)?;
    let now = p.clock.now_ms();
    match v.status {
        ConsentStatus::Pending => {
            let a = approvals::status(p, &approval_id).await?;
            match a.status {
                iamsmart_proto::app::ApprovalStatus::Approved => {
                    activate(p, &v, &resident, valid_days, &approval_id).await?;
                }
                iamsmart_proto::app::ApprovalStatus::Denied => {
                    set_status(
                        p,
                        &v,
                        ConsentStatus::Denied,
                        Some("the resident declined"),
                        "system",
                    )
                    .await?;
                }
                iamsmart_proto::app::ApprovalStatus::Expired
                | iamsmart_proto::app::ApprovalStatus::Cancelled => {
                    set_status(
                        p,
                        &v,
                        ConsentStatus::Denied,
                        Some("the resident did not answer in time"),
                        "system",
                    )
                    .await?;
                }
                iamsmart_proto::app::ApprovalStatus::Pending
                | iamsmart_proto::app::ApprovalStatus::Scanned => return Ok(v),
            }
            Box::pin(get(p, id)).await
        }
        ConsentStatus::Active | ConsentStatus::Paused if v.expires_at.is_some_and(|e| e <= now) => {
            set_status(p, &v, ConsentStatus::Expired, None, "system").await?;
            Box::pin(get(p, id)).await
        }
        _ => Ok(v),
    }
}

/// The artefact's claims.
fn artefact(
    p: &Exchange,
    v: &ConsentView,
    sub: &str,
    catalogue: &[Published],
    starts: i64,
    ends: i64,
) -> serde_json::Value {
    serde_json::json!({
        "ver": "1",
        "iss": p.oidc.provider.policy.issuer,
        "consent_id": v.consent_id,
        "iat": starts / 1000,
        "data_principal": { "sub": sub },
        "data_consumer": { "client_id": v.client_id, "name": v.service },
        "items": v.items.iter().map(|i| {
            let c = catalogue.iter().find(|c| c.provider == i.provider && c.def.item == i.item);
            serde_json::json!({
                "provider": i.provider, "item": i.item,
                "provider_name": c.map(|c| c.provider_en.clone()),
                "title": c.map(|c| c.def.title_en.clone()),
                "legal_basis": c.map(|c| c.def.legal_basis.clone()),
            })
        }).collect::<Vec<_>>(),
        "purpose": { "code": v.purpose_code, "text": v.purpose_text },
        "permission": {
            "from": starts / 1000,
            "to": ends / 1000,
            "fetch_type": v.fetch_type,
            "frequency_per_day": v.frequency_per_day,
            "data_life_days": v.data_life_days,
        },
    })
}

async fn activate(
    p: &Exchange,
    v: &ConsentView,
    resident: &str,
    valid_days: i64,
    approval_id: &ApprovalId,
) -> Result<()> {
    let d = approvals::decision(p, approval_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let client = crate::oidc::clients::get(&p.oidc, &v.client_id).await?;
    let Some(client) = client else {
        return set_status(
            p,
            v,
            ConsentStatus::Denied,
            Some("the requester is no longer registered"),
            "system",
        )
        .await;
    };
    if client.requester_type() == RequesterType::Bank {
        let level = crate::identity::standing(p, resident).await?.map(|s| s.0);
        if level != Some(iamsmart_proto::profile::Level::Plus) && !d.face_verified {
            return set_status(
                p,
                v,
                ConsentStatus::Denied,
                Some("banks need iAM Smart+ (or a face match): upgrade at a counter or in the app"),
                "system",
            )
            .await;
        }
    }
    let starts = d.decided_at;
    let ends = starts + valid_days * 86_400_000;
    let sub = crate::oidc::tokens::subject_for(&p.oidc, &client, resident);
    let catalogue = providers::catalogue(p).await?;
    let claims = artefact(p, v, &sub, &catalogue, starts, ends);
    let jws = p
        .keys
        .sign_jws(
            Purpose::Token,
            Alg::ES256,
            Some("consent+jwt"),
            claims.to_string().as_bytes(),
        )
        .await?;
    let hash = iamsmart_crypto::hash::sha256(jws.as_bytes());
    let now = p.clock.now_ms();
    let mut tx = p.db.begin().await?;
    let r = sqlx::query(
        "UPDATE data_consents SET status = 'ACTIVE', starts_at = $1, expires_at = $2, artefact = $3, artefact_hash = $4, updated_at = $5, purge_at = $6
         WHERE id = $7 AND status = 'PENDING'",
    )
    .bind(starts)
    .bind(ends)
    .bind(&jws)
    .bind(hash.to_vec())
    .bind(now)
    .bind(ends + v.data_life_days * 86_400_000)
    .bind(&v.consent_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 1 {
        let subject = format!("resident:{resident}");
        audit::append(
            &mut tx,
            now,
            None,
            &Event {
                kind: "data_consent.granted",
                actor: &subject,
                subject: &subject,
                detail: serde_json::json!({ "consent": v.consent_id, "client": v.client_id, "artefact_sha256": hex::encode(hash) }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn set_status(
    p: &Env,
    v: &ConsentView,
    status: ConsentStatus,
    reason: Option<&str>,
    actor: &str,
) -> Result<()> {
    let now = p.clock.now_ms();
    let resident: String =
        sqlx::query_scalar("SELECT resident_id FROM data_consents WHERE id = $1")
            .bind(&v.consent_id)
            .fetch_one(p.db.reader())
            .await?;
    // A consent's record is kept while the requester may keep data fetched under it.
    let purge_at = match status {
        ConsentStatus::Denied => now + 30 * 86_400_000,
        ConsentStatus::Expired => {
            v.expires_at.unwrap_or(now).min(now) + v.data_life_days * 86_400_000
        }
        ConsentStatus::Pending
        | ConsentStatus::Active
        | ConsentStatus::Paused
        | ConsentStatus::Revoked => now + v.data_life_days * 86_400_000,
    };
    let mut tx = p.db.begin().await?;
    let r = sqlx::query(
        "UPDATE data_consents SET status = $1, status_reason = $2, updated_at = $3, purge_at = $4 WHERE id = $5 AND status = $6",
    )
    .bind(status.as_str())
    .bind(reason)
    .bind(now)
    .bind(purge_at)
    .bind(&v.consent_id)
    .bind(v.status.as_str())
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 1 {
        audit::append(
            &mut tx,
            now,
            None,
            &Event {
                kind: "data_consent.status",
                actor,
                subject: &format!("resident:{resident}"),
                detail: serde_json::json!({ "consent": v.consent_id, "client": v.client_id, "status": status, "reason": reason }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A consent as its requester may see it.
pub async fn for_client(p: &Exchange, client: &Client, id: &DataConsentId) -> Result<ConsentView> {
    let v = get(p, id).await?;
    if v.client_id != client.id {
        return Err(DomainError::NotFound);
    }
    Ok(v)
}

/// A resident's consents, newest first.
pub async fn for_resident(p: &Exchange, resident_id: &str) -> Result<Vec<ConsentView>> {
    let ids: Vec<DataConsentId> = sqlx::query_scalar(
        "SELECT id FROM data_consents WHERE resident_id = $1 ORDER BY created_at DESC",
    )
    .bind(resident_id)
    .fetch_all(p.db.reader())
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(get(p, &id).await?);
    }
    Ok(out)
}

/// The resident pauses, resumes or revokes a consent; the next fetch sees it at once.
pub async fn resident_action(
    p: &Exchange,
    resident_id: &str,
    id: &DataConsentId,
    action: &str,
) -> Result<ConsentView> {
    if !["pause", "resume", "revoke"].contains(&action) {
        return Err(invalid("action", "pause, resume or revoke"));
    }
    // Only the resident's own consent, checked before anything about it is touched.
    match load(p, id).await? {
        Some((_, owner, _, _)) if owner == resident_id => {}
        _ => return Err(DomainError::NotFound),
    }
    let v = get(p, id).await?;
    let to = match action {
        "pause" if v.status.can_pause() => ConsentStatus::Paused,
        "resume" if v.status.can_resume() => ConsentStatus::Active,
        "revoke" if v.status.can_revoke() => ConsentStatus::Revoked,
        _ => {
            return Err(DomainError::Refused {
                code: "consent-state",
                message: "this consent cannot be changed that way now",
            })
        }
    };
    set_status(p, &v, to, None, &format!("resident:{resident_id}")).await?;
    get(p, id).await
}

/// Erase consent records whose retention has passed, with their message log (a worker calls
/// this). Audit entries stay.
pub async fn purge(p: &Exchange) -> Result<u64> {
    let now = p.clock.now_ms();
    // Settle consents nobody has looked at: past their expiry, or waiting for an answer long
    // after the approval expired; then they follow their retention like the others.
    let unsettled: Vec<DataConsentId> = sqlx::query_scalar(
        "SELECT id FROM data_consents WHERE (status IN ('ACTIVE', 'PAUSED') AND expires_at <= $1) OR (status = 'PENDING' AND created_at <= $2) LIMIT 500",
    )
    .bind(now)
    .bind(now - 86_400_000)
    .fetch_all(p.db.reader())
    .await?;
    for id in unsettled {
        get(p, &id).await?;
    }
    let due: Vec<DataConsentId> = sqlx::query_scalar(
        "SELECT id FROM data_consents WHERE purge_at IS NOT NULL AND purge_at <= $1 AND status <> 'ACTIVE' AND status <> 'PAUSED' LIMIT 500",
    )
    .bind(now)
    .fetch_all(p.db.reader())
    .await?;
    let mut n = 0;
    for id in due {
        let mut tx = p.db.begin().await?;
        sqlx::query("DELETE FROM exchange_log WHERE consent_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        super::fetch::forget_slots(&mut tx, &id).await?;
        n += sqlx::query("DELETE FROM data_consents WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item() -> impl Strategy<Value = ItemRef> {
        (
            prop::sample::select(vec!["td", "ird", "hd", "edb"]),
            prop::sample::select(vec!["a", "b", "c"]),
        )
            .prop_map(|(p, i)| ItemRef {
                provider: p.into(),
                item: i.into(),
            })
    }

    proptest! {
        /// A requester never gets an item outside the consent.
        #[test]
        fn never_an_item_outside_the_consent(consented in prop::collection::vec(item(), 0..6), requested in prop::collection::vec(item(), 0..6)) {
            match allowed(&consented, &requested) {
                Ok(items) => {
                    for i in &items {
                        prop_assert!(consented.contains(i));
                    }
                    if !requested.is_empty() {
                        for i in &items {
                            prop_assert!(requested.contains(i));
                        }
                    }
                }
                Err(outside) => {
                    prop_assert!(!consented.contains(&outside));
                    prop_assert!(requested.contains(&outside));
                }
            }
        }
    }
}
