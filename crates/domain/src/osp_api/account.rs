//! Profile and form filling after a sign-in (`account/auth/profile/initiateRequest`,
//! `account/eme/initiateRequest`): the service names the signed-in resident by the access token
//! and `openID` that `getToken` gave it; the request is pushed to the resident's app (the same
//! e-ME request and approval as `/eme/v1/requests` with a `login_hint`); the service is given a
//! `ticketID` at once, and the result goes to its registered callback when the resident has
//! answered ([`super::callbacks`]).
use super::callbacks::{self, TicketKind};
use super::eme::{platform_field, FIELDS};
use super::{ApiCode, ApiError, ApiResult};
use crate::exchange::eme::{self, EmeRequest, Form};
use crate::exchange::Exchange;
use crate::oidc::clients::Client;
use crate::oidc::tokens;
use serde::Deserialize;
use serde_json::{json, Value};

/// The fields a profile request may ask for: the registry's identity fields.
pub const PROFILE_FIELDS: [&str; 6] = [
    "idNo",
    "enName",
    "chName",
    "chNameVerified",
    "birthDate",
    "gender",
];

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiCode::InvalidRequest, m)
}

/// The body of both requests (inside `content`); a profile request has no form.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StartRequest {
    #[serde(rename = "businessID")]
    business_id: Option<String>,
    access_token: String,
    #[serde(rename = "openID")]
    open_id: String,
    source: String,
    #[serde(rename = "redirectURI")]
    redirect_uri: String,
    state: Option<String>,
    lang: Option<String>,
    profile_fields: Option<Vec<String>>,
    form_name: Option<String>,
    form_num: Option<String>,
    form_desc: Option<String>,
    #[serde(rename = "eMEFields")]
    eme_fields: Option<Vec<String>>,
}

/// The platform's names of the fields asked for, each known and allowed, without repeats.
fn fields(asked: &[String], allowed: &[&str], name: &str) -> ApiResult<Vec<String>> {
    if asked.is_empty() || asked.len() > FIELDS.len() {
        return Err(bad(format!(
            "{name}: ask for 1 to {} fields",
            allowed.len()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for f in asked {
        let ours = platform_field(f)
            .filter(|_| allowed.contains(&f.as_str()))
            .ok_or_else(|| {
                bad(format!(
                    "{name}: unknown field {:?}; known: {}",
                    f.chars().take(40).collect::<String>(),
                    allowed.join(", ")
                ))
            })?;
        if !out.iter().any(|x| x == ours) {
            out.push(ours.to_string());
        }
    }
    Ok(out)
}

/// `POST /api/v1/account/auth/profile/initiateRequest` (`kind` profile) or
/// `/api/v1/account/eme/initiateRequest` (`kind` eme).
pub async fn initiate(
    x: &Exchange,
    client: &Client,
    kind: TicketKind,
    body: &[u8],
) -> ApiResult<Value> {
    let req: StartRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let business_id = super::eme::text(&req.business_id, "businessID", 64)?;
    let state = super::eme::text(&req.state, "state", 1024)?;
    if !super::login::source_ok(&req.source) {
        return Err(bad("source must be PC_Browser, Android_<browser>, iOS_<browser>, App_Link, App_Package or App_Scheme"));
    }
    if req
        .lang
        .as_deref()
        .is_some_and(|l| !["en-US", "zh-HK", "zh-CN"].contains(&l))
    {
        return Err(bad("lang must be en-US, zh-HK or zh-CN"));
    }
    let (scope, fields, form) = match kind {
        TicketKind::Profile => {
            if req.eme_fields.is_some() || req.form_name.is_some() {
                return Err(bad(
                    "a profile request has profileFields and no form: use account/eme/initiateRequest for a form",
                ));
            }
            let asked = req
                .profile_fields
                .as_deref()
                .ok_or_else(|| bad("profileFields is required"))?;
            let form = Form {
                name: format!("{} profile", client.meta.client_name),
                number: None,
                description: None,
            };
            (
                "eidapi_profiles",
                fields(asked, &PROFILE_FIELDS, "profileFields")?,
                form,
            )
        }
        TicketKind::Eme => {
            if req.profile_fields.is_some() {
                return Err(bad(
                    "an e-ME request has eMEFields: use account/auth/profile/initiateRequest for profileFields",
                ));
            }
            let asked = req
                .eme_fields
                .as_deref()
                .ok_or_else(|| bad("eMEFields is required"))?;
            let all: Vec<&str> = FIELDS.iter().map(|(a, _)| *a).collect();
            let form = Form {
                name: req
                    .form_name
                    .clone()
                    .ok_or_else(|| bad("formName is required"))?,
                number: req.form_num.clone(),
                description: req.form_desc.clone(),
            };
            (
                "eidapi_formFilling",
                fields(asked, &all, "eMEFields")?,
                form,
            )
        }
    };
    if !client.meta.redirect_uris.contains(&req.redirect_uri) {
        return Err(ApiError::new(
            ApiCode::RedirectNotRegistered,
            "redirectURI is not registered for this clientID (exact match)",
        ));
    }
    let callback_uri = callbacks::callback_uri(&x.oidc, client).await?.ok_or_else(|| {
        ApiError::new(
            ApiCode::RedirectNotRegistered,
            "this client has no callback URL registered, where the result would go: register one (iamsmart clients create --callback-uri, or the developer portal)",
        )
    })?;
    // The access token: this client's, live, for the resident named, with the scope.
    let (claims, _grant) = tokens::verify_access_token(&x.oidc, &req.access_token)
        .await
        .map_err(|e| ApiError::new(ApiCode::InvalidAccessToken, e.description))?;
    if claims.client_id != client.id {
        return Err(ApiError::new(
            ApiCode::InvalidAccessToken,
            "the access token was issued to another client",
        ));
    }
    if claims.sub != req.open_id {
        return Err(ApiError::new(
            ApiCode::InvalidAccessToken,
            "openID is not the resident of the access token",
        ));
    }
    if !claims.scope.split(' ').any(|s| s == scope) {
        return Err(ApiError::new(
            ApiCode::ScopeNotAllowed,
            format!("the sign-in did not grant {scope}: ask for it in getQR's scope"),
        ));
    }
    let started = eme::start(
        x,
        client,
        EmeRequest {
            login_hint: Some(req.open_id.clone()),
            form,
            fields,
            optional_fields: vec![],
        },
    )
    .await
    .map_err(|e| match e {
        crate::error::DomainError::Invalid { field, message } => bad(format!("{field}: {message}")),
        crate::error::DomainError::NotFound => ApiError::new(
            ApiCode::InvalidAccessToken,
            "openID names no resident of this client",
        ),
        other => other.into(),
    })?;
    callbacks::open_ticket(
        x,
        client,
        callbacks::NewTicket {
            id: started.request_id.as_str(),
            approval_id: started.approval_id.as_str(),
            kind,
            business_id,
            state,
            callback_uri: &callback_uri,
            expires_at: started.expires_at,
        },
    )
    .await?;
    let mut answer = json!({
        "ticketID": started.request_id,
        "authByQR": false,
        "matchCode": started.match_code,
    });
    if let Some(b) = business_id {
        answer["businessID"] = Value::String(b.to_string());
    }
    Ok(answer)
}
