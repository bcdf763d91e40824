//! Decoupled login (OpenID CIBA Core, poll and ping modes): the service names the resident with
//! a hint, the request appears in the resident's app, and the service collects tokens once the
//! resident approves.
use super::claims;
use super::clients::{Client, CIBA_GRANT};
use super::error::{OAuthError, OResult};
use super::request::one;
use super::tokens::{self, GrantData, TokenResponse};
use super::Acr;
use crate::authn::approvals;
use crate::error::DomainError;
use crate::guard::Spent;
use crate::keys::Purpose;
use crate::oidc::Oidc;
use iamsmart_crypto::jose::{self, Alg};
use iamsmart_proto::ids::ApprovalId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a backchannel authentication request started.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// The id to poll with.
    pub auth_req_id: String,
    /// Seconds.
    pub expires_in: i64,
    /// Seconds between polls.
    pub interval: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CibaParams {
    scope: String,
    fields: Vec<String>,
    acr_values: Vec<Acr>,
    binding_message: Option<String>,
}

fn dom(e: DomainError) -> OAuthError {
    e.into()
}

/// The resident a hint names: `login_hint` (the subject the client knows) or `id_token_hint`
/// (an ID token this provider issued to the client, expired or not).
async fn resident_from_hint(
    p: &Oidc,
    client: &Client,
    form: &BTreeMap<String, Vec<String>>,
) -> OResult<String> {
    let hints = ["login_hint", "id_token_hint", "login_hint_token"]
        .iter()
        .filter(|h| form.contains_key(**h))
        .count();
    if hints != 1 {
        return Err(OAuthError::invalid_request(
            "give exactly one of login_hint or id_token_hint",
        ));
    }
    if form.contains_key("login_hint_token") {
        return Err(OAuthError::invalid_request(
            "login_hint_token is not supported; use login_hint or id_token_hint",
        ));
    }
    let sub = if let Some(h) = one(form, "login_hint")? {
        h.to_string()
    } else {
        let t = one(form, "id_token_hint")?.unwrap_or_default();
        let keys = p.keys.jwks(Purpose::Token).await.map_err(dom)?;
        let (_, payload) = jose::verify_compact(t, &keys, &[Alg::ES256, Alg::EdDSA, Alg::RS256])
            .map_err(|_| {
                OAuthError::invalid_request("id_token_hint is not an ID token of this provider")
            })?;
        let v: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|_| OAuthError::invalid_request("id_token_hint"))?;
        if v["aud"] != client.id.as_str()
            && !v["aud"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == client.id.as_str()))
        {
            return Err(OAuthError::invalid_request(
                "id_token_hint was issued to another client",
            ));
        }
        v["sub"].as_str().unwrap_or_default().to_string()
    };
    claims::resident_of_subject(p, &client.subject_sector(), &sub)
        .await
        .map_err(dom)?
        .ok_or_else(|| {
            OAuthError::unknown_user_id("no resident is known to this client by that hint")
        })
}

/// Handle a backchannel authentication request from an authenticated client.
pub async fn start(
    p: &Oidc,
    client: &Client,
    form: &BTreeMap<String, Vec<String>>,
) -> OResult<Started> {
    if !client.has_grant(CIBA_GRANT) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for CIBA",
        ));
    }
    let (scopes, fields) = claims::parse_scope(one(form, "scope")?.unwrap_or_default())
        .map_err(OAuthError::invalid_scope)?;
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("scope must include openid"));
    }
    let binding = one(form, "binding_message")?;
    if binding.is_some_and(|b| b.chars().count() > 64 || b.chars().any(char::is_control)) {
        return Err(OAuthError::invalid_request(
            "binding_message: at most 64 printable characters",
        ));
    }
    let acr_values: Vec<Acr> = one(form, "acr_values")?
        .unwrap_or_default()
        .split(' ')
        .filter_map(Acr::parse)
        .collect();
    let ping = client.meta.backchannel_token_delivery_mode.as_deref() == Some("ping");
    let notification = one(form, "client_notification_token")?;
    if ping && notification.is_none() {
        return Err(OAuthError::invalid_request(
            "client_notification_token is required in ping mode",
        ));
    }
    if notification.is_some_and(|n| n.len() > 1024) {
        return Err(OAuthError::invalid_request(
            "client_notification_token is too long",
        ));
    }
    let resident = resident_from_hint(p, client, form).await?;
    let requested_expiry = match one(form, "requested_expiry")? {
        Some(e) => {
            e.parse::<i64>()
                .ok()
                .filter(|v| (10..=600).contains(v))
                .ok_or_else(|| OAuthError::invalid_request("requested_expiry: 10 to 600 seconds"))?
                * 1000
        }
        None => p.provider.policy.ciba_ttl_ms,
    };
    let face = Acr::asks_face(&acr_values);
    let params = CibaParams {
        scope: scopes.join(" "),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        acr_values,
        binding_message: binding.map(str::to_string),
    };
    let created = approvals::create(
        &p.approvals,
        approvals::NewApproval {
            resident_id: Some(&resident),
            kind: if face { "step_up" } else { "login" },
            client_id: &client.id,
            client_name: &client.meta.client_name,
            details: serde_json::json!({
                "service": client.meta.client_name,
                "fields": params.fields,
                "binding_message": params.binding_message,
                "acr": params.acr_values,
            }),
            client_vetted: client.vetted,
            service: Some(client.meta.service_details()),
        },
    )
    .await
    .map_err(dom)?;
    let id = iamsmart_crypto::rng::token(p.rng.as_ref(), 24);
    let now = p.clock.now_ms();
    let expires = now + requested_expiry;
    sqlx::query(
        "INSERT INTO ciba_requests (id, client_id, resident_id, approval_id, params, notification_token, interval_ms, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&client.id)
    .bind(&resident)
    .bind(&created.id)
    .bind(serde_json::to_string(&params).map_err(|e| OAuthError::server_error(e.to_string()))?)
    .bind(notification)
    .bind(p.provider.policy.ciba_interval_ms)
    .bind(now)
    .bind(expires)
    .execute(p.db.writer())
    .await
    .map_err(|e| dom(e.into()))?;
    Ok(Started {
        auth_req_id: id,
        expires_in: requested_expiry / 1000,
        interval: p.provider.policy.ciba_interval_ms / 1000,
    })
}

