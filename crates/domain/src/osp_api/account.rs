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

/// The name of the form a profile request shows in the app.
pub const PROFILE_FORM_NAME: &str = "Personal profile · 個人資料";

/// The fields a profile request may ask for: the registry's identity fields.
pub const PROFILE_FIELDS: [&str; 6] = [
    "idNo",
    "enName",
    "chName",
    "chNameVerified",
    "birthDate",
    "gender",
];

/// What is asked for after a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `account/auth/profile/initiateRequest`: the registry's fields.
    Profile,
    /// `account/eme/initiateRequest`: the fields of a form.
    Eme,
}

impl Asked {
    fn ticket(self) -> TicketKind {
        match self {
            Asked::Profile => TicketKind::Profile,
            Asked::Eme => TicketKind::Eme,
        }
    }
}

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

/// The fields every `initiateRequest` has, checked: `businessID` (at most 64 characters) and
/// `state` (at most 1,024), as given; `source` and `lang` among the real platform's values.
pub(super) fn common_fields<'a>(
    business_id: &'a Option<String>,
    state: &'a Option<String>,
    source: &str,
    lang: Option<&str>,
) -> ApiResult<(Option<&'a str>, Option<&'a str>)> {
    let business_id = super::eme::text(business_id, "businessID", 64)?;
    let state = super::eme::text(state, "state", 1024)?;
    if !super::login::source_ok(source) {
        return Err(bad("source must be PC_Browser, Android_<browser>, iOS_<browser>, App_Link, App_Package or App_Scheme"));
    }
    if lang.is_some_and(|l| !["en-US", "zh-HK", "zh-CN"].contains(&l)) {
        return Err(bad("lang must be en-US, zh-HK or zh-CN"));
    }
    Ok((business_id, state))
}

/// Check the access token of a sign-in: this client's, live, for the resident named by
/// `open_id`, with `scope` granted.
pub(super) async fn signed_in(
    p: &crate::oidc::Oidc,
    client: &Client,
    access_token: &str,
    open_id: &str,
    scope: &str,
) -> ApiResult<()> {
    let (claims, _grant) = tokens::verify_access_token(p, access_token)
        .await
        .map_err(|e| ApiError::new(ApiCode::InvalidAccessToken, e.description))?;
    if claims.client_id != client.id {
        return Err(ApiError::new(
            ApiCode::InvalidAccessToken,
            "the access token was issued to another client",
        ));
    }
    if claims.sub != open_id {
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
    Ok(())
}

/// A registered redirect URI (`D20008` otherwise), and the client's callback URL (`D20008`
/// when it has none).
pub(super) async fn redirect_and_callback(
    p: &crate::oidc::Oidc,
    client: &Client,
    redirect_uri: &str,
) -> ApiResult<String> {
    if !client.meta.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(ApiError::new(
            ApiCode::RedirectNotRegistered,
            "redirectURI is not registered for this clientID (exact match)",
        ));
    }
    callbacks::callback_uri(p, client).await?.ok_or_else(|| {
        ApiError::new(
            ApiCode::RedirectNotRegistered,
            "this client has no callback URL registered, where the result would go: register one (iamsmart clients create --callback-uri, or the developer portal)",
        )
    })
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
pub async fn initiate(x: &Exchange, client: &Client, kind: Asked, body: &[u8]) -> ApiResult<Value> {
    let req: StartRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the request's content is not the expected JSON: {e}"
        ))
    })?;
    let (business_id, state) = common_fields(
        &req.business_id,
        &req.state,
        &req.source,
        req.lang.as_deref(),
    )?;
    let (scope, fields, form) = match kind {
        Asked::Profile => {
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
                // The app shows the service beside it; the form's name is in both languages.
                name: PROFILE_FORM_NAME.to_string(),
                number: None,
                description: None,
            };
            (
                "eidapi_profiles",
                fields(asked, &PROFILE_FIELDS, "profileFields")?,
                form,
            )
        }
        Asked::Eme => {
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
    let callback_uri = redirect_and_callback(&x.oidc, client, &req.redirect_uri).await?;
    signed_in(&x.oidc, client, &req.access_token, &req.open_id, scope).await?;
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
            kind: kind.ticket(),
            business_id,
            state,
            echo: None,
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
