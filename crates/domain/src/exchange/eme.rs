//! e-ME form filling: a service asks for profile fields for a named form; the resident approves
//! in the app (pushed to their phone when the service names them, or through a QR code the
//! service shows: "anonymous e-ME", no login to the service); the service receives exactly the
//! approved fields, signed by the platform (JWS, `typ` `eme+jwt`) and encrypted to its key (JWE)
//! when it registered one. The values are delivered once and never stored by the platform: the
//! request row holds the field names only.
use super::Exchange;
use crate::audit::{self, Event};
use crate::authn::approvals;
use crate::env::Env;
use crate::error::{DomainError, Result};
use crate::keys::Purpose;
use crate::oidc::claims;
use crate::oidc::clients::Client;
use iamsmart_crypto::jose::Alg;
use iamsmart_proto::ids::EmeRequestId;
use serde::{Deserialize, Serialize};

/// The form the data is for, as shown to the resident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// Form name (e.g. "Application for International Driving Permit").
    pub name: String,
    /// Form number (e.g. "TD 118").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// What the form is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a service asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmeRequest {
    /// The resident (the subject the service knows them by): the request goes to their phone.
    /// Without it, the service shows the returned QR code and any resident may scan it.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The form.
    pub form: Form,
    /// Fields asked for (see the integration guide for names).
    pub fields: Vec<String>,
    /// Those of `fields` the resident may leave out.
    #[serde(default)]
    pub optional_fields: Vec<String>,
}

/// A started request.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Poll `GET /eme/v1/requests/{request_id}` with it.
    pub request_id: EmeRequestId,
    /// Show this as a QR code (anonymous e-ME).
    pub qr: String,
    /// Show this next to the QR code: the app shows the same digits.
    pub match_code: String,
    /// Unix ms.
    pub expires_at: i64,
    /// The approval shown in the app (not for the service).
    #[serde(skip)]
    pub approval_id: iamsmart_proto::ids::ApprovalId,
}

/// What polling returns.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The request.
    pub request_id: EmeRequestId,
    /// `pending`, `scanned` (the app opened it), `approved` (the data is here, once),
    /// `delivered` (given out earlier), `denied`, `expired`.
    pub status: String,
    /// The approved fields (when approved).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The data: a JWS signed by the platform, or a JWE around it when the service registered an
    /// encryption key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Why, when denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The resident who released the data (when approved; never sent: the compatible API
    /// answers the same fields in its own shapes, read from the record).
    #[serde(skip)]
    pub resident_id: Option<String>,
}

fn invalid(field: &'static str, m: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        message: m.into(),
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n) && !s.chars().any(char::is_control) && !s.trim().is_empty()
}

/// Check a request: known fields, optional ones among them, sensible form texts.
pub fn check(req: &EmeRequest) -> Result<()> {
    if !text_ok(&req.form.name, 200) {
        return Err(invalid("form.name", "1 to 200 characters"));
    }
    if req.form.number.as_deref().is_some_and(|n| !text_ok(n, 40)) {
        return Err(invalid("form.number", "1 to 40 characters"));
    }
    if req
        .form
        .description
        .as_deref()
        .is_some_and(|d| !text_ok(d, 500))
    {
        return Err(invalid("form.description", "1 to 500 characters"));
    }
    if req.fields.is_empty() {
        return Err(invalid("fields", "ask for at least one field"));
    }
    for f in &req.fields {
        if !claims::FIELDS.contains(&f.as_str()) {
            return Err(invalid(
                "fields",
                format!(
                    "unknown field {:?}; known: {}",
                    f.chars().take(40).collect::<String>(),
                    claims::FIELDS.join(", ")
                ),
            ));
        }
    }
    if let Some(o) = req.optional_fields.iter().find(|o| !req.fields.contains(o)) {
        return Err(invalid(
            "optional_fields",
            format!(
                "{:?} is not among fields",
                o.chars().take(40).collect::<String>()
            ),
        ));
    }
    Ok(())
}