/// (client, resident, approval, params, interval, last poll, expires, redeemed)
type CibaRow = (
    String,
    String,
    ApprovalId,
    String,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
);

/// The CIBA grant at the token endpoint.
pub async fn redeem(
    p: &Oidc,
    client: &Client,
    auth_req_id: &str,
    dpop_jkt: Option<String>,
    spent: Spent,
) -> OResult<TokenResponse> {
    let now = p.clock.now_ms();
    let row: Option<CibaRow> = sqlx::query_as(
        "SELECT client_id, resident_id, approval_id, params, interval_ms, last_poll_at, expires_at, redeemed_at FROM ciba_requests WHERE id = $1",
    )
    .bind(auth_req_id)
    .fetch_optional(p.db.reader())
    .await
    .map_err(|e| dom(e.into()))?;
    let Some((cid, resident, approval_id, params, interval, last, expires, redeemed)) = row else {
        return Err(OAuthError::invalid_grant("unknown auth_req_id"));
    };
    if cid != client.id {
        return Err(OAuthError::invalid_grant(
            "auth_req_id belongs to another client",
        ));
    }
    if redeemed.is_some() {
        return Err(OAuthError::invalid_grant(
            "tokens were already issued for this auth_req_id",
        ));
    }
    if expires <= now {
        return Err(OAuthError::expired_token(
            "the request expired before the resident approved",
        ));
    }
    let ping = client.meta.backchannel_token_delivery_mode.as_deref() == Some("ping");
    // The poll is recorded with the request's single-use values (one commit).
    let mut poll = p.db.begin().await.map_err(|e| dom(e.into()))?;
    spent.record(&mut poll).await.map_err(dom)??;
    sqlx::query("UPDATE ciba_requests SET last_poll_at = $1 WHERE id = $2")
        .bind(now)
        .bind(auth_req_id)
        .execute(&mut *poll)
        .await
        .map_err(|e| dom(e.into()))?;
    poll.commit().await.map_err(|e| dom(e.into()))?;
    let view = approvals::status(p, &approval_id).await.map_err(dom)?;
    match view.status {
        iamsmart_proto::app::ApprovalStatus::Approved => {}
        iamsmart_proto::app::ApprovalStatus::Denied => {
            return Err(OAuthError::access_denied(
                "the resident declined in the app",
            ))
        }
        iamsmart_proto::app::ApprovalStatus::Pending
        | iamsmart_proto::app::ApprovalStatus::Scanned => {
            if !ping && last.is_some_and(|l| now - l < interval) {
                return Err(OAuthError::slow_down(format!(
                    "poll at most every {} s",
                    interval / 1000
                )));
            }
            return Err(OAuthError::authorization_pending(
                "waiting for the resident",
            ));
        }
        iamsmart_proto::app::ApprovalStatus::Expired
        | iamsmart_proto::app::ApprovalStatus::Cancelled => {
            return Err(OAuthError::expired_token("the request expired"))
        }
    }
    let params: CibaParams =
        serde_json::from_str(&params).map_err(|e| OAuthError::server_error(e.to_string()))?;
    let d = approvals::decision(p, &approval_id)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::access_denied("not approved"))?;
    let level = crate::identity::active_level(p, &resident)
        .await
        .map_err(dom)?
        .ok_or_else(|| OAuthError::access_denied("the account is not active"))?;
    let acr = Acr::achieved(level, d.face_verified);
    if acr < Acr::weakest_of(&params.acr_values) {
        return Err(OAuthError::unmet_authentication_requirements(format!(
            "the resident can give {acr} now, below what was requested"
        )));
    }
    if (client.fapi() || client.meta.dpop_bound_access_tokens) && dpop_jkt.is_none() {
        return Err(OAuthError::invalid_dpop_proof(
            "this client's tokens are DPoP-bound: send a DPoP proof",
        ));
    }
    let released = claims::released_fields(
        &params.fields.iter().map(String::as_str).collect::<Vec<_>>(),
        &d.agreed_fields,
    );
    let mut amr = vec!["swk".to_string(), "pin".to_string(), "mfa".to_string()];
    if d.face_verified {
        amr.push("face".into());
    }
    let mut tx = p.db.begin().await.map_err(|e| dom(e.into()))?;
    let r = sqlx::query(
        "UPDATE ciba_requests SET redeemed_at = $1 WHERE id = $2 AND redeemed_at IS NULL",
    )
    .bind(now)
    .bind(auth_req_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| dom(e.into()))?;
    if r.rows_affected() != 1 {
        return Err(OAuthError::invalid_grant(
            "tokens were already issued for this auth_req_id",
        ));
    }
    claims::record_consent(&mut tx, &resident, &client.id, &released, now)
        .await
        .map_err(dom)?;
    let data = GrantData {
        client_id: client.id.clone(),
        resident_id: resident.clone(),
        device_id: Some(d.device_id.clone()),
        sid: None,
        scope: params.scope.clone(),
        claims: released,
        acr,
        amr,
        auth_time: d.decided_at,
        nonce: None,
        authorization_details: None,
    };
    let gid = tokens::create_grant(p, &mut tx, &data, now)
        .await
        .map_err(dom)?;
    sqlx::query("UPDATE grants SET dpop_jkt = $1 WHERE id = $2")
        .bind(&dpop_jkt)
        .bind(&gid)
        .execute(&mut *tx)
        .await
        .map_err(|e| dom(e.into()))?;
    let refresh = if client.has_grant("refresh_token") {
        let t = iamsmart_crypto::rng::token(p.rng.as_ref(), 32);
        sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(iamsmart_crypto::hash::sha256(t.as_bytes()).to_vec())
            .bind(&gid)
            .bind(now)
            .bind(now + p.provider.policy.refresh_ttl_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| dom(e.into()))?;
        Some(t)
    } else {
        None
    };
    let sub = tokens::subject_for(p, client, &resident);
    claims::remember_subject(&mut tx, &client.subject_sector(), &sub, &resident)
        .await
        .map_err(dom)?;
    let subject = format!("resident:{resident}");
    crate::audit::append(
        &mut tx,
        now,
        None,
        &crate::audit::Event {
            kind: "login.authorized",
            actor: &subject,
            subject: &subject,
            detail: serde_json::json!({ "client": client.id, "fields": data.claims, "acr": acr, "approval": approval_id, "ciba": true }),
        },
    )
    .await
    .map_err(dom)?;
    let g = tokens::Grant {
        id: gid,
        data,
        dpop_jkt: dpop_jkt.clone(),
        expires_at: now + p.provider.policy.refresh_ttl_ms,
        revoked_at: None,
    };
    tx.commit().await.map_err(|e| dom(e.into()))?;
    tokens::sign_tokens(p, client, &g, &sub, dpop_jkt.as_deref(), refresh, true).await
}

/// After the resident decided a request in the app: in ping mode, tell the client (best effort,
/// in the background).
pub async fn decided(p: &Oidc, approval_id: &ApprovalId) {
    let row: Option<(String, super::clients::ClientId, Option<String>)> = sqlx::query_as(
        "SELECT id, client_id, notification_token FROM ciba_requests WHERE approval_id = $1",
    )
    .bind(approval_id)
    .fetch_optional(p.db.reader())
    .await
    .ok()
    .flatten();
    let Some((auth_req_id, client_id, Some(token))) = row else {
        return;
    };
    let Ok(Some(client)) = super::clients::get(p, &client_id).await else {
        return;
    };
    let Some(endpoint) = client.meta.backchannel_client_notification_endpoint.clone() else {
        return;
    };
    let outbound = p.outbound.clone();
    tokio::spawn(async move {
        let body = serde_json::json!({ "auth_req_id": auth_req_id });
        if let Err(e) = outbound.post_json_bearer(&endpoint, &token, &body).await {
            tracing::warn!(client = %client.id, error = %e, "CIBA ping failed");
        }
    });
}