/// Start a request: pushed to the named resident, or a QR code for any resident.
pub async fn start(p: &Exchange, client: &Client, req: EmeRequest) -> Result<Started> {
    check(&req)?;
    let mut fields: Vec<String> = Vec::new();
    for f in &req.fields {
        if !fields.contains(f) {
            fields.push(f.clone());
        }
    }
    let resident = match &req.login_hint {
        Some(hint) => Some(
            claims::resident_of_subject(p, &client.subject_sector(), hint)
                .await?
                .ok_or(DomainError::NotFound)?,
        ),
        None => None,
    };
    let details = serde_json::json!({
        "service": client.meta.client_name,
        "form": req.form,
        "fields": fields,
        "optional": req.optional_fields,
    });
    let created = approvals::create(
        &p.approvals,
        approvals::NewApproval {
            resident_id: resident.as_deref(),
            kind: "eme",
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details,
            client_vetted: client.vetted,
            service: Some(client.meta.service_details()),
        },
    )
    .await?;
    let id: EmeRequestId = p.new_id();
    let params =
        serde_json::json!({ "form": req.form, "fields": fields, "optional": req.optional_fields });
    sqlx::query(
        "INSERT INTO eme_requests (id, client_id, approval_id, params, status, created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(&created.id)
    .bind(params.to_string())
    .bind(p.clock.now_ms())
    .bind(created.expires_at)
    .execute(p.db.writer())
    .await?;
    Ok(Started {
        request_id: id,
        qr: format!(
            "{}approve?id={}",
            iamsmart_proto::app::QR_SCHEME,
            created.id
        ),
        match_code: created.match_code,
        expires_at: created.expires_at,
        approval_id: created.id,
    })
}

/// (approval, params, status)
type RequestRow = (iamsmart_proto::ids::ApprovalId, String, String);

/// The outcome of a request, for the service that started it. The data is handed out once.
pub async fn outcome(p: &Exchange, client: &Client, id: &EmeRequestId) -> Result<Outcome> {
    let row: Option<RequestRow> = sqlx::query_as(
        "SELECT approval_id, params, status FROM eme_requests WHERE id = $1 AND client_id = $2",
    )
    .bind(id)
    .bind(&client.id)
    .fetch_optional(p.db.reader())
    .await?;
    let (approval_id, params, status) = row.ok_or(DomainError::NotFound)?;
    let out = |status: &str, reason: Option<&str>| Outcome {
        request_id: id.clone(),
        status: status.into(),
        fields: vec![],
        data: None,
        reason: reason.map(str::to_string),
        resident_id: None,
    };
    // A denied request is looked at again (without writing) so that every poll gives the reason.
    if status != "pending" && status != "denied" {
        return Ok(out(&status, None));
    }
    let a = approvals::status(p, &approval_id).await?;
    match a.status {
        iamsmart_proto::app::ApprovalStatus::Approved => {}
        iamsmart_proto::app::ApprovalStatus::Denied => {
            return Ok(out("denied", Some("the resident declined")))
        }
        iamsmart_proto::app::ApprovalStatus::Expired
        | iamsmart_proto::app::ApprovalStatus::Cancelled => {
            return Ok(out("expired", Some("the resident did not answer in time")))
        }
        waiting @ (iamsmart_proto::app::ApprovalStatus::Pending
        | iamsmart_proto::app::ApprovalStatus::Scanned) => return Ok(out(waiting.as_str(), None)),
    }
    let d = approvals::decision(p, &approval_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    let params: serde_json::Value = serde_json::from_str(&params)?;
    let asked: Vec<String> = serde_json::from_value(params["fields"].clone())?;
    let optional: Vec<String> = serde_json::from_value(params["optional"].clone())?;
    let asked_refs: Vec<&str> = asked.iter().map(String::as_str).collect();
    let released = claims::released_fields(&asked_refs, &d.agreed_fields);
    if let Some(missing) = asked
        .iter()
        .find(|f| !optional.contains(f) && !released.contains(f))
    {
        let reason =
            format!("the resident did not agree to release {missing}, which the form needs");
        sqlx::query("UPDATE eme_requests SET status = 'denied', resident_id = $1 WHERE id = $2 AND status = 'pending'")
            .bind(&d.resident_id)
            .bind(id)
            .execute(p.db.writer())
            .await?;
        return Ok(out("denied", Some(&reason)));
    }
    if status != "pending" {
        return Ok(out(&status, None));
    }
    let resident = crate::identity::get(&p.identity, &d.resident_id).await?;
    let now = p.clock.now_ms();
    let sub = crate::oidc::tokens::subject_for(&p.oidc, client, &d.resident_id);
    let payload = serde_json::json!({
        "iss": p.oidc.provider.policy.issuer,
        "aud": client.id,
        "sub": sub,
        "iat": now / 1000,
        "jti": id,
        "form": params["form"],
        "fields": released,
        "eme": claims::release(&resident, &released),
        "approved_at": d.decided_at / 1000,
    });
    let jws = p
        .keys
        .sign_jws(
            Purpose::Token,
            Alg::ES256,
            Some("eme+jwt"),
            payload.to_string().as_bytes(),
        )
        .await?;
    let key = client
        .encryption_key(&p.oidc)
        .await
        .map_err(|e| invalid("client", e.description))?;
    let data = match key {
        Some(k) => iamsmart_crypto::jwe::encrypt(&k, jws.as_bytes(), Some("JWT"))?,
        None => jws,
    };
    let hash = iamsmart_crypto::hash::sha256(data.as_bytes());
    let mut tx = p.db.begin().await?;
    let r = sqlx::query(
        "UPDATE eme_requests SET status = 'delivered', resident_id = $1, delivered_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(&d.resident_id)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 0 {
        // Another poll delivered it first.
        return Ok(out("delivered", None));
    }
    // The service may name the resident by this subject later (a pushed request, CIBA, a
    // signature, a notification): remember it, as a login does.
    claims::remember_subject(&mut tx, &client.subject_sector(), &sub, &d.resident_id).await?;
    sqlx::query(
        "INSERT INTO exchange_log (id, kind, consent_id, client_id, resident_id, provider_id, items, at, outcome, detail, bytes, payload_hash, duration_ms)
         VALUES ($1, 'eme', $2, $3, $4, NULL, $5, $6, 'ok', $7, $8, $9, 0)",
    )
    .bind(format!("x_{}", iamsmart_crypto::rng::token(p.rng.as_ref(), 12)))
    .bind(id)
    .bind(&client.id)
    .bind(&d.resident_id)
    .bind(serde_json::to_string(&released)?)
    .bind(now)
    .bind(params["form"]["name"].as_str())
    .bind(data.len() as i64)
    .bind(hash.to_vec())
    .execute(&mut *tx)
    .await?;
    let subject = format!("resident:{}", d.resident_id);
    audit::append(
        &mut tx,
        now,
        None,
        &Event {
            kind: "eme.released",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client.id, "request": id, "fields": released }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome {
        request_id: id.clone(),
        status: "approved".into(),
        fields: released,
        data: Some(data),
        reason: None,
        resident_id: Some(d.resident_id),
    })
}

/// Who a delivered request's fields came from, and which fields were released: for a service
/// that hands the result on in another form (the compatible API's callback, built again if the
/// process stopped between [`outcome`] and its delivery). Nothing is logged again: the release
/// was logged when it was delivered. `None` until then.
pub async fn released(
    p: &Exchange,
    client: &Client,
    id: &EmeRequestId,
) -> Result<Option<(String, Vec<String>)>> {
    let row: Option<(iamsmart_proto::ids::ApprovalId, String, Option<String>)> = sqlx::query_as(
        "SELECT approval_id, params, resident_id FROM eme_requests WHERE id = $1 AND client_id = $2 AND status = 'delivered'",
    )
    .bind(id)
    .bind(&client.id)
    .fetch_optional(p.db.writer())
    .await?;
    let Some((approval_id, params, Some(resident_id))) = row else {
        return Ok(None);
    };
    let Some(d) = approvals::decision(p, &approval_id).await? else {
        return Ok(None);
    };
    let params: serde_json::Value = serde_json::from_str(&params)?;
    let asked: Vec<String> = serde_json::from_value(params["fields"].clone())?;
    let asked_refs: Vec<&str> = asked.iter().map(String::as_str).collect();
    Ok(Some((
        resident_id,
        claims::released_fields(&asked_refs, &d.agreed_fields),
    )))
}

/// Erase finished requests a day after they ended (the message log keeps the metadata).
pub async fn purge(p: &Env) -> Result<u64> {
    let cutoff = p.clock.now_ms() - 86_400_000;
    Ok(
        sqlx::query("DELETE FROM eme_requests WHERE expires_at < $1")
            .bind(cutoff)
            .execute(p.db.writer())
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(fields: &[&str], optional: &[&str]) -> EmeRequest {
        EmeRequest {
            login_hint: None,
            form: Form {
                name: "Application".into(),
                number: Some("TD 118".into()),
                description: None,
            },
            fields: fields.iter().map(|s| s.to_string()).collect(),
            optional_fields: optional.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn requests_are_checked() {
        assert!(check(&req(&["name_en", "mobile"], &["mobile"])).is_ok());
        assert!(check(&req(&[], &[])).is_err());
        assert!(check(&req(&["salary"], &[])).is_err());
        assert!(check(&req(&["name_en"], &["mobile"])).is_err());
        let mut r = req(&["name_en"], &[]);
        r.form.name = " ".into();
        assert!(check(&r).is_err());
        r.form.name = "a\u{7}".into();
        assert!(check(&r).is_err());
    }
}
